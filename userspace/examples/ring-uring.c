// SPDX-License-Identifier: GPL-2.0
/*
 * ring-uring: a message ring consumed by a loop that waits with io_uring.
 *
 * usage: ring-uring NAME [COUNT]
 *
 * Creates the segment NAME with a message ring in it and forks a producer,
 * which attaches the segment by name and sends COUNT (default 10000)
 * numbered messages in bursts. The parent reads them as ring-epoll does,
 * but waits for the ring's doorbell file (shmdev_ring_fd()) with io_uring:
 * one multishot IORING_OP_POLL_ADD, submitted once, completes every time
 * the producer rings, so that each wait is a single io_uring_enter(). A
 * program whose other I/O goes through io_uring waits for a ring this way
 * beside it. The ring is set up with the raw system calls (no liburing).
 *
 * Prints a summary, with how often io_uring woke it up, and removes the
 * segment. Exits with status 0 if every message arrived in order, 77 if
 * io_uring is not available (kernel too old or built without it,
 * kernel.io_uring_disabled, a seccomp filter) and 1 otherwise.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/io_uring.h>
#include <linux/time_types.h>

#include <libshmdev.h>

#include "ring-loop.h"
#include "ring-msg.h"

#define EXIT_SKIP	77	/* what test harnesses take for "skipped" */
#define URING_ENTRIES	8

/* An io_uring instance: its file and the three shared mappings. */
struct uring {
	int fd;
	void *sq_map, *cq_map;
	size_t sq_len, cq_len, sqes_len;
	struct io_uring_sqe *sqes;
	unsigned int *sq_tail, *sq_mask, *sq_array;
	unsigned int *cq_head, *cq_tail, *cq_mask;
	struct io_uring_cqe *cqes;
	unsigned int pending;		/* SQEs queued, not yet submitted */
};

static void uring_close(struct uring *u)
{
	if (u->sq_map && u->sq_map != MAP_FAILED)
		munmap(u->sq_map, u->sq_len);
	if (u->cq_map && u->cq_map != MAP_FAILED)
		munmap(u->cq_map, u->cq_len);
	if (u->sqes && u->sqes != MAP_FAILED)
		munmap(u->sqes, u->sqes_len);
	close(u->fd);
}

/* What lies @off bytes into a mapping of the rings. */
static void *at(void *map, uint32_t off)
{
	return (char *)map + off;
}

/* 0, or -errno: -ENOSYS or -EPERM where io_uring is off. */
static int uring_setup(struct uring *u)
{
	struct io_uring_params p;

	memset(&p, 0, sizeof(p));
	memset(u, 0, sizeof(*u));
	u->fd = (int)syscall(__NR_io_uring_setup, URING_ENTRIES, &p);
	if (u->fd < 0)
		return -errno;
	/* Timeouts of io_uring_enter() itself (Linux 5.11). */
	if (!(p.features & IORING_FEAT_EXT_ARG)) {
		close(u->fd);
		return -EOPNOTSUPP;
	}
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
	    u->sqes == MAP_FAILED) {
		uring_close(u);
		return -ENOMEM;
	}
	u->sq_tail = at(u->sq_map, p.sq_off.tail);
	u->sq_mask = at(u->sq_map, p.sq_off.ring_mask);
	u->sq_array = at(u->sq_map, p.sq_off.array);
	u->cq_head = at(u->cq_map, p.cq_off.head);
	u->cq_tail = at(u->cq_map, p.cq_off.tail);
	u->cq_mask = at(u->cq_map, p.cq_off.ring_mask);
	u->cqes = at(u->cq_map, p.cq_off.cqes);
	return 0;
}

/* Queues a multishot poll of @fd for POLLIN; the next wait submits it. */
static void uring_poll_multishot(struct uring *u, int fd)
{
	unsigned int tail = *u->sq_tail, idx = tail & *u->sq_mask;
	struct io_uring_sqe *sqe = &u->sqes[idx];

	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_POLL_ADD;
	sqe->fd = fd;
	sqe->poll32_events = POLLIN;
	sqe->len = IORING_POLL_ADD_MULTI;
	u->sq_array[idx] = idx;
	/* Release: the kernel sees the SQE before the new tail. */
	__atomic_store_n(u->sq_tail, tail + 1, __ATOMIC_RELEASE);
	u->pending++;
}

/*
 * Submits what is queued and waits at most @ms milliseconds for a
 * completion: 0 (completions or not: see uring_pop()) or -errno.
 */
static int uring_wait(struct uring *u, int ms)
{
	struct __kernel_timespec ts = {
		.tv_sec = ms / 1000,
		.tv_nsec = (ms % 1000) * 1000000LL,
	};
	struct io_uring_getevents_arg arg = { .ts = (uintptr_t)&ts };
	long ret;

	ret = syscall(__NR_io_uring_enter, u->fd, u->pending, 1,
		      IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, &arg,
		      sizeof(arg));
	if (ret < 0 && errno != ETIME && errno != EINTR)
		return -errno;
	if (ret > 0)
		u->pending -= (unsigned int)ret;
	return 0;
}

/* Takes the oldest completion into *@cqe: 1, or 0 if there is none. */
static int uring_pop(struct uring *u, struct io_uring_cqe *cqe)
{
	unsigned int head = *u->cq_head;

	/* Acquire: the CQE is there before the tail says so. */
	if (head == __atomic_load_n(u->cq_tail, __ATOMIC_ACQUIRE))
		return 0;
	*cqe = u->cqes[head & *u->cq_mask];
	__atomic_store_n(u->cq_head, head + 1, __ATOMIC_RELEASE);
	return 1;
}

int main(int argc, char **argv)
{
	uint64_t count, wakeups = 0, ticks = 0;
	struct io_uring_cqe cqe;
	struct loop_ring lr;
	struct uring u;
	int ret, got, hup = 0, rc = 1;
	const char *name;
	int64_t last;

	if (loop_parse_args(argc, argv, &name, &count))
		return 2;
	/* Line by line: several processes share the terminal or log. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (loop_check_doorbells("ring-uring"))
		return 1;

	/* First, before there is anything to clean up. */
	ret = uring_setup(&u);
	if (ret == -ENOSYS || ret == -EPERM || ret == -EOPNOTSUPP) {
		printf("ring-uring: skipped: %s\n", ret == -EOPNOTSUPP ?
		       "io_uring_enter() has no timeouts here (Linux < 5.11)" :
		       ret == -ENOSYS ? "no io_uring in this kernel" :
		       "io_uring is not allowed here (kernel.io_uring_disabled? seccomp?)");
		return EXIT_SKIP;
	}
	if (ret) {
		fprintf(stderr, "ring-uring: io_uring_setup: %s\n",
			strerror(-ret));
		return 1;
	}
	if (loop_ring_create(&lr, name, count)) {
		uring_close(&u);
		return 1;
	}
	if (loop_producer_start(&lr))
		goto out;
	printf("ring-uring: %s, %" PRIu64 " messages, waiting with io_uring\n",
	       name, count);

	/* Armed once: completes at every ring until it is cancelled. */
	uring_poll_multishot(&u, shmdev_ring_fd(&lr.ring));
	last = loop_now_ms();
	for (;;) {
		/* Everything there, then arm the doorbell: 0 is "wait". */
		ret = loop_ring_drain(&lr);
		if (ret < 0)
			goto out;
		if (ret > 0)
			break;
		/*
		 * Armed, yet the file hung up: the segment's name is gone
		 * and every other file bound to it too, so nobody can ring
		 * it any more.
		 */
		if (hup) {
			fprintf(stderr, "ring-uring: %s: removed, and nobody left to ring its doorbell\n",
				name);
			goto out;
		}
		ret = uring_wait(&u, LOOP_TICK_MS);
		if (ret) {
			fprintf(stderr, "ring-uring: io_uring_enter: %s\n",
				strerror(-ret));
			goto out;
		}
		got = 0;
		while (uring_pop(&u, &cqe)) {
			if (cqe.res == -EINVAL) {
				printf("ring-uring: skipped: io_uring has no multishot poll here (Linux < 5.13)\n");
				rc = EXIT_SKIP;
				goto out;
			}
			if (cqe.res < 0) {
				fprintf(stderr, "ring-uring: poll: %s\n",
					strerror(-cqe.res));
				goto out;
			}
			got++;
			hup |= cqe.res & POLLHUP;
			/* The kernel ended the multishot poll: arm another. */
			if (!(cqe.flags & IORING_CQE_F_MORE))
				uring_poll_multishot(&u,
						     shmdev_ring_fd(&lr.ring));
		}
		if (got) {
			wakeups++;
			last = loop_now_ms();
		} else if (loop_now_ms() - last >
			   RING_STALL_TIMEOUT_NS / 1000000) {
			fprintf(stderr, "ring-uring: nothing arrived for %lld s, giving up\n",
				RING_STALL_TIMEOUT_NS / 1000000000LL);
			goto out;
		} else {
			/*
			 * Quiet: the drain above asks the ring again whether
			 * its producer is gone (one that dies without
			 * detaching rings nobody).
			 */
			ticks++;
		}
	}
	printf("ring-uring: %s %" PRIu64 " messages, %" PRIu64 " bytes, all in order; %" PRIu64 " io_uring wakeups, %" PRIu64 " quiet ticks\n",
	       name, lr.next, lr.bytes, wakeups, ticks);
	rc = 0;
out:
	/* Removes the segment, and reaps (or kills) the producer. */
	if (loop_ring_finish(&lr) && rc != EXIT_SKIP)
		rc = 1;
	uring_close(&u);
	if (rc == 1)
		fprintf(stderr, "ring-uring: FAILED\n");
	return rc;
}
