/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What ring-epoll and ring-uring share: a message ring in a named segment
 * that an event loop consumes, waiting on the segment's doorbell, and a
 * forked producer that streams numbered messages into it (the messages of
 * ring-msg.h, checked one by one).
 *
 * The consumer's side of a ring, as an event loop sees it:
 *
 *	loop_ring_create()	segment, ring, a doorbell on the creating file
 *	loop_producer_start()	the producer, a child that attaches by name
 *	shmdev_ring_fd()	what to wait on (readable: the doorbell rang)
 *	loop_ring_drain()	every message there, then arm the doorbell
 *	loop_ring_finish()	the producer's exit status, the segment gone
 */
#ifndef RING_LOOP_H
#define RING_LOOP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <libshmdev.h>

/* Messages per ring when COUNT is not given. */
#define LOOP_DEFAULT_COUNT	10000
/*
 * The doorbell every ring's processes pass to shmdev_ring_set_doorbell():
 * consumers wait on it, producers on the next one. Each ring has a
 * segment of its own, so all of them use the same number.
 */
#define LOOP_BELL		0
/*
 * A producer pauses LOOP_PAUSE_US after every LOOP_BURST messages, as a
 * real one would between bursts of work, so that the consumer empties the
 * ring and goes to sleep in its event loop.
 */
#define LOOP_BURST		64
#define LOOP_PAUSE_US		1000
/*
 * The event loop's longest sleep, and how often it asks the rings again
 * (shmdev_ring_poll_prepare()) whether their producers are gone. One that
 * detaches rings the doorbell and is seen gone at once; one that dies
 * without detaching rings nobody, and prepare notices it within
 * SHMDEV_RING_LIVENESS_MS of looking again.
 */
#define LOOP_TICK_MS		SHMDEV_RING_LIVENESS_MS

/* The consumer's side of one ring. */
struct loop_ring {
	char name[SHMDEV_NAME_MAX];
	struct shmdev_ring ring;
	void *mem;
	size_t len;
	int fd;			/* bound to the segment: the doorbell */
	pid_t producer;		/* the child, or 0 */
	uint64_t count;		/* messages expected */
	uint64_t next;		/* sequence number of the next message */
	uint64_t bytes;
	uint64_t wakeups;	/* times its doorbell woke the loop */
	bool done;		/* all messages in, the producer gone */
};

/*
 * The command line of both, NAME [COUNT]: 0, or -1 after printing the
 * usage. COUNT defaults to LOOP_DEFAULT_COUNT.
 */
int loop_parse_args(int argc, char **argv, const char **name,
		    uint64_t *count);

/* 0 if the module has doorbells; -1 (having said why) if not. */
int loop_check_doorbells(const char *prog);

/*
 * Creates segment @name with a ring for @count messages in it, and the
 * consumer's handle on it, waiting on doorbell LOOP_BELL through the file
 * that created it. 0, or -1 having printed why.
 */
int loop_ring_create(struct loop_ring *lr, const char *name, uint64_t count);

/* Forks the ring's producer. 0, or -1 having printed why. */
int loop_producer_start(struct loop_ring *lr);

/*
 * Receives and checks every message in the ring (non-blocking, in place),
 * then arms the doorbell (shmdev_ring_poll_prepare()), again and again
 * while messages keep coming. Returns 0 when the caller should wait for
 * the ring's file to become readable, 1 when the ring is done (sets
 * ->done: everything arrived and the producer detached or exited), and -1
 * having printed why for a bad message, a producer that went away too
 * early or an error.
 */
int loop_ring_drain(struct loop_ring *lr);

/*
 * Detaches and unmaps the ring, removes the segment, and waits for the
 * producer, killing it first if the ring is not done. 0 if the producer
 * exited with status 0, -1 (having printed why) if not.
 */
int loop_ring_finish(struct loop_ring *lr);

/* Milliseconds on the monotonic clock. */
int64_t loop_now_ms(void);

#endif /* RING_LOOP_H */
