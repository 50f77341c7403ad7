/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of the libshmdev ring and sync tests: shared regions on a memfd
 * or, with SHMDEV_TEST_BACKEND=shmdev, on an anonymous /dev/shmdev segment,
 * and workers that are processes mapping the region at an address of their
 * own, or, with SHMDEV_TEST_MODE=thread (the ThreadSanitizer run), threads
 * sharing the caller's mapping so that the sanitizer sees every access.
 *
 * Environment:
 *   SHMDEV_TEST_BACKEND=shmdev	regions are shmdev segments (in the test
 *				VM), not memfds
 *   SHMDEV_TEST_MODE=thread	threads instead of processes where a test
 *				does not need processes
 *   SHMDEV_TEST_MESSAGES=N	messages of the long ring test (default
 *				1000000); the other long tests scale with it
 */
#ifndef SHMDEV_TEST_UTIL_H
#define SHMDEV_TEST_UTIL_H

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/shmdev.h>

#define TEST_DEFAULT_MESSAGES	1000000L

struct region {
	int fd;
	size_t len;
	void *mem;
};

static inline bool test_on_shmdev(void)
{
	const char *backend = getenv("SHMDEV_TEST_BACKEND");

	return backend && !strcmp(backend, "shmdev");
}

/* An fd of @len zeroed bytes: a memfd, or an anonymous shmdev segment. */
static inline int region_fd(size_t len)
{
	struct shmdev_create arg;
	int fd;

	if (!test_on_shmdev()) {
		fd = memfd_create("shmdev-test", MFD_CLOEXEC);
		if (fd < 0)
			return -errno;
		if (ftruncate(fd, len)) {
			close(fd);
			return -errno;
		}
		return fd;
	}
	fd = open(SHMDEV_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	memset(&arg, 0, sizeof(arg));
	arg.size = len;
	arg.mode = 0600;
	if (ioctl(fd, SHMDEV_IOC_CREATE, &arg)) {
		close(fd);
		return -errno;
	}
	return fd;
}

/* A zeroed shared region of @len bytes, mapped once. */
static inline int region_create(struct region *reg, size_t len)
{
	reg->len = len;
	reg->fd = region_fd(len);
	if (reg->fd < 0)
		return reg->fd;
	reg->mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED,
			reg->fd, 0);
	if (reg->mem == MAP_FAILED) {
		close(reg->fd);
		return -errno;
	}
	return 0;
}

/* Another mapping of the region, at another address; NULL on failure. */
static inline void *region_map_again(const struct region *reg)
{
	void *mem = mmap(NULL, reg->len, PROT_READ | PROT_WRITE, MAP_SHARED,
			 reg->fd, 0);

	return mem == MAP_FAILED ? NULL : mem;
}

static inline void region_destroy(struct region *reg)
{
	munmap(reg->mem, reg->len);
	close(reg->fd);
}

static inline bool test_threads(void)
{
	const char *mode = getenv("SHMDEV_TEST_MODE");

	return mode && !strcmp(mode, "thread");
}

static inline long test_messages(void)
{
	const char *s = getenv("SHMDEV_TEST_MESSAGES");
	long n = s ? strtol(s, NULL, 10) : 0;

	return n > 0 ? n : TEST_DEFAULT_MESSAGES;
}

static inline int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* CLOCK_MONOTONIC now plus @ms milliseconds. */
static inline struct timespec deadline_ms(long ms)
{
	int64_t ns = now_ns() + ms * 1000000LL;
	struct timespec ts = {
		.tv_sec = ns / 1000000000LL,
		.tv_nsec = ns % 1000000000LL,
	};

	return ts;
}

/*
 * A worker runs fn(mem, arg), where mem is the region as the worker maps
 * it, and its result (0 for success, a small positive number naming what
 * failed) becomes the exit status of a process or the result of a thread.
 */
typedef int (*worker_fn)(void *mem, void *arg);

struct worker {
	bool thread;
	pid_t pid;
	pthread_t tid;
	worker_fn fn;
	void *mem;
	void *arg;
	int result;
};

static inline void *worker_thread_main(void *p)
{
	struct worker *w = p;

	w->result = w->fn(w->mem, w->arg);
	return NULL;
}

/*
 * Starts @fn as a process (a thread in thread mode unless @need_process).
 * A process maps the region anew, at another address than the parent's.
 */
static inline int worker_start(struct worker *w, const struct region *reg,
			       worker_fn fn, void *arg, bool need_process)
{
	memset(w, 0, sizeof(*w));
	w->fn = fn;
	w->arg = arg;
	w->thread = test_threads() && !need_process;
	if (w->thread) {
		w->mem = reg->mem;
		return -pthread_create(&w->tid, NULL, worker_thread_main, w);
	}
	fflush(stdout);
	fflush(stderr);
	w->pid = fork();
	if (w->pid < 0)
		return -errno;
	if (!w->pid) {
		void *mem = region_map_again(reg);

		if (!mem || mem == reg->mem)
			_exit(100);
		_exit(fn(mem, arg) & 0xff);
	}
	return 0;
}

/* The worker's result; 128 + signal for a process killed by a signal. */
static inline int worker_join(struct worker *w)
{
	int status;

	if (w->thread) {
		pthread_join(w->tid, NULL);
		return w->result;
	}
	if (waitpid(w->pid, &status, 0) != w->pid)
		return -1;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/* xorshift64*: the payload generator shared by writers and checkers. */
static inline uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

static inline uint64_t rng_seed(uint64_t a, uint64_t b)
{
	uint64_t s = (a + 1) * 0x9e3779b97f4a7c15ULL ^ (b + 1) *
		     0xc2b2ae3d27d4eb4fULL;

	return s ? s : 1;
}

/* Fills @len bytes from the stream seeded by @seed. */
static inline void fill_payload(unsigned char *p, size_t len, uint64_t seed)
{
	uint64_t s = seed, v = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		if (!(i & 7))
			v = rng_next(&s);
		p[i] = v >> (8 * (i & 7));
	}
}

/* FNV-1a, 32 bits. */
static inline uint32_t fnv1a(const unsigned char *p, size_t len)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

#endif /* SHMDEV_TEST_UTIL_H */
