// SPDX-License-Identifier: GPL-2.0
/*
 * shmdev_memhog - fill shmdev segments until memory runs out.
 *
 *   shmdev_memhog TOTAL SEGMENT
 *
 * Creates anonymous segments of SEGMENT bytes, maps each and writes every
 * page, until TOTAL bytes are touched or memory runs out. Running out must
 * look like the uapi says: ENOMEM from CREATE (or mmap), or SIGBUS at the
 * fault that could not get a page; the OOM killer must not be needed (the
 * caller checks the kernel log). After the failure every page touched so
 * far is read back and must still hold what was written.
 *
 * Prints "result=enomem|sigbus|complete touched=BYTES", and exits 0 when
 * memory ran out as documented, 1 if it did not run out (TOTAL fit) or the
 * data changed, 2 on any other error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "shmdev_util.h"

#define MAX_SEGS	256

/*
 * Delivering SIGBUS must not need memory: a signal frame that reaches a
 * stack page never touched before needs a new anonymous page, and with
 * memory gone that allocation would call the OOM killer. So the handler
 * runs on an alternate stack whose pages are touched up front, and the
 * output buffer exists before memory runs out.
 *
 * The same goes for page tables: the fault that first touches the span of
 * a page table allocates one with GFP_KERNEL, which calls the OOM killer
 * when it fails. That is the core mm's allocation, not the module's, so
 * each segment's page tables are made before its pages are filled
 * (st_make_page_tables()), while memory is still there.
 */
static uint8_t altstack[256 * 1024];

static void prefault_stack(void)
{
	volatile uint8_t buf[128 * 1024];
	size_t i;

	for (i = 0; i < sizeof(buf); i += 1024)
		buf[i] = 1;
}

static uint8_t page_byte(size_t seg, size_t page)
{
	return (uint8_t)(seg * 131 + page * 7 + 1) | 1;
}

int main(int argc, char **argv)
{
	/* Static: siglongjmp() comes back into this function. */
	static volatile uint8_t *maps[MAX_SEGS];
	static size_t lens[MAX_SEGS], nsegs;
	static uint64_t touched;
	static const char *result = "complete";
	size_t ps = sysconf(_SC_PAGESIZE), seg_size, i, off;
	uint64_t total;
	struct sigaction sa;
	stack_t ss;
	struct timespec t0, t1;
	int fd, ret, sig, bad = 0;
	volatile size_t page;
	volatile bool filling;

	if (argc != 3) {
		fprintf(stderr, "usage: %s TOTAL SEGMENT\n", argv[0]);
		return 2;
	}
	total = strtoull(argv[1], NULL, 0);
	seg_size = strtoull(argv[2], NULL, 0) / ps * ps;
	if (!seg_size)
		return 2;
	memset(altstack, 1, sizeof(altstack));
	prefault_stack();
	ss.ss_sp = altstack;
	ss.ss_size = sizeof(altstack);
	ss.ss_flags = 0;
	if (sigaltstack(&ss, NULL)) {
		perror("sigaltstack");
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = st_probe_handler;
	sa.sa_flags = SA_NODEFER | SA_ONSTACK;
	sigaction(SIGBUS, &sa, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("filling up to %" PRIu64 " MiB in segments of %zu MiB\n",
	       total >> 20, seg_size >> 20);
	clock_gettime(CLOCK_MONOTONIC, &t0);

	while (touched < total && nsegs < MAX_SEGS) {
		fd = st_open();
		if (fd < 0) {
			fprintf(stderr, "open: %s\n", strerror(-fd));
			return 2;
		}
		ret = st_create(fd, "", seg_size, 0600, NULL);
		if (ret == -ENOMEM) {
			result = "enomem-create";
			close(fd);
			break;
		}
		if (ret) {
			fprintf(stderr, "create: %s\n", strerror(-ret));
			return 2;
		}
		maps[nsegs] = mmap(NULL, seg_size, PROT_READ | PROT_WRITE,
				   MAP_SHARED, fd, 0);
		close(fd);
		if (maps[nsegs] == MAP_FAILED) {
			if (errno == ENOMEM) {
				result = "enomem-mmap";
				break;
			}
			fprintf(stderr, "mmap: %s\n", strerror(errno));
			return 2;
		}
		lens[nsegs] = 0;
		nsegs++;
		page = 0;
		filling = false;
		st_probe_armed = 1;
		sig = sigsetjmp(st_probe_env, 1);
		if (sig) {
			result = "sigbus";
			lens[nsegs - 1] = filling ? page * ps : 0;
			break;
		}
		st_make_page_tables(maps[nsegs - 1], seg_size);
		filling = true;
		for (; page < seg_size / ps && touched < total; page++) {
			maps[nsegs - 1][page * ps] = page_byte(nsegs - 1, page);
			maps[nsegs - 1][page * ps + ps - 1] =
				page_byte(nsegs - 1, page);
			touched += ps;
		}
		st_probe_armed = 0;
		lens[nsegs - 1] = page * ps;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("result=%s touched=%" PRIu64 " MiB segments=%zu seconds=%.1f\n",
	       result, touched >> 20, nsegs,
	       (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	fflush(stdout);

	/* What was written before the failure is still there. */
	for (i = 0; i < nsegs; i++)
		for (off = 0; off < lens[i]; off += ps)
			if (maps[i][off] != page_byte(i, off / ps) ||
			    maps[i][off + ps - 1] != page_byte(i, off / ps)) {
				if (bad++ < 5)
					fprintf(stderr, "segment %zu page %zu changed\n",
						i, off / ps);
			}
	if (bad) {
		printf("data=changed pages=%d\n", bad);
		return 1;
	}
	printf("data=intact\n");
	return strcmp(result, "complete") ? 0 : 1;
}
