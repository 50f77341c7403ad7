// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Tests of the libshmdev segment API: every function's success and error
 * paths, against the module (the tests that need /dev/shmdev skip without
 * it) and, for the helpers that need no kernel, on their own.
 *
 * Run as root and as an ordinary user: tests that switch users (EACCES,
 * EPERM, listing as someone else) need root and fork a child that takes
 * uid 1000 or 1001. Tests of RESIZE, seals, SETPERM and LIST skip when the
 * module does not report the feature bit.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libshmdev.h>

#include "kselftest_harness.h"

#ifndef EXPECTED_VERSION
#error "EXPECTED_VERSION must name the library version (from VERSION)"
#endif

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

#define MAX_NAMES	8
#define MANY		300	/* segments for the LIST paging test */
#define RACE_PROCS	4
#define RACE_LOOPS	200

#define USER_A		1000
#define USER_B		1001

static size_t ps;

/* Checks in forked children: report and _exit(1); the test checks status. */
#define CHILD_CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "# %s:%d: child %d: failed: %s\n",	\
			__FILE__, __LINE__, getpid(), #cond);		\
		_exit(1);						\
	}								\
} while (0)

#define CHILD_CHECK_EQ(want, got) do {					\
	long long __w = (want), __g = (got);				\
									\
	if (__w != __g) {						\
		fprintf(stderr, "# %s:%d: child %d: %s is %lld, not %lld\n", \
			__FILE__, __LINE__, getpid(), #got, __g, __w);	\
		_exit(1);						\
	}								\
} while (0)

static bool have_device(void)
{
	return access(SHMDEV_DEVICE_PATH, F_OK) == 0;
}

static uint64_t features(void)
{
	struct shmdev_version v;

	return shmdev_version(&v) ? 0 : v.features;
}

/* Number of open file descriptors of this process. */
static int count_fds(void)
{
	struct dirent *de;
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* the directory's own fd */
}

/* Forks a child that becomes @uid (if not 0) and exits with fn(arg). */
static int run_as(uid_t uid, int (*fn)(void *), void *arg)
{
	int status;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		if (uid && (setgroups(0, NULL) || setgid(uid) || setuid(uid))) {
			fprintf(stderr, "# child: cannot become %u: %s\n",
				uid, strerror(errno));
			_exit(2);
		}
		_exit(fn(arg));
	}
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/* Whether a read of @addr in a child dies of SIGBUS. */
static bool read_sigbus(volatile const char *addr)
{
	struct rlimit no_core = { 0, 0 };
	int status;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (!pid) {
		setrlimit(RLIMIT_CORE, &no_core);
		(void)*addr;
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return false;
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS;
}

static void fill(char *p, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (char)(i * 31 + seed);
}

static bool check(const char *p, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != (char)(i * 31 + seed))
			return false;
	return true;
}

/* ------------------------------------------------------------------ */
/* Helpers that need no module. */

TEST(check_name_accepts_valid_names)
{
	char name[SHMDEV_NAME_MAX];
	int c;

	EXPECT_EQ(0, shmdev_check_name("a"));
	EXPECT_EQ(0, shmdev_check_name("frames.0-x_y:z@1"));
	memset(name, 'n', SHMDEV_NAME_MAX - 1);
	name[SHMDEV_NAME_MAX - 1] = '\0';
	EXPECT_EQ(0, shmdev_check_name(name));
	for (c = 0x21; c <= 0x7e; c++) {
		char one[2] = { (char)c, 0 };

		EXPECT_EQ(c == '/' ? -EINVAL : 0, shmdev_check_name(one))
			TH_LOG("character 0x%02x", c);
	}
}

TEST(check_name_rejects_bad_names)
{
	EXPECT_EQ(-EINVAL, shmdev_check_name(NULL));
	EXPECT_EQ(-EINVAL, shmdev_check_name(""));
	EXPECT_EQ(-EINVAL, shmdev_check_name("a b"));
	EXPECT_EQ(-EINVAL, shmdev_check_name("a/b"));
	EXPECT_EQ(-EINVAL, shmdev_check_name("/"));
	EXPECT_EQ(-EINVAL, shmdev_check_name("tab\there"));
	EXPECT_EQ(-EINVAL, shmdev_check_name("nl\n"));
	EXPECT_EQ(-EINVAL, shmdev_check_name("del\x7f"));
	EXPECT_EQ(-EINVAL, shmdev_check_name("high\x80"));
	EXPECT_EQ(-EINVAL, shmdev_check_name("\xff"));
}

TEST(check_name_rejects_64_bytes_with_enametoolong)
{
	char name[SHMDEV_NAME_MAX + 1];

	memset(name, 'n', SHMDEV_NAME_MAX);
	name[SHMDEV_NAME_MAX] = '\0';
	EXPECT_EQ(-ENAMETOOLONG, shmdev_check_name(name));
	/* Length is checked first, as the kernel does. */
	name[3] = '/';
	EXPECT_EQ(-ENAMETOOLONG, shmdev_check_name(name));
}

TEST(parse_size_accepts_numbers_and_suffixes)
{
	static const struct {
		const char *s;
		uint64_t v;
	} ok[] = {
		{ "0", 0 }, { "1", 1 }, { "4096", 4096 }, { "007", 7 },
		{ "64K", 64ULL << 10 }, { "64k", 64ULL << 10 },
		{ "1M", 1ULL << 20 }, { "2G", 2ULL << 30 }, { "3T", 3ULL << 40 },
		{ "1P", 1ULL << 50 }, { "15E", 15ULL << 60 },
		{ "4KiB", 4096 }, { "4KB", 4096 }, { "1mib", 0 },
		{ "18446744073709551615", UINT64_MAX },
		{ "17179869183G", 17179869183ULL << 30 },
	};
	uint64_t v;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(ok); i++) {
		v = 12345;
		if (!strcmp(ok[i].s, "1mib")) {
			/* "iB" is case-sensitive: "mib" is not a unit. */
			EXPECT_EQ(-EINVAL, shmdev_parse_size(ok[i].s, &v));
			continue;
		}
		EXPECT_EQ(0, shmdev_parse_size(ok[i].s, &v)) TH_LOG("%s", ok[i].s);
		EXPECT_EQ(ok[i].v, v) TH_LOG("%s", ok[i].s);
	}
}

TEST(parse_size_rejects_bad_syntax)
{
	static const char *const bad[] = {
		"", "K", "-1", "+1", " 1", "1 ", "1KK", "1X", "0x10", "1.5M",
		"1K ", "1iB", "1B", "1Ki", "1KiBB", "1e3", "１",
	};
	uint64_t v = 777;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		const char *s = bad[i];

		EXPECT_EQ(-EINVAL, shmdev_parse_size(s, &v))
			TH_LOG("input #%zu", i);
	}
	EXPECT_EQ(777, v);
	EXPECT_EQ(-EINVAL, shmdev_parse_size(NULL, &v));
	EXPECT_EQ(-EINVAL, shmdev_parse_size("1", NULL));
}

TEST(parse_size_rejects_overflow_with_erange)
{
	uint64_t v = 777;

	EXPECT_EQ(-ERANGE, shmdev_parse_size("18446744073709551616", &v));
	EXPECT_EQ(-ERANGE, shmdev_parse_size("99999999999999999999999", &v));
	EXPECT_EQ(-ERANGE, shmdev_parse_size("16E", &v));
	EXPECT_EQ(-ERANGE, shmdev_parse_size("17179869184G", &v));
	EXPECT_EQ(-ERANGE, shmdev_parse_size("16777216T", &v));
	EXPECT_EQ(777, v);
}

TEST(lib_version_matches_version_file)
{
	EXPECT_STREQ(EXPECTED_VERSION, shmdev_lib_version());
}

/* ------------------------------------------------------------------ */
/* Unix socket fd passing (works on any fd). */

TEST(recv_fd_reports_closed_peer_with_epipe)
{
	int sv[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	close(sv[1]);
	EXPECT_EQ(-EPIPE, shmdev_recv_fd(sv[0]));
	close(sv[0]);
}

TEST(recv_fd_rejects_message_without_fd)
{
	int sv[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	ASSERT_EQ(1, write(sv[1], "S", 1));
	EXPECT_EQ(-EBADMSG, shmdev_recv_fd(sv[0]));
	close(sv[0]);
	close(sv[1]);
}

TEST(send_fd_rejects_bad_fd_and_non_socket)
{
	int sv[2], p[2];

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	EXPECT_EQ(-EBADF, shmdev_send_fd(sv[0], -1));
	EXPECT_EQ(-EBADF, shmdev_send_fd(sv[0], 9999));
	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	EXPECT_EQ(-ENOTSOCK, shmdev_send_fd(p[1], sv[0]));
	EXPECT_EQ(-ENOTSOCK, shmdev_recv_fd(p[0]));
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
}

TEST(recv_fd_is_cloexec)
{
	int sv[2], fd;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv));
	ASSERT_EQ(0, shmdev_send_fd(sv[1], STDERR_FILENO));
	fd = shmdev_recv_fd(sv[0]);
	ASSERT_LE(0, fd);
	EXPECT_TRUE(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
	close(sv[0]);
	close(sv[1]);
}

TEST(unmap_rejects_null_and_zero_length)
{
	EXPECT_EQ(-EINVAL, shmdev_unmap(NULL, 4096));
	EXPECT_EQ(-EINVAL, shmdev_unmap((void *)4096, 0));
}

/* ------------------------------------------------------------------ */
/* With the module. */

/*
 * Without the module, every call that opens the device says so with
 * ENODEV, which no segment operation returns for a missing name (ENOENT).
 */
static int no_device_child(void *arg)
{
	struct shmdev_version ver;
	struct shmdev_info *v;
	size_t n;

	(void)arg;
	CHILD_CHECK_EQ(-ENODEV, shmdev_open_device());
	CHILD_CHECK_EQ(-ENODEV, shmdev_version(&ver));
	CHILD_CHECK_EQ(-ENODEV, shmdev_attach("libt-no-device", 0));
	CHILD_CHECK_EQ(-ENODEV, shmdev_attach("libt-no-device",
					      SHMDEV_ATTACH_RDONLY));
	CHILD_CHECK_EQ(-ENODEV, shmdev_create("libt-no-device", 4096, 0600,
					      0));
	CHILD_CHECK_EQ(-ENODEV, shmdev_create(NULL, 4096, 0600, 0));
	CHILD_CHECK_EQ(-ENODEV, shmdev_open_or_create("libt-no-device", 4096,
						      0600, NULL));
	CHILD_CHECK_EQ(-ENODEV, shmdev_unlink("libt-no-device"));
	CHILD_CHECK_EQ(-ENODEV, shmdev_chmod("libt-no-device", 0600));
	CHILD_CHECK_EQ(-ENODEV, shmdev_list(&v, &n));
	return 0;
}

/* In a mount namespace of its own, /dev without shmdev: no_device_child. */
static int hidden_device_child(void *arg)
{
	CHILD_CHECK(!unshare(CLONE_NEWNS));
	CHILD_CHECK(!mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
	CHILD_CHECK(!mount("none", "/dev", "tmpfs", 0, "mode=0755"));
	return no_device_child(arg);
}

TEST(missing_device_is_enodev_not_enoent)
{
	if (!have_device()) {
		EXPECT_EQ(0, run_as(0, no_device_child, NULL));
		return;
	}
	if (geteuid())
		SKIP(return, "the module is loaded, and hiding it needs root");
	EXPECT_EQ(0, run_as(0, hidden_device_child, NULL));
}

FIXTURE(seg) {
	int nr_names;
	char names[MAX_NAMES][SHMDEV_NAME_MAX];
	uint64_t features;
};

FIXTURE_SETUP(seg)
{
	self->nr_names = 0;
	ps = sysconf(_SC_PAGESIZE);
	if (!have_device())
		SKIP(return, SHMDEV_DEVICE_PATH " not found: no module");
	self->features = features();
}

FIXTURE_TEARDOWN(seg)
{
	int i;

	for (i = 0; i < self->nr_names; i++)
		shmdev_unlink(self->names[i]);
}

/* A name unique to this test and process, unlinked by the teardown. */
static const char *new_name(FIXTURE_DATA(seg) *self, const char *tag)
{
	char *name = self->names[self->nr_names++];

	snprintf(name, SHMDEV_NAME_MAX, "libt-%d-%s", getpid(), tag);
	shmdev_unlink(name);
	return name;
}

/* Creates the segment @name (NULL: anonymous); the test fails without it. */
static int create_seg(struct __test_metadata *_metadata, const char *name,
		      uint64_t size, unsigned int mode)
{
	int fd = shmdev_create(name, size, mode, 0);

	ASSERT_LE(0, fd) TH_LOG("%s", strerror(-fd));
	return fd;
}

/* Maps all of @fd shared and read-write; the test fails if it cannot. */
static char *map_shared_rw(struct __test_metadata *_metadata, int fd,
			   size_t *len)
{
	char *p = shmdev_map(fd, PROT_READ | PROT_WRITE, MAP_SHARED, len);

	ASSERT_NE(NULL, p);
	return p;
}

/* A write seal refuses new shared writable mappings of @fd. */
static void expect_no_shared_rw_map(struct __test_metadata *_metadata,
				    int fd)
{
	size_t len;

	errno = 0;
	EXPECT_EQ(NULL, shmdev_map(fd, PROT_READ | PROT_WRITE, MAP_SHARED,
				   &len));
	EXPECT_TRUE(errno == EPERM || errno == EACCES) TH_LOG("errno %d", errno);
}

#define NEED_FEATURE(bit) do {						\
	if (!(self->features & (bit)))					\
		SKIP(return, "module lacks " #bit);			\
} while (0)

#define NEED_ROOT() do {						\
	if (geteuid())							\
		SKIP(return, "needs root to switch users");		\
} while (0)

TEST_F(seg, version_reports_api_and_features)
{
	struct shmdev_version v;

	memset(&v, 0xff, sizeof(v));
	ASSERT_EQ(0, shmdev_version(&v));
	EXPECT_LE(1, v.api_version);
	EXPECT_TRUE(v.features & SHMDEV_FEAT_NAMED);
	EXPECT_LT(0, v.max_segment_size);
	EXPECT_EQ(0, v.pad);
	EXPECT_EQ(-EINVAL, shmdev_version(NULL));
}

TEST_F(seg, open_device_gives_unbound_cloexec_fd)
{
	struct shmdev_info info;
	int fd = shmdev_open_device();

	ASSERT_LE(0, fd);
	EXPECT_TRUE(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(-ENODEV, shmdev_info(fd, &info));
	errno = 0;
	EXPECT_EQ(NULL, shmdev_map(fd, PROT_READ, MAP_SHARED, NULL));
	EXPECT_EQ(ENODEV, errno);
	close(fd);
}

/*
 * A device node everyone may read and nobody else write (as a udev rule
 * "0664, group shmdev" looks to users outside the group): the library
 * falls back to a read-only device file for what one may do with it.
 */
static int readonly_node_child(void *arg)
{
	const char *name = arg;
	const char *node = "/tmp/shmdev";
	struct shmdev_version ver;
	struct shmdev_info *v;
	struct stat st;
	size_t n, i;
	bool found = false;
	int fd;

	CHILD_CHECK(!stat(SHMDEV_DEVICE_PATH, &st));
	CHILD_CHECK(!unshare(CLONE_NEWNS));
	CHILD_CHECK(!mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
	/* A /tmp of this namespace's own, for the node. */
	CHILD_CHECK(!mount("none", "/tmp", "tmpfs", 0, "mode=0755"));
	CHILD_CHECK(!mknod(node, S_IFCHR | 0444, st.st_rdev));
	CHILD_CHECK(!chmod(node, 0444));
	CHILD_CHECK(!mount(node, SHMDEV_DEVICE_PATH, NULL, MS_BIND, NULL));
	CHILD_CHECK(!setgroups(0, NULL) && !setgid(USER_A) && !setuid(USER_A));

	CHILD_CHECK_EQ(-EACCES, shmdev_open_device());
	CHILD_CHECK_EQ(0, shmdev_version(&ver));
	fd = shmdev_attach(name, SHMDEV_ATTACH_RDONLY);
	CHILD_CHECK(fd >= 0);
	close(fd);
	CHILD_CHECK_EQ(-EACCES, shmdev_attach(name, 0));
	CHILD_CHECK_EQ(-EACCES, shmdev_create("libt-ro-node", 4096, 0600, 0));
	CHILD_CHECK_EQ(-EACCES, shmdev_unlink(name));
	CHILD_CHECK_EQ(0, shmdev_list(&v, &n));
	for (i = 0; i < n; i++)
		found |= !strncmp(v[i].name, name, SHMDEV_NAME_MAX);
	free(v);
	CHILD_CHECK(found);
	return 0;
}

TEST_F(seg, readonly_device_node_serves_readers)
{
	const char *name = new_name(self, "ronode");
	int fd;

	NEED_FEATURE(SHMDEV_FEAT_DEV_ACCESS);
	NEED_ROOT();
	fd = create_seg(_metadata, name, ps, 0644);
	EXPECT_EQ(0, run_as(0, readonly_node_child, (void *)name));
	close(fd);
}

TEST_F(seg, stat_list_stat_and_unlink_if_unused)
{
	const char *name = new_name(self, "stat");
	struct shmdev_stat st, *v = NULL;
	size_t n = 0, i;
	bool found = false;
	int fd;

	NEED_FEATURE(SHMDEV_FEAT_STAT);
	fd = create_seg(_metadata, name, ps, 0600);
	ASSERT_EQ(0, shmdev_stat(fd, &st));
	EXPECT_EQ(getpid(), st.cpid);
	EXPECT_STREQ(name, st.name);
	EXPECT_LT(0, st.crtime);
	EXPECT_EQ(-EINVAL, shmdev_stat(fd, NULL));
	ASSERT_EQ(0, shmdev_list_stat(&v, &n));
	for (i = 0; i < n; i++) {
		if (v[i].id != st.id)
			continue;
		found = true;
		EXPECT_STREQ(name, v[i].name);
		EXPECT_EQ(st.crtime, v[i].crtime);
		EXPECT_EQ(1, v[i].nr_files);
	}
	free(v);
	EXPECT_TRUE(found);
	EXPECT_EQ(-EBUSY, shmdev_unlink_flags(name, SHMDEV_UNLINK_IF_UNUSED));
	close(fd);
	EXPECT_EQ(0, shmdev_unlink_flags(name, SHMDEV_UNLINK_IF_UNUSED));
	EXPECT_EQ(-ENOENT, shmdev_unlink_flags(name, 0));
	EXPECT_EQ(-EINVAL, shmdev_unlink_flags(name, 1U << 7));
}

TEST_F(seg, create_named_returns_bound_fd)
{
	const char *name = new_name(self, "c");
	struct shmdev_info info;
	int fd;

	fd = create_seg(_metadata, name, 3 * ps + 1, 0640);
	EXPECT_TRUE(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	ASSERT_EQ(0, shmdev_info(fd, &info));
	EXPECT_STREQ(name, info.name);
	EXPECT_EQ(3 * ps + 1, info.size);
	EXPECT_EQ(0640, info.mode);
	EXPECT_EQ(geteuid(), info.uid);
	EXPECT_EQ(getegid(), info.gid);
	EXPECT_EQ(1, info.nr_files);
	EXPECT_EQ(0, info.flags & (SHMDEV_INFO_ANON | SHMDEV_INFO_RDONLY));
	EXPECT_NE(0, info.id);
	close(fd);
}

TEST_F(seg, create_anonymous_with_null_or_empty_name)
{
	struct shmdev_info a, b;
	int fd1, fd2;

	fd1 = create_seg(_metadata, NULL, ps, 0600);
	fd2 = create_seg(_metadata, "", ps, 0600);
	ASSERT_EQ(0, shmdev_info(fd1, &a));
	ASSERT_EQ(0, shmdev_info(fd2, &b));
	EXPECT_TRUE(a.flags & SHMDEV_INFO_ANON);
	EXPECT_TRUE(b.flags & SHMDEV_INFO_ANON);
	EXPECT_STREQ("", a.name);
	EXPECT_NE(a.id, b.id);
	close(fd1);
	close(fd2);
}

TEST_F(seg, create_existing_name_fails_with_eexist)
{
	const char *name = new_name(self, "x");
	int fd, fd2;

	fd = create_seg(_metadata, name, ps, 0600);
	fd2 = shmdev_create(name, ps, 0600, 0);
	EXPECT_EQ(-EEXIST, fd2);
	close(fd);
}

TEST_F(seg, create_rejects_bad_arguments)
{
	char longname[SHMDEV_NAME_MAX + 1];

	memset(longname, 'l', SHMDEV_NAME_MAX);
	longname[SHMDEV_NAME_MAX] = '\0';
	EXPECT_EQ(-EINVAL, shmdev_create("a/b", ps, 0600, 0));
	EXPECT_EQ(-EINVAL, shmdev_create("a b", ps, 0600, 0));
	EXPECT_EQ(-ENAMETOOLONG, shmdev_create(longname, ps, 0600, 0));
	EXPECT_EQ(-EINVAL, shmdev_create(new_name(self, "z"), 0, 0600, 0));
	EXPECT_EQ(-EINVAL, shmdev_create(new_name(self, "m"), ps, 01000, 0));
	EXPECT_EQ(-EINVAL, shmdev_create(new_name(self, "f"), ps, 0600, 1));
}

TEST_F(seg, failed_calls_leak_no_fd)
{
	const char *name = new_name(self, "leak");
	int before, fd;

	fd = create_seg(_metadata, name, ps, 0600);
	before = count_fds();
	EXPECT_EQ(-EEXIST, shmdev_create(name, ps, 0600, 0));
	EXPECT_EQ(-EINVAL, shmdev_create(NULL, 0, 0600, 0));
	EXPECT_EQ(-ENOENT, shmdev_attach("libt-no-such-name", 0));
	EXPECT_EQ(-ENOENT, shmdev_unlink("libt-no-such-name"));
	EXPECT_EQ(-EINVAL, shmdev_attach(name, 0x80));
	EXPECT_EQ(before, count_fds());
	close(fd);
}

TEST_F(seg, create_at_and_attach_at_leave_devfd_unbound)
{
	const char *name = new_name(self, "at");
	struct shmdev_info info;
	int dev, fd, fd2, before, pfd[2];
	size_t len;
	char *p, *q;

	NEED_FEATURE(SHMDEV_FEAT_NEWFD);
	dev = shmdev_open_device();
	ASSERT_LE(0, dev);
	fd = shmdev_create_at(dev, name, 2 * ps, 0600, 0);
	ASSERT_LE(0, fd) TH_LOG("%s", strerror(-fd));
	EXPECT_TRUE(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(-ENODEV, shmdev_info(dev, &info));
	p = map_shared_rw(_metadata, fd, &len);
	strcpy(p, "through one device file");

	fd2 = shmdev_attach_at(dev, name, SHMDEV_ATTACH_RDONLY);
	ASSERT_LE(0, fd2) TH_LOG("%s", strerror(-fd2));
	ASSERT_EQ(0, shmdev_info(fd2, &info));
	EXPECT_TRUE(info.flags & SHMDEV_INFO_RDONLY);
	EXPECT_EQ(2, info.nr_files);
	q = shmdev_map(fd2, PROT_READ, MAP_SHARED, &len);
	ASSERT_NE(NULL, q);
	EXPECT_STREQ("through one device file", q);

	/* Failures return no descriptor; the library's own calls refuse NEWFD. */
	ASSERT_EQ(0, pipe(pfd));
	before = count_fds();
	EXPECT_EQ(-EEXIST, shmdev_create_at(dev, name, ps, 0600, 0));
	EXPECT_EQ(-ENOENT, shmdev_attach_at(dev, "libt-no-such-name", 0));
	EXPECT_EQ(-ENOTTY, shmdev_create_at(pfd[0], NULL, ps, 0600, 0));
	EXPECT_EQ(-EINVAL, shmdev_create(NULL, ps, 0600, SHMDEV_CREATE_NEWFD));
	EXPECT_EQ(-EINVAL, shmdev_attach(name, SHMDEV_ATTACH_NEWFD));
	EXPECT_EQ(before, count_fds());

	close(pfd[0]);
	close(pfd[1]);
	shmdev_unmap(q, len);
	shmdev_unmap(p, len);
	close(fd2);
	close(fd);
	close(dev);
}

TEST_F(seg, attach_missing_name_fails_with_enoent)
{
	EXPECT_EQ(-ENOENT, shmdev_attach(new_name(self, "none"), 0));
	EXPECT_EQ(-ENOENT, shmdev_attach(new_name(self, "none2"),
					 SHMDEV_ATTACH_RDONLY));
	EXPECT_EQ(-EINVAL, shmdev_attach(NULL, 0));
	EXPECT_EQ(-EINVAL, shmdev_attach("", 0));
}

TEST_F(seg, attach_sees_creators_data)
{
	const char *name = new_name(self, "share");
	struct shmdev_info a, b;
	size_t len1, len2;
	char *p, *q;
	int fd1, fd2;

	fd1 = create_seg(_metadata, name, 2 * ps, 0600);
	p = map_shared_rw(_metadata, fd1, &len1);
	EXPECT_EQ(2 * ps, len1);
	fill(p, len1, 7);
	fd2 = shmdev_attach(name, 0);
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, shmdev_info(fd1, &a));
	ASSERT_EQ(0, shmdev_info(fd2, &b));
	EXPECT_EQ(a.id, b.id);
	EXPECT_EQ(2, b.nr_files);
	q = shmdev_map(fd2, PROT_READ, MAP_SHARED, &len2);
	ASSERT_NE(NULL, q);
	EXPECT_EQ(len1, len2);
	EXPECT_TRUE(check(q, len2, 7));
	ASSERT_EQ(0, shmdev_info(fd1, &a));
	EXPECT_EQ(2, a.nr_maps);
	EXPECT_EQ(0, shmdev_unmap(p, len1));
	EXPECT_EQ(0, shmdev_unmap(q, len2));
	close(fd1);
	close(fd2);
}

TEST_F(seg, attach_readonly_refuses_writable_shared_map)
{
	const char *name = new_name(self, "ro");
	struct shmdev_info info;
	size_t len;
	char *p;
	int fd, ro;

	fd = create_seg(_metadata, name, ps, 0600);
	ro = shmdev_attach(name, SHMDEV_ATTACH_RDONLY);
	ASSERT_LE(0, ro);
	ASSERT_EQ(0, shmdev_info(ro, &info));
	EXPECT_TRUE(info.flags & SHMDEV_INFO_RDONLY);
	errno = 0;
	EXPECT_EQ(NULL, shmdev_map(ro, PROT_READ | PROT_WRITE, MAP_SHARED,
				   &len));
	EXPECT_EQ(EACCES, errno);
	p = shmdev_map(ro, PROT_READ, MAP_SHARED, &len);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(-EACCES, mprotect(p, len, PROT_READ | PROT_WRITE) ? -errno : 0);
	EXPECT_EQ(0, shmdev_unmap(p, len));
	/* A private copy-on-write mapping may be written. */
	p = shmdev_map(ro, PROT_READ | PROT_WRITE, MAP_PRIVATE, &len);
	ASSERT_NE(NULL, p);
	p[0] = 1;
	EXPECT_EQ(0, shmdev_unmap(p, len));
	close(ro);
	close(fd);
}

static int attach_rw_as_child(void *arg)
{
	const char *name = arg;
	int fd;

	fd = shmdev_attach(name, 0);
	CHILD_CHECK_EQ(-EACCES, fd);
	fd = shmdev_attach(name, SHMDEV_ATTACH_RDONLY);
	CHILD_CHECK(fd >= 0);
	close(fd);
	return 0;
}

static int attach_none_as_child(void *arg)
{
	const char *name = arg;

	CHILD_CHECK_EQ(-EACCES, shmdev_attach(name, SHMDEV_ATTACH_RDONLY));
	CHILD_CHECK_EQ(-EACCES, shmdev_attach(name, 0));
	return 0;
}

TEST_F(seg, attach_by_other_user_follows_mode)
{
	const char *name = new_name(self, "perm");
	int fd;

	NEED_ROOT();
	fd = create_seg(_metadata, name, ps, 0600);
	EXPECT_EQ(0, run_as(USER_A, attach_none_as_child, (void *)name));
	close(fd);
	EXPECT_EQ(0, shmdev_unlink(name));
	fd = create_seg(_metadata, name, ps, 0644);
	EXPECT_EQ(0, run_as(USER_A, attach_rw_as_child, (void *)name));
	close(fd);
}

TEST_F(seg, open_or_create_creates_then_attaches)
{
	const char *name = new_name(self, "ooc");
	struct shmdev_info a, b;
	int fd1, fd2, created = -1;

	fd1 = shmdev_open_or_create(name, 2 * ps, 0600, &created);
	ASSERT_LE(0, fd1);
	EXPECT_EQ(1, created);
	fd2 = shmdev_open_or_create(name, 5 * ps, 0600, &created);
	ASSERT_LE(0, fd2);
	EXPECT_EQ(0, created);
	ASSERT_EQ(0, shmdev_info(fd1, &a));
	ASSERT_EQ(0, shmdev_info(fd2, &b));
	EXPECT_EQ(a.id, b.id);
	EXPECT_EQ(2 * ps, b.size);	/* an existing segment keeps its size */
	EXPECT_EQ(0, b.flags & SHMDEV_INFO_RDONLY);
	close(fd1);
	close(fd2);
	/* created may be NULL. */
	fd1 = shmdev_open_or_create(name, ps, 0600, NULL);
	ASSERT_LE(0, fd1);
	close(fd1);
}

TEST_F(seg, open_or_create_rejects_anonymous_and_bad_names)
{
	EXPECT_EQ(-EINVAL, shmdev_open_or_create(NULL, ps, 0600, NULL));
	EXPECT_EQ(-EINVAL, shmdev_open_or_create("", ps, 0600, NULL));
	EXPECT_EQ(-EINVAL, shmdev_open_or_create("a/b", ps, 0600, NULL));
	EXPECT_EQ(-EINVAL, shmdev_open_or_create(new_name(self, "s0"), 0,
						 0600, NULL));
}

static int ooc_race_child(void *arg)
{
	const char *name = arg;
	int i, fd, ret;

	for (i = 0; i < RACE_LOOPS; i++) {
		fd = shmdev_open_or_create(name, 4096, 0600, NULL);
		CHILD_CHECK_EQ(1, fd >= 0);
		close(fd);
		ret = shmdev_unlink(name);
		CHILD_CHECK(ret == 0 || ret == -ENOENT);
	}
	return 0;
}

TEST_F(seg, open_or_create_survives_concurrent_unlink)
{
	const char *name = new_name(self, "race");
	pid_t pids[RACE_PROCS];
	int i, status;

	for (i = 0; i < RACE_PROCS; i++) {
		pids[i] = fork();
		ASSERT_LE(0, pids[i]);
		if (!pids[i])
			_exit(ooc_race_child((void *)name));
	}
	for (i = 0; i < RACE_PROCS; i++) {
		ASSERT_EQ(pids[i], waitpid(pids[i], &status, 0));
		EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
	}
}

TEST_F(seg, map_range_handles_unaligned_offset)
{
	const char *name = new_name(self, "range");
	size_t len;
	char *all, *part;
	int fd;

	fd = create_seg(_metadata, name, 3 * ps, 0600);
	all = map_shared_rw(_metadata, fd, &len);
	fill(all, len, 3);
	part = shmdev_map_range(fd, ps + 100, 50, PROT_READ, MAP_SHARED);
	ASSERT_NE(NULL, part);
	EXPECT_EQ(0, memcmp(part, all + ps + 100, 50));
	EXPECT_EQ(0, ((uintptr_t)part & (ps - 1)) - 100);
	EXPECT_EQ(0, shmdev_unmap(part, 50));
	/* A range crossing a page boundary maps both pages. */
	part = shmdev_map_range(fd, 2 * ps - 10, 20, PROT_READ, MAP_SHARED);
	ASSERT_NE(NULL, part);
	EXPECT_EQ(0, memcmp(part, all + 2 * ps - 10, 20));
	EXPECT_EQ(0, shmdev_unmap(part, 20));
	/* The last page, aligned. */
	part = shmdev_map_range(fd, 2 * ps, ps, PROT_READ | PROT_WRITE,
				MAP_SHARED);
	ASSERT_NE(NULL, part);
	part[0] = 'Z';
	EXPECT_EQ('Z', all[2 * ps]);
	EXPECT_EQ(0, shmdev_unmap(part, ps));
	EXPECT_EQ(0, shmdev_unmap(all, len));
	close(fd);
}

TEST_F(seg, map_range_rejects_bad_ranges_and_flags)
{
	const char *name = new_name(self, "bad");
	int fd;

	fd = create_seg(_metadata, name, 2 * ps, 0600);
	errno = 0;
	EXPECT_EQ(NULL, shmdev_map_range(fd, 0, 0, PROT_READ, MAP_SHARED));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(NULL, shmdev_map_range(fd, 4 * ps, ps, PROT_READ, MAP_SHARED));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(NULL, shmdev_map_range(fd, ps, 4 * ps, PROT_READ, MAP_SHARED));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(NULL, shmdev_map_range(fd, UINT64_MAX - 10, 100, PROT_READ,
					 MAP_SHARED));
	EXPECT_EQ(EOVERFLOW, errno);
	errno = 0;
	EXPECT_EQ(NULL, shmdev_map_range(fd, 0, SIZE_MAX, PROT_READ,
					 MAP_SHARED));
	EXPECT_EQ(EOVERFLOW, errno);
	errno = 0;
	EXPECT_EQ(NULL, shmdev_map(fd, PROT_READ, 0, NULL));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(NULL, shmdev_map(fd, PROT_READ, MAP_SHARED | MAP_FIXED, NULL));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(NULL, shmdev_map(fd, PROT_READ, MAP_SHARED | MAP_ANONYMOUS,
				   NULL));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(NULL, shmdev_map(-1, PROT_READ, MAP_SHARED, NULL));
	EXPECT_EQ(EBADF, errno);
	close(fd);
}

TEST_F(seg, map_private_is_copy_on_write)
{
	const char *name = new_name(self, "cow");
	size_t len, len2;
	char *shared, *priv;
	int fd;

	fd = create_seg(_metadata, name, ps, 0600);
	shared = shmdev_map(fd, PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_POPULATE, &len);
	ASSERT_NE(NULL, shared);
	shared[0] = 'a';
	priv = shmdev_map(fd, PROT_READ | PROT_WRITE, MAP_PRIVATE, &len2);
	ASSERT_NE(NULL, priv);
	EXPECT_EQ('a', priv[0]);
	priv[0] = 'b';
	EXPECT_EQ('a', shared[0]);
	shmdev_unmap(priv, len2);
	shmdev_unmap(shared, len);
	close(fd);
}

TEST_F(seg, info_rejects_bad_fds)
{
	struct shmdev_info info;
	int p[2];

	EXPECT_EQ(-EBADF, shmdev_info(-1, &info));
	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	EXPECT_EQ(-ENOTTY, shmdev_info(p[0], &info));
	close(p[0]);
	close(p[1]);
	EXPECT_EQ(-EINVAL, shmdev_info(0, NULL));
}

TEST_F(seg, unlink_removes_name_but_keeps_mapping)
{
	const char *name = new_name(self, "ul");
	struct shmdev_info info;
	size_t len;
	char *p;
	int fd, fd2;

	fd = create_seg(_metadata, name, ps, 0600);
	p = map_shared_rw(_metadata, fd, &len);
	p[1] = 'k';
	EXPECT_EQ(0, shmdev_unlink(name));
	EXPECT_EQ(-ENOENT, shmdev_attach(name, 0));
	EXPECT_EQ(-ENOENT, shmdev_unlink(name));
	ASSERT_EQ(0, shmdev_info(fd, &info));
	EXPECT_TRUE(info.flags & SHMDEV_INFO_UNLINKED);
	EXPECT_EQ('k', p[1]);
	/* The name is free for a new, zeroed segment. */
	fd2 = create_seg(_metadata, name, ps, 0600);
	shmdev_unmap(p, len);
	p = shmdev_map(fd2, PROT_READ, MAP_SHARED, &len);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(0, p[1]);
	shmdev_unmap(p, len);
	close(fd2);
	close(fd);
}

TEST_F(seg, unlink_rejects_bad_names)
{
	EXPECT_EQ(-EINVAL, shmdev_unlink(NULL));
	EXPECT_EQ(-EINVAL, shmdev_unlink(""));
	EXPECT_EQ(-EINVAL, shmdev_unlink("x/y"));
}

static int unlink_as_child(void *arg)
{
	CHILD_CHECK_EQ(-EPERM, shmdev_unlink(arg));
	return 0;
}

TEST_F(seg, unlink_by_other_user_fails_with_eperm)
{
	const char *name = new_name(self, "ulp");
	int fd;

	NEED_ROOT();
	fd = create_seg(_metadata, name, ps, 0666);
	close(fd);
	EXPECT_EQ(0, run_as(USER_A, unlink_as_child, (void *)name));
	EXPECT_EQ(0, shmdev_unlink(name));
}

static int recv_child(void *arg)
{
	int sock = *(int *)arg, fd;
	size_t len;
	char *p;

	fd = shmdev_recv_fd(sock);
	CHILD_CHECK(fd >= 0);
	p = shmdev_map(fd, PROT_READ | PROT_WRITE, MAP_SHARED, &len);
	CHILD_CHECK(p != NULL);
	CHILD_CHECK(check(p, ps, 9));
	p[0] = 'C';
	shmdev_unmap(p, len);
	close(fd);
	return 0;
}

TEST_F(seg, fd_passed_to_forked_child_maps_same_segment)
{
	size_t len;
	char *p;
	int sv[2], fd;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	/* Anonymous: the child can only reach it through the socket. */
	fd = create_seg(_metadata, NULL, ps, 0600);
	p = map_shared_rw(_metadata, fd, &len);
	fill(p, ps, 9);
	ASSERT_EQ(0, shmdev_send_fd(sv[1], fd));
	close(fd);
	EXPECT_EQ(0, run_as(0, recv_child, &sv[0]));
	EXPECT_EQ('C', p[0]);
	shmdev_unmap(p, len);
	close(sv[0]);
	close(sv[1]);
}

/* Sends two descriptors in one go: the receiver takes them one by one. */
TEST_F(seg, fd_passing_keeps_descriptors_apart)
{
	struct shmdev_info a, b;
	int sv[2], fd1, fd2, r1, r2;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	fd1 = shmdev_create(NULL, ps, 0600, 0);
	fd2 = shmdev_create(NULL, 2 * ps, 0600, 0);
	ASSERT_LE(0, fd1);
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, shmdev_send_fd(sv[1], fd1));
	ASSERT_EQ(0, shmdev_send_fd(sv[1], fd2));
	r1 = shmdev_recv_fd(sv[0]);
	r2 = shmdev_recv_fd(sv[0]);
	ASSERT_LE(0, r1);
	ASSERT_LE(0, r2);
	ASSERT_EQ(0, shmdev_info(r1, &a));
	ASSERT_EQ(0, shmdev_info(r2, &b));
	EXPECT_EQ(ps, a.size);
	EXPECT_EQ(2 * ps, b.size);
	close(r1);
	close(r2);
	close(fd1);
	close(fd2);
	close(sv[0]);
	close(sv[1]);
}

/* ---- RESIZE ---- */

TEST_F(seg, resize_grows_with_zeroes_and_shrinks_to_sigbus)
{
	const char *name = new_name(self, "rs");
	struct shmdev_info info;
	size_t len;
	char *p, *q;
	int fd;

	NEED_FEATURE(SHMDEV_FEAT_RESIZE);
	fd = create_seg(_metadata, name, ps, 0600);
	p = map_shared_rw(_metadata, fd, &len);
	memset(p, 0x11, ps);
	ASSERT_EQ(0, shmdev_resize(fd, 3 * ps));
	ASSERT_EQ(0, shmdev_info(fd, &info));
	EXPECT_EQ(3 * ps, info.size);
	q = map_shared_rw(_metadata, fd, &len);
	EXPECT_EQ(3 * ps, len);
	EXPECT_EQ(0x11, q[0]);
	EXPECT_EQ(0, q[ps]);
	EXPECT_EQ(0, q[3 * ps - 1]);
	q[2 * ps] = 'g';
	/* Shrinking drops the pages beyond the end from every mapping. */
	ASSERT_EQ(0, shmdev_resize(fd, ps));
	ASSERT_EQ(0, shmdev_info(fd, &info));
	EXPECT_EQ(ps, info.size);
	EXPECT_TRUE(read_sigbus(q + 2 * ps));
	EXPECT_EQ(0x11, q[0]);
	/* Growing again brings zeroes, not the old data. */
	ASSERT_EQ(0, shmdev_resize(fd, 3 * ps));
	EXPECT_EQ(0, q[2 * ps]);
	shmdev_unmap(q, 3 * ps);
	shmdev_unmap(p, ps);
	close(fd);
}

TEST_F(seg, resize_rejects_zero_readonly_and_unbound)
{
	const char *name = new_name(self, "rse");
	int fd, ro, ub;

	NEED_FEATURE(SHMDEV_FEAT_RESIZE);
	fd = create_seg(_metadata, name, ps, 0600);
	EXPECT_EQ(-EINVAL, shmdev_resize(fd, 0));
	ro = shmdev_attach(name, SHMDEV_ATTACH_RDONLY);
	ASSERT_LE(0, ro);
	EXPECT_EQ(-EPERM, shmdev_resize(ro, 2 * ps));
	ub = shmdev_open_device();
	ASSERT_LE(0, ub);
	EXPECT_EQ(-ENODEV, shmdev_resize(ub, ps));
	close(ub);
	close(ro);
	close(fd);
}

TEST_F(seg, resize_above_max_segment_size_fails_with_efbig)
{
	const char *name = new_name(self, "big");
	struct shmdev_version v;
	int fd;

	NEED_FEATURE(SHMDEV_FEAT_RESIZE);
	ASSERT_EQ(0, shmdev_version(&v));
	if (v.max_segment_size == UINT64_MAX)
		SKIP(return, "max_segment_size is unlimited");
	fd = create_seg(_metadata, name, ps, 0600);
	EXPECT_EQ(-EFBIG, shmdev_resize(fd, v.max_segment_size + 1));
	close(fd);
}

/* ---- seals ---- */

TEST_F(seg, seals_add_get_and_block_resize)
{
	const char *name = new_name(self, "sl");
	int fd, ro;

	NEED_FEATURE(SHMDEV_FEAT_SEALS);
	fd = create_seg(_metadata, name, 2 * ps, 0600);
	EXPECT_EQ(0, shmdev_get_seals(fd));
	ASSERT_EQ(0, shmdev_add_seals(fd, SHMDEV_SEAL_SHRINK));
	EXPECT_EQ(SHMDEV_SEAL_SHRINK, shmdev_get_seals(fd));
	if (self->features & SHMDEV_FEAT_RESIZE) {
		EXPECT_EQ(-EPERM, shmdev_resize(fd, ps));
		EXPECT_EQ(0, shmdev_resize(fd, 3 * ps));
	}
	ASSERT_EQ(0, shmdev_add_seals(fd, SHMDEV_SEAL_GROW));
	EXPECT_EQ(SHMDEV_SEAL_SHRINK | SHMDEV_SEAL_GROW, shmdev_get_seals(fd));
	if (self->features & SHMDEV_FEAT_RESIZE)
		EXPECT_EQ(-EPERM, shmdev_resize(fd, 4 * ps));
	/* Seals belong to the segment: another file sees them. */
	ro = shmdev_attach(name, SHMDEV_ATTACH_RDONLY);
	ASSERT_LE(0, ro);
	EXPECT_EQ(SHMDEV_SEAL_SHRINK | SHMDEV_SEAL_GROW, shmdev_get_seals(ro));
	EXPECT_EQ(-EPERM, shmdev_add_seals(ro, SHMDEV_SEAL_SEAL));
	close(ro);
	close(fd);
}

TEST_F(seg, seal_seal_forbids_more_seals)
{
	const char *name = new_name(self, "ss");
	int fd;

	NEED_FEATURE(SHMDEV_FEAT_SEALS);
	fd = create_seg(_metadata, name, ps, 0600);
	ASSERT_EQ(0, shmdev_add_seals(fd, SHMDEV_SEAL_SEAL));
	EXPECT_EQ(-EPERM, shmdev_add_seals(fd, SHMDEV_SEAL_GROW));
	EXPECT_EQ(SHMDEV_SEAL_SEAL, shmdev_get_seals(fd));
	close(fd);
}

TEST_F(seg, seals_reject_unknown_bits)
{
	const char *name = new_name(self, "su");
	int fd;

	NEED_FEATURE(SHMDEV_FEAT_SEALS);
	fd = create_seg(_metadata, name, ps, 0600);
	EXPECT_EQ(-EINVAL, shmdev_add_seals(fd, SHMDEV_SEAL_MASK + 1));
	EXPECT_EQ(-EINVAL, shmdev_add_seals(fd, 0x80000000U));
	EXPECT_EQ(0, shmdev_get_seals(fd));
	close(fd);
}

TEST_F(seg, seal_write_is_busy_while_mapped_writable)
{
	const char *name = new_name(self, "sw");
	size_t len;
	char *p;
	int fd;

	NEED_FEATURE(SHMDEV_FEAT_SEALS);
	fd = create_seg(_metadata, name, ps, 0600);
	p = map_shared_rw(_metadata, fd, &len);
	p[0] = 'w';
	EXPECT_EQ(-EBUSY, shmdev_add_seals(fd, SHMDEV_SEAL_WRITE));
	shmdev_unmap(p, len);
	ASSERT_EQ(0, shmdev_add_seals(fd, SHMDEV_SEAL_WRITE));
	expect_no_shared_rw_map(_metadata, fd);
	/* Read-only and private mappings stay allowed. */
	p = shmdev_map(fd, PROT_READ, MAP_SHARED, &len);
	ASSERT_NE(NULL, p);
	EXPECT_EQ('w', p[0]);
	EXPECT_NE(0, mprotect(p, len, PROT_READ | PROT_WRITE));
	shmdev_unmap(p, len);
	p = shmdev_map(fd, PROT_READ | PROT_WRITE, MAP_PRIVATE, &len);
	ASSERT_NE(NULL, p);
	p[0] = 'p';
	shmdev_unmap(p, len);
	close(fd);
}

TEST_F(seg, seal_future_write_keeps_existing_writers)
{
	const char *name = new_name(self, "sfw");
	size_t len, len2;
	char *p, *q;
	int fd;

	NEED_FEATURE(SHMDEV_FEAT_SEALS);
	fd = create_seg(_metadata, name, ps, 0600);
	p = map_shared_rw(_metadata, fd, &len);
	ASSERT_EQ(0, shmdev_add_seals(fd, SHMDEV_SEAL_FUTURE_WRITE));
	p[0] = 'e';	/* the existing mapping keeps writing */
	expect_no_shared_rw_map(_metadata, fd);
	q = shmdev_map(fd, PROT_READ, MAP_SHARED, &len2);
	ASSERT_NE(NULL, q);
	EXPECT_EQ('e', q[0]);
	shmdev_unmap(q, len2);
	shmdev_unmap(p, len);
	close(fd);
}

/* ---- SETPERM ---- */

TEST_F(seg, chmod_changes_mode_seen_by_new_attach)
{
	const char *name = new_name(self, "chm");
	struct shmdev_info info;
	int fd, fd2;

	NEED_FEATURE(SHMDEV_FEAT_SETPERM);
	fd = create_seg(_metadata, name, ps, 0600);
	ASSERT_EQ(0, shmdev_chmod(name, 0640));
	ASSERT_EQ(0, shmdev_info(fd, &info));
	EXPECT_EQ(0640, info.mode);
	fd2 = shmdev_attach(name, SHMDEV_ATTACH_RDONLY);
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, shmdev_info(fd2, &info));
	EXPECT_EQ(0640, info.mode);
	EXPECT_EQ(0, shmdev_setperm(name, SHMDEV_SETPERM_MODE, 0, 0, 0));
	ASSERT_EQ(0, shmdev_info(fd, &info));
	EXPECT_EQ(0, info.mode);
	close(fd2);
	close(fd);
}

TEST_F(seg, setperm_rejects_bad_arguments)
{
	const char *name = new_name(self, "spb");
	int fd;

	NEED_FEATURE(SHMDEV_FEAT_SETPERM);
	fd = create_seg(_metadata, name, ps, 0600);
	EXPECT_EQ(-EINVAL, shmdev_chmod(name, 01000));
	EXPECT_EQ(-EINVAL, shmdev_setperm(name, 0, 0600, 0, 0));
	EXPECT_EQ(-EINVAL, shmdev_setperm(name, 0x8, 0600, 0, 0));
	EXPECT_EQ(-EINVAL, shmdev_chown(name, (uid_t)-1, (gid_t)-1));
	EXPECT_EQ(-ENOENT, shmdev_chmod(new_name(self, "spn"), 0600));
	EXPECT_EQ(-EINVAL, shmdev_chmod("a/b", 0600));
	EXPECT_EQ(-EINVAL, shmdev_chmod(NULL, 0600));
	close(fd);
}

static int chmod_as_child(void *arg)
{
	CHILD_CHECK_EQ(0, shmdev_chmod(arg, 0604));
	return 0;
}

static int chmod_denied_child(void *arg)
{
	CHILD_CHECK_EQ(-EPERM, shmdev_chmod(arg, 0666));
	CHILD_CHECK_EQ(-EPERM, shmdev_chown(arg, USER_B, (gid_t)-1));
	return 0;
}

TEST_F(seg, chown_hands_segment_to_new_owner)
{
	const char *name = new_name(self, "cho");
	struct shmdev_info info;
	int fd;

	NEED_FEATURE(SHMDEV_FEAT_SETPERM);
	NEED_ROOT();
	fd = create_seg(_metadata, name, ps, 0600);
	EXPECT_EQ(0, run_as(USER_A, chmod_denied_child, (void *)name));
	ASSERT_EQ(0, shmdev_chown(name, USER_A, (gid_t)-1));
	ASSERT_EQ(0, shmdev_info(fd, &info));
	EXPECT_EQ(USER_A, info.uid);
	EXPECT_EQ(getegid(), info.gid);
	ASSERT_EQ(0, shmdev_chown(name, (uid_t)-1, USER_A));
	ASSERT_EQ(0, shmdev_info(fd, &info));
	EXPECT_EQ(USER_A, info.gid);
	/* The new owner may change the mode, others may not. */
	EXPECT_EQ(0, run_as(USER_A, chmod_as_child, (void *)name));
	EXPECT_EQ(0, run_as(USER_B, chmod_denied_child, (void *)name));
	ASSERT_EQ(0, shmdev_info(fd, &info));
	EXPECT_EQ(0604, info.mode);
	close(fd);
}

static int map_rw_child(void *arg)
{
	int fd = *(int *)arg;
	size_t len;
	char *p;

	p = shmdev_map(fd, PROT_READ | PROT_WRITE, MAP_SHARED, &len);
	CHILD_CHECK(p != NULL);
	p[0] = 'k';
	shmdev_unmap(p, len);
	return 0;
}

TEST_F(seg, chmod_leaves_bound_files_their_access)
{
	const char *name = new_name(self, "chb");
	int fd, fd2;

	NEED_FEATURE(SHMDEV_FEAT_SETPERM);
	fd = create_seg(_metadata, name, ps, 0666);
	fd2 = shmdev_attach(name, 0);
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, shmdev_chmod(name, 0));
	/* As another user (if root): the old fd still maps read-write. */
	EXPECT_EQ(0, run_as(geteuid() ? 0 : USER_A, map_rw_child, &fd2));
	close(fd2);
	close(fd);
}

/* ---- LIST ---- */

static const struct shmdev_info *find(const struct shmdev_info *v, size_t n,
				      const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(v[i].name, name))
			return &v[i];
	return NULL;
}

TEST_F(seg, list_returns_created_segments_in_id_order)
{
	const char *n1 = new_name(self, "l1"), *n2 = new_name(self, "l2");
	const struct shmdev_info *e;
	struct shmdev_info *v = NULL;
	int fd1, fd2, anon;
	size_t n, i;

	NEED_FEATURE(SHMDEV_FEAT_LIST);
	fd1 = shmdev_create(n1, ps, 0640, 0);
	fd2 = shmdev_create(n2, 2 * ps, 0600, 0);
	anon = shmdev_create(NULL, ps, 0600, 0);
	ASSERT_LE(0, fd1);
	ASSERT_LE(0, fd2);
	ASSERT_LE(0, anon);
	ASSERT_EQ(0, shmdev_list(&v, &n));
	ASSERT_LE(2, n);
	for (i = 1; i < n; i++)
		EXPECT_LT(v[i - 1].id, v[i].id);
	for (i = 0; i < n; i++) {
		EXPECT_EQ(0, v[i].flags & (SHMDEV_INFO_RDONLY | SHMDEV_INFO_ANON));
		EXPECT_NE(0, v[i].name[0]);	/* named segments only */
	}
	e = find(v, n, n1);
	ASSERT_NE(NULL, e);
	EXPECT_EQ(ps, e->size);
	EXPECT_EQ(0640, e->mode);
	EXPECT_EQ(1, e->nr_files);
	e = find(v, n, n2);
	ASSERT_NE(NULL, e);
	EXPECT_EQ(2 * ps, e->size);
	free(v);
	close(fd1);
	close(fd2);
	/* A removed name is no longer listed. */
	ASSERT_EQ(0, shmdev_unlink(n1));
	ASSERT_EQ(0, shmdev_list(&v, &n));
	EXPECT_EQ(NULL, find(v, n, n1));
	EXPECT_NE(NULL, find(v, n, n2));
	free(v);
	close(anon);
}

static int count_cb(const struct shmdev_info *info, void *arg)
{
	(void)info;
	++*(size_t *)arg;
	return 0;
}

static int stop_cb(const struct shmdev_info *info, void *arg)
{
	(void)info;
	++*(size_t *)arg;
	return 42;
}

TEST_F(seg, list_foreach_visits_all_and_stops_on_nonzero)
{
	const char *name = new_name(self, "lf");
	struct shmdev_info *v;
	size_t n, seen = 0;
	int fd;

	NEED_FEATURE(SHMDEV_FEAT_LIST);
	fd = create_seg(_metadata, name, ps, 0600);
	ASSERT_EQ(0, shmdev_list(&v, &n));
	free(v);
	EXPECT_EQ(0, shmdev_list_foreach(count_cb, &seen));
	EXPECT_EQ(n, seen);
	seen = 0;
	EXPECT_EQ(42, shmdev_list_foreach(stop_cb, &seen));
	EXPECT_EQ(1, seen);
	EXPECT_EQ(-EINVAL, shmdev_list_foreach(NULL, NULL));
	EXPECT_EQ(-EINVAL, shmdev_list(NULL, &n));
	EXPECT_EQ(-EINVAL, shmdev_list(&v, NULL));
	close(fd);
}

/* More than SHMDEV_LIST_MAX segments: the walk must page through them. */
TEST_F(seg, list_pages_past_list_max)
{
	char name[SHMDEV_NAME_MAX];
	struct shmdev_info *v;
	size_t n, i, found = 0;
	int fd, made;

	NEED_FEATURE(SHMDEV_FEAT_LIST);
	for (made = 0; made < MANY; made++) {
		snprintf(name, sizeof(name), "libt-%d-many-%d", getpid(), made);
		fd = shmdev_create(name, 1, 0600, 0);
		if (fd < 0)
			break;
		close(fd);
	}
	EXPECT_EQ(MANY, made);
	EXPECT_EQ(0, shmdev_list(&v, &n));
	snprintf(name, sizeof(name), "libt-%d-many-", getpid());
	for (i = 0; i < n; i++)
		if (!strncmp(v[i].name, name, strlen(name)))
			found++;
	EXPECT_EQ((size_t)made, found);
	for (i = 1; i < n; i++)
		EXPECT_LT(v[i - 1].id, v[i].id);
	free(v);
	while (made--) {
		snprintf(name, sizeof(name), "libt-%d-many-%d", getpid(), made);
		shmdev_unlink(name);
	}
}

struct visibility {
	char hidden[SHMDEV_NAME_MAX];
	char shown[SHMDEV_NAME_MAX];
	char own[SHMDEV_NAME_MAX];
};

static int list_as_child(void *arg)
{
	struct visibility *vis = arg;
	struct shmdev_info *v;
	size_t n;
	int fd;

	/* A segment the child owns is listed even with mode 0. */
	fd = shmdev_create(vis->own, 1, 0, 0);
	CHILD_CHECK(fd >= 0);
	close(fd);
	CHILD_CHECK_EQ(0, shmdev_list(&v, &n));
	CHILD_CHECK(!find(v, n, vis->hidden));
	CHILD_CHECK(find(v, n, vis->shown));
	CHILD_CHECK(find(v, n, vis->own));
	free(v);
	CHILD_CHECK_EQ(0, shmdev_unlink(vis->own));
	return 0;
}

TEST_F(seg, list_shows_only_what_caller_may_read_or_owns)
{
	struct visibility vis;
	int fd1, fd2;

	NEED_FEATURE(SHMDEV_FEAT_LIST);
	NEED_ROOT();
	strcpy(vis.hidden, new_name(self, "hid"));
	strcpy(vis.shown, new_name(self, "shw"));
	strcpy(vis.own, new_name(self, "own"));
	fd1 = shmdev_create(vis.hidden, ps, 0600, 0);
	fd2 = shmdev_create(vis.shown, ps, 0604, 0);
	ASSERT_LE(0, fd1);
	ASSERT_LE(0, fd2);
	EXPECT_EQ(0, run_as(USER_A, list_as_child, &vis));
	close(fd1);
	close(fd2);
}

/* Rings that wait on doorbells (event loops) */

#define DB_RING_SIZE	(64 * 1024)
#define DB_MSGS		2000

/* Exit status of child @pid, 128 + N if signal N killed it, -1 on error. */
static int child_exit(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Rings of @bell seen by @fd since it last acknowledged it. */
static long long bell_rings(int fd, unsigned int bell)
{
	struct shmdev_ack ack = { .bells = 1U << bell };

	if (ioctl(fd, SHMDEV_IOC_ACK, &ack) < 0)
		return -errno;
	return ack.counts[bell];
}

/* Waits at most 10 s for @fd to become readable, as an event loop would. */
static bool wait_readable(int fd)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int ep = epoll_create1(EPOLL_CLOEXEC), n;

	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev)) {
		close(ep);
		return false;
	}
	n = epoll_wait(ep, &ev, 1, 10000);
	close(ep);
	return n == 1;
}

/*
 * A handle on the ring in segment @name, through a file of its own, with
 * doorbells 2 and 3; returns the file, or -errno.
 */
static int db_attach(const char *name, struct shmdev_ring *ring)
{
	size_t len;
	void *p;
	int fd = shmdev_attach(name, 0), ret;

	if (fd < 0)
		return fd;
	p = shmdev_map(fd, PROT_READ | PROT_WRITE, MAP_SHARED, &len);
	if (!p) {
		ret = -errno;
		close(fd);
		return ret;
	}
	ret = shmdev_ring_attach(p, len, ring);
	if (!ret)
		ret = shmdev_ring_set_doorbell(ring, fd, 2);
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

/* Creates segment @name holding a ring of msg_max 256 with @flags. */
static void db_create(struct __test_metadata *_metadata, const char *name,
		      unsigned int flags)
{
	size_t len;
	int fd = create_seg(_metadata, name, DB_RING_SIZE, 0600);
	void *p = map_shared_rw(_metadata, fd, &len);

	ASSERT_EQ(0, shmdev_ring_init(p, len, 256, flags));
	shmdev_unmap(p, len);
	close(fd);
}

/* Receives DB_MSGS numbered messages, waiting on the doorbell only. */
static int db_consumer(void *arg)
{
	struct shmdev_ring ring;
	unsigned int next = 0, waits = 0;
	char buf[256];
	size_t len;
	int fd = db_attach(arg, &ring), ret;

	if (fd < 0)
		return 10;
	while (next < DB_MSGS) {
		ret = shmdev_ring_recv(&ring, buf, sizeof(buf), &len, 0);
		if (!ret) {
			if (len != sizeof(next) || memcmp(buf, &next, len))
				return 11;
			next++;
			continue;
		}
		if (ret != -EAGAIN)
			return 12;
		ret = shmdev_ring_poll_prepare(&ring, SHMDEV_RING_POLLIN);
		if (ret < 0)
			return 13;
		if (ret == 0) {
			waits++;
			if (!wait_readable(shmdev_ring_fd(&ring)))
				return 14;	/* a lost wakeup */
		}
	}
	shmdev_ring_detach(&ring);
	return waits ? 0 : 15;
}

static void db_stream(struct __test_metadata *_metadata, const char *name)
{
	struct shmdev_ring ring;
	unsigned int i;
	pid_t pid;
	int fd;

	fd = db_attach(name, &ring);
	ASSERT_LE(0, fd);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(db_consumer((void *)name));
	for (i = 0; i < DB_MSGS; i++) {
		ASSERT_EQ(0, shmdev_ring_send(&ring, &i, sizeof(i), -1));
		/* Often enough, let the consumer fall asleep. */
		if (i % 64 == 0)
			usleep(2000);
	}
	EXPECT_EQ(0, child_exit(pid));
	shmdev_ring_detach(&ring);
	close(fd);
}

TEST_F(seg, ring_consumer_waits_on_doorbell_spsc)
{
	const char *name = new_name(self, "dbspsc");

	NEED_FEATURE(SHMDEV_FEAT_DOORBELL);
	db_create(_metadata, name, 0);
	db_stream(_metadata, name);
}

TEST_F(seg, ring_consumer_waits_on_doorbell_mpmc)
{
	const char *name = new_name(self, "dbmpmc");

	NEED_FEATURE(SHMDEV_FEAT_DOORBELL);
	db_create(_metadata, name, SHMDEV_RING_MPMC);
	db_stream(_metadata, name);
}

TEST_F(seg, ring_rings_only_when_a_waiter_may_sleep)
{
	const char *name = new_name(self, "dbquiet");
	struct shmdev_ring prod, cons;
	unsigned int i;
	char buf[256];
	size_t len;
	int pfd, cfd, mon;

	NEED_FEATURE(SHMDEV_FEAT_DOORBELL);
	db_create(_metadata, name, 0);
	pfd = db_attach(name, &prod);
	cfd = db_attach(name, &cons);
	mon = shmdev_attach(name, SHMDEV_ATTACH_RDONLY);
	ASSERT_LE(0, pfd);
	ASSERT_LE(0, cfd);
	ASSERT_LE(0, mon);
	/* Streaming with nobody waiting: no ring at all. */
	for (i = 0; i < 100; i++) {
		ASSERT_EQ(0, shmdev_ring_send(&prod, &i, sizeof(i), 0));
		ASSERT_EQ(0, shmdev_ring_recv(&cons, buf, sizeof(buf), &len,
					      0));
	}
	EXPECT_EQ(0, bell_rings(mon, 2));
	EXPECT_EQ(0, bell_rings(mon, 3));
	/* An armed consumer: one ring, however many messages follow. */
	ASSERT_EQ(0, shmdev_ring_poll_prepare(&cons, SHMDEV_RING_POLLIN));
	for (i = 0; i < 10; i++)
		ASSERT_EQ(0, shmdev_ring_send(&prod, &i, sizeof(i), 0));
	EXPECT_EQ(1, bell_rings(mon, 2));
	EXPECT_TRUE(wait_readable(cfd));
	/* Data there: prepare says so at once and need not be waited for. */
	EXPECT_EQ(1, shmdev_ring_poll_prepare(&cons, SHMDEV_RING_POLLIN));
	for (i = 0; i < 10; i++)
		ASSERT_EQ(0, shmdev_ring_recv(&cons, buf, sizeof(buf), &len,
					      0));
	EXPECT_EQ(-EAGAIN, shmdev_ring_recv(&cons, buf, sizeof(buf), &len,
					    0));
	shmdev_ring_detach(&prod);
	shmdev_ring_detach(&cons);
	close(mon);
	close(pfd);
	close(cfd);
}

TEST_F(seg, ring_producer_waits_on_doorbell_for_room)
{
	const char *name = new_name(self, "dbroom");
	struct shmdev_ring prod, cons;
	char msg[256] = "x", buf[256];
	int pfd, cfd, ret, sent = 0;
	size_t len;
	pid_t pid;

	NEED_FEATURE(SHMDEV_FEAT_DOORBELL);
	db_create(_metadata, name, 0);
	pfd = db_attach(name, &prod);
	ASSERT_LE(0, pfd);
	while (!(ret = shmdev_ring_send(&prod, msg, sizeof(msg), 0)))
		sent++;
	ASSERT_EQ(-EAGAIN, ret);
	ASSERT_LT(0, sent);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		cfd = db_attach(name, &cons);
		if (cfd < 0)
			_exit(1);
		usleep(100000);
		while (!shmdev_ring_recv(&cons, buf, sizeof(buf), &len, 0))
			;
		_exit(0);
	}
	ret = shmdev_ring_poll_prepare(&prod, SHMDEV_RING_POLLOUT);
	EXPECT_EQ(0, ret);
	if (!ret)
		EXPECT_TRUE(wait_readable(pfd));
	EXPECT_EQ(0, child_exit(pid));
	EXPECT_EQ(1, shmdev_ring_poll_prepare(&prod, SHMDEV_RING_POLLOUT));
	EXPECT_EQ(0, shmdev_ring_send(&prod, msg, sizeof(msg), 0));
	shmdev_ring_detach(&prod);
	close(pfd);
}

TEST_F(seg, ring_doorbell_reports_gone_peer_with_epipe)
{
	const char *name = new_name(self, "dbpipe");
	struct shmdev_ring prod, cons;
	unsigned int v = 7;
	int pfd, cfd;

	NEED_FEATURE(SHMDEV_FEAT_DOORBELL);
	db_create(_metadata, name, 0);
	pfd = db_attach(name, &prod);
	cfd = db_attach(name, &cons);
	ASSERT_LE(0, pfd);
	ASSERT_LE(0, cfd);
	ASSERT_EQ(0, shmdev_ring_send(&prod, &v, sizeof(v), 0));
	ASSERT_EQ(0, shmdev_ring_recv(&cons, &v, sizeof(v), &(size_t){ 0 },
				      0));
	ASSERT_EQ(0, shmdev_ring_poll_prepare(&cons, SHMDEV_RING_POLLIN));
	/* Detaching wakes the waiter, which then learns the peer is gone. */
	ASSERT_EQ(0, shmdev_ring_detach(&prod));
	EXPECT_TRUE(wait_readable(cfd));
	EXPECT_EQ(-EPIPE, shmdev_ring_poll_prepare(&cons, SHMDEV_RING_POLLIN));
	shmdev_ring_detach(&cons);
	close(pfd);
	close(cfd);
}

/* An anonymous segment: the child gets its file by fork, then its own. */
TEST_F(seg, ring_doorbell_on_anonymous_segment_with_reattach)
{
	struct shmdev_ring prod, cons;
	unsigned int i, got;
	size_t len;
	void *p;
	int fd, own, ret;
	pid_t pid;

	NEED_FEATURE(SHMDEV_FEAT_REATTACH);
	fd = create_seg(_metadata, NULL, DB_RING_SIZE, 0600);
	p = map_shared_rw(_metadata, fd, &len);
	ASSERT_EQ(0, shmdev_ring_init(p, len, 256, 0));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		own = shmdev_reattach(fd, 0);
		if (own < 0 || shmdev_ring_attach(p, len, &cons) ||
		    shmdev_ring_set_doorbell(&cons, own, 0))
			_exit(10);
		for (i = 0; i < 100; i++) {
			while ((ret = shmdev_ring_recv(&cons, &got, sizeof(got),
						       &len, 0)) == -EAGAIN) {
				ret = shmdev_ring_poll_prepare(&cons,
							SHMDEV_RING_POLLIN);
				if (ret < 0)
					_exit(11);
				if (!ret && !wait_readable(own))
					_exit(12);
			}
			if (ret || got != i)
				_exit(13);
		}
		_exit(0);
	}
	ASSERT_EQ(0, shmdev_ring_attach(p, len, &prod));
	ASSERT_EQ(0, shmdev_ring_set_doorbell(&prod, fd, 0));
	for (i = 0; i < 100; i++) {
		ASSERT_EQ(0, shmdev_ring_send(&prod, &i, sizeof(i), -1));
		usleep(1000);
	}
	EXPECT_EQ(0, child_exit(pid));
	shmdev_ring_detach(&prod);
	shmdev_unmap(p, len);
	close(fd);
}

/*
 * Room is what the refused send asked for: an emptied ring, or one with
 * room for that message, is ready even if a message of msg_max bytes
 * (here nearly the whole ring) would not fit where the ring stands.
 */
TEST_F(seg, ring_room_is_the_size_that_was_refused)
{
	const char *name = new_name(self, "dbroom2");
	struct shmdev_ring prod, cons;
	char msg[16] = "m", buf[16];
	size_t len, rlen;
	int fd, ret, i;
	void *p;

	NEED_FEATURE(SHMDEV_FEAT_DOORBELL);
	fd = create_seg(_metadata, name, 2 * ps, 0600);
	p = map_shared_rw(_metadata, fd, &rlen);
	/* msg_max 0: as large as the ring allows. */
	ASSERT_EQ(0, shmdev_ring_init(p, rlen, 0, 0));
	ASSERT_EQ(0, shmdev_ring_attach(p, rlen, &prod));
	ASSERT_EQ(0, shmdev_ring_attach(p, rlen, &cons));
	ASSERT_EQ(0, shmdev_ring_set_doorbell(&prod, fd, 0));
	/* Away from position 0, then full. */
	for (i = 0; i < 7; i++) {
		ASSERT_EQ(0, shmdev_ring_send(&prod, msg, sizeof(msg), 0));
		ASSERT_EQ(0, shmdev_ring_recv(&cons, buf, sizeof(buf), &len, 0));
	}
	while (!(ret = shmdev_ring_send(&prod, msg, sizeof(msg), 0)))
		;
	ASSERT_EQ(-EAGAIN, ret);
	EXPECT_EQ(0, shmdev_ring_poll_prepare(&prod, SHMDEV_RING_POLLOUT));
	/*
	 * Two messages out: ready exactly when the refused size fits (it may
	 * not, where the ring must pad to its end first).
	 */
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, shmdev_ring_recv(&cons, buf, sizeof(buf), &len,
					      0));
	ret = shmdev_ring_poll_prepare(&prod, SHMDEV_RING_POLLOUT);
	ASSERT_LE(0, ret);
	EXPECT_EQ(ret ? 0 : -EAGAIN,
		  shmdev_ring_send(&prod, msg, sizeof(msg), 0));
	/* Emptied: ready whatever was refused. */
	while (!shmdev_ring_recv(&cons, buf, sizeof(buf), &len, 0))
		;
	EXPECT_EQ(1, shmdev_ring_poll_prepare(&prod, SHMDEV_RING_POLLOUT));
	EXPECT_EQ(0, shmdev_ring_send(&prod, msg, sizeof(msg), 0));
	shmdev_ring_detach(&prod);
	shmdev_ring_detach(&cons);
	shmdev_unmap(p, rlen);
	close(fd);
}

/* A producer without a doorbell leaves the waiter's flag to one with. */
TEST_F(seg, ring_handle_without_doorbell_does_not_take_the_wait)
{
	const char *name = new_name(self, "dbnone");
	struct shmdev_ring plain, bell, cons;
	unsigned int v = 3;
	size_t len;
	void *p;
	int fd, cfd, mon;

	NEED_FEATURE(SHMDEV_FEAT_DOORBELL);
	db_create(_metadata, name, SHMDEV_RING_MPMC);
	fd = db_attach(name, &bell);
	cfd = db_attach(name, &cons);
	mon = shmdev_attach(name, SHMDEV_ATTACH_RDONLY);
	ASSERT_LE(0, fd);
	ASSERT_LE(0, cfd);
	ASSERT_LE(0, mon);
	p = shmdev_map(fd, PROT_READ | PROT_WRITE, MAP_SHARED, &len);
	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, shmdev_ring_attach(p, len, &plain));
	ASSERT_EQ(0, shmdev_ring_poll_prepare(&cons, SHMDEV_RING_POLLIN));
	ASSERT_EQ(0, shmdev_ring_send(&plain, &v, sizeof(v), 0));
	EXPECT_EQ(0, bell_rings(mon, 2));
	ASSERT_EQ(0, shmdev_ring_send(&bell, &v, sizeof(v), 0));
	EXPECT_EQ(1, bell_rings(mon, 2));
	EXPECT_TRUE(wait_readable(cfd));
	shmdev_ring_detach(&plain);
	shmdev_ring_detach(&bell);
	shmdev_ring_detach(&cons);
	shmdev_unmap(p, len);
	close(mon);
	close(fd);
	close(cfd);
}

/* A peer that dies without detaching: learnt within the liveness time. */
TEST_F(seg, ring_doorbell_reports_dead_peer_after_liveness_time)
{
	const char *name = new_name(self, "dbdead");
	struct shmdev_ring cons;
	unsigned int v = 1, got;
	int64_t waited = 0;
	size_t len;
	int cfd, ret;
	pid_t pid;

	NEED_FEATURE(SHMDEV_FEAT_DOORBELL);
	db_create(_metadata, name, 0);
	cfd = db_attach(name, &cons);
	ASSERT_LE(0, cfd);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct shmdev_ring prod;

		if (db_attach(name, &prod) < 0 ||
		    shmdev_ring_send(&prod, &v, sizeof(v), 0))
			_exit(1);
		_exit(0);	/* no detach */
	}
	ASSERT_EQ(0, child_exit(pid));
	ASSERT_EQ(0, shmdev_ring_recv(&cons, &got, sizeof(got), &len, 0));
	/* As an event loop: wait a liveness interval, look again. */
	while ((ret = shmdev_ring_poll_prepare(&cons,
					       SHMDEV_RING_POLLIN)) == 0 &&
	       waited < 50) {
		usleep(SHMDEV_RING_LIVENESS_MS * 1000);
		waited++;
	}
	EXPECT_EQ(-EPIPE, ret);
	EXPECT_GE(2, waited);
	shmdev_ring_detach(&cons);
	close(cfd);
}

TEST_F(seg, ring_doorbell_rejects_bad_arguments)
{
	const char *name = new_name(self, "dbbad");
	struct shmdev_ring ring;
	size_t len;
	int fd, unbound, ro, pipefd[2];
	void *p;

	NEED_FEATURE(SHMDEV_FEAT_DOORBELL);
	db_create(_metadata, name, 0);
	fd = shmdev_attach(name, 0);
	ASSERT_LE(0, fd);
	p = map_shared_rw(_metadata, fd, &len);
	ASSERT_EQ(0, shmdev_ring_attach(p, len, &ring));
	EXPECT_EQ(-ENOTCONN, shmdev_ring_fd(&ring));
	EXPECT_EQ(-ENOTCONN, shmdev_ring_poll_prepare(&ring,
						      SHMDEV_RING_POLLIN));
	EXPECT_EQ(-EINVAL, shmdev_ring_set_doorbell(&ring, fd,
					SHMDEV_NR_BELLS - 1));
	EXPECT_EQ(-EINVAL, shmdev_ring_set_doorbell(&ring, -1, 0));
	unbound = shmdev_open_device();
	ASSERT_LE(0, unbound);
	EXPECT_EQ(-ENODEV, shmdev_ring_set_doorbell(&ring, unbound, 0));
	ASSERT_EQ(0, pipe(pipefd));
	EXPECT_EQ(-EBADF, shmdev_ring_set_doorbell(&ring, pipefd[0], 0));
	/* Each side rings the other: a read-only file cannot serve. */
	ro = shmdev_reattach(fd, SHMDEV_ATTACH_RDONLY);
	ASSERT_LE(0, ro);
	EXPECT_EQ(-EPERM, shmdev_ring_set_doorbell(&ring, ro, 0));
	close(ro);
	EXPECT_EQ(-ENOTCONN, shmdev_ring_fd(&ring));
	ASSERT_EQ(0, shmdev_ring_set_doorbell(&ring, fd, 0));
	EXPECT_EQ(fd, shmdev_ring_fd(&ring));
	EXPECT_EQ(-EINVAL, shmdev_ring_poll_prepare(&ring, 0));
	EXPECT_EQ(-EINVAL, shmdev_ring_poll_prepare(&ring, 4));
	shmdev_ring_detach(&ring);
	shmdev_unmap(p, len);
	close(pipefd[0]);
	close(pipefd[1]);
	close(unbound);
	close(fd);
}

TEST_HARNESS_MAIN
