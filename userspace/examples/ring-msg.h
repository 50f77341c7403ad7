/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What ring-producer and ring-consumer agree on: the size of the segment,
 * the format of a message, how long either side waits for the other, and
 * their command line (NAME [COUNT]).
 *
 * Every message starts with a struct ring_msg header: a sequence number
 * (0, 1, 2, ...), the length of the payload that follows and an FNV-1a
 * checksum of it. The payload's length varies from message to message
 * (ring_msg_payload_len()) and its bytes are a pattern derived from the
 * sequence number, so the consumer can check each message on its own.
 */
#ifndef RING_MSG_H
#define RING_MSG_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <libshmdev.h>

/* A 256 KiB data area after the ring's header. */
#define RING_SEG_SIZE		(SHMDEV_RING_HDR_SIZE + 256 * 1024)
/* The largest message, header included: the ring refuses bigger ones. */
#define RING_MSG_MAX		2048
/* Messages sent when COUNT is not given. */
#define RING_DEFAULT_COUNT	100000

/* How long the consumer waits for the producer to create the ring. */
#define RING_START_TIMEOUT_S	10
/*
 * How long either side waits for the other to make room or send something
 * before it gives up. A peer that exits is noticed at once (-EPIPE); this
 * bounds the wait for one that hangs or never shows up.
 */
#define RING_STALL_TIMEOUT_NS	(10 * 1000000000LL)

struct ring_msg {
	uint64_t seq;		/* 0 for the first message, then +1 */
	uint32_t len;		/* bytes of payload[] */
	uint32_t csum;		/* FNV-1a of payload[] */
	unsigned char payload[];
};

/* Payload length of message @seq: 0 to RING_MSG_MAX - header, scattered. */
static inline uint32_t ring_msg_payload_len(uint64_t seq)
{
	uint64_t x = seq * 0x9e3779b97f4a7c15ULL;	/* Fibonacci hashing */

	return (uint32_t)((x >> 32) %
			  (RING_MSG_MAX - sizeof(struct ring_msg) + 1));
}

/* Byte @i of the payload of message @seq. */
static inline unsigned char ring_msg_byte(uint64_t seq, uint32_t i)
{
	return (unsigned char)(seq * 7 + i);
}

/* 32-bit FNV-1a of @len bytes at @p. */
static inline uint32_t ring_msg_csum(const unsigned char *p, size_t len)
{
	uint32_t h = 2166136261u;

	while (len--)
		h = (h ^ *p++) * 16777619u;
	return h;
}

/* COUNT of the command line, a decimal number: 0, or -1 if it is not one. */
static inline int ring_parse_count(const char *s, uint64_t *count)
{
	char *end;

	errno = 0;
	*count = strtoull(s, &end, 10);
	return errno || end == s || *end || s[0] == '-' ? -1 : 0;
}

/*
 * The command line of both, NAME [COUNT]: 0 with NAME in *name and COUNT
 * (RING_DEFAULT_COUNT if not given) in *count, or -1 after printing the
 * usage.
 */
static inline int ring_parse_args(int argc, char **argv, const char **name,
				  uint64_t *count)
{
	*count = RING_DEFAULT_COUNT;
	if (argc < 2 || argc > 3 ||
	    (argc == 3 && ring_parse_count(argv[2], count))) {
		fprintf(stderr, "usage: %s NAME [COUNT]\n", argv[0]);
		return -1;
	}
	*name = argv[1];
	return 0;
}

/* Seconds on the monotonic clock, for timeouts and rates. */
static inline double ring_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

#endif /* RING_MSG_H */
