/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * libshmdev: message rings that live entirely in shared memory.
 *
 * A ring is a region of shared memory (a shmdev segment, a memfd, any
 * MAP_SHARED mapping) formatted by shmdev_ring_init(): a header of
 * SHMDEV_RING_HDR_SIZE bytes followed by a data area. Every process that
 * maps the region, at any address, calls shmdev_ring_attach() to check the
 * header and fill in its own struct shmdev_ring; the region holds offsets
 * and counters, never pointers.
 *
 * Two kinds, chosen at shmdev_ring_init():
 *  - single producer, single consumer (the default): a byte ring of
 *    variable-size records, 8-byte aligned, of up to msg_max bytes each;
 *  - multi-producer, multi-consumer (SHMDEV_RING_MPMC): a ring of slots
 *    that each hold one message of up to msg_max bytes.
 * Both are lock-free on the fast path and sleep on futexes (after a short
 * spin) only when the ring is full or empty; a side that never sleeps
 * never makes a system call.
 *
 * Messages leave the ring in the order in which they were reserved.
 * Zero-copy: shmdev_ring_reserve() and shmdev_ring_commit() (or
 * shmdev_ring_abort()) write a message in place, shmdev_ring_peek() and
 * shmdev_ring_release() read one in place; shmdev_ring_send() and
 * shmdev_ring_recv() copy.
 *
 * Peers: the first producing call of a process records its PID in the
 * ring's producer table, the first consuming call in the consumer table
 * (a SPSC ring has one entry each and refuses a second live process with
 * -EBUSY). A call that would block returns -EPIPE once every process that
 * ever registered on the other side has exited or detached; a sleeper
 * checks that at least every SHMDEV_RING_LIVENESS_MS milliseconds, so a
 * dead peer never leaves it blocked. All users of a ring must share a PID
 * namespace.
 *
 * Timeouts are relative, in nanoseconds: a negative value waits without
 * limit, 0 never waits (-EAGAIN instead), a positive value waits at most
 * that long (-ETIMEDOUT). Waiting calls return -EINTR when a signal
 * handler interrupts them.
 *
 * Event loops: a ring in a shmdev segment can wake its waiters through the
 * segment's doorbells (see linux/shmdev.h) as well as through its futexes, so
 * that a process waits for it with poll(), epoll or io_uring beside its other
 * descriptors, with no thread and no other channel. Every process of the ring
 * calls shmdev_ring_set_doorbell() with a file bound read-write to the segment
 * and the same doorbell number: consumers wait on that doorbell, producers on
 * the next one. A waiter calls the non-blocking operation (timeout 0) until it
 * returns -EAGAIN, then shmdev_ring_poll_prepare(), and waits for
 * shmdev_ring_fd() to become readable if that returned 0 (1: try again at
 * once). Like a blocking call, shmdev_ring_poll_prepare() first watches the
 * ring for a short spin, so a peer that answers within microseconds costs no
 * system call. The other side rings only when such a waiter exists, so a ring
 * nobody waits on costs nothing more than before. A handle without a doorbell
 * cannot ring: a process that never calls shmdev_ring_set_doorbell() wakes only
 * futex sleepers. A peer that dies without detaching rings nobody: wait with a
 * timeout (SHMDEV_RING_LIVENESS_MS is what blocking calls use), after which
 * shmdev_ring_poll_prepare() reports -EPIPE once every peer of the other side
 * is gone. Each waiting handle needs a file of its own (shmdev_attach() again,
 * or shmdev_reattach(), which also serves anonymous segments): the file's watch
 * set and counts are the handle's. The handle borrows the file: keep it open
 * until shmdev_ring_detach(), which rings through it. A process counts as a
 * peer from its first producing or consuming call on. All processes of a
 * ring whose waiters use doorbells need a libshmdev that has them: an older
 * one on the other side never rings.
 *
 * Every function returns 0 or a negative errno and never prints or exits.
 * A struct shmdev_ring is used by one thread at a time (it holds the state
 * of an outstanding reservation or peek); threads attach a handle each.
 * After fork(), a child attaches again before it uses the ring.
 */
#ifndef LIBSHMDEV_RING_H
#define LIBSHMDEV_RING_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Size of the ring header at the start of the region. */
#define SHMDEV_RING_HDR_SIZE		1024

/* Version of the ring layout written by shmdev_ring_init(). */
#define SHMDEV_RING_VERSION		1

/* Flags of shmdev_ring_init(). */
#define SHMDEV_RING_MPMC		(1U << 0)
#define SHMDEV_RING_FLAGS_MASK		SHMDEV_RING_MPMC

/* Doorbells a ring uses from the number given to shmdev_ring_set_doorbell(). */
#define SHMDEV_RING_BELLS		2

/* Events of shmdev_ring_poll_prepare(). */
#define SHMDEV_RING_POLLIN		(1U << 0)	/* a message to receive */
/* Room for the message the last refused send or reserve asked for. */
#define SHMDEV_RING_POLLOUT		(1U << 1)

/* Processes one ring records per side (1 on each side of a SPSC ring). */
#define SHMDEV_RING_MAX_PEERS		32

/* Longest sleep before a blocked call checks that its peers live. */
#define SHMDEV_RING_LIVENESS_MS		20

/* A process's handle of an attached ring: opaque, 128 bytes. */
struct shmdev_ring {
	uint64_t __opaque[16];
};

/* What shmdev_ring_info() reports. */
struct shmdev_ring_info {
	uint32_t flags;		/* SHMDEV_RING_MPMC or 0 */
	uint32_t msg_max;	/* largest message, in bytes */
	uint64_t capacity;	/* data bytes (SPSC) or slots (MPMC) */
	uint64_t used;		/* bytes (SPSC) or slots (MPMC) now in use */
	uint64_t dropped;	/* messages lost to dead processes */
	uint64_t reserved[4];
};

int shmdev_ring_init(void *mem, size_t len, uint32_t msg_max,
		     unsigned int flags);
int shmdev_ring_attach(void *mem, size_t len, struct shmdev_ring *ring);
int shmdev_ring_detach(struct shmdev_ring *ring);
int shmdev_ring_info(const struct shmdev_ring *ring,
		     struct shmdev_ring_info *info);

int shmdev_ring_reserve(struct shmdev_ring *ring, size_t len, void **buf,
			int64_t timeout_ns);
int shmdev_ring_commit(struct shmdev_ring *ring, size_t len);
int shmdev_ring_abort(struct shmdev_ring *ring);
int shmdev_ring_send(struct shmdev_ring *ring, const void *buf, size_t len,
		     int64_t timeout_ns);

int shmdev_ring_peek(struct shmdev_ring *ring, const void **buf,
		     size_t *len, int64_t timeout_ns);
int shmdev_ring_release(struct shmdev_ring *ring);
int shmdev_ring_recv(struct shmdev_ring *ring, void *buf, size_t size,
		     size_t *len, int64_t timeout_ns);

int shmdev_ring_set_doorbell(struct shmdev_ring *ring, int fd,
			     unsigned int bell);
int shmdev_ring_fd(const struct shmdev_ring *ring);
int shmdev_ring_poll_prepare(struct shmdev_ring *ring, unsigned int events);

#ifdef __cplusplus
}
#endif

#endif /* LIBSHMDEV_RING_H */
