// SPDX-License-Identifier: GPL-2.0
/*
 * shmdev_peer - a second process for the shmdev selftests and the VM rig.
 *
 *   shmdev_peer create NAME SIZE MODE   create a named segment, print its id
 *   shmdev_peer fill NAME SEED          write the test pattern over it
 *   shmdev_peer check NAME SEED         verify the test pattern (read-only)
 *   shmdev_peer hold NAME               map it, touch every page, print
 *                                       "ready" and wait to be killed
 *   shmdev_peer holdmap NAME            the same, but close the file
 *                                       first: only the mapping is left
 *   shmdev_peer unlink NAME             remove the name
 *   shmdev_peer info NAME               print SHMDEV_IOC_INFO as key=value
 *   shmdev_peer pollwait NAME           attach read-only, print "ready",
 *                                       wait in poll() for a doorbell,
 *                                       print "rung N" and exit
 *   shmdev_peer ring NAME               ring doorbell 0 once
 *   shmdev_peer opath NAME FILE         map it, open its mapping's
 *                                       /proc/self/map_files path O_PATH,
 *                                       unmap and close all but that path,
 *                                       print "ready"; once FILE exists,
 *                                       open the path and print the result
 *
 * SIZE and SEED take C notation (decimal, 0x.., 0..), MODE is octal.
 * Exit status: 0 success, 1 failed check, 2 usage or system call error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shmdev_util.h"

#define EXIT_CHECK_FAILED	1
#define EXIT_ERROR		2

static const char *prog = "shmdev_peer";

static __noreturn void usage(void)
{
	fprintf(stderr,
		"usage: %s create NAME SIZE MODE\n"
		"       %s fill NAME SEED\n"
		"       %s check NAME SEED\n"
		"       %s hold NAME\n"
		"       %s holdmap NAME\n"
		"       %s unlink NAME\n"
		"       %s info NAME\n"
		"       %s pollwait NAME\n"
		"       %s ring NAME\n"
		"       %s opath NAME FILE\n",
		prog, prog, prog, prog, prog, prog, prog, prog, prog, prog);
	exit(EXIT_ERROR);
}

static __noreturn void fail(const char *what, int err)
{
	fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(err));
	exit(EXIT_ERROR);
}

static uint64_t parse_num(const char *s, int base, uint64_t max,
			  const char *what)
{
	unsigned long long val;
	char *end;

	errno = 0;
	val = strtoull(s, &end, base);
	if (errno || end == s || *end || s[0] == '-' || val > max) {
		fprintf(stderr, "%s: bad %s '%s'\n", prog, what, s);
		exit(EXIT_ERROR);
	}
	return val;
}

static int open_dev(void)
{
	int fd = st_open();

	if (fd < 0)
		fail("open " SHMDEV_DEVICE_PATH, -fd);
	return fd;
}

/* Opens the device and attaches @name; returns the fd and the size. */
static int attach(const char *name, uint32_t flags, size_t *size)
{
	uint64_t sz;
	int fd, ret;

	fd = open_dev();
	ret = st_attach(fd, name, flags, &sz, NULL);
	if (ret)
		fail("attach", -ret);
	if (sz == 0 || sz > SIZE_MAX)
		fail("segment size", ERANGE);
	*size = sz;
	return fd;
}

static void *map(int fd, size_t size, int prot)
{
	void *p = mmap(NULL, size, prot, MAP_SHARED, fd, 0);

	if (p == MAP_FAILED)
		fail("mmap", errno);
	return p;
}

static int cmd_create(char **argv)
{
	uint64_t size, mode, id;
	int fd, ret;

	size = parse_num(argv[1], 0, UINT64_MAX, "size");
	mode = parse_num(argv[2], 8, UINT32_MAX, "mode");
	fd = open_dev();
	ret = st_create(fd, argv[0], size, mode, &id);
	if (ret)
		fail("create", -ret);
	printf("%" PRIu64 "\n", id);
	return 0;
}

static int cmd_fill(char **argv)
{
	uint8_t seed = parse_num(argv[1], 0, UINT8_MAX, "seed");
	size_t size;
	void *p;
	int fd;

	fd = attach(argv[0], 0, &size);
	p = map(fd, size, PROT_READ | PROT_WRITE);
	st_fill(p, size, seed);
	return 0;
}

static int cmd_check(char **argv)
{
	uint8_t seed = parse_num(argv[1], 0, UINT8_MAX, "seed");
	const uint8_t *p;
	size_t size, off;
	int fd;

	fd = attach(argv[0], SHMDEV_ATTACH_RDONLY, &size);
	p = map(fd, size, PROT_READ);
	off = st_mismatch(p, size, seed);
	if (off != size) {
		fprintf(stderr, "%s: offset %zu is 0x%02x, expected 0x%02x\n",
			prog, off, p[off], st_pattern(off, seed));
		return EXIT_CHECK_FAILED;
	}
	return 0;
}

static int hold(char **argv, bool keep_fd)
{
	size_t size, off, page = sysconf(_SC_PAGESIZE);
	const volatile uint8_t *p;
	int fd;

	fd = attach(argv[0], SHMDEV_ATTACH_RDONLY, &size);
	p = map(fd, size, PROT_READ);
	if (!keep_fd)
		close(fd);
	for (off = 0; off < size; off += page)
		(void)p[off];
	printf("ready\n");
	fflush(stdout);
	for (;;)
		pause();
	return 0;
}

static int cmd_hold(char **argv)
{
	return hold(argv, true);
}

static int cmd_holdmap(char **argv)
{
	return hold(argv, false);
}

static int cmd_unlink(char **argv)
{
	int fd, ret;

	fd = open_dev();
	ret = st_unlink(fd, argv[0]);
	if (ret)
		fail("unlink", -ret);
	return 0;
}

static int cmd_info(char **argv)
{
	struct shmdev_info info;
	size_t size;
	int fd, ret;

	fd = attach(argv[0], SHMDEV_ATTACH_RDONLY, &size);
	ret = st_info(fd, &info);
	if (ret)
		fail("info", -ret);
	info.name[SHMDEV_NAME_MAX - 1] = '\0';
	printf("id=%" PRIu64 "\n", (uint64_t)info.id);
	printf("size=%" PRIu64 "\n", (uint64_t)info.size);
	printf("mode=0%03o\n", info.mode);
	printf("uid=%u\n", info.uid);
	printf("gid=%u\n", info.gid);
	printf("files=%u\n", info.nr_files);
	printf("maps=%u\n", info.nr_maps);
	printf("pages=%" PRIu64 "\n", (uint64_t)info.nr_pages);
	printf("flags=0x%x\n", info.flags);
	printf("name=%s\n", info.name);
	return 0;
}

static int cmd_pollwait(char **argv)
{
	struct pollfd pfd = { .events = POLLIN };
	struct shmdev_ack ack = { 0 };
	size_t size;

	pfd.fd = attach(argv[0], SHMDEV_ATTACH_RDONLY, &size);
	printf("ready\n");
	fflush(stdout);
	while (poll(&pfd, 1, -1) < 0)
		if (errno != EINTR)
			fail("poll", errno);
	if (st_ioctl(pfd.fd, SHMDEV_IOC_ACK, &ack))
		fail("ack", errno);
	printf("rung %llu\n", (unsigned long long)ack.counts[0]);
	return ack.counts[0] ? 0 : EXIT_CHECK_FAILED;
}

static int cmd_ring(char **argv)
{
	struct shmdev_bell bell = { .bell = 0, .count = 1 };
	size_t size;
	int fd, ret;

	fd = attach(argv[0], 0, &size);
	ret = st_ioctl(fd, SHMDEV_IOC_RING, &bell);
	if (ret)
		fail("ring", -ret);
	return 0;
}

/*
 * Holds nothing of the segment but a path to its inode, which can outlive
 * the segment and the module; opening it later must fail cleanly.
 */
static int cmd_opath(char **argv)
{
	char path[64], fdpath[32];
	size_t size;
	void *p;
	int fd, pfd, ret;

	fd = attach(argv[0], 0, &size);
	p = map(fd, size, PROT_READ);
	snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx",
		 (unsigned long)p, (unsigned long)p + size);
	pfd = open(path, O_PATH | O_CLOEXEC);
	if (pfd < 0)
		fail(path, errno);
	munmap(p, size);
	close(fd);
	printf("ready\n");
	fflush(stdout);
	while (access(argv[1], F_OK))
		usleep(20000);
	snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", pfd);
	ret = open(fdpath, O_RDONLY | O_CLOEXEC);
	if (ret >= 0) {
		printf("opened\n");
		return EXIT_CHECK_FAILED;
	}
	printf("open: %s\n", strerror(errno));
	return 0;
}

static const struct {
	const char *name;
	int nargs;
	int (*fn)(char **argv);
} cmds[] = {
	{ "create",	3,	cmd_create },
	{ "fill",	2,	cmd_fill },
	{ "check",	2,	cmd_check },
	{ "hold",	1,	cmd_hold },
	{ "holdmap",	1,	cmd_holdmap },
	{ "unlink",	1,	cmd_unlink },
	{ "info",	1,	cmd_info },
	{ "pollwait",	1,	cmd_pollwait },
	{ "ring",	1,	cmd_ring },
	{ "opath",	2,	cmd_opath },
};

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2)
		usage();
	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		if (strcmp(argv[1], cmds[i].name))
			continue;
		if (argc - 2 != cmds[i].nargs)
			usage();
		return cmds[i].fn(argv + 2);
	}
	usage();
}
