/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * Futex and clock helpers shared by sync.c and ring.c. Everything here is
 * static inline: the library exports only its public functions.
 *
 * The futexes are shared ones (no FUTEX_PRIVATE_FLAG): the words live in
 * memory that other processes map, at other addresses.
 */
#ifndef LIBSHMDEV_FUTEX_PRIVATE_H
#define LIBSHMDEV_FUTEX_PRIVATE_H

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define NSEC_PER_SEC	1000000000LL

/*
 * Waits while *@word is @val, until woken or until @abstime
 * (CLOCK_MONOTONIC; NULL for no limit). 0 when woken (possibly
 * spuriously), -EAGAIN if *@word was not @val, -ETIMEDOUT, -EINTR.
 */
static inline int shmdev__futex_wait(_Atomic uint32_t *word, uint32_t val,
				     const struct timespec *abstime)
{
	long ret;

	/* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC time. */
	ret = syscall(SYS_futex, word, FUTEX_WAIT_BITSET, val, abstime,
		      NULL, FUTEX_BITSET_MATCH_ANY);
	if (ret == 0)
		return 0;
	if (errno == EAGAIN || errno == ETIMEDOUT || errno == EINTR)
		return -errno;
	/* EFAULT, EINVAL, ENOSYS: treat as a spurious wakeup. */
	return 0;
}

/* Wakes up to @nr waiters of @word. */
static inline void shmdev__futex_wake(_Atomic uint32_t *word, int nr)
{
	syscall(SYS_futex, word, FUTEX_WAKE, nr, NULL, NULL, 0);
}

static inline int64_t shmdev__ts_to_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * NSEC_PER_SEC + ts->tv_nsec;
}

static inline struct timespec shmdev__ns_to_ts(int64_t ns)
{
	struct timespec ts = {
		.tv_sec = ns / NSEC_PER_SEC,
		.tv_nsec = ns % NSEC_PER_SEC,
	};

	return ts;
}

/* CLOCK_MONOTONIC now, in nanoseconds. */
static inline int64_t shmdev__now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return shmdev__ts_to_ns(&ts);
}

/* A valid timespec: 0 <= tv_nsec < 10^9 and tv_sec >= 0. */
static inline int shmdev__ts_valid(const struct timespec *ts)
{
	return ts->tv_sec >= 0 && ts->tv_nsec >= 0 &&
	       ts->tv_nsec < NSEC_PER_SEC;
}

/* Tells the CPU that this is a spin loop. */
static inline void shmdev__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

#endif /* LIBSHMDEV_FUTEX_PRIVATE_H */
