// SPDX-License-Identifier: GPL-2.0
/*
 * camera-producer: a synthetic camera that hands its frames to a consumer
 * through shared memory without copying them, as a capture driver's ring of
 * buffers would. The consumer is python/examples/camera_consumer.py, which
 * views each frame as a numpy array.
 *
 * usage: camera-producer [OPTION]... NAME
 *
 *   -W, --width=PIXELS     pixels per line (default 640)
 *   -H, --height=LINES     lines per frame (default 480)
 *   -n, --frames=COUNT     frames to send (default 300); 0: until SIGINT or
 *                          SIGTERM
 *   -s, --slots=COUNT      frame buffers, 1 to 64 (default 4)
 *   -r, --rate=FPS         frames per second; 0 (default): as fast as the
 *                          consumer takes them
 *   -t, --timeout=SECONDS  how long to wait for the consumer (default 30)
 *   -k, --keep             leave the segments when done
 *   -c, --corrupt=SEQ      damage one pixel of frame SEQ (tests a consumer)
 *
 * Two segments, created exclusively:
 *
 *   NAME.frames  (mode 0644) the frame buffers ("slots"), each starting on
 *                a page; a consumer may attach it read-only.
 *   NAME.ctl     (mode 0600) struct cam_ctl, which describes the frames,
 *                then two single-producer, single-consumer rings: "ready"
 *                carries a struct cam_frame to the consumer for each frame
 *                written, "free" carries a struct cam_slot back for each
 *                slot the consumer is done with.
 *
 * A slot belongs to the producer until it sends the slot's cam_frame, then
 * to the consumer until it sends the slot back: the producer never writes a
 * frame the consumer is reading. When no slot is free, the producer waits
 * for one, so a slow consumer slows the camera down rather than losing
 * frames.
 *
 * A frame is 16-bit grey (V4L2's Y16, in the machine's byte order), lines
 * cam_ctl.stride bytes apart. Pixel (x, y) of frame SEQ holds
 * (x + 7 * y + 31 * SEQ) modulo 65536, so that the consumer can check every
 * frame on its own, and notices a frame that is stale, shifted or torn.
 *
 * After the last frame the producer detaches the "ready" ring (the consumer
 * then reads what is left and sees the end of the stream), waits for every
 * slot to come back, and removes both names unless --keep was given. It
 * removes them too when it fails or is interrupted.
 */
#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <libshmdev.h>

/*
 * The layout below is what camera_consumer.py reads: change them together
 * (and CAM_VERSION).
 */
#define CAM_MAGIC		0x4d414353u	/* "SCAM" in memory */
#define CAM_VERSION		1
/* V4L2_PIX_FMT_Y16: 16-bit greyscale. */
#define CAM_FOURCC_Y16		((uint32_t)'Y' | (uint32_t)'1' << 8 | \
				 (uint32_t)'6' << 16 | (uint32_t)' ' << 24)
#define CAM_BYTES_PER_PIXEL	2
#define CAM_LINE_ALIGN		64
#define CAM_MAX_SLOTS		64
#define CAM_MAX_DIM		16384

/* NAME.ctl: the header at 0, the two rings from CAM_RING_OFF. */
#define CAM_RING_OFF		4096
/* Room for far more messages than there are slots. */
#define CAM_RING_LEN		(SHMDEV_RING_HDR_SIZE + 4096)
#define CAM_CTL_SIZE		(CAM_RING_OFF + 2 * CAM_RING_LEN)

struct cam_ctl {
	uint32_t magic;		/* CAM_MAGIC once the rest is valid */
	uint32_t version;	/* CAM_VERSION */
	uint32_t width;		/* pixels per line */
	uint32_t height;	/* lines per frame */
	uint32_t stride;	/* bytes from a line to the next */
	uint32_t fourcc;	/* CAM_FOURCC_Y16 */
	uint32_t nr_slots;	/* frame buffers in NAME.frames */
	uint32_t reserved0;
	uint64_t slot_size;	/* bytes from a frame buffer to the next */
	uint64_t nr_frames;	/* frames to be sent; 0: until stopped */
	uint64_t ready_off;	/* ring of struct cam_frame, in NAME.ctl */
	uint64_t ready_len;
	uint64_t free_off;	/* ring of struct cam_slot, in NAME.ctl */
	uint64_t free_len;
	uint64_t reserved[6];
};

/* Producer to consumer: frame @seq is in slot @slot. */
struct cam_frame {
	uint32_t slot;
	uint32_t reserved;
	uint64_t seq;		/* 0 for the first frame, then +1 */
	uint64_t timestamp_ns;	/* CLOCK_MONOTONIC when it was complete */
};

/* Consumer to producer: slot @slot, which held frame @seq, is free. */
struct cam_slot {
	uint32_t slot;
	uint32_t reserved;
	uint64_t seq;
};

static_assert(sizeof(struct cam_ctl) == 128, "cam_ctl layout");
static_assert(sizeof(struct cam_frame) == 24, "cam_frame layout");
static_assert(sizeof(struct cam_slot) == 16, "cam_slot layout");

#define cam_err(fmt, ...) \
	fprintf(stderr, "camera-producer: " fmt, ##__VA_ARGS__)

struct cam_opts {
	const char *name;
	unsigned long width, height, slots, rate, timeout_s;
	unsigned long long frames, corrupt;
	bool keep, do_corrupt;
};

struct camera {
	struct cam_opts opts;
	char frames_name[SHMDEV_NAME_MAX];
	char ctl_name[SHMDEV_NAME_MAX];
	unsigned char *frames;		/* NAME.frames, mapped */
	size_t frames_len;
	struct cam_ctl *ctl;		/* NAME.ctl, mapped */
	size_t ctl_len;
	struct shmdev_ring ready;	/* we produce */
	struct shmdev_ring free;	/* we consume */
	int64_t timeout_ns;
	uint32_t stride;
	uint64_t slot_size;
	uint32_t free_slots[CAM_MAX_SLOTS];	/* a stack of our slots */
	unsigned int nr_free;
	bool lent[CAM_MAX_SLOTS];	/* the consumer has it */
};

/* Set by SIGINT and SIGTERM: stop sending. Atomic, as a handler sets it. */
static int stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	__atomic_store_n(&stop_flag, 1, __ATOMIC_RELAXED);
}

static bool stopped(void)
{
	return __atomic_load_n(&stop_flag, __ATOMIC_RELAXED);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

static void print_usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [-W PIXELS] [-H LINES] [-n FRAMES] [-s SLOTS] [-r FPS]\n"
		"       [-t SECONDS] [-k] [-c SEQ] NAME\n", prog);
}

/* A decimal number from @min to @max: 0 with it in *@val, or -1. */
static int parse_num(const char *s, unsigned long long min,
		     unsigned long long max, unsigned long long *val)
{
	char *end;

	errno = 0;
	*val = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || *val < min ||
	    *val > max)
		return -1;
	return 0;
}

static int parse_opts(int argc, char **argv, struct cam_opts *o)
{
	static const struct option longopts[] = {
		{ "width",	required_argument,	NULL, 'W' },
		{ "height",	required_argument,	NULL, 'H' },
		{ "frames",	required_argument,	NULL, 'n' },
		{ "slots",	required_argument,	NULL, 's' },
		{ "rate",	required_argument,	NULL, 'r' },
		{ "timeout",	required_argument,	NULL, 't' },
		{ "keep",	no_argument,		NULL, 'k' },
		{ "corrupt",	required_argument,	NULL, 'c' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL,		0,			NULL, 0 }
	};
	unsigned long long v;
	int c, bad;

	*o = (struct cam_opts){ .width = 640, .height = 480, .frames = 300,
				.slots = 4, .timeout_s = 30 };
	while ((c = getopt_long(argc, argv, "W:H:n:s:r:t:kc:h", longopts,
				NULL)) != -1) {
		bad = 0;
		switch (c) {
		case 'W':
			bad = parse_num(optarg, 1, CAM_MAX_DIM, &v);
			o->width = v;
			break;
		case 'H':
			bad = parse_num(optarg, 1, CAM_MAX_DIM, &v);
			o->height = v;
			break;
		case 'n':
			bad = parse_num(optarg, 0, UINT64_MAX, &o->frames);
			break;
		case 's':
			bad = parse_num(optarg, 1, CAM_MAX_SLOTS, &v);
			o->slots = v;
			break;
		case 'r':
			bad = parse_num(optarg, 0, 1000000, &v);
			o->rate = v;
			break;
		case 't':
			bad = parse_num(optarg, 1, 86400, &v);
			o->timeout_s = v;
			break;
		case 'k':
			o->keep = true;
			break;
		case 'c':
			bad = parse_num(optarg, 0, UINT64_MAX, &o->corrupt);
			o->do_corrupt = true;
			break;
		default:
			print_usage(argv[0]);
			return -1;
		}
		if (bad) {
			cam_err("-%c %s: not a number in range\n", c, optarg);
			return -1;
		}
	}
	if (optind != argc - 1) {
		print_usage(argv[0]);
		return -1;
	}
	o->name = argv[optind];
	return 0;
}

/* Writes frame @seq into @slot: the pattern the consumer checks. */
static void draw_frame(struct camera *cam, uint32_t slot, uint64_t seq)
{
	unsigned char *base = cam->frames + slot * cam->slot_size;
	uint16_t first = (uint16_t)(seq * 31);
	unsigned long x, y;

	for (y = 0; y < cam->opts.height; y++) {
		uint16_t *line = (uint16_t *)(base + y * cam->stride);
		uint16_t v = (uint16_t)(first + 7 * y);

		for (x = 0; x < cam->opts.width; x++)
			line[x] = (uint16_t)(v + x);
	}
	if (cam->opts.do_corrupt && seq == cam->opts.corrupt) {
		y = cam->opts.height / 2;
		x = cam->opts.width / 2;
		((uint16_t *)(base + y * cam->stride))[x] ^= 0x0100;
	}
}

/*
 * Receives one slot back from the consumer, waiting up to @timeout_ns:
 * 0, or -errno (-EPIPE once the consumer is gone, -EPROTO for a message
 * that makes no sense).
 */
static int take_back(struct camera *cam, int64_t timeout_ns)
{
	struct cam_slot msg;
	size_t len;
	int ret;

	ret = shmdev_ring_recv(&cam->free, &msg, sizeof(msg), &len,
			       timeout_ns);
	if (ret)
		return ret;
	if (len != sizeof(msg) || msg.slot >= cam->opts.slots ||
	    !cam->lent[msg.slot]) {
		cam_err("bad slot from the consumer (%zu bytes, slot %u)\n",
			len, len >= sizeof(msg.slot) ? msg.slot : 0);
		return -EPROTO;
	}
	cam->lent[msg.slot] = false;
	cam->free_slots[cam->nr_free++] = msg.slot;
	return 0;
}

/* Prints why waiting on the consumer failed with @ret. */
static void report_wait(struct camera *cam, int ret, unsigned long long seq)
{
	if (ret == -EPIPE)
		cam_err("the consumer went away (%llu frames sent)\n", seq);
	else if (ret == -ETIMEDOUT)
		cam_err("no slot back for %lu s (%llu frames sent): no consumer?\n",
			cam->opts.timeout_s, seq);
	else if (ret != -EPROTO)
		cam_err("%s\n", strerror(-ret));
}

/* Waits until @deadline_ns (CLOCK_MONOTONIC) or a signal. */
static void sleep_until(uint64_t deadline_ns)
{
	struct timespec ts = {
		.tv_sec = deadline_ns / 1000000000u,
		.tv_nsec = deadline_ns % 1000000000u,
	};

	while (!stopped() &&
	       clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/*
 * Sends frames until the count or a signal; 0, or -errno after printing
 * why. *@sent counts the frames sent.
 */
static int stream(struct camera *cam, unsigned long long *sent)
{
	uint64_t start = now_ns(), seq;
	struct cam_frame desc;
	uint32_t slot;
	int ret;

	for (seq = 0; !cam->opts.frames || seq < cam->opts.frames; seq++) {
		if (cam->opts.rate)
			sleep_until(start + seq * 1000000000u / cam->opts.rate);
		/* A free slot, waiting for the consumer to give one back. */
		ret = 0;
		while (!stopped() && !cam->nr_free) {
			ret = take_back(cam, cam->timeout_ns);
			if (ret && ret != -EINTR)
				break;
		}
		if (stopped())
			break;
		if (ret && ret != -EINTR) {
			report_wait(cam, ret, seq);
			return ret;
		}
		slot = cam->free_slots[--cam->nr_free];

		draw_frame(cam, slot, seq);
		desc = (struct cam_frame){
			.slot = slot,
			.seq = seq,
			.timestamp_ns = now_ns(),
		};
		/*
		 * The ring has room for more messages than there are slots,
		 * so this does not wait. It publishes the frame: the consumer
		 * sees the pixels written above once it sees the message.
		 */
		cam->lent[slot] = true;
		ret = shmdev_ring_send(&cam->ready, &desc, sizeof(desc),
				       cam->timeout_ns);
		if (ret) {
			cam_err("send: %s\n", strerror(-ret));
			return ret;
		}
		*sent = seq + 1;
	}
	return 0;
}

/* After the last frame, waits for the consumer to give every slot back. */
static int drain(struct camera *cam, unsigned long long sent)
{
	int ret;

	while (cam->nr_free < cam->opts.slots) {
		ret = take_back(cam, cam->timeout_ns);
		if (ret == -EINTR)
			continue;
		if (ret) {
			report_wait(cam, ret, sent);
			return ret;
		}
	}
	return 0;
}

/* Maps the new segment of @fd read-write at *@mem; closes @fd. */
static int map_new(int fd, void **mem, size_t *len)
{
	int ret = 0;

	*mem = shmdev_map(fd, PROT_READ | PROT_WRITE, MAP_SHARED, len);
	if (!*mem)
		ret = -errno;
	close(fd);
	return ret;
}

/* Creates @name of @size bytes and @mode, exclusively; prints failures. */
static int create_seg(const char *name, uint64_t size, unsigned int mode)
{
	int fd = shmdev_create(name, size, mode, 0);

	if (fd == -EEXIST)
		cam_err("%s exists (left over? remove it: shmdev-ctl rm %s)\n",
			name, name);
	else if (fd == -ENODEV)
		cam_err("%s: the shmdev module is not loaded (modprobe shmdev)\n",
			SHMDEV_DEVICE_PATH);
	else if (fd < 0)
		cam_err("create %s (%llu bytes): %s\n", name,
			(unsigned long long)size, strerror(-fd));
	return fd;
}

/*
 * Creates and maps NAME.frames, then NAME.ctl with its rings, and
 * publishes the header last: a consumer that finds NAME.ctl waits for
 * CAM_MAGIC before it reads the rest.
 */
static int setup(struct camera *cam)
{
	const struct cam_opts *o = &cam->opts;
	uint64_t frame_bytes, page = (uint64_t)sysconf(_SC_PAGESIZE);
	struct cam_ctl *ctl;
	void *mem;
	int fd, ret;

	cam->stride = (o->width * CAM_BYTES_PER_PIXEL + CAM_LINE_ALIGN - 1) &
		      ~(CAM_LINE_ALIGN - 1);
	frame_bytes = (uint64_t)cam->stride * o->height;
	cam->slot_size = (frame_bytes + page - 1) & ~(page - 1);

	fd = create_seg(cam->frames_name, cam->slot_size * o->slots, 0644);
	if (fd < 0)
		return fd;
	ret = map_new(fd, &mem, &cam->frames_len);
	if (ret) {
		cam_err("map %s: %s\n", cam->frames_name, strerror(-ret));
		goto err_unlink_frames;
	}
	cam->frames = mem;

	fd = create_seg(cam->ctl_name, CAM_CTL_SIZE, 0600);
	if (fd < 0) {
		ret = fd;
		goto err_unmap_frames;
	}
	ret = map_new(fd, &mem, &cam->ctl_len);
	if (ret) {
		cam_err("map %s: %s\n", cam->ctl_name, strerror(-ret));
		goto err_unlink_ctl;
	}
	ctl = mem;

	ret = shmdev_ring_init((char *)mem + CAM_RING_OFF, CAM_RING_LEN,
			       sizeof(struct cam_frame), 0);
	if (!ret)
		ret = shmdev_ring_init((char *)mem + CAM_RING_OFF + CAM_RING_LEN,
				       CAM_RING_LEN, sizeof(struct cam_slot), 0);
	if (!ret)
		ret = shmdev_ring_attach((char *)mem + CAM_RING_OFF,
					 CAM_RING_LEN, &cam->ready);
	if (ret) {
		cam_err("ring: %s\n", strerror(-ret));
		goto err_unmap_ctl;
	}
	ret = shmdev_ring_attach((char *)mem + CAM_RING_OFF + CAM_RING_LEN,
				 CAM_RING_LEN, &cam->free);
	if (ret) {
		cam_err("ring: %s\n", strerror(-ret));
		goto err_detach_ready;
	}

	*ctl = (struct cam_ctl){
		.version = CAM_VERSION,
		.width = o->width,
		.height = o->height,
		.stride = cam->stride,
		.fourcc = CAM_FOURCC_Y16,
		.nr_slots = o->slots,
		.slot_size = cam->slot_size,
		.nr_frames = o->frames,
		.ready_off = CAM_RING_OFF,
		.ready_len = CAM_RING_LEN,
		.free_off = CAM_RING_OFF + CAM_RING_LEN,
		.free_len = CAM_RING_LEN,
	};
	__atomic_store_n(&ctl->magic, CAM_MAGIC, __ATOMIC_RELEASE);
	cam->ctl = ctl;
	return 0;

err_detach_ready:
	shmdev_ring_detach(&cam->ready);
err_unmap_ctl:
	shmdev_unmap(mem, cam->ctl_len);
err_unlink_ctl:
	shmdev_unlink(cam->ctl_name);
err_unmap_frames:
	shmdev_unmap(cam->frames, cam->frames_len);
err_unlink_frames:
	shmdev_unlink(cam->frames_name);
	return ret;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	unsigned long long sent = 0;
	static struct camera cam;
	uint64_t start;
	double secs;
	unsigned int i;
	int ret, rc = 1;

	if (parse_opts(argc, argv, &cam.opts))
		return 2;
	/* Line by line: the consumer shares the terminal or log. */
	setvbuf(stdout, NULL, _IOLBF, 0);

	if ((size_t)snprintf(cam.frames_name, sizeof(cam.frames_name),
			     "%s.frames", cam.opts.name) >=
	    sizeof(cam.frames_name) ||
	    shmdev_check_name(cam.frames_name)) {
		cam_err("%s: not a valid name, or longer than %d bytes\n",
			cam.opts.name, SHMDEV_NAME_MAX - 1 - 7);
		return 2;
	}
	snprintf(cam.ctl_name, sizeof(cam.ctl_name), "%s.ctl", cam.opts.name);
	cam.timeout_ns = (int64_t)cam.opts.timeout_s * 1000000000;
	for (i = 0; i < cam.opts.slots; i++)
		cam.free_slots[i] = cam.opts.slots - 1 - i;
	cam.nr_free = cam.opts.slots;

	/* No SA_RESTART: a signal ends a wait in the ring with -EINTR. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	if (setup(&cam))
		return 1;
	printf("camera-producer: %s: %lu slots of %lux%lu Y16, %u-byte lines\n",
	       cam.frames_name, cam.opts.slots, cam.opts.width,
	       cam.opts.height, cam.stride);
	if (cam.opts.frames)
		printf("camera-producer: sending %llu frames\n", cam.opts.frames);
	else
		printf("camera-producer: sending frames until stopped\n");

	start = now_ns();
	ret = stream(&cam, &sent);
	secs = (now_ns() - start) / 1e9;

	/*
	 * No more frames: the consumer reads those in the ring, then gets
	 * the end of the stream (EPIPE) instead of waiting.
	 */
	shmdev_ring_detach(&cam.ready);
	if (!ret && !drain(&cam, sent)) {
		printf("camera-producer: sent %llu frames in %.2f s (%.1f fps)%s\n",
		       sent, secs, secs > 0 ? sent / secs : 0.0,
		       stopped() ? ", stopped by a signal" : "");
		rc = 0;
	}
	shmdev_ring_detach(&cam.free);
	shmdev_unmap(cam.ctl, cam.ctl_len);
	shmdev_unmap(cam.frames, cam.frames_len);

	/* A failed run leaves nothing worth keeping. */
	if (cam.opts.keep && !rc) {
		printf("camera-producer: kept %s and %s\n", cam.ctl_name,
		       cam.frames_name);
		return 0;
	}
	shmdev_unlink(cam.ctl_name);
	shmdev_unlink(cam.frames_name);
	return rc;
}
