// SPDX-License-Identifier: GPL-2.0
/*
 * Doorbells: SHMDEV_IOC_RING, SHMDEV_IOC_ACK and poll() on bound files.
 *
 * Counts as on an eventfd, per file: a file counts every ring from the
 * moment it is bound, acknowledging returns and resets the counts, and no
 * ring is lost or reported twice, also across processes and with several
 * ringers and waiters at once. Readiness through poll(), level- and
 * edge-triggered epoll and io_uring (single and multishot poll), the
 * watch set, read-only files (they wait, they do not ring), EPOLLHUP when
 * the name is gone and nobody else can ring, and bad input. Also ATTACH
 * with NEWFD and no name, which gives a waiter a file of its own on any
 * segment it has a file of, anonymous ones included.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/io_uring.h>

#include "shmdev_test_util.h"

#define ALL_BELLS		((1U << SHMDEV_NR_BELLS) - 1)
#define PINGPONG_ROUNDS		2000
#define WAIT_MS			10000	/* longest wait for a ring that came */
#define STRESS_RINGERS		4
#define STRESS_WAITERS		4
#define STRESS_SECS		2
#define STOP_BELL		7

static int ring_bell(int fd, uint32_t bell, uint32_t count)
{
	struct shmdev_bell arg = { .bell = bell, .count = count };

	return st_ioctl(fd, SHMDEV_IOC_RING, &arg);
}

/* Acknowledges @bells (0: the watched ones) and returns their counts. */
static int ack_bells(int fd, uint32_t bells, uint32_t flags,
		     uint64_t counts[SHMDEV_NR_BELLS])
{
	struct shmdev_ack arg = { .bells = bells, .flags = flags };
	int ret;

	ret = st_ioctl(fd, SHMDEV_IOC_ACK, &arg);
	if (!ret && counts)
		memcpy(counts, arg.counts, sizeof(arg.counts));
	return ret;
}

/* Sum of the counts of @bells, or -errno. */
static long long ack_sum(int fd, uint32_t bells)
{
	uint64_t counts[SHMDEV_NR_BELLS];
	long long sum = 0;
	int i, ret;

	ret = ack_bells(fd, bells, 0, counts);
	if (ret)
		return ret;
	for (i = 0; i < SHMDEV_NR_BELLS; i++)
		sum += counts[i];
	return sum;
}

/* poll() events of @fd for @events after at most @ms, 0 on timeout. */
static short poll_for(int fd, short events, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = events };

	if (poll(&pfd, 1, ms) < 0)
		return -1;
	return pfd.revents;
}

/* Waits at most @ms for @fd to become readable (or hang up). */
static short poll_events(int fd, int ms)
{
	return poll_for(fd, POLLIN, ms);
}

/* Everything @fd reports now, writability included. */
static short poll_all(int fd)
{
	return poll_for(fd, POLLIN | POLLOUT, 0);
}

static bool readable(int fd)
{
	return poll_events(fd, 0) & POLLIN;
}

FIXTURE(bell) {
	int fd;			/* bound read-write to the named segment */
	char name[SHMDEV_NAME_MAX];
};

FIXTURE_SETUP(bell)
{
	struct shmdev_version ver;

	self->fd = -1;
	page_size = sysconf(_SC_PAGESIZE);
	snprintf(self->name, sizeof(self->name), "bell-test.%d", getpid());
	if (access(SHMDEV_DEVICE_PATH, F_OK))
		SKIP(return, SHMDEV_DEVICE_PATH " not found: no module");
	self->fd = st_open();
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, st_version(self->fd, &ver));
	ASSERT_TRUE(ver.features & SHMDEV_FEAT_DOORBELL);
	ASSERT_EQ(0, st_create(self->fd, self->name, page_size, 0644, NULL));
}

FIXTURE_TEARDOWN(bell)
{
	int fd = st_open();

	if (fd >= 0) {
		st_unlink(fd, self->name);
		close(fd);
	}
	if (self->fd >= 0)
		close(self->fd);
}

/* A new file bound to the fixture's segment; read-only with @flags. */
static int attach_new(FIXTURE_DATA(bell) *self, uint32_t flags)
{
	int fd = st_open();

	if (fd < 0)
		return fd;
	if (st_attach(fd, self->name, flags, NULL, NULL)) {
		close(fd);
		return -1;
	}
	return fd;
}

TEST_F(bell, ring_makes_every_file_readable_until_acked)
{
	uint64_t counts[SHMDEV_NR_BELLS];
	int b = attach_new(self, 0);

	ASSERT_LE(0, b);
	EXPECT_FALSE(readable(self->fd));
	EXPECT_FALSE(readable(b));
	ASSERT_EQ(0, ring_bell(self->fd, 0, 3));
	ASSERT_EQ(0, ring_bell(self->fd, 0, 2));
	/* The ringer's own file counts its rings too. */
	EXPECT_TRUE(readable(self->fd));
	EXPECT_TRUE(readable(b));
	ASSERT_EQ(0, ack_bells(b, 0, 0, counts));
	EXPECT_EQ(5ULL, counts[0]);
	EXPECT_EQ(0ULL, counts[1]);
	EXPECT_FALSE(readable(b));
	/* Acknowledged once, reported once. */
	EXPECT_EQ(0, ack_sum(b, 0));
	/* The other file kept its own count. */
	EXPECT_EQ(5, ack_sum(self->fd, 0));
	close(b);
}

TEST_F(bell, file_counts_from_when_it_is_bound)
{
	int b;

	ASSERT_EQ(0, ring_bell(self->fd, 2, 7));
	b = attach_new(self, 0);
	ASSERT_LE(0, b);
	EXPECT_FALSE(readable(b));
	EXPECT_EQ(0, ack_sum(b, 0));
	ASSERT_EQ(0, ring_bell(self->fd, 2, 1));
	EXPECT_EQ(1, ack_sum(b, 0));
	close(b);
}

TEST_F(bell, ack_takes_only_the_bells_named)
{
	uint64_t counts[SHMDEV_NR_BELLS];

	ASSERT_EQ(0, ring_bell(self->fd, 1, 1));
	ASSERT_EQ(0, ring_bell(self->fd, 2, 4));
	ASSERT_EQ(0, ack_bells(self->fd, 1U << 1, 0, counts));
	EXPECT_EQ(1ULL, counts[1]);
	EXPECT_EQ(0ULL, counts[2]);
	/* Bell 2 is still pending. */
	EXPECT_TRUE(readable(self->fd));
	ASSERT_EQ(0, ack_bells(self->fd, ALL_BELLS, 0, counts));
	EXPECT_EQ(0ULL, counts[1]);
	EXPECT_EQ(4ULL, counts[2]);
	EXPECT_FALSE(readable(self->fd));
}

TEST_F(bell, watch_set_chooses_what_makes_the_file_readable)
{
	uint64_t counts[SHMDEV_NR_BELLS];
	int b = attach_new(self, 0);

	ASSERT_LE(0, b);
	ASSERT_EQ(0, ack_bells(b, 1U << 3, SHMDEV_ACK_WATCH, counts));
	ASSERT_EQ(0, ring_bell(self->fd, 0, 1));
	EXPECT_FALSE(readable(b));
	ASSERT_EQ(0, ring_bell(self->fd, 3, 1));
	EXPECT_TRUE(readable(b));
	/* bells = 0 acknowledges the watched ones only... */
	ASSERT_EQ(0, ack_bells(b, 0, 0, counts));
	EXPECT_EQ(0ULL, counts[0]);
	EXPECT_EQ(1ULL, counts[3]);
	EXPECT_FALSE(readable(b));
	/* ...and bell 0's ring was counted all the same. */
	ASSERT_EQ(0, ack_bells(b, 1U << 0, 0, counts));
	EXPECT_EQ(1ULL, counts[0]);
	/* An empty watch set is refused, the old one kept. */
	EXPECT_EQ(-EINVAL, ack_bells(b, 0, SHMDEV_ACK_WATCH, NULL));
	ASSERT_EQ(0, ring_bell(self->fd, 3, 1));
	EXPECT_TRUE(readable(b));
	close(b);
}

TEST_F(bell, read_only_file_waits_and_acks_but_does_not_ring)
{
	int ro = attach_new(self, SHMDEV_ATTACH_RDONLY);
	short ev;

	ASSERT_LE(0, ro);
	EXPECT_EQ(-EPERM, ring_bell(ro, 0, 1));
	ev = poll_all(ro);
	EXPECT_EQ(0, ev);
	/* A read-write file may always ring: it is writable. */
	EXPECT_EQ(POLLOUT, poll_all(self->fd));
	ASSERT_EQ(0, ring_bell(self->fd, 0, 1));
	ev = poll_all(ro);
	EXPECT_EQ(POLLIN, ev);
	EXPECT_EQ(1, ack_sum(ro, 0));
	EXPECT_FALSE(readable(ro));
	close(ro);
}

TEST_F(bell, read_only_device_file_cannot_ring)
{
	int ro = open(SHMDEV_DEVICE_PATH, O_RDONLY | O_CLOEXEC);

	ASSERT_LE(0, ro);
	ASSERT_EQ(0, st_attach(ro, self->name, SHMDEV_ATTACH_RDONLY, NULL,
			       NULL));
	EXPECT_EQ(-EBADF, ring_bell(ro, 0, 1));
	ASSERT_EQ(0, ring_bell(self->fd, 0, 1));
	EXPECT_EQ(1, ack_sum(ro, 0));
	close(ro);
}

TEST_F(bell, unbound_file_reports_error_and_enodev)
{
	int fd = st_open();

	ASSERT_LE(0, fd);
	EXPECT_EQ(POLLERR, poll_all(fd));
	EXPECT_EQ(-ENODEV, ring_bell(fd, 0, 1));
	EXPECT_EQ(-ENODEV, ack_bells(fd, 0, 0, NULL));
	close(fd);
}

TEST_F(bell, bad_ring_arguments_einval)
{
	struct shmdev_bell arg;

	EXPECT_EQ(-EINVAL, ring_bell(self->fd, SHMDEV_NR_BELLS, 1));
	EXPECT_EQ(-EINVAL, ring_bell(self->fd, UINT32_MAX, 1));
	EXPECT_EQ(-EINVAL, ring_bell(self->fd, 0, 0));
	memset(&arg, 0, sizeof(arg));
	arg.count = 1;
	arg.flags = 1;
	EXPECT_EQ(-EINVAL, st_ioctl(self->fd, SHMDEV_IOC_RING, &arg));
	arg.flags = 0;
	arg.pad = 1;
	EXPECT_EQ(-EINVAL, st_ioctl(self->fd, SHMDEV_IOC_RING, &arg));
	arg.pad = 0;
	arg.reserved[1] = 1;
	EXPECT_EQ(-EINVAL, st_ioctl(self->fd, SHMDEV_IOC_RING, &arg));
	EXPECT_EQ(-EFAULT, st_ioctl(self->fd, SHMDEV_IOC_RING, NULL));
	/* Nothing was rung by any of them. */
	EXPECT_FALSE(readable(self->fd));
	EXPECT_EQ(0, ack_sum(self->fd, ALL_BELLS));
}

TEST_F(bell, bad_ack_arguments_einval)
{
	struct shmdev_ack arg;

	ASSERT_EQ(0, ring_bell(self->fd, 0, 1));
	EXPECT_EQ(-EINVAL, ack_bells(self->fd, 1U << SHMDEV_NR_BELLS, 0,
				     NULL));
	EXPECT_EQ(-EINVAL, ack_bells(self->fd, 1, 1U << 1, NULL));
	memset(&arg, 0, sizeof(arg));
	arg.reserved[0] = 1;
	EXPECT_EQ(-EINVAL, st_ioctl(self->fd, SHMDEV_IOC_ACK, &arg));
	EXPECT_EQ(-EFAULT, st_ioctl(self->fd, SHMDEV_IOC_ACK, NULL));
	/* The refused calls consumed nothing. */
	EXPECT_TRUE(readable(self->fd));
	EXPECT_EQ(1, ack_sum(self->fd, 0));
}

TEST_F(bell, hangup_when_name_gone_and_no_other_file)
{
	int b = attach_new(self, SHMDEV_ATTACH_RDONLY);
	int fd = st_open();

	ASSERT_LE(0, b);
	ASSERT_LE(0, fd);
	EXPECT_FALSE(poll_events(b, 0) & POLLHUP);
	ASSERT_EQ(0, st_unlink(fd, self->name));
	/* The creator's file can still ring. */
	EXPECT_FALSE(poll_events(b, 0) & POLLHUP);
	ASSERT_EQ(0, ring_bell(self->fd, 0, 1));
	close(self->fd);
	self->fd = -1;
	/* Nobody is left to ring, but what was rung is still there. */
	EXPECT_EQ(POLLIN | POLLHUP, poll_events(b, 0));
	EXPECT_EQ(1, ack_sum(b, 0));
	EXPECT_EQ(POLLHUP, poll_events(b, 0));
	close(b);
	close(fd);
}

TEST_F(bell, hangup_wakes_a_sleeping_poller)
{
	int b = attach_new(self, SHMDEV_ATTACH_RDONLY);
	pid_t pid;

	ASSERT_LE(0, b);
	ASSERT_EQ(0, st_unlink(b, self->name));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(self->fd);
		/* Only b is left once the parent closes its copy. */
		CHILD_CHECK_EQ(POLLHUP, poll_events(b, WAIT_MS));
		_exit(0);
	}
	close(b);
	usleep(100000);
	close(self->fd);
	self->fd = -1;
	EXPECT_EQ(0, wait_child(pid));
}

TEST_F(bell, anonymous_segment_never_hangs_up)
{
	int fd = st_open();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, st_create(fd, "", page_size, 0600, NULL));
	EXPECT_EQ(POLLOUT, poll_all(fd));
	ASSERT_EQ(0, ring_bell(fd, 5, 1));
	EXPECT_EQ(POLLIN | POLLOUT, poll_all(fd));
	close(fd);
}

TEST_F(bell, ring_wakes_a_poller_in_another_process)
{
	int b = attach_new(self, SHMDEV_ATTACH_RDONLY);
	pid_t pid;

	ASSERT_LE(0, b);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		CHILD_CHECK_EQ(POLLIN, poll_events(b, WAIT_MS));
		CHILD_CHECK_EQ(1, ack_sum(b, 0));
		_exit(0);
	}
	usleep(100000);
	ASSERT_EQ(0, ring_bell(self->fd, 0, 1));
	EXPECT_EQ(0, wait_child(pid));
	/* The child acknowledged through the file it shares with us. */
	EXPECT_EQ(0, ack_sum(b, 0));
	close(b);
}

TEST_F(bell, epoll_level_triggered_reports_until_acked)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int ep = epoll_create1(EPOLL_CLOEXEC);
	int b = attach_new(self, 0);

	ASSERT_LE(0, ep);
	ASSERT_LE(0, b);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, b, &ev));
	EXPECT_EQ(0, epoll_wait(ep, &ev, 1, 0));
	ASSERT_EQ(0, ring_bell(self->fd, 0, 1));
	EXPECT_EQ(1, epoll_wait(ep, &ev, 1, 0));
	EXPECT_EQ(1, epoll_wait(ep, &ev, 1, 0));
	EXPECT_EQ((uint32_t)EPOLLIN, ev.events);
	EXPECT_EQ(1, ack_sum(b, 0));
	EXPECT_EQ(0, epoll_wait(ep, &ev, 1, 0));
	close(b);
	close(ep);
}

TEST_F(bell, epoll_edge_triggered_reports_each_ring_once)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET };
	int ep = epoll_create1(EPOLL_CLOEXEC);
	int b = attach_new(self, 0);

	ASSERT_LE(0, ep);
	ASSERT_LE(0, b);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, b, &ev));
	ASSERT_EQ(0, ring_bell(self->fd, 0, 1));
	EXPECT_EQ(1, epoll_wait(ep, &ev, 1, 0));
	/* Not acknowledged, but no new ring: no new edge. */
	EXPECT_EQ(0, epoll_wait(ep, &ev, 1, 0));
	ASSERT_EQ(0, ring_bell(self->fd, 0, 1));
	EXPECT_EQ(1, epoll_wait(ep, &ev, 1, 0));
	EXPECT_EQ(2, ack_sum(b, 0));
	/* A ring of a bell the file does not watch makes no edge. */
	ASSERT_EQ(0, ack_bells(b, 1U << 1, SHMDEV_ACK_WATCH, NULL));
	ASSERT_EQ(0, ring_bell(self->fd, 0, 1));
	EXPECT_EQ(0, epoll_wait(ep, &ev, 1, 0));
	ASSERT_EQ(0, ring_bell(self->fd, 1, 1));
	EXPECT_EQ(1, epoll_wait(ep, &ev, 1, 0));
	close(b);
	close(ep);
}

/* io_uring, through the raw system calls */

struct uring {
	int fd;
	void *sq_map, *cq_map;
	size_t sq_len, cq_len;
	struct io_uring_sqe *sqes;
	size_t sqes_len;
	unsigned int *sq_tail, *sq_mask, *sq_array;
	unsigned int *cq_head, *cq_tail, *cq_mask;
	struct io_uring_cqe *cqes;
};

/* 0, or -errno (-ENOSYS, -EPERM where io_uring is off). */
static int uring_setup(struct uring *u)
{
	struct io_uring_params p;

	memset(&p, 0, sizeof(p));
	memset(u, 0, sizeof(*u));
	u->fd = syscall(__NR_io_uring_setup, 8, &p);
	if (u->fd < 0)
		return -errno;
	u->sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned int);
	u->cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	u->sqes_len = p.sq_entries * sizeof(struct io_uring_sqe);
	u->sq_map = mmap(NULL, u->sq_len, PROT_READ | PROT_WRITE, MAP_SHARED,
			 u->fd, IORING_OFF_SQ_RING);
	u->cq_map = mmap(NULL, u->cq_len, PROT_READ | PROT_WRITE, MAP_SHARED,
			 u->fd, IORING_OFF_CQ_RING);
	u->sqes = mmap(NULL, u->sqes_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		       u->fd, IORING_OFF_SQES);
	if (u->sq_map == MAP_FAILED || u->cq_map == MAP_FAILED ||
	    u->sqes == MAP_FAILED)
		return -ENOMEM;
	u->sq_tail = (unsigned int *)((char *)u->sq_map + p.sq_off.tail);
	u->sq_mask = (unsigned int *)((char *)u->sq_map + p.sq_off.ring_mask);
	u->sq_array = (unsigned int *)((char *)u->sq_map + p.sq_off.array);
	u->cq_head = (unsigned int *)((char *)u->cq_map + p.cq_off.head);
	u->cq_tail = (unsigned int *)((char *)u->cq_map + p.cq_off.tail);
	u->cq_mask = (unsigned int *)((char *)u->cq_map + p.cq_off.ring_mask);
	u->cqes = (struct io_uring_cqe *)((char *)u->cq_map + p.cq_off.cqes);
	return 0;
}

static void uring_close(struct uring *u)
{
	munmap(u->sq_map, u->sq_len);
	munmap(u->cq_map, u->cq_len);
	munmap(u->sqes, u->sqes_len);
	close(u->fd);
}

/* Submits a poll of @fd for POLLIN; multishot with IORING_POLL_ADD_MULTI. */
static int uring_poll_add(struct uring *u, int fd, uint32_t len)
{
	unsigned int tail = *u->sq_tail, idx = tail & *u->sq_mask;
	struct io_uring_sqe *sqe = &u->sqes[idx];

	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_POLL_ADD;
	sqe->fd = fd;
	sqe->poll32_events = POLLIN;
	sqe->len = len;
	sqe->user_data = 42;
	u->sq_array[idx] = idx;
	__atomic_store_n(u->sq_tail, tail + 1, __ATOMIC_RELEASE);
	if (syscall(__NR_io_uring_enter, u->fd, 1, 0, 0, NULL, 0) != 1)
		return -errno;
	return 0;
}

/* Waits for @min completions at most until none come; returns the count. */
static int uring_wait(struct uring *u, unsigned int min)
{
	if (min && syscall(__NR_io_uring_enter, u->fd, 0, min,
			   IORING_ENTER_GETEVENTS, NULL, 0) < 0)
		return -errno;
	return __atomic_load_n(u->cq_tail, __ATOMIC_ACQUIRE) - *u->cq_head;
}

/* Takes the oldest completion. */
static struct io_uring_cqe uring_pop(struct uring *u)
{
	unsigned int head = *u->cq_head;
	struct io_uring_cqe cqe = u->cqes[head & *u->cq_mask];

	__atomic_store_n(u->cq_head, head + 1, __ATOMIC_RELEASE);
	return cqe;
}

#define URING_OR_SKIP(u) do {						\
	int __ret = uring_setup(u);					\
									\
	if (__ret == -ENOSYS || __ret == -EPERM)			\
		SKIP(return, "io_uring is not available: %s",		\
		     strerror(-__ret));					\
	ASSERT_EQ(0, __ret);						\
} while (0)

/* A child rings @fd's bell 0 after 100 ms. */
static pid_t ring_later(int fd)
{
	pid_t pid = fork();

	if (pid == 0) {
		usleep(100000);
		CHILD_CHECK_EQ(0, ring_bell(fd, 0, 1));
		_exit(0);
	}
	return pid;
}

TEST_F(bell, io_uring_poll_add_completes_on_ring)
{
	struct io_uring_cqe cqe;
	struct uring u;
	int b = attach_new(self, SHMDEV_ATTACH_RDONLY);
	pid_t pid;

	ASSERT_LE(0, b);
	URING_OR_SKIP(&u);
	ASSERT_EQ(0, uring_poll_add(&u, b, 0));
	usleep(50000);
	EXPECT_EQ(0, uring_wait(&u, 0));
	pid = ring_later(self->fd);
	ASSERT_LE(0, pid);
	ASSERT_EQ(1, uring_wait(&u, 1));
	cqe = uring_pop(&u);
	EXPECT_EQ(42ULL, cqe.user_data);
	EXPECT_EQ(POLLIN, cqe.res & POLLIN);
	EXPECT_EQ(0, wait_child(pid));
	EXPECT_EQ(1, ack_sum(b, 0));
	uring_close(&u);
	close(b);
}

TEST_F(bell, io_uring_multishot_poll_completes_per_ring)
{
	struct io_uring_cqe cqe;
	struct uring u;
	int b = attach_new(self, SHMDEV_ATTACH_RDONLY);
	int i;

	ASSERT_LE(0, b);
	URING_OR_SKIP(&u);
	ASSERT_EQ(0, uring_poll_add(&u, b, IORING_POLL_ADD_MULTI));
	for (i = 0; i < 3; i++) {
		pid_t pid = ring_later(self->fd);

		ASSERT_LE(0, pid);
		ASSERT_EQ(1, uring_wait(&u, 1));
		cqe = uring_pop(&u);
		EXPECT_EQ(POLLIN, cqe.res & POLLIN);
		/* Still armed. */
		EXPECT_TRUE(cqe.flags & IORING_CQE_F_MORE);
		EXPECT_EQ(0, wait_child(pid));
		EXPECT_EQ(1, ack_sum(b, 0));
	}
	uring_close(&u);
	close(b);
}

/* Ping-pong: a ring lost anywhere leaves one side waiting WAIT_MS. */
TEST_F(bell, ping_pong_between_processes_loses_no_ring)
{
	int a = attach_new(self, 0), b = attach_new(self, 0);
	int i, lost = 0;
	pid_t pid;

	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	ASSERT_EQ(0, ack_bells(a, 1U << 1, SHMDEV_ACK_WATCH, NULL));
	ASSERT_EQ(0, ack_bells(b, 1U << 0, SHMDEV_ACK_WATCH, NULL));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		for (i = 0; i < PINGPONG_ROUNDS; i++) {
			CHILD_CHECK(poll_events(b, WAIT_MS) & POLLIN);
			CHILD_CHECK_EQ(1, ack_sum(b, 0));
			CHILD_CHECK_EQ(0, ring_bell(b, 1, 1));
		}
		_exit(0);
	}
	for (i = 0; i < PINGPONG_ROUNDS && !lost; i++) {
		ASSERT_EQ(0, ring_bell(a, 0, 1));
		if (!(poll_events(a, WAIT_MS) & POLLIN))
			lost = i + 1;
		else
			EXPECT_EQ(1, ack_sum(a, 0));
	}
	EXPECT_EQ(0, lost);
	if (lost)
		kill(pid, SIGKILL);
	EXPECT_EQ(lost ? 128 + SIGKILL : 0, wait_child(pid));
	close(a);
	close(b);
}

/*
 * Shared by the stress test's processes, in a shared anonymous mapping.
 * Each counter has one writer: no 64-bit atomics, which a 32-bit build
 * would make lock cmpxchg8b loops.
 */
struct stress {
	int64_t rung[STRESS_RINGERS];	/* rings of bell 0, per ringer */
	int64_t seen[STRESS_WAITERS];	/* what each waiter acknowledged */
	int32_t wakeups[STRESS_WAITERS];
	int32_t timeouts;
	int32_t ready;			/* waiters bound */
};

static int stress_ringer(FIXTURE_DATA(bell) *self, struct stress *st,
			 int i)
{
	uint32_t seed = 0x1234567 + i;
	double end = st_now_secs() + STRESS_SECS;
	int fd = attach_new(self, 0);

	if (fd < 0)
		return 1;
	while (st_now_secs() < end) {
		uint32_t n = rnd(&seed) % 3 + 1;

		if (ring_bell(fd, 0, n))
			return 1;
		st->rung[i] += n;
		if (!(rnd(&seed) % 8))
			usleep(rnd(&seed) % 200);
	}
	return 0;
}

static int stress_waiter(FIXTURE_DATA(bell) *self, struct stress *st,
			 int i)
{
	int fd = attach_new(self, SHMDEV_ATTACH_RDONLY);
	uint64_t counts[SHMDEV_NR_BELLS];
	bool stop = false;

	if (fd < 0)
		return 1;
	__atomic_fetch_add(&st->ready, 1, __ATOMIC_SEQ_CST);
	while (!stop) {
		short ev = poll_events(fd, WAIT_MS);

		if (!(ev & POLLIN)) {
			__atomic_fetch_add(&st->timeouts, 1, __ATOMIC_SEQ_CST);
			return 1;
		}
		st->wakeups[i]++;
		if (ack_bells(fd, 0, 0, counts))
			return 1;
		st->seen[i] += counts[0];
		stop = counts[STOP_BELL];
	}
	/* Rings made before the stop bell and not yet acknowledged. */
	if (ack_bells(fd, 1U << 0, 0, counts))
		return 1;
	st->seen[i] += counts[0];
	return 0;
}

TEST_F(bell, ringers_and_waiters_count_every_ring_once)
{
	struct stress *st = mmap(NULL, sizeof(*st), PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_t ringers[STRESS_RINGERS], waiters[STRESS_WAITERS];
	long long rung = 0;
	int i;

	ASSERT_NE(MAP_FAILED, st);
	for (i = 0; i < STRESS_WAITERS; i++) {
		waiters[i] = fork();
		ASSERT_LE(0, waiters[i]);
		if (waiters[i] == 0)
			_exit(stress_waiter(self, st, i));
	}
	/* The waiters bind before the first ring. */
	for (i = 0; i < 1000 && __atomic_load_n(&st->ready, __ATOMIC_SEQ_CST) <
				STRESS_WAITERS; i++)
		usleep(10000);
	ASSERT_EQ(STRESS_WAITERS, st->ready);
	for (i = 0; i < STRESS_RINGERS; i++) {
		ringers[i] = fork();
		ASSERT_LE(0, ringers[i]);
		if (ringers[i] == 0)
			_exit(stress_ringer(self, st, i));
	}
	for (i = 0; i < STRESS_RINGERS; i++)
		EXPECT_EQ(0, wait_child(ringers[i]));
	ASSERT_EQ(0, ring_bell(self->fd, STOP_BELL, 1));
	for (i = 0; i < STRESS_WAITERS; i++)
		EXPECT_EQ(0, wait_child(waiters[i]));
	EXPECT_EQ(0, st->timeouts);
	for (i = 0; i < STRESS_RINGERS; i++)
		rung += st->rung[i];
	EXPECT_LT(0, rung);
	for (i = 0; i < STRESS_WAITERS; i++) {
		EXPECT_EQ(rung, st->seen[i]);
		TH_LOG("waiter %d: %d wakeups for %lld rings", i,
		       st->wakeups[i], rung);
	}
	munmap(st, sizeof(*st));
}

/* Two threads acknowledging through one file. */
struct shared_ack {
	int fd;
	bool done;		/* atomic: release after the last ring */
	long long sum[2];	/* per thread */
	int errors;
};

struct acker {
	struct shared_ack *sa;
	int i;
};

static void *shared_acker(void *arg)
{
	struct shared_ack *sa = ((struct acker *)arg)->sa;
	long long sum = 0, n;

	for (;;) {
		/* Seen true: every ring is in, for the ack that follows. */
		bool done = __atomic_load_n(&sa->done, __ATOMIC_ACQUIRE);

		n = ack_sum(sa->fd, 1U << 0);
		if (n < 0)
			__atomic_fetch_add(&sa->errors, 1, __ATOMIC_SEQ_CST);
		else
			sum += n;
		if (done)
			break;
	}
	sa->sum[((struct acker *)arg)->i] = sum;
	return NULL;
}

TEST_F(bell, threads_acking_one_file_never_share_a_ring)
{
	struct shared_ack sa = { .fd = attach_new(self, 0) };
	struct acker ackers[2] = { { &sa, 0 }, { &sa, 1 } };
	double end = st_now_secs() + 1;
	pthread_t t[2];
	long long rung = 0;
	int i;

	ASSERT_LE(0, sa.fd);
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, shared_acker,
					    &ackers[i]));
	while (st_now_secs() < end) {
		ASSERT_EQ(0, ring_bell(self->fd, 0, 1));
		rung++;
	}
	__atomic_store_n(&sa.done, true, __ATOMIC_RELEASE);
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	EXPECT_EQ(0, sa.errors);
	EXPECT_EQ(rung, sa.sum[0] + sa.sum[1]);
	close(sa.fd);
}

/* Re-attach: ATTACH with NEWFD and no name, on a bound file */

/* A new file on @fd's segment; its descriptor or -errno. */
static int reattach(int fd, uint32_t flags)
{
	struct shmdev_attach arg = { .flags = flags | SHMDEV_ATTACH_NEWFD };
	int ret = ioctl(fd, SHMDEV_IOC_ATTACH, &arg);

	return ret < 0 ? -errno : ret;
}

TEST_F(bell, reattach_anonymous_gives_a_file_with_its_own_counts)
{
	struct shmdev_info a_info, b_info;
	int a = st_open(), b;
	uint8_t *pa, *pb;

	ASSERT_LE(0, a);
	ASSERT_EQ(0, st_create(a, "", page_size, 0600, NULL));
	b = reattach(a, 0);
	ASSERT_LE(0, b);
	ASSERT_EQ(0, st_info(a, &a_info));
	ASSERT_EQ(0, st_info(b, &b_info));
	EXPECT_EQ(a_info.id, b_info.id);
	EXPECT_EQ(2U, b_info.nr_files);
	EXPECT_TRUE(b_info.flags & SHMDEV_INFO_ANON);
	EXPECT_FALSE(b_info.flags & SHMDEV_INFO_RDONLY);
	EXPECT_EQ(FD_CLOEXEC, fcntl(b, F_GETFD) & FD_CLOEXEC);
	/* The same pages... */
	pa = mmap(NULL, page_size, PROT_READ | PROT_WRITE, MAP_SHARED, a, 0);
	pb = mmap(NULL, page_size, PROT_READ, MAP_SHARED, b, 0);
	ASSERT_NE(MAP_FAILED, pa);
	ASSERT_NE(MAP_FAILED, pb);
	pa[7] = 0x5a;
	EXPECT_EQ(0x5a, pb[7]);
	/* ...and counts of its own. */
	ASSERT_EQ(0, ring_bell(b, 4, 2));
	EXPECT_EQ(2, ack_sum(b, 0));
	EXPECT_TRUE(readable(a));
	EXPECT_EQ(2, ack_sum(a, 0));
	munmap(pa, page_size);
	munmap(pb, page_size);
	close(b);
	ASSERT_EQ(0, st_info(a, &a_info));
	EXPECT_EQ(1U, a_info.nr_files);
	close(a);
}

TEST_F(bell, reattach_never_adds_access)
{
	int ro = attach_new(self, SHMDEV_ATTACH_RDONLY), fd;
	struct shmdev_info info;

	ASSERT_LE(0, ro);
	EXPECT_EQ(-EACCES, reattach(ro, 0));
	fd = reattach(ro, SHMDEV_ATTACH_RDONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, st_info(fd, &info));
	EXPECT_TRUE(info.flags & SHMDEV_INFO_RDONLY);
	EXPECT_EQ(-EPERM, ring_bell(fd, 0, 1));
	close(fd);
	/* A read-only file from a read-write one. */
	fd = reattach(self->fd, SHMDEV_ATTACH_RDONLY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, st_info(fd, &info));
	EXPECT_TRUE(info.flags & SHMDEV_INFO_RDONLY);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, page_size, PROT_READ | PROT_WRITE,
				   MAP_SHARED, fd, 0));
	close(fd);
	close(ro);
}

TEST_F(bell, reattach_works_after_unlink)
{
	int fd, dev = st_open();
	struct shmdev_info info;

	ASSERT_LE(0, dev);
	ASSERT_EQ(0, st_unlink(dev, self->name));
	fd = reattach(self->fd, 0);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, st_info(fd, &info));
	EXPECT_TRUE(info.flags & SHMDEV_INFO_UNLINKED);
	close(fd);
	close(dev);
}

TEST_F(bell, reattach_bad_input)
{
	struct shmdev_attach arg;
	int fd = st_open();

	ASSERT_LE(0, fd);
	/* Unbound: no segment to attach again. */
	EXPECT_EQ(-ENODEV, reattach(fd, 0));
	/* Without NEWFD an empty name is still no name. */
	memset(&arg, 0, sizeof(arg));
	EXPECT_EQ(-EINVAL, st_ioctl(self->fd, SHMDEV_IOC_ATTACH, &arg));
	EXPECT_EQ(-EINVAL, st_ioctl(fd, SHMDEV_IOC_ATTACH, &arg));
	arg.flags = SHMDEV_ATTACH_NEWFD | (1U << 31);
	EXPECT_EQ(-EINVAL, st_ioctl(self->fd, SHMDEV_IOC_ATTACH, &arg));
	arg.flags = SHMDEV_ATTACH_NEWFD;
	arg.reserved[0] = 1;
	EXPECT_EQ(-EINVAL, st_ioctl(self->fd, SHMDEV_IOC_ATTACH, &arg));
	close(fd);
	/* A read-only device file makes read-only files only. */
	fd = open(SHMDEV_DEVICE_PATH, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, st_attach(fd, self->name, SHMDEV_ATTACH_RDONLY, NULL,
			       NULL));
	EXPECT_EQ(-EBADF, reattach(fd, 0));
	close(fd);
}

TEST_HARNESS_MAIN
