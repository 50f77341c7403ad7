// SPDX-License-Identifier: GPL-2.0
/*
 * Host tests of the libshmdev message rings, on memfd regions mapped at
 * different addresses by different processes.
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

#include "libshmdev/ring.h"
#include "ring-private.h"
#include "test_util.h"

#define RING_DATA	(64 * 1024)
#define RING_LEN	(SHMDEV_RING_HDR_SIZE + RING_DATA)
#define MSG_MAX		1024
#define SEC		1000000000LL

/*
 * Regions of the multi-process tests: the ring, then a control page, then
 * whatever the test records (the ring comes first so that it is aligned).
 */
struct control {
	_Atomic int flag;
	_Atomic long received;
	_Atomic long duplicates;
	_Atomic long misordered;
	_Atomic long corrupt;
	long messages;
};

static struct control *control_of(void *mem, size_t ring_len)
{
	return (struct control *)((char *)mem + ring_len);
}

/*
 * A region of @len bytes with a ring of @ring_len bytes at its start,
 * formatted for @msg_max and @flags, attached as @r.
 */
static void ring_region_create(struct __test_metadata *_metadata,
			       struct region *reg, size_t len, size_t ring_len,
			       size_t msg_max, unsigned int flags,
			       struct shmdev_ring *r)
{
	ASSERT_EQ(0, region_create(reg, len));
	ASSERT_EQ(0, shmdev_ring_init(reg->mem, ring_len, msg_max, flags));
	ASSERT_EQ(0, shmdev_ring_attach(reg->mem, ring_len, r));
}

/* Receives the next message of @r: it must be the @len bytes of @want. */
static void recv_expect(struct __test_metadata *_metadata,
			struct shmdev_ring *r, const char *want, size_t len)
{
	char buf[MSG_MAX];
	size_t got;

	ASSERT_EQ(0, shmdev_ring_recv(r, buf, sizeof(buf), &got, 0));
	ASSERT_EQ(len, got);
	EXPECT_EQ(0, memcmp(buf, want, len));
}

/* A non-blocking receive into a scratch buffer: its result. */
static int try_recv(struct shmdev_ring *r)
{
	char buf[MSG_MAX];
	size_t len;

	return shmdev_ring_recv(r, buf, sizeof(buf), &len, 0);
}

FIXTURE(ring) {
	struct region reg;
	struct shmdev_ring r;
	struct control *ctl;
};

FIXTURE_VARIANT(ring) {
	unsigned int flags;
};

FIXTURE_VARIANT_ADD(ring, spsc) {
	.flags = 0,
};

FIXTURE_VARIANT_ADD(ring, mpmc) {
	.flags = SHMDEV_RING_MPMC,
};

FIXTURE_SETUP(ring)
{
	ring_region_create(_metadata, &self->reg, RING_LEN + 4096, RING_LEN,
			   MSG_MAX, variant->flags, &self->r);
	self->ctl = control_of(self->reg.mem, RING_LEN);
}

FIXTURE_TEARDOWN(ring)
{
	region_destroy(&self->reg);
}

TEST_F(ring, send_recv_round_trip)
{
	ASSERT_EQ(0, shmdev_ring_send(&self->r, "hello", 5, 0));
	ASSERT_EQ(0, shmdev_ring_send(&self->r, "world!", 6, 0));
	recv_expect(_metadata, &self->r, "hello", 5);
	recv_expect(_metadata, &self->r, "world!", 6);
	EXPECT_EQ(-EAGAIN, try_recv(&self->r));
}

TEST_F(ring, zero_length_and_msg_max_messages)
{
	static char big[MSG_MAX], out[MSG_MAX];
	size_t len = 99;

	memset(big, 0x5a, sizeof(big));
	ASSERT_EQ(0, shmdev_ring_send(&self->r, NULL, 0, 0));
	ASSERT_EQ(0, shmdev_ring_send(&self->r, big, MSG_MAX, 0));
	ASSERT_EQ(0, shmdev_ring_recv(&self->r, out, sizeof(out), &len, 0));
	EXPECT_EQ(0, len);
	ASSERT_EQ(0, shmdev_ring_recv(&self->r, out, sizeof(out), &len, 0));
	EXPECT_EQ(MSG_MAX, len);
	EXPECT_EQ(0, memcmp(big, out, MSG_MAX));
}

TEST_F(ring, send_above_msg_max_returns_emsgsize)
{
	static char big[MSG_MAX + 1];

	EXPECT_EQ(-EMSGSIZE, shmdev_ring_send(&self->r, big, sizeof(big), 0));
}

TEST_F(ring, recv_into_small_buffer_returns_emsgsize_and_keeps_message)
{
	char buf[16];
	size_t len = 0;

	ASSERT_EQ(0, shmdev_ring_send(&self->r, "0123456789", 10, 0));
	EXPECT_EQ(-EMSGSIZE, shmdev_ring_recv(&self->r, buf, 4, &len, 0));
	EXPECT_EQ(10, len);
	ASSERT_EQ(0, shmdev_ring_recv(&self->r, buf, sizeof(buf), &len, 0));
	EXPECT_EQ(10, len);
	EXPECT_EQ(0, memcmp(buf, "0123456789", 10));
}

TEST_F(ring, recv_on_empty_ring_nonblocking_returns_eagain)
{
	const void *p;
	size_t len;

	EXPECT_EQ(-EAGAIN, shmdev_ring_peek(&self->r, &p, &len, 0));
}

TEST_F(ring, recv_on_empty_ring_times_out)
{
	char buf[8];
	size_t len;
	int64_t t0 = now_ns();

	EXPECT_EQ(-ETIMEDOUT, shmdev_ring_recv(&self->r, buf, sizeof(buf),
					       &len, 50000000));
	EXPECT_GE(now_ns() - t0, 50000000);
	EXPECT_LT(now_ns() - t0, 5 * SEC);
}

TEST_F(ring, send_on_full_ring_returns_eagain_then_times_out)
{
	char msg[100] = "x";
	int i, ret = 0;
	int64_t t0;

	for (i = 0; i < 100000; i++) {
		ret = shmdev_ring_send(&self->r, msg, sizeof(msg), 0);
		if (ret)
			break;
	}
	EXPECT_EQ(-EAGAIN, ret);
	EXPECT_GT(i, 10);
	t0 = now_ns();
	EXPECT_EQ(-ETIMEDOUT, shmdev_ring_send(&self->r, msg, sizeof(msg),
					       30000000));
	EXPECT_GE(now_ns() - t0, 30000000);
}

TEST_F(ring, reserve_commit_peek_release_in_place)
{
	const void *in;
	void *out;
	size_t len;

	ASSERT_EQ(0, shmdev_ring_reserve(&self->r, 100, &out, 0));
	memcpy(out, "in place", 8);
	ASSERT_EQ(0, shmdev_ring_commit(&self->r, 8));
	ASSERT_EQ(0, shmdev_ring_peek(&self->r, &in, &len, 0));
	EXPECT_EQ(8, len);
	EXPECT_EQ(0, memcmp(in, "in place", 8));
	/* A second peek sees the same message. */
	ASSERT_EQ(0, shmdev_ring_peek(&self->r, &in, &len, 0));
	EXPECT_EQ(8, len);
	ASSERT_EQ(0, shmdev_ring_release(&self->r));
	EXPECT_EQ(-EAGAIN, shmdev_ring_peek(&self->r, &in, &len, 0));
}

TEST_F(ring, commit_longer_than_reserved_returns_einval)
{
	void *out;

	ASSERT_EQ(0, shmdev_ring_reserve(&self->r, 10, &out, 0));
	EXPECT_EQ(-EINVAL, shmdev_ring_commit(&self->r, 11));
	EXPECT_EQ(0, shmdev_ring_commit(&self->r, 10));
}

TEST_F(ring, commit_or_abort_without_reserve_returns_einval)
{
	EXPECT_EQ(-EINVAL, shmdev_ring_commit(&self->r, 0));
	EXPECT_EQ(-EINVAL, shmdev_ring_abort(&self->r));
}

TEST_F(ring, second_reserve_returns_ebusy)
{
	void *out;

	ASSERT_EQ(0, shmdev_ring_reserve(&self->r, 10, &out, 0));
	EXPECT_EQ(-EBUSY, shmdev_ring_reserve(&self->r, 10, &out, 0));
	EXPECT_EQ(0, shmdev_ring_abort(&self->r));
}

TEST_F(ring, release_without_peek_returns_einval)
{
	EXPECT_EQ(-EINVAL, shmdev_ring_release(&self->r));
}

TEST_F(ring, abort_discards_the_reservation)
{
	void *out;

	ASSERT_EQ(0, shmdev_ring_reserve(&self->r, 10, &out, 0));
	memcpy(out, "discarded", 9);
	ASSERT_EQ(0, shmdev_ring_abort(&self->r));
	ASSERT_EQ(0, shmdev_ring_send(&self->r, "kept", 4, 0));
	recv_expect(_metadata, &self->r, "kept", 4);
	EXPECT_EQ(-EAGAIN, try_recv(&self->r));
}

TEST_F(ring, bad_arguments_return_einval)
{
	struct shmdev_ring unattached;
	const void *in;
	size_t len;
	char buf[4];

	memset(&unattached, 0, sizeof(unattached));
	EXPECT_EQ(-EINVAL, shmdev_ring_send(&unattached, "x", 1, 0));
	EXPECT_EQ(-EINVAL, shmdev_ring_recv(&unattached, buf, 4, &len, 0));
	EXPECT_EQ(-EINVAL, shmdev_ring_detach(&unattached));
	EXPECT_EQ(-EINVAL, shmdev_ring_send(&self->r, NULL, 1, 0));
	EXPECT_EQ(-EINVAL, shmdev_ring_recv(&self->r, NULL, 4, &len, 0));
	EXPECT_EQ(-EINVAL, shmdev_ring_recv(&self->r, buf, 4, NULL, 0));
	EXPECT_EQ(-EINVAL, shmdev_ring_reserve(&self->r, 1, NULL, 0));
	EXPECT_EQ(-EINVAL, shmdev_ring_peek(&self->r, NULL, &len, 0));
	EXPECT_EQ(-EINVAL, shmdev_ring_peek(&self->r, &in, NULL, 0));
	EXPECT_EQ(-EINVAL, shmdev_ring_info(&self->r, NULL));
}

TEST_F(ring, info_reports_geometry_and_use)
{
	struct shmdev_ring_info info;

	ASSERT_EQ(0, shmdev_ring_info(&self->r, &info));
	EXPECT_EQ(variant->flags, info.flags);
	EXPECT_EQ(MSG_MAX, info.msg_max);
	/* The largest power of two that fits: slots of 16 + 1024 -> 1088. */
	EXPECT_EQ((variant->flags & SHMDEV_RING_MPMC) ? 32 : RING_DATA,
		  info.capacity);
	EXPECT_EQ(0, info.used);
	ASSERT_EQ(0, shmdev_ring_send(&self->r, "x", 1, 0));
	ASSERT_EQ(0, shmdev_ring_info(&self->r, &info));
	EXPECT_EQ((variant->flags & SHMDEV_RING_MPMC) ? 1 : 16, info.used);
	EXPECT_EQ(0, info.dropped);
}

TEST_F(ring, fifo_order_across_many_wraparounds)
{
	unsigned char msg[MSG_MAX], out[MSG_MAX];
	uint64_t seed = 1;
	long sent = 0, got = 0;
	size_t len, n;
	int ret;

	while (got < 20000) {
		/* Send a burst until full, then drain part of it. */
		while (sent < 20000) {
			n = rng_next(&seed) % (MSG_MAX + 1);
			fill_payload(msg, n, sent);
			ret = shmdev_ring_send(&self->r, msg, n, 0);
			if (ret == -EAGAIN)
				break;
			ASSERT_EQ(0, ret);
			sent++;
		}
		do {
			ASSERT_EQ(0, shmdev_ring_recv(&self->r, out,
						      sizeof(out), &len, 0));
			fill_payload(msg, len, got);
			ASSERT_EQ(0, memcmp(msg, out, len));
			got++;
		} while (got < sent && (got & 3));
	}
	EXPECT_EQ(-EAGAIN, shmdev_ring_recv(&self->r, out, sizeof(out), &len,
					    0));
}

TEST_F(ring, works_through_two_mappings_at_different_addresses)
{
	struct shmdev_ring r2;
	void *mem2 = region_map_again(&self->reg);

	ASSERT_NE(NULL, mem2);
	ASSERT_NE(self->reg.mem, mem2);
	ASSERT_EQ(0, shmdev_ring_attach(mem2, RING_LEN, &r2));
	ASSERT_EQ(0, shmdev_ring_send(&self->r, "through A", 9, 0));
	recv_expect(_metadata, &r2, "through A", 9);
	ASSERT_EQ(0, shmdev_ring_send(&r2, "through B", 9, 0));
	recv_expect(_metadata, &self->r, "through B", 9);
	munmap(mem2, self->reg.len);
}

/* Consumes ctl->messages messages, then dies by SIGKILL. */
static int consume_then_die(void *mem, void *arg)
{
	struct control *ctl = control_of(mem, RING_LEN);
	struct shmdev_ring r;
	char buf[MSG_MAX];
	size_t len;
	long i;

	(void)arg;
	if (shmdev_ring_attach(mem, RING_LEN, &r))
		return 1;
	atomic_store(&ctl->flag, 1);
	for (i = 0; i < ctl->messages; i++)
		if (shmdev_ring_recv(&r, buf, sizeof(buf), &len, 10 * SEC))
			return 2;
	/* Die holding a peeked message, the worst moment. */
	shmdev_ring_peek(&r, (const void **)&arg, &len, 10 * SEC);
	raise(SIGKILL);
	return 3;
}

TEST_F(ring, consumer_killed_mid_stream_producer_gets_epipe)
{
	char msg[200] = "payload";
	struct worker w;
	int64_t t0;
	long sent = 0;
	int ret;

	self->ctl->messages = 1000;
	ASSERT_EQ(0, worker_start(&w, &self->reg, consume_then_die, NULL,
				  true));
	t0 = now_ns();
	for (;;) {
		ret = shmdev_ring_send(&self->r, msg, sizeof(msg), -1);
		if (ret)
			break;
		sent++;
	}
	EXPECT_EQ(-EPIPE, ret);
	EXPECT_GE(sent, 1000);
	EXPECT_LT(now_ns() - t0, 10 * SEC);
	EXPECT_EQ(128 + SIGKILL, worker_join(&w));
}

/* Sends ctl->messages messages, then exits without detaching. */
static int produce_then_exit(void *mem, void *arg)
{
	struct control *ctl = control_of(mem, RING_LEN);
	struct shmdev_ring r;
	long i;

	(void)arg;
	if (shmdev_ring_attach(mem, RING_LEN, &r))
		return 1;
	for (i = 0; i < ctl->messages; i++)
		if (shmdev_ring_send(&r, &i, sizeof(i), 10 * SEC))
			return 2;
	return 0;
}

TEST_F(ring, producer_exited_consumer_drains_then_gets_epipe)
{
	struct worker w;
	long i, v;
	size_t len;
	int ret;

	self->ctl->messages = 5000;
	ASSERT_EQ(0, worker_start(&w, &self->reg, produce_then_exit, NULL,
				  true));
	for (i = 0;; i++) {
		ret = shmdev_ring_recv(&self->r, &v, sizeof(v), &len, -1);
		if (ret)
			break;
		ASSERT_EQ(i, v);
	}
	EXPECT_EQ(-EPIPE, ret);
	EXPECT_EQ(5000, i);
	EXPECT_EQ(0, worker_join(&w));
}

TEST_F(ring, detached_peer_gives_epipe)
{
	struct shmdev_ring r2;
	char buf[8];
	size_t len;

	ASSERT_EQ(0, shmdev_ring_attach(self->reg.mem, RING_LEN, &r2));
	ASSERT_EQ(0, shmdev_ring_send(&r2, "x", 1, 0));
	ASSERT_EQ(0, shmdev_ring_detach(&r2));
	/* Same process: the table entry says detached. */
	ASSERT_EQ(0, shmdev_ring_recv(&self->r, buf, sizeof(buf), &len, -1));
	EXPECT_EQ(-EPIPE, shmdev_ring_recv(&self->r, buf, sizeof(buf), &len,
					   -1));
}

TEST_F(ring, corrupted_counters_after_attach_give_eproto)
{
	unsigned char *data = (unsigned char *)self->reg.mem +
			      SHMDEV_RING_HDR_SIZE;
	struct ring_hdr *h = self->reg.mem;
	struct ring_slot *slot;
	char buf[8];
	size_t len;
	int i;

	ASSERT_EQ(0, shmdev_ring_send(&self->r, "x", 1, 0));
	if (variant->flags & SHMDEV_RING_MPMC) {
		/* Slots 0 and 1 claim to be from laps long gone. */
		for (i = 0; i < 2; i++) {
			slot = (struct ring_slot *)(data + i * h->slot_size);
			atomic_store(&slot->state, (uint32_t)(i - 5));
		}
	} else {
		atomic_store(&h->prod_pos, 0x7777777777777777ULL);
	}
	EXPECT_EQ(-EPROTO, shmdev_ring_recv(&self->r, buf, sizeof(buf), &len,
					    0));
	EXPECT_EQ(-EPROTO, shmdev_ring_send(&self->r, "x", 1, 0));
	EXPECT_EQ(-EPROTO, shmdev_ring_send(&self->r, "x", 1, -1));
}

TEST_F(ring, scribbled_data_area_never_faults)
{
	unsigned char *data = (unsigned char *)self->reg.mem +
			      SHMDEV_RING_HDR_SIZE;
	unsigned char buf[MSG_MAX];
	uint64_t seed = 42;
	size_t len, i;
	int round, ret, k;

	memset(buf, 0, sizeof(buf));
	/*
	 * A hostile producer writes garbage over records and slots; the
	 * consumer must only ever fail cleanly (ASan checks the bounds).
	 */
	for (round = 0; round < 2000; round++) {
		for (k = 0; k < 4; k++)
			shmdev_ring_send(&self->r, buf, rng_next(&seed) %
					 MSG_MAX, 0);
		for (i = 0; i < 16; i++)
			data[rng_next(&seed) % RING_DATA] = rng_next(&seed);
		for (k = 0; k < 8; k++) {
			ret = shmdev_ring_recv(&self->r, buf, sizeof(buf),
					       &len, 0);
			ASSERT_TRUE(ret == 0 || ret == -EAGAIN ||
				    ret == -EPROTO || ret == -EMSGSIZE);
			if (ret == 0)
				ASSERT_LE(len, MSG_MAX);
			if (ret == -EMSGSIZE)
				shmdev_ring_release(&self->r);
			if (ret == -EPROTO)
				break;
		}
		if (ret == -EPROTO) {
			/* Start over on a fresh ring. */
			ASSERT_EQ(0, shmdev_ring_init(self->reg.mem, RING_LEN,
						      MSG_MAX,
						      variant->flags));
			ASSERT_EQ(0, shmdev_ring_attach(self->reg.mem,
							RING_LEN, &self->r));
		}
	}
}

TEST(ring_init_rejects_bad_arguments)
{
	static uint64_t mem[RING_LEN / 8];

	EXPECT_EQ(-EINVAL, shmdev_ring_init(NULL, RING_LEN, 0, 0));
	EXPECT_EQ(-EINVAL, shmdev_ring_init(mem, RING_LEN, 0, 1U << 7));
	EXPECT_EQ(-EINVAL, shmdev_ring_init((char *)mem + 4, RING_LEN - 8,
					    0, 0));
	EXPECT_EQ(-EINVAL, shmdev_ring_init(mem, SHMDEV_RING_HDR_SIZE + 32,
					    0, 0));
	EXPECT_EQ(-EINVAL, shmdev_ring_init(mem, RING_LEN, RING_DATA, 0));
	EXPECT_EQ(-EINVAL, shmdev_ring_init(mem, RING_LEN, 0,
					    SHMDEV_RING_MPMC));
	EXPECT_EQ(-EINVAL, shmdev_ring_init(mem, RING_LEN, RING_DATA / 2,
					    SHMDEV_RING_MPMC));
	EXPECT_EQ(0, shmdev_ring_init(mem, RING_LEN, RING_DATA - 8, 0));
	EXPECT_EQ(0, shmdev_ring_init(mem, RING_LEN, 100, SHMDEV_RING_MPMC));
}

TEST(ring_attach_rejects_bad_arguments)
{
	static uint64_t mem[RING_LEN / 8];
	struct shmdev_ring r;

	ASSERT_EQ(0, shmdev_ring_init(mem, RING_LEN, 0, 0));
	EXPECT_EQ(-EINVAL, shmdev_ring_attach(NULL, RING_LEN, &r));
	EXPECT_EQ(-EINVAL, shmdev_ring_attach(mem, RING_LEN, NULL));
	EXPECT_EQ(-EINVAL, shmdev_ring_attach((char *)mem + 1, RING_LEN, &r));
	EXPECT_EQ(-EINVAL, shmdev_ring_attach(mem, 100, &r));
}

TEST(ring_attach_rejects_unformatted_region)
{
	static uint64_t mem[RING_LEN / 8];
	struct shmdev_ring r;

	EXPECT_EQ(-EPROTO, shmdev_ring_attach(mem, RING_LEN, &r));
}

/* A header with @field (at @off, @size bytes) set to @val: attach says? */
static int attach_with(unsigned int flags, size_t off, size_t size,
		       uint64_t val)
{
	static uint64_t mem[RING_LEN / 8];
	struct shmdev_ring r;

	if (shmdev_ring_init(mem, RING_LEN, 512, flags))
		return 1;
	if (size == 4)
		*(uint32_t *)((char *)mem + off) = val;
	else
		*(uint64_t *)((char *)mem + off) = val;
	return shmdev_ring_attach(mem, RING_LEN, &r);
}

#define ATTACH_WITH(flags, field, val) \
	attach_with(flags, offsetof(struct ring_hdr, field), \
		    sizeof(((struct ring_hdr *)0)->field), val)

TEST(ring_attach_rejects_other_version)
{
	EXPECT_EQ(-EPROTONOSUPPORT, ATTACH_WITH(0, version, 2));
}

TEST(ring_attach_rejects_data_area_beyond_region)
{
	EXPECT_EQ(-EPROTO, ATTACH_WITH(0, data_size, (uint64_t)RING_DATA * 2));
	EXPECT_EQ(-EPROTO, ATTACH_WITH(0, data_size, 1ULL << 63));
	EXPECT_EQ(-EPROTO, ATTACH_WITH(SHMDEV_RING_MPMC, nr_slots, 1ULL << 40));
}

TEST(ring_attach_rejects_bad_geometry)
{
	EXPECT_EQ(-EPROTO, ATTACH_WITH(0, data_size, RING_DATA / 2 + 8));
	EXPECT_EQ(-EPROTO, ATTACH_WITH(0, hdr_size, 512));
	EXPECT_EQ(-EPROTO, ATTACH_WITH(0, flags, 0x80));
	EXPECT_EQ(-EPROTO, ATTACH_WITH(0, msg_max, RING_DATA));
	EXPECT_EQ(-EPROTO, ATTACH_WITH(0, msg_max, 0));
	EXPECT_EQ(-EPROTO, ATTACH_WITH(0, max_peers, 1000));
	EXPECT_EQ(-EPROTO, ATTACH_WITH(SHMDEV_RING_MPMC, slot_size, 8));
	EXPECT_EQ(-EPROTO, ATTACH_WITH(SHMDEV_RING_MPMC, msg_max, 4000));
	EXPECT_EQ(-EPROTO, ATTACH_WITH(SHMDEV_RING_MPMC, nr_slots, 3));
	EXPECT_EQ(-EPROTO, ATTACH_WITH(SHMDEV_RING_MPMC, flags, 0));
}

TEST(ring_attach_rejects_inconsistent_counters)
{
	EXPECT_EQ(-EPROTO, ATTACH_WITH(0, prod_pos, RING_DATA + 8));
	EXPECT_EQ(-EPROTO, ATTACH_WITH(0, prod_pos, 4));
	EXPECT_EQ(-EPROTO, ATTACH_WITH(0, cons_pos, 8));
	EXPECT_EQ(-EPROTO, ATTACH_WITH(SHMDEV_RING_MPMC, prod_pos, 1000));
	EXPECT_EQ(-EPROTO, ATTACH_WITH(SHMDEV_RING_MPMC, cons_pos, 5));
}

TEST(ring_attach_survives_random_headers)
{
	static uint64_t mem[RING_LEN / 8];
	unsigned char *p = (unsigned char *)mem;
	struct shmdev_ring r;
	uint64_t seed = 7;
	unsigned char buf[64];
	size_t len;
	int i, k, ret, ok = 0;

	for (i = 0; i < 20000; i++) {
		ASSERT_EQ(0, shmdev_ring_init(mem, RING_LEN, 256,
					      i & 1 ? SHMDEV_RING_MPMC : 0));
		for (k = 0; k < 1 + (i % 4); k++)
			p[rng_next(&seed) % 300] ^= 1 << (rng_next(&seed) % 8);
		ret = shmdev_ring_attach(mem, RING_LEN, &r);
		ASSERT_TRUE(ret == 0 || ret == -EPROTO ||
			    ret == -EPROTONOSUPPORT);
		if (ret)
			continue;
		ok++;
		ret = shmdev_ring_send(&r, buf, sizeof(buf), 0);
		ASSERT_TRUE(ret == 0 || ret == -EAGAIN || ret == -EPROTO ||
			    ret == -EMSGSIZE);
		ret = shmdev_ring_recv(&r, buf, sizeof(buf), &len, 0);
		ASSERT_TRUE(ret == 0 || ret == -EAGAIN || ret == -EPROTO ||
			    ret == -EMSGSIZE);
	}
	EXPECT_GT(ok, 0);
}

TEST(ring_spsc_second_live_producer_returns_ebusy)
{
	struct region reg;
	struct shmdev_ring r;
	struct worker w;

	ring_region_create(_metadata, &reg, RING_LEN + 4096, RING_LEN, 0, 0,
			   &r);
	ASSERT_EQ(0, shmdev_ring_send(&r, "x", 1, 0));
	control_of(reg.mem, RING_LEN)->messages = 1;
	/* A second process may not produce while this one lives. */
	ASSERT_EQ(0, worker_start(&w, &reg, produce_then_exit, NULL, true));
	EXPECT_EQ(2, worker_join(&w));
	region_destroy(&reg);
}

/*
 * The long SPSC test: ctl->messages messages of random sizes, each
 * [sequence number, checksum of the payload, payload from a generator
 * seeded by the sequence number], half sent by copy and half in place.
 */
#define STREAM_HDR	12
#define STREAM_MAX	512

static size_t stream_len(uint64_t seq)
{
	uint64_t s = rng_seed(seq, 99);

	return STREAM_HDR + rng_next(&s) % (STREAM_MAX - STREAM_HDR + 1);
}

static void stream_fill(unsigned char *p, uint64_t seq, size_t len)
{
	uint32_t sum;

	fill_payload(p + STREAM_HDR, len - STREAM_HDR, rng_seed(seq, 1));
	sum = fnv1a(p + STREAM_HDR, len - STREAM_HDR);
	memcpy(p, &seq, 8);
	memcpy(p + 8, &sum, 4);
}

static int stream_producer(void *mem, void *arg)
{
	struct control *ctl = control_of(mem, RING_LEN);
	unsigned char msg[STREAM_MAX];
	struct shmdev_ring r;
	uint64_t seq;
	size_t len;
	void *out;

	(void)arg;
	if (shmdev_ring_attach(mem, RING_LEN, &r))
		return 1;
	for (seq = 0; seq < (uint64_t)ctl->messages; seq++) {
		len = stream_len(seq);
		if (seq & 1) {
			if (shmdev_ring_reserve(&r, STREAM_MAX, &out, 30 * SEC))
				return 2;
			stream_fill(out, seq, len);
			if (shmdev_ring_commit(&r, len))
				return 3;
		} else {
			stream_fill(msg, seq, len);
			if (shmdev_ring_send(&r, msg, len, 30 * SEC))
				return 4;
		}
	}
	return 0;
}

static int stream_check(const unsigned char *p, size_t len, uint64_t seq)
{
	uint64_t got_seq;
	uint32_t sum;

	if (len != stream_len(seq))
		return 1;
	memcpy(&got_seq, p, 8);
	memcpy(&sum, p + 8, 4);
	if (got_seq != seq)
		return 2;
	if (sum != fnv1a(p + STREAM_HDR, len - STREAM_HDR))
		return 3;
	return 0;
}

static int stream_consumer(void *mem, void *arg)
{
	struct control *ctl = control_of(mem, RING_LEN);
	unsigned char msg[STREAM_MAX], want[STREAM_MAX];
	struct shmdev_ring r;
	const void *in;
	uint64_t seq;
	size_t len;
	int ret;

	(void)arg;
	if (shmdev_ring_attach(mem, RING_LEN, &r))
		return 1;
	for (seq = 0; seq < (uint64_t)ctl->messages; seq++) {
		if (seq & 2) {
			ret = shmdev_ring_peek(&r, &in, &len, 30 * SEC);
			if (ret) {
				fprintf(stderr, "# peek of %llu: %s\n",
					(unsigned long long)seq,
					strerror(-ret));
				return 2;
			}
			if (stream_check(in, len, seq))
				return 3;
			/* Spot-check the payload itself now and then. */
			if (!(seq & 1023)) {
				stream_fill(want, seq, len);
				if (memcmp(want, in, len))
					return 4;
			}
			if (shmdev_ring_release(&r))
				return 5;
		} else {
			if (shmdev_ring_recv(&r, msg, sizeof(msg), &len,
					     30 * SEC))
				return 6;
			if (stream_check(msg, len, seq))
				return 7;
		}
	}
	/* Nothing more than what was sent. */
	return shmdev_ring_recv(&r, msg, sizeof(msg), &len, 0) == -EAGAIN ?
	       0 : 8;
}

TEST(ring_spsc_million_random_messages_between_two_processes)
{
	struct worker prod, cons;
	struct region reg;
	struct control *ctl;

	ASSERT_EQ(0, region_create(&reg, RING_LEN + 4096));
	ASSERT_EQ(0, shmdev_ring_init(reg.mem, RING_LEN, STREAM_MAX, 0));
	ctl = control_of(reg.mem, RING_LEN);
	ctl->messages = test_messages();
	ASSERT_EQ(0, worker_start(&cons, &reg, stream_consumer, NULL, false));
	ASSERT_EQ(0, worker_start(&prod, &reg, stream_producer, NULL, false));
	EXPECT_EQ(0, worker_join(&prod));
	EXPECT_EQ(0, worker_join(&cons));
	region_destroy(&reg);
}

/*
 * MPMC: NR_PROD producers send per_producer messages each, tagged
 * (producer, seq); NR_CONS consumers mark each in a bitmap with an atomic
 * or, counting duplicates and per-producer reordering; the parent checks
 * every bit is set. Each consumer stops at the first STOP message, of
 * which the parent sends one per consumer after the producers are done.
 */
#define NR_PROD		4
#define NR_CONS		4
#define MPMC_MSG_MAX	256
#define MPMC_RING_LEN	(SHMDEV_RING_HDR_SIZE + 64 * 1024)
#define STOP		0xffffffffU

struct mpmc_msg {
	uint32_t producer;
	uint32_t sum;
	uint64_t seq;
	unsigned char payload[];
};

static _Atomic uint64_t *mpmc_bitmap(void *mem)
{
	return (_Atomic uint64_t *)((char *)mem + MPMC_RING_LEN + 4096);
}

static size_t mpmc_region_len(long per_producer)
{
	return MPMC_RING_LEN + 4096 +
	       ((NR_PROD * per_producer + 63) / 64) * 8 + 4096;
}

static int mpmc_producer(void *mem, void *arg)
{
	struct control *ctl = control_of(mem, MPMC_RING_LEN);
	uint32_t id = (uint32_t)(uintptr_t)arg;
	unsigned char buf[MPMC_MSG_MAX];
	struct mpmc_msg *m = (struct mpmc_msg *)buf;
	struct shmdev_ring r;
	uint64_t seq, s;
	size_t len;
	void *out;

	if (shmdev_ring_attach(mem, MPMC_RING_LEN, &r))
		return 1;
	for (seq = 0; seq < (uint64_t)ctl->messages; seq++) {
		s = rng_seed(id, seq);
		len = sizeof(*m) + rng_next(&s) % (MPMC_MSG_MAX - sizeof(*m));
		m->producer = id;
		m->seq = seq;
		fill_payload(m->payload, len - sizeof(*m), s);
		m->sum = fnv1a(m->payload, len - sizeof(*m));
		if (seq & 1) {
			if (shmdev_ring_send(&r, buf, len, 30 * SEC))
				return 2;
		} else {
			if (shmdev_ring_reserve(&r, len, &out, 30 * SEC))
				return 3;
			memcpy(out, buf, len);
			if (shmdev_ring_commit(&r, len))
				return 4;
		}
	}
	return 0;
}

static int mpmc_consumer(void *mem, void *arg)
{
	struct control *ctl = control_of(mem, MPMC_RING_LEN);
	_Atomic uint64_t *bitmap = mpmc_bitmap(mem);
	unsigned char buf[MPMC_MSG_MAX];
	struct mpmc_msg *m = (struct mpmc_msg *)buf;
	int64_t last[NR_PROD];
	struct shmdev_ring r;
	uint64_t bit, old;
	size_t len;
	int i;

	(void)arg;
	for (i = 0; i < NR_PROD; i++)
		last[i] = -1;
	if (shmdev_ring_attach(mem, MPMC_RING_LEN, &r))
		return 1;
	for (;;) {
		if (shmdev_ring_recv(&r, buf, sizeof(buf), &len, 30 * SEC))
			return 2;
		if (len < sizeof(*m))
			return 3;
		if (m->producer == STOP)
			return 0;
		if (m->producer >= NR_PROD ||
		    m->seq >= (uint64_t)ctl->messages ||
		    m->sum != fnv1a(m->payload, len - sizeof(*m))) {
			atomic_fetch_add(&ctl->corrupt, 1);
			continue;
		}
		/* One consumer sees each producer's messages in order. */
		if ((int64_t)m->seq <= last[m->producer])
			atomic_fetch_add(&ctl->misordered, 1);
		last[m->producer] = m->seq;
		bit = m->producer * ctl->messages + m->seq;
		old = atomic_fetch_or(&bitmap[bit / 64], 1ULL << (bit % 64));
		if (old & (1ULL << (bit % 64)))
			atomic_fetch_add(&ctl->duplicates, 1);
		atomic_fetch_add(&ctl->received, 1);
	}
}

TEST(ring_mpmc_4_producers_4_consumers_exactly_once)
{
	struct worker prod[NR_PROD], cons[NR_CONS];
	long per_producer = test_messages() / 20;
	struct mpmc_msg stop = { .producer = STOP };
	_Atomic uint64_t *bitmap;
	struct shmdev_ring r;
	struct control *ctl;
	struct region reg;
	long i, missing = 0;
	void *out;

	ring_region_create(_metadata, &reg, mpmc_region_len(per_producer),
			   MPMC_RING_LEN, MPMC_MSG_MAX, SHMDEV_RING_MPMC, &r);
	ctl = control_of(reg.mem, MPMC_RING_LEN);
	ctl->messages = per_producer;
	bitmap = mpmc_bitmap(reg.mem);
	/*
	 * This process sends the STOP messages: register it as a producer
	 * now, or consumers would take the exit of the last worker producer
	 * for the end of all producers (-EPIPE).
	 */
	ASSERT_EQ(0, shmdev_ring_reserve(&r, 0, &out, 0));
	ASSERT_EQ(0, shmdev_ring_abort(&r));
	for (i = 0; i < NR_CONS; i++)
		ASSERT_EQ(0, worker_start(&cons[i], &reg, mpmc_consumer, NULL,
					  false));
	for (i = 0; i < NR_PROD; i++)
		ASSERT_EQ(0, worker_start(&prod[i], &reg, mpmc_producer,
					  (void *)(uintptr_t)i, false));
	for (i = 0; i < NR_PROD; i++)
		EXPECT_EQ(0, worker_join(&prod[i]));
	for (i = 0; i < NR_CONS; i++)
		ASSERT_EQ(0, shmdev_ring_send(&r, &stop, sizeof(stop),
					      30 * SEC));
	for (i = 0; i < NR_CONS; i++)
		EXPECT_EQ(0, worker_join(&cons[i]));

	for (i = 0; i < NR_PROD * per_producer; i++)
		if (!(atomic_load(&bitmap[i / 64]) & (1ULL << (i % 64))))
			missing++;
	EXPECT_EQ(0, missing);
	EXPECT_EQ(0, atomic_load(&ctl->duplicates));
	EXPECT_EQ(0, atomic_load(&ctl->misordered));
	EXPECT_EQ(0, atomic_load(&ctl->corrupt));
	EXPECT_EQ(NR_PROD * per_producer, atomic_load(&ctl->received));
	region_destroy(&reg);
}

#define SMALL_MPMC_LEN	(SHMDEV_RING_HDR_SIZE + 4 * 128)

/* Sends message 1, reserves a slot for another, then dies. */
static int reserve_then_die(void *mem, void *arg)
{
	struct control *ctl = control_of(mem, SMALL_MPMC_LEN);
	struct shmdev_ring r;
	long one = 1;
	void *out;

	(void)arg;
	if (shmdev_ring_attach(mem, SMALL_MPMC_LEN, &r))
		return 1;
	if (shmdev_ring_send(&r, &one, sizeof(one), 0))
		return 2;
	if (shmdev_ring_reserve(&r, sizeof(long), &out, 0))
		return 3;
	memset(out, 0xee, sizeof(long));
	atomic_store(&ctl->flag, 2);
	raise(SIGKILL);
	return 4;
}

/* Registers, then once flag is 2 sends ctl->messages messages 2, 3, ... */
static int send_from_two(void *mem, void *arg)
{
	struct control *ctl = control_of(mem, SMALL_MPMC_LEN);
	struct shmdev_ring r;
	void *out;
	long i;

	(void)arg;
	if (shmdev_ring_attach(mem, SMALL_MPMC_LEN, &r))
		return 1;
	/* Be a registered producer before the other one dies. */
	if (shmdev_ring_reserve(&r, 0, &out, 0) || shmdev_ring_abort(&r))
		return 2;
	atomic_store(&ctl->flag, 1);
	while (atomic_load(&ctl->flag) < 2)
		usleep(1000);
	for (i = 2; i < 2 + ctl->messages; i++)
		if (shmdev_ring_send(&r, &i, sizeof(i), 10 * SEC))
			return 3;
	return 0;
}

TEST(ring_mpmc_producer_died_between_reserve_and_commit_is_skipped)
{
	struct shmdev_ring_info info;
	struct worker dead, live;
	struct shmdev_ring r;
	struct control *ctl;
	struct region reg;
	size_t len;
	long v, i;

	ring_region_create(_metadata, &reg, SMALL_MPMC_LEN + 4096,
			   SMALL_MPMC_LEN, 64, SHMDEV_RING_MPMC, &r);
	ctl = control_of(reg.mem, SMALL_MPMC_LEN);
	ctl->messages = 20;	/* more than the 4 slots: must wrap */
	ASSERT_EQ(0, worker_start(&live, &reg, send_from_two, NULL, true));
	while (atomic_load(&ctl->flag) < 1)
		usleep(1000);
	ASSERT_EQ(0, worker_start(&dead, &reg, reserve_then_die, NULL, true));
	EXPECT_EQ(128 + SIGKILL, worker_join(&dead));
	ASSERT_EQ(2, atomic_load(&ctl->flag));

	ASSERT_EQ(0, shmdev_ring_recv(&r, &v, sizeof(v), &len, 10 * SEC));
	EXPECT_EQ(1, v);
	for (i = 2; i < 22; i++) {
		ASSERT_EQ(0, shmdev_ring_recv(&r, &v, sizeof(v), &len,
					      10 * SEC));
		EXPECT_EQ(i, v);
	}
	EXPECT_EQ(0, worker_join(&live));
	ASSERT_EQ(0, shmdev_ring_info(&r, &info));
	EXPECT_EQ(1, info.dropped);
	region_destroy(&reg);
}

/* Takes one message in place and dies holding it. */
static int peek_then_die(void *mem, void *arg)
{
	struct control *ctl = control_of(mem, SMALL_MPMC_LEN);
	struct shmdev_ring r;
	const void *in;
	size_t len;

	(void)arg;
	if (shmdev_ring_attach(mem, SMALL_MPMC_LEN, &r))
		return 1;
	if (shmdev_ring_peek(&r, &in, &len, 10 * SEC))
		return 2;
	atomic_store(&ctl->flag, 1);
	raise(SIGKILL);
	return 3;
}

TEST(ring_mpmc_consumer_died_holding_a_message_slot_is_recovered)
{
	struct shmdev_ring_info info;
	struct shmdev_ring r;
	struct region reg;
	struct worker w;
	size_t len;
	long i, v;

	ring_region_create(_metadata, &reg, SMALL_MPMC_LEN + 4096,
			   SMALL_MPMC_LEN, 64, SHMDEV_RING_MPMC, &r);
	/* This process consumes too: register it as a live consumer. */
	ASSERT_EQ(-EAGAIN, shmdev_ring_recv(&r, &v, sizeof(v), &len, 0));
	i = 0;
	ASSERT_EQ(0, shmdev_ring_send(&r, &i, sizeof(i), 0));
	ASSERT_EQ(0, worker_start(&w, &reg, peek_then_die, NULL, true));
	EXPECT_EQ(128 + SIGKILL, worker_join(&w));
	/* Four slots, one held by the dead: the 4th send must recover it. */
	for (i = 1; i <= 4; i++)
		ASSERT_EQ(0, shmdev_ring_send(&r, &i, sizeof(i), 10 * SEC));
	for (i = 1; i <= 4; i++) {
		ASSERT_EQ(0, shmdev_ring_recv(&r, &v, sizeof(v), &len, 0));
		EXPECT_EQ(i, v);
	}
	ASSERT_EQ(0, shmdev_ring_info(&r, &info));
	EXPECT_EQ(1, info.dropped);
	region_destroy(&reg);
}

TEST_HARNESS_MAIN
