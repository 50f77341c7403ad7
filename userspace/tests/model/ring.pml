/*
 * SPDX-License-Identifier: GPL-2.0
 *
 * Promela model of the core of the SPSC message ring of libshmdev
 * (userspace/lib/ring.c), under a weak memory model encoded by hand:
 * see README.md in this directory for what it covers and what it does
 * not, and check.sh for how it is run.
 *
 * Spin interleaves statements, that is, it is sequentially consistent.
 * The weak behaviours are added explicitly:
 *
 *  - Every store of a thread goes to its own store buffer (sb[t]) and
 *    becomes visible later, when the thread's drainer process moves it to
 *    mem[]. A relaxed (or plain) store may become visible before older
 *    stores of its thread to other locations (W->W reordering, as on
 *    ARMv8); a release or seq_cst store only after all older ones; two
 *    stores to one location in program order (coherence).
 *  - A load reads the thread's youngest buffered store to the location,
 *    else memory: loads may pass the thread's older buffered stores
 *    (W->R reordering, store buffering). A seq_cst load first waits until
 *    no seq_cst store of its thread is still buffered (on ARMv8: LDAR is
 *    not satisfied before an earlier STLR is observed, RCsc), which with
 *    the rules above makes the seq_cst operations of both threads totally
 *    ordered, as C11 wants.
 *  - A seq_cst read-modify-write waits until the thread's buffer is empty
 *    and then acts on memory at once (a full fence: stronger than C11 and
 *    than ARMv8's LDAXR/STLXR, which let a later load pass an earlier
 *    plain store; ring.c's handshake needs only the order among its
 *    seq_cst operations, which both give). A relaxed read-modify-write
 *    reads the latest value and buffers its store like a relaxed store;
 *    sound here because every word the model changes with an RMW has a
 *    single writer (the SPSC consumer alone changes cons_sleepers, ...).
 *  - R->R: a load by the consumer of a ring cell (a record header or
 *    payload) may return the value the cell held before its latest
 *    overwrite, if that overwrite became visible after the consumer's last
 *    acquire (a seq_cst load or RMW): the load was satisfied early, before
 *    the overwrite. stale[c] says whether prev[c] may still be read; an
 *    acquire clears all of them, reading mem[c] clears the cell's (read
 *    coherence).
 *  - R->W: the consumer's payload read (whose value feeds no store) may be
 *    performed late, after its later stores, up to the next release or
 *    seq_cst store, seq_cst RMW, futex call or the next peek. Loads whose
 *    values feed a later store's value, address or control (headers,
 *    counters) are never performed late: as on hardware, not as in C11,
 *    which orders nothing by dependencies.
 *
 * Mutants (compile-time, -D on the spin command line): each weakens one
 * ordering or step of ring.c; Spin must find a counterexample for each.
 *   MUTANT_RELAXED_PUBLISH     prod_pos store relaxed (spsc_publish_prod)
 *   MUTANT_RELAXED_ACQUIRE     consumer's prod_pos load relaxed
 *                              (spsc_try_peek)
 *   MUTANT_RELAXED_RELEASE     cons_pos store relaxed (spsc_publish_cons)
 *   MUTANT_RELAXED_SLEEPERS    the handshake's seq_cst operations relaxed:
 *                              sleepers++ and the ev load (ring_block), the
 *                              sleepers load and ev++ (ring_notify)
 *   MUTANT_NO_SLEEPER_RECHECK=side  (PROD or CONS) no try between
 *                              announcing a sleeper and futex_wait(), only
 *                              after waking (ring_block)
 *   MUTANT_EV_AFTER_TRY=side   ev read after the try, not before it
 *                              (ring_block)
 */

#ifndef N
#define N	4	/* ring size in 8-byte units (data_size / 8) */
#endif
#ifndef M
#define M	4	/* messages sent */
#endif
#define B	5	/* store buffer entries per thread */

/* Threads */
#define PROD	0
#define CONS	1

/* Locations: cells 0 .. N-1 of the data area, then the header's words. */
#define L_PPOS	(N + 0)		/* prod_pos */
#define L_CPOS	(N + 1)		/* cons_pos */
#define L_PEV	(N + 2)		/* prod_ev: consumers sleep on it */
#define L_CEV	(N + 3)		/* cons_ev: producers sleep on it */
#define L_CSLP	(N + 4)		/* cons_sleepers */
#define L_PSLP	(N + 5)		/* prod_sleepers */
#define NLOC	(N + 6)

/* Store kinds */
#define RLX	0
#define REL	1
#define SC	2

/*
 * Cell contents. A record is a header unit and its payload units and
 * never wraps (ring.c pads the end instead); the model's header carries
 * the message number and the record size in units, a padding header its
 * size, each payload unit the message number.
 */
#define HDR(id, size)	(16 + (id) * 4 + (size))
#define IS_HDR(h)	((h) >= 16 && (h) < 64)
#define HDR_ID(h)	(((h) - 16) / 4)
#define HDR_SIZE(h)	(((h) - 16) % 4)
#define PADHDR(size)	(8 + (size))
#define IS_PAD(h)	((h) > 8 && (h) <= 8 + N)
#define PAD_SIZE(h)	((h) - 8)
#define PAY(id)		(64 + (id))

/* Results of a try */
#define OK	0
#define EAGAIN	1

/* Memory orders of ring.c, and the mutants' */
#ifdef MUTANT_RELAXED_PUBLISH
#define ORD_PUB_PROD	RLX
#else
#define ORD_PUB_PROD	SC
#endif
#ifdef MUTANT_RELAXED_RELEASE
#define ORD_PUB_CONS	RLX
#else
#define ORD_PUB_CONS	SC
#endif

typedef sbuf {
	byte loc[B];
	byte val[B];
	byte kind[B];
	byte cnt;
	byte nsc;		/* seq_cst stores among them */
};

byte mem[NLOC];			/* what every thread can see */
sbuf sb[2];			/* store buffers */
byte prev[N];			/* cell value before its latest overwrite */
bit stale[N];			/* the consumer may still read prev[c] */
bit waiting[2];			/* queued in futex_wait() */
byte cons_done;			/* ghost: cells the consumer is done with */

/* The consumer's pending payload read: a flag, cells, message, scratch. */
bit pend;
byte pc, pn, pm, rh;

/* --- memory operations (t: thread; scratch ti, tv: its locals) --- */

/* The thread's latest value of location l: its buffer, else memory. */
inline latest(t, l, dst)
{
	ti = sb[t].cnt;
	dst = mem[l];
	do
	:: ti > 0 ->
		ti--;
		if
		:: sb[t].loc[ti] == l -> dst = sb[t].val[ti]; break
		:: else
		fi
	:: else -> break
	od;
	ti = 0
}

/* An acquire: no later load is satisfied before it. */
inline acquire(t)
{
	if
	:: t == CONS ->
		ti = 0;
		do
		:: ti < N -> stale[ti] = 0; ti++
		:: else -> break
		od;
		ti = 0
	:: else
	fi
}

/* A plain load of cell c by the consumer (a stale value if allowed). */
inline read_cell(c, dst)
{
	atomic {
		if
		:: stale[c] ->
			dst = prev[c];
			printf("T1 load   cell %d = %d (stale)\n", c, dst)
		:: true ->
			dst = mem[c];
			stale[c] = 0;
			printf("T1 load   cell %d = %d\n", c, dst)
		fi
	}
}

/*
 * The consumer's payload read of the last message it peeked, if still
 * pending: performed now, and checked. Every release (a release or
 * seq_cst store, a seq_cst RMW, a futex call) performs it first.
 */
inline finish_read(t)
{
	if
	:: t == CONS && pend ->
		do
		:: pn > 0 ->
			read_cell(pc % N, rh);
			assert(rh == PAY(pm));		/* payload visible */
			pc++;
			pn--
		:: else -> break
		od;
		cons_done = pc;
		pend = 0; pc = 0; pm = 0; rh = 0
	:: else
	fi
}

/* A store of kind k: into the buffer, made visible by drainer(t). */
inline store(t, l, v, k)
{
	if
	:: k != RLX -> finish_read(t)
	:: else
	fi;
	atomic {
		sb[t].cnt < B ->
		sb[t].loc[sb[t].cnt] = l;
		sb[t].val[sb[t].cnt] = v;
		sb[t].kind[sb[t].cnt] = k;
		sb[t].cnt++;
		if
		:: k == SC -> sb[t].nsc++
		:: else
		fi;
		printf("T%d store  loc %d := %d (kind %d, buffered)\n", t, l, v, k)
	}
}

inline load_rlx(t, l, dst)
{
	d_step {
		latest(t, l, dst);
		printf("T%d load   loc %d = %d (relaxed)\n", t, l, dst)
	}
}

/* seq_cst load: after the thread's seq_cst stores are visible. */
inline load_sc(t, l, dst)
{
	atomic {
		sb[t].nsc == 0 ->
		latest(t, l, dst);
		acquire(t);
		printf("T%d load   loc %d = %d (seq_cst)\n", t, l, dst)
	}
}

/* seq_cst fetch_add (d: 1) or fetch_sub (d: 255) on memory. */
inline rmw_sc(t, l, d)
{
	finish_read(t);
	atomic {
		sb[t].cnt == 0 ->
		mem[l] = mem[l] + d;
		acquire(t);
		printf("T%d rmw    loc %d := %d (seq_cst)\n", t, l, mem[l])
	}
}

/* relaxed fetch_add/sub: single-writer words only (see the top). */
inline rmw_rlx(t, l, d)
{
	atomic {
		sb[t].cnt < B ->
		latest(t, l, tv);
		sb[t].loc[sb[t].cnt] = l;
		sb[t].val[sb[t].cnt] = tv + d;
		sb[t].kind[sb[t].cnt] = RLX;
		sb[t].cnt++;
		printf("T%d rmw    loc %d := %d (relaxed, buffered)\n", t, l,
		       tv + d);
		tv = 0
	}
}

/*
 * shmdev__futex_wait(ev, seen) with no timeout: the kernel's smp_mb(),
 * then, under the hash bucket lock, queue if *ev is still seen (else
 * return at once, -EAGAIN), then sleep until woken. No spurious wakeups
 * and no signals, so a lost wake-up is a deadlock.
 */
inline futex_wait(t, l, seen)
{
	finish_read(t);
	atomic {
		sb[t].cnt == 0 ->
		if
		:: mem[l] == seen ->
			waiting[t] = 1;
			printf("T%d futex_wait(loc %d, %d): sleeps\n", t, l, seen)
		:: else ->
			printf("T%d futex_wait(loc %d, %d): -EAGAIN\n", t, l, seen)
		fi
	};
	waiting[t] == 0
}

/* shmdev__futex_wake(): smp_mb(), then wake the other side's waiter. */
inline futex_wake(t)
{
	finish_read(t);
	atomic {
		sb[t].cnt == 0 ->
		printf("T%d futex_wake: wakes %d\n", t, waiting[1 - t]);
		waiting[1 - t] = 0
	}
}

/* Makes the stores of sb[t] visible, one at a time, in any order allowed. */
proctype drainer(byte t)
{
	byte i, j, l;
	bool ok;

end_drain:
	do
	:: atomic {
		sb[t].cnt > 0 ->
		i = 0;
		do
		:: i >= sb[t].cnt -> i = 0; break
		:: else ->
			/*
			 * Entry i may go if it is the oldest, or a relaxed
			 * store with no older store to its location.
			 */
			ok = (i == 0 || sb[t].kind[i] == RLX);
			j = 0;
			do
			:: ok && j < i ->
				if
				:: sb[t].loc[j] == sb[t].loc[i] -> ok = false
				:: else
				fi;
				j++
			:: else -> break
			od;
			if
			:: ok -> break
			:: true -> i++
			fi
		od;
		l = sb[t].loc[i];
		if
		:: l < N -> prev[l] = mem[l]; stale[l] = 1
		:: else
		fi;
		mem[l] = sb[t].val[i];
		printf("T%d visible loc %d = %d\n", t, l, mem[l]);
		if
		:: sb[t].kind[i] == SC -> sb[t].nsc--
		:: else
		fi;
		do
		:: i + 1 < sb[t].cnt ->
			sb[t].loc[i] = sb[t].loc[i + 1];
			sb[t].val[i] = sb[t].val[i + 1];
			sb[t].kind[i] = sb[t].kind[i + 1];
			i++
		:: else -> break
		od;
		sb[t].cnt--;
		sb[t].loc[sb[t].cnt] = 0;
		sb[t].val[sb[t].cnt] = 0;
		sb[t].kind[sb[t].cnt] = 0;
		i = 0; j = 0; l = 0; ok = false
	   }
	od
}

/* --- the handshake (ring_block() and ring_notify()) --- */

/* atomic_fetch_add(sleepers, 1, seq_cst) in ring_block() */
inline sleeper_inc(t, slp)
{
#ifdef MUTANT_RELAXED_SLEEPERS
	rmw_rlx(t, slp, 1)
#else
	rmw_sc(t, slp, 1)
#endif
}

/* seen = atomic_load(ev, seq_cst) in ring_block() */
inline ev_load(t, ev, dst)
{
#ifdef MUTANT_RELAXED_SLEEPERS
	load_rlx(t, ev, dst)
#else
	load_sc(t, ev, dst)
#endif
}

/*
 * ring_notify(): if (atomic_load(sleepers, seq_cst)) {
 * atomic_fetch_add(ev, 1, seq_cst); futex_wake(ev); }. Doorbells are not
 * modelled.
 */
inline notify(t, slp, ev)
{
#ifdef MUTANT_RELAXED_SLEEPERS
	load_rlx(t, slp, tv);
#else
	load_sc(t, slp, tv);
#endif
	if
	:: tv > 0 ->
		tv = 0;
#ifdef MUTANT_RELAXED_SLEEPERS
		rmw_rlx(t, ev, 1);
#else
		rmw_sc(t, ev, 1);
#endif
		futex_wake(t)
	:: else
	fi
}

/* --- the producer: shmdev_ring_send() M times --- */

/* A producer's plain store to the cell of position p: not one in use. */
inline write_cell(p, v)
{
	assert(p < cons_done + N);
	store(PROD, (p) % N, v, RLX)
}

/* spsc_publish_prod(): seq_cst store of prod_pos, notify_consumers() */
inline publish_prod(p)
{
	store(PROD, L_PPOS, p, ORD_PUB_PROD);
	notify(PROD, L_CSLP, L_PEV)
}

/* spsc_try_reserve(): room for a record of size units at pos? */
inline try_reserve()
{
	load_rlx(PROD, L_PPOS, pos);
	do
	:: true ->
		load_sc(PROD, L_CPOS, tail);
		used = pos - tail;
		assert(used <= N);			/* else -EPROTO */
		off = pos % N;
		contig = N - off;
		if
		:: size <= contig ->
			if
			:: size > N - used -> ret = EAGAIN
			:: else -> ret = OK
			fi;
			break
		:: contig > N - used ->
			ret = EAGAIN;
			break
		:: else ->
			/* pad to the end and start over at 0 */
			write_cell(pos, PADHDR(contig));
			pos = pos + contig;
			publish_prod(pos)
		fi
	od;
	tail = 0; used = 0; off = 0; contig = 0
}

#define BLOCK_NAME block_prod
#define BLOCK_SIDE PROD
#define TRY try_reserve()
#include "ring_block.pml"
#undef BLOCK_NAME
#undef BLOCK_SIDE
#undef TRY

proctype producer()
{
	byte msg, size, pos, tail, used, off, contig, seen, ret, i, ti, tv;

	do
	:: msg < M ->
#ifdef NONDET_SIZES
		if
		:: size = 2
		:: size = 3
		fi;
#else
		size = 2 + msg % 2;
#endif
		/* shmdev_ring_reserve(): ring_block(SIDE_PROD, reserve) */
		try_reserve();
		block_prod(PROD, L_PSLP, L_CEV);
		/* memcpy() of the payload; spsc_commit(): header, publish */
		i = 1;
		do
		:: i < size -> write_cell(pos + i, PAY(msg)); i++
		:: else -> break
		od;
		write_cell(pos, HDR(msg, size));
		publish_prod(pos + size);
		msg++;
		i = 0; pos = 0; size = 0; ret = 0
	:: else -> break
	od
}

/* --- the consumer: shmdev_ring_recv() M times --- */

/* spsc_publish_cons(): seq_cst store of cons_pos, notify_producers() */
inline publish_cons(p)
{
	store(CONS, L_CPOS, p, ORD_PUB_CONS);
	notify(CONS, L_PSLP, L_CEV)
}

/* spsc_try_peek(): is there a record at pos? Skips padding. */
inline try_peek()
{
	finish_read(CONS);
	load_rlx(CONS, L_CPOS, pos);
	do
	:: true ->
#ifdef MUTANT_RELAXED_ACQUIRE
		load_rlx(CONS, L_PPOS, head);
#else
		load_sc(CONS, L_PPOS, head);
#endif
		avail = head - pos;
		assert(avail <= N);			/* else -EPROTO */
		if
		:: avail == 0 -> ret = EAGAIN; break
		:: else
		fi;
		off = pos % N;
		read_cell(off, h);
		if
		:: IS_PAD(h) ->
			size = PAD_SIZE(h);
			assert(size == N - off && size <= avail);
			pos = pos + size;
			cons_done = pos;
			publish_cons(pos)
		:: else ->
			/* the next message, whole, in order */
			assert(IS_HDR(h) && HDR_ID(h) == msg);
			size = HDR_SIZE(h);
			assert(size >= 2 && size <= N - off && size <= avail);
			ret = OK;
			break
		fi
	od;
	head = 0; avail = 0; off = 0; h = 0
}

#define BLOCK_NAME block_cons
#define BLOCK_SIDE CONS
#define TRY try_peek()
#include "ring_block.pml"
#undef BLOCK_NAME
#undef BLOCK_SIDE
#undef TRY

proctype consumer()
{
	byte msg, pos, head, avail, off, size, h, seen, ret, ti, tv;

	do
	:: msg < M ->
		/* shmdev_ring_peek(): ring_block(SIDE_CONS, peek) */
		try_peek();
		block_cons(CONS, L_CSLP, L_PEV);
		/* memcpy() of the payload: a read that may be performed late */
		pend = 1; pc = pos + 1; pn = size - 1; pm = msg;
		if
		:: finish_read(CONS)
		:: skip
		fi;
		/* shmdev_ring_release(): spsc_release() */
		publish_cons(pos + size);
		if
		:: finish_read(CONS)
		:: skip
		fi;
		msg++;
		pos = 0; size = 0; ret = 0
	:: else -> break
	od;
	finish_read(CONS);
	assert(msg == M)
}

init {
	atomic {
		run producer();
		run consumer();
		run drainer(PROD);
		run drainer(CONS)
	}
}
