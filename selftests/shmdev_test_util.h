/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the kselftest-harness programs (shmdev_test,
 * shmdev_security_test and shmdev_race_test): the users tests switch to,
 * checks in forked children, page counts, race lengths, shmdev_peer, and
 * the common fixture with the names, descriptors and parameters its
 * teardown cleans up. Module parameters, probes and the clock are in
 * shmdev_util.h, which the helpers without the harness share too.
 *
 * Include it (with _GNU_SOURCE defined) in place of kselftest_harness.h.
 * Everything here is static inline so that a program that does not use a
 * helper does not warn about it.
 */
#ifndef SHMDEV_SELFTEST_TEST_UTIL_H
#define SHMDEV_SELFTEST_TEST_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shmdev_util.h"
#include "kselftest_harness.h"

#define PEER_PROG		"shmdev_peer"

#define MAX_NAMES		8	/* names one test may create */
#define MAX_PARAMS		4	/* parameters one test may change */
#define SETTLE_TRIES		300	/* times 10 ms */

/* Race tests run for race_secs() seconds each. */
#define RACE_SECS_DEFAULT	3
#define RACE_SECS_MAX		60
#define RACE_TIMEOUT		(2 * RACE_SECS_MAX + 30)

/* Pattern seeds, also passed as text to shmdev_peer. */
#define SEED_A			0x3c
#define SEED_B			0xc3
#define SEED_C			0x5a
#define __stringify_1(x)	#x
#define __stringify(x)		__stringify_1(x)

static size_t page_size;

/* Users that tests running as root switch to in a child. */
struct creds {
	uid_t uid;
	gid_t gid;
	int ngroups;	/* 0 or 1 */
	gid_t group;	/* supplementary group */
};

/* An ordinary user: the owner in tests that must run without capabilities. */
static const struct creds user_a = { .uid = 1000, .gid = 1000 };

/* Another user, in user_a's group through a supplementary group... */
static const struct creds user_b_in_group = {
	.uid = 1001, .gid = 1002, .ngroups = 1, .group = 1000,
};

/* ...and the same user outside of it. */
static const struct creds user_b = { .uid = 1001, .gid = 1002 };

/*
 * Checks in forked children: report on stderr and exit 1, and the test
 * checks the exit status. The harness macros are not used in children, as a
 * failed ASSERT would unwind into the harness (and its teardown) there.
 */
#define CHILD_CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "# %s:%d: child %d: failed: %s (%s)\n",	\
			__FILE__, __LINE__, getpid(), #cond,		\
			strerror(errno));				\
		_exit(1);						\
	}								\
} while (0)

#define CHILD_CHECK_EQ(want, got) do {					\
	long long __want = (want), __got = (got);			\
									\
	if (__want != __got) {						\
		fprintf(stderr, "# %s:%d: child %d: %s is %lld, not %lld\n", \
			__FILE__, __LINE__, getpid(), #got, __got,	\
			__want);					\
		_exit(1);						\
	}								\
} while (0)

static inline bool all_zero(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/* Seconds each race test runs: SHMDEV_RACE_SECS, or the default. */
static inline unsigned int race_secs(void)
{
	const char *env = getenv("SHMDEV_RACE_SECS");
	long secs = env ? strtol(env, NULL, 10) : RACE_SECS_DEFAULT;

	if (secs < 1)
		return 1;
	return secs > RACE_SECS_MAX ? RACE_SECS_MAX : secs;
}

/* A small xorshift generator, one state per thread. */
static inline uint32_t rnd(uint32_t *state)
{
	uint32_t x = *state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*state = x ? x : 0x9e3779b9;
	return *state;
}

/* Counts an error of a race in *@errors; the first one goes in @what. */
static inline void __attribute__((format(printf, 4, 5)))
record_race_error(int *errors, char *what, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (__atomic_fetch_add(errors, 1, __ATOMIC_SEQ_CST))
		return;
	va_start(ap, fmt);
	vsnprintf(what, len, fmt, ap);
	va_end(ap);
}

/* The same for a race state @r with fields int errors and char what[]. */
#define race_error(r, ...)						\
	record_race_error(&(r)->errors, (r)->what, sizeof((r)->what),	\
			  __VA_ARGS__)

static inline size_t pages_of(uint64_t size)
{
	return (size + page_size - 1) / page_size * page_size;
}

/*
 * Waits for the module's page count to reach @want, since freeing may trail
 * the last unmap a little; returns the last count read.
 */
static inline uint64_t settle_pages(uint64_t want)
{
	uint64_t now = module_pages();
	int i;

	for (i = 0; i < SETTLE_TRIES && now != want; i++) {
		usleep(10000);
		now = module_pages();
	}
	return now;
}

static inline bool dev_open_to_all(void)
{
	struct stat st;

	return !stat(SHMDEV_DEVICE_PATH, &st) && (st.st_mode & 0666) == 0666;
}

/* Why this process cannot run children as other users, or NULL. */
static inline const char *no_other_users(void)
{
	if (geteuid() != 0)
		return "needs root to act as other users";
	if (!dev_open_to_all())
		return SHMDEV_DEVICE_PATH " is not mode 0666";
	return NULL;
}

/*
 * Picks the credentials for a test that must run without capabilities:
 * none for an ordinary user, user_a for root. Returns why it cannot, or NULL.
 */
static inline const char *unprivileged_creds(const struct creds **cr)
{
	*cr = NULL;
	if (geteuid() != 0)
		return NULL;
	*cr = &user_a;
	return no_other_users();
}

/*
 * In a test: points @cr at the credentials of a child that must run
 * without capabilities (see unprivileged_creds()), or skips the test.
 */
#define UNPRIVILEGED_CREDS_OR_SKIP(cr) do {				\
	const char *__reason = unprivileged_creds(&(cr));		\
									\
	if (__reason)							\
		SKIP(return, "%s", __reason);				\
} while (0)

/* Forks a child that takes @cr (if given) and exits with fn(arg). */
static inline pid_t spawn_child(const struct creds *cr, int (*fn)(void *),
				void *arg)
{
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid)
		return pid;
	if (cr && (setgroups(cr->ngroups, &cr->group) || setgid(cr->gid) ||
		   setuid(cr->uid))) {
		fprintf(stderr, "# child: cannot become uid %u: %s\n",
			cr->uid, strerror(errno));
		_exit(2);
	}
	_exit(fn(arg));
}

/* Exit status of child @pid, 128 + signal if it was killed, or -1. */
static inline int wait_child(pid_t pid)
{
	int status;

	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static inline int run_child(const struct creds *cr, int (*fn)(void *),
			    void *arg)
{
	return wait_child(spawn_child(cr, fn, arg));
}

/* Raw wait status of a child that reads or writes one byte at @addr. */
static inline int touch_in_child(volatile uint8_t *addr, bool write)
{
	struct rlimit no_core = { 0, 0 };
	int status;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		setrlimit(RLIMIT_CORE, &no_core);
		if (write)
			*addr = 0x5a;
		else
			(void)*addr;
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

/* shmdev_peer in the directory of this program. */
static inline int peer_path(char *buf, size_t len)
{
	char exe[PATH_MAX], *slash;
	ssize_t n;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -errno;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return -ENOENT;
	*slash = '\0';
	if (snprintf(buf, len, "%s/" PEER_PROG, exe) >= (int)len)
		return -ENAMETOOLONG;
	return access(buf, X_OK) ? -errno : 0;
}

/*
 * Starts shmdev_peer with @argv (argv[0] is PEER_PROG) and its standard
 * output on a pipe, whose read end it puts in *@out. Returns its pid, or
 * -1 with nothing left open.
 */
static inline pid_t spawn_peer(char *const argv[], int *out)
{
	char path[PATH_MAX];
	int pipefd[2];
	pid_t pid;

	if (peer_path(path, sizeof(path)) || pipe2(pipefd, O_CLOEXEC))
		return -1;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		dup2(pipefd[1], STDOUT_FILENO);
		execv(path, argv);
		_exit(127);
	}
	close(pipefd[1]);
	if (pid < 0) {
		close(pipefd[0]);
		return -1;
	}
	*out = pipefd[0];
	return pid;
}

/*
 * Runs shmdev_peer with the NULL-terminated arguments and collects its
 * standard output in @out (if given). Returns its exit status, or -1 if it
 * could not run or did not exit normally.
 */
static inline int __attribute__((sentinel))
run_peer(char *out, size_t outlen, ...)
{
	char sink[256], *argv[8];
	int fd, argc = 0, status;
	size_t used = 0;
	va_list ap;
	pid_t pid;

	argv[argc++] = PEER_PROG;
	va_start(ap, outlen);
	while (argc < 7 && (argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	argv[argc] = NULL;

	pid = spawn_peer(argv, &fd);
	if (pid < 0)
		return -1;
	for (;;) {
		bool keep = out && used + 1 < outlen;
		char *dst = keep ? out + used : sink;
		size_t room = keep ? outlen - used - 1 : sizeof(sink);
		ssize_t n = read(fd, dst, room);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (keep)
			used += n;
	}
	close(fd);
	if (out && outlen)
		out[used] = '\0';
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/*
 * A parent and a forked child taking turns over two pipes: the child says
 * it is ready, the parent tells it to go on (or closes, which also means
 * go on).
 */
struct handshake {
	int ready[2];
	int go[2];
};

static inline int handshake_init(struct handshake *hs)
{
	if (pipe2(hs->ready, O_CLOEXEC))
		return -errno;
	if (pipe2(hs->go, O_CLOEXEC)) {
		close(hs->ready[0]);
		close(hs->ready[1]);
		return -errno;
	}
	return 0;
}

/* In the child: keeps its ends, reports ready and waits; 1 go, 0 closed. */
static inline int handshake_child_wait(struct handshake *hs)
{
	char c;

	close(hs->ready[0]);
	close(hs->go[1]);
	if (write(hs->ready[1], "r", 1) != 1)
		return -1;
	return read(hs->go[0], &c, 1);
}

/* In the parent: keeps its ends and waits for the child; 0 or -1. */
static inline int handshake_parent_wait(struct handshake *hs)
{
	char c;

	close(hs->ready[1]);
	close(hs->go[0]);
	return read(hs->ready[0], &c, 1) == 1 ? 0 : -1;
}

/* In the parent: lets the child go on, by a byte or by closing. */
static inline int handshake_go(struct handshake *hs, bool close_it)
{
	int ret = close_it ? 0 : (write(hs->go[1], "g", 1) == 1 ? 0 : -1);

	close(hs->go[1]);
	close(hs->ready[0]);
	return ret;
}

struct create_arg {
	const char *name;
	uint32_t mode;
};

static inline int create_child(void *data)
{
	struct create_arg *a = data;
	int fd = st_open();

	CHILD_CHECK(fd >= 0);
	CHILD_CHECK_EQ(0, st_create(fd, a->name, page_size, a->mode, NULL));
	return 0;
}

struct attach_expect {
	const char *name;
	int ro;		/* expected result of a read-only attach */
	int rw;		/* expected result of a read-write attach */
};

static inline int attach_expect_child(void *data)
{
	struct attach_expect *e = data;
	struct shmdev_info info;
	int fd;

	fd = st_open();
	CHILD_CHECK(fd >= 0);
	CHILD_CHECK_EQ(e->rw, st_attach(fd, e->name, 0, NULL, NULL));
	/* A refused attach leaves the file unbound. */
	if (e->rw)
		CHILD_CHECK_EQ(-ENODEV, st_info(fd, &info));
	close(fd);

	fd = st_open();
	CHILD_CHECK(fd >= 0);
	CHILD_CHECK_EQ(e->ro, st_attach(fd, e->name, SHMDEV_ATTACH_RDONLY,
					NULL, NULL));
	if (e->ro)
		CHILD_CHECK_EQ(-ENODEV, st_info(fd, &info));
	close(fd);
	return 0;
}

FIXTURE(shmdev) {
	int fd;		/* an unbound /dev/shmdev file */
	int nr_names;
	/* Names the test may create, unlinked by the teardown. */
	char names[MAX_NAMES][SHMDEV_NAME_MAX];
	/* Names "<bulk_prefix>-<i>", i < nr_bulk, also unlinked. */
	char bulk_prefix[SHMDEV_NAME_MAX / 2];
	int nr_bulk;
	/* Module parameters the test changed, restored by the teardown. */
	int nr_params;
	struct {
		const char *name;
		uint64_t val;
	} params[MAX_PARAMS];
};

FIXTURE_SETUP(shmdev)
{
	uint64_t pages;

	self->fd = -1;
	self->nr_names = 0;
	self->nr_bulk = 0;
	self->nr_params = 0;
	page_size = sysconf(_SC_PAGESIZE);
	if (access(SHMDEV_DEVICE_PATH, F_OK))
		SKIP(return, SHMDEV_DEVICE_PATH " not found: no module");
	self->fd = st_open();
	ASSERT_LE(0, self->fd)
		TH_LOG("open " SHMDEV_DEVICE_PATH ": %s", strerror(-self->fd));
	ASSERT_EQ(0, read_param("nr_pages", &pages))
		TH_LOG("cannot read " PARAM_DIR "/nr_pages");
}

/* Name @i of the test's bulk names, in @buf. */
static inline const char *bulk_name(FIXTURE_DATA(shmdev) *self, int i,
				    char buf[SHMDEV_NAME_MAX])
{
	snprintf(buf, SHMDEV_NAME_MAX, "%s-%d", self->bulk_prefix, i);
	return buf;
}

FIXTURE_TEARDOWN(shmdev)
{
	char name[SHMDEV_NAME_MAX];
	int fd, i;

	if (self->fd >= 0)
		close(self->fd);
	/* In reverse, so that the first value saved is the one left. */
	for (i = self->nr_params - 1; i >= 0; i--)
		if (write_param(self->params[i].name, self->params[i].val))
			TH_LOG("cannot restore %s", self->params[i].name);
	fd = st_open();
	if (fd < 0)
		return;
	/* Most are gone already; as root this also removes other users'. */
	for (i = 0; i < self->nr_names; i++)
		st_unlink(fd, self->names[i]);
	for (i = 0; i < self->nr_bulk; i++)
		st_unlink(fd, bulk_name(self, i, name));
	close(fd);
}

/*
 * Sets module parameter @param to @val for the rest of the test; the
 * teardown restores the value it had. 0 or -errno.
 */
static inline int set_param(FIXTURE_DATA(shmdev) *self, const char *param,
			    uint64_t val)
{
	uint64_t old;
	int ret;

	if (self->nr_params == MAX_PARAMS)
		abort();
	ret = read_param(param, &old);
	if (ret)
		return ret;
	ret = write_param(param, val);
	if (ret)
		return ret;
	self->params[self->nr_params].name = param;
	self->params[self->nr_params].val = old;
	self->nr_params++;
	return 0;
}

/*
 * Makes room for @count bulk names, which the teardown unlinks; returns
 * the prefix they share.
 */
static inline void reserve_bulk_names(FIXTURE_DATA(shmdev) *self, int count)
{
	snprintf(self->bulk_prefix, sizeof(self->bulk_prefix), "stb-%d",
		 getpid());
	self->nr_bulk = count;
}

/*
 * A segment name unique to this test, which the teardown unlinks; padded
 * with 'x' up to @len characters.
 */
static inline const char *new_long_name(FIXTURE_DATA(shmdev) *self, size_t len)
{
	static unsigned int counter;
	char *name;
	size_t n;

	if (self->nr_names == MAX_NAMES)
		abort();
	name = self->names[self->nr_names++];
	n = snprintf(name, SHMDEV_NAME_MAX, "st-%d-%u", getpid(), counter++);
	while (n < len && n < SHMDEV_NAME_MAX - 1)
		name[n++] = 'x';
	name[n] = '\0';
	return name;
}

static inline const char *new_name(FIXTURE_DATA(shmdev) *self)
{
	return new_long_name(self, 0);
}

/* A new file bound to a new segment @name ("" for anonymous). */
static inline int create_on_new_fd(struct __test_metadata *_metadata,
			    const char *name, uint64_t size, uint32_t mode)
{
	int fd = st_open();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, st_create(fd, name, size, mode, NULL));
	return fd;
}

/* A new file attached to segment @name. */
static inline int attach_on_new_fd(struct __test_metadata *_metadata,
			    const char *name, uint32_t flags)
{
	int fd = st_open();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, st_attach(fd, name, flags, NULL, NULL));
	return fd;
}

/* Creates @name on self->fd and maps all of it, read-write and shared. */
static inline uint8_t *create_and_map(struct __test_metadata *_metadata,
			       FIXTURE_DATA(shmdev) *self,
			       const char *name, uint64_t size)
{
	void *p;

	ASSERT_EQ(0, st_create(self->fd, name, size, 0600, NULL));
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, p) TH_LOG("mmap: %s", strerror(errno));
	return p;
}

static inline void init_create(struct shmdev_create *arg, const char *name,
			uint64_t size, uint32_t mode)
{
	memset(arg, 0, sizeof(*arg));
	st_set_name(arg->name, name);
	arg->size = size;
	arg->mode = mode;
}

static inline void init_attach(struct shmdev_attach *arg, const char *name,
			uint32_t flags)
{
	memset(arg, 0, sizeof(*arg));
	st_set_name(arg->name, name);
	arg->flags = flags;
}

/* The segment @name still exists and can be attached. */
static inline void check_name_exists(struct __test_metadata *_metadata,
			      const char *name)
{
	int fd = st_open();

	ASSERT_LE(0, fd);
	EXPECT_EQ(0, st_attach(fd, name, SHMDEV_ATTACH_RDONLY, NULL, NULL));
	close(fd);
}

/*
 * main() of a test program: lists or runs the tests; without the module,
 * skips them all (exit 4) after a TAP header.
 */
static inline int shmdev_harness_main(int argc, char **argv)
{
	int i;

	page_size = sysconf(_SC_PAGESIZE);
	for (i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-l") || !strcmp(argv[i], "-h"))
			return test_harness_run(argc, argv);
	if (access(SHMDEV_DEVICE_PATH, F_OK)) {
		ksft_print_header();
		ksft_exit_skip(SHMDEV_DEVICE_PATH
			       " not found: is the shmdev module loaded?\n");
	}
	return test_harness_run(argc, argv);
}

#endif /* SHMDEV_SELFTEST_TEST_UTIL_H */
