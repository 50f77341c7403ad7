// SPDX-License-Identifier: GPL-2.0
/*
 * Races at the worst points of a segment's life, each for a bounded time
 * (SHMDEV_RACE_SECS seconds, default 3, as shmdev_security_test's races):
 *
 *  - the last munmap (the mapping is the segment's only reference) while
 *    other threads fault pages of it in;
 *  - mmap of a descriptor while another thread closes it or dup2()s other
 *    files (bound to another segment, or unbound) over its number;
 *  - fork() while another thread unmaps and maps the segment again, after
 *    which the module's map and writable-map counts must be exact.
 *
 * Unlink against attach of the same name, resize against faults and seals
 * against mmap are raced in shmdev_security_test (race_*); rmmod against
 * open files and mappings in scripts/vm/lifecycle-tests.sh.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shmdev_test_util.h"

#define RACE_PAGES		16
#define FAULTERS		3

struct race {
	volatile bool stop;
	int fd;
	size_t len;
	uint8_t *volatile map;		/* the current mapping, or NULL */
	volatile unsigned long gen;	/* changes around every unmap */
	int errors;
	long ops, signals, rounds;
	char what[200];
};

static void add(long *counter)
{
	__atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}

static uint32_t thread_seed(void)
{
	static uint32_t next = 0x2468ace1;

	return __atomic_add_fetch(&next, 0x9e3779b9, __ATOMIC_RELAXED) | 1;
}

static uint8_t *map_fd(int fd, size_t len, int prot)
{
	return mmap(NULL, len, prot, MAP_SHARED, fd, 0);
}

/* Last munmap against faults */

/*
 * Writes a byte to a random page of the current mapping and reads it back.
 * If no unmap began or ended in between (the generation did not change)
 * and no signal came, the byte read must be the byte written.
 */
static void *fault_thread(void *data)
{
	struct race *r = data;
	uint32_t seed = thread_seed();
	unsigned long g1, g2;
	uint8_t *p, val, want;
	size_t off;
	int sig;

	while (!r->stop) {
		g1 = __atomic_load_n(&r->gen, __ATOMIC_SEQ_CST);
		p = r->map;
		if (!p || (g1 & 1)) {
			sched_yield();
			continue;
		}
		off = rnd(&seed) % r->len;
		want = rnd(&seed) | 1;
		sig = st_probe(p + off, rnd(&seed) & 1, want, &val);
		g2 = __atomic_load_n(&r->gen, __ATOMIC_SEQ_CST);
		if (sig) {
			add(&r->signals);
			if (sig != SIGSEGV && sig != SIGBUS)
				race_error(r, "signal %d", sig);
			else if (g1 == g2)
				race_error(r, "signal %d at offset %zu of a live mapping",
					   sig, off);
		}
		add(&r->ops);
	}
	return NULL;
}

TEST_F_TIMEOUT(shmdev, race_last_munmap_vs_fault, RACE_TIMEOUT)
{
	/* gen is odd while no mapping is published. */
	struct race r = { .len = RACE_PAGES * page_size, .gen = 1 };
	uint64_t pages = module_pages();
	pthread_t threads[FAULTERS];
	double end = st_now_secs() + race_secs();
	uint8_t *p;
	int i, fd;

	st_probe_init();
	for (i = 0; i < FAULTERS; i++)
		ASSERT_EQ(0, pthread_create(&threads[i], NULL, fault_thread,
					    &r));
	while (st_now_secs() < end && !r.errors) {
		/* An anonymous segment whose only reference is the mapping. */
		fd = st_open();
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, st_create(fd, "", r.len, 0600, NULL));
		p = map_fd(fd, r.len, PROT_READ | PROT_WRITE);
		ASSERT_NE(MAP_FAILED, p);
		close(fd);
		r.map = p;
		__atomic_add_fetch(&r.gen, 1, __ATOMIC_SEQ_CST);	/* even */
		usleep(r.rounds % 5 * 100);
		__atomic_add_fetch(&r.gen, 1, __ATOMIC_SEQ_CST);	/* odd */
		r.map = NULL;
		ASSERT_EQ(0, munmap(p, r.len));
		r.rounds++;
	}
	r.stop = true;
	for (i = 0; i < FAULTERS; i++)
		pthread_join(threads[i], NULL);
	EXPECT_EQ(0, r.errors) TH_LOG("%d errors, first: %s", r.errors,
				      r.what);
	TH_LOG("%ld segments unmapped under %ld accesses (%ld signals)",
	       r.rounds, r.ops, r.signals);
	EXPECT_EQ(pages, settle_pages(pages));
}

/* Close against mmap */

/* Maps whatever file the number holds; its contents must be one of ours. */
static void *mmap_thread(void *data)
{
	struct race *r = data;
	uint8_t *p, seed;
	size_t off;

	while (!r->stop) {
		p = map_fd(r->fd, r->len, PROT_READ);
		if (p == MAP_FAILED) {
			/* Closed, or an unbound file at that number. */
			if (errno != EBADF && errno != ENODEV)
				race_error(r, "mmap: %s", strerror(errno));
			add(&r->signals);
			continue;
		}
		seed = p[0];
		if (seed != SEED_A && seed != SEED_B) {
			race_error(r, "mapped a segment that starts with %#x",
				   seed);
		} else {
			off = st_mismatch(p, r->len, seed);
			if (off != r->len)
				race_error(r, "segment %#x differs at %zu",
					   seed, off);
		}
		munmap(p, r->len);
		add(&r->ops);
	}
	return NULL;
}

/* A new file bound to the segment @name. */
static int attach_new(const char *name)
{
	int fd = st_open();

	if (fd >= 0 && st_attach(fd, name, SHMDEV_ATTACH_RDONLY, NULL, NULL)) {
		close(fd);
		return -1;
	}
	return fd;
}

TEST_F_TIMEOUT(shmdev, race_close_and_dup2_vs_mmap, RACE_TIMEOUT)
{
	const char *names[2] = { new_name(self), new_name(self) };
	const uint8_t seeds[2] = { SEED_A, SEED_B };
	struct race r = { .len = RACE_PAGES * page_size };
	uint64_t pages = module_pages();
	double end = st_now_secs() + race_secs();
	uint32_t seed = 0x5eed;
	pthread_t threads[2];
	int i, fd, target;
	uint8_t *p;

	st_probe_init();
	for (i = 0; i < 2; i++) {
		fd = create_on_new_fd(_metadata, names[i], r.len, 0600);
		p = map_fd(fd, r.len, PROT_READ | PROT_WRITE);
		ASSERT_NE(MAP_FAILED, p);
		st_fill(p, r.len, seeds[i]);
		munmap(p, r.len);
		close(fd);
	}
	/* The number the mmap threads use; it always stays allocated... */
	target = attach_new(names[0]);
	ASSERT_LE(0, target);
	r.fd = target;
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_create(&threads[i], NULL, mmap_thread,
					    &r));
	while (st_now_secs() < end && !r.errors) {
		switch (rnd(&seed) % 4) {
		case 0:	/* ...but for a moment now and then */
			close(target);
			usleep(rnd(&seed) % 50);
			fd = attach_new(names[rnd(&seed) & 1]);
			ASSERT_LE(0, fd);
			if (fd != target) {
				ASSERT_EQ(target, dup2(fd, target));
				close(fd);
			}
			break;
		case 1:	/* an unbound file */
			fd = st_open();
			ASSERT_LE(0, fd);
			ASSERT_EQ(target, dup2(fd, target));
			close(fd);
			break;
		default: /* a file bound to one of the two segments */
			fd = attach_new(names[rnd(&seed) & 1]);
			ASSERT_LE(0, fd);
			ASSERT_EQ(target, dup2(fd, target));
			close(fd);
			break;
		}
		/* Let some mappings through between the swaps. */
		usleep(rnd(&seed) % 500);
		r.rounds++;
	}
	r.stop = true;
	for (i = 0; i < 2; i++)
		pthread_join(threads[i], NULL);
	close(target);
	EXPECT_EQ(0, r.errors) TH_LOG("%d errors, first: %s", r.errors,
				      r.what);
	TH_LOG("%ld swaps of the number under %ld mappings (%ld refused)",
	       r.rounds, r.ops, r.signals);
	for (i = 0; i < 2; i++)
		EXPECT_EQ(0, st_unlink(self->fd, names[i]));
	EXPECT_EQ(pages, settle_pages(pages));
}

/* fork() against munmap */

/* Unmaps the segment and maps it again, writable, over and over. */
static void *remap_thread(void *data)
{
	struct race *r = data;
	uint8_t *p, *old;

	while (!r->stop) {
		p = map_fd(r->fd, r->len, PROT_READ | PROT_WRITE);
		if (p == MAP_FAILED) {
			race_error(r, "mmap: %s", strerror(errno));
			break;
		}
		old = __atomic_exchange_n(&r->map, p, __ATOMIC_SEQ_CST);
		if (old)
			munmap(old, r->len);
		add(&r->ops);
	}
	return NULL;
}

/*
 * In the child: reads each page of whatever the parent's mapping was at
 * fork(); the pattern, or SIGSEGV if the unmap won.
 */
static int fork_child_check(uint8_t *p, size_t len)
{
	size_t off;
	uint8_t val;
	int sig;

	if (!p)
		return 0;
	for (off = 0; off < len; off += page_size) {
		sig = st_probe(p + off, false, 0, &val);
		if (sig == SIGSEGV)
			return 0;
		if (sig)
			return 10 + sig;
		if (val != st_pattern(off, SEED_C))
			return 2;
	}
	return 0;
}

TEST_F_TIMEOUT(shmdev, race_fork_vs_munmap_keeps_map_counts, RACE_TIMEOUT)
{
	struct race r = { .len = RACE_PAGES * page_size };
	uint64_t pages = module_pages();
	double end = st_now_secs() + race_secs();
	struct shmdev_info info;
	int status, bad = 0;
	pthread_t thread;
	uint8_t *p;
	pid_t pid;

	st_probe_init();
	p = create_and_map(_metadata, self, "", r.len);
	st_fill(p, r.len, SEED_C);
	munmap(p, r.len);
	r.fd = self->fd;
	ASSERT_EQ(0, pthread_create(&thread, NULL, remap_thread, &r));
	while (st_now_secs() < end && !r.errors) {
		fflush(stdout);
		fflush(stderr);
		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0)
			_exit(fork_child_check(r.map, r.len));
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			if (!bad++)
				TH_LOG("child status %#x", status);
		}
		r.rounds++;
	}
	r.stop = true;
	pthread_join(thread, NULL);
	EXPECT_EQ(0, bad);
	EXPECT_EQ(0, r.errors) TH_LOG("first: %s", r.what);
	TH_LOG("%ld forks under %ld remaps", r.rounds, r.ops);

	/* One mapping left (r.map); the counts must say exactly that. */
	ASSERT_EQ(0, st_info(self->fd, &info));
	EXPECT_EQ(1U, info.nr_maps);
	EXPECT_EQ(1U, info.nr_files);
	EXPECT_EQ(-EBUSY, st_add_seals(self->fd, SHMDEV_SEAL_WRITE));
	munmap(r.map, r.len);
	ASSERT_EQ(0, st_info(self->fd, &info));
	EXPECT_EQ(0U, info.nr_maps);
	/* No writable mapping is left, so nothing may hold the seal off. */
	EXPECT_EQ(0, st_add_seals(self->fd, SHMDEV_SEAL_WRITE));
	close(self->fd);
	self->fd = -1;
	EXPECT_EQ(pages, settle_pages(pages));
}

int main(int argc, char **argv)
{
	return shmdev_harness_main(argc, argv);
}
