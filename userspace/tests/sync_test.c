// SPDX-License-Identifier: GPL-2.0
/*
 * Host tests of the libshmdev synchronisation objects, on memfd regions
 * mapped at different addresses by different processes.
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/time.h>

#include "kselftest_harness.h"

/* clang warns about the unused "variant" argument TEST() declares. */
#ifdef __clang__
#pragma clang diagnostic ignored "-Wunused-parameter"
#endif

#include "libshmdev/sync.h"
#include "test_util.h"

#define NR_WORKERS	4

/*
 * ThreadSanitizer reports unlocking a mutex one does not hold before
 * glibc can say EPERM: a TSan build skips those checks.
 */
#if defined(__SANITIZE_THREAD__)
#define TSAN_BUILD 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TSAN_BUILD 1
#endif
#endif
#ifndef TSAN_BUILD
#define TSAN_BUILD 0
#endif

/* What the tests put in the shared region. */
struct shared {
	struct shmdev_mutex mutex;
	struct shmdev_cond cond;
	struct shmdev_sem sem;
	uint64_t counter;		/* protected by mutex or sem */
	_Atomic int flag;
	int turn;			/* protected by mutex */
	int waiting;			/* protected by mutex */
	long iterations;
};

/* The tests that share memory get a zeroed region, mapped at self->sh. */
FIXTURE(shared) {
	struct region reg;
	struct shared *sh;
};

FIXTURE_SETUP(shared)
{
	ASSERT_EQ(0, region_create(&self->reg, 4096));
	self->sh = self->reg.mem;
}

FIXTURE_TEARDOWN(shared)
{
	region_destroy(&self->reg);
}

static void wait_flag(struct shared *sh, int val)
{
	while (atomic_load(&sh->flag) != val)
		usleep(1000);
}

static long contention_iterations(void)
{
	long n = test_messages() / 10;

	return n > 1000 ? n : 1000;
}

TEST(mutex_init_rejects_unknown_flags)
{
	struct shmdev_mutex m;

	EXPECT_EQ(-EINVAL, shmdev_mutex_init(&m, 1U << 31));
	EXPECT_EQ(-EINVAL, shmdev_mutex_init(NULL, 0));
}

TEST(mutex_use_before_init_returns_einval)
{
	struct shmdev_mutex m;

	memset(&m, 0, sizeof(m));
	EXPECT_EQ(-EINVAL, shmdev_mutex_lock(&m));
	EXPECT_EQ(-EINVAL, shmdev_mutex_trylock(&m));
	EXPECT_EQ(-EINVAL, shmdev_mutex_unlock(&m));
	EXPECT_EQ(-EINVAL, shmdev_mutex_consistent(&m));
	EXPECT_EQ(-EINVAL, shmdev_mutex_destroy(&m));
	EXPECT_EQ(-EINVAL, shmdev_mutex_lock(NULL));
}

TEST_F(shared, mutex_lock_trylock_unlock)
{
	struct shared *sh = self->sh;

	ASSERT_EQ(0, shmdev_mutex_init(&sh->mutex, 0));
	EXPECT_EQ(0, shmdev_mutex_lock(&sh->mutex));
	EXPECT_EQ(-EBUSY, shmdev_mutex_trylock(&sh->mutex));
	EXPECT_EQ(0, shmdev_mutex_unlock(&sh->mutex));
	EXPECT_EQ(0, shmdev_mutex_trylock(&sh->mutex));
	EXPECT_EQ(0, shmdev_mutex_unlock(&sh->mutex));
	if (!TSAN_BUILD)
		EXPECT_EQ(-EPERM, shmdev_mutex_unlock(&sh->mutex));
	EXPECT_EQ(0, shmdev_mutex_destroy(&sh->mutex));
	EXPECT_EQ(-EINVAL, shmdev_mutex_lock(&sh->mutex));
}

TEST_F(shared, mutex_relock_by_owner_returns_edeadlk)
{
	struct shared *sh = self->sh;

	ASSERT_EQ(0, shmdev_mutex_init(&sh->mutex, 0));
	ASSERT_EQ(0, shmdev_mutex_lock(&sh->mutex));
	EXPECT_EQ(-EDEADLK, shmdev_mutex_lock(&sh->mutex));
	EXPECT_EQ(0, shmdev_mutex_unlock(&sh->mutex));
}

static int hold_until_flag2(void *mem, void *arg)
{
	struct shared *sh = mem;

	(void)arg;
	if (shmdev_mutex_lock(&sh->mutex))
		return 1;
	atomic_store(&sh->flag, 1);
	wait_flag(sh, 2);
	return shmdev_mutex_unlock(&sh->mutex) ? 2 : 0;
}

TEST_F(shared, mutex_held_elsewhere_trylock_ebusy_unlock_eperm_destroy_ebusy)
{
	struct worker w;
	struct shared *sh = self->sh;

	ASSERT_EQ(0, shmdev_mutex_init(&sh->mutex, 0));
	ASSERT_EQ(0, worker_start(&w, &self->reg, hold_until_flag2, NULL,
				  false));
	wait_flag(sh, 1);
	EXPECT_EQ(-EBUSY, shmdev_mutex_trylock(&sh->mutex));
	if (!TSAN_BUILD)
		EXPECT_EQ(-EPERM, shmdev_mutex_unlock(&sh->mutex));
	EXPECT_EQ(-EBUSY, shmdev_mutex_destroy(&sh->mutex));
	atomic_store(&sh->flag, 2);
	EXPECT_EQ(0, worker_join(&w));
	EXPECT_EQ(0, shmdev_mutex_destroy(&sh->mutex));
}

TEST_F(shared, mutex_timedlock_times_out)
{
	struct worker w;
	struct shared *sh = self->sh;
	struct timespec ts;
	int64_t t0;

	ASSERT_EQ(0, shmdev_mutex_init(&sh->mutex, 0));
	ASSERT_EQ(0, worker_start(&w, &self->reg, hold_until_flag2, NULL,
				  false));
	wait_flag(sh, 1);
	t0 = now_ns();
	ts = deadline_ms(50);
	EXPECT_EQ(-ETIMEDOUT, shmdev_mutex_timedlock(&sh->mutex, &ts));
	EXPECT_GE(now_ns() - t0, 50 * 1000000LL);
	atomic_store(&sh->flag, 2);
	EXPECT_EQ(0, worker_join(&w));
	ts = deadline_ms(1000);
	EXPECT_EQ(0, shmdev_mutex_timedlock(&sh->mutex, &ts));
	EXPECT_EQ(0, shmdev_mutex_unlock(&sh->mutex));
}

TEST_F(shared, mutex_timedlock_rejects_bad_timespec)
{
	struct shared *sh = self->sh;
	struct timespec ts = { .tv_sec = 1, .tv_nsec = 1000000000 };

	ASSERT_EQ(0, shmdev_mutex_init(&sh->mutex, 0));
	EXPECT_EQ(-EINVAL, shmdev_mutex_timedlock(&sh->mutex, &ts));
	ts.tv_nsec = -1;
	EXPECT_EQ(-EINVAL, shmdev_mutex_timedlock(&sh->mutex, &ts));
}

TEST_F(shared, mutex_consistent_on_healthy_mutex_returns_einval)
{
	struct shared *sh = self->sh;

	ASSERT_EQ(0, shmdev_mutex_init(&sh->mutex, 0));
	ASSERT_EQ(0, shmdev_mutex_lock(&sh->mutex));
	EXPECT_EQ(-EINVAL, shmdev_mutex_consistent(&sh->mutex));
	EXPECT_EQ(0, shmdev_mutex_unlock(&sh->mutex));
}

TEST_F(shared, mutex_prio_inherit_lock_trylock_timedlock)
{
	struct shared *sh = self->sh;
	struct timespec ts;

	ASSERT_EQ(0, shmdev_mutex_init(&sh->mutex,
				       SHMDEV_MUTEX_PRIO_INHERIT));
	EXPECT_EQ(0, shmdev_mutex_lock(&sh->mutex));
	EXPECT_EQ(-EBUSY, shmdev_mutex_trylock(&sh->mutex));
	EXPECT_EQ(0, shmdev_mutex_unlock(&sh->mutex));
	ts = deadline_ms(100);
	EXPECT_EQ(0, shmdev_mutex_timedlock(&sh->mutex, &ts));
	EXPECT_EQ(0, shmdev_mutex_unlock(&sh->mutex));
}

/* How count_under_lock() locks sh->counter: sh->mutex, or sh->sem as a lock. */
struct counter_lock {
	int (*lock)(struct shared *sh);
	int (*unlock)(struct shared *sh);
};

static int lock_mutex(struct shared *sh)
{
	return shmdev_mutex_lock(&sh->mutex);
}

static int unlock_mutex(struct shared *sh)
{
	return shmdev_mutex_unlock(&sh->mutex);
}

static int lock_sem(struct shared *sh)
{
	return shmdev_sem_wait(&sh->sem);
}

static int unlock_sem(struct shared *sh)
{
	return shmdev_sem_post(&sh->sem);
}

static struct counter_lock mutex_lock_ops = { lock_mutex, unlock_mutex };
static struct counter_lock sem_lock_ops = { lock_sem, unlock_sem };

/* Adds sh->iterations to sh->counter, one at a time under the lock @arg. */
static int count_under_lock(void *mem, void *arg)
{
	const struct counter_lock *ops = arg;
	struct shared *sh = mem;
	long i;

	for (i = 0; i < sh->iterations; i++) {
		if (ops->lock(sh))
			return 1;
		sh->counter++;
		if (ops->unlock(sh))
			return 2;
	}
	return 0;
}

/* NR_WORKERS workers count under @ops at once: no increment may be lost. */
static void count_with_workers(struct __test_metadata *_metadata,
			       struct region *reg, struct counter_lock *ops)
{
	struct worker w[NR_WORKERS];
	struct shared *sh = reg->mem;
	int i;

	sh->iterations = contention_iterations();
	for (i = 0; i < NR_WORKERS; i++)
		ASSERT_EQ(0, worker_start(&w[i], reg, count_under_lock, ops,
					  false));
	for (i = 0; i < NR_WORKERS; i++)
		EXPECT_EQ(0, worker_join(&w[i]));
	EXPECT_EQ((uint64_t)NR_WORKERS * sh->iterations, sh->counter);
}

TEST_F(shared, mutex_contention_4_workers_exact_count)
{
	struct shared *sh = self->sh;

	ASSERT_EQ(0, shmdev_mutex_init(&sh->mutex, 0));
	count_with_workers(_metadata, &self->reg, &mutex_lock_ops);
}

static int lock_and_hang(void *mem, void *arg)
{
	struct shared *sh = mem;

	(void)arg;
	if (shmdev_mutex_lock(&sh->mutex))
		return 1;
	sh->counter = 12345;	/* "half-way through an update" */
	atomic_store(&sh->flag, 1);
	for (;;)
		pause();
}

/* A worker process locks sh->mutex and is killed while it holds it. */
static void kill_mutex_holder(struct __test_metadata *_metadata,
			      struct region *reg)
{
	struct worker w;

	ASSERT_EQ(0, worker_start(&w, reg, lock_and_hang, NULL, true));
	wait_flag(reg->mem, 1);
	ASSERT_EQ(0, kill(w.pid, SIGKILL));
	EXPECT_EQ(128 + SIGKILL, worker_join(&w));
}

TEST_F(shared, mutex_holder_killed_next_locker_gets_eownerdead)
{
	struct shared *sh = self->sh;

	ASSERT_EQ(0, shmdev_mutex_init(&sh->mutex, 0));
	kill_mutex_holder(_metadata, &self->reg);

	ASSERT_EQ(-EOWNERDEAD, shmdev_mutex_lock(&sh->mutex));
	EXPECT_EQ(12345, sh->counter);
	sh->counter = 0;		/* repair */
	EXPECT_EQ(0, shmdev_mutex_consistent(&sh->mutex));
	EXPECT_EQ(0, shmdev_mutex_unlock(&sh->mutex));
	EXPECT_EQ(0, shmdev_mutex_lock(&sh->mutex));
	EXPECT_EQ(0, shmdev_mutex_unlock(&sh->mutex));
}

static int lock_expect_ownerdead(void *mem, void *arg)
{
	struct shared *sh = mem;
	int ret;

	(void)arg;
	atomic_store(&sh->flag, 2);
	ret = shmdev_mutex_lock(&sh->mutex);	/* blocks until the kill */
	if (ret != -EOWNERDEAD)
		return 1;
	if (shmdev_mutex_consistent(&sh->mutex))
		return 2;
	return shmdev_mutex_unlock(&sh->mutex) ? 3 : 0;
}

TEST_F(shared, mutex_holder_killed_blocked_waiter_gets_eownerdead)
{
	struct worker holder, waiter;
	struct shared *sh = self->sh;

	ASSERT_EQ(0, shmdev_mutex_init(&sh->mutex, 0));
	ASSERT_EQ(0, worker_start(&holder, &self->reg, lock_and_hang, NULL,
				  true));
	wait_flag(sh, 1);
	ASSERT_EQ(0, worker_start(&waiter, &self->reg, lock_expect_ownerdead,
				  NULL, true));
	wait_flag(sh, 2);
	usleep(50000);			/* let it block in the kernel */
	ASSERT_EQ(0, kill(holder.pid, SIGKILL));
	EXPECT_EQ(128 + SIGKILL, worker_join(&holder));
	EXPECT_EQ(0, worker_join(&waiter));
	EXPECT_EQ(0, shmdev_mutex_lock(&sh->mutex));
	EXPECT_EQ(0, shmdev_mutex_unlock(&sh->mutex));
}

TEST_F(shared, mutex_not_made_consistent_becomes_notrecoverable)
{
	struct shared *sh = self->sh;

	ASSERT_EQ(0, shmdev_mutex_init(&sh->mutex, 0));
	kill_mutex_holder(_metadata, &self->reg);
	ASSERT_EQ(-EOWNERDEAD, shmdev_mutex_lock(&sh->mutex));
	EXPECT_EQ(0, shmdev_mutex_unlock(&sh->mutex));
	EXPECT_EQ(-ENOTRECOVERABLE, shmdev_mutex_lock(&sh->mutex));
	EXPECT_EQ(-ENOTRECOVERABLE, shmdev_mutex_trylock(&sh->mutex));
	/* Re-initialising is the way out. */
	EXPECT_EQ(0, shmdev_mutex_destroy(&sh->mutex));
	ASSERT_EQ(0, shmdev_mutex_init(&sh->mutex, 0));
	EXPECT_EQ(0, shmdev_mutex_lock(&sh->mutex));
	EXPECT_EQ(0, shmdev_mutex_unlock(&sh->mutex));
}

TEST(cond_init_rejects_flags_and_null)
{
	struct shmdev_cond c;

	EXPECT_EQ(-EINVAL, shmdev_cond_init(&c, 1));
	EXPECT_EQ(-EINVAL, shmdev_cond_init(NULL, 0));
	memset(&c, 0, sizeof(c));
	EXPECT_EQ(-EINVAL, shmdev_cond_signal(&c));
	EXPECT_EQ(-EINVAL, shmdev_cond_broadcast(&c));
	EXPECT_EQ(-EINVAL, shmdev_cond_destroy(&c));
}

TEST_F(shared, cond_wait_without_holding_mutex_returns_eperm)
{
	struct shared *sh = self->sh;

	ASSERT_EQ(0, shmdev_mutex_init(&sh->mutex, 0));
	ASSERT_EQ(0, shmdev_cond_init(&sh->cond, 0));
	if (!TSAN_BUILD)
		EXPECT_EQ(-EPERM, shmdev_cond_wait(&sh->cond, &sh->mutex));
	EXPECT_EQ(-EINVAL, shmdev_cond_wait(&sh->cond, NULL));
}

TEST_F(shared, cond_timedwait_times_out_with_mutex_held)
{
	struct shared *sh = self->sh;
	struct timespec ts;
	int64_t t0;

	ASSERT_EQ(0, shmdev_mutex_init(&sh->mutex, 0));
	ASSERT_EQ(0, shmdev_cond_init(&sh->cond, 0));
	ASSERT_EQ(0, shmdev_mutex_lock(&sh->mutex));
	t0 = now_ns();
	ts = deadline_ms(50);
	EXPECT_EQ(-ETIMEDOUT, shmdev_cond_timedwait(&sh->cond, &sh->mutex,
						    &ts));
	EXPECT_GE(now_ns() - t0, 50 * 1000000LL);
	/* Still held by us. */
	EXPECT_EQ(-EDEADLK, shmdev_mutex_lock(&sh->mutex));
	EXPECT_EQ(0, shmdev_mutex_unlock(&sh->mutex));
}

/* Plays the turns arg (0 or 1) of a ping-pong of sh->iterations rounds. */
static int ping_pong(void *mem, void *arg)
{
	struct shared *sh = mem;
	int me = (int)(intptr_t)arg;
	long i;

	for (i = 0; i < sh->iterations; i++) {
		if (shmdev_mutex_lock(&sh->mutex))
			return 1;
		while (sh->turn != me)
			if (shmdev_cond_wait(&sh->cond, &sh->mutex))
				return 2;
		sh->counter++;
		sh->turn = !me;
		if (shmdev_cond_signal(&sh->cond))
			return 3;
		if (shmdev_mutex_unlock(&sh->mutex))
			return 4;
	}
	return 0;
}

/*
 * Every round is two wake-ups through the kernel: under emulation on a
 * busy host, or a PREEMPT_RT kernel, 20000 of them have taken more than
 * the harness's default 30 s. A lost wake-up still hangs until the
 * timeout.
 */
TEST_F_TIMEOUT(shared, cond_ping_pong_between_two_workers, 120)
{
	struct worker w[2];
	struct shared *sh = self->sh;
	long rounds = test_messages() / 50;
	int i;

	ASSERT_EQ(0, shmdev_mutex_init(&sh->mutex, 0));
	ASSERT_EQ(0, shmdev_cond_init(&sh->cond, 0));
	/* 20000 rounds, 2000 on the debug kernel (SHMDEV_TEST_MESSAGES). */
	sh->iterations = rounds > 1000 ? rounds : 1000;
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, worker_start(&w[i], &self->reg, ping_pong,
					  (void *)(intptr_t)i, false));
	for (i = 0; i < 2; i++)
		EXPECT_EQ(0, worker_join(&w[i]));
	EXPECT_EQ(2 * sh->iterations, sh->counter);
}

static int wait_for_go(void *mem, void *arg)
{
	struct shared *sh = mem;

	(void)arg;
	if (shmdev_mutex_lock(&sh->mutex))
		return 1;
	sh->waiting++;
	while (!sh->turn)
		if (shmdev_cond_wait(&sh->cond, &sh->mutex))
			return 2;
	sh->counter++;
	return shmdev_mutex_unlock(&sh->mutex) ? 3 : 0;
}

TEST_F(shared, cond_broadcast_wakes_every_waiter)
{
	struct worker w[NR_WORKERS];
	struct shared *sh = self->sh;
	int i, waiting;

	ASSERT_EQ(0, shmdev_mutex_init(&sh->mutex, 0));
	ASSERT_EQ(0, shmdev_cond_init(&sh->cond, 0));
	for (i = 0; i < NR_WORKERS; i++)
		ASSERT_EQ(0, worker_start(&w[i], &self->reg, wait_for_go, NULL,
					  false));
	do {
		usleep(1000);
		ASSERT_EQ(0, shmdev_mutex_lock(&sh->mutex));
		waiting = sh->waiting;
		ASSERT_EQ(0, shmdev_mutex_unlock(&sh->mutex));
	} while (waiting < NR_WORKERS);
	ASSERT_EQ(0, shmdev_mutex_lock(&sh->mutex));
	sh->turn = 1;
	EXPECT_EQ(0, shmdev_cond_broadcast(&sh->cond));
	ASSERT_EQ(0, shmdev_mutex_unlock(&sh->mutex));
	for (i = 0; i < NR_WORKERS; i++)
		EXPECT_EQ(0, worker_join(&w[i]));
	EXPECT_EQ(NR_WORKERS, sh->counter);
}

static int signal_then_die(void *mem, void *arg)
{
	struct shared *sh = mem;

	(void)arg;
	if (shmdev_mutex_lock(&sh->mutex))
		return 1;
	sh->turn = 1;
	if (shmdev_cond_signal(&sh->cond))
		return 2;
	usleep(20000);		/* the waiter blocks on the mutex meanwhile */
	raise(SIGKILL);		/* dies holding the mutex */
	return 3;
}

TEST_F(shared, cond_wait_returns_eownerdead_when_mutex_holder_died)
{
	struct worker w;
	struct shared *sh = self->sh;
	struct timespec ts;

	ASSERT_EQ(0, shmdev_mutex_init(&sh->mutex, 0));
	ASSERT_EQ(0, shmdev_cond_init(&sh->cond, 0));
	ASSERT_EQ(0, shmdev_mutex_lock(&sh->mutex));
	ASSERT_EQ(0, worker_start(&w, &self->reg, signal_then_die, NULL, true));
	ts = deadline_ms(10000);
	/* Can only come back once the worker died holding the mutex. */
	EXPECT_EQ(-EOWNERDEAD, shmdev_cond_timedwait(&sh->cond, &sh->mutex,
						     &ts));
	EXPECT_EQ(1, sh->turn);
	EXPECT_EQ(0, shmdev_mutex_consistent(&sh->mutex));
	EXPECT_EQ(0, shmdev_mutex_unlock(&sh->mutex));
	EXPECT_EQ(128 + SIGKILL, worker_join(&w));
}

TEST(sem_init_rejects_bad_arguments)
{
	struct shmdev_sem s;

	EXPECT_EQ(-EINVAL, shmdev_sem_init(&s, SHMDEV_SEM_VALUE_MAX + 1U, 0));
	EXPECT_EQ(-EINVAL, shmdev_sem_init(&s, 0, 1));
	EXPECT_EQ(-EINVAL, shmdev_sem_init(NULL, 0, 0));
	memset(&s, 0, sizeof(s));
	EXPECT_EQ(-EINVAL, shmdev_sem_post(&s));
	EXPECT_EQ(-EINVAL, shmdev_sem_wait(&s));
	EXPECT_EQ(-EINVAL, shmdev_sem_trywait(&s));
	EXPECT_EQ(-EINVAL, shmdev_sem_getvalue(&s));
	EXPECT_EQ(-EINVAL, shmdev_sem_destroy(&s));
}

TEST_F(shared, sem_counts_posts_and_waits)
{
	struct shared *sh = self->sh;
	int i;

	ASSERT_EQ(0, shmdev_sem_init(&sh->sem, 2, 0));
	EXPECT_EQ(2, shmdev_sem_getvalue(&sh->sem));
	for (i = 0; i < 3; i++)
		EXPECT_EQ(0, shmdev_sem_post(&sh->sem));
	EXPECT_EQ(5, shmdev_sem_getvalue(&sh->sem));
	for (i = 0; i < 4; i++)
		EXPECT_EQ(0, shmdev_sem_wait(&sh->sem));
	EXPECT_EQ(0, shmdev_sem_trywait(&sh->sem));
	EXPECT_EQ(-EAGAIN, shmdev_sem_trywait(&sh->sem));
	EXPECT_EQ(0, shmdev_sem_getvalue(&sh->sem));
	EXPECT_EQ(0, shmdev_sem_destroy(&sh->sem));
	EXPECT_EQ(-EINVAL, shmdev_sem_post(&sh->sem));
}

TEST_F(shared, sem_post_at_max_returns_eoverflow)
{
	struct shared *sh = self->sh;

	ASSERT_EQ(0, shmdev_sem_init(&sh->sem, SHMDEV_SEM_VALUE_MAX, 0));
	EXPECT_EQ(-EOVERFLOW, shmdev_sem_post(&sh->sem));
	EXPECT_EQ((int)SHMDEV_SEM_VALUE_MAX, shmdev_sem_getvalue(&sh->sem));
}

TEST_F(shared, sem_timedwait_times_out)
{
	struct shared *sh = self->sh;
	struct timespec ts;
	int64_t t0;

	ASSERT_EQ(0, shmdev_sem_init(&sh->sem, 0, 0));
	t0 = now_ns();
	ts = deadline_ms(50);
	EXPECT_EQ(-ETIMEDOUT, shmdev_sem_timedwait(&sh->sem, &ts));
	EXPECT_GE(now_ns() - t0, 50 * 1000000LL);
	ts.tv_nsec = 2000000000;
	EXPECT_EQ(-EINVAL, shmdev_sem_timedwait(&sh->sem, &ts));
}

static void on_alarm(int sig)
{
	(void)sig;
}

TEST_F(shared, sem_wait_interrupted_by_signal_returns_eintr)
{
	struct sigaction sa = { .sa_handler = on_alarm };	/* no SA_RESTART */
	struct itimerval it = { .it_value = { .tv_usec = 50000 } };
	struct shared *sh = self->sh;

	ASSERT_EQ(0, shmdev_sem_init(&sh->sem, 0, 0));
	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));
	ASSERT_EQ(0, setitimer(ITIMER_REAL, &it, NULL));
	EXPECT_EQ(-EINTR, shmdev_sem_wait(&sh->sem));
}

/* Posts or takes sh->iterations units, as arg says. */
static int sem_producer(void *mem, void *arg)
{
	struct shared *sh = mem;
	long i;

	(void)arg;
	for (i = 0; i < sh->iterations; i++)
		if (shmdev_sem_post(&sh->sem))
			return 1;
	return 0;
}

static int sem_consumer(void *mem, void *arg)
{
	struct shared *sh = mem;
	struct timespec ts;
	long i;

	(void)arg;
	for (i = 0; i < sh->iterations; i++) {
		if (i & 1) {
			if (shmdev_sem_wait(&sh->sem))
				return 1;
		} else {
			ts = deadline_ms(20000);
			if (shmdev_sem_timedwait(&sh->sem, &ts))
				return 2;
		}
	}
	return 0;
}

TEST_F(shared, sem_4_posters_4_waiters_balance_exactly)
{
	struct worker w[2 * NR_WORKERS];
	struct shared *sh = self->sh;
	int i;

	ASSERT_EQ(0, shmdev_sem_init(&sh->sem, 0, 0));
	sh->iterations = contention_iterations();
	for (i = 0; i < NR_WORKERS; i++) {
		ASSERT_EQ(0, worker_start(&w[2 * i], &self->reg, sem_consumer,
					  NULL, false));
		ASSERT_EQ(0, worker_start(&w[2 * i + 1], &self->reg,
					  sem_producer, NULL, false));
	}
	for (i = 0; i < 2 * NR_WORKERS; i++)
		EXPECT_EQ(0, worker_join(&w[i]));
	EXPECT_EQ(0, shmdev_sem_getvalue(&sh->sem));
	EXPECT_EQ(-EAGAIN, shmdev_sem_trywait(&sh->sem));
}

TEST_F(shared, sem_as_lock_4_workers_exact_count)
{
	struct shared *sh = self->sh;

	ASSERT_EQ(0, shmdev_sem_init(&sh->sem, 1, 0));
	count_with_workers(_metadata, &self->reg, &sem_lock_ops);
	EXPECT_EQ(1, shmdev_sem_getvalue(&sh->sem));
}

TEST_HARNESS_MAIN
