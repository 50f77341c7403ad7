// SPDX-License-Identifier: GPL-2.0
/*
 * shmdev_bench: shmdev segments against memfd, POSIX and SysV shared memory,
 * and a libshmdev ring in a segment against pipes, Unix sockets and eventfd.
 *
 * usage: shmdev_bench [--rounds N] [--quick] [--only NAME[,NAME...]] BENCH...
 *
 * Every benchmark is a set of cases (one implementation, "peer", doing one
 * thing, "variant"). They run in rounds, each case once per round in turn,
 * so that shmdev and its peers meet the same conditions; a case's record
 * gives the median of its rounds. Records go to stdout as JSON Lines;
 * progress and diagnostics go to stderr. README.md next to this file
 * describes the benchmarks and the records.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/perf_event.h>

#include "libshmdev.h"

#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))
#define __noreturn		__attribute__((noreturn))
#define noinline		__attribute__((noinline))

#define MIB			(1024ULL * 1024)
#define MAX_ROUNDS		99
#define QUICK_DIV		16
#define QUICK_DIV_RING		64	/* wakeups take milliseconds under TCG */
#define MAX_CASES		16
#define MANYPROC_NR		8	/* processes of the manyproc benchmark */
#define SCALE_NR		64	/* processes of the scale benchmark */
#define NR_RESULTS		(SCALE_NR + 1)
#define SPIN_YIELD		256	/* failed ring polls between yields */
#define SPIN_YIELD_SC		8	/* the same for polls by system call */
#define SPIN_CHECK		64	/* sched_yield()s between liveness checks */
#define CASE_TIMEOUT_S		900	/* a case whose processes hang fails */
#define XLEN			384
#define OBJ_MAX			32
#define NS_NAME_LEN		48
#define RING_PP_CAP		(64 * 1024)	/* ring data bytes, ping-pong */
#define STREAM_MSG		(64 * 1024)
#define STREAM_CAP		(1024 * 1024)	/* ring and pipe bytes, stream */

#define THP_SHMEM	"/sys/kernel/mm/transparent_hugepage/shmem_enabled"
#define MAXSEG_PARAM	"/sys/module/shmdev/parameters/max_segments"
#define MAXSEG_WANT	20000
#define TRACEFS		"/sys/kernel/tracing"
#define CLOCKSOURCE	\
	"/sys/devices/system/clocksource/clocksource0/current_clocksource"
#define SYS_ENTER_ID	"/events/raw_syscalls/sys_enter/id"

/* What backs a segment. */
enum kind {
	K_SHMDEV,
	K_MEMFD,
	K_POSIX,
	K_SYSV,
};

/* How touch() treats each page. */
enum touch_how {
	TOUCH_WRITE,		/* store the page index */
	TOUCH_FILL,		/* store pattern() */
	TOUCH_CHECK,		/* compare with pattern() */
};

/* Transports of the ring benchmark. */
enum xtype {
	X_RING,
	X_PIPE,
	X_UNIX,
	X_EVENTFD,
};

static struct {
	int rounds;
	bool quick;
	char *only;
} opt = { .rounds = 5 };

static size_t page_size;
/* What huge segments' sizes are multiples of: the module's huge pages. */
static uint64_t huge_granule = SHMDEV_HUGE_ALIGN;
static pid_t main_pid;
static volatile sig_atomic_t timed_out;
static int ctl_fd = -1;			/* /dev/shmdev, for UNLINK */
static unsigned int name_seq;
static unsigned int key_seq;

/* One measured round of a case. */
struct sample {
	uint64_t ns;
	uint64_t minflt;
	int64_t syscalls;		/* -1: not counted */
};

struct bcase;
typedef int (*bc_fn)(struct bcase *c, struct sample *s);

/* A case: its description, parameters and results. */
struct bcase {
	const char *bench;
	const char *variant;
	const char *peer;
	const char *op;
	bc_fn run;
	int kind;			/* enum kind of the segment */
	int xtype;			/* enum xtype (ring) */
	int how;			/* enum touch_how */
	unsigned int cflags;		/* SHMDEV_CREATE_* */
	unsigned int aflags;		/* SHMDEV_ATTACH_* */
	int mflags;			/* extra mmap() flags */
	bool thp;			/* memfd with MADV_HUGEPAGE */
	bool spin;			/* ring: poll, never block */
	bool zc;			/* ring: zero-copy (stream) */
	bool bell;			/* ring: with a doorbell (stream) */
	bool epoll;			/* ring, eventfd: wait in epoll_wait() */
	bool onecpu;			/* ping-pong: both sides on one CPU */
	bool probe;			/* report huge page use */
	uint64_t size;
	uint64_t ops;
	uint64_t param;
	char vbuf[32];
	bool selected;
	bool failed;
	bool skipped;			/* failed: cannot run on this kernel */
	int nsamples;
	struct sample s[MAX_ROUNDS];
	char stage[32];
	char msg[128];
	char xfixed[XLEN];		/* extra members, fixed */
	char xround[XLEN];		/* extra members, of the last round */
};

/* What a worker process reports, in memory shared with the parent. */
struct child_res {
	uint64_t t0;
	uint64_t t1;
	uint64_t minflt;
	int err;
	char stage[32];
	char msg[96];
	int64_t v[2];
};

static struct child_res *cres;

/* An eventfd a failing worker posts, so that its peer stops waiting. */
static int child_wake_fd = -1;

/* A shared-memory object of any kind. */
struct seg {
	int kind;
	int fd;
	int shmid;
	key_t key;
	size_t size;
	void *addr;
	unsigned int flags;
	bool thp;
	int obj;			/* slot in objs[], or -1 */
	char name[SHMDEV_NAME_MAX + 1];
};

/* Named objects and SysV ids to remove on exit, even after a signal. */
enum obj_type {
	OBJ_FREE,
	OBJ_SHMDEV,
	OBJ_POSIX,
	OBJ_SYSV,
};

static struct obj {
	volatile sig_atomic_t type;
	volatile int shmid;
	char name[SHMDEV_NAME_MAX + 1];
} objs[OBJ_MAX];

/* The namescale populations: "/NAME" for shm_open, "NAME" for shmdev. */
static char (*ns_names)[NS_NAME_LEN];
static volatile unsigned int ns_count[2];	/* [0] shmdev, [1] POSIX */

static bool devshm_mounted;
static bool devshm_made;
static bool tracefs_mounted;
static char thp_saved[32];
static volatile sig_atomic_t thp_changed;
static long maxseg_saved = -1;

/* Utilities */

static void note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("shmdev_bench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t minflt_self(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		return 0;
	return (uint64_t)ru.ru_minflt;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

static uint64_t scaled_by(uint64_t n, uint64_t div)
{
	if (!opt.quick)
		return n;
	return n / div ? n / div : 1;
}

static uint64_t scaled(uint64_t n)
{
	return scaled_by(n, QUICK_DIV);
}

/*
 * A size of a group with huge variants: scaled, and rounded up to a whole
 * number of huge pages (a quick run's 16 MiB is 32 MiB with 16 KiB pages),
 * the same for every peer of the group.
 */
static uint64_t scaled_huge(uint64_t n)
{
	uint64_t size = scaled(n);

	return (size + huge_granule - 1) / huge_granule * huge_granule;
}

static int read_file(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0) {
		n = -errno;
		close(fd);
		return (int)n;
	}
	close(fd);
	buf[n] = '\0';
	return 0;
}

static int write_file(const char *path, const char *str)
{
	size_t len = strlen(str);
	ssize_t n;
	int fd, ret = 0;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, str, len);
	if (n < 0)
		ret = -errno;
	else if ((size_t)n != len)
		ret = -EIO;
	close(fd);
	return ret;
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK))
		return -errno;
	return 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Appends a member to a JSON member list of at most XLEN bytes. */
static void xappend(char *list, const char *fmt, ...)
{
	size_t len = strlen(list);
	va_list ap;

	if (len + 2 >= XLEN)
		return;
	if (len)
		list[len++] = ',';
	va_start(ap, fmt);
	vsnprintf(list + len, XLEN - len, fmt, ap);
	va_end(ap);
}

#define xfixed(c, ...)	xappend((c)->xfixed, __VA_ARGS__)
#define xround(c, ...)	xappend((c)->xround, __VA_ARGS__)

/* Prints @s as a JSON string. */
static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

/* A JSON number for @v, or null. */
static const char *json_num(char *buf, size_t len, double v, bool valid)
{
	if (!valid || v != v || v > 1e300 || v < -1e300)
		snprintf(buf, len, "null");
	else
		snprintf(buf, len, "%.6g", v);
	return buf;
}

/* Cleanup of named objects, limits and mounts */

static int obj_add(int type, const char *name, int shmid)
{
	int i;

	for (i = 0; i < OBJ_MAX; i++) {
		if (objs[i].type != OBJ_FREE)
			continue;
		snprintf(objs[i].name, sizeof(objs[i].name), "%s",
			 name ? name : "");
		objs[i].shmid = shmid;
		objs[i].type = type;
		return i;
	}
	return -1;
}

static void obj_drop(int *slot)
{
	if (*slot >= 0)
		objs[*slot].type = OBJ_FREE;
	*slot = -1;
}

/* SHMDEV_IOC_UNLINK of @name; 0 or -errno. */
static int sd_unlink(const char *name)
{
	struct shmdev_unlink ul;

	if (ctl_fd < 0)
		return shmdev_unlink(name);
	memset(&ul, 0, sizeof(ul));
	snprintf(ul.name, sizeof(ul.name), "%s", name);
	return ioctl(ctl_fd, SHMDEV_IOC_UNLINK, &ul) ? -errno : 0;
}

static void obj_remove(struct obj *o)
{
	switch (o->type) {
	case OBJ_SHMDEV:
		sd_unlink(o->name);
		break;
	case OBJ_POSIX:
		shm_unlink(o->name);
		break;
	case OBJ_SYSV:
		if (o->shmid >= 0)
			shmctl(o->shmid, IPC_RMID, NULL);
		break;
	}
	o->type = OBJ_FREE;
}

static void ns_remove_all(void)
{
	while (ns_count[0]) {
		ns_count[0]--;
		sd_unlink(ns_names[ns_count[0]] + 1);
	}
	while (ns_count[1]) {
		ns_count[1]--;
		shm_unlink(ns_names[ns_count[1]]);
	}
}

static void thp_restore(void)
{
	if (!thp_changed)
		return;
	if (write_file(THP_SHMEM, thp_saved))
		note("could not restore %s to %s", THP_SHMEM, thp_saved);
	thp_changed = 0;
}

static void maxseg_restore(void)
{
	char buf[32];

	if (maxseg_saved < 0)
		return;
	snprintf(buf, sizeof(buf), "%ld", maxseg_saved);
	if (write_file(MAXSEG_PARAM, buf))
		note("could not restore max_segments to %s", buf);
	maxseg_saved = -1;
}

/* Removes everything this process created; the parent only. */
static void cleanup_all(void)
{
	int i;

	if (getpid() != main_pid)
		return;
	for (i = 0; i < OBJ_MAX; i++)
		obj_remove(&objs[i]);
	if (ns_names)
		ns_remove_all();
	thp_restore();
	maxseg_restore();
}

static void cleanup_mounts(void)
{
	if (devshm_mounted && umount("/dev/shm"))
		note("umount /dev/shm: %s", strerror(errno));
	if (devshm_made && rmdir("/dev/shm"))
		note("rmdir /dev/shm: %s", strerror(errno));
	devshm_mounted = false;
	devshm_made = false;
	if (tracefs_mounted && umount(TRACEFS))
		note("umount %s: %s", TRACEFS, strerror(errno));
	tracefs_mounted = false;
}

/* Signals */

static sigjmp_buf guard_env;
static volatile sig_atomic_t guard_on;
static volatile sig_atomic_t guard_sig;

static void fatal_signal(int sig)
{
	cleanup_all();
	signal(sig, SIG_DFL);
	raise(sig);
	_exit(128 + sig);
}

/* SIGSEGV and SIGBUS: inside touch() they fail the case, else the run. */
static void fault_handler(int sig)
{
	if (guard_on) {
		guard_on = 0;
		guard_sig = sig;
		siglongjmp(guard_env, 1);
	}
	fatal_signal(sig);
}

static void alarm_handler(int sig)
{
	(void)sig;
	timed_out = 1;
}

static void install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	/* No SA_RESTART: a blocked read() returns EINTR. */
	sa.sa_handler = alarm_handler;
	sigaction(SIGALRM, &sa, NULL);
	/* The handler longjmps out, so the signal must stay unblocked. */
	sa.sa_flags = SA_NODEFER;
	sa.sa_handler = fault_handler;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	sa.sa_flags = 0;
	sa.sa_handler = fatal_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static void timer_arm(void)
{
	timed_out = 0;
	alarm(CASE_TIMEOUT_S);
}

static void timer_disarm(void)
{
	alarm(0);
}

/* Touching pages */

static size_t touch_bad;

static inline uint32_t pattern(size_t i)
{
	return (uint32_t)(i * 2654435761U) ^ 0x5eed5eedU;
}

/* The first word of page @i; accessed atomically, so never optimised out. */
static inline uint32_t *page_word(char *base, size_t i)
{
	return (uint32_t *)(base + i * page_size);
}

static noinline int touch_pages(char *base, size_t first, size_t end,
				int how)
{
	size_t i;

	switch (how) {
	case TOUCH_WRITE:
		for (i = first; i < end; i++)
			__atomic_store_n(page_word(base, i), (uint32_t)i,
					 __ATOMIC_RELAXED);
		break;
	case TOUCH_FILL:
		for (i = first; i < end; i++)
			__atomic_store_n(page_word(base, i), pattern(i),
					 __ATOMIC_RELAXED);
		break;
	case TOUCH_CHECK:
		for (i = first; i < end; i++) {
			if (__atomic_load_n(page_word(base, i),
					    __ATOMIC_RELAXED) != pattern(i)) {
				touch_bad = i;
				return -EBADMSG;
			}
		}
		break;
	}
	return 0;
}

/*
 * Touches the first word of pages @first to @end - 1 of @base. Returns 0,
 * -EBADMSG if TOUCH_CHECK found a page that does not hold pattern() (its
 * index in touch_bad), or -EFAULT if a SIGSEGV or SIGBUS (guard_sig) hit.
 */
static int touch(void *base, size_t first, size_t end, int how)
{
	int ret;

	if (sigsetjmp(guard_env, 0))
		return -EFAULT;
	guard_on = 1;
	ret = touch_pages(base, first, end, how);
	guard_on = 0;
	return ret;
}

/* Writes @v at @p, or returns -EFAULT on SIGSEGV or SIGBUS. */
static int poke(void *p, uint32_t v)
{
	if (sigsetjmp(guard_env, 0))
		return -EFAULT;
	guard_on = 1;
	__atomic_store_n((uint32_t *)p, v, __ATOMIC_RELAXED);
	guard_on = 0;
	return 0;
}

/* Syscall counting: raw_syscalls:sys_enter through perf, with inherit */

static int sc_fd = -1;
static int64_t sc_base;		/* what an empty measurement counts */
static uint64_t sc_before;
static char sc_why[160];

static long tracepoint_id(void)
{
	static const char *const roots[] = {
		TRACEFS, "/sys/kernel/debug/tracing",
	};
	char path[128], buf[32];
	unsigned int i;
	int ret = -ENOENT;

	for (i = 0; i < ARRAY_SIZE(roots); i++) {
		snprintf(path, sizeof(path), "%s%s", roots[i], SYS_ENTER_ID);
		ret = read_file(path, buf, sizeof(buf));
		if (!ret)
			return strtol(buf, NULL, 10);
	}
	/* Not mounted: mount tracefs at its usual place and look again. */
	if (!access(TRACEFS "/events", F_OK)) {
		snprintf(sc_why, sizeof(sc_why),
			 "no raw_syscalls:sys_enter tracepoint in %s", TRACEFS);
		return -1;
	}
	if (!mount("tracefs", TRACEFS, "tracefs", 0, NULL)) {
		tracefs_mounted = true;
		snprintf(path, sizeof(path), "%s%s", TRACEFS, SYS_ENTER_ID);
		ret = read_file(path, buf, sizeof(buf));
		if (!ret)
			return strtol(buf, NULL, 10);
	} else {
		ret = -errno;
	}
	snprintf(sc_why, sizeof(sc_why),
		 "no raw_syscalls:sys_enter tracepoint id (mounting tracefs on %s: %s)",
		 TRACEFS, strerror(-ret));
	return -1;
}

static void sc_begin(void)
{
	uint64_t v;

	if (sc_fd < 0)
		return;
	if (read(sc_fd, &v, sizeof(v)) != sizeof(v))
		v = 0;
	sc_before = v;
	ioctl(sc_fd, PERF_EVENT_IOC_ENABLE, 0);
}

/* Stops counting, in this process and in its children. */
static void sc_disable(void)
{
	if (sc_fd >= 0)
		ioctl(sc_fd, PERF_EVENT_IOC_DISABLE, 0);
}

/*
 * Syscalls counted since sc_begin(), by this process and by the children
 * it forked meanwhile that have exited since (they hand their counts over
 * when they exit). Read as a difference: a reset does not clear what
 * exited children handed over.
 */
static int64_t sc_read(void)
{
	uint64_t v;

	if (sc_fd < 0)
		return -1;
	if (read(sc_fd, &v, sizeof(v)) != sizeof(v))
		return -1;
	return (int64_t)(v - sc_before);
}

/*
 * Time, faults and syscalls of this process; syscalls of its children too.
 * meter_halt() stops all three, meter_collect() adds them up, after the
 * children that did the work have exited.
 */
struct meter {
	uint64_t t0;
	uint64_t flt0;
	uint64_t t1;
	uint64_t flt1;
	struct sample acc;
};

static void meter_resume(struct meter *m)
{
	m->flt0 = minflt_self();
	sc_begin();
	m->t0 = now_ns();
}

static void meter_start(struct meter *m)
{
	memset(&m->acc, 0, sizeof(m->acc));
	meter_resume(m);
}

static void meter_halt(struct meter *m)
{
	m->t1 = now_ns();
	sc_disable();
	m->flt1 = minflt_self();
}

static void meter_collect(struct meter *m)
{
	int64_t sc = sc_read();

	m->acc.ns += m->t1 - m->t0;
	if (sc < 0 || m->acc.syscalls < 0)
		m->acc.syscalls = -1;
	else
		m->acc.syscalls += sc > sc_base ? sc - sc_base : 0;
	m->acc.minflt += m->flt1 - m->flt0;
}

static void meter_pause(struct meter *m)
{
	meter_halt(m);
	meter_collect(m);
}

static void meter_stop(struct meter *m, struct sample *s)
{
	meter_pause(m);
	*s = m->acc;
}

static void sc_init(void)
{
	struct perf_event_attr attr;
	struct meter m;
	struct sample s;
	int64_t best = INT64_MAX;
	long id;
	int i;

	id = tracepoint_id();
	if (id < 0)
		goto out;
	memset(&attr, 0, sizeof(attr));
	attr.type = PERF_TYPE_TRACEPOINT;
	attr.size = sizeof(attr);
	attr.config = (uint64_t)id;
	attr.disabled = 1;
	attr.inherit = 1;
	sc_fd = (int)syscall(SYS_perf_event_open, &attr, 0, -1, -1,
			     PERF_FLAG_FD_CLOEXEC);
	if (sc_fd < 0) {
		snprintf(sc_why, sizeof(sc_why),
			 "perf_event_open(raw_syscalls:sys_enter): %s",
			 strerror(errno));
		goto out;
	}
	/* The disabling ioctl and, without a vDSO clock, clock_gettime(). */
	sc_base = 0;
	for (i = 0; i < 5; i++) {
		meter_start(&m);
		meter_stop(&m, &s);
		if (s.syscalls < best)
			best = s.syscalls;
	}
	sc_base = best;
out:
	if (sc_fd < 0)
		note("syscalls_per_op will be null: %s", sc_why);
}

/* Worker processes */

static void child_res_reset(struct child_res *r)
{
	memset(r, 0, sizeof(*r));
}

static __noreturn void child_failmsg(struct child_res *r, const char *msg,
				     const char *stage)
{
	static const uint64_t one = 1;
	ssize_t n;

	snprintf(r->msg, sizeof(r->msg), "%s", msg);
	snprintf(r->stage, sizeof(r->stage), "%s", stage);
	if (!r->err)
		r->err = EPROTO;
	if (child_wake_fd >= 0) {
		n = write(child_wake_fd, &one, sizeof(one));
		(void)n;
	}
	_exit(1);
}

static __noreturn void child_fail(struct child_res *r, int err,
				  const char *stage)
{
	r->err = err < 0 ? -err : err;
	child_failmsg(r, strerror(r->err), stage);
}

static void child_stage(struct child_res *r, const char *stage)
{
	snprintf(r->stage, sizeof(r->stage), "%s", stage);
}

static void cmeter_start(struct child_res *r)
{
	r->minflt = minflt_self();
	r->t0 = now_ns();
}

static void cmeter_stop(struct child_res *r)
{
	r->t1 = now_ns();
	r->minflt = minflt_self() - r->minflt;
}

/* fork() for a worker: nothing buffered twice, dies if it hangs. */
static pid_t spawn(void)
{
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (!pid) {
		signal(SIGALRM, SIG_DFL);
		alarm(CASE_TIMEOUT_S + 60);
	}
	return pid;
}

/* Case results */

static int bc_failmsg(struct bcase *c, const char *msg, const char *stage)
{
	if (!c->failed) {
		c->failed = true;
		snprintf(c->msg, sizeof(c->msg), "%s", msg);
		snprintf(c->stage, sizeof(c->stage), "%s", stage);
	}
	return -1;
}

/* @c cannot run on this kernel (@why): a skip, not an error. */
static int bc_skip(struct bcase *c, const char *why)
{
	if (!c->failed)
		c->skipped = true;
	return bc_failmsg(c, why, "skip");
}

static int bc_fail(struct bcase *c, int err, const char *stage)
{
	return bc_failmsg(c, strerror(err < 0 ? -err : err), stage);
}

/* Records the failure of touch() (@ret) in @c. */
static int bc_touch_fail(struct bcase *c, int ret)
{
	char msg[64];

	if (ret == -EFAULT)
		return bc_failmsg(c, strsignal(guard_sig), "touch");
	if (ret == -EBADMSG) {
		snprintf(msg, sizeof(msg), "data mismatch at page %zu",
			 touch_bad);
		return bc_failmsg(c, msg, "verify");
	}
	return bc_fail(c, ret, "touch");
}

static __noreturn void child_touch_fail(struct child_res *r, int ret)
{
	char msg[64];

	if (ret == -EFAULT)
		child_failmsg(r, strsignal(guard_sig), "touch");
	if (ret == -EBADMSG) {
		snprintf(msg, sizeof(msg), "data mismatch at page %zu",
			 touch_bad);
		child_failmsg(r, msg, "verify");
	}
	child_fail(r, ret, "touch");
}

/* Waits for worker @pid; 0 if it succeeded, else fails @c and gives -1. */
static int reap(struct bcase *c, pid_t pid, const struct child_res *r)
{
	char msg[96];
	int status;
	pid_t ret;

	for (;;) {
		ret = waitpid(pid, &status, 0);
		if (ret == pid)
			break;
		if (ret < 0 && errno == EINTR) {
			if (timed_out)
				kill(pid, SIGKILL);
			continue;
		}
		return bc_fail(c, errno, "waitpid");
	}
	if (timed_out)
		return bc_failmsg(c, "timed out", r && r->stage[0] ?
				    r->stage : "worker");
	if (WIFSIGNALED(status)) {
		snprintf(msg, sizeof(msg), "worker killed by signal %d (%s)",
			 WTERMSIG(status), strsignal(WTERMSIG(status)));
		return bc_failmsg(c, msg, r && r->stage[0] ?
				    r->stage : "worker");
	}
	if (WEXITSTATUS(status)) {
		if (r && r->msg[0])
			return bc_failmsg(c, r->msg, r->stage);
		return bc_failmsg(c, "worker failed", "worker");
	}
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Median of @n values (sorted in place); the mean of the middle two. */
static double median(uint64_t *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_u64);
	if (n & 1)
		return (double)v[n / 2];
	return ((double)v[n / 2 - 1] + (double)v[n / 2]) / 2;
}

static double bc_median_ns(const struct bcase *c)
{
	uint64_t v[MAX_ROUNDS];
	int i;

	for (i = 0; i < c->nsamples; i++)
		v[i] = c->s[i].ns;
	return c->nsamples ? median(v, c->nsamples) : 0;
}

/* Opens a record: the object's first members, which name the case. */
static void emit_key(const char *bench, const char *variant, const char *peer)
{
	printf("{\"bench\":");
	json_str(bench);
	printf(",\"variant\":");
	json_str(variant);
	printf(",\"peer\":");
	json_str(peer);
}

static void emit_error(const char *bench, const char *variant,
		       const char *peer, const char *msg, const char *stage)
{
	emit_key(bench, variant, peer);
	printf(",\"error\":");
	json_str(msg);
	printf(",\"stage\":");
	json_str(stage);
	printf("}\n");
	fflush(stdout);
}

static void emit_case(const struct bcase *c)
{
	uint64_t ns[MAX_ROUNDS], flt[MAX_ROUNDS], sc[MAX_ROUNDS];
	uint64_t lo = UINT64_MAX, hi = 0;
	double med, ops = (double)c->ops;
	bool have_sc = true;
	char b1[32], b2[32], b3[32];
	int i, n = c->nsamples;

	if (!c->selected)
		return;
	if (c->skipped) {
		emit_key(c->bench, c->variant, c->peer);
		printf(",\"skipped\":");
		json_str(c->msg);
		printf("}\n");
		fflush(stdout);
		return;
	}
	if (c->failed || !n) {
		emit_error(c->bench, c->variant, c->peer,
			   c->failed ? c->msg : "no round completed",
			   c->failed ? c->stage : "run");
		return;
	}
	for (i = 0; i < n; i++) {
		ns[i] = c->s[i].ns;
		flt[i] = c->s[i].minflt;
		if (c->s[i].syscalls < 0)
			have_sc = false;
		sc[i] = (uint64_t)(c->s[i].syscalls < 0 ? 0 :
				   c->s[i].syscalls);
		if (ns[i] < lo)
			lo = ns[i];
		if (ns[i] > hi)
			hi = ns[i];
	}
	med = median(ns, n);
	emit_key(c->bench, c->variant, c->peer);
	printf(",\"size\":%" PRIu64 ",\"ops\":%" PRIu64 ",\"op\":",
	       c->size, c->ops);
	json_str(c->op);
	printf(",\"rounds\":%d,\"median_ns\":%.0f,\"min_ns\":%" PRIu64
	       ",\"max_ns\":%" PRIu64 ",\"ns_per_op\":%s,\"minflt_per_op\":%s"
	       ",\"syscalls_per_op\":%s,\"extra\":{%s%s%s}}\n",
	       n, med, lo, hi,
	       json_num(b1, sizeof(b1), med / ops, c->ops),
	       json_num(b2, sizeof(b2), median(flt, n) / ops, c->ops),
	       json_num(b3, sizeof(b3), median(sc, n) / ops,
			c->ops && have_sc),
	       c->xfixed, c->xfixed[0] && c->xround[0] ? "," : "",
	       c->xround);
	fflush(stdout);
}

/* Whether --only lets @c run: it names its peer or its variant. */
static bool only_match(const struct bcase *c)
{
	const char *p = opt.only;
	size_t len;

	if (!p)
		return true;
	while (*p) {
		len = strcspn(p, ",");
		if ((strlen(c->peer) == len && !strncmp(c->peer, p, len)) ||
		    (strlen(c->variant) == len &&
		     !strncmp(c->variant, p, len)))
			return true;
		p += len;
		if (*p)
			p++;
	}
	return false;
}

/* A group of cases that alternate within each round. */
struct group {
	const char *bench;
	int n;
	struct bcase c[MAX_CASES];
};

static struct bcase *bc_add(struct group *g, const char *variant,
			    const char *peer, const char *op, bc_fn run)
{
	struct bcase *c;

	if (g->n >= MAX_CASES) {
		note("too many cases in %s", g->bench);
		abort();
	}
	c = &g->c[g->n++];
	memset(c, 0, sizeof(*c));
	c->bench = g->bench;
	c->variant = variant;
	c->peer = peer;
	c->op = op;
	c->run = run;
	c->selected = only_match(c);
	return c;
}

static struct group *group_new(const char *bench)
{
	struct group *g = calloc(1, sizeof(*g));

	if (!g) {
		note("out of memory");
		cleanup_all();
		exit(1);
	}
	g->bench = bench;
	return g;
}

static void group_rounds(struct group *g, const char *what)
{
	struct sample s;
	struct bcase *c;
	int r, i, todo = 0;

	for (i = 0; i < g->n; i++)
		todo += g->c[i].selected;
	if (!todo)
		return;
	for (r = 0; r < opt.rounds; r++) {
		note("%s%s%s: round %d/%d", g->bench, what ? " " : "",
		     what ? what : "", r + 1, opt.rounds);
		for (i = 0; i < g->n; i++) {
			c = &g->c[i];
			if (!c->selected || c->failed)
				continue;
			c->xround[0] = '\0';
			memset(&s, 0, sizeof(s));
			if (!c->run(c, &s))
				c->s[c->nsamples++] = s;
		}
	}
}

static void group_emit(struct group *g)
{
	int i;

	for (i = 0; i < g->n; i++)
		emit_case(&g->c[i]);
}

static void group_run(struct group *g, const char *what)
{
	group_rounds(g, what);
	group_emit(g);
	free(g);
}

/* Environment */

/* Mounts a tmpfs on /dev/shm if shm_open() has nowhere to go. */
static void devshm_ensure(void)
{
	char name[64];
	int fd;

	snprintf(name, sizeof(name), "/shmdev-bench-%d-probe", (int)main_pid);
	fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd >= 0) {
		close(fd);
		shm_unlink(name);
		return;
	}
	if (errno != ENOENT)
		return;
	if (!mkdir("/dev/shm", 01777))
		devshm_made = true;
	else if (errno != EEXIST)
		note("mkdir /dev/shm: %s", strerror(errno));
	if (mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV,
		  "mode=1777")) {
		note("mount tmpfs on /dev/shm: %s", strerror(errno));
		return;
	}
	devshm_mounted = true;
	note("mounted a tmpfs on /dev/shm for shm_open()");
}

/* The bracketed word of shmem_enabled ("[never]"). */
static int thp_mode(char *mode, size_t len)
{
	char buf[256], *a, *b;
	int ret;

	ret = read_file(THP_SHMEM, buf, sizeof(buf));
	if (ret)
		return ret;
	a = strchr(buf, '[');
	b = a ? strchr(a, ']') : NULL;
	if (!b)
		return -EINVAL;
	*b = '\0';
	snprintf(mode, len, "%s", a + 1);
	return 0;
}

/* Lets madvise(MADV_HUGEPAGE) give shmem huge pages; undone by thp_restore */
static int thp_prepare(struct bcase *c)
{
	char mode[32];
	int ret;

	ret = thp_mode(mode, sizeof(mode));
	if (ret == -ENOENT)
		return bc_skip(c, "kernel without THP (no shmem_enabled)");
	if (ret)
		return bc_failmsg(c, "no shmem THP (shmem_enabled unreadable)",
				    "thp");
	if (strcmp(mode, "never") && strcmp(mode, "deny")) {
		xround(c, "\"shmem_enabled\":\"%s\"", mode);
		return 0;
	}
	ret = write_file(THP_SHMEM, "advise");
	if (ret)
		return bc_failmsg(c, "shmem THP disabled and shmem_enabled not writable",
				    "thp");
	snprintf(thp_saved, sizeof(thp_saved), "%s", mode);
	thp_changed = 1;
	xround(c, "\"shmem_enabled\":\"advise (was %s)\"", mode);
	return 0;
}

/* Lets @need more segments exist, if max_segments is below that. */
static void maxseg_raise(unsigned int need)
{
	char buf[32];
	long cur;

	if (read_file(MAXSEG_PARAM, buf, sizeof(buf)))
		return;
	cur = strtol(buf, NULL, 10);
	if (cur >= (long)need)
		return;
	snprintf(buf, sizeof(buf), "%u", need > MAXSEG_WANT ? need :
		 MAXSEG_WANT);
	if (write_file(MAXSEG_PARAM, buf)) {
		note("cannot raise max_segments from %ld", cur);
		return;
	}
	maxseg_saved = cur;
}

/* Huge page use: FilePmdMapped and ShmemPmdMapped of this process, in kB. */
static void smaps_pmd(long *file_kb, long *shmem_kb)
{
	char line[160];
	FILE *f;

	*file_kb = -1;
	*shmem_kb = -1;
	f = fopen("/proc/self/smaps_rollup", "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "FilePmdMapped: %ld", file_kb) == 1)
			continue;
		if (sscanf(line, "ShmemPmdMapped: %ld", shmem_kb) == 1)
			continue;
	}
	fclose(f);
}

/* Segments of every kind */

static void seg_init(struct seg *g)
{
	memset(g, 0, sizeof(*g));
	g->fd = -1;
	g->shmid = -1;
	g->obj = -1;
}

static key_t sysv_key(void)
{
	return (key_t)(0x5b000000 | ((unsigned int)main_pid & 0x3fff) << 10 |
		       (key_seq++ & 0x3ff));
}

static int seg_create_shmdev(struct seg *g, bool named)
{
	if (named) {
		snprintf(g->name, sizeof(g->name), "shmdev-bench-%d-%u",
			 (int)main_pid, name_seq++);
		g->obj = obj_add(OBJ_SHMDEV, g->name, -1);
	}
	g->fd = shmdev_create(g->name, g->size, 0600, g->flags);
	return g->fd < 0 ? g->fd : 0;
}

static int seg_create_posix(struct seg *g)
{
	snprintf(g->name, sizeof(g->name), "/shmdev-bench-%d-%u",
		 (int)main_pid, name_seq++);
	g->obj = obj_add(OBJ_POSIX, g->name, -1);
	g->fd = shm_open(g->name, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (g->fd < 0)
		return -errno;
	if (ftruncate(g->fd, (off_t)g->size))
		return -errno;
	return 0;
}

static int seg_create_sysv(struct seg *g, bool named)
{
	int tries;

	g->obj = obj_add(OBJ_SYSV, NULL, -1);
	for (tries = 0; tries < 16; tries++) {
		g->key = named ? sysv_key() : IPC_PRIVATE;
		g->shmid = shmget(g->key, g->size, IPC_CREAT | IPC_EXCL | 0600);
		if (g->shmid >= 0 || errno != EEXIST)
			break;
	}
	if (g->shmid < 0)
		return -errno;
	if (g->obj >= 0)
		objs[g->obj].shmid = g->shmid;
	return 0;
}

static void seg_destroy(struct seg *g);

/*
 * Creates a segment of @kind and @size; @flags are SHMDEV_CREATE_* for
 * shmdev. @named: a shmdev or SysV segment others can find by name or key
 * (POSIX objects always have a name, memfds never). 0 or -errno.
 */
static int seg_create(struct seg *g, int kind, size_t size,
		      unsigned int flags, bool named)
{
	int ret = 0;

	seg_init(g);
	g->kind = kind;
	g->size = size;
	g->flags = flags;
	switch (kind) {
	case K_SHMDEV:
		ret = seg_create_shmdev(g, named);
		break;
	case K_MEMFD:
		g->fd = memfd_create("shmdev-bench", MFD_CLOEXEC);
		if (g->fd < 0 || ftruncate(g->fd, (off_t)size))
			ret = -errno;
		break;
	case K_POSIX:
		ret = seg_create_posix(g);
		break;
	case K_SYSV:
		ret = seg_create_sysv(g, named);
		break;
	}
	if (ret)
		seg_destroy(g);
	return ret;
}

/* Opens the segment @g describes again, as another process would. */
static int seg_open(struct seg *g, unsigned int aflags)
{
	char path[64];

	switch (g->kind) {
	case K_SHMDEV:
		g->fd = shmdev_attach(g->name, aflags);
		return g->fd < 0 ? g->fd : 0;
	case K_MEMFD:
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)getppid(),
			 g->fd);
		g->fd = open(path, O_RDWR | O_CLOEXEC);
		break;
	case K_POSIX:
		g->fd = shm_open(g->name, O_RDWR, 0);
		break;
	case K_SYSV:
		g->shmid = shmget(g->key, 0, 0);
		return g->shmid < 0 ? -errno : 0;
	}
	return g->fd < 0 ? -errno : 0;
}

/* Maps the whole segment read-write and shared; @mflags are added. */
static int seg_map(struct seg *g, int mflags)
{
	void *p;

	if (g->kind == K_SYSV) {
		p = shmat(g->shmid, NULL, 0);
		if (p == (void *)-1)
			return -errno;
	} else {
		p = mmap(NULL, g->size, PROT_READ | PROT_WRITE,
			 MAP_SHARED | mflags, g->fd, 0);
		if (p == MAP_FAILED)
			return -errno;
	}
	g->addr = p;
	if (g->thp && madvise(p, g->size, MADV_HUGEPAGE))
		return -errno;
	return 0;
}

static void seg_unmap(struct seg *g)
{
	if (!g->addr)
		return;
	if (g->kind == K_SYSV)
		shmdt(g->addr);
	else
		munmap(g->addr, g->size);
	g->addr = NULL;
}

/* Unmaps and closes, and removes the name or SysV id if there is one. */
static void seg_destroy(struct seg *g)
{
	seg_unmap(g);
	if (g->kind == K_SHMDEV && g->name[0])
		sd_unlink(g->name);
	if (g->kind == K_POSIX && g->name[0])
		shm_unlink(g->name);
	if (g->kind == K_SYSV && g->shmid >= 0)
		shmctl(g->shmid, IPC_RMID, NULL);
	close_fd(&g->fd);
	g->shmid = -1;
	obj_drop(&g->obj);
}

/* Adds what the huge variants make visible: how much is mapped huge. */
static void probe_huge(struct bcase *c, struct seg *g)
{
	struct shmdev_info info;
	long file_kb, shmem_kb;

	if (g->kind == K_SHMDEV && !shmdev_info(g->fd, &info))
		xround(c, "\"nr_huge_pages\":%" PRIu64
		       ",\"huge_pages_possible\":%" PRIu64,
		       (uint64_t)info.nr_huge_pages,
		       (uint64_t)(g->size / huge_granule));
	smaps_pmd(&file_kb, &shmem_kb);
	if (file_kb >= 0)
		xround(c, "\"file_pmd_mapped_kb\":%ld", file_kb);
	if (shmem_kb >= 0)
		xround(c, "\"shmem_pmd_mapped_kb\":%ld", shmem_kb);
	/* Aligned to a huge page (the key's name is from 2 MiB pages). */
	xround(c, "\"map_2m_aligned\":%s",
	       (uintptr_t)g->addr % huge_granule ? "false" : "true");
}

/* populate and sweep: create, map, write every page, unmap, destroy */

static int run_populate(struct bcase *c, struct sample *s)
{
	size_t pages = c->size / page_size;
	struct meter m;
	struct seg g;
	int ret;

	if (c->thp && thp_prepare(c))
		return -1;
	meter_start(&m);
	ret = seg_create(&g, c->kind, c->size, c->cflags, false);
	if (ret) {
		meter_stop(&m, s);
		thp_restore();
		return bc_fail(c, ret, "create");
	}
	g.thp = c->thp;
	ret = seg_map(&g, 0);
	if (ret) {
		meter_stop(&m, s);
		seg_destroy(&g);
		thp_restore();
		return bc_fail(c, ret, "map");
	}
	ret = touch(g.addr, 0, pages, TOUCH_WRITE);
	if (!ret && c->probe) {
		meter_pause(&m);
		probe_huge(c, &g);
		meter_resume(&m);
	}
	seg_destroy(&g);
	meter_stop(&m, s);
	thp_restore();
	return ret ? bc_touch_fail(c, ret) : 0;
}

static void populate_case(struct group *g, const char *variant,
			  const char *peer, int kind, unsigned int cflags,
			  uint64_t size)
{
	struct bcase *c = bc_add(g, variant, peer, "page", run_populate);

	c->kind = kind;
	c->cflags = cflags;
	c->size = size;
	c->ops = size / page_size;
	c->probe = cflags & SHMDEV_CREATE_HUGE;
}

static void bench_populate(void)
{
	uint64_t size = scaled_huge(256 * MIB);
	struct group *g = group_new("populate");
	struct bcase *c;

	populate_case(g, "4k", "shmdev", K_SHMDEV, 0, size);
	populate_case(g, "premap", "shmdev", K_SHMDEV, SHMDEV_CREATE_PREMAP,
		      size);
	populate_case(g, "huge", "shmdev", K_SHMDEV, SHMDEV_CREATE_HUGE, size);
	populate_case(g, "4k", "memfd", K_MEMFD, 0, size);
	populate_case(g, "4k", "shm_open", K_POSIX, 0, size);
	populate_case(g, "4k", "sysv", K_SYSV, 0, size);
	populate_case(g, "huge", "memfd-thp", K_MEMFD, 0, size);
	c = &g->c[g->n - 1];
	c->thp = true;
	c->probe = true;
	group_run(g, NULL);
}

/*
 * Creates @c's segment (@named: with a name), maps all of it and fills it
 * with pattern(): 0, or -1 with the failure recorded in @c.
 */
static int seg_create_filled(struct bcase *c, struct seg *g, bool named)
{
	int ret;

	ret = seg_create(g, c->kind, c->size, c->cflags, named);
	if (ret)
		return bc_fail(c, ret, "create");
	ret = seg_map(g, 0);
	if (ret) {
		seg_destroy(g);
		return bc_fail(c, ret, "map");
	}
	ret = touch(g->addr, 0, g->size / page_size, TOUCH_FILL);
	if (ret) {
		seg_destroy(g);
		return bc_touch_fail(c, ret);
	}
	return 0;
}

/*
 * The number after @key on its line of the /proc file @path (vmstat's
 * "pswpout ", meminfo's "PageTables:"), or -1.
 */
static long long proc_value(const char *path, const char *key)
{
	size_t len = strlen(key);
	long long val = -1;
	char line[128];
	FILE *f = fopen(path, "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, len)) {
			if (sscanf(line + len, "%lld", &val) != 1)
				val = -1;
			break;
		}
	}
	fclose(f);
	return val;
}

/* pswpout of /proc/vmstat: pages written to swap so far, or -1. */
static long long pages_swapped_out(void)
{
	return proc_value("/proc/vmstat", "pswpout ");
}

/*
 * Fills a segment, sends its pages to swap with MADV_PAGEOUT (untimed),
 * then reads it all back, checking every page: the time of the swap-ins.
 */
static int run_swapread(struct bcase *c, struct sample *s)
{
	size_t pages = c->size / page_size;
	long long before;
	struct meter m;
	struct seg g;
	int ret;

	ret = seg_create_filled(c, &g, false);
	if (ret)
		return ret;
	before = pages_swapped_out();
	if (madvise(g.addr, c->size, MADV_PAGEOUT)) {
		ret = -errno;
		seg_destroy(&g);
		return ret == -EINVAL ? bc_skip(c, "no MADV_PAGEOUT") :
					bc_fail(c, ret, "pageout");
	}
	/* Most of it must be out, or this measures page-cache reads. */
	if (before < 0 || pages_swapped_out() - before < (long long)pages / 2) {
		seg_destroy(&g);
		return bc_skip(c, "no swap: MADV_PAGEOUT left the pages in memory");
	}
	meter_start(&m);
	ret = touch(g.addr, 0, pages, TOUCH_CHECK);
	meter_stop(&m, s);
	seg_destroy(&g);
	return ret ? bc_touch_fail(c, ret) : 0;
}

static void bench_swapread(void)
{
	uint64_t size = scaled(64 * MIB);
	struct group *g = group_new("swapread");
	struct bcase *c;
	int i;

	c = bc_add(g, "4k", "shmdev", "page", run_swapread);
	c->kind = K_SHMDEV;
	c = bc_add(g, "4k", "memfd", "page", run_swapread);
	c->kind = K_MEMFD;
	for (i = 0; i < g->n; i++) {
		c = &g->c[i];
		c->size = size;
		c->ops = size / page_size;
	}
	group_run(g, NULL);
}

static void bench_sweep(void)
{
	static const unsigned int mib[] = { 1, 4, 16, 64, 256 };
	struct group *g;
	uint64_t size;
	char what[32];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(mib); i++) {
		size = scaled(mib[i] * MIB);
		g = group_new("sweep");
		populate_case(g, "4k", "shmdev", K_SHMDEV, 0, size);
		/* Huge segments come in whole huge pages only. */
		if (!(size % huge_granule))
			populate_case(g, "huge", "shmdev", K_SHMDEV,
				      SHMDEV_CREATE_HUGE, size);
		populate_case(g, "4k", "memfd", K_MEMFD, 0, size);
		populate_case(g, "4k", "shm_open", K_POSIX, 0, size);
		populate_case(g, "4k", "sysv", K_SYSV, 0, size);
		snprintf(what, sizeof(what), "%" PRIu64 " KiB", size >> 10);
		group_run(g, what);
	}
}

/* attach: a second process opens a populated segment and touches it */

static __noreturn void attach_child(struct bcase *c, const struct seg *parent,
				    struct child_res *r)
{
	uint64_t tp, fp;
	struct seg g = *parent;
	long file_kb, shmem_kb;
	int ret;

	g.addr = NULL;
	g.thp = false;
	child_stage(r, "open");
	cmeter_start(r);
	ret = seg_open(&g, c->aflags);
	if (ret)
		child_fail(r, ret, "open");
	ret = seg_map(&g, c->mflags);
	if (ret)
		child_fail(r, ret, "map");
	child_stage(r, "touch");
	ret = touch(g.addr, 0, g.size / page_size, c->how);
	if (ret)
		child_touch_fail(r, ret);
	if (c->probe) {
		/*
		 * Not timed, not counted: moving the start values on by what
		 * the probe took leaves it out of t1 - t0 and of the faults.
		 */
		tp = now_ns();
		fp = minflt_self();
		smaps_pmd(&file_kb, &shmem_kb);
		r->v[0] = file_kb;
		r->v[1] = shmem_kb;
		r->t0 += now_ns() - tp;
		r->minflt += minflt_self() - fp;
	}
	child_stage(r, "unmap");
	seg_unmap(&g);
	if (g.kind != K_SYSV)
		close(g.fd);
	cmeter_stop(r);
	_exit(0);
}

static int run_attach(struct bcase *c, struct sample *s)
{
	struct child_res *r = &cres[0];
	struct sample ps;
	struct meter m;
	struct seg g;
	pid_t pid;
	int ret;

	/* The segment, created and filled by this process, untimed. */
	ret = seg_create_filled(c, &g, true);
	if (ret)
		return ret;
	if (c->probe && g.kind == K_SHMDEV)
		probe_huge(c, &g);
	seg_unmap(&g);

	child_res_reset(r);
	timer_arm();
	meter_start(&m);
	pid = spawn();
	if (!pid)
		attach_child(c, &g, r);
	if (pid < 0)
		ret = bc_fail(c, errno, "fork");
	else
		ret = reap(c, pid, r);
	meter_stop(&m, &ps);
	timer_disarm();
	seg_destroy(&g);
	if (ret)
		return -1;
	s->ns = r->t1 - r->t0;
	s->minflt = r->minflt;
	s->syscalls = ps.syscalls;
	if (c->probe) {
		if (r->v[0] >= 0)
			xround(c, "\"child_file_pmd_mapped_kb\":%" PRId64,
			       r->v[0]);
		if (r->v[1] >= 0)
			xround(c, "\"child_shmem_pmd_mapped_kb\":%" PRId64,
			       r->v[1]);
	}
	return 0;
}

static struct bcase *attach_case(struct group *g, const char *variant,
				 const char *peer, int kind, bool write,
				 uint64_t size)
{
	struct bcase *c = bc_add(g, variant, peer, "page", run_attach);

	c->kind = kind;
	c->how = write ? TOUCH_WRITE : TOUCH_CHECK;
	c->size = size;
	c->ops = size / page_size;
	switch (kind) {
	case K_SHMDEV:
		xfixed(c, "\"open\":\"SHMDEV_IOC_ATTACH\"");
		break;
	case K_MEMFD:
		xfixed(c, "\"open\":\"/proc/PID/fd\"");
		break;
	case K_POSIX:
		xfixed(c, "\"open\":\"shm_open\"");
		break;
	case K_SYSV:
		xfixed(c, "\"open\":\"shmget(key)\"");
		break;
	}
	return c;
}

static void bench_attach(void)
{
	uint64_t size = scaled_huge(256 * MIB);
	struct group *g = group_new("attach");
	struct bcase *c;

	attach_case(g, "attach-read", "shmdev", K_SHMDEV, false, size);
	attach_case(g, "attach-write", "shmdev", K_SHMDEV, true, size);
	c = attach_case(g, "attach-write-premap", "shmdev", K_SHMDEV, true,
			size);
	c->aflags = SHMDEV_ATTACH_PREMAP;
	c = attach_case(g, "attach-read-huge", "shmdev", K_SHMDEV, false,
			size);
	c->cflags = SHMDEV_CREATE_HUGE;
	c->probe = true;
	c = attach_case(g, "attach-write-huge", "shmdev", K_SHMDEV, true,
			size);
	c->cflags = SHMDEV_CREATE_HUGE;
	c->probe = true;
	attach_case(g, "attach-read", "memfd", K_MEMFD, false, size);
	attach_case(g, "attach-write", "memfd", K_MEMFD, true, size);
	c = attach_case(g, "attach-write", "memfd-populate", K_MEMFD, true,
			size);
	c->mflags = MAP_POPULATE;
	attach_case(g, "attach-read", "shm_open", K_POSIX, false, size);
	attach_case(g, "attach-write", "shm_open", K_POSIX, true, size);
	attach_case(g, "attach-read", "sysv", K_SYSV, false, size);
	attach_case(g, "attach-write", "sysv", K_SYSV, true, size);
	group_run(g, NULL);
}

/* lifecycle: create, map, touch a page, unmap, destroy; many times */

/* One cycle's use of the object behind @fd: map a page, write, unmap. */
static int lc_touch(int fd, uint32_t val, const char **stage)
{
	void *p;
	int ret;

	*stage = "map";
	p = mmap(NULL, page_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	*stage = "touch";
	ret = poke(p, val);
	munmap(p, page_size);
	return ret;
}

/*
 * With @dev >= 0, every segment is created through that one open device
 * file (SHMDEV_CREATE_NEWFD, shmdev_create_at()): one system call instead
 * of an open() and an ioctl().
 */
static int lc_shmdev(uint64_t n, const char *name, int dev,
		     const char **stage)
{
	struct shmdev_unlink ul;
	uint64_t i;
	int fd, ret;

	memset(&ul, 0, sizeof(ul));
	if (name)
		snprintf(ul.name, sizeof(ul.name), "%s", name);
	for (i = 0; i < n; i++) {
		*stage = "create";
		if (dev >= 0)
			fd = shmdev_create_at(dev, name, page_size, 0600, 0);
		else
			fd = shmdev_create(name, page_size, 0600, 0);
		if (fd < 0)
			return fd;
		ret = lc_touch(fd, (uint32_t)i, stage);
		if (ret)
			goto err_close;
		/* The name goes through the file in hand: no extra open. */
		*stage = "unlink";
		if (name && ioctl(fd, SHMDEV_IOC_UNLINK, &ul)) {
			ret = -errno;
			goto err_close;
		}
		close(fd);
	}
	return 0;
err_close:
	close(fd);
	return ret;
}

static int lc_fd(uint64_t n, const char *name, const char **stage)
{
	uint64_t i;
	int fd, ret;

	for (i = 0; i < n; i++) {
		*stage = "create";
		if (name)
			fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
		else
			fd = memfd_create("shmdev-bench", MFD_CLOEXEC);
		if (fd < 0)
			return -errno;
		if (ftruncate(fd, (off_t)page_size)) {
			ret = -errno;
			goto err_close;
		}
		ret = lc_touch(fd, (uint32_t)i, stage);
		if (ret)
			goto err_close;
		close(fd);
		*stage = "unlink";
		if (name && shm_unlink(name))
			return -errno;
	}
	return 0;
err_close:
	close(fd);
	return ret;
}

static int lc_sysv(uint64_t n, key_t key, int obj, const char **stage)
{
	uint64_t i;
	void *p;
	int id, ret;

	for (i = 0; i < n; i++) {
		*stage = "create";
		id = shmget(key, page_size, IPC_CREAT | IPC_EXCL | 0600);
		if (id < 0)
			return -errno;
		if (obj >= 0)
			objs[obj].shmid = id;
		*stage = "map";
		p = shmat(id, NULL, 0);
		if (p == (void *)-1) {
			ret = -errno;
			goto err_rmid;
		}
		*stage = "touch";
		ret = poke(p, (uint32_t)i);
		shmdt(p);
		if (ret)
			goto err_rmid;
		*stage = "rmid";
		if (shmctl(id, IPC_RMID, NULL))
			return -errno;
	}
	return 0;
err_rmid:
	shmctl(id, IPC_RMID, NULL);
	return ret;
}

static int run_lifecycle(struct bcase *c, struct sample *s)
{
	const char *stage = "create";
	char name[SHMDEV_NAME_MAX + 1];
	struct meter m;
	int ret = 0, obj = -1;
	key_t key = IPC_PRIVATE;

	name[0] = '\0';
	if (c->kind == K_SHMDEV && c->param) {
		snprintf(name, sizeof(name), "shmdev-bench-%d-lc",
			 (int)main_pid);
		obj = obj_add(OBJ_SHMDEV, name, -1);
	} else if (c->kind == K_POSIX) {
		snprintf(name, sizeof(name), "/shmdev-bench-%d-lc",
			 (int)main_pid);
		obj = obj_add(OBJ_POSIX, name, -1);
	} else if (c->kind == K_SYSV) {
		if (c->param)
			key = sysv_key();
		obj = obj_add(OBJ_SYSV, NULL, -1);
	}
	meter_start(&m);
	switch (c->kind) {
	case K_SHMDEV:
		/* The one open of the device counts: it is timed too. */
		if (c->cflags & SHMDEV_CREATE_NEWFD) {
			int dev = shmdev_open_device();

			ret = dev < 0 ? dev : lc_shmdev(c->ops,
							c->param ? name : NULL,
							dev, &stage);
			if (dev >= 0)
				close(dev);
		} else {
			ret = lc_shmdev(c->ops, c->param ? name : NULL, -1,
					&stage);
		}
		break;
	case K_MEMFD:
		ret = lc_fd(c->ops, NULL, &stage);
		break;
	case K_POSIX:
		ret = lc_fd(c->ops, name, &stage);
		break;
	case K_SYSV:
		ret = lc_sysv(c->ops, key, obj, &stage);
		break;
	}
	meter_stop(&m, s);
	/* Whatever a failure left behind; the ids above are gone. */
	if (ret && obj >= 0)
		obj_remove(&objs[obj]);
	obj_drop(&obj);
	if (ret == -EFAULT)
		return bc_failmsg(c, strsignal(guard_sig), stage);
	return ret ? bc_fail(c, ret, stage) : 0;
}

static struct bcase *lifecycle_case(struct group *g, const char *variant,
				    const char *peer, int kind, bool named)
{
	struct bcase *c = bc_add(g, variant, peer, "cycle", run_lifecycle);

	c->kind = kind;
	c->param = named;
	c->size = page_size;
	c->ops = scaled(10000);
	return c;
}

static void bench_lifecycle(void)
{
	struct group *g = group_new("lifecycle");

	lifecycle_case(g, "anon", "shmdev", K_SHMDEV, false);
	lifecycle_case(g, "anon", "memfd", K_MEMFD, false);
	lifecycle_case(g, "anon", "sysv", K_SYSV, false);
	lifecycle_case(g, "named", "shmdev", K_SHMDEV, true);
	lifecycle_case(g, "named", "shm_open", K_POSIX, true);
	lifecycle_case(g, "named", "sysv", K_SYSV, true);
	lifecycle_case(g, "anon-newfd", "shmdev", K_SHMDEV,
		       false)->cflags = SHMDEV_CREATE_NEWFD;
	lifecycle_case(g, "named-newfd", "shmdev", K_SHMDEV,
		       true)->cflags = SHMDEV_CREATE_NEWFD;
	group_run(g, NULL);
}

/* namescale: attach by name among many names */

static int ns_grow(int posix, unsigned int target)
{
	const char *name;
	int fd, ret;

	while (ns_count[posix] < target) {
		name = ns_names[ns_count[posix]];
		if (posix) {
			fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
			if (fd < 0)
				return -errno;
			ret = ftruncate(fd, (off_t)page_size) ? -errno : 0;
			close(fd);
			if (ret) {
				shm_unlink(name);
				return ret;
			}
		} else {
			fd = shmdev_create(name + 1, page_size, 0600, 0);
			if (fd < 0)
				return fd;
			close(fd);
		}
		ns_count[posix]++;
	}
	return 0;
}

static int run_namescale(struct bcase *c, struct sample *s)
{
	uint64_t i, n = c->param;
	struct meter m;
	int fd = 0;

	meter_start(&m);
	for (i = 0; i < c->ops; i++) {
		if (c->kind == K_SHMDEV) {
			fd = shmdev_attach(ns_names[i % n] + 1, 0);
		} else {
			fd = shm_open(ns_names[i % n], O_RDWR, 0);
			if (fd < 0)
				fd = -errno;
		}
		if (fd < 0)
			break;
		close(fd);
	}
	meter_stop(&m, s);
	return fd < 0 ? bc_fail(c, fd, "attach") : 0;
}

static void bench_namescale(void)
{
	static const unsigned int pops[] = { 1, 1000, 10000, 100000 };
	unsigned int npop = ARRAY_SIZE(pops), i, k, n;
	unsigned int max = (unsigned int)scaled(pops[npop - 1]);
	double base[2] = { 0, 0 };
	int err[2] = { 0, 0 };
	struct bcase *c;
	struct group *g;

	ns_names = calloc(max, sizeof(*ns_names));
	if (!ns_names) {
		note("out of memory");
		return;
	}
	for (i = 0; i < max; i++)
		snprintf(ns_names[i], NS_NAME_LEN, "/shmdev-bench-%d-ns-%u",
			 (int)main_pid, i);
	maxseg_raise(max + 64);
	for (i = 0; i < npop; i++) {
		n = i ? (unsigned int)scaled(pops[i]) : 1;
		g = group_new("namescale");
		for (k = 0; k < 2; k++) {
			c = bc_add(g, "", k ? "shm_open" : "shmdev", "attach",
				   run_namescale);
			snprintf(c->vbuf, sizeof(c->vbuf), "n=%u", n);
			c->variant = c->vbuf;
			c->selected = only_match(c);
			c->kind = k ? K_POSIX : K_SHMDEV;
			c->param = n;
			c->size = page_size;
			c->ops = scaled(20000);
			xfixed(c, "\"population\":%u", n);
			if (!c->selected)
				continue;
			if (!err[k])
				err[k] = ns_grow(k, n);
			if (err[k])
				bc_fail(c, err[k], "populate names");
		}
		group_rounds(g, g->c[0].variant);
		for (k = 0; k < 2; k++) {
			c = &g->c[k];
			if (c->failed || !c->nsamples)
				continue;
			if (!i)
				base[k] = bc_median_ns(c);
			if (base[k] > 0)
				xfixed(c, "\"ratio_to_n1\":%.4g",
				       bc_median_ns(c) / base[k]);
		}
		group_emit(g);
		free(g);
	}
	ns_remove_all();
	maxseg_restore();
	free(ns_names);
	ns_names = NULL;
}

/* ring: message passing between two processes */

struct spin {
	unsigned int n;
	unsigned int every;		/* sched_yield() after so many polls */
	pid_t peer;
	bool child;
};

/* One failed poll: maybe yield, now and then check that the peer lives. */
static int spin_pause(struct spin *sp)
{
	siginfo_t si;

	if (timed_out)
		return -ETIMEDOUT;
	if (++sp->n % sp->every) {
		cpu_relax();
		return 0;
	}
	sched_yield();
	if (sp->n % (sp->every * SPIN_CHECK))
		return 0;
	if (sp->child)
		return getppid() == sp->peer ? 0 : -EPIPE;
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)sp->peer, &si, WEXITED | WNOHANG | WNOWAIT))
		return -errno;
	return si.si_pid ? -EPIPE : 0;
}

/*
 * Two directions between two sides: side 0 (the parent) sends on
 * direction 0 and receives on 1, side 1 (the child) the other way round.
 */
struct xport {
	int type;
	bool spin;
	bool zc;			/* ring: write and read in place */
	bool bell;			/* ring: handles have a doorbell */
	bool epoll;			/* wait in epoll_wait() on bfd or efd */
	bool child;
	int side;
	pid_t peer;
	size_t msg;
	size_t region;			/* bytes of each ring region */
	struct seg seg;			/* rings or eventfd buffers */
	bool attached;
	struct shmdev_ring ring[2];
	int fd[2][2];			/* pipes [dir][end]; socket [0][side] */
	int efd[2];
	int bfd;			/* ring: this side's file, doorbells */
	int ep;				/* with epoll: the epoll instance */
};

static void xp_destroy(struct xport *x)
{
	int d;

	if (x->attached) {
		shmdev_ring_detach(&x->ring[0]);
		shmdev_ring_detach(&x->ring[1]);
		x->attached = false;
	}
	for (d = 0; d < 2; d++) {
		close_fd(&x->fd[d][0]);
		close_fd(&x->fd[d][1]);
		close_fd(&x->efd[d]);
	}
	close_fd(&x->bfd);
	close_fd(&x->ep);
	seg_destroy(&x->seg);
}

static int xp_setup_ring(struct xport *x, int kind, size_t cap)
{
	int d, ret;

	x->region = cap + page_size;
	/* Doorbells: named, so that each side attaches a file of its own. */
	ret = seg_create(&x->seg, kind, 2 * x->region, 0, x->bell);
	if (!ret)
		ret = seg_map(&x->seg, 0);
	for (d = 0; !ret && d < 2; d++)
		ret = shmdev_ring_init((char *)x->seg.addr + d * x->region,
				       x->region, (uint32_t)x->msg, 0);
	return ret;
}

static int xp_setup(struct xport *x, const struct bcase *c, bool spin,
		    size_t msg, size_t cap)
{
	int d, ret = 0, type = c->xtype, kind = c->kind;

	memset(x, 0, sizeof(*x));
	seg_init(&x->seg);
	for (d = 0; d < 2; d++) {
		x->fd[d][0] = -1;
		x->fd[d][1] = -1;
		x->efd[d] = -1;
	}
	x->bfd = -1;
	x->ep = -1;
	x->type = type;
	x->spin = spin;
	x->msg = msg;
	x->epoll = c->epoll;
	x->bell = type == X_RING && (c->bell || c->epoll);
	switch (type) {
	case X_RING:
		ret = xp_setup_ring(x, kind, cap);
		break;
	case X_PIPE:
		for (d = 0; !ret && d < 2; d++) {
			if (pipe2(x->fd[d], O_CLOEXEC)) {
				ret = -errno;
				break;
			}
			/* As much room as the ring; it may be refused. */
			fcntl(x->fd[d][1], F_SETPIPE_SZ, (int)cap);
			if (spin)
				ret = set_nonblock(x->fd[d][0]);
		}
		break;
	case X_UNIX:
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
			       x->fd[0]))
			ret = -errno;
		else if (spin && set_nonblock(x->fd[0][0]))
			ret = -errno;
		else if (spin)
			ret = set_nonblock(x->fd[0][1]);
		break;
	case X_EVENTFD:
		ret = seg_create(&x->seg, K_MEMFD,
				 (2 * msg + page_size - 1) & ~(page_size - 1),
				 0, false);
		if (!ret)
			ret = seg_map(&x->seg, 0);
		for (d = 0; !ret && d < 2; d++) {
			x->efd[d] = eventfd(0, EFD_CLOEXEC |
					    (spin || x->epoll ?
					     EFD_NONBLOCK : 0));
			if (x->efd[d] < 0)
				ret = -errno;
		}
		break;
	}
	if (ret)
		xp_destroy(x);
	return ret;
}

/* An epoll instance waiting for @fd to become readable. */
static int xp_epoll(struct xport *x, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN };

	x->ep = epoll_create1(EPOLL_CLOEXEC);
	if (x->ep < 0 || epoll_ctl(x->ep, EPOLL_CTL_ADD, fd, &ev))
		return -errno;
	return 0;
}

/*
 * Doorbells for this side's ring handles: a file of its own on the
 * segment, doorbells 0 and 1 for direction 0, 2 and 3 for direction 1.
 */
static int xp_doorbells(struct xport *x)
{
	int d, ret;

	x->bfd = shmdev_attach(x->seg.name, 0);
	if (x->bfd < 0)
		return x->bfd;
	for (d = 0; d < 2; d++) {
		ret = shmdev_ring_set_doorbell(&x->ring[d], x->bfd,
					       d * SHMDEV_RING_BELLS);
		if (ret)
			return ret;
	}
	return x->epoll ? xp_epoll(x, x->bfd) : 0;
}

/* Takes @side after fork(): drops the other side's ends, attaches. */
static int xp_side(struct xport *x, int side, pid_t peer, bool child)
{
	int d, ret;

	x->side = side;
	x->peer = peer;
	x->child = child;
	switch (x->type) {
	case X_RING:
		for (d = 0; d < 2; d++) {
			ret = shmdev_ring_attach((char *)x->seg.addr +
						 d * x->region, x->region,
						 &x->ring[d]);
			if (ret)
				return ret;
		}
		x->attached = true;
		if (x->bell)
			return xp_doorbells(x);
		break;
	case X_EVENTFD:
		if (x->epoll)
			return xp_epoll(x, x->efd[!side]);
		break;
	case X_PIPE:
		close_fd(&x->fd[side][0]);
		close_fd(&x->fd[!side][1]);
		break;
	case X_UNIX:
		close_fd(&x->fd[0][!side]);
		break;
	}
	return 0;
}

static int write_full(struct xport *x, int fd, const void *buf, size_t len)
{
	struct spin sp = {
		.every = SPIN_YIELD_SC, .peer = x->peer, .child = x->child,
	};
	size_t done = 0;
	ssize_t n;
	int ret;

	while (done < len) {
		n = write(fd, (const char *)buf + done, len - done);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EAGAIN) {
			ret = spin_pause(&sp);
			if (ret)
				return ret;
			continue;
		}
		if (n < 0 && errno == EINTR && !timed_out)
			continue;
		return n < 0 && errno != EINTR ? -errno : -ETIMEDOUT;
	}
	return 0;
}

static int read_full(struct xport *x, int fd, void *buf, size_t len)
{
	struct spin sp = {
		.every = SPIN_YIELD_SC, .peer = x->peer, .child = x->child,
	};
	size_t done = 0;
	ssize_t n;
	int ret;

	while (done < len) {
		n = read(fd, (char *)buf + done, len - done);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (!n)
			return -EPIPE;
		if (errno == EAGAIN) {
			ret = spin_pause(&sp);
			if (ret)
				return ret;
			continue;
		}
		if (errno != EINTR)
			return -errno;
		if (timed_out)
			return -ETIMEDOUT;
	}
	return 0;
}

/* Waits in epoll_wait() on the xport's descriptor, as event loops do. */
static int xp_epoll_wait(struct xport *x)
{
	struct epoll_event ev;

	/* Timed out: the caller looks again (and at timed_out). */
	if (epoll_wait(x->ep, &ev, 1, SHMDEV_RING_LIVENESS_MS) >= 0)
		return 0;
	if (errno != EINTR)
		return -errno;
	return timed_out ? -ETIMEDOUT : 0;
}

/* After a ring call said -EAGAIN: arms the doorbell and waits for it. */
static int ring_wait_bell(struct xport *x, struct shmdev_ring *ring,
			  bool send)
{
	int ret = shmdev_ring_poll_prepare(ring, send ? SHMDEV_RING_POLLOUT :
						    SHMDEV_RING_POLLIN);

	if (ret)
		return ret > 0 ? 0 : ret;
	return xp_epoll_wait(x);
}

/*
 * A ring call: polled with timeout 0 when spinning or waiting in epoll,
 * else blocking.
 */
static int ring_call(struct xport *x, struct shmdev_ring *ring, void *buf,
		     size_t len, size_t *got, bool send)
{
	struct spin sp = {
		.every = SPIN_YIELD, .peer = x->peer, .child = x->child,
	};
	int64_t timeout = x->spin || x->epoll ? 0 : -1;
	int ret;

	for (;;) {
		if (send)
			ret = shmdev_ring_send(ring, buf, len, timeout);
		else
			ret = shmdev_ring_recv(ring, buf, len, got, timeout);
		if (ret == -EAGAIN && x->epoll) {
			ret = ring_wait_bell(x, ring, send);
			if (ret)
				return ret;
			continue;
		}
		if (ret == -EAGAIN && x->spin) {
			ret = spin_pause(&sp);
			if (ret)
				return ret;
			continue;
		}
		if (ret == -EINTR)
			return timed_out ? -ETIMEDOUT : ret;
		return ret;
	}
}

static int xp_send(struct xport *x, void *buf, size_t len)
{
	static const uint64_t one = 1;
	int s = x->side;

	switch (x->type) {
	case X_RING:
		return ring_call(x, &x->ring[s], buf, len, NULL, true);
	case X_PIPE:
		return write_full(x, x->fd[s][1], buf, len);
	case X_UNIX:
		return write_full(x, x->fd[0][s], buf, len);
	case X_EVENTFD:
		memcpy((char *)x->seg.addr + s * x->msg, buf, len);
		return write_full(x, x->efd[s], &one, sizeof(one));
	}
	return -EINVAL;
}

static int xp_recv(struct xport *x, void *buf, size_t len)
{
	int s = x->side, ret;
	size_t got = 0;
	uint64_t v;

	switch (x->type) {
	case X_RING:
		ret = ring_call(x, &x->ring[!s], buf, len, &got, false);
		return !ret && got != len ? -EMSGSIZE : ret;
	case X_PIPE:
		return read_full(x, x->fd[!s][0], buf, len);
	case X_UNIX:
		return read_full(x, x->fd[0][s], buf, len);
	case X_EVENTFD:
		if (x->epoll) {
			/* An event loop: woken first, then it reads. */
			ret = xp_epoll_wait(x);
			while (!ret && read(x->efd[!s], &v, sizeof(v)) < 0) {
				if (errno != EAGAIN && errno != EINTR)
					return -errno;
				ret = xp_epoll_wait(x);
			}
		} else {
			ret = read_full(x, x->efd[!s], &v, sizeof(v));
		}
		if (!ret)
			memcpy(buf, (char *)x->seg.addr + !s * x->msg, len);
		return ret;
	}
	return -EINVAL;
}

/*
 * Zero-copy streaming through a ring: the sender copies its message into
 * the slot it reserved, the receiver checks the message where it lies
 * with @check and releases it. Other transports copy as xp_send() and
 * xp_recv() do.
 */
static int xp_send_zc(struct xport *x, const void *src, size_t len,
		      void (*fill)(void *, size_t, uint64_t), uint64_t seq)
{
	void *slot;
	int ret;

	ret = shmdev_ring_reserve(&x->ring[x->side], len, &slot, -1);
	if (ret)
		return ret == -EINTR && timed_out ? -ETIMEDOUT : ret;
	memcpy(slot, src, len);
	fill(slot, len, seq);
	return shmdev_ring_commit(&x->ring[x->side], len);
}

static int xp_recv_zc(struct xport *x, size_t len,
		      bool (*check)(const void *, size_t, uint64_t),
		      uint64_t seq)
{
	const void *slot;
	size_t got = 0;
	int ret;

	ret = shmdev_ring_peek(&x->ring[!x->side], &slot, &got, -1);
	if (ret)
		return ret == -EINTR && timed_out ? -ETIMEDOUT : ret;
	ret = got != len ? -EMSGSIZE : check(slot, len, seq) ? 0 : -EBADMSG;
	shmdev_ring_release(&x->ring[!x->side]);
	return ret;
}

/* Messages carry their sequence number in their first and last 8 bytes. */
static void stamp(void *buf, size_t len, uint64_t seq)
{
	memcpy(buf, &seq, sizeof(seq));
	memcpy((char *)buf + len - sizeof(seq), &seq, sizeof(seq));
}

static bool stamp_ok(const void *buf, size_t len, uint64_t seq)
{
	uint64_t a, b;

	memcpy(&a, buf, sizeof(a));
	memcpy(&b, (const char *)buf + len - sizeof(b), sizeof(b));
	return a == seq && b == seq;
}

/* One round trip from the parent; -EBADMSG if the echo is wrong. */
static int pp_exchange(struct xport *x, void *buf, size_t len, uint64_t seq)
{
	int ret;

	stamp(buf, len, seq);
	ret = xp_send(x, buf, len);
	if (!ret)
		ret = xp_recv(x, buf, len);
	if (!ret && !stamp_ok(buf, len, seq))
		ret = -EBADMSG;
	return ret;
}

/*
 * The end of a worker's measured part: waits until the parent has stopped
 * counting and closed @fd, so that the worker's teardown and exit are not
 * counted as syscalls of the benchmark.
 */
static void wait_eof(int fd)
{
	char ch;
	ssize_t n;

	do {
		n = read(fd, &ch, 1);
	} while (n > 0 || (n < 0 && errno == EINTR));
}

static __noreturn void pingpong_child(struct xport *x, struct child_res *r,
				      int ready, int done, void *buf,
				      size_t len, uint64_t n)
{
	uint64_t i;
	int ret;

	ret = xp_side(x, 1, getppid(), true);
	if (ret)
		child_fail(r, ret, "attach");
	if (x->type == X_EVENTFD)
		child_wake_fd = x->efd[1];
	child_stage(r, "echo");
	cmeter_start(r);
	if (write(ready, "r", 1) != 1)
		child_fail(r, errno, "ready");
	for (i = 0; i <= n; i++) {
		ret = xp_recv(x, buf, len);
		if (ret)
			child_fail(r, ret, "recv");
		if (!stamp_ok(buf, len, i))
			child_failmsg(r, "data mismatch (sequence number)",
				      "verify");
		ret = xp_send(x, buf, len);
		if (ret)
			child_fail(r, ret, "send");
	}
	wait_eof(done);
	cmeter_stop(r);
	xp_destroy(x);
	_exit(0);
}

/*
 * The two pipes between the parent and a ring worker: @up carries the
 * worker's ready byte, @down the parent's go or done (its end of file).
 */
static int worker_pipes(int up[2], int down[2])
{
	int ret;

	if (pipe2(up, O_CLOEXEC))
		return -errno;
	if (pipe2(down, O_CLOEXEC)) {
		ret = -errno;
		close(up[0]);
		close(up[1]);
		return ret;
	}
	return 0;
}

/* Waits for the worker's ready byte; -EPIPE if it died first. */
static int wait_ready(int fd)
{
	char ch;
	ssize_t n;

	do {
		n = read(fd, &ch, 1);
	} while (n < 0 && errno == EINTR && !timed_out);
	if (n == 1)
		return 0;
	return n < 0 ? -errno : -EPIPE;
}

/*
 * After the parent side failed with @ret: unless the worker failed first
 * (its report, which reap() records, tells more), records @ret and stops
 * the worker.
 */
static void worker_abort(struct bcase *c, pid_t pid,
			 const struct child_res *r, int ret, const char *stage)
{
	if (!ret || r->err || ret == -EPIPE)
		return;
	if (ret == -EBADMSG)
		bc_failmsg(c, "data mismatch (sequence number)", "verify");
	else
		bc_fail(c, ret, stage);
	kill(pid, SIGKILL);
}

/*
 * The end of a ring case whose measured loop ended with @ret: end of file
 * on @down stops the worker, both sides' figures go to @s, and everything
 * the case set up is released. 0, or -1 with the failure recorded.
 */
static int worker_finish(struct bcase *c, struct sample *s, struct meter *m,
			 pid_t pid, int ret, int up, int down, struct xport *x,
			 void *buf, const char *stage)
{
	struct child_res *r = &cres[0];
	int rret;

	close(down);
	worker_abort(c, pid, r, ret, stage);
	rret = reap(c, pid, r);
	meter_collect(m);
	timer_disarm();
	close(up);
	xp_destroy(x);
	free(buf);
	if (ret && !c->failed)
		bc_fail(c, ret, stage);
	if (ret || rret)
		return -1;
	*s = m->acc;
	s->minflt += r->minflt;
	return 0;
}

/* Pins the caller (and the children it forks) to its current CPU. */
static int pin_cpu(cpu_set_t *saved)
{
	cpu_set_t one;
	int cpu = sched_getcpu();

	if (cpu < 0 || sched_getaffinity(0, sizeof(*saved), saved))
		return -errno;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	return sched_setaffinity(0, sizeof(one), &one) ? -errno : 0;
}

static int run_pingpong(struct bcase *c, struct sample *s)
{
	struct child_res *r = &cres[0];
	bool pinned = false;
	cpu_set_t cpus;
	int ready[2], done[2], ret;
	struct meter m;
	struct xport x;
	void *buf;
	uint64_t i;
	pid_t pid;

	buf = calloc(1, c->size);
	if (!buf)
		return bc_fail(c, ENOMEM, "setup");
	ret = xp_setup(&x, c, c->spin, c->size, RING_PP_CAP);
	if (ret)
		goto err_buf;
	/* One CPU for both: every wait for the peer really sleeps. */
	ret = c->onecpu ? pin_cpu(&cpus) : 0;
	if (ret)
		goto err_xp;
	pinned = c->onecpu;
	ret = worker_pipes(ready, done);
	if (ret)
		goto err_xp;
	child_res_reset(r);
	timer_arm();
	pid = spawn();
	if (!pid) {
		close(ready[0]);
		close(done[1]);
		pingpong_child(&x, r, ready[1], done[0], buf, c->size, c->ops);
	}
	close(ready[1]);
	close(done[0]);
	if (pid < 0) {
		ret = -errno;
		timer_disarm();
		close(ready[0]);
		close(done[1]);
		goto err_xp;
	}
	ret = xp_side(&x, 0, pid, false);
	if (!ret)
		ret = wait_ready(ready[0]);
	/* One untimed round trip: both sides register with the rings. */
	if (!ret)
		ret = pp_exchange(&x, buf, c->size, 0);
	meter_start(&m);
	for (i = 1; !ret && i <= c->ops; i++)
		ret = pp_exchange(&x, buf, c->size, i);
	meter_halt(&m);
	if (pinned)
		sched_setaffinity(0, sizeof(cpus), &cpus);
	return worker_finish(c, s, &m, pid, ret, ready[0], done[1], &x, buf,
			     "exchange");
err_xp:
	if (pinned)
		sched_setaffinity(0, sizeof(cpus), &cpus);
	xp_destroy(&x);
err_buf:
	free(buf);
	return bc_fail(c, ret, "setup");
}

static __noreturn void stream_child(struct xport *x, struct child_res *r,
				    int ready, int go, uint64_t n)
{
	void *buf = malloc(STREAM_MSG);
	uint64_t i;
	int ret;

	if (!buf)
		child_fail(r, ENOMEM, "setup");
	memset(buf, 0xa5, STREAM_MSG);
	ret = xp_side(x, 1, getppid(), true);
	if (ret)
		child_fail(r, ret, "attach");
	child_stage(r, "send");
	cmeter_start(r);
	if (write(ready, "r", 1) != 1)
		child_fail(r, errno, "ready");
	ret = wait_ready(go);
	if (ret)
		child_fail(r, ret, "start");
	for (i = 0; i < n; i++) {
		if (x->zc) {
			ret = xp_send_zc(x, buf, STREAM_MSG, stamp, i);
		} else {
			stamp(buf, STREAM_MSG, i);
			ret = xp_send(x, buf, STREAM_MSG);
		}
		if (ret)
			child_fail(r, ret, "send");
	}
	wait_eof(go);
	cmeter_stop(r);
	xp_destroy(x);
	_exit(0);
}

static int run_stream(struct bcase *c, struct sample *s)
{
	struct child_res *r = &cres[0];
	int ready[2], go[2], ret;
	struct meter m;
	uint64_t i;
	struct xport x;
	void *buf;
	pid_t pid;

	buf = malloc(STREAM_MSG);
	if (!buf)
		return bc_fail(c, ENOMEM, "setup");
	ret = xp_setup(&x, c, false, STREAM_MSG, STREAM_CAP);
	x.zc = c->zc && c->xtype == X_RING;
	if (ret) {
		free(buf);
		return bc_fail(c, ret, "setup");
	}
	ret = worker_pipes(ready, go);
	if (ret)
		goto err_xp;
	child_res_reset(r);
	timer_arm();
	pid = spawn();
	if (!pid) {
		close(ready[0]);
		close(go[1]);
		stream_child(&x, r, ready[1], go[0], c->ops);
	}
	close(ready[1]);
	close(go[0]);
	if (pid < 0) {
		ret = -errno;
		timer_disarm();
		close(ready[0]);
		close(go[1]);
		goto err_xp;
	}
	ret = xp_side(&x, 0, pid, false);
	if (!ret)
		ret = wait_ready(ready[0]);
	meter_start(&m);
	if (!ret && write(go[1], "g", 1) != 1)
		ret = -errno;
	for (i = 0; !ret && i < c->ops; i++) {
		if (x.zc) {
			ret = xp_recv_zc(&x, STREAM_MSG, stamp_ok, i);
			continue;
		}
		ret = xp_recv(&x, buf, STREAM_MSG);
		if (!ret && !stamp_ok(buf, STREAM_MSG, i))
			ret = -EBADMSG;
	}
	meter_halt(&m);
	if (worker_finish(c, s, &m, pid, ret, ready[0], go[1], &x, buf,
			  "receive"))
		return -1;
	xround(c, "\"bytes_per_s\":%.0f",
	       (double)c->size * 1e9 / (double)(s->ns ? s->ns : 1));
	return 0;
err_xp:
	xp_destroy(&x);
	free(buf);
	return bc_fail(c, ret, "setup");
}

static const char *const xp_transport[] = {
	[X_RING] = "libshmdev SPSC ring",
	[X_PIPE] = "pipe",
	[X_UNIX] = "socketpair(AF_UNIX, SOCK_STREAM)",
	[X_EVENTFD] = "eventfd + memfd buffer",
};

static struct bcase *ring_case(struct group *g, const char *variant,
			       const char *peer, int xtype, int kind,
			       bc_fn run, const char *op)
{
	struct bcase *c = bc_add(g, variant, peer, op, run);

	c->xtype = xtype;
	c->kind = kind;
	xfixed(c, "\"transport\":\"%s\"", xp_transport[xtype]);
	return c;
}

static void bench_ring(void)
{
	static const char *const pp_variants[] = {
		"pingpong-64-spin", "pingpong-64-block",
		"pingpong-4k-spin", "pingpong-4k-block",
	};
	uint64_t total = scaled_by(1024 * MIB, QUICK_DIV_RING);
	struct bcase *c;
	struct group *g;
	unsigned int v;
	int i;

	for (v = 0; v < 4; v++) {
		bool spin = !(v & 1);

		g = group_new("ring");
		ring_case(g, pp_variants[v], "shmdev", X_RING, K_SHMDEV,
			  run_pingpong, "roundtrip");
		ring_case(g, pp_variants[v], "memfd", X_RING, K_MEMFD,
			  run_pingpong, "roundtrip");
		ring_case(g, pp_variants[v], "pipe", X_PIPE, 0, run_pingpong,
			  "roundtrip");
		ring_case(g, pp_variants[v], "unix", X_UNIX, 0, run_pingpong,
			  "roundtrip");
		ring_case(g, pp_variants[v], "eventfd", X_EVENTFD, 0,
			  run_pingpong, "roundtrip");
		if (v == 1) {
			/* Both sides wait in epoll_wait(), as event loops. */
			c = ring_case(g, pp_variants[v], "shmdev-epoll", X_RING,
				      K_SHMDEV, run_pingpong, "roundtrip");
			c->epoll = true;
			xfixed(c, "\"wait\":\"epoll on the doorbell\"");
			c = ring_case(g, pp_variants[v], "eventfd-epoll",
				      X_EVENTFD, 0, run_pingpong, "roundtrip");
			c->epoll = true;
			xfixed(c, "\"wait\":\"epoll on the eventfd\"");
		}
		for (i = 0; i < g->n; i++) {
			c = &g->c[i];
			c->spin = spin;
			c->size = v < 2 ? 64 : 4096;
			c->ops = scaled_by(spin ? 20000 : 5000,
					   QUICK_DIV_RING);
			xfixed(c, "\"msg_size\":%" PRIu64, c->size);
		}
		group_run(g, pp_variants[v]);
	}

	/*
	 * Both sides on one CPU, so that no spin finds the answer: every
	 * wait sleeps, and what is measured is the wakeup.
	 */
	g = group_new("ring");
	ring_case(g, "pingpong-64-1cpu", "shmdev", X_RING, K_SHMDEV,
		  run_pingpong, "roundtrip");
	ring_case(g, "pingpong-64-1cpu", "memfd", X_RING, K_MEMFD,
		  run_pingpong, "roundtrip");
	c = ring_case(g, "pingpong-64-1cpu", "shmdev-epoll", X_RING, K_SHMDEV,
		      run_pingpong, "roundtrip");
	c->epoll = true;
	c = ring_case(g, "pingpong-64-1cpu", "eventfd-epoll", X_EVENTFD, 0,
		      run_pingpong, "roundtrip");
	c->epoll = true;
	ring_case(g, "pingpong-64-1cpu", "eventfd", X_EVENTFD, 0,
		  run_pingpong, "roundtrip");
	ring_case(g, "pingpong-64-1cpu", "pipe", X_PIPE, 0, run_pingpong,
		  "roundtrip");
	for (i = 0; i < g->n; i++) {
		c = &g->c[i];
		c->onecpu = true;
		c->size = 64;
		c->ops = scaled_by(5000, QUICK_DIV_RING);
		xfixed(c, "\"msg_size\":64,\"cpus\":1");
	}
	group_run(g, "pingpong-64-1cpu");

	g = group_new("ring");
	ring_case(g, "stream-64k", "shmdev", X_RING, K_SHMDEV, run_stream,
		  "msg");
	ring_case(g, "stream-64k", "memfd", X_RING, K_MEMFD, run_stream,
		  "msg");
	/* What a doorbell costs a ring whose sides do not wait on it. */
	c = ring_case(g, "stream-64k", "shmdev-bell", X_RING, K_SHMDEV,
		      run_stream, "msg");
	c->bell = true;
	ring_case(g, "stream-64k", "pipe", X_PIPE, 0, run_stream, "msg");
	ring_case(g, "stream-64k", "unix", X_UNIX, 0, run_stream, "msg");
	/* The ring's own way: messages written and read in place. */
	c = ring_case(g, "stream-64k-zc", "shmdev", X_RING, K_SHMDEV,
		      run_stream, "msg");
	c->zc = true;
	c = ring_case(g, "stream-64k-zc", "memfd", X_RING, K_MEMFD,
		      run_stream, "msg");
	c->zc = true;
	for (i = 0; i < g->n; i++) {
		c = &g->c[i];
		c->size = total;
		c->ops = total / STREAM_MSG;
		xfixed(c, "\"msg_size\":%d", STREAM_MSG);
		if (c->xtype != X_UNIX)
			xfixed(c, "\"buffer_bytes\":%d", STREAM_CAP);
	}
	group_run(g, "stream-64k");
}

/*
 * Into @s: the span of the measurements of workers 0 to @n - 1, from the
 * first start to the last end, and the sum of their faults.
 */
static void workers_span(struct sample *s, int n)
{
	uint64_t t0 = UINT64_MAX, t1 = 0, flt = 0;
	int i;

	for (i = 0; i < n; i++) {
		if (cres[i].t0 < t0)
			t0 = cres[i].t0;
		if (cres[i].t1 > t1)
			t1 = cres[i].t1;
		flt += cres[i].minflt;
	}
	s->ns = t1 - t0;
	s->minflt = flt;
}

/* manyproc: processes fault the same segment in at once */

static __noreturn void manyproc_child(const struct seg *pg,
				      struct child_res *r, int bar,
				      unsigned int k)
{
	size_t pages = pg->size / page_size;
	size_t first = pages * k / MANYPROC_NR;
	struct seg g = *pg;
	char ch;
	int ret;

	g.addr = NULL;
	/* The barrier: EOF once the parent closes its end. */
	while (read(bar, &ch, 1) < 0 && errno == EINTR)
		;
	child_stage(r, "map");
	cmeter_start(r);
	ret = seg_map(&g, 0);
	if (ret)
		child_fail(r, ret, "map");
	child_stage(r, "touch");
	ret = touch(g.addr, first, pages, TOUCH_WRITE);
	if (!ret)
		ret = touch(g.addr, 0, first, TOUCH_WRITE);
	if (ret)
		child_touch_fail(r, ret);
	seg_unmap(&g);
	cmeter_stop(r);
	_exit(0);
}

static int run_manyproc(struct bcase *c, struct sample *s)
{
	pid_t pids[MANYPROC_NR];
	int bar[2], i, nr = 0, ret = 0, bad = 0;
	struct meter m;
	struct seg g;

	ret = seg_create(&g, c->kind, c->size, c->cflags, false);
	if (ret)
		return bc_fail(c, ret, "create");
	if (pipe2(bar, O_CLOEXEC)) {
		ret = -errno;
		seg_destroy(&g);
		return bc_fail(c, ret, "setup");
	}
	for (i = 0; i < MANYPROC_NR; i++)
		child_res_reset(&cres[i]);
	timer_arm();
	meter_start(&m);
	for (i = 0; i < MANYPROC_NR; i++) {
		pids[i] = spawn();
		if (!pids[i]) {
			close(bar[1]);
			manyproc_child(&g, &cres[i], bar[0], (unsigned int)i);
		}
		if (pids[i] < 0) {
			ret = -errno;
			break;
		}
		nr++;
	}
	close(bar[1]);
	for (i = 0; i < nr; i++)
		bad |= reap(c, pids[i], &cres[i]);
	meter_stop(&m, s);
	timer_disarm();
	close(bar[0]);
	seg_destroy(&g);
	if (ret)
		return bc_fail(c, ret, "fork");
	if (bad)
		return -1;
	workers_span(s, MANYPROC_NR);
	return 0;
}

static void bench_manyproc(void)
{
	struct group *g = group_new("manyproc");
	uint64_t size = scaled_huge(64 * MIB);
	struct bcase *c;
	int i;

	c = bc_add(g, "write-all", "shmdev", "page-touch", run_manyproc);
	c->kind = K_SHMDEV;
	c = bc_add(g, "write-all-huge", "shmdev", "page-touch",
		   run_manyproc);
	c->kind = K_SHMDEV;
	c->cflags = SHMDEV_CREATE_HUGE;
	c = bc_add(g, "write-all", "memfd", "page-touch", run_manyproc);
	c->kind = K_MEMFD;
	c = bc_add(g, "write-all", "shm_open", "page-touch", run_manyproc);
	c->kind = K_POSIX;
	c = bc_add(g, "write-all", "sysv", "page-touch", run_manyproc);
	c->kind = K_SYSV;
	for (i = 0; i < g->n; i++) {
		c = &g->c[i];
		c->size = size;
		c->ops = MANYPROC_NR * (size / page_size);
		xfixed(c, "\"procs\":%d", MANYPROC_NR);
	}
	group_run(g, NULL);
}

/* scale: many processes map one large segment and read all of it */

/* PageTables of /proc/meminfo in KiB, or -1. */
static long long pagetables_kb(void)
{
	return proc_value("/proc/meminfo", "PageTables:");
}

/* One byte on @fd: "ready" or "mapped" for the parent to count. */
static void scale_post(int fd)
{
	ssize_t n;

	do {
		n = write(fd, "", 1);
	} while (n < 0 && errno == EINTR);
}

/*
 * A worker: says it is ready, waits for the start, attaches, maps and
 * reads (checking) every page, says so, and keeps the mapping until the
 * parent has read the page-table figure.
 */
static __noreturn void scale_child(struct bcase *c, const struct seg *pg,
				   struct child_res *r, int go, int post,
				   int bye)
{
	struct seg g = *pg;
	int ret;

	g.addr = NULL;
	g.thp = false;
	/* Everything touched before the baseline is read, cres too. */
	child_stage(r, "wait");
	scale_post(post);
	wait_eof(go);
	child_stage(r, "open");
	cmeter_start(r);
	ret = seg_open(&g, c->aflags);
	if (ret)
		child_fail(r, ret, "open");
	ret = seg_map(&g, 0);
	if (ret)
		child_fail(r, ret, "map");
	child_stage(r, "touch");
	ret = touch(g.addr, 0, g.size / page_size, TOUCH_CHECK);
	if (ret)
		child_touch_fail(r, ret);
	cmeter_stop(r);
	scale_post(post);
	wait_eof(bye);
	seg_unmap(&g);
	if (g.kind != K_SYSV)
		close(g.fd);
	_exit(0);
}

/* Reads @n bytes from @fd (the workers' posts); false on EOF or timeout. */
static bool scale_collect(int fd, int n)
{
	char buf[SCALE_NR];
	ssize_t got;

	while (n > 0) {
		got = read(fd, buf, (size_t)n);
		if (got > 0) {
			n -= (int)got;
			continue;
		}
		if (got < 0 && errno == EINTR && !timed_out)
			continue;
		return false;
	}
	return true;
}

static int run_scale(struct bcase *c, struct sample *s)
{
	int go[2], post[2], bye[2], i, nr = 0, ret = 0, bad = 0;
	long long pt_before = -1, pt_after = -1;
	pid_t pids[SCALE_NR];
	struct meter m;
	struct seg g;

	ret = seg_create_filled(c, &g, true);
	if (ret)
		return ret;
	if (c->probe)
		probe_huge(c, &g);
	seg_unmap(&g);
	if (pipe2(go, O_CLOEXEC) || pipe2(post, O_CLOEXEC) ||
	    pipe2(bye, O_CLOEXEC)) {
		ret = -errno;
		seg_destroy(&g);
		return bc_fail(c, ret, "setup");
	}
	for (i = 0; i < SCALE_NR; i++)
		child_res_reset(&cres[i]);
	timer_arm();
	meter_start(&m);
	for (i = 0; i < SCALE_NR; i++) {
		pids[i] = spawn();
		if (!pids[i]) {
			close(go[1]);
			close(post[0]);
			close(bye[1]);
			scale_child(c, &g, &cres[i], go[0], post[1], bye[0]);
		}
		if (pids[i] < 0) {
			ret = -errno;
			break;
		}
		nr++;
	}
	close(go[0]);
	close(post[1]);
	close(bye[0]);
	/* All ready: the page tables without the segment's. */
	if (!ret && scale_collect(post[0], nr))
		pt_before = pagetables_kb();
	close(go[1]);
	/* All mapped and read: the page tables with it, in every process. */
	if (pt_before >= 0 && scale_collect(post[0], nr))
		pt_after = pagetables_kb();
	close(bye[1]);
	for (i = 0; i < nr; i++)
		bad |= reap(c, pids[i], &cres[i]);
	meter_stop(&m, s);
	timer_disarm();
	close(post[0]);
	seg_destroy(&g);
	if (ret)
		return bc_fail(c, ret, "fork");
	if (bad)
		return -1;
	if (pt_before < 0 || pt_after < 0)
		return bc_failmsg(c, "no PageTables in /proc/meminfo",
				  "pagetables");
	workers_span(s, SCALE_NR);
	xround(c, "\"pagetables_kb\":%lld", pt_after - pt_before);
	return 0;
}

static void bench_scale(void)
{
	struct group *g = group_new("scale");
	uint64_t size = scaled_huge(1024 * MIB);
	struct bcase *c;
	int i;

	c = bc_add(g, "attach-read", "shmdev", "page", run_scale);
	c->kind = K_SHMDEV;
	c = bc_add(g, "attach-read-huge", "shmdev", "page", run_scale);
	c->kind = K_SHMDEV;
	c->cflags = SHMDEV_CREATE_HUGE;
	c->probe = true;
	c = bc_add(g, "attach-read", "memfd", "page", run_scale);
	c->kind = K_MEMFD;
	for (i = 0; i < g->n; i++) {
		c = &g->c[i];
		c->size = size;
		c->ops = SCALE_NR * (size / page_size);
		xfixed(c, "\"procs\":%d", SCALE_NR);
	}
	group_run(g, NULL);
}

/* Main */

static void emit_meta(void)
{
	static const char *const feat[] = {
		"named", "anon", "rdonly", "resize", "seals", "setperm",
		"list", "ipc_ns", "huge", "premap",
	};
	struct shmdev_version ver;
	struct utsname uts;
	char mode[32], clk[64];
	unsigned int i;
	bool first = true;
	int ret;

	uname(&uts);
	ret = shmdev_version(&ver);
	printf("{\"bench\":\"meta\",\"kernel\":");
	json_str(uts.release);
	printf(",\"ncpu\":%ld,\"page_size\":%zu",
	       sysconf(_SC_NPROCESSORS_ONLN), page_size);
	if (ret) {
		printf(",\"huge_page_size\":null,\"shmdev_api\":null"
		       ",\"features\":null,\"shmdev_error\":");
		json_str(strerror(-ret));
	} else {
		printf(",\"huge_page_size\":%" PRIu64 ",\"shmdev_api\":%u"
		       ",\"features\":%" PRIu64 ",\"feature_names\":[",
		       (uint64_t)ver.huge_page_size, ver.api_version,
		       (uint64_t)ver.features);
		for (i = 0; i < ARRAY_SIZE(feat); i++) {
			if (!(ver.features & (1ULL << i)))
				continue;
			printf("%s\"%s\"", first ? "" : ",", feat[i]);
			first = false;
		}
		printf("],\"max_segments\":%u", ver.max_segments);
	}
	printf(",\"libshmdev\":");
	json_str(shmdev_lib_version());
	printf(",\"rounds\":%d,\"quick\":%s,\"syscall_counter\":",
	       opt.rounds, opt.quick ? "true" : "false");
	if (sc_fd >= 0) {
		printf("\"raw_syscalls:sys_enter\",\"syscall_baseline\":%"
		       PRId64, sc_base);
	} else {
		printf("null,\"syscall_counter_error\":");
		json_str(sc_why);
	}
	if (!thp_mode(mode, sizeof(mode))) {
		printf(",\"shmem_enabled\":");
		json_str(mode);
	}
	if (!read_file(CLOCKSOURCE, clk, sizeof(clk))) {
		clk[strcspn(clk, "\n")] = '\0';
		printf(",\"clocksource\":");
		json_str(clk);
	}
	printf("}\n");
	fflush(stdout);
	if (ret)
		note("%s: %s; the shmdev cases will record errors",
		     SHMDEV_DEVICE_PATH, strerror(-ret));
}

static const struct {
	const char *name;
	void (*fn)(void);
} benches[] = {
	{ "populate", bench_populate },
	{ "attach", bench_attach },
	{ "lifecycle", bench_lifecycle },
	{ "namescale", bench_namescale },
	{ "ring", bench_ring },
	{ "manyproc", bench_manyproc },
	{ "swapread", bench_swapread },
	{ "scale", bench_scale },
	{ "sweep", bench_sweep },
};

#define NR_BENCHES	ARRAY_SIZE(benches)

static void __noreturn usage(int status)
{
	unsigned int i;

	fprintf(stderr,
		"usage: shmdev_bench [--rounds N] [--quick] [--only NAME[,NAME...]] BENCH...\n"
		"  BENCH: all");
	for (i = 0; i < NR_BENCHES; i++)
		fprintf(stderr, " %s", benches[i].name);
	fprintf(stderr,
		"\n  --rounds N  rounds per case (default 5, at most %d)\n"
		"  --quick     sizes and counts divided by %d (ring: %d)\n"
		"  --only      only cases whose peer or variant is NAME\n"
		"Writes JSON Lines on stdout; see README.md.\n",
		MAX_ROUNDS, QUICK_DIV, QUICK_DIV_RING);
	exit(status);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "rounds", required_argument, NULL, 'r' },
		{ "quick", no_argument, NULL, 'q' },
		{ "only", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool want[NR_BENCHES] = { false };
	struct shmdev_version ver;
	unsigned int i;
	bool any = false;
	char *end;
	long v;
	int ch;

	while ((ch = getopt_long(argc, argv, "r:qo:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'r':
			v = strtol(optarg, &end, 10);
			if (*end || v < 1 || v > MAX_ROUNDS)
				usage(2);
			opt.rounds = (int)v;
			break;
		case 'q':
			opt.quick = true;
			break;
		case 'o':
			opt.only = optarg;
			break;
		case 'h':
			usage(0);
		default:
			usage(2);
		}
	}
	for (; optind < argc; optind++) {
		bool all = !strcmp(argv[optind], "all"), found = all;

		for (i = 0; i < NR_BENCHES; i++) {
			if (all || !strcmp(argv[optind], benches[i].name)) {
				want[i] = true;
				found = true;
			}
		}
		if (!found) {
			fprintf(stderr, "shmdev_bench: unknown benchmark %s\n",
				argv[optind]);
			usage(2);
		}
		any = true;
	}
	if (!any)
		usage(2);

	page_size = (size_t)sysconf(_SC_PAGESIZE);
	if (!shmdev_version(&ver) && ver.huge_page_size)
		huge_granule = ver.huge_page_size;
	main_pid = getpid();
	install_signals();
	cres = mmap(NULL, NR_RESULTS * sizeof(*cres), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (cres == MAP_FAILED) {
		note("mmap: %s", strerror(errno));
		return 1;
	}
	ctl_fd = shmdev_open_device();
	devshm_ensure();
	sc_init();
	emit_meta();

	for (i = 0; i < NR_BENCHES; i++) {
		if (!want[i])
			continue;
		note("%s", benches[i].name);
		benches[i].fn();
	}

	cleanup_all();
	cleanup_mounts();
	close_fd(&ctl_fd);
	note("done");
	return 0;
}
