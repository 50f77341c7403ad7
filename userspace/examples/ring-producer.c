// SPDX-License-Identifier: GPL-2.0
/*
 * ring-producer: stream messages to ring-consumer through a message ring in
 * a named shmdev segment.
 *
 * usage: ring-producer NAME [COUNT]
 *
 * Creates the segment NAME, formats a single-producer, single-consumer ring
 * in it and sends COUNT (default 100000) messages of varying size, each
 * written in place in the ring (zero-copy) with a sequence number and a
 * checksum (see ring-msg.h). Then it exits; the segment, and whatever
 * messages the consumer has not read yet, stay until the consumer removes
 * the name. Start the two in either order.
 *
 * The producer does not wait for a consumer that has gone: when the ring is
 * full and the consumer has exited or been killed, shmdev_ring_reserve()
 * fails with -EPIPE. If no consumer reads anything for ten seconds it gives
 * up as well. Either way it removes the name, as nobody will read the rest.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <libshmdev.h>

#include "ring-msg.h"

/* Writes message @seq in place: header, payload pattern, checksum. */
static size_t fill_msg(struct ring_msg *msg, uint64_t seq)
{
	uint32_t i, len = ring_msg_payload_len(seq);

	msg->seq = seq;
	msg->len = len;
	for (i = 0; i < len; i++)
		msg->payload[i] = ring_msg_byte(seq, i);
	msg->csum = ring_msg_csum(msg->payload, len);
	return sizeof(*msg) + len;
}

int main(int argc, char **argv)
{
	uint64_t count, seq, bytes = 0;
	struct shmdev_ring ring;
	const char *name;
	double start, secs;
	size_t seg_len;
	void *mem, *buf;
	int fd, ret;

	if (ring_parse_args(argc, argv, &name, &count))
		return 2;

	/* Line by line: several processes share the terminal or log. */
	setvbuf(stdout, NULL, _IOLBF, 0);

	/*
	 * Create the segment exclusively: formatting a ring that another
	 * producer is using would lose its messages. Mode 0600: only our
	 * user may attach it.
	 */
	fd = shmdev_create(name, RING_SEG_SIZE, 0600, 0);
	if (fd == -EEXIST) {
		fprintf(stderr,
			"producer: segment %s exists (left over? remove it with: shmdev-ctl rm %s)\n",
			name, name);
		return 1;
	}
	if (fd < 0) {
		fprintf(stderr, "producer: create %s: %s\n", name,
			strerror(-fd));
		return 1;
	}

	/* The mapping keeps the segment; the descriptor is not needed. */
	mem = shmdev_map(fd, PROT_READ | PROT_WRITE, MAP_SHARED, &seg_len);
	close(fd);
	if (!mem) {
		fprintf(stderr, "producer: map: %s\n", strerror(errno));
		goto err_unlink;
	}

	/*
	 * A consumer that attached the new, zero-filled segment already sees
	 * no ring there (shmdev_ring_attach() says -EPROTO) until this
	 * returns, and retries.
	 */
	ret = shmdev_ring_init(mem, seg_len, RING_MSG_MAX, 0);
	if (!ret)
		ret = shmdev_ring_attach(mem, seg_len, &ring);
	if (ret) {
		fprintf(stderr, "producer: ring: %s\n", strerror(-ret));
		goto err_unmap;
	}
	printf("producer: created %s, ring of %zu bytes, sending %" PRIu64 " messages\n",
	       name, seg_len - SHMDEV_RING_HDR_SIZE, count);

	start = ring_now();
	for (seq = 0; seq < count; seq++) {
		size_t len = sizeof(struct ring_msg) +
			     ring_msg_payload_len(seq);

		/* Room for the message in the ring, waiting if it is full. */
		ret = shmdev_ring_reserve(&ring, len, &buf,
					  RING_STALL_TIMEOUT_NS);
		if (ret == -EPIPE) {
			fprintf(stderr,
				"producer: the consumer went away after %" PRIu64 " messages\n",
				seq);
			goto err_detach;
		}
		if (ret == -ETIMEDOUT) {
			fprintf(stderr,
				"producer: no consumer read anything for %lld s, giving up after %" PRIu64 " messages\n",
				RING_STALL_TIMEOUT_NS / 1000000000LL, seq);
			goto err_detach;
		}
		if (ret) {
			fprintf(stderr, "producer: reserve: %s\n",
				strerror(-ret));
			goto err_detach;
		}
		/* Write it where it lies and publish it. */
		fill_msg(buf, seq);
		ret = shmdev_ring_commit(&ring, len);
		if (ret) {
			fprintf(stderr, "producer: commit: %s\n",
				strerror(-ret));
			goto err_detach;
		}
		bytes += len;
	}
	secs = ring_now() - start;

	printf("producer: sent %" PRIu64 " messages, %" PRIu64 " bytes in %.2f s (%.0f msg/s)\n",
	       count, bytes, secs, secs > 0 ? count / secs : 0.0);

	/*
	 * Detaching tells a consumer waiting on an empty ring that no more
	 * messages will come (it gets -EPIPE once it has read them all). The
	 * segment stays, with the unread messages, until the consumer
	 * removes its name.
	 */
	shmdev_ring_detach(&ring);
	shmdev_unmap(mem, seg_len);
	return 0;

err_detach:
	shmdev_ring_detach(&ring);
err_unmap:
	shmdev_unmap(mem, seg_len);
err_unlink:
	shmdev_unlink(name);
	return 1;
}
