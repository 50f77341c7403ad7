// SPDX-License-Identifier: GPL-2.0
/*
 * shmdev_fuzz - a bounded ioctl and mmap fuzzer for /dev/shmdev.
 *
 *   shmdev_fuzz [--secs S] [--threads N] [--seed X] [--faults] [--verbose]
 *
 * N threads (default 4, $SHMDEV_FUZZ_THREADS) run for S seconds (default
 * 30, $SHMDEV_FUZZ_SECS) over a shared table of /dev/shmdev descriptors,
 * doing at random:
 *  - every ioctl command with a valid argument mutated at random: flipped
 *    bytes, unknown flag bits, non-zero reserved and padding fields, names
 *    with and without a NUL, with '/', spaces, control and non-ASCII bytes,
 *    sizes 0, 1, huge and just over the limits, modes over 0777;
 *  - shmdev commands with a wrong size, direction or number in the ioctl
 *    code (ENOTTY);
 *  - bad argument pointers: NULL, below mmap_min_addr, kernel and
 *    non-canonical addresses, a read-only page (the result cannot be copied
 *    back), a structure that runs into an unmapped guard page;
 *  - mmap of random offsets, lengths, protections and flags on bound and
 *    unbound files, then touching, mremap, madvise and munmap;
 *  - open, close and dup2 of the table's descriptors while other threads
 *    use them.
 * Every call must succeed or fail with an errno the uapi header and the
 * README document for that command (plus EBADF for a descriptor another
 * thread closed); for inputs that are invalid for certain (non-zero
 * reserved fields, unknown flags, a bad name) it must be exactly EINVAL or
 * ENAMETOOLONG. A violation prints the command, the argument in hex and
 * the seed, and fails the run.
 *
 * With --faults (under fault injection, scripts/vm/faults.sh) every call
 * may also fail with ENOMEM or EFAULT, whatever its input, and a touch may
 * raise SIGBUS: what was injected must come back as one of those.
 *
 * Segments: names come from a pool of 8 per run, and as root the fuzzer
 * lowers max_segments, max_segment_size and max_total_bytes for the run
 * (restored at the end), so nothing grows without bound. At the end every
 * name is unlinked and the module's page count must be back where it was.
 * Output is TAP (one test) with kselftest totals.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "shmdev_util.h"

#define KSFT_SKIP		4
#define MAX_THREADS		16
#define NR_FDS			16
#define NR_NAMES		8
#define MAX_MAPS		16
#define SCRATCH_PAGES		4
#define LIST_PAGES		4

/* Limits while fuzzing, if we may set them. */
#define FUZZ_MAX_SEGMENTS	64
#define FUZZ_MAX_SEG_SIZE	(64ULL << 20)
#define FUZZ_MAX_TOTAL		(256ULL << 20)

static size_t ps;
static uint64_t master_seed;
static volatile int stop;
static int failures;
static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int fds[NR_FDS];
static pid_t mypid;
static uint8_t *ro_page;
static uint64_t max_seg_size = FUZZ_MAX_SEG_SIZE;
static bool verbose;
static bool faults;	/* --faults: injected ENOMEM and EFAULT expected */

enum fstat {
	ST_IOCTL, ST_IOCTL_OK, ST_BAD_CMD, ST_BAD_PTR, ST_MMAP, ST_MMAP_OK,
	ST_TOUCH, ST_SIGNAL, ST_MREMAP, ST_MADVISE, ST_MUNMAP, ST_OPEN,
	ST_CLOSE, ST_DUP, ST_CREATED, ST_ATTACHED, ST_BOUND, ST_MAX
};

static const char *const stat_names[ST_MAX] = {
	"ioctl", "ioctl_ok", "ioctl_bad_cmd", "ioctl_bad_pointer", "mmap",
	"mmap_ok", "touch", "touch_signal", "mremap", "madvise", "munmap",
	"open", "close", "dup2", "segments_created", "segments_attached",
	"open_and_bind",
};

static uint64_t stats[ST_MAX];

static void stat_inc(enum fstat s)
{
	__atomic_fetch_add(&stats[s], 1, __ATOMIC_RELAXED);
}

struct cmd_desc {
	const char *name;
	unsigned long cmd;
	size_t size;
	const int *errs;	/* 0-terminated */
};

static const int e_version[] = { EFAULT, 0 };
static const int e_create[] = { EINVAL, EFBIG, ENAMETOOLONG, EEXIST, EBUSY,
				ENOSPC, ENOMEM, EFAULT, 0 };
/* ENODEV: a re-attach (NEWFD, no name) on an unbound file. */
static const int e_attach[] = { EINVAL, ENAMETOOLONG, ENOENT, EACCES, EBUSY,
				ENODEV, EFAULT, 0 };
static const int e_info[] = { ENODEV, EFAULT, 0 };
static const int e_unlink[] = { EINVAL, ENAMETOOLONG, ENOENT, EPERM, EBUSY,
				EFAULT, 0 };
static const int e_resize[] = { EINVAL, EFBIG, ENODEV, EPERM, ENOMEM, EFAULT,
				0 };
static const int e_add_seals[] = { EINVAL, ENODEV, EPERM, EBUSY, EFAULT, 0 };
static const int e_get_seals[] = { ENODEV, EFAULT, 0 };
static const int e_setperm[] = { EINVAL, ENAMETOOLONG, ENOENT, EPERM, EFAULT,
				 0 };
static const int e_list[] = { EINVAL, ENOMEM, EFAULT, 0 };
static const int e_limits[] = { EINVAL, EFAULT, 0 };
static const int e_stat[] = { ENODEV, EFAULT, 0 };
static const int e_ring[] = { EINVAL, ENODEV, EPERM, EFAULT, 0 };
static const int e_ack[] = { EINVAL, ENODEV, EFAULT, 0 };

enum { C_VERSION, C_CREATE, C_ATTACH, C_INFO, C_UNLINK, C_RESIZE,
       C_ADD_SEALS, C_GET_SEALS, C_SETPERM, C_LIST, C_LIMITS, C_STAT,
       C_RING, C_ACK, C_MAX };

static const struct cmd_desc cmds[C_MAX] = {
	{ "VERSION", SHMDEV_IOC_VERSION, sizeof(struct shmdev_version), e_version },
	{ "CREATE", SHMDEV_IOC_CREATE, sizeof(struct shmdev_create), e_create },
	{ "ATTACH", SHMDEV_IOC_ATTACH, sizeof(struct shmdev_attach), e_attach },
	{ "INFO", SHMDEV_IOC_INFO, sizeof(struct shmdev_info), e_info },
	{ "UNLINK", SHMDEV_IOC_UNLINK, sizeof(struct shmdev_unlink), e_unlink },
	{ "RESIZE", SHMDEV_IOC_RESIZE, sizeof(struct shmdev_resize), e_resize },
	{ "ADD_SEALS", SHMDEV_IOC_ADD_SEALS, sizeof(struct shmdev_seals), e_add_seals },
	{ "GET_SEALS", SHMDEV_IOC_GET_SEALS, sizeof(struct shmdev_seals), e_get_seals },
	{ "SETPERM", SHMDEV_IOC_SETPERM, sizeof(struct shmdev_setperm), e_setperm },
	{ "LIST", SHMDEV_IOC_LIST, sizeof(struct shmdev_list), e_list },
	{ "LIMITS", SHMDEV_IOC_LIMITS, sizeof(struct shmdev_limits), e_limits },
	{ "STAT", SHMDEV_IOC_STAT, sizeof(struct shmdev_stat), e_stat },
	{ "RING", SHMDEV_IOC_RING, sizeof(struct shmdev_bell), e_ring },
	{ "ACK", SHMDEV_IOC_ACK, sizeof(struct shmdev_ack), e_ack },
};

/*
 * LIMITS only ever reads: as root, a set limit would hold for the whole
 * namespace, and other tests, after the fuzzer. Clears the flag bits that
 * would set one, wherever the argument came from.
 */
static void limits_read_only(void *arg)
{
	uint32_t flags;
	size_t off = offsetof(struct shmdev_limits, flags);

	memcpy(&flags, (uint8_t *)arg + off, sizeof(flags));
	flags &= ~SHMDEV_LIMITS_FLAGS_MASK;
	memcpy((uint8_t *)arg + off, &flags, sizeof(flags));
}

struct thread {
	int idx;
	uint64_t rng;
	uint64_t iter;
	uint8_t *scratch;	/* SCRATCH_PAGES, then a guard page */
	uint8_t *list;		/* LIST_PAGES, then a guard page */
	uint8_t *ro;		/* a read-only page */
	struct {
		uint8_t *addr;
		size_t len;
	} maps[MAX_MAPS];
};

static uint64_t rnd(struct thread *t)
{
	t->rng ^= t->rng >> 12;
	t->rng ^= t->rng << 25;
	t->rng ^= t->rng >> 27;
	return t->rng * 0x2545F4914F6CDD1DULL;
}

static uint64_t below(struct thread *t, uint64_t n)
{
	return n ? rnd(t) % n : 0;
}

static bool errno_in(int err, const int *list)
{
	for (; *list; list++)
		if (*list == err)
			return true;
	return false;
}

static void hexdump(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		fprintf(stderr, "%s%02x%s", i % 32 ? "" : "#   ", p[i],
			i % 32 == 31 || i == len - 1 ? "\n" : (i % 8 == 7 ? " " : ""));
}

static void __attribute__((format(printf, 4, 5)))
report(struct thread *t, const void *arg, size_t len, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&report_lock);
	if (failures++ < 10) {
		fprintf(stderr, "# FAIL thread %d iteration %" PRIu64 " (seed 0x%" PRIx64 "): ",
			t->idx, t->iter, master_seed);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
		if (arg && len) {
			fprintf(stderr, "#   argument (%zu bytes):\n", len);
			hexdump(arg, len);
		}
	}
	pthread_mutex_unlock(&report_lock);
	stop = 1;
}

static int pick_fd(struct thread *t)
{
	if (!below(t, 32))
		return below(t, 2) ? -1 : 1000;	/* never open */
	return atomic_load(&fds[below(t, NR_FDS)]);
}

/* The kernel's (and README's) rule: 1 for empty, 0 valid, -1 invalid. */
static int name_state(const char name[SHMDEV_NAME_MAX])
{
	size_t i, len = strnlen(name, SHMDEV_NAME_MAX);

	if (len == SHMDEV_NAME_MAX)
		return -1;
	if (!len)
		return 1;
	for (i = 0; i < len; i++)
		if ((unsigned char)name[i] <= ' ' ||
		    (unsigned char)name[i] > '~' || name[i] == '/')
			return -1;
	return 0;
}

/* A name; *@bad if it is invalid, or empty and @may_be_empty is false. */
static void fill_name(struct thread *t, char name[SHMDEV_NAME_MAX],
		      bool may_be_empty, bool *bad)
{
	static const char badc[] = { '/', ' ', '\n', 0x7f, (char)0x80,
				     (char)0xff, '\t' };
	size_t i, len;
	int state;

	memset(name, 0, SHMDEV_NAME_MAX);
	switch (below(t, 10)) {
	case 0:		/* empty */
		break;
	case 1:		/* no NUL anywhere */
		for (i = 0; i < SHMDEV_NAME_MAX; i++)
			name[i] = 'a' + below(t, 26);
		break;
	case 2:		/* the longest valid name (of the pool) */
		len = snprintf(name, SHMDEV_NAME_MAX, "fz%d-%d-", (int)mypid,
			       (int)below(t, NR_NAMES));
		for (i = len; i < SHMDEV_NAME_MAX - 1; i++)
			name[i] = '~';
		break;
	case 3:		/* random bytes, random length */
		len = below(t, SHMDEV_NAME_MAX + 1);
		for (i = 0; i < len; i++)
			name[i] = rnd(t);
		break;
	case 4:		/* a pool name with one bad character */
		len = snprintf(name, SHMDEV_NAME_MAX, "fz%d-%d", (int)mypid,
			       (int)below(t, NR_NAMES));
		name[below(t, len)] = badc[below(t, sizeof(badc))];
		break;
	default:	/* a pool name, garbage after the NUL */
		len = snprintf(name, SHMDEV_NAME_MAX, "fz%d-%d", (int)mypid,
			       (int)below(t, NR_NAMES));
		for (i = len + 1; i < SHMDEV_NAME_MAX; i++)
			if (below(t, 4) == 0)
				name[i] = rnd(t);
		break;
	}
	state = name_state(name);
	*bad = state < 0 || (state == 1 && !may_be_empty);
}

static uint64_t fuzz_size(struct thread *t)
{
	switch (below(t, 10)) {
	case 0: return 0;
	case 1: return UINT64_MAX - below(t, 2);
	case 2: return 1ULL << (32 + below(t, 32));
	case 3: return max_seg_size + below(t, 2);
	case 4: return 1;
	case 5: return ps * (1 + below(t, 4)) - below(t, 2);
	default: return 1 + below(t, 64 * ps);
	}
}

/* Sets bits of a field now and then. */
static uint32_t fuzz_bits32(struct thread *t, uint32_t valid, bool *bad)
{
	uint32_t v = below(t, 2) ? (uint32_t)rnd(t) & valid : 0;

	if (!below(t, 6)) {
		v |= 1U << below(t, 32);
		if (v & ~valid)
			*bad = true;
	}
	return v;
}

static void fuzz_reserved(struct thread *t, void *res, size_t len, bool *bad)
{
	if (below(t, 8))
		return;
	((uint8_t *)res)[below(t, len)] = 1 + below(t, 255);
	*bad = true;
}

/*
 * Builds an argument for command @c in @buf. *@bad says the input is
 * invalid for certain (EINVAL, ENAMETOOLONG) whatever the state.
 */
static void build_arg(struct thread *t, int c, void *buf, bool *bad,
		      bool *badname)
{
	bool nb;

	memset(buf, 0, 256);
	*bad = false;
	*badname = false;
	switch (c) {
	case C_CREATE: {
		struct shmdev_create *a = buf;

		fill_name(t, a->name, true, &nb);
		*badname = nb;
		a->size = fuzz_size(t);
		a->mode = below(t, 8) ? below(t, 01000) : (uint32_t)rnd(t);
		if (a->mode & ~0777)
			*bad = true;
		a->flags = fuzz_bits32(t, SHMDEV_CREATE_FLAGS_MASK, bad);
		a->id = rnd(t);
		fuzz_reserved(t, a->reserved, sizeof(a->reserved), bad);
		if (!a->size)
			*bad = true;
		break;
	}
	case C_ATTACH: {
		struct shmdev_attach *a = buf;

		fill_name(t, a->name, false, &nb);
		*badname = nb;
		a->flags = fuzz_bits32(t, SHMDEV_ATTACH_FLAGS_MASK, bad);
		/* No name and NEWFD: a re-attach of the file's segment. */
		if (!a->name[0] && (a->flags & SHMDEV_ATTACH_NEWFD))
			*badname = false;
		if (!below(t, 8)) {
			a->pad = rnd(t);
			*bad = *bad || a->pad;
		}
		a->size = rnd(t);
		a->id = rnd(t);
		fuzz_reserved(t, a->reserved, sizeof(a->reserved), bad);
		break;
	}
	case C_UNLINK: {
		struct shmdev_unlink *a = buf;

		fill_name(t, a->name, false, &nb);
		*badname = nb;
		a->flags = fuzz_bits32(t, SHMDEV_UNLINK_FLAGS_MASK, bad);
		if (!below(t, 8)) {
			a->pad = rnd(t);
			*bad = *bad || a->pad;
		}
		fuzz_reserved(t, &a->reserved, sizeof(a->reserved), bad);
		break;
	}
	case C_RESIZE: {
		struct shmdev_resize *a = buf;

		a->size = fuzz_size(t);
		fuzz_reserved(t, a->reserved, sizeof(a->reserved), bad);
		/* size 0 is EINVAL, but an unbound file may say ENODEV */
		break;
	}
	case C_ADD_SEALS: {
		struct shmdev_seals *a = buf;

		a->seals = fuzz_bits32(t, SHMDEV_SEAL_MASK, bad);
		if (!below(t, 8)) {
			a->pad = rnd(t);
			*bad = *bad || a->pad;
		}
		fuzz_reserved(t, a->reserved, sizeof(a->reserved), bad);
		break;
	}
	case C_SETPERM: {
		struct shmdev_setperm *a = buf;

		fill_name(t, a->name, false, &nb);
		*badname = nb;
		a->flags = fuzz_bits32(t, SHMDEV_SETPERM_FLAGS_MASK, bad);
		if (!a->flags)
			*bad = true;
		a->mode = below(t, 8) ? below(t, 01000) : (uint32_t)rnd(t);
		if ((a->flags & SHMDEV_SETPERM_MODE) && (a->mode & ~0777))
			*bad = true;
		/* Root may give names away: keep them ours or root's. */
		a->uid = below(t, 4) ? getuid() : (below(t, 2) ? 0 : (uint32_t)-1);
		a->gid = below(t, 4) ? getgid() : (below(t, 2) ? 0 : (uint32_t)-1);
		if (getuid() != 0) {
			a->uid = getuid();
			a->gid = getgid();
		}
		fuzz_reserved(t, a->reserved, sizeof(a->reserved), bad);
		break;
	}
	case C_LIST: {
		struct shmdev_list *a = buf;

		switch (below(t, 6)) {
		case 0: a->entries = 0; break;
		case 1: a->entries = (uintptr_t)ro_page; break;
		case 2: a->entries = 0xffff888000000000ULL; break;
		default:
			a->entries = (uintptr_t)(t->list + below(t, LIST_PAGES * ps));
			break;
		}
		a->after_id = below(t, 2) ? 0 : rnd(t) % 100000;
		a->nr_entries = below(t, 4) ? below(t, 40) : (uint32_t)rnd(t);
		if (!below(t, 8)) {
			a->flags = rnd(t);
			*bad = *bad || a->flags;
		}
		if (!below(t, 8)) {
			a->pad = rnd(t);
			*bad = *bad || a->pad;
		}
		a->nr_total = rnd(t);
		fuzz_reserved(t, a->reserved, sizeof(a->reserved), bad);
		break;
	}
	case C_LIMITS: {
		struct shmdev_limits *a = buf;

		a->max_segments = rnd(t);
		a->max_segment_size = rnd(t);
		a->max_total_bytes = rnd(t);
		/* Never one that sets (see limits_read_only()). */
		if (!below(t, 6)) {
			a->flags = 1U << (3 + below(t, 29));
			*bad = true;
		}
		fuzz_reserved(t, a->reserved, sizeof(a->reserved), bad);
		break;
	}
	case C_RING: {
		struct shmdev_bell *a = buf;

		a->bell = below(t, 8) ? below(t, SHMDEV_NR_BELLS) :
					(uint32_t)rnd(t);
		a->count = below(t, 8) ? below(t, 4) : (uint32_t)rnd(t);
		if (a->bell >= SHMDEV_NR_BELLS || !a->count)
			*bad = true;
		a->flags = fuzz_bits32(t, 0, bad);
		if (!below(t, 8)) {
			a->pad = rnd(t);
			*bad = *bad || a->pad;
		}
		fuzz_reserved(t, a->reserved, sizeof(a->reserved), bad);
		break;
	}
	case C_ACK: {
		struct shmdev_ack *a = buf;

		a->bells = fuzz_bits32(t, (1U << SHMDEV_NR_BELLS) - 1, bad);
		a->flags = fuzz_bits32(t, SHMDEV_ACK_FLAGS_MASK, bad);
		/* An empty watch set is refused. */
		if ((a->flags & SHMDEV_ACK_WATCH) && !a->bells)
			*bad = true;
		if (below(t, 2))
			memset(a->counts, 0xa5, sizeof(a->counts));
		fuzz_reserved(t, a->reserved, sizeof(a->reserved), bad);
		break;
	}
	default:	/* output only: garbage in */
		if (below(t, 2))
			memset(buf, 0xa5, 256);
		break;
	}
	/* Now and then flip a few bytes anywhere: anything goes then. */
	if (!below(t, 10)) {
		int i, n = 1 + below(t, 4);

		/* Never LIST's entries pointer: the kernel writes there. */
		size_t from = c == C_LIST ? 8 : 0;

		for (i = 0; i < n; i++)
			((uint8_t *)buf)[from + below(t, cmds[c].size - from)] ^=
				1 + below(t, 255);
		*bad = false;
		*badname = false;
	}
	if (c == C_LIMITS)
		limits_read_only(buf);
}

static void do_ioctl(struct thread *t)
{
	uint8_t arg[256], before[256];
	int c = below(t, C_MAX), fd = pick_fd(t), err, kind;
	unsigned long cmd = cmds[c].cmd;
	size_t size = cmds[c].size, off;
	bool bad, badname, good_ptr = false, wrong_cmd = false;
	const int *errs;
	void *ptr;
	long ret;

	build_arg(t, c, arg, &bad, &badname);

	/* A shmdev ioctl code that is not one of ours. */
	if (!below(t, 6)) {
		unsigned int dir = below(t, 4), nr = below(t, 16);
		unsigned int sz = below(t, 2) ? size + below(t, 16) - 8 :
				  below(t, 1U << _IOC_SIZEBITS);

		cmd = _IOC(dir, SHMDEV_IOC_MAGIC, nr, sz);
		for (kind = 0; kind < C_MAX; kind++)
			if (cmds[kind].cmd == cmd)
				break;
		if (kind == C_MAX) {
			wrong_cmd = true;
		} else {
			c = kind;
			size = cmds[c].size;
			bad = badname = false;
			if (c == C_LIMITS)
				limits_read_only(arg);
		}
	}

	kind = below(t, 12);
	switch (kind) {
	case 0: ptr = NULL; break;
	case 1: ptr = (void *)(uintptr_t)(0x1000 + below(t, 0x8000)); break;
	case 2: ptr = (void *)0xffff888000000000ULL; break;
	case 3: ptr = (void *)0x8000000000000000ULL; break;
	case 4:	/* readable, not writable */
		mprotect(t->ro, ps, PROT_READ | PROT_WRITE);
		memcpy(t->ro, arg, size);
		mprotect(t->ro, ps, PROT_READ);
		ptr = t->ro;
		break;
	case 5:	/* runs into the guard page */
		off = SCRATCH_PAGES * ps - below(t, size);
		ptr = t->scratch + off;
		memcpy(ptr, arg, SCRATCH_PAGES * ps - off);
		break;
	default:
		off = below(t, 2) ? 0 : below(t, ps);
		ptr = t->scratch + off;
		memcpy(ptr, arg, size);
		good_ptr = true;
		break;
	}
	if (kind <= 5)
		stat_inc(ST_BAD_PTR);
	if (wrong_cmd)
		stat_inc(ST_BAD_CMD);
	memcpy(before, good_ptr ? ptr : arg, size);

	stat_inc(ST_IOCTL);
	ret = ioctl(fd, cmd, ptr);
	err = ret < 0 ? errno : 0;
	/* CREATE and ATTACH with NEWFD: a new descriptor, not ours to keep. */
	if (ret > 0)
		close(ret);

	if (!err) {
		stat_inc(ST_IOCTL_OK);
		if (wrong_cmd)
			report(t, before, 0, "ioctl %#lx (not a shmdev command) on fd %d succeeded",
			       cmd, fd);
		else if (good_ptr && (bad || badname))
			report(t, before, size, "%s with invalid input succeeded on fd %d",
			       cmds[c].name, fd);
		else if (!good_ptr && ptr != t->ro)
			report(t, before, size, "%s with bad pointer %p succeeded",
			       cmds[c].name, ptr);
		else if (ptr == t->ro && (_IOC_DIR(cmd) & _IOC_READ))
			report(t, before, size, "%s with a read-only argument succeeded",
			       cmds[c].name);
		if (c == C_CREATE && !wrong_cmd)
			stat_inc(ST_CREATED);
		if (c == C_ATTACH && !wrong_cmd)
			stat_inc(ST_ATTACHED);
		return;
	}
	if (err == EBADF)
		return;	/* closed by another thread, or never open */
	if (wrong_cmd) {
		if (err != ENOTTY)
			report(t, before, 0, "ioctl %#lx (dir %lu nr %lu size %lu): %s, want ENOTTY",
			       cmd, (unsigned long)_IOC_DIR(cmd),
			       (unsigned long)_IOC_NR(cmd),
			       (unsigned long)_IOC_SIZE(cmd), strerror(err));
		return;
	}
	/* An injected fault, before or after the input is looked at. */
	if (faults && (err == ENOMEM || err == EFAULT))
		return;
	errs = cmds[c].errs;
	if (!errno_in(err, errs)) {
		report(t, before, size, "%s (cmd %#lx) on fd %d, arg %p: unexpected %s (%d)",
		       cmds[c].name, cmd, fd, ptr, strerror(err), err);
		return;
	}
	/* Certainly invalid input with a good pointer: exactly EINVAL... */
	if (good_ptr && bad && err != EINVAL && err != EBADF)
		report(t, before, size, "%s with invalid flags or reserved fields: %s, want EINVAL",
		       cmds[c].name, strerror(err));
	/* ...or, for a bad name only, EINVAL or ENAMETOOLONG. */
	else if (good_ptr && !bad && badname && err != EINVAL &&
		 err != ENAMETOOLONG && err != EFBIG)
		report(t, before, size, "%s with a bad name: %s, want EINVAL or ENAMETOOLONG (EFBIG: CREATE checks the size first)",
		       cmds[c].name, strerror(err));
}

/*
 * A dup2() onto a slot's number that another thread closed in between
 * makes a file no slot knows of; close every /dev/shmdev file left.
 */
static void close_stray_device_fds(void)
{
	char path[64], target[64];
	ssize_t n;
	int fd;

	for (fd = 3; fd < 1024; fd++) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n = readlink(path, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (!strcmp(target, SHMDEV_DEVICE_PATH))
			close(fd);
	}
}

static void do_fd_op(struct thread *t)
{
	int slot = below(t, NR_FDS), fd, old;

	switch (below(t, 4)) {
	case 0:
	case 1:
		fd = open(SHMDEV_DEVICE_PATH,
			  (below(t, 8) ? O_RDWR : O_RDONLY) | O_CLOEXEC);
		if (fd < 0) {
			if (!faults || errno != ENOMEM)
				report(t, NULL, 0, "open: %s", strerror(errno));
			return;
		}
		stat_inc(ST_OPEN);
		/* Half of them bound to a pool segment, valid arguments. */
		if (below(t, 2)) {
			char name[SHMDEV_NAME_MAX] = "";
			int ret;

			if (below(t, 4))
				snprintf(name, sizeof(name), "fz%d-%d",
					 (int)mypid, (int)below(t, NR_NAMES));
			ret = st_attach(fd, name, below(t, 4) ?
					0 : SHMDEV_ATTACH_RDONLY, NULL, NULL);
			if (ret)
				ret = st_create(fd, name,
						(1 + below(t, 32)) * ps -
						below(t, 2), 0600, NULL);
			if (!ret)
				stat_inc(ST_BOUND);
		}
		old = atomic_exchange(&fds[slot], fd);
		if (old >= 0)
			close(old);
		break;
	case 2:
		old = atomic_exchange(&fds[slot], -1);
		if (old >= 0) {
			close(old);
			stat_inc(ST_CLOSE);
		}
		break;
	default:
		/* dup2 another slot's file over this slot's number. */
		fd = atomic_load(&fds[below(t, NR_FDS)]);
		old = atomic_load(&fds[slot]);
		if (fd >= 0 && old >= 0 && fd != old &&
		    dup2(fd, old) == old)
			stat_inc(ST_DUP);
		break;
	}
}

static void do_mmap(struct thread *t)
{
	static const int prots[] = {
		PROT_READ, PROT_READ | PROT_WRITE, PROT_WRITE, PROT_NONE,
		PROT_READ | PROT_EXEC, PROT_READ | PROT_WRITE | PROT_EXEC,
	};
	int fd = pick_fd(t), prot = prots[below(t, ARRAY_SIZE(prots))];
	int flags, err, i, slot;
	uint64_t len, off;
	bool validate = false, noreplace = false, overflow = false;
	void *hint = NULL, *p;

	switch (below(t, 8)) {
	case 0: len = 0; break;
	case 1: len = 1 + below(t, 1ULL << 32); break;
	case 2: len = 1ULL << (40 + below(t, 24)); break;
	default: len = (1 + below(t, 16)) * ps - (below(t, 4) ? 0 : below(t, ps)); break;
	}
	switch (below(t, 8)) {
	case 0: off = below(t, ps); break;
	case 1: off = (uint64_t)1 << (40 + below(t, 23)); overflow = true; break;
	case 2: off = ((uint64_t)-1 - below(t, 4)) & ~(uint64_t)(ps - 1); overflow = true; break;
	case 3: off = below(t, 64) * ps; break;
	default: off = below(t, 4) * ps; break;
	}
	switch (below(t, 8)) {
	case 0: flags = MAP_PRIVATE; break;
	case 1: flags = MAP_SHARED_VALIDATE; validate = true; break;
	case 2: flags = 0; break;
	case 3: flags = MAP_SHARED | MAP_PRIVATE; break;
	default: flags = MAP_SHARED; break;
	}
	if (!below(t, 8) && len <= (1 << 20))
		flags |= MAP_POPULATE;
	if (!below(t, 8))
		flags |= MAP_NORESERVE;
	if (!below(t, 16)) {
		slot = below(t, MAX_MAPS);
		if (t->maps[slot].addr) {
			hint = t->maps[slot].addr;
			flags |= MAP_FIXED_NOREPLACE;
			noreplace = true;
		}
	}
	stat_inc(ST_MMAP);
	p = mmap(hint, len, prot, flags, fd, off);
	err = errno;
	if (p != MAP_FAILED) {
		stat_inc(ST_MMAP_OK);
		for (i = 0; i < MAX_MAPS; i++)
			if (!t->maps[i].addr)
				break;
		if (i == MAX_MAPS) {
			i = below(t, MAX_MAPS);
			munmap(t->maps[i].addr, t->maps[i].len);
		}
		t->maps[i].addr = p;
		t->maps[i].len = len;
		return;
	}
	if (err == EBADF || err == ENODEV || err == EINVAL || err == EACCES ||
	    err == EPERM || err == ENOMEM || (err == EOVERFLOW && overflow) ||
	    (err == EEXIST && noreplace) || (err == EOPNOTSUPP && validate))
		return;
	report(t, NULL, 0, "mmap(%p, %#" PRIx64 ", prot %#x, flags %#x, fd %d, off %#" PRIx64 "): unexpected %s",
	       hint, len, prot, flags, fd, off, strerror(err));
}

static void do_map_op(struct thread *t)
{
	int i = below(t, MAX_MAPS), sig;
	size_t off, newlen;
	void *p;

	if (!t->maps[i].addr)
		return;
	switch (below(t, 8)) {
	case 0:
		munmap(t->maps[i].addr, t->maps[i].len);
		t->maps[i].addr = NULL;
		stat_inc(ST_MUNMAP);
		break;
	case 1:
		newlen = (1 + below(t, 32)) * ps;
		p = mremap(t->maps[i].addr, t->maps[i].len, newlen,
			   MREMAP_MAYMOVE);
		if (p != MAP_FAILED) {
			t->maps[i].addr = p;
			t->maps[i].len = newlen;
		}
		stat_inc(ST_MREMAP);
		break;
	case 2: {
		static const int advice[] = {
			MADV_DONTNEED, MADV_WILLNEED, MADV_REMOVE, MADV_COLD,
			MADV_PAGEOUT, MADV_POPULATE_READ, MADV_POPULATE_WRITE,
			MADV_DONTFORK, MADV_DOFORK, MADV_FREE,
		};
		size_t len = t->maps[i].len > 16 * ps ? 16 * ps : t->maps[i].len;

		madvise(t->maps[i].addr, len,
			advice[below(t, ARRAY_SIZE(advice))]);
		stat_inc(ST_MADVISE);
		break;
	}
	default:
		off = below(t, t->maps[i].len);
		sig = st_probe(t->maps[i].addr + off, below(t, 2), 0x5a,
			       NULL);
		stat_inc(ST_TOUCH);
		if (sig == SIGBUS || sig == SIGSEGV)
			stat_inc(ST_SIGNAL);
		else if (sig)
			report(t, NULL, 0, "signal %d touching a mapping", sig);
		break;
	}
}

static void *fuzz_thread(void *data)
{
	struct thread *t = data;
	int r, i;

	while (!stop) {
		t->iter++;
		r = below(t, 100);
		if (r < 55)
			do_ioctl(t);
		else if (r < 65)
			do_fd_op(t);
		else if (r < 80)
			do_mmap(t);
		else
			do_map_op(t);
	}
	for (i = 0; i < MAX_MAPS; i++)
		if (t->maps[i].addr)
			munmap(t->maps[i].addr, t->maps[i].len);
	return NULL;
}

/*
 * Highest segment id now (ids only grow), or with @unlink_after, unlinks
 * every listed name of a segment with a higher id: names the fuzzer made
 * up that happened to be valid.
 */
static uint64_t sweep(uint64_t unlink_after, bool do_unlink)
{
	struct shmdev_info ent[32];
	uint64_t after = 0, max = 0;
	uint32_t nr = 0, i;
	int fd = st_open(), n = 0;

	if (fd < 0)
		return 0;
	do {
		if (st_list(fd, after, ent, 32, &nr, NULL))
			break;
		for (i = 0; i < nr; i++) {
			after = ent[i].id;
			if (after > max)
				max = after;
			if (do_unlink && ent[i].id > unlink_after) {
				ent[i].name[SHMDEV_NAME_MAX - 1] = '\0';
				if (!st_unlink(fd, ent[i].name))
					n++;
			}
		}
	} while (nr == 32);
	close(fd);
	if (do_unlink && n)
		printf("# unlinked %d segments with names the fuzzer made up\n",
		       n);
	return max;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "secs", required_argument, NULL, 's' },
		{ "threads", required_argument, NULL, 't' },
		{ "seed", required_argument, NULL, 'S' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "faults", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const params[] = {
		"max_segments", "max_segment_size", "max_total_bytes",
	};
	const uint64_t limits[] = {
		FUZZ_MAX_SEGMENTS, FUZZ_MAX_SEG_SIZE, FUZZ_MAX_TOTAL,
	};
	unsigned long secs = st_env_num("SHMDEV_FUZZ_SECS", 30);
	unsigned long nthreads = st_env_num("SHMDEV_FUZZ_THREADS", 4);
	uint64_t saved[3], start_pages, pages, start_id, val;
	bool have_saved = false, ok;
	struct thread threads[MAX_THREADS];
	pthread_t tids[MAX_THREADS];
	struct rlimit no_core = { 0, 0 };
	char name[SHMDEV_NAME_MAX];
	double t0, t1, end;
	int opt, i, fd;

	ps = sysconf(_SC_PAGESIZE);
	master_seed = st_env_num("SHMDEV_FUZZ_SEED", 0);
	while ((opt = getopt_long(argc, argv, "s:t:S:vf", opts, NULL)) != -1) {
		switch (opt) {
		case 's': secs = strtoul(optarg, NULL, 0); break;
		case 't': nthreads = strtoul(optarg, NULL, 0); break;
		case 'S': master_seed = strtoull(optarg, NULL, 0); break;
		case 'v': verbose = true; break;
		case 'f': faults = true; break;
		default:
			fprintf(stderr, "usage: %s [--secs S] [--threads N] [--seed X] [--faults] [--verbose]\n",
				argv[0]);
			return 2;
		}
	}
	if (nthreads < 1)
		nthreads = 1;
	if (nthreads > MAX_THREADS)
		nthreads = MAX_THREADS;
	if (!master_seed)
		master_seed = st_clock_seed();
	mypid = getpid();

	printf("TAP version 13\n1..1\n");
	printf("# shmdev_fuzz: seed 0x%" PRIx64 " (--seed 0x%" PRIx64 " reproduces each thread's calls), %lu threads, %lu s\n",
	       master_seed, master_seed, nthreads, secs);
	fflush(stdout);
	if (access(SHMDEV_DEVICE_PATH, F_OK)) {
		printf("ok 1 - fuzz # SKIP " SHMDEV_DEVICE_PATH " not found\n");
		printf("# Totals: pass:0 fail:0 xfail:0 xpass:0 skip:1 error:0\n");
		return KSFT_SKIP;
	}
	setrlimit(RLIMIT_CORE, &no_core);
	st_probe_init();

	if (read_param("nr_pages", &start_pages)) {
		printf("not ok 1 - fuzz # cannot read nr_pages\n");
		return 1;
	}
	/* Bounded limits for the run, if we may set them. */
	if (geteuid() == 0) {
		have_saved = true;
		for (i = 0; i < 3; i++)
			if (read_param(params[i], &saved[i]))
				have_saved = false;
		for (i = 0; have_saved && i < 3; i++)
			if (write_param(params[i], limits[i]))
				have_saved = false;
	}
	if (!have_saved && !read_param("max_segment_size", &val))
		max_seg_size = val;
	printf("# limits %s: max_segment_size %" PRIu64 "\n",
	       have_saved ? "lowered for the run" : "unchanged", max_seg_size);

	ro_page = mmap(NULL, ps, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(ro_page, 0, ps);
	mprotect(ro_page, ps, PROT_READ);
	for (i = 0; i < NR_FDS; i++)
		atomic_store(&fds[i], -1);

	start_id = sweep(0, false);
	t0 = st_now_secs();
	end = t0 + secs;
	for (i = 0; i < (int)nthreads; i++) {
		struct thread *t = &threads[i];

		memset(t, 0, sizeof(*t));
		t->idx = i;
		t->rng = st_mix64(master_seed ^ st_mix64(i + 1)) | 1;
		t->scratch = mmap(NULL, (SCRATCH_PAGES + 1) * ps,
				  PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		t->list = mmap(NULL, (LIST_PAGES + 1) * ps,
			       PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (t->scratch == MAP_FAILED || t->list == MAP_FAILED ||
		    t->ro == MAP_FAILED) {
			perror("mmap");
			return 1;
		}
		t->ro = mmap(NULL, ps, PROT_READ,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		mprotect(t->scratch + SCRATCH_PAGES * ps, ps, PROT_NONE);
		mprotect(t->list + LIST_PAGES * ps, ps, PROT_NONE);
		if (pthread_create(&tids[i], NULL, fuzz_thread, t)) {
			perror("pthread_create");
			return 1;
		}
	}
	while (!stop && st_now_secs() < end)
		usleep(20000);
	stop = 1;
	for (i = 0; i < (int)nthreads; i++)
		pthread_join(tids[i], NULL);

	/* The clean-up and the page count: without injected faults. */
	if (faults) {
		int mif = open("/proc/thread-self/make-it-fail", O_WRONLY);

		if (mif < 0 || write(mif, "0", 1) != 1)
			fprintf(stderr, "# cannot stop fault injection: %s\n",
				strerror(errno));
		if (mif >= 0)
			close(mif);
	}
	for (i = 0; i < NR_FDS; i++)
		if (atomic_load(&fds[i]) >= 0)
			close(atomic_load(&fds[i]));
	close_stray_device_fds();
	fd = st_open();
	for (i = 0; fd >= 0 && i < NR_NAMES; i++) {
		snprintf(name, sizeof(name), "fz%d-%d", (int)mypid, i);
		st_unlink(fd, name);
	}
	if (fd >= 0)
		close(fd);
	sweep(start_id, true);
	t1 = st_now_secs();
	for (i = 0; have_saved && i < 3; i++)
		if (write_param(params[2 - i], saved[2 - i]))
			fprintf(stderr, "# cannot restore %s\n", params[2 - i]);

	end = st_now_secs() + st_env_num("SHMDEV_FUZZ_SETTLE_SECS", 10);
	while (!read_param("nr_pages", &pages) && pages != start_pages &&
	       st_now_secs() < end)
		usleep(20000);
	ok = !failures;
	if (pages != start_pages) {
		printf("# nr_pages is %" PRIu64 " after the run, %" PRIu64 " before\n",
		       pages, start_pages);
		ok = false;
	}
	printf("# %.1f s, calls:\n", t1 - t0);
	for (i = 0; i < ST_MAX; i++)
		printf("#   %-20s %10" PRIu64 "\n", stat_names[i], stats[i]);
	if (failures)
		printf("# %d failures; reproduce: shmdev_fuzz --seed 0x%" PRIx64 " --threads %lu --secs %lu\n",
		       failures, master_seed, nthreads, secs);
	printf("%s 1 - fuzz_ioctl_mmap_%lu_threads_documented_errnos_only\n",
	       ok ? "ok" : "not ok", nthreads);
	printf("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:0 error:0\n",
	       ok, !ok);
	return ok ? 0 : 1;
}
