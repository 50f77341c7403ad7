/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * Layout of a ring in shared memory (see the top of ring.c). The tests
 * include this header to corrupt rings on purpose.
 */
#ifndef LIBSHMDEV_RING_PRIVATE_H
#define LIBSHMDEV_RING_PRIVATE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "libshmdev/ring.h"

#define RING_MAGIC		0x474e5253U	/* "SRNG" */
#define RING_CACHELINE		128
#define RING_SPSC_MIN_DATA	64
#define RING_MPMC_MAX_SLOTS	(1ULL << 30)
#define RING_SLOT_ALIGN		64

/* A peer table entry of a process that detached. */
#define PEER_DETACHED		UINT32_MAX

/* rec_hdr.flags */
#define REC_PAD			(1U << 0)

/* ring_slot.len of a message that shmdev_ring_abort() cancelled. */
#define SLOT_ABORTED		UINT32_MAX

enum ring_side { SIDE_PROD, SIDE_CONS };

struct ring_hdr {
	/* Geometry: written by shmdev_ring_init() before magic, then fixed. */
	uint32_t magic;
	uint32_t version;
	uint32_t hdr_size;
	uint32_t flags;
	uint64_t data_size;		/* bytes of the data area */
	uint32_t msg_max;		/* largest message */
	uint32_t slot_size;		/* MPMC: bytes per slot; SPSC: 0 */
	uint64_t nr_slots;		/* MPMC: power of two; SPSC: 0 */
	uint32_t max_peers;		/* entries per peer table */
	uint32_t reserved0;
	uint8_t pad0[RING_CACHELINE - 48];

	/* Written by producers. */
	_Atomic uint64_t prod_pos;	/* SPSC: bytes; MPMC: next slot */
	_Atomic uint32_t prod_ev;	/* futex consumers sleep on */
	_Atomic uint32_t cons_sleepers;	/* consumers asleep on prod_ev */
	_Atomic uint32_t cons_bellwait;	/* a consumer waits on the doorbell */
	_Atomic uint32_t detaches;	/* detaches so far, by either side */
	uint8_t pad1[RING_CACHELINE - 24];

	/* Written by consumers. */
	_Atomic uint64_t cons_pos;	/* SPSC: bytes; MPMC: next slot */
	_Atomic uint32_t cons_ev;	/* futex producers sleep on */
	_Atomic uint32_t prod_sleepers;	/* producers asleep on cons_ev */
	_Atomic uint64_t dropped;	/* messages lost to dead processes */
	_Atomic uint32_t prod_bellwait;	/* a producer waits on the doorbell */
	uint8_t pad2[RING_CACHELINE - 28];

	/* PIDs, 0 (never used) or PEER_DETACHED. */
	_Atomic uint32_t producers[SHMDEV_RING_MAX_PEERS];
	_Atomic uint32_t consumers[SHMDEV_RING_MAX_PEERS];

	uint8_t pad3[SHMDEV_RING_HDR_SIZE - 3 * RING_CACHELINE -
		     2 * 4 * SHMDEV_RING_MAX_PEERS];
};

_Static_assert(sizeof(struct ring_hdr) == SHMDEV_RING_HDR_SIZE,
	       "ring header size");
_Static_assert(offsetof(struct ring_hdr, prod_pos) == 128,
	       "producer cache line");
_Static_assert(offsetof(struct ring_hdr, cons_pos) == 256,
	       "consumer cache line");
_Static_assert(offsetof(struct ring_hdr, producers) == 384,
	       "peer tables");

struct rec_hdr {
	uint32_t len;			/* payload bytes */
	uint32_t flags;			/* REC_PAD */
};

struct ring_slot {
	_Atomic uint64_t state;		/* seq | owner << 32 */
	uint32_t len;			/* payload bytes or SLOT_ABORTED */
	uint32_t pad;
	unsigned char data[];
};

_Static_assert(sizeof(struct rec_hdr) == 8, "record header size");
_Static_assert(sizeof(struct ring_slot) == 16, "slot header size");

#endif /* LIBSHMDEV_RING_PRIVATE_H */
