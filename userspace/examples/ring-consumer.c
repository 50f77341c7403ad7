// SPDX-License-Identifier: GPL-2.0
/*
 * ring-consumer: receive and check the messages that ring-producer streams
 * through a message ring in a named shmdev segment.
 *
 * usage: ring-consumer NAME [COUNT]
 *
 * Waits (up to ten seconds) for the segment NAME and the ring in it to
 * appear, so it may be started before the producer. Then it reads COUNT
 * (default 100000) messages in place (zero-copy: shmdev_ring_peek() hands
 * out a pointer into the ring, shmdev_ring_release() gives the room back)
 * and checks each one's sequence number, length and checksum. Finally it
 * prints a summary and removes the segment's name; the memory goes when
 * the last mapping does.
 *
 * If the producer dies, the consumer reads what it sent and then gets
 * -EPIPE instead of waiting for more.
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

/*
 * Attaches the segment @name read-write (a consumer writes the ring's read
 * position), maps it and attaches the ring in it, waiting until @deadline
 * for the producer to create the segment and format the ring.
 */
static int wait_for_ring(const char *name, double deadline,
			 struct shmdev_ring *ring, void **mem, size_t *len)
{
	int fd, ret;

	/*
	 * The name: -ENOENT until the producer has created it (no module is
	 * -ENODEV, which ends the wait at once).
	 */
	while ((fd = shmdev_attach(name, 0)) == -ENOENT) {
		if (ring_now() > deadline)
			return -ETIMEDOUT;
		usleep(10000);
	}
	if (fd < 0)
		return fd;
	*mem = shmdev_map(fd, PROT_READ | PROT_WRITE, MAP_SHARED, len);
	ret = *mem ? 0 : -errno;
	close(fd);
	if (ret)
		return ret;

	/* The ring: -EPROTO while the segment is still all zeroes. */
	while ((ret = shmdev_ring_attach(*mem, *len, ring)) == -EPROTO) {
		if (ring_now() > deadline)
			break;
		usleep(1000);
	}
	if (ret)
		shmdev_unmap(*mem, *len);
	return ret;
}

/* Checks message @seq, @len bytes at @buf; prints what is wrong. */
static int check_msg(const void *buf, size_t len, uint64_t seq)
{
	const struct ring_msg *msg = buf;

	if (len < sizeof(*msg) || len != sizeof(*msg) + msg->len) {
		fprintf(stderr, "consumer: message %" PRIu64 ": %zu bytes, header says %zu\n",
			seq, len, len < sizeof(*msg) ? 0 :
			sizeof(*msg) + msg->len);
		return -1;
	}
	if (msg->seq != seq) {
		fprintf(stderr, "consumer: expected message %" PRIu64 ", got %" PRIu64 "\n",
			seq, msg->seq);
		return -1;
	}
	if (msg->len != ring_msg_payload_len(seq) ||
	    msg->csum != ring_msg_csum(msg->payload, msg->len)) {
		fprintf(stderr, "consumer: message %" PRIu64 ": bad length or checksum\n",
			seq);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t count, seq, bytes = 0;
	struct shmdev_ring_info info;
	struct shmdev_ring ring;
	double start, secs;
	const char *name;
	const void *buf;
	size_t seg_len, len;
	void *mem;
	int ret, rc = 1;

	if (ring_parse_args(argc, argv, &name, &count))
		return 2;

	/* Line by line: several processes share the terminal or log. */
	setvbuf(stdout, NULL, _IOLBF, 0);

	ret = wait_for_ring(name, ring_now() + RING_START_TIMEOUT_S, &ring,
			    &mem, &seg_len);
	if (ret == -ETIMEDOUT) {
		fprintf(stderr, "consumer: no ring %s after %d s (is the producer running?)\n",
			name, RING_START_TIMEOUT_S);
		return 1;
	}
	if (ret == -ENODEV) {
		fprintf(stderr, "consumer: %s: the shmdev module is not loaded (modprobe shmdev)\n",
			SHMDEV_DEVICE_PATH);
		return 1;
	}
	if (ret) {
		fprintf(stderr, "consumer: %s: %s\n", name, strerror(-ret));
		return 1;
	}
	printf("consumer: attached %s, expecting %" PRIu64 " messages\n",
	       name, count);

	start = ring_now();
	for (seq = 0; seq < count; seq++) {
		/* The next message, in place; wait if the ring is empty. */
		ret = shmdev_ring_peek(&ring, &buf, &len,
				       RING_STALL_TIMEOUT_NS);
		if (ret == -EPIPE) {
			fprintf(stderr,
				"consumer: the producer went away after %" PRIu64 " messages\n",
				seq);
			goto out;
		}
		if (ret == -ETIMEDOUT) {
			fprintf(stderr,
				"consumer: nothing arrived for %lld s, giving up after %" PRIu64 " messages\n",
				RING_STALL_TIMEOUT_NS / 1000000000LL, seq);
			goto out;
		}
		if (ret == -EBUSY) {
			/* A single-consumer ring: leave it to the other one. */
			fprintf(stderr, "consumer: another consumer is reading %s\n",
				name);
			shmdev_ring_detach(&ring);
			shmdev_unmap(mem, seg_len);
			return 1;
		}
		if (ret) {
			fprintf(stderr, "consumer: peek: %s\n", strerror(-ret));
			goto out;
		}
		/*
		 * @buf points into the shared ring: read the message before
		 * releasing it, as the producer may then overwrite it.
		 */
		if (check_msg(buf, len, seq))
			goto out;
		bytes += len;
		shmdev_ring_release(&ring);
	}
	secs = ring_now() - start;

	if (!shmdev_ring_info(&ring, &info) && info.used) {
		fprintf(stderr, "consumer: %" PRIu64 " bytes more than expected left in the ring\n",
			info.used);
		goto out;
	}
	printf("consumer: received %" PRIu64 " messages, %" PRIu64 " bytes, all in order (%.2f s, %.1f MiB/s)\n",
	       count, bytes, secs, secs > 0 ? bytes / secs / (1 << 20) : 0.0);
	rc = 0;
out:
	shmdev_ring_detach(&ring);
	shmdev_unmap(mem, seg_len);
	/* Done with it, or broken: either way nobody needs the name now. */
	ret = shmdev_unlink(name);
	if (ret)
		fprintf(stderr, "consumer: unlink %s: %s\n", name,
			strerror(-ret));
	else if (!rc)
		printf("consumer: removed %s\n", name);
	return ret ? 1 : rc;
}
