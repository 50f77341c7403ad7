// SPDX-License-Identifier: GPL-2.0
/*
 * The rings of ring-epoll and ring-uring: creating one, its producer,
 * draining it from an event loop, and cleaning up (see ring-loop.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libshmdev.h>

#include "ring-loop.h"
#include "ring-msg.h"

int loop_parse_args(int argc, char **argv, const char **name,
		    uint64_t *count)
{
	*count = LOOP_DEFAULT_COUNT;
	/*
	 * At least one message: a producer joins the ring with its first
	 * one, and the consumer learns that it is gone only if it joined.
	 */
	if (argc < 2 || argc > 3 ||
	    (argc == 3 && (ring_parse_count(argv[2], count) || !*count))) {
		fprintf(stderr, "usage: %s NAME [COUNT]  (COUNT >= 1, default %d)\n",
			argv[0], LOOP_DEFAULT_COUNT);
		return -1;
	}
	*name = argv[1];
	return 0;
}

int loop_check_doorbells(const char *prog)
{
	struct shmdev_version ver;
	int ret = shmdev_version(&ver);

	if (ret == -ENODEV) {
		fprintf(stderr, "%s: %s: the shmdev module is not loaded (modprobe shmdev)\n",
			prog, SHMDEV_DEVICE_PATH);
		return -1;
	}
	if (ret) {
		fprintf(stderr, "%s: %s: %s\n", prog, SHMDEV_DEVICE_PATH,
			strerror(-ret));
		return -1;
	}
	if (!(ver.features & SHMDEV_FEAT_DOORBELL)) {
		fprintf(stderr, "%s: the shmdev module has no doorbells (SHMDEV_FEAT_DOORBELL): it is too old\n",
			prog);
		return -1;
	}
	return 0;
}

int loop_ring_create(struct loop_ring *lr, const char *name, uint64_t count)
{
	int ret;

	memset(lr, 0, sizeof(*lr));
	lr->fd = -1;
	ret = shmdev_check_name(name);
	if (ret) {
		fprintf(stderr, "bad segment name %s: %s\n", name,
			strerror(-ret));
		return -1;
	}
	snprintf(lr->name, sizeof(lr->name), "%s", name);
	lr->count = count;

	lr->fd = shmdev_create(name, RING_SEG_SIZE, 0600, 0);
	if (lr->fd == -EEXIST) {
		fprintf(stderr, "segment %s exists (left over? remove it with: shmdev-ctl rm %s)\n",
			name, name);
		return -1;
	}
	if (lr->fd < 0) {
		fprintf(stderr, "create %s: %s\n", name, strerror(-lr->fd));
		return -1;
	}
	lr->mem = shmdev_map(lr->fd, PROT_READ | PROT_WRITE, MAP_SHARED,
			     &lr->len);
	ret = lr->mem ? 0 : -errno;
	if (!ret)
		ret = shmdev_ring_init(lr->mem, lr->len, RING_MSG_MAX, 0);
	if (!ret)
		ret = shmdev_ring_attach(lr->mem, lr->len, &lr->ring);
	/*
	 * The file that created the segment is bound to it: the consumer
	 * waits on it. The producer attaches a file of its own, which it
	 * needs to ring the doorbell; the file it inherits across fork()
	 * would do as well, but it is the same open file as this one.
	 */
	if (!ret)
		ret = shmdev_ring_set_doorbell(&lr->ring, lr->fd, LOOP_BELL);
	if (ret) {
		fprintf(stderr, "ring %s: %s\n", name, strerror(-ret));
		if (lr->mem)
			shmdev_unmap(lr->mem, lr->len);
		close(lr->fd);
		shmdev_unlink(name);
		return -1;
	}
	return 0;
}

/* Writes message @seq in place: header, payload pattern, checksum. */
static void fill_msg(struct ring_msg *msg, uint64_t seq)
{
	uint32_t i;

	msg->seq = seq;
	msg->len = ring_msg_payload_len(seq);
	for (i = 0; i < msg->len; i++)
		msg->payload[i] = ring_msg_byte(seq, i);
	msg->csum = ring_msg_csum(msg->payload, msg->len);
}

/* The producer, in the child: 0, or 1 having printed why. */
static int produce(const char *name, uint64_t count)
{
	struct shmdev_ring ring;
	uint64_t seq = 0;
	void *mem, *buf;
	size_t len, n;
	int fd, ret;

	/* A child attaches on its own: the parent's handle is not its. */
	fd = shmdev_attach(name, 0);
	if (fd < 0) {
		fprintf(stderr, "producer %s: attach: %s\n", name,
			strerror(-fd));
		return 1;
	}
	mem = shmdev_map(fd, PROT_READ | PROT_WRITE, MAP_SHARED, &len);
	ret = mem ? shmdev_ring_attach(mem, len, &ring) : -errno;
	/*
	 * The consumer's doorbell number: without a doorbell a producer
	 * wakes only consumers asleep in the library, never an event loop.
	 */
	if (!ret)
		ret = shmdev_ring_set_doorbell(&ring, fd, LOOP_BELL);
	if (ret) {
		fprintf(stderr, "producer %s: ring: %s\n", name, strerror(-ret));
		return 1;
	}

	for (seq = 0; seq < count; seq++) {
		n = sizeof(struct ring_msg) + ring_msg_payload_len(seq);
		/* Waits (in the library) while the ring is full. */
		ret = shmdev_ring_reserve(&ring, n, &buf,
					  RING_STALL_TIMEOUT_NS);
		if (ret)
			break;
		fill_msg(buf, seq);
		/* Rings the doorbell if the consumer waits on it. */
		ret = shmdev_ring_commit(&ring, n);
		if (ret)
			break;
		if (seq % LOOP_BURST == LOOP_BURST - 1)
			usleep(LOOP_PAUSE_US);
	}
	if (ret)
		fprintf(stderr, "producer %s: message %" PRIu64 ": %s\n", name,
			seq, strerror(-ret));

	/*
	 * Detaching rings a waiting consumer too: it reads what is left
	 * and then learns from shmdev_ring_poll_prepare() (-EPIPE) that no
	 * more will come. The file goes last: the handle rings through it.
	 */
	shmdev_ring_detach(&ring);
	shmdev_unmap(mem, len);
	close(fd);
	return ret ? 1 : 0;
}

int loop_producer_start(struct loop_ring *lr)
{
	pid_t pid;

	fflush(stdout);		/* or the child prints it again */
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "fork: %s\n", strerror(errno));
		return -1;
	}
	if (pid == 0)
		_exit(produce(lr->name, lr->count));
	lr->producer = pid;
	return 0;
}

/* Checks the message @buf of @len bytes, the next one expected. */
static int check_msg(const struct loop_ring *lr, const void *buf, size_t len)
{
	const struct ring_msg *msg = buf;

	if (lr->next >= lr->count) {
		fprintf(stderr, "%s: more than %" PRIu64 " messages\n",
			lr->name, lr->count);
		return -1;
	}
	if (len < sizeof(*msg) || len != sizeof(*msg) + msg->len) {
		fprintf(stderr, "%s: message %" PRIu64 ": %zu bytes, bad header\n",
			lr->name, lr->next, len);
		return -1;
	}
	if (msg->seq != lr->next) {
		fprintf(stderr, "%s: expected message %" PRIu64 ", got %" PRIu64 "\n",
			lr->name, lr->next, msg->seq);
		return -1;
	}
	if (msg->len != ring_msg_payload_len(msg->seq) ||
	    msg->csum != ring_msg_csum(msg->payload, msg->len)) {
		fprintf(stderr, "%s: message %" PRIu64 ": bad length or checksum\n",
			lr->name, lr->next);
		return -1;
	}
	return 0;
}

int loop_ring_drain(struct loop_ring *lr)
{
	const void *buf;
	size_t len;
	int ret;

	for (;;) {
		/* Timeout 0: what is there, in place, and never a wait. */
		while (!(ret = shmdev_ring_peek(&lr->ring, &buf, &len, 0))) {
			if (check_msg(lr, buf, len))
				return -1;
			shmdev_ring_release(&lr->ring);
			lr->next++;
			lr->bytes += len;
		}
		if (ret != -EAGAIN) {
			fprintf(stderr, "%s: peek: %s\n", lr->name,
				strerror(-ret));
			return -1;
		}
		/*
		 * Empty. Arm the doorbell: from now on the producer rings
		 * it for the next message. It may have sent one just
		 * before; then this says 1 and we read again.
		 */
		ret = shmdev_ring_poll_prepare(&lr->ring, SHMDEV_RING_POLLIN);
		if (ret == 0)
			return 0;
		if (ret == -EPIPE)
			break;
		if (ret < 0) {
			fprintf(stderr, "%s: poll_prepare: %s\n", lr->name,
				strerror(-ret));
			return -1;
		}
	}
	/* Empty, and the producer has detached or exited. */
	if (lr->next != lr->count) {
		fprintf(stderr, "%s: the producer went away after %" PRIu64 " of %" PRIu64 " messages\n",
			lr->name, lr->next, lr->count);
		return -1;
	}
	lr->done = true;
	return 1;
}

int loop_ring_finish(struct loop_ring *lr)
{
	int st, ret = 0;

	shmdev_ring_detach(&lr->ring);
	shmdev_unmap(lr->mem, lr->len);
	close(lr->fd);
	shmdev_unlink(lr->name);
	if (!lr->producer)
		return lr->done ? 0 : -1;
	/* Something went wrong here: the producer's work is useless. */
	if (!lr->done)
		kill(lr->producer, SIGKILL);
	if (waitpid(lr->producer, &st, 0) != lr->producer) {
		fprintf(stderr, "%s: waitpid: %s\n", lr->name, strerror(errno));
		return -1;
	}
	if (!lr->done)
		return -1;
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "%s: the producer failed (status 0x%x)\n",
			lr->name, st);
		ret = -1;
	}
	return ret;
}

int64_t loop_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}
