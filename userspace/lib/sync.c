// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Process-shared synchronisation objects for shared memory.
 *
 * The mutex is a robust, process-shared, error-checking pthread mutex: the
 * C library registers a robust mutex on the kernel's robust-futex list of
 * the locking thread, so when a holder dies the kernel marks the futex
 * (FUTEX_OWNER_DIED) and the next locker gets EOWNERDEAD.
 *
 * The condition variable and the semaphore are futex words of their own,
 * with a count of sleepers so that signalling an object nobody waits on
 * makes no system call. Both count wakeups, not waiters, so a waiter that
 * dies asleep costs nothing but a few extra wake calls.
 *
 * Every object carries a magic word written last by its init function and
 * cleared by its destroy function, so that using memory that holds no
 * object gives -EINVAL.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "libshmdev/sync.h"
#include "futex-private.h"

#define MUTEX_MAGIC	0x584d4853U	/* "SHMX" */
#define COND_MAGIC	0x434d4853U	/* "SHMC" */
#define SEM_MAGIC	0x534d4853U	/* "SHMS" */

/* Spins of the semaphore's fast path before it sleeps. */
#define SEM_SPINS	100

struct mutex_impl {
	union {
		pthread_mutex_t pm;
		unsigned char size[48];
	};
	_Atomic uint32_t magic;
	uint32_t flags;
	_Atomic uint32_t state;		/* MUTEX_INCONSISTENT, ... */
	uint32_t reserved;
};

/*
 * glibc forgets that a robust mutex is not recoverable once
 * pthread_mutex_trylock() has said so (it answers EDEADLK the next time),
 * so the state is kept here as well: MUTEX_INCONSISTENT from an EOWNERDEAD
 * until shmdev_mutex_consistent(), MUTEX_NOTRECOVERABLE for good once the
 * mutex was unlocked while inconsistent.
 */
#define MUTEX_INCONSISTENT	(1U << 0)
#define MUTEX_NOTRECOVERABLE	(1U << 1)

struct cond_impl {
	_Atomic uint32_t seq;		/* futex: bumped by every signal */
	_Atomic uint32_t waiters;	/* threads between wait and wakeup */
	_Atomic uint32_t magic;
	uint32_t flags;
};

struct sem_impl {
	_Atomic uint32_t value;		/* futex: 0 to SHMDEV_SEM_VALUE_MAX */
	_Atomic uint32_t waiters;	/* threads that may sleep on value */
	_Atomic uint32_t magic;
	uint32_t flags;
};

_Static_assert(sizeof(pthread_mutex_t) <= 48,
	       "pthread_mutex_t fits in struct shmdev_mutex");
_Static_assert(sizeof(struct mutex_impl) == sizeof(struct shmdev_mutex),
	       "struct mutex_impl matches struct shmdev_mutex");
_Static_assert(offsetof(struct mutex_impl, magic) == 48,
	       "mutex magic at a fixed offset");
_Static_assert(_Alignof(struct mutex_impl) <= _Alignof(struct shmdev_mutex),
	       "struct mutex_impl alignment");
_Static_assert(sizeof(struct cond_impl) == sizeof(struct shmdev_cond),
	       "struct cond_impl matches struct shmdev_cond");
_Static_assert(sizeof(struct sem_impl) == sizeof(struct shmdev_sem),
	       "struct sem_impl matches struct shmdev_sem");

/* The implementation of @mutex if it was initialised, else NULL. */
static struct mutex_impl *mutex_impl(struct shmdev_mutex *mutex)
{
	struct mutex_impl *m = (struct mutex_impl *)mutex;

	if (!m || atomic_load_explicit(&m->magic, memory_order_acquire) !=
		  MUTEX_MAGIC)
		return NULL;
	return m;
}

static struct cond_impl *cond_impl(struct shmdev_cond *cond)
{
	struct cond_impl *c = (struct cond_impl *)cond;

	if (!c || atomic_load_explicit(&c->magic, memory_order_acquire) !=
		  COND_MAGIC)
		return NULL;
	return c;
}

static struct sem_impl *sem_impl(struct shmdev_sem *sem)
{
	struct sem_impl *s = (struct sem_impl *)sem;

	if (!s || atomic_load_explicit(&s->magic, memory_order_acquire) !=
		  SEM_MAGIC)
		return NULL;
	return s;
}

/* 0 if @abstime is NULL or a valid time, -EINVAL otherwise. */
static int check_abstime(const struct timespec *abstime)
{
	return !abstime || shmdev__ts_valid(abstime) ? 0 : -EINVAL;
}

static bool mutex_notrecoverable(struct mutex_impl *m)
{
	return atomic_load_explicit(&m->state, memory_order_relaxed) &
	       MUTEX_NOTRECOVERABLE;
}

/* Turns what a pthread locking call returned into 0 or -errno. */
static int mutex_locked(struct mutex_impl *m, int ret)
{
	switch (ret) {
	case EOWNERDEAD:
		atomic_fetch_or_explicit(&m->state, MUTEX_INCONSISTENT,
					 memory_order_relaxed);
		break;
	case ENOTRECOVERABLE:
		atomic_fetch_or_explicit(&m->state, MUTEX_NOTRECOVERABLE,
					 memory_order_relaxed);
		break;
	}
	return -ret;
}

int shmdev_mutex_init(struct shmdev_mutex *mutex, unsigned int flags)
{
	struct mutex_impl *m = (struct mutex_impl *)mutex;
	pthread_mutexattr_t attr;
	int ret;

	if (!mutex || (flags & ~SHMDEV_MUTEX_FLAGS_MASK))
		return -EINVAL;

	memset(m, 0, sizeof(*m));
	ret = pthread_mutexattr_init(&attr);
	if (ret)
		return -ret;
	ret = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	if (!ret)
		ret = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
	if (!ret)
		ret = pthread_mutexattr_settype(&attr,
						PTHREAD_MUTEX_ERRORCHECK);
	if (!ret && (flags & SHMDEV_MUTEX_PRIO_INHERIT))
		ret = pthread_mutexattr_setprotocol(&attr,
						    PTHREAD_PRIO_INHERIT);
	if (!ret)
		ret = pthread_mutex_init(&m->pm, &attr);
	pthread_mutexattr_destroy(&attr);
	if (ret)
		return -ret;

	m->flags = flags;
	atomic_store_explicit(&m->magic, MUTEX_MAGIC, memory_order_release);
	return 0;
}

int shmdev_mutex_destroy(struct shmdev_mutex *mutex)
{
	struct mutex_impl *m = mutex_impl(mutex);
	int ret;

	if (!m)
		return -EINVAL;
	if (mutex_notrecoverable(m))
		goto destroy;
	/*
	 * glibc does not refuse to destroy a locked robust mutex: find out
	 * whether anyone holds it by taking it.
	 */
	ret = pthread_mutex_trylock(&m->pm);
	switch (ret) {
	case 0:
		break;
	case EOWNERDEAD:
		pthread_mutex_consistent(&m->pm);
		break;
	case ENOTRECOVERABLE:
		goto destroy;
	case EDEADLK:
		return -EBUSY;
	default:
		return -ret;
	}
	pthread_mutex_unlock(&m->pm);
destroy:
	atomic_store_explicit(&m->magic, 0, memory_order_relaxed);
	pthread_mutex_destroy(&m->pm);
	return 0;
}

int shmdev_mutex_lock(struct shmdev_mutex *mutex)
{
	struct mutex_impl *m = mutex_impl(mutex);

	if (!m)
		return -EINVAL;
	if (mutex_notrecoverable(m))
		return -ENOTRECOVERABLE;
	return mutex_locked(m, pthread_mutex_lock(&m->pm));
}

int shmdev_mutex_trylock(struct shmdev_mutex *mutex)
{
	struct mutex_impl *m = mutex_impl(mutex);
	int ret;

	if (!m)
		return -EINVAL;
	if (mutex_notrecoverable(m))
		return -ENOTRECOVERABLE;
	ret = pthread_mutex_trylock(&m->pm);
	/* An error-checking mutex says EDEADLK when the caller holds it. */
	return ret == EDEADLK ? -EBUSY : mutex_locked(m, ret);
}

#if defined(__SANITIZE_THREAD__)
#define SHMDEV_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SHMDEV_TSAN 1
#endif
#endif

/*
 * pthread_mutex_clocklock() with CLOCK_MONOTONIC. ThreadSanitizer does not
 * intercept it (as of GCC 12 and LLVM 14) and would then miss the lock, so
 * a TSan build waits with pthread_mutex_timedlock() on the CLOCK_REALTIME
 * time that corresponds to @abstime now.
 */
static int mutex_clocklock(struct mutex_impl *m,
			   const struct timespec *abstime)
{
#ifdef SHMDEV_TSAN
	struct timespec rt;
	int64_t ns;

	clock_gettime(CLOCK_REALTIME, &rt);
	ns = shmdev__ts_to_ns(abstime) - shmdev__now_ns();
	ns = shmdev__ts_to_ns(&rt) + (ns > 0 ? ns : 0);
	rt = shmdev__ns_to_ts(ns);
	return pthread_mutex_timedlock(&m->pm, &rt);
#else
	return pthread_mutex_clocklock(&m->pm, CLOCK_MONOTONIC, abstime);
#endif
}

int shmdev_mutex_timedlock(struct shmdev_mutex *mutex,
			   const struct timespec *abstime)
{
	struct mutex_impl *m = mutex_impl(mutex);

	if (!m || check_abstime(abstime))
		return -EINVAL;
	if (mutex_notrecoverable(m))
		return -ENOTRECOVERABLE;
	if (!abstime)
		return mutex_locked(m, pthread_mutex_lock(&m->pm));
	return mutex_locked(m, mutex_clocklock(m, abstime));
}

static int mutex_unlock(struct mutex_impl *m)
{
	uint32_t state = atomic_load_explicit(&m->state, memory_order_relaxed);
	int ret;

	ret = pthread_mutex_unlock(&m->pm);
	/* glibc made it not recoverable if it was still inconsistent. */
	if (!ret && (state & MUTEX_INCONSISTENT))
		atomic_store_explicit(&m->state, MUTEX_NOTRECOVERABLE,
				      memory_order_relaxed);
	return -ret;
}

int shmdev_mutex_unlock(struct shmdev_mutex *mutex)
{
	struct mutex_impl *m = mutex_impl(mutex);

	if (!m)
		return -EINVAL;
	return mutex_unlock(m);
}

int shmdev_mutex_consistent(struct shmdev_mutex *mutex)
{
	struct mutex_impl *m = mutex_impl(mutex);
	int ret;

	if (!m)
		return -EINVAL;
	ret = pthread_mutex_consistent(&m->pm);
	if (!ret)
		atomic_fetch_and_explicit(&m->state, ~MUTEX_INCONSISTENT,
					  memory_order_relaxed);
	return -ret;
}

int shmdev_cond_init(struct shmdev_cond *cond, unsigned int flags)
{
	struct cond_impl *c = (struct cond_impl *)cond;

	if (!cond || flags)
		return -EINVAL;
	atomic_store_explicit(&c->seq, 0, memory_order_relaxed);
	atomic_store_explicit(&c->waiters, 0, memory_order_relaxed);
	c->flags = 0;
	atomic_store_explicit(&c->magic, COND_MAGIC, memory_order_release);
	return 0;
}

int shmdev_cond_destroy(struct shmdev_cond *cond)
{
	struct cond_impl *c = cond_impl(cond);

	if (!c)
		return -EINVAL;
	atomic_store_explicit(&c->magic, 0, memory_order_relaxed);
	return 0;
}

int shmdev_cond_timedwait(struct shmdev_cond *cond,
			  struct shmdev_mutex *mutex,
			  const struct timespec *abstime)
{
	struct cond_impl *c = cond_impl(cond);
	struct mutex_impl *m = mutex_impl(mutex);
	uint32_t seq;
	int ret, wait;

	if (!c || !m || check_abstime(abstime))
		return -EINVAL;

	/*
	 * Announce the waiter before reading the sequence: a signaller bumps
	 * the sequence and then reads the count (both sequentially
	 * consistent), so either it sees this waiter and wakes the futex, or
	 * this waiter reads the new sequence and the futex wait returns at
	 * once.
	 */
	atomic_fetch_add_explicit(&c->waiters, 1, memory_order_seq_cst);
	seq = atomic_load_explicit(&c->seq, memory_order_seq_cst);
	ret = mutex_unlock(m);
	if (ret) {
		atomic_fetch_sub_explicit(&c->waiters, 1,
					  memory_order_relaxed);
		return ret;
	}

	wait = shmdev__futex_wait(&c->seq, seq, abstime);
	atomic_fetch_sub_explicit(&c->waiters, 1, memory_order_relaxed);

	ret = mutex_locked(m, pthread_mutex_lock(&m->pm));
	if (ret)
		return ret;	/* -EOWNERDEAD (locked), -ENOTRECOVERABLE */
	/* EINTR and EAGAIN are spurious wakeups, which callers expect. */
	return wait == -ETIMEDOUT ? -ETIMEDOUT : 0;
}

int shmdev_cond_wait(struct shmdev_cond *cond, struct shmdev_mutex *mutex)
{
	return shmdev_cond_timedwait(cond, mutex, NULL);
}

static int cond_wake(struct shmdev_cond *cond, int nr)
{
	struct cond_impl *c = cond_impl(cond);

	if (!c)
		return -EINVAL;
	atomic_fetch_add_explicit(&c->seq, 1, memory_order_seq_cst);
	if (atomic_load_explicit(&c->waiters, memory_order_seq_cst))
		shmdev__futex_wake(&c->seq, nr);
	return 0;
}

int shmdev_cond_signal(struct shmdev_cond *cond)
{
	return cond_wake(cond, 1);
}

int shmdev_cond_broadcast(struct shmdev_cond *cond)
{
	return cond_wake(cond, INT_MAX);
}

int shmdev_sem_init(struct shmdev_sem *sem, unsigned int value,
		    unsigned int flags)
{
	struct sem_impl *s = (struct sem_impl *)sem;

	if (!sem || flags || value > SHMDEV_SEM_VALUE_MAX)
		return -EINVAL;
	atomic_store_explicit(&s->value, value, memory_order_relaxed);
	atomic_store_explicit(&s->waiters, 0, memory_order_relaxed);
	s->flags = 0;
	atomic_store_explicit(&s->magic, SEM_MAGIC, memory_order_release);
	return 0;
}

int shmdev_sem_destroy(struct shmdev_sem *sem)
{
	struct sem_impl *s = sem_impl(sem);

	if (!s)
		return -EINVAL;
	atomic_store_explicit(&s->magic, 0, memory_order_relaxed);
	return 0;
}

/* Takes one unit if there is one: 0 or -EAGAIN. */
static int sem_take(struct sem_impl *s)
{
	uint32_t v = atomic_load_explicit(&s->value, memory_order_relaxed);

	while (v) {
		if (atomic_compare_exchange_weak_explicit(&s->value, &v, v - 1,
							  memory_order_acquire,
							  memory_order_relaxed))
			return 0;
	}
	return -EAGAIN;
}

int shmdev_sem_timedwait(struct shmdev_sem *sem,
			 const struct timespec *abstime)
{
	struct sem_impl *s = sem_impl(sem);
	int i, ret;

	if (!s || check_abstime(abstime))
		return -EINVAL;

	for (i = 0; i < SEM_SPINS; i++) {
		if (!sem_take(s))
			return 0;
		shmdev__cpu_relax();
	}
	for (;;) {
		if (!sem_take(s))
			return 0;
		/* The same handshake as shmdev_cond_timedwait(). */
		atomic_fetch_add_explicit(&s->waiters, 1,
					  memory_order_seq_cst);
		ret = 0;
		if (!atomic_load_explicit(&s->value, memory_order_seq_cst))
			ret = shmdev__futex_wait(&s->value, 0, abstime);
		atomic_fetch_sub_explicit(&s->waiters, 1,
					  memory_order_relaxed);
		if (ret == -ETIMEDOUT || ret == -EINTR)
			return sem_take(s) ? ret : 0;
	}
}

int shmdev_sem_wait(struct shmdev_sem *sem)
{
	return shmdev_sem_timedwait(sem, NULL);
}

int shmdev_sem_trywait(struct shmdev_sem *sem)
{
	struct sem_impl *s = sem_impl(sem);

	if (!s)
		return -EINVAL;
	return sem_take(s);
}

int shmdev_sem_post(struct shmdev_sem *sem)
{
	struct sem_impl *s = sem_impl(sem);
	uint32_t v;

	if (!s)
		return -EINVAL;
	v = atomic_load_explicit(&s->value, memory_order_relaxed);
	do {
		if (v >= SHMDEV_SEM_VALUE_MAX)
			return -EOVERFLOW;
	} while (!atomic_compare_exchange_weak_explicit(&s->value, &v, v + 1,
							memory_order_seq_cst,
							memory_order_relaxed));
	if (atomic_load_explicit(&s->waiters, memory_order_seq_cst))
		shmdev__futex_wake(&s->value, 1);
	return 0;
}

int shmdev_sem_getvalue(struct shmdev_sem *sem)
{
	struct sem_impl *s = sem_impl(sem);
	uint32_t v;

	if (!s)
		return -EINVAL;
	v = atomic_load_explicit(&s->value, memory_order_relaxed);
	return v > SHMDEV_SEM_VALUE_MAX ? (int)SHMDEV_SEM_VALUE_MAX : (int)v;
}
