/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * libshmdev: process-shared synchronisation objects that live in shared
 * memory (a shmdev segment, a memfd, any MAP_SHARED mapping).
 *
 * One process initialises an object where it lies in the shared memory
 * (shmdev_mutex_init() and friends); every other process that maps the same
 * memory, at any address, uses it directly. The objects hold no pointers,
 * so they work at different addresses in different processes, and between
 * threads of one process as well.
 *
 * Every function returns 0 (or the non-negative value it documents) or a
 * negative errno; none prints, exits or keeps global state. An object that
 * was never initialised (or was destroyed) gives -EINVAL.
 *
 * Timeouts are absolute times on CLOCK_MONOTONIC, as clock_gettime()
 * returns them; a NULL timeout waits without limit.
 *
 * The structures are opaque. Their size and alignment are part of the ABI
 * and the same on every architecture:
 *
 *	struct shmdev_mutex	64 bytes, 8-byte aligned
 *	struct shmdev_cond	16 bytes, 8-byte aligned
 *	struct shmdev_sem	16 bytes, 8-byte aligned
 *
 * The mutex is a glibc robust, process-shared, error-checking
 * pthread_mutex_t inside its 64 bytes, so every process that uses one must
 * link the same C library; the condition variable and the semaphore are
 * futex words of their own and have no such restriction.
 */
#ifndef LIBSHMDEV_SYNC_H
#define LIBSHMDEV_SYNC_H

#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#define SHMDEV__STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define SHMDEV__STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

/* A robust, process-shared mutex. */
struct shmdev_mutex {
	union {
		unsigned char __opaque[64];
		uint64_t __align;
	};
};

/* A process-shared condition variable, used with a struct shmdev_mutex. */
struct shmdev_cond {
	union {
		unsigned char __opaque[16];
		uint64_t __align;
	};
};

/* A process-shared counting semaphore. */
struct shmdev_sem {
	union {
		unsigned char __opaque[16];
		uint64_t __align;
	};
};

SHMDEV__STATIC_ASSERT(sizeof(struct shmdev_mutex) == 64,
		      "struct shmdev_mutex is 64 bytes");
SHMDEV__STATIC_ASSERT(sizeof(struct shmdev_cond) == 16,
		      "struct shmdev_cond is 16 bytes");
SHMDEV__STATIC_ASSERT(sizeof(struct shmdev_sem) == 16,
		      "struct shmdev_sem is 16 bytes");

/* Flags of shmdev_mutex_init(). */
#define SHMDEV_MUTEX_PRIO_INHERIT	(1U << 0)	/* priority inheritance */
#define SHMDEV_MUTEX_FLAGS_MASK		SHMDEV_MUTEX_PRIO_INHERIT

/* Largest value of a semaphore. */
#define SHMDEV_SEM_VALUE_MAX		0x7fffffffU

int shmdev_mutex_init(struct shmdev_mutex *mutex, unsigned int flags);
int shmdev_mutex_destroy(struct shmdev_mutex *mutex);
int shmdev_mutex_lock(struct shmdev_mutex *mutex);
int shmdev_mutex_trylock(struct shmdev_mutex *mutex);
int shmdev_mutex_timedlock(struct shmdev_mutex *mutex,
			   const struct timespec *abstime);
int shmdev_mutex_unlock(struct shmdev_mutex *mutex);
int shmdev_mutex_consistent(struct shmdev_mutex *mutex);

int shmdev_cond_init(struct shmdev_cond *cond, unsigned int flags);
int shmdev_cond_destroy(struct shmdev_cond *cond);
int shmdev_cond_wait(struct shmdev_cond *cond, struct shmdev_mutex *mutex);
int shmdev_cond_timedwait(struct shmdev_cond *cond,
			  struct shmdev_mutex *mutex,
			  const struct timespec *abstime);
int shmdev_cond_signal(struct shmdev_cond *cond);
int shmdev_cond_broadcast(struct shmdev_cond *cond);

int shmdev_sem_init(struct shmdev_sem *sem, unsigned int value,
		    unsigned int flags);
int shmdev_sem_destroy(struct shmdev_sem *sem);
int shmdev_sem_wait(struct shmdev_sem *sem);
int shmdev_sem_trywait(struct shmdev_sem *sem);
int shmdev_sem_timedwait(struct shmdev_sem *sem,
			 const struct timespec *abstime);
int shmdev_sem_post(struct shmdev_sem *sem);
int shmdev_sem_getvalue(struct shmdev_sem *sem);

#ifdef __cplusplus
}
#endif

#endif /* LIBSHMDEV_SYNC_H */
