// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Message rings in shared memory.
 *
 * Region layout (all offsets from the start of the region, which must be
 * 8-byte aligned; the header's fields are little or big endian as the
 * machine is, rings are not shared between machines):
 *
 *   0     struct ring_hdr, SHMDEV_RING_HDR_SIZE bytes: the geometry, written
 *         once by shmdev_ring_init(), then the producers' and the
 *         consumers' counters on cache lines of their own, then the tables
 *         of producer and consumer PIDs.
 *   1024  the data area, data_size bytes.
 *
 * SPSC: the data area is a byte ring of data_size (a power of two) bytes.
 * prod_pos and cons_pos count bytes published and released since init; a
 * record is an 8-byte struct rec_hdr and its payload, padded to 8 bytes,
 * and never wraps: when one does not fit before the end, the producer fills
 * the end with a padding record. The producer owns prod_pos and the bytes
 * in [prod_pos, cons_pos + data_size), the consumer cons_pos and the bytes
 * in [cons_pos, prod_pos).
 *
 * MPMC: the data area is nr_slots (a power of two) slots of slot_size
 * bytes. This is a bounded queue in the manner of Dmitry Vyukov's, whose
 * slot sequence numbers make it free of ABA, with one change: the 64-bit
 * state word of a slot holds the PID of the process that claimed it beside
 * the sequence, so that a slot claimed by a process that died is found and
 * recovered. For the message at position p, in slot p % nr_slots:
 *
 *   state (seq, owner)       meaning
 *   (p, 0)                   free for a producer at p
 *   (p, producer)            being written
 *   (p + 1, 0)               committed, ready for a consumer at p
 *   (p + 1, consumer)        being read
 *   (p + nr_slots, 0)        released: free for the producer at the next lap
 *
 * A producer claims a slot with a compare-and-swap on its state and then
 * moves prod_pos on; anyone who finds prod_pos pointing at a claimed slot
 * moves it on for the claimer, so a claimer that dies in between stops no
 * one. Consumers do the same with cons_pos. A slot whose owner is dead is
 * recovered by whoever waits on it: a consumer frees a slot whose producer
 * died before committing (the message is lost), a producer frees a slot
 * whose consumer died before releasing (the message was handed out and is
 * lost too); both count it in the dropped counter.
 *
 * Sleeping: producers sleep on cons_ev, consumers on prod_ev, after
 * counting themselves in prod_sleepers or cons_sleepers. The side that
 * makes progress publishes it with a sequentially consistent store and then
 * reads the sleeper count (also sequentially consistent); a sleeper counts
 * itself, reads the event word and retries before it sleeps. So either the
 * waker sees the sleeper and bumps and wakes the event word, or the sleeper
 * sees the progress; and a side nobody waits on makes no system call.
 *
 * Doorbells: a process that waits in an event loop instead sets
 * cons_bellwait (or prod_bellwait) and then looks at the ring again
 * (shmdev_ring_poll_prepare()); the side that makes progress publishes it
 * and then takes the flag with an exchange, and rings the segment's
 * doorbell if it was set. The same argument as for sleepers shows that a
 * waiter either sees the progress or is rung; taking the flag means one
 * ring per wait, however many messages follow before the waiter runs. A
 * stale flag (its waiter woke for another reason) costs one ring.
 *
 * Nothing read from the shared region is trusted: the geometry is copied
 * into the caller's handle by shmdev_ring_attach() after it has been
 * checked against the region's length, and every counter, record length
 * and slot state is checked before it is used. A peer that scribbles on
 * the region can make calls fail with -EPROTO or lose messages, but never
 * make this library touch memory outside the region.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <linux/shmdev.h>

#include "libshmdev/ring.h"
#include "futex-private.h"
#include "ring-private.h"

#define RING_SPINS		200
#define RING_LIVENESS_NS	((int64_t)SHMDEV_RING_LIVENESS_MS * 1000000)

/* What struct shmdev_ring holds. */
struct ring_impl {
	struct ring_hdr *hdr;
	unsigned char *data;
	uint64_t size;			/* SPSC: data bytes; MPMC: slots */
	uint32_t msg_max;
	uint32_t slot_size;
	uint32_t flags;
	uint32_t state;			/* RING_RESERVED, RING_PEEKED */
	uint64_t res_pos;		/* position of the reservation */
	uint64_t res_len;		/* bytes reserved */
	uint64_t peek_pos;		/* position of the peeked message */
	uint64_t peek_size;		/* SPSC: bytes to release */
	uint64_t peek_len;		/* payload bytes */
	uint32_t pid[2];		/* PID registered per side, or 0 */
	uint32_t magic;			/* RING_HANDLE_MAGIC when attached */
	int32_t bell_fd;		/* with RING_DOORBELL: bound file */
	uint32_t bell;			/* with RING_DOORBELL: data doorbell */
	int64_t bell_checked;		/* when prepare last looked at peers */
	uint32_t bell_detaches;		/* hdr->detaches it saw then */
	uint32_t send_want;		/* bytes the last refused reserve asked */
};

#define RING_HANDLE_MAGIC	0x52484e44U
#define RING_RESERVED		(1U << 0)
#define RING_PEEKED		(1U << 1)
#define RING_DOORBELL		(1U << 2)	/* bell_fd and bell are set */

/* Doorbell rung for the consumers (data) and the producers (room). */
#define BELL_DATA(r)		((r)->bell)
#define BELL_ROOM(r)		((r)->bell + 1)

_Static_assert(sizeof(struct ring_impl) <= sizeof(struct shmdev_ring),
	       "struct ring_impl fits in struct shmdev_ring");
_Static_assert(_Alignof(struct ring_impl) <= _Alignof(struct shmdev_ring),
	       "struct ring_impl alignment");

/* One producing or consuming attempt: in and out arguments. */
struct ring_op {
	size_t len;
	void *buf;
};

typedef int (*ring_try_fn)(struct ring_impl *r, struct ring_op *op,
			   bool recover);

static inline bool is_mpmc(const struct ring_impl *r)
{
	return r->flags & SHMDEV_RING_MPMC;
}

static inline uint64_t rec_size(uint64_t len)
{
	return (sizeof(struct rec_hdr) + len + 7) & ~7ULL;
}

static inline uint64_t slot_size_for(uint32_t msg_max)
{
	return (sizeof(struct ring_slot) + (uint64_t)msg_max +
		RING_SLOT_ALIGN - 1) & ~(uint64_t)(RING_SLOT_ALIGN - 1);
}

static inline bool is_pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

static inline uint64_t pow2_floor(uint64_t x)
{
	return x ? 1ULL << (63 - __builtin_clzll(x)) : 0;
}

static inline uint64_t slot_state(uint64_t seq, uint32_t owner)
{
	return (uint32_t)seq | (uint64_t)owner << 32;
}

static inline struct ring_slot *slot_at(const struct ring_impl *r,
					uint64_t pos)
{
	return (struct ring_slot *)(r->data +
				    (pos & (r->size - 1)) * r->slot_size);
}

/* Reads a word of the shared region exactly once. */
static inline uint32_t read_once_u32(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static inline uint64_t read_once_u64(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* Sequentially consistent compare-and-swap of a slot state. */
static inline bool cas_state(_Atomic uint64_t *state, uint64_t old,
			     uint64_t new)
{
	return atomic_compare_exchange_strong_explicit(state, &old, new,
						       memory_order_seq_cst,
						       memory_order_relaxed);
}

/* The same for a peer table entry. */
static inline bool cas_peer(_Atomic uint32_t *entry, uint32_t old,
			    uint32_t new)
{
	return atomic_compare_exchange_strong_explicit(entry, &old, new,
						       memory_order_seq_cst,
						       memory_order_relaxed);
}

static struct ring_impl *ring_impl(struct shmdev_ring *ring)
{
	struct ring_impl *r = (struct ring_impl *)ring;

	return r && r->magic == RING_HANDLE_MAGIC ? r : NULL;
}

/* Whether /proc says that @pid has exited (without pidfd_open()). */
static bool pid_is_zombie(uint32_t pid)
{
	char path[32], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	/* "pid (comm) S ...": the state follows the last ')'. */
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
}

/*
 * Whether process @pid still runs. A zombie does not: its parent may not
 * have reaped it yet, but it will never touch the ring again.
 */
static bool pid_alive(uint32_t pid)
{
	if (!pid || pid > INT_MAX)
		return false;
#ifdef SYS_pidfd_open
	{
		struct pollfd pfd = { .events = POLLIN };
		int n;

		pfd.fd = syscall(SYS_pidfd_open, (pid_t)pid, 0);
		if (pfd.fd >= 0) {
			/* A pidfd polls readable once the process exited. */
			n = poll(&pfd, 1, 0);
			close(pfd.fd);
			return n == 0;
		}
		if (errno == ESRCH)
			return false;
	}
#endif
	if (kill((pid_t)pid, 0) && errno == ESRCH)
		return false;
	return !pid_is_zombie(pid);
}

static _Atomic uint32_t *peer_table(const struct ring_impl *r, int side)
{
	return side == SIDE_PROD ? r->hdr->producers : r->hdr->consumers;
}

static unsigned int peer_count(const struct ring_impl *r)
{
	return is_mpmc(r) ? SHMDEV_RING_MAX_PEERS : 1;
}

/*
 * Records the caller's PID in the table of @side, taking over an entry
 * that is unused, detached or of a dead process. -EBUSY if a SPSC ring
 * already has a live process on that side, -EUSERS if a MPMC table is
 * full of live ones.
 */
static int ring_register(struct ring_impl *r, int side)
{
	_Atomic uint32_t *table = peer_table(r, side);
	unsigned int i, n = peer_count(r);
	uint32_t me = (uint32_t)getpid();
	uint32_t v;

	for (i = 0; i < n; i++) {
		if (atomic_load_explicit(&table[i], memory_order_relaxed) ==
		    me) {
			r->pid[side] = me;
			return 0;
		}
	}
	for (i = 0; i < n; i++) {
		v = atomic_load_explicit(&table[i], memory_order_relaxed);
		if (v && v != PEER_DETACHED && pid_alive(v))
			continue;
		if (cas_peer(&table[i], v, me)) {
			r->pid[side] = me;
			return 0;
		}
	}
	return is_mpmc(r) ? -EUSERS : -EBUSY;
}

static inline int ring_check_registered(struct ring_impl *r, int side)
{
	return r->pid[side] ? 0 : ring_register(r, side);
}

/*
 * True when processes registered on @side and all of them have exited or
 * detached: nothing will ever unblock a waiter of the other side.
 */
static bool peers_gone(const struct ring_impl *r, int side)
{
	_Atomic uint32_t *table = peer_table(r, side);
	unsigned int i, n = peer_count(r);
	bool seen = false;
	uint32_t v;

	for (i = 0; i < n; i++) {
		v = atomic_load_explicit(&table[i], memory_order_relaxed);
		if (!v)
			continue;
		seen = true;
		if (v != PEER_DETACHED && pid_alive(v))
			return false;
	}
	return seen;
}

/*
 * Rings @bell if a waiter flagged itself in @bellwait, taking the flag. A
 * handle without a doorbell leaves the flag alone for one that has one;
 * a ring that fails puts it back.
 */
static void ring_doorbell(const struct ring_impl *r,
			  _Atomic uint32_t *bellwait, uint32_t bell)
{
	struct shmdev_bell arg = { .bell = bell, .count = 1 };

	if (!(r->state & RING_DOORBELL) ||
	    !atomic_load_explicit(bellwait, memory_order_seq_cst) ||
	    !atomic_exchange_explicit(bellwait, 0, memory_order_seq_cst))
		return;
	if (ioctl(r->bell_fd, SHMDEV_IOC_RING, &arg) < 0)
		atomic_store_explicit(bellwait, 1, memory_order_seq_cst);
}

/*
 * Wakes the sleepers of one side, if there are any, and rings the doorbell
 * if one of them waits on it.
 */
static void ring_notify(const struct ring_impl *r, _Atomic uint32_t *ev,
			_Atomic uint32_t *sleepers, _Atomic uint32_t *bellwait,
			uint32_t bell)
{
	if (atomic_load_explicit(sleepers, memory_order_seq_cst)) {
		atomic_fetch_add_explicit(ev, 1, memory_order_seq_cst);
		shmdev__futex_wake(ev, INT_MAX);
	}
	ring_doorbell(r, bellwait, bell);
}

static void notify_consumers(struct ring_impl *r)
{
	ring_notify(r, &r->hdr->prod_ev, &r->hdr->cons_sleepers,
		    &r->hdr->cons_bellwait, BELL_DATA(r));
}

static void notify_producers(struct ring_impl *r)
{
	ring_notify(r, &r->hdr->cons_ev, &r->hdr->prod_sleepers,
		    &r->hdr->prod_bellwait, BELL_ROOM(r));
}

/*
 * Runs @try until it stops saying -EAGAIN: a few times spinning, then
 * sleeping on the event word of the other side with the handshake
 * described at the top of this file. Sleeps last at most
 * RING_LIVENESS_NS, after which the peers of the other side are checked.
 */
static int ring_block(struct ring_impl *r, int side, ring_try_fn try,
		      struct ring_op *op, int64_t timeout_ns)
{
	struct ring_hdr *h = r->hdr;
	_Atomic uint32_t *ev, *sleepers;
	int64_t deadline = INT64_MAX, checked = INT64_MIN / 2, now, until;
	struct timespec ts;
	int i, ret, wait;
	uint32_t seen;
	bool due;

	if (!timeout_ns)
		return try(r, op, true);
	ret = try(r, op, false);
	if (ret != -EAGAIN)
		return ret;

	now = shmdev__now_ns();
	if (timeout_ns > 0 && timeout_ns < INT64_MAX - now)
		deadline = now + timeout_ns;

	for (i = 0; i < RING_SPINS; i++) {
		shmdev__cpu_relax();
		ret = try(r, op, false);
		if (ret != -EAGAIN)
			return ret;
	}

	if (side == SIDE_PROD) {
		ev = &h->cons_ev;
		sleepers = &h->prod_sleepers;
	} else {
		ev = &h->prod_ev;
		sleepers = &h->cons_sleepers;
	}
	for (;;) {
		now = shmdev__now_ns();
		/*
		 * Peers and owners of slots are looked at before the first
		 * sleep, then every RING_LIVENESS_NS.
		 */
		due = now - checked >= RING_LIVENESS_NS;
		if (due) {
			checked = now;
			if (peers_gone(r, !side)) {
				/* What they did before they went is there. */
				ret = try(r, op, true);
				return ret == -EAGAIN ? -EPIPE : ret;
			}
		}
		if (now >= deadline)
			return -ETIMEDOUT;
		until = deadline - now > RING_LIVENESS_NS ?
			now + RING_LIVENESS_NS : deadline;
		ts = shmdev__ns_to_ts(until);

		atomic_fetch_add_explicit(sleepers, 1, memory_order_seq_cst);
		seen = atomic_load_explicit(ev, memory_order_seq_cst);
		ret = try(r, op, due);
		wait = 0;
		if (ret == -EAGAIN)
			wait = shmdev__futex_wait(ev, seen, &ts);
		atomic_fetch_sub_explicit(sleepers, 1, memory_order_relaxed);
		if (ret != -EAGAIN)
			return ret;
		if (wait == -EINTR) {
			ret = try(r, op, true);
			return ret == -EAGAIN ? -EINTR : ret;
		}
	}
}

/* SPSC */

/* Publishes a new value of the caller's counter and wakes the other side. */
static void spsc_publish_prod(struct ring_impl *r, uint64_t pos)
{
	atomic_store_explicit(&r->hdr->prod_pos, pos, memory_order_seq_cst);
	notify_consumers(r);
}

static void spsc_publish_cons(struct ring_impl *r, uint64_t pos)
{
	atomic_store_explicit(&r->hdr->cons_pos, pos, memory_order_seq_cst);
	notify_producers(r);
}

static int spsc_try_reserve(struct ring_impl *r, struct ring_op *op,
			    bool recover)
{
	struct ring_hdr *h = r->hdr;
	uint64_t n = r->size, size = rec_size(op->len);
	uint64_t pos, tail, used, off, contig;
	struct rec_hdr *rec;

	(void)recover;
	pos = atomic_load_explicit(&h->prod_pos, memory_order_relaxed);
	for (;;) {
		tail = atomic_load_explicit(&h->cons_pos,
					    memory_order_seq_cst);
		used = pos - tail;
		if (used > n || (pos & 7))
			return -EPROTO;
		off = pos & (n - 1);
		contig = n - off;
		if (size <= contig)
			break;
		/* Pad to the end of the data area and start over at 0. */
		if (contig > n - used)
			return -EAGAIN;
		rec = (struct rec_hdr *)(r->data + off);
		rec->len = contig - sizeof(*rec);
		rec->flags = REC_PAD;
		pos += contig;
		spsc_publish_prod(r, pos);
	}
	if (size > n - used)
		return -EAGAIN;
	r->res_pos = pos;
	op->buf = r->data + off + sizeof(struct rec_hdr);
	return 0;
}

static int spsc_commit(struct ring_impl *r, size_t len)
{
	struct rec_hdr *rec = (struct rec_hdr *)(r->data +
						 (r->res_pos & (r->size - 1)));

	rec->len = len;
	rec->flags = 0;
	spsc_publish_prod(r, r->res_pos + rec_size(len));
	return 0;
}

static int spsc_try_peek(struct ring_impl *r, struct ring_op *op,
			 bool recover)
{
	struct ring_hdr *h = r->hdr;
	uint64_t n = r->size, pos, head, avail, off, size;
	const struct rec_hdr *rec;
	uint32_t len, flags;

	(void)recover;
	pos = atomic_load_explicit(&h->cons_pos, memory_order_relaxed);
	for (;;) {
		head = atomic_load_explicit(&h->prod_pos,
					    memory_order_seq_cst);
		avail = head - pos;
		if (avail > n || (head & 7) || (pos & 7))
			return -EPROTO;
		if (!avail)
			return -EAGAIN;
		off = pos & (n - 1);
		rec = (const struct rec_hdr *)(r->data + off);
		len = read_once_u32(&rec->len);
		flags = read_once_u32(&rec->flags);
		size = rec_size(len);
		if ((flags & ~REC_PAD) || size > n - off || size > avail)
			return -EPROTO;
		if (!(flags & REC_PAD))
			break;
		pos += size;
		spsc_publish_cons(r, pos);
	}
	if (len > r->msg_max)
		return -EPROTO;
	r->peek_pos = pos;
	r->peek_size = size;
	op->buf = r->data + off + sizeof(*rec);
	op->len = len;
	return 0;
}

static void spsc_release(struct ring_impl *r)
{
	spsc_publish_cons(r, r->peek_pos + r->peek_size);
}

/* MPMC */

static void mpmc_drop(struct ring_impl *r)
{
	atomic_fetch_add_explicit(&r->hdr->dropped, 1, memory_order_relaxed);
}

/*
 * Moves a position counter on from @pos, unless someone did already
 * (@pos is a copy: a failed compare-and-swap must not change the caller's).
 */
static inline void advance_pos(_Atomic uint64_t *ctr, uint64_t pos)
{
	atomic_compare_exchange_strong_explicit(ctr, &pos, pos + 1,
						memory_order_seq_cst,
						memory_order_relaxed);
}

static int mpmc_try_reserve(struct ring_impl *r, struct ring_op *op,
			    bool recover)
{
	struct ring_hdr *h = r->hdr;
	int32_t n = (int32_t)r->size, d;
	uint32_t me = r->pid[SIDE_PROD], owner;
	struct ring_slot *s;
	uint64_t pos, st;

	for (;;) {
		pos = atomic_load_explicit(&h->prod_pos, memory_order_seq_cst);
		s = slot_at(r, pos);
		st = atomic_load_explicit(&s->state, memory_order_seq_cst);
		owner = st >> 32;
		d = (int32_t)((uint32_t)st - (uint32_t)pos);
		if (!d && !owner) {
			if (!cas_state(&s->state, st, slot_state(pos, me)))
				continue;
			advance_pos(&h->prod_pos, pos);
			r->res_pos = pos;
			op->buf = s->data;
			return 0;
		}
		if (d >= 0) {
			/* Claimed, perhaps by one that died: move on. */
			advance_pos(&h->prod_pos, pos);
			continue;
		}
		/* Still holds the message of the previous lap: full. */
		if (d != -n && d != -n + 1)
			return -EPROTO;
		if (d == -n + 1 && owner && recover && !pid_alive(owner)) {
			/* Its consumer died before releasing it. */
			if (cas_state(&s->state, st, slot_state(pos, 0))) {
				mpmc_drop(r);
				notify_producers(r);
			}
			continue;
		}
		return -EAGAIN;
	}
}

static int mpmc_commit(struct ring_impl *r, uint32_t len)
{
	struct ring_slot *s = slot_at(r, r->res_pos);
	uint64_t st = slot_state(r->res_pos, r->pid[SIDE_PROD]);

	s->len = len;
	if (!cas_state(&s->state, st, slot_state(r->res_pos + 1, 0)))
		return -EPROTO;		/* someone took our slot */
	notify_consumers(r);
	return 0;
}

/* Frees the slot of message @pos for the producers of the next lap. */
static void mpmc_free_slot(struct ring_impl *r, struct ring_slot *s,
			   uint64_t pos)
{
	atomic_store_explicit(&s->state, slot_state(pos + r->size, 0),
			      memory_order_seq_cst);
	notify_producers(r);
}

static int mpmc_try_peek(struct ring_impl *r, struct ring_op *op,
			 bool recover)
{
	struct ring_hdr *h = r->hdr;
	int32_t n = (int32_t)r->size, d;
	uint32_t me = r->pid[SIDE_CONS], owner, len;
	struct ring_slot *s;
	uint64_t pos, st;

	for (;;) {
		pos = atomic_load_explicit(&h->cons_pos, memory_order_seq_cst);
		s = slot_at(r, pos);
		st = atomic_load_explicit(&s->state, memory_order_seq_cst);
		owner = st >> 32;
		d = (int32_t)((uint32_t)st - (uint32_t)(pos + 1));
		if (!d && !owner) {
			if (!cas_state(&s->state, st, slot_state(pos + 1, me)))
				continue;
			advance_pos(&h->cons_pos, pos);
			len = read_once_u32(&s->len);
			if (len == SLOT_ABORTED) {
				mpmc_free_slot(r, s, pos);
				continue;
			}
			if (len > r->msg_max) {
				mpmc_free_slot(r, s, pos);
				mpmc_drop(r);
				return -EPROTO;
			}
			r->peek_pos = pos;
			op->buf = s->data;
			op->len = len;
			return 0;
		}
		if (d >= 0) {
			/* Being read or already read: move on. */
			advance_pos(&h->cons_pos, pos);
			continue;
		}
		/* The slot still holds a message of the previous lap. */
		if (d == -n)
			return -EAGAIN;
		if (d != -1)
			return -EPROTO;
		/* Free (the ring is empty) or being written. */
		if (owner && recover && !pid_alive(owner)) {
			/* Its producer died before committing it. */
			if (cas_state(&s->state, st, slot_state(pos + 1, me))) {
				advance_pos(&h->cons_pos, pos);
				mpmc_drop(r);
				mpmc_free_slot(r, s, pos);
				notify_consumers(r);
			}
			continue;
		}
		return -EAGAIN;
	}
}

static void mpmc_release(struct ring_impl *r)
{
	mpmc_free_slot(r, slot_at(r, r->peek_pos), r->peek_pos);
}

/* Public functions */

int shmdev_ring_init(void *mem, size_t len, uint32_t msg_max,
		     unsigned int flags)
{
	struct ring_hdr *h = mem;
	uint64_t avail, data_size, nr_slots = 0, slot_size = 0, i;

	if (!mem || ((uintptr_t)mem & 7) ||
	    (flags & ~SHMDEV_RING_FLAGS_MASK) || len < SHMDEV_RING_HDR_SIZE)
		return -EINVAL;
	avail = len - SHMDEV_RING_HDR_SIZE;

	if (flags & SHMDEV_RING_MPMC) {
		if (!msg_max)
			return -EINVAL;
		slot_size = slot_size_for(msg_max);
		if (slot_size > UINT32_MAX)
			return -EINVAL;
		nr_slots = pow2_floor(avail / slot_size);
		if (nr_slots > RING_MPMC_MAX_SLOTS)
			nr_slots = RING_MPMC_MAX_SLOTS;
		if (nr_slots < 2)
			return -EINVAL;
		data_size = nr_slots * slot_size;
	} else {
		data_size = pow2_floor(avail);
		if (data_size < RING_SPSC_MIN_DATA)
			return -EINVAL;
		if (msg_max > data_size - sizeof(struct rec_hdr))
			return -EINVAL;
		if (!msg_max)
			msg_max = data_size - sizeof(struct rec_hdr) <
				  UINT32_MAX ?
				  data_size - sizeof(struct rec_hdr) :
				  UINT32_MAX;
	}

	memset(h, 0, sizeof(*h));
	h->version = SHMDEV_RING_VERSION;
	h->hdr_size = SHMDEV_RING_HDR_SIZE;
	h->flags = flags;
	h->data_size = data_size;
	h->msg_max = msg_max;
	h->slot_size = slot_size;
	h->nr_slots = nr_slots;
	h->max_peers = SHMDEV_RING_MAX_PEERS;
	for (i = 0; i < nr_slots; i++) {
		struct ring_slot *s = (struct ring_slot *)((unsigned char *)mem +
				SHMDEV_RING_HDR_SIZE + i * slot_size);

		atomic_store_explicit(&s->state, slot_state(i, 0),
				      memory_order_relaxed);
		s->len = 0;
	}
	__atomic_store_n(&h->magic, RING_MAGIC, __ATOMIC_RELEASE);
	return 0;
}

/* Checks the geometry of the header (read once into @g) against @len. */
static int ring_check_geometry(const struct ring_hdr *g, size_t len)
{
	uint64_t avail = len - SHMDEV_RING_HDR_SIZE;

	if (g->hdr_size != SHMDEV_RING_HDR_SIZE ||
	    (g->flags & ~SHMDEV_RING_FLAGS_MASK) ||
	    g->max_peers != SHMDEV_RING_MAX_PEERS || !g->msg_max ||
	    g->data_size > avail)
		return -EPROTO;
	if (g->flags & SHMDEV_RING_MPMC) {
		if (!is_pow2(g->nr_slots) || g->nr_slots < 2 ||
		    g->nr_slots > RING_MPMC_MAX_SLOTS ||
		    g->slot_size != slot_size_for(g->msg_max) ||
		    g->nr_slots > g->data_size / g->slot_size ||
		    g->nr_slots * g->slot_size != g->data_size)
			return -EPROTO;
	} else {
		if (!is_pow2(g->data_size) ||
		    g->data_size < RING_SPSC_MIN_DATA ||
		    g->slot_size || g->nr_slots ||
		    g->msg_max > g->data_size - sizeof(struct rec_hdr))
			return -EPROTO;
	}
	return 0;
}

/* Checks that the counters agree; they may move while they are read. */
static int ring_check_counters(const struct ring_impl *r)
{
	const struct ring_hdr *h = r->hdr;
	uint64_t prod, cons;
	int tries;

	for (tries = 0; tries < 3; tries++) {
		cons = atomic_load_explicit(&h->cons_pos,
					    memory_order_seq_cst);
		prod = atomic_load_explicit(&h->prod_pos,
					    memory_order_seq_cst);
		if (is_mpmc(r)) {
			/* cons may pass prod by one: see mpmc_try_peek(). */
			if (prod - cons <= r->size || cons - prod == 1)
				return 0;
		} else if (prod - cons <= r->size && !((prod | cons) & 7)) {
			return 0;
		}
	}
	return -EPROTO;
}

int shmdev_ring_attach(void *mem, size_t len, struct shmdev_ring *ring)
{
	struct ring_impl *r = (struct ring_impl *)ring;
	struct ring_hdr *h = mem;
	struct ring_hdr g;
	int ret;

	if (!mem || !ring || ((uintptr_t)mem & 7) ||
	    len < SHMDEV_RING_HDR_SIZE)
		return -EINVAL;
	memset(ring, 0, sizeof(*ring));

	if (__atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) != RING_MAGIC)
		return -EPROTO;
	/* One copy of the geometry, which a peer cannot change under us. */
	g.version = read_once_u32(&h->version);
	g.hdr_size = read_once_u32(&h->hdr_size);
	g.flags = read_once_u32(&h->flags);
	g.data_size = read_once_u64(&h->data_size);
	g.msg_max = read_once_u32(&h->msg_max);
	g.slot_size = read_once_u32(&h->slot_size);
	g.nr_slots = read_once_u64(&h->nr_slots);
	g.max_peers = read_once_u32(&h->max_peers);
	if (g.version != SHMDEV_RING_VERSION)
		return -EPROTONOSUPPORT;
	ret = ring_check_geometry(&g, len);
	if (ret)
		return ret;

	r->hdr = h;
	r->data = (unsigned char *)mem + SHMDEV_RING_HDR_SIZE;
	r->flags = g.flags;
	r->msg_max = g.msg_max;
	r->slot_size = g.slot_size;
	r->size = is_mpmc(r) ? g.nr_slots : g.data_size;
	ret = ring_check_counters(r);
	if (ret) {
		memset(ring, 0, sizeof(*ring));
		return ret;
	}
	r->magic = RING_HANDLE_MAGIC;
	return 0;
}

static void ring_unregister(struct ring_impl *r, int side)
{
	_Atomic uint32_t *table = peer_table(r, side);
	unsigned int i, n = peer_count(r);

	if (!r->pid[side])
		return;
	for (i = 0; i < n; i++)
		cas_peer(&table[i], r->pid[side], PEER_DETACHED);
	r->pid[side] = 0;
}

int shmdev_ring_detach(struct shmdev_ring *ring)
{
	struct ring_impl *r = ring_impl(ring);

	if (!r)
		return -EINVAL;
	if (r->state & RING_RESERVED)
		shmdev_ring_abort(ring);
	if ((r->state & RING_PEEKED) && is_mpmc(r))
		shmdev_ring_release(ring);
	ring_unregister(r, SIDE_PROD);
	ring_unregister(r, SIDE_CONS);
	atomic_fetch_add_explicit(&r->hdr->detaches, 1, memory_order_seq_cst);
	/* Let sleepers of both sides look at the peer tables again. */
	atomic_fetch_add_explicit(&r->hdr->prod_ev, 1, memory_order_seq_cst);
	shmdev__futex_wake(&r->hdr->prod_ev, INT_MAX);
	atomic_fetch_add_explicit(&r->hdr->cons_ev, 1, memory_order_seq_cst);
	shmdev__futex_wake(&r->hdr->cons_ev, INT_MAX);
	/* And those in event loops. */
	ring_doorbell(r, &r->hdr->cons_bellwait, BELL_DATA(r));
	ring_doorbell(r, &r->hdr->prod_bellwait, BELL_ROOM(r));
	memset(ring, 0, sizeof(*ring));
	return 0;
}

int shmdev_ring_info(const struct shmdev_ring *ring,
		     struct shmdev_ring_info *info)
{
	struct ring_impl *r = ring_impl((struct shmdev_ring *)ring);
	uint64_t prod, cons, used;

	if (!r || !info)
		return -EINVAL;
	cons = atomic_load_explicit(&r->hdr->cons_pos, memory_order_seq_cst);
	prod = atomic_load_explicit(&r->hdr->prod_pos, memory_order_seq_cst);
	used = prod - cons;
	memset(info, 0, sizeof(*info));
	info->flags = r->flags;
	info->msg_max = r->msg_max;
	info->capacity = r->size;
	info->used = used > r->size ? 0 : used;
	info->dropped = atomic_load_explicit(&r->hdr->dropped,
					     memory_order_relaxed);
	return 0;
}

int shmdev_ring_reserve(struct shmdev_ring *ring, size_t len, void **buf,
			int64_t timeout_ns)
{
	struct ring_impl *r = ring_impl(ring);
	struct ring_op op = { .len = len };
	int ret;

	if (!r || !buf)
		return -EINVAL;
	if (r->state & RING_RESERVED)
		return -EBUSY;
	if (len > r->msg_max)
		return -EMSGSIZE;
	ret = ring_check_registered(r, SIDE_PROD);
	if (ret)
		return ret;
	ret = ring_block(r, SIDE_PROD,
			 is_mpmc(r) ? mpmc_try_reserve : spsc_try_reserve,
			 &op, timeout_ns);
	/* What a wait for room (shmdev_ring_poll_prepare()) waits for. */
	if (ret == -EAGAIN)
		r->send_want = len;
	if (ret)
		return ret;
	r->res_len = len;
	r->state |= RING_RESERVED;
	*buf = op.buf;
	return 0;
}

int shmdev_ring_commit(struct shmdev_ring *ring, size_t len)
{
	struct ring_impl *r = ring_impl(ring);

	if (!r || !(r->state & RING_RESERVED) || len > r->res_len)
		return -EINVAL;
	r->state &= ~RING_RESERVED;
	return is_mpmc(r) ? mpmc_commit(r, len) : spsc_commit(r, len);
}

int shmdev_ring_abort(struct shmdev_ring *ring)
{
	struct ring_impl *r = ring_impl(ring);

	if (!r || !(r->state & RING_RESERVED))
		return -EINVAL;
	r->state &= ~RING_RESERVED;
	/* A SPSC reservation is private until committed. */
	return is_mpmc(r) ? mpmc_commit(r, SLOT_ABORTED) : 0;
}

int shmdev_ring_send(struct shmdev_ring *ring, const void *buf, size_t len,
		     int64_t timeout_ns)
{
	void *dst;
	int ret;

	if (!buf && len)
		return -EINVAL;
	ret = shmdev_ring_reserve(ring, len, &dst, timeout_ns);
	if (ret)
		return ret;
	if (len)
		memcpy(dst, buf, len);
	return shmdev_ring_commit(ring, len);
}

int shmdev_ring_peek(struct shmdev_ring *ring, const void **buf,
		     size_t *len, int64_t timeout_ns)
{
	struct ring_impl *r = ring_impl(ring);
	struct ring_op op = { 0 };
	int ret;

	if (!r || !buf || !len)
		return -EINVAL;
	if (!(r->state & RING_PEEKED)) {
		ret = ring_check_registered(r, SIDE_CONS);
		if (ret)
			return ret;
		ret = ring_block(r, SIDE_CONS,
				 is_mpmc(r) ? mpmc_try_peek : spsc_try_peek,
				 &op, timeout_ns);
		if (ret)
			return ret;
		r->peek_len = op.len;
		r->state |= RING_PEEKED;
	}
	*len = r->peek_len;
	*buf = is_mpmc(r) ? slot_at(r, r->peek_pos)->data :
	       r->data + (r->peek_pos & (r->size - 1)) +
	       sizeof(struct rec_hdr);
	return 0;
}

int shmdev_ring_release(struct shmdev_ring *ring)
{
	struct ring_impl *r = ring_impl(ring);

	if (!r || !(r->state & RING_PEEKED))
		return -EINVAL;
	r->state &= ~RING_PEEKED;
	if (is_mpmc(r))
		mpmc_release(r);
	else
		spsc_release(r);
	return 0;
}

int shmdev_ring_recv(struct shmdev_ring *ring, void *buf, size_t size,
		     size_t *len, int64_t timeout_ns)
{
	const void *src;
	size_t n;
	int ret;

	if ((!buf && size) || !len)
		return -EINVAL;
	ret = shmdev_ring_peek(ring, &src, &n, timeout_ns);
	if (ret)
		return ret;
	*len = n;
	/* Too big: the message stays peeked for the next call. */
	if (n > size)
		return -EMSGSIZE;
	if (n)
		memcpy(buf, src, n);
	return shmdev_ring_release(ring);
}

/* Waiting in event loops */

int shmdev_ring_set_doorbell(struct shmdev_ring *ring, int fd,
			     unsigned int bell)
{
	struct ring_impl *r = ring_impl(ring);
	struct shmdev_ack ack = { .bells = 3U << bell };
	struct shmdev_info info;

	if (!r || fd < 0 || bell > SHMDEV_NR_BELLS - SHMDEV_RING_BELLS)
		return -EINVAL;
	/*
	 * A file bound read-write to a segment (each side rings the other),
	 * on a module with doorbells. Acknowledging the ring's doorbells
	 * here forgets nothing a wait of this ring would have needed.
	 */
	memset(&info, 0, sizeof(info));
	if (ioctl(fd, SHMDEV_IOC_INFO, &info) < 0)
		return errno == ENOTTY ? -EBADF : -errno;
	if (info.flags & SHMDEV_INFO_RDONLY)
		return -EPERM;
	if (ioctl(fd, SHMDEV_IOC_ACK, &ack) < 0)
		return errno == ENOTTY ? -EOPNOTSUPP : -errno;
	r->bell_fd = fd;
	r->bell = bell;
	r->bell_checked = INT64_MIN / 2;
	r->send_want = r->msg_max;
	r->state |= RING_DOORBELL;
	return 0;
}

int shmdev_ring_fd(const struct shmdev_ring *ring)
{
	const struct ring_impl *r = ring_impl((struct shmdev_ring *)ring);

	if (!r)
		return -EINVAL;
	return r->state & RING_DOORBELL ? r->bell_fd : -ENOTCONN;
}

/* Whether a message could be peeked now (a claimed slot counts too). */
static bool ring_can_recv(const struct ring_impl *r)
{
	struct ring_hdr *h = r->hdr;
	uint64_t pos = atomic_load_explicit(&h->cons_pos,
					    memory_order_seq_cst);
	uint64_t st;

	if (!is_mpmc(r))
		return atomic_load_explicit(&h->prod_pos,
					    memory_order_seq_cst) != pos;
	st = atomic_load_explicit(&slot_at(r, pos)->state,
				  memory_order_seq_cst);
	return (int32_t)((uint32_t)st - (uint32_t)(pos + 1)) >= 0;
}

/*
 * Whether the message the last refused reservation asked for (msg_max
 * bytes before any) could be reserved now: what spsc_try_reserve() needs,
 * padding to the end included. An empty ring takes any message.
 */
static bool ring_can_send(const struct ring_impl *r)
{
	struct ring_hdr *h = r->hdr;
	uint64_t pos = atomic_load_explicit(&h->prod_pos,
					    memory_order_seq_cst);
	uint64_t tail, used, contig, need, st;

	if (is_mpmc(r)) {
		st = atomic_load_explicit(&slot_at(r, pos)->state,
					  memory_order_seq_cst);
		return (int32_t)((uint32_t)st - (uint32_t)pos) >= 0;
	}
	tail = atomic_load_explicit(&h->cons_pos, memory_order_seq_cst);
	used = pos - tail;
	if (used > r->size || !used)
		return true;	/* empty; or corrupt: let the call report it */
	need = rec_size(r->send_want);
	contig = r->size - (pos & (r->size - 1));
	if (need > contig)
		need += contig;
	return need <= r->size - used;
}

static bool ring_ready(const struct ring_impl *r, bool in, bool out)
{
	return (in && ring_can_recv(r)) || (out && ring_can_send(r));
}

int shmdev_ring_poll_prepare(struct shmdev_ring *ring, unsigned int events)
{
	struct ring_impl *r = ring_impl(ring);
	struct shmdev_ack ack = { .flags = SHMDEV_ACK_WATCH };
	bool in = events & SHMDEV_RING_POLLIN;
	bool out = events & SHMDEV_RING_POLLOUT;
	uint32_t detaches;
	int64_t now;
	int i, ret;

	if (!r || !events || (events & ~(SHMDEV_RING_POLLIN |
					 SHMDEV_RING_POLLOUT)))
		return -EINVAL;
	if (!(r->state & RING_DOORBELL))
		return -ENOTCONN;
	/* First a short spin, as a blocking call makes before it sleeps. */
	for (i = 0; i < RING_SPINS; i++) {
		if (ring_ready(r, in, out))
			return 1;
		shmdev__cpu_relax();
	}
	if (in) {
		ret = ring_check_registered(r, SIDE_CONS);
		if (ret)
			return ret;
		ack.bells |= 1U << BELL_DATA(r);
	}
	if (out) {
		ret = ring_check_registered(r, SIDE_PROD);
		if (ret)
			return ret;
		ack.bells |= 1U << BELL_ROOM(r);
	}
	/*
	 * Watch only what this handle waits for, and forget the rings of
	 * the last wait: the file is readable again only after a new ring.
	 */
	if (ioctl(r->bell_fd, SHMDEV_IOC_ACK, &ack) < 0)
		return -errno;
	if (in)
		atomic_store_explicit(&r->hdr->cons_bellwait, 1,
				      memory_order_seq_cst);
	if (out)
		atomic_store_explicit(&r->hdr->prod_bellwait, 1,
				      memory_order_seq_cst);
	if (ring_ready(r, in, out))
		return 1;
	/*
	 * Whether the other side is gone costs system calls: look after a
	 * detach (which rings the waiters), else at most every
	 * RING_LIVENESS_NS, as blocked calls do, so that a loop woken at
	 * that interval learns of a death in time and a busy one pays
	 * nothing.
	 */
	detaches = atomic_load_explicit(&r->hdr->detaches,
					memory_order_seq_cst);
	now = shmdev__now_ns();
	if (detaches == r->bell_detaches &&
	    now - r->bell_checked < RING_LIVENESS_NS)
		return 0;
	r->bell_checked = now;
	r->bell_detaches = detaches;
	if ((in && peers_gone(r, SIDE_PROD)) ||
	    (out && peers_gone(r, SIDE_CONS)))
		return -EPIPE;
	return 0;
}
