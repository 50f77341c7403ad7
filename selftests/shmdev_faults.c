// SPDX-License-Identifier: GPL-2.0
/*
 * shmdev_faults - every failure point of every shmdev call, one at a time.
 *
 *   shmdev_faults setup            configure failslab, fail_page_alloc and
 *                                  fail_usercopy (debugfs): only in call
 *                                  chains through the module's code, only
 *                                  for tasks with make-it-fail, nothing yet
 *   shmdev_faults arm PERCENT      inject at random with that probability
 *                                  into tasks that set make-it-fail
 *   shmdev_faults disarm           stop; print what was injected since arm
 *   shmdev_faults settle [SECS]    remove every name; wait for the module
 *                                  to hold no segment and no page
 *   shmdev_faults check [--secs S] [--seed X] [--verbose]
 *
 * check is systematic fault injection (/proc/thread-self/fail-nth): each
 * call under test (every ioctl, mmap, populating and touching a mapping)
 * is made with its first fault point failing, then its second, and so on
 * until the call passes every point, each time on fresh objects. After
 * each call, with injection off:
 *  - a call that failed returned an errno of the documented set for an
 *    injected fault (ENOMEM, EFAULT for the calls that copy to or from
 *    user space, EFAULT or SIGBUS for a mapping that cannot be filled) and
 *    left no trace: the list of named segments (sizes, modes, owners,
 *    seals, open files, mappings, resident pages), the namespace's segment
 *    count and bytes, the calling file, the process's descriptors and the
 *    doorbell counts are as before the call;
 *  - a call that succeeded, although a fault was injected (the module
 *    falls back) or not, had its whole effect.
 * Rounds repeat with fresh random sizes and flags until S seconds (default
 * 60, $SHMDEV_FAULTS_SECS) have passed. In the first round, where the
 * kernel lets the reports' rate limit be lifted (verbose_ratelimit_burst),
 * the kernel's report of each injected fault names the function that made
 * the failing request; the output lists the fault points of each call
 * with those names. At the end every
 * segment is gone and the module's page count must be back where it was.
 * Output is TAP, one test per call, with kselftest totals. Needs root and
 * a kernel with CONFIG_FAULT_INJECTION_DEBUG_FS and
 * CONFIG_FAULT_INJECTION_STACKTRACE_FILTER (exit 4, skip, otherwise).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include "shmdev_util.h"

#define KSFT_SKIP	4
#define DEBUGFS		"/sys/kernel/debug"
#define MAX_NTH		256
#define MAX_SEGS	64
#define MAX_SITES	48
#define SITE_LEN	96
#define TIMES_ARMED	1000000000

static const char * const caps[] = {
	"failslab", "fail_page_alloc", "fail_usercopy",
};

static size_t ps;
static uint64_t huge_size;
static unsigned int rng;
static bool verbose;
static int nth_fd = -1;
static int kmsg_fd = -1;
static int dev_ro_fd = -1;	/* unbound, for LIST, VERSION and LIMITS */
static int failures;

/* ----------------------------------------------------------------------- */
/* debugfs configuration */

static int write_str(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	close(fd);
	return n < 0 ? -errno : 0;
}

static int cap_write(const char *cap, const char *file, const char *fmt, ...)
{
	char path[256], val[64];
	va_list ap;
	int ret;

	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	snprintf(path, sizeof(path), DEBUGFS "/%s/%s", cap, file);
	ret = write_str(path, val);
	if (ret)
		fprintf(stderr, "shmdev_faults: %s = %s: %s\n", path, val,
			strerror(-ret));
	return ret;
}

static long cap_read(const char *cap, const char *file)
{
	char path[256], buf[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), DEBUGFS "/%s/%s", cap, file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return LONG_MIN;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return LONG_MIN;
	buf[n] = 0;
	return strtol(buf, NULL, 0);
}

/* The module's address range, from /proc/modules (needs root). */
static int module_range(uint64_t *start, uint64_t *end)
{
	char line[512], name[64];
	uint64_t size, addr;
	FILE *f = fopen("/proc/modules", "re");

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s %" SCNu64 " %*s %*s %*s %" SCNx64, name, &size,
			   &addr) != 3 || strcmp(name, "shmdev"))
			continue;
		fclose(f);
		if (!addr)
			return -EPERM;
		*start = addr;
		*end = addr + size;
		return 0;
	}
	fclose(f);
	return -ENOENT;
}

static bool have_fault_injection(void)
{
	char path[128];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(caps); i++) {
		snprintf(path, sizeof(path), DEBUGFS "/%s/require-start",
			 caps[i]);
		if (access(path, W_OK))
			return false;
	}
	return access("/proc/thread-self/fail-nth", W_OK) == 0;
}

static int setup(void)
{
	uint64_t start, end;
	int ret = module_range(&start, &end);
	size_t i;

	if (ret) {
		fprintf(stderr, "shmdev_faults: no shmdev in /proc/modules: %s\n",
			strerror(-ret));
		return ret;
	}
	for (i = 0; i < ARRAY_SIZE(caps); i++) {
		const char *c = caps[i];

		ret = cap_write(c, "probability", "0") ?:
		      cap_write(c, "interval", "1") ?:
		      cap_write(c, "times", "-1") ?:
		      cap_write(c, "space", "0") ?:
		      cap_write(c, "verbose", "0") ?:
		      cap_write(c, "task-filter", "Y") ?:
		      cap_write(c, "stacktrace-depth", "32") ?:
		      cap_write(c, "require-start", "%" PRIu64, start) ?:
		      cap_write(c, "require-end", "%" PRIu64, end) ?:
		      cap_write(c, "reject-start", "0") ?:
		      cap_write(c, "reject-end", "0");
		if (ret)
			return ret;
	}
	/* GFP_KERNEL requests too, not only those that cannot sleep. */
	return cap_write("failslab", "ignore-gfp-wait", "N") ?:
	       cap_write("fail_page_alloc", "ignore-gfp-wait", "N") ?:
	       cap_write("fail_page_alloc", "ignore-gfp-highmem", "N") ?:
	       cap_write("fail_page_alloc", "min-order", "0");
}

static int arm(unsigned int percent)
{
	size_t i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(caps); i++) {
		ret = cap_write(caps[i], "times", "%d", TIMES_ARMED) ?:
		      cap_write(caps[i], "probability", "%u", percent);
		if (ret)
			return ret;
	}
	return 0;
}

static int disarm(void)
{
	long n, total = 0;
	size_t i;

	printf("# injected:");
	for (i = 0; i < ARRAY_SIZE(caps); i++) {
		if (cap_write(caps[i], "probability", "0"))
			return 1;
		n = cap_read(caps[i], "times");
		n = n == -1 || n == LONG_MIN ? 0 : TIMES_ARMED - n;
		total += n;
		printf("%s %s %ld", i ? "," : "", caps[i], n);
		cap_write(caps[i], "times", "-1");
	}
	printf(" (%ld in all)\n", total);
	return 0;
}

/* ----------------------------------------------------------------------- */
/* Injection and the kernel's reports of it */

/*
 * Reports of injected faults: 2 with the stack and no rate limit, 0 none.
 * The stacks name the sites.
 */
static void set_verbose(int v)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(caps); i++) {
		cap_write(caps[i], "verbose", "%d", v);
		cap_write(caps[i], "verbose_ratelimit_burst", "%d",
			  v ? 1000000 : 10);
	}
}

/* Can every report be had, its rate limit lifted? */
static bool can_name_sites(void)
{
	return kmsg_fd >= 0 &&
	       !access(DEBUGFS "/failslab/verbose_ratelimit_burst", W_OK);
}

/* Arms the @nth fault point from now on in this thread. */
static void inject_nth(int nth)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%d", nth);

	if (pwrite(nth_fd, buf, len, 0) != len) {
		perror("fail-nth");
		exit(1);
	}
}

/* True if the armed point was reached (and failed); disarms it if not. */
static bool injected(void)
{
	char buf[16] = "";
	ssize_t n = pread(nth_fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0) {
		perror("fail-nth");
		exit(1);
	}
	if (atoi(buf) == 0)
		return true;
	inject_nth(0);
	return false;
}

/* Skips what the kernel log holds so far. */
static void kmsg_drain(void)
{
	char rec[1024];

	if (kmsg_fd >= 0)
		while (read(kmsg_fd, rec, sizeof(rec)) > 0 || errno == EPIPE)
			;
}

/*
 * Reads the report of an injected fault from the kernel log: the first
 * frame in the module, the function it called and the fault type,
 * "shmdev_seg_new -> __shmem_file_setup (failslab)". Empty if there was
 * no report.
 */
static void kmsg_site(char *site, size_t len)
{
	char rec[1024], cap[32] = "", callee[64] = "", *msg, *p;
	bool dump = false;
	ssize_t n;

	*site = 0;
	if (kmsg_fd < 0)
		return;
	while ((n = read(kmsg_fd, rec, sizeof(rec) - 1)) > 0 ||
	       (n < 0 && errno == EPIPE)) {
		if (n <= 0)
			continue;
		rec[n] = 0;
		msg = strchr(rec, ';');
		if (!msg)
			continue;
		msg++;
		p = strchr(msg, '\n');
		if (p)
			*p = 0;
		/* One record: "FAULT_INJECTION: ...\x0aname failslab, ..." */
		if (strstr(msg, "FAULT_INJECTION: forcing a failure")) {
			dump = true;
			*cap = *callee = 0;
			p = strstr(msg, "name ");
			if (p)
				sscanf(p, "name %31[^,],", cap);
			continue;
		}
		if (!dump)
			continue;
		while (*msg == ' ')
			msg++;
		if (*msg == '?' || *msg == '<' || !strchr(msg, '+'))
			continue;
		p = strchr(msg, '+');
		if (strstr(msg, "[shmdev]") && !*site) {
			*p = 0;
			snprintf(site, len, "%s -> %s (%s)", msg, callee, cap);
			dump = false;
			continue;
		}
		*p = 0;
		snprintf(callee, sizeof(callee), "%s", msg);
	}
}

/* ----------------------------------------------------------------------- */
/* What must not change */

struct snap {
	unsigned int nr;
	struct shmdev_info seg[MAX_SEGS];
	struct shmdev_limits lim;
	int nfds;
	long vmlck;	/* kB: LOCKED segments are charged to their creator */
	int nr_held;
	struct shmdev_info held[4];
	int held_ret[4];
};

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1;	/* the directory's own */
}

static void take_snap(struct snap *s, const int *held, int nr_held)
{
	struct shmdev_list l;
	int i;

	memset(s, 0, sizeof(*s));
	memset(&l, 0, sizeof(l));
	l.entries = (uintptr_t)s->seg;
	l.nr_entries = MAX_SEGS;
	if (st_ioctl(dev_ro_fd, SHMDEV_IOC_LIST, &l) == 0)
		s->nr = l.nr_entries;
	st_ioctl(dev_ro_fd, SHMDEV_IOC_LIMITS, &s->lim);
	s->nfds = count_fds();
	s->vmlck = st_vm_locked_kb();
	s->nr_held = nr_held;
	for (i = 0; i < nr_held && i < 4; i++)
		s->held_ret[i] = st_info(held[i], &s->held[i]);
}

static bool info_same(const struct shmdev_info *a, const struct shmdev_info *b,
		      char *why, size_t len)
{
#define FIELD(f) do {							\
		if (a->f != b->f) {					\
			snprintf(why, len, "segment %" PRIu64 " %s: %" \
				 PRIu64 " before, %" PRIu64 " after",	\
				 (uint64_t)a->id, #f, (uint64_t)a->f,	\
				 (uint64_t)b->f);			\
			return false;					\
		}							\
	} while (0)
	FIELD(id);
	FIELD(size);
	FIELD(flags);
	FIELD(mode);
	FIELD(uid);
	FIELD(gid);
	FIELD(nr_files);
	FIELD(nr_maps);
	FIELD(nr_pages);
	FIELD(seals);
#undef FIELD
	if (strcmp(a->name, b->name)) {
		snprintf(why, len, "segment %" PRIu64 " renamed", (uint64_t)a->id);
		return false;
	}
	return true;
}

/* Compares @a, taken before a call that failed, with now. */
static bool no_trace(const struct snap *a, const int *held, char *why,
		     size_t len)
{
	struct snap b;
	unsigned int i;

	take_snap(&b, held, a->nr_held);
	if (a->nr != b.nr) {
		snprintf(why, len, "%u named segments before, %u after",
			 a->nr, b.nr);
		return false;
	}
	for (i = 0; i < a->nr; i++)
		if (!info_same(&a->seg[i], &b.seg[i], why, len))
			return false;
	if (a->lim.nr_segments != b.lim.nr_segments ||
	    a->lim.total_bytes != b.lim.total_bytes) {
		snprintf(why, len,
			 "namespace usage %" PRIu64 " segments %" PRIu64 " bytes before, %" PRIu64 " %" PRIu64 " after",
			 (uint64_t)a->lim.nr_segments,
			 (uint64_t)a->lim.total_bytes,
			 (uint64_t)b.lim.nr_segments,
			 (uint64_t)b.lim.total_bytes);
		return false;
	}
	if (a->nfds != b.nfds) {
		snprintf(why, len, "%d descriptors before, %d after", a->nfds,
			 b.nfds);
		return false;
	}
	if (a->vmlck != b.vmlck) {
		snprintf(why, len, "VmLck %ld kB before, %ld kB after",
			 a->vmlck, b.vmlck);
		return false;
	}
	for (i = 0; i < (unsigned int)a->nr_held && i < 4; i++) {
		if (a->held_ret[i] != b.held_ret[i]) {
			snprintf(why, len, "file %u: INFO %d before, %d after",
				 i, a->held_ret[i], b.held_ret[i]);
			return false;
		}
		if (!a->held_ret[i] &&
		    !info_same(&a->held[i], &b.held[i], why, len))
			return false;
	}
	return true;
}

/* ----------------------------------------------------------------------- */
/* The calls under test */

enum { E_NOMEM = 1, E_FAULT = 2, E_BUS = 4 };

struct call;

/*
 * One attempt: set up fresh objects with injection off, then make the call
 * with the @nth fault point armed (between inject_nth() and injected()),
 * then verify. Returns true if a fault was injected.
 */
typedef bool (*attempt_fn)(struct call *c, int nth);

struct site {
	char name[SITE_LEN];
	unsigned long count;
};

struct call {
	const char *name;
	attempt_fn fn;
	unsigned int errnos;	/* E_* allowed for an injected fault */
	unsigned long calls, injected, failed, absorbed, bad;
	unsigned long err_nomem, err_fault, err_bus;
	int max_points;
	struct site sites[MAX_SITES];
	int nr_sites;
};

static bool naming;	/* first round: wait for each report */

static void fail(struct call *c, const char *fmt, ...)
{
	va_list ap;

	c->bad++;
	failures++;
	printf("# %s: ", c->name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static void note_site(struct call *c, const char *site)
{
	int i;

	if (!*site)
		return;
	for (i = 0; i < c->nr_sites; i++)
		if (!strcmp(c->sites[i].name, site)) {
			c->sites[i].count++;
			return;
		}
	if (c->nr_sites < MAX_SITES) {
		snprintf(c->sites[i].name, SITE_LEN, "%s", site);
		c->sites[i].count = 1;
		c->nr_sites++;
	}
}

/*
 * Judges a call's result. @ret is 0 or -errno (-EINTR standing for SIGBUS);
 * @snap what was there before. For a failure, checks errno and the trace;
 * the caller verifies a success itself. Returns true if it failed.
 */
static bool judge(struct call *c, bool inj, int ret, const struct snap *snap,
		  const int *held)
{
	char why[256];
	unsigned int e;

	c->calls++;
	if (inj) {
		char site[SITE_LEN] = "";

		c->injected++;
		if (naming) {
			kmsg_site(site, sizeof(site));
			if (!*site)
				snprintf(site, sizeof(site),
					 "(no report: a __GFP_NOWARN request)");
			note_site(c, site);
		}
		if (verbose)
			printf("# %s: point %lu: %s%s\n", c->name, c->injected,
			       ret ? strerror(-ret) : "absorbed",
			       *site ? "" : " (no report)");
	}
	if (!ret) {
		c->absorbed += inj;
		return false;
	}
	c->failed++;
	e = ret == -ENOMEM ? E_NOMEM : ret == -EFAULT ? E_FAULT :
	    ret == -EINTR ? E_BUS : 0;
	c->err_nomem += e == E_NOMEM;
	c->err_fault += e == E_FAULT;
	c->err_bus += e == E_BUS;
	if (!inj)
		fail(c, "failed with %s although no fault was injected",
		     ret == -EINTR ? "SIGBUS" : strerror(-ret));
	else if (!(c->errnos & e))
		fail(c, "an injected fault gave %s",
		     ret == -EINTR ? "SIGBUS" : strerror(-ret));
	else if (snap && !no_trace(snap, held, why, sizeof(why)))
		fail(c, "failed with %s and left a trace: %s",
		     ret == -EINTR ? "SIGBUS" : strerror(-ret), why);
	return true;
}

/* ioctl() as it returns (a new descriptor for NEWFD), or -errno. */
static int sys_ioctl(int fd, unsigned long cmd, void *arg)
{
	int ret = ioctl(fd, cmd, arg);

	return ret < 0 ? -errno : ret;
}

static int fresh_dev(void)
{
	int fd = st_open();

	if (fd < 0) {
		perror("open /dev/shmdev");
		exit(1);
	}
	return fd;
}

static uint64_t rand_pages(unsigned int max)
{
	return (uint64_t)(rand_r(&rng) % max + 1) * ps;
}

static const char *seg_name(char *buf)
{
	static unsigned int n;

	sprintf(buf, "faults-%d-%u", getpid(), n++);
	return buf;
}

/* A segment with its id stored in its first 8 bytes; returns the fd. */
static int make_seg(const char *name, uint64_t size, uint32_t flags,
		    uint64_t *id)
{
	int fd = fresh_dev();
	uint64_t *p;

	if (st_create_flags(fd, name, size, 0600, flags, id)) {
		perror("create (no injection)");
		exit(1);
	}
	p = mmap(NULL, ps, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		perror("mmap (no injection)");
		exit(1);
	}
	*p = *id;
	munmap(p, ps);
	return fd;
}

/* The id a file's segment holds at offset 0, through a new mapping. */
static bool holds_id(int fd, uint64_t id)
{
	uint64_t *p = mmap(NULL, ps, PROT_READ, MAP_SHARED, fd, 0);
	bool ok;

	if (p == MAP_FAILED)
		return false;
	ok = *p == id;
	munmap(p, ps);
	return ok;
}

static void drop(int fd, const char *name)
{
	if (name && *name)
		st_unlink(dev_ro_fd, name);
	if (fd >= 0)
		close(fd);
}

static bool try_create(struct call *c, int nth)
{
	struct shmdev_create arg;
	struct shmdev_info info;
	struct snap snap;
	char name[64] = "";
	int fd = fresh_dev(), bound, ret;
	bool inj;

	memset(&arg, 0, sizeof(arg));
	if (rand_r(&rng) % 4)
		seg_name(arg.name);
	arg.mode = 0600 | (rand_r(&rng) % 2 ? 040 : 0);
	arg.flags = rand_r(&rng) % 16 & ~SHMDEV_CREATE_HUGE;
	arg.size = rand_pages(32);
	if (huge_size && rand_r(&rng) % 4 == 0) {
		arg.flags |= SHMDEV_CREATE_HUGE;
		arg.size = huge_size;
	}
	strcpy(name, arg.name);
	take_snap(&snap, &fd, 1);
	inject_nth(nth);
	ret = sys_ioctl(fd, SHMDEV_IOC_CREATE, &arg);
	inj = injected();
	bound = (arg.flags & SHMDEV_CREATE_NEWFD) && ret >= 0 ? ret : fd;
	if (ret > 0)
		ret = 0;
	if (!judge(c, inj, ret, &snap, &fd)) {
		int err = st_info(bound, &info);

		if (err || info.id != arg.id || info.size != arg.size ||
		    info.mode != arg.mode || strcmp(info.name, name))
			fail(c, "succeeded (flags %#x) but INFO says %d: id %" PRIu64 "/%" PRIu64 ", size %" PRIu64 "/%" PRIu64 ", mode %o/%o, name '%s'/'%s'",
			     arg.flags, err, (uint64_t)info.id,
			     (uint64_t)arg.id, (uint64_t)info.size,
			     (uint64_t)arg.size, info.mode, arg.mode, info.name,
			     name);
		else if (!holds_id(bound, 0))
			fail(c, "succeeded but the new segment is not zeroed");
	}
	if (bound != fd)
		close(bound);
	drop(fd, name);
	return inj;
}

static bool try_attach(struct call *c, int nth)
{
	struct shmdev_attach arg;
	struct snap snap;
	char name[64];
	uint64_t id;
	int seg = make_seg(seg_name(name), rand_pages(16), 0, &id);
	int fd = fresh_dev(), bound, ret;
	bool inj;

	memset(&arg, 0, sizeof(arg));
	strcpy(arg.name, name);
	arg.flags = rand_r(&rng) % 8;
	take_snap(&snap, &fd, 1);
	inject_nth(nth);
	ret = sys_ioctl(fd, SHMDEV_IOC_ATTACH, &arg);
	inj = injected();
	bound = (arg.flags & SHMDEV_ATTACH_NEWFD) && ret >= 0 ? ret : fd;
	if (ret > 0)
		ret = 0;
	if (!judge(c, inj, ret, &snap, &fd) &&
	    (arg.id != id || !holds_id(bound, id)))
		fail(c, "succeeded (flags %#x) but the file is not on the segment",
		     arg.flags);
	if (bound != fd)
		close(bound);
	close(fd);
	drop(seg, name);
	return inj;
}

static bool try_reattach(struct call *c, int nth)
{
	struct shmdev_attach arg;
	struct snap snap;
	uint64_t id;
	int seg = make_seg("", rand_pages(16), 0, &id), ret;
	bool inj;

	memset(&arg, 0, sizeof(arg));
	arg.flags = SHMDEV_ATTACH_NEWFD | (rand_r(&rng) % 2);
	take_snap(&snap, &seg, 1);
	inject_nth(nth);
	ret = sys_ioctl(seg, SHMDEV_IOC_ATTACH, &arg);
	inj = injected();
	if (ret > 0) {
		if (!holds_id(ret, id))
			fail(c, "succeeded but the new file is not on the segment");
		close(ret);
		ret = 0;
	}
	judge(c, inj, ret, &snap, &seg);
	close(seg);
	return inj;
}

/* Fills [0, len) of @fd's segment with the pattern of @seed, or checks it. */
static bool pattern(int fd, size_t len, uint8_t seed, bool fill)
{
	uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	bool ok = true;

	if (p == MAP_FAILED)
		return false;
	if (fill)
		st_fill(p, len, seed);
	else
		ok = st_mismatch(p, len, seed) == len;
	munmap(p, len);
	return ok;
}

static bool zeroes(int fd, size_t from, size_t to)
{
	uint8_t *p = mmap(NULL, to, PROT_READ, MAP_SHARED, fd, 0);
	size_t i;
	bool ok = true;

	if (p == MAP_FAILED)
		return false;
	for (i = from; i < to && ok; i++)
		ok = !p[i];
	munmap(p, to);
	return ok;
}

static bool try_resize(struct call *c, int nth)
{
	bool locked = rand_r(&rng) % 4 == 0;
	uint64_t id, old = rand_pages(16), new = rand_pages(16);
	struct shmdev_info info;
	struct snap snap;
	char name[64];
	int fd = make_seg(seg_name(name), old,
			  locked ? SHMDEV_CREATE_LOCKED : 0, &id), ret;
	bool inj;

	pattern(fd, old, 7, true);
	take_snap(&snap, &fd, 1);
	inject_nth(nth);
	ret = st_resize(fd, new);
	inj = injected();
	if (judge(c, inj, ret, &snap, &fd)) {
		if (!pattern(fd, old, 7, false))
			fail(c, "failed but the contents changed");
	} else if (st_info(fd, &info) || info.size != new ||
		   !pattern(fd, old < new ? old : new, 7, false) ||
		   (new > old && !zeroes(fd, old, new))) {
		fail(c, "%" PRIu64 " to %" PRIu64 " succeeded but size or contents are wrong",
		     old, new);
	}
	drop(fd, name);
	return inj;
}

static bool try_seals(struct call *c, int nth)
{
	uint32_t want = 1 + rand_r(&rng) % 0x1f, got = ~0U;
	struct snap snap;
	uint64_t id;
	int fd = make_seg("", ps, 0, &id), ret;
	bool inj;

	take_snap(&snap, &fd, 1);
	inject_nth(nth);
	ret = st_add_seals(fd, want);
	inj = injected();
	if (!judge(c, inj, ret, &snap, &fd) &&
	    (st_get_seals(fd, &got) || got != want))
		fail(c, "added %#x but %#x are in force", want, got);
	close(fd);
	return inj;
}

static bool try_setperm(struct call *c, int nth)
{
	struct shmdev_info info;
	struct snap snap;
	char name[64];
	uint64_t id;
	uint32_t mode = 0600 | (rand_r(&rng) % 0100);
	int fd = make_seg(seg_name(name), ps, 0, &id), ret;
	bool inj;

	take_snap(&snap, &fd, 1);
	inject_nth(nth);
	ret = st_setperm(dev_ro_fd, name, SHMDEV_SETPERM_MODE |
			 SHMDEV_SETPERM_UID | SHMDEV_SETPERM_GID, mode,
			 getuid(), getgid());
	inj = injected();
	if (!judge(c, inj, ret, &snap, &fd) &&
	    (st_info(fd, &info) || info.mode != mode))
		fail(c, "set mode %o but the mode is %o", mode, info.mode);
	drop(fd, name);
	return inj;
}

static bool try_unlink(struct call *c, int nth)
{
	struct snap snap;
	char name[64];
	uint64_t id;
	int fd = make_seg(seg_name(name), ps, 0, &id), probe, ret;
	bool inj;

	take_snap(&snap, &fd, 1);
	inject_nth(nth);
	ret = st_unlink(dev_ro_fd, name);
	inj = injected();
	if (!judge(c, inj, ret, &snap, &fd)) {
		probe = fresh_dev();
		if (st_attach(probe, name, SHMDEV_ATTACH_RDONLY, NULL, NULL) !=
		    -ENOENT)
			fail(c, "succeeded but the name is still there");
		close(probe);
		name[0] = 0;
	}
	drop(fd, name);
	return inj;
}

/* The read-only ioctls: a failure changes nothing, a success is right. */
static bool try_query(struct call *c, int nth)
{
	union {
		struct shmdev_version ver;
		struct shmdev_info info;
		struct shmdev_stat stat;
		struct shmdev_seals seals;
		struct shmdev_limits lim;
		struct shmdev_list list;
	} arg, ref;
	struct shmdev_info entries[4];
	static const unsigned long cmds[] = {
		SHMDEV_IOC_VERSION, SHMDEV_IOC_INFO, SHMDEV_IOC_STAT,
		SHMDEV_IOC_GET_SEALS, SHMDEV_IOC_LIMITS, SHMDEV_IOC_LIST,
	};
	unsigned long cmd = cmds[rand_r(&rng) % ARRAY_SIZE(cmds)];
	struct snap snap;
	char name[64];
	uint64_t id;
	int fd = make_seg(seg_name(name), ps, 0, &id), ret;
	bool inj;

	memset(&arg, 0, sizeof(arg));
	if (cmd == SHMDEV_IOC_LIST) {
		arg.list.entries = (uintptr_t)entries;
		arg.list.nr_entries = ARRAY_SIZE(entries);
	}
	ref = arg;
	take_snap(&snap, &fd, 1);
	inject_nth(nth);
	ret = st_ioctl(fd, cmd, &arg);
	inj = injected();
	if (!judge(c, inj, ret, &snap, &fd) && cmd != SHMDEV_IOC_STAT &&
	    cmd != SHMDEV_IOC_LIST) {
		st_ioctl(fd, cmd, &ref);
		if (memcmp(&ref, &arg, sizeof(arg)))
			fail(c, "ioctl %#lx succeeded with another result than without a fault",
			     cmd);
	} else if (!ret && cmd == SHMDEV_IOC_LIST && !arg.list.nr_entries) {
		fail(c, "LIST succeeded but found nothing");
	}
	drop(fd, name);
	return inj;
}

/* Counts of bell @bell pending for @fd, acknowledged without a fault. */
static uint64_t pending(int fd, unsigned int bell)
{
	struct shmdev_ack ack;

	memset(&ack, 0, sizeof(ack));
	ack.bells = 1U << bell;
	if (st_ioctl(fd, SHMDEV_IOC_ACK, &ack))
		return ~0ULL;
	return ack.counts[bell];
}

/*
 * An anonymous segment with two files, @fds[0] the creator's and @fds[1]
 * a re-attach, and a random ring of one of its doorbells in @bell.
 */
static void bell_pair(int fds[2], struct shmdev_bell *bell)
{
	struct shmdev_attach re;
	uint64_t id;

	fds[0] = make_seg("", ps, 0, &id);
	memset(&re, 0, sizeof(re));
	re.flags = SHMDEV_ATTACH_NEWFD;
	fds[1] = ioctl(fds[0], SHMDEV_IOC_ATTACH, &re);
	if (fds[1] < 0) {
		perror("re-attach (no injection)");
		exit(1);
	}
	memset(bell, 0, sizeof(*bell));
	bell->bell = rand_r(&rng) % SHMDEV_NR_BELLS;
	bell->count = 1 + rand_r(&rng) % 1000;
}

static bool try_ring(struct call *c, int nth)
{
	struct shmdev_bell bell;
	struct snap snap;
	uint64_t got;
	int fds[2], ret;
	bool inj;

	bell_pair(fds, &bell);
	take_snap(&snap, fds, 2);
	inject_nth(nth);
	ret = st_ioctl(fds[0], SHMDEV_IOC_RING, &bell);
	inj = injected();
	got = pending(fds[1], bell.bell);
	if (judge(c, inj, ret, &snap, fds)) {
		if (got)
			fail(c, "failed but rang %" PRIu64 " times", got);
	} else if (got != bell.count) {
		fail(c, "rang %u times but %" PRIu64 " arrived", bell.count, got);
	}
	close(fds[1]);
	close(fds[0]);
	return inj;
}

static bool try_ack(struct call *c, int nth)
{
	struct shmdev_bell bell;
	struct shmdev_ack ack;
	struct pollfd pfd;
	struct snap snap;
	unsigned int other;
	uint64_t got;
	int fds[2], ret;
	bool inj;

	bell_pair(fds, &bell);
	other = (bell.bell + 1) % SHMDEV_NR_BELLS;
	st_ioctl(fds[0], SHMDEV_IOC_RING, &bell);
	memset(&ack, 0, sizeof(ack));
	ack.bells = 1U << bell.bell;
	ack.flags = rand_r(&rng) % 2 ? SHMDEV_ACK_WATCH : 0;
	take_snap(&snap, fds, 2);
	inject_nth(nth);
	ret = st_ioctl(fds[1], SHMDEV_IOC_ACK, &ack);
	inj = injected();
	if (judge(c, inj, ret, &snap, fds)) {
		got = pending(fds[1], bell.bell);
		if (got != bell.count)
			fail(c, "failed and lost rings: %" PRIu64 " of %u left",
			     got, bell.count);
	} else if (ack.counts[bell.bell] != bell.count) {
		fail(c, "returned %" PRIu64 " of %u rings",
		     (uint64_t)ack.counts[bell.bell], bell.count);
	}
	/* The watch set: changed only by an ACK that succeeded. */
	bell.bell = other;
	bell.count = 1;
	st_ioctl(fds[0], SHMDEV_IOC_RING, &bell);
	pfd.fd = fds[1];
	pfd.events = POLLIN;
	poll(&pfd, 1, 0);
	if (!!(pfd.revents & POLLIN) != (ret || !ack.flags))
		fail(c, "%s with WATCH %s the watch set", ret ? "failed" : "succeeded",
		     ret ? "changed" : "kept");
	close(fds[1]);
	close(fds[0]);
	return inj;
}

static bool try_mmap(struct call *c, int nth)
{
	struct snap snap;
	uint64_t id, size = rand_pages(32);
	bool premap = rand_r(&rng) % 2, inj;
	int fd = make_seg("", size, premap ? SHMDEV_CREATE_PREMAP : 0, &id);
	uint64_t *p;
	int ret = 0;

	take_snap(&snap, &fd, 1);
	inject_nth(nth);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		ret = -errno;
	inj = injected();
	if (!judge(c, inj, ret, &snap, &fd)) {
		if (*p != id)
			fail(c, "succeeded but maps another segment");
		munmap(p, size);
	}
	close(fd);
	return inj;
}

static sigjmp_buf bus_jmp;

static void on_bus(int sig)
{
	(void)sig;
	siglongjmp(bus_jmp, 1);
}

/*
 * Stores into every page of @p but the first: 0, or -EINTR if one raised
 * SIGBUS. Nothing of the caller's is live across the sigsetjmp().
 */
static int store_pages(volatile uint8_t *p, uint64_t size)
{
	size_t off;

	if (sigsetjmp(bus_jmp, 1))
		return -EINTR;
	for (off = ps; off < size; off += ps)
		p[off] = 1;
	return 0;
}

/*
 * Filling a mapping: MADV_POPULATE_WRITE (EFAULT or ENOMEM) or stores
 * (SIGBUS) with one page's allocation failing. What was written before
 * stays, and the segment works afterwards.
 */
static bool try_fill(struct call *c, int nth)
{
	bool populate = rand_r(&rng) % 2, inj;
	uint64_t id, size = rand_pages(32);
	int fd = make_seg("", size, 0, &id), ret = 0;
	volatile uint8_t *p;
	size_t off;

	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		perror("mmap (no injection)");
		exit(1);
	}
	inject_nth(nth);
	if (populate) {
		if (madvise((void *)p, size, MADV_POPULATE_WRITE))
			ret = -errno;
	} else {
		ret = store_pages(p, size);
	}
	inj = injected();
	judge(c, inj, ret, NULL, NULL);
	if (*(volatile uint64_t *)p != id)
		fail(c, "the segment lost its first page");
	for (off = ps; off < size; off += ps)
		p[off] = 2;
	for (off = ps; off < size; off += ps)
		if (p[off] != 2)
			break;
	if (off < size)
		fail(c, "the segment does not work after the fault");
	munmap((void *)p, size);
	close(fd);
	return inj;
}

static struct call calls[] = {
	{ .name = "create", .fn = try_create, .errnos = E_NOMEM | E_FAULT },
	{ .name = "attach", .fn = try_attach, .errnos = E_NOMEM | E_FAULT },
	{ .name = "reattach", .fn = try_reattach, .errnos = E_NOMEM | E_FAULT },
	{ .name = "resize", .fn = try_resize, .errnos = E_NOMEM | E_FAULT },
	{ .name = "add_seals", .fn = try_seals, .errnos = E_NOMEM | E_FAULT },
	{ .name = "setperm", .fn = try_setperm, .errnos = E_NOMEM | E_FAULT },
	{ .name = "unlink", .fn = try_unlink, .errnos = E_NOMEM | E_FAULT },
	{ .name = "query", .fn = try_query, .errnos = E_NOMEM | E_FAULT },
	{ .name = "ring", .fn = try_ring, .errnos = E_NOMEM | E_FAULT },
	{ .name = "ack", .fn = try_ack, .errnos = E_NOMEM | E_FAULT },
	{ .name = "mmap", .fn = try_mmap, .errnos = E_NOMEM },
	{ .name = "fill", .fn = try_fill, .errnos = E_NOMEM | E_FAULT | E_BUS },
};

/* Every fault point of one call, in turn; returns how many it has. */
static int all_points(struct call *c)
{
	int nth;

	for (nth = 1; nth <= MAX_NTH; nth++) {
		kmsg_drain();
		if (!c->fn(c, nth))
			break;
	}
	if (nth - 1 > c->max_points)
		c->max_points = nth - 1;
	return nth - 1;
}

static long nr_pages(void)
{
	FILE *f = fopen("/sys/module/shmdev/parameters/nr_pages", "re");
	long n = -1;

	if (f) {
		if (fscanf(f, "%ld", &n) != 1)
			n = -1;
		fclose(f);
	}
	return n;
}

static int check(unsigned int secs, unsigned int seed)
{
	struct shmdev_version ver;
	time_t end = time(NULL) + secs;
	unsigned int rounds = 0, i, t = 0, nfail = 0;
	long pages0, pages;
	int s;

	rng = seed;
	ps = sysconf(_SC_PAGESIZE);
	printf("TAP version 13\n1..%zu\n", ARRAY_SIZE(calls) + 1);
	printf("# shmdev_faults: seed %u, %u s\n", seed, secs);
	if (!have_fault_injection()) {
		printf("ok 1 - faults # SKIP no fault injection with stack filter and fail-nth in this kernel\n");
		printf("# Totals: pass:0 fail:0 xfail:0 xpass:0 skip:1 error:0\n");
		return KSFT_SKIP;
	}
	dev_ro_fd = fresh_dev();
	if (st_version(dev_ro_fd, &ver) == 0 &&
	    (ver.features & SHMDEV_FEAT_HUGE))
		huge_size = ver.huge_page_size;
	nth_fd = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
	kmsg_fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (nth_fd < 0 || setup()) {
		printf("Bail out! cannot configure fault injection\n");
		return 1;
	}
	signal(SIGBUS, on_bus);
	pages0 = nr_pages();

	/* Round one names the sites; the report costs time, so only then. */
	naming = can_name_sites();
	set_verbose(naming ? 2 : 0);
	do {
		for (i = 0; i < ARRAY_SIZE(calls); i++)
			all_points(&calls[i]);
		if (naming) {
			naming = false;
			set_verbose(0);
		}
		rounds++;
	} while (time(NULL) < end);

	for (i = 0; i < ARRAY_SIZE(calls); i++) {
		struct call *c = &calls[i];

		printf("# %s: %lu calls, %d fault points, %lu injected: %lu failed (ENOMEM %lu, EFAULT %lu, SIGBUS %lu), %lu absorbed\n",
		       c->name, c->calls, c->max_points, c->injected,
		       c->failed, c->err_nomem, c->err_fault, c->err_bus,
		       c->absorbed);
		for (s = 0; s < c->nr_sites; s++)
			printf("#   %s (%lu)\n", c->sites[s].name,
			       c->sites[s].count);
		nfail += !!c->bad;
		printf("%sok %u - %s\n", c->bad ? "not " : "", ++t, c->name);
	}

	/* Freed pages are accounted within a few seconds. */
	for (s = 0; s < 60 && (pages = nr_pages()) != pages0; s++)
		sleep(1);
	printf("# %u rounds; module pages %ld before, %ld after\n", rounds,
	       pages0, pages);
	if (pages != pages0) {
		struct snap now;
		char line[512];
		FILE *maps = fopen("/proc/self/maps", "re");

		take_snap(&now, NULL, 0);
		printf("# still there: %u named, %" PRIu64 " segments; %d descriptors\n",
		       now.nr, (uint64_t)now.lim.nr_segments, now.nfds);
		while (maps && fgets(line, sizeof(line), maps))
			if (strstr(line, "shmdev"))
				printf("#   %s", line);
		if (maps)
			fclose(maps);
	}
	if (pages != pages0)
		nfail++, failures++;
	printf("%sok %u - pages_back\n", pages != pages0 ? "not " : "", ++t);
	printf("# Totals: pass:%u fail:%u xfail:0 xpass:0 skip:0 error:0\n",
	       t - nfail, nfail);
	return failures ? 1 : 0;
}

/*
 * After programs ran under injection: remove every name, then wait until
 * the namespace has no segment and the module no page (programs that
 * failed midway leave names behind; nothing else may stay).
 */
static int settle(unsigned int secs)
{
	struct shmdev_info segs[MAX_SEGS];
	struct shmdev_limits lim;
	struct shmdev_list l;
	unsigned int i, removed = 0, waited;
	long pages = -1;

	dev_ro_fd = fresh_dev();
	do {
		memset(&l, 0, sizeof(l));
		l.entries = (uintptr_t)segs;
		l.nr_entries = MAX_SEGS;
		if (st_ioctl(dev_ro_fd, SHMDEV_IOC_LIST, &l))
			break;
		for (i = 0; i < l.nr_entries; i++)
			removed += !st_unlink(dev_ro_fd, segs[i].name);
	} while (l.nr_entries == MAX_SEGS);
	for (waited = 0; waited <= secs; waited++) {
		memset(&lim, 0, sizeof(lim));
		st_ioctl(dev_ro_fd, SHMDEV_IOC_LIMITS, &lim);
		pages = nr_pages();
		if (!lim.nr_segments && !pages)
			break;
		sleep(1);
	}
	printf("# settle: %u names left behind removed; %" PRIu64 " segments, %ld pages after %u s\n",
	       removed, (uint64_t)lim.nr_segments, pages, waited);
	return lim.nr_segments || pages ? 1 : 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: shmdev_faults setup | arm PERCENT | disarm | settle [SECS] |\n"
		"       shmdev_faults check [--secs S] [--seed X] [--verbose]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "secs", required_argument, NULL, 's' },
		{ "seed", required_argument, NULL, 'r' },
		{ "verbose", no_argument, NULL, 'v' },
		{ }
	};
	const char *env = getenv("SHMDEV_FAULTS_SECS");
	unsigned int secs = env ? atoi(env) : 60;
	unsigned int seed = time(NULL) ^ getpid();
	int opt;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2)
		usage();
	if (!strcmp(argv[1], "setup"))
		return setup() ? 1 : 0;
	if (!strcmp(argv[1], "arm") && argc == 3)
		return arm(atoi(argv[2])) ? 1 : 0;
	if (!strcmp(argv[1], "disarm"))
		return disarm();
	if (!strcmp(argv[1], "settle"))
		return settle(argc > 2 ? atoi(argv[2]) : 30);
	if (strcmp(argv[1], "check"))
		usage();
	optind = 2;
	while ((opt = getopt_long(argc, argv, "s:r:v", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			secs = atoi(optarg);
			break;
		case 'r':
			seed = strtoul(optarg, NULL, 0);
			break;
		case 'v':
			verbose = true;
			break;
		default:
			usage();
		}
	}
	return check(secs, seed);
}
