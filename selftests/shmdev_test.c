// SPDX-License-Identifier: GPL-2.0
/*
 * Selftests for shmdev (/dev/shmdev): the ioctl ABI and its input checks,
 * the page model (sharing, copy-on-write, SIGBUS past the end, process-shared
 * pthread objects), the segment lifecycle and the permission checks.
 *
 * Run the suite both as root and as an ordinary user. Tests that need a
 * second user or a capability skip without root; as root they switch users
 * in a forked child. Tests that need a separate program exec shmdev_peer
 * from the directory of this binary.
 *
 * The page counts read from /sys/module/shmdev/parameters/nr_pages cover all
 * segments, so tests only compare them before and after their own actions.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/futex.h>

#include "shmdev_test_util.h"

#define DROP_CACHES		"/proc/sys/vm/drop_caches"

#define MUTEX_PROCS		4
#define MUTEX_LOOPS		20000
#define PINGPONG_ROUNDS		1000

/* Value of "key=value" in the output of "shmdev_peer info", or -1. */
static long long info_value(const char *text, const char *key)
{
	size_t klen = strlen(key);
	const char *line = text;

	while (line && *line) {
		if (!strncmp(line, key, klen) && line[klen] == '=')
			return strtoll(line + klen + 1, NULL, 0);
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return -1;
}

/*
 * Starts "shmdev_peer hold NAME" and waits until it has mapped and touched
 * the segment. Returns its pid, or -1.
 */
static pid_t start_holder(const char *name)
{
	char *argv[] = { PEER_PROG, "hold", (char *)name, NULL };
	struct pollfd pfd = { .events = POLLIN };
	size_t used = 0;
	char buf[64];
	pid_t pid;

	pid = spawn_peer(argv, &pfd.fd);
	if (pid < 0)
		return -1;
	while (used < sizeof(buf) - 1 && poll(&pfd, 1, 20000) == 1) {
		ssize_t n = read(pfd.fd, buf + used, sizeof(buf) - 1 - used);

		if (n <= 0)
			break;
		used += n;
		buf[used] = '\0';
		if (strstr(buf, "ready\n")) {
			close(pfd.fd);
			return pid;
		}
	}
	close(pfd.fd);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

/* Kills a holder; 0 if it was still waiting and died of the signal. */
static int stop_holder(pid_t pid)
{
	if (kill(pid, SIGTERM))
		return -1;
	return wait_child(pid) == 128 + SIGTERM ? 0 : -1;
}

/*
 * After a CREATE that had to fail: the file is still unbound and can be
 * bound, no segment called @name (if given) exists, no page was allocated.
 */
static void check_create_left_no_trace(struct __test_metadata *_metadata,
				       FIXTURE_DATA(shmdev) *self,
				       const char *name, uint64_t pages)
{
	struct shmdev_info info;
	int fd;

	EXPECT_EQ(-ENODEV, st_info(self->fd, &info));
	EXPECT_EQ(pages, module_pages());
	if (name) {
		fd = st_open();
		ASSERT_LE(0, fd);
		EXPECT_EQ(-ENOENT, st_attach(fd, name, 0, NULL, NULL));
		close(fd);
	}
	EXPECT_EQ(0, st_create(self->fd, "", page_size, 0600, NULL));
}

/*
 * After an ATTACH of self->fd that had to fail: self->fd is still unbound
 * and the segment bound to @owner_fd gained no file.
 */
static void check_attach_left_no_trace(struct __test_metadata *_metadata,
				       FIXTURE_DATA(shmdev) *self,
				       int owner_fd)
{
	struct shmdev_info info;

	EXPECT_EQ(-ENODEV, st_info(self->fd, &info));
	ASSERT_EQ(0, st_info(owner_fd, &info));
	EXPECT_EQ(1U, info.nr_files);
}

/* VERSION */

TEST_F(shmdev, version_reports_api_and_features)
{
	const uint64_t want = SHMDEV_FEAT_NAMED | SHMDEV_FEAT_ANON |
			      SHMDEV_FEAT_RDONLY | SHMDEV_FEAT_RESIZE |
			      SHMDEV_FEAT_SEALS | SHMDEV_FEAT_SETPERM |
			      SHMDEV_FEAT_LIST | SHMDEV_FEAT_IPC_NS;
	struct shmdev_version ver;

	ASSERT_EQ(0, st_version(self->fd, &ver));
	EXPECT_EQ((uint32_t)SHMDEV_API_VERSION, ver.api_version);
	EXPECT_EQ(want, ver.features & want);
	EXPECT_LE(page_size, ver.max_segment_size);
}

TEST_F(shmdev, version_max_size_matches_param)
{
	struct shmdev_version ver;
	uint64_t param;

	ASSERT_EQ(0, read_param("max_segment_size", &param));
	ASSERT_EQ(0, st_version(self->fd, &ver));
	EXPECT_EQ(param, ver.max_segment_size);
}

TEST_F(shmdev, version_zeroes_pad_and_reserved)
{
	struct shmdev_version ver;

	memset(&ver, 0xa5, sizeof(ver));
	ASSERT_EQ(0, st_ioctl(self->fd, SHMDEV_IOC_VERSION, &ver));
	EXPECT_EQ(0U, ver.pad);
	EXPECT_EQ(0U, ver.pad2);
	EXPECT_TRUE(all_zero(ver.reserved, sizeof(ver.reserved)));
}

TEST_F(shmdev, version_bad_pointer_efault)
{
	EXPECT_EQ(-EFAULT, st_ioctl(self->fd, SHMDEV_IOC_VERSION, (void *)1));
}

/* CREATE */

TEST_F(shmdev, create_named_info_reports_owner_mode_size)
{
	const char *name = new_name(self);
	uint64_t size = 3 * page_size + 7, id;
	struct shmdev_info info;

	ASSERT_EQ(0, st_create(self->fd, name, size, 0640, &id));
	ASSERT_EQ(0, st_info(self->fd, &info));
	EXPECT_EQ(id, info.id);
	EXPECT_EQ(size, info.size);
	EXPECT_EQ(0U, info.flags);
	EXPECT_EQ(0640U, info.mode);
	EXPECT_EQ(geteuid(), info.uid);
	EXPECT_EQ(getegid(), info.gid);
	EXPECT_EQ(1U, info.nr_files);
	EXPECT_EQ(0U, info.nr_maps);
	EXPECT_EQ(0U, info.nr_pages);
	ASSERT_NE(NULL, memchr(info.name, '\0', SHMDEV_NAME_MAX));
	EXPECT_STREQ(name, info.name);
}

TEST_F(shmdev, create_anonymous_sets_anon_flag)
{
	struct shmdev_info info;
	uint64_t id;

	ASSERT_EQ(0, st_create(self->fd, "", page_size, 0600, &id));
	ASSERT_EQ(0, st_info(self->fd, &info));
	EXPECT_EQ(id, info.id);
	EXPECT_EQ((uint32_t)SHMDEV_INFO_ANON, info.flags);
	EXPECT_EQ('\0', info.name[0]);
	EXPECT_EQ(0600U, info.mode);
}

TEST_F(shmdev, create_output_overwrites_id_and_keeps_reserved_zero)
{
	const char *name = new_name(self);
	struct shmdev_create arg;
	struct shmdev_info info;

	init_create(&arg, name, page_size, 0600);
	memset(&arg.id, 0xa5, sizeof(arg.id));
	ASSERT_EQ(0, st_ioctl(self->fd, SHMDEV_IOC_CREATE, &arg));
	ASSERT_EQ(0, st_info(self->fd, &info));
	EXPECT_EQ(info.id, arg.id);
	EXPECT_TRUE(all_zero(arg.reserved, sizeof(arg.reserved)));
}

TEST_F(shmdev, create_existing_name_eexist)
{
	const char *name = new_name(self);
	struct shmdev_info info;
	uint64_t id;
	int fd;

	ASSERT_EQ(0, st_create(self->fd, name, page_size, 0600, &id));
	fd = st_open();
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EEXIST, st_create(fd, name, 2 * page_size, 0666, NULL));
	EXPECT_EQ(-ENODEV, st_info(fd, &info));
	ASSERT_EQ(0, st_info(self->fd, &info));
	EXPECT_EQ(id, info.id);
	EXPECT_EQ(page_size, info.size);
	EXPECT_EQ(0600U, info.mode);
	EXPECT_EQ(1U, info.nr_files);
	close(fd);
}

TEST_F(shmdev, create_on_bound_file_ebusy)
{
	const char *first = new_name(self), *second = new_name(self);
	struct shmdev_info info;
	uint64_t id;
	int fd;

	ASSERT_EQ(0, st_create(self->fd, first, page_size, 0600, &id));
	EXPECT_EQ(-EBUSY, st_create(self->fd, second, page_size, 0600, NULL));
	EXPECT_EQ(-EBUSY, st_create(self->fd, "", page_size, 0600, NULL));
	ASSERT_EQ(0, st_info(self->fd, &info));
	EXPECT_EQ(id, info.id);
	fd = st_open();
	ASSERT_LE(0, fd);
	EXPECT_EQ(-ENOENT, st_attach(fd, second, 0, NULL, NULL));
	close(fd);
}

TEST_F(shmdev, create_name_max_length_accepted)
{
	const char *name = new_long_name(self, SHMDEV_NAME_MAX - 1);
	struct shmdev_info info;
	int fd;

	ASSERT_EQ((size_t)SHMDEV_NAME_MAX - 1, strlen(name));
	ASSERT_EQ(0, st_create(self->fd, name, page_size, 0600, NULL));
	ASSERT_EQ(0, st_info(self->fd, &info));
	EXPECT_EQ(0, memcmp(name, info.name, SHMDEV_NAME_MAX));
	fd = attach_on_new_fd(_metadata, name, 0);
	close(fd);
}

TEST_F(shmdev, create_size_zero_einval)
{
	const char *name = new_name(self);
	uint64_t pages = module_pages();

	EXPECT_EQ(-EINVAL, st_create(self->fd, name, 0, 0600, NULL));
	check_create_left_no_trace(_metadata, self, name, pages);
}

TEST_F(shmdev, create_size_over_max_efbig)
{
	const char *name = new_name(self);
	struct shmdev_version ver;
	uint64_t pages = module_pages();

	ASSERT_EQ(0, st_version(self->fd, &ver));
	if (ver.max_segment_size == UINT64_MAX)
		SKIP(return, "max_segment_size is unlimited");
	EXPECT_EQ(-EFBIG, st_create(self->fd, name, ver.max_segment_size + 1,
				     0600, NULL));
	check_create_left_no_trace(_metadata, self, name, pages);
}

TEST_F(shmdev, create_size_u64_max_efbig)
{
	const char *name = new_name(self);
	uint64_t pages = module_pages();

	EXPECT_EQ(-EFBIG, st_create(self->fd, name, UINT64_MAX, 0600, NULL));
	check_create_left_no_trace(_metadata, self, name, pages);
}

TEST_F(shmdev, create_mode_over_0777_einval)
{
	const char *name = new_name(self);
	uint64_t pages = module_pages();

	EXPECT_EQ(-EINVAL, st_create(self->fd, name, page_size, 01000, NULL));
	check_create_left_no_trace(_metadata, self, name, pages);
}

TEST_F(shmdev, create_unknown_flags_einval)
{
	const char *name = new_name(self);
	uint64_t pages = module_pages();
	struct shmdev_create arg;

	init_create(&arg, name, page_size, 0600);
	arg.flags = SHMDEV_CREATE_FLAGS_MASK + 1;
	EXPECT_EQ(-EINVAL, st_ioctl(self->fd, SHMDEV_IOC_CREATE, &arg));
	check_create_left_no_trace(_metadata, self, name, pages);
}

TEST_F(shmdev, create_reserved_nonzero_einval)
{
	const char *name = new_name(self);
	uint64_t pages = module_pages();
	struct shmdev_create arg;

	init_create(&arg, name, page_size, 0600);
	arg.reserved[3] = 1;
	EXPECT_EQ(-EINVAL, st_ioctl(self->fd, SHMDEV_IOC_CREATE, &arg));
	check_create_left_no_trace(_metadata, self, name, pages);
}

TEST_F(shmdev, create_name_unterminated_enametoolong)
{
	char truncated[SHMDEV_NAME_MAX];
	uint64_t pages = module_pages();
	struct shmdev_create arg;

	init_create(&arg, "", page_size, 0600);
	memset(arg.name, 'n', sizeof(arg.name));
	EXPECT_EQ(-ENAMETOOLONG, st_ioctl(self->fd, SHMDEV_IOC_CREATE, &arg));
	/* Nor was the name cut short to fit. */
	memset(truncated, 'n', sizeof(truncated) - 1);
	truncated[sizeof(truncated) - 1] = '\0';
	check_create_left_no_trace(_metadata, self, truncated, pages);
}

/* CREATE of "st-<pid>" and @suffix fails with EINVAL and leaves no trace. */
static void check_create_bad_name(struct __test_metadata *_metadata,
				  FIXTURE_DATA(shmdev) *self,
				  const char *suffix)
{
	uint64_t pages = module_pages();
	char name[SHMDEV_NAME_MAX];

	snprintf(name, sizeof(name), "st-%d%s", getpid(), suffix);
	EXPECT_EQ(-EINVAL, st_create(self->fd, name, page_size, 0600, NULL));
	check_create_left_no_trace(_metadata, self, NULL, pages);
}

TEST_F(shmdev, create_name_with_slash_einval)
{
	check_create_bad_name(_metadata, self, "/slash");
}

TEST_F(shmdev, create_name_with_control_char_einval)
{
	check_create_bad_name(_metadata, self, "\nnewline");
}

TEST_F(shmdev, create_bad_pointer_efault)
{
	uint64_t pages = module_pages();

	EXPECT_EQ(-EFAULT, st_ioctl(self->fd, SHMDEV_IOC_CREATE, (void *)1));
	check_create_left_no_trace(_metadata, self, NULL, pages);
}

/* ATTACH */

TEST_F(shmdev, attach_reports_size_and_id)
{
	const char *name = new_name(self);
	uint64_t size = 5 * page_size + 3, id;
	struct shmdev_attach arg;
	int owner;

	owner = st_open();
	ASSERT_LE(0, owner);
	ASSERT_EQ(0, st_create(owner, name, size, 0600, &id));
	init_attach(&arg, name, 0);
	memset(&arg.size, 0xa5, sizeof(arg.size));
	memset(&arg.id, 0xa5, sizeof(arg.id));
	ASSERT_EQ(0, st_ioctl(self->fd, SHMDEV_IOC_ATTACH, &arg));
	EXPECT_EQ(size, arg.size);
	EXPECT_EQ(id, arg.id);
	EXPECT_EQ(0U, arg.pad);
	EXPECT_TRUE(all_zero(arg.reserved, sizeof(arg.reserved)));
	close(owner);
}

TEST_F(shmdev, attach_on_bound_file_ebusy)
{
	const char *first = new_name(self), *second = new_name(self);
	struct shmdev_info info;
	uint64_t id;
	int other;

	ASSERT_EQ(0, st_create(self->fd, first, page_size, 0600, &id));
	other = create_on_new_fd(_metadata, second, page_size, 0600);
	EXPECT_EQ(-EBUSY, st_attach(self->fd, second, 0, NULL, NULL));
	EXPECT_EQ(-EBUSY, st_attach(self->fd, first, 0, NULL, NULL));
	ASSERT_EQ(0, st_info(self->fd, &info));
	EXPECT_EQ(id, info.id);
	EXPECT_EQ(1U, info.nr_files);
	ASSERT_EQ(0, st_info(other, &info));
	EXPECT_EQ(1U, info.nr_files);
	close(other);
}

TEST_F(shmdev, attach_missing_name_enoent)
{
	const char *name = new_name(self);
	struct shmdev_info info;

	EXPECT_EQ(-ENOENT, st_attach(self->fd, name, 0, NULL, NULL));
	EXPECT_EQ(-ENOENT, st_attach(self->fd, name, SHMDEV_ATTACH_RDONLY,
				     NULL, NULL));
	EXPECT_EQ(-ENODEV, st_info(self->fd, &info));
}

TEST_F(shmdev, attach_empty_name_einval)
{
	struct shmdev_info info;
	int owner;

	/* Not even while an anonymous segment exists. */
	owner = create_on_new_fd(_metadata, "", page_size, 0666);
	EXPECT_EQ(-EINVAL, st_attach(self->fd, "", 0, NULL, NULL));
	EXPECT_EQ(-ENODEV, st_info(self->fd, &info));
	close(owner);
}

TEST_F(shmdev, attach_unknown_flags_einval)
{
	const char *name = new_name(self);
	struct shmdev_attach arg;
	int owner;

	owner = create_on_new_fd(_metadata, name, page_size, 0600);
	init_attach(&arg, name, SHMDEV_ATTACH_FLAGS_MASK + 1);
	EXPECT_EQ(-EINVAL, st_ioctl(self->fd, SHMDEV_IOC_ATTACH, &arg));
	check_attach_left_no_trace(_metadata, self, owner);
	close(owner);
}

TEST_F(shmdev, attach_pad_nonzero_einval)
{
	const char *name = new_name(self);
	struct shmdev_attach arg;
	int owner;

	owner = create_on_new_fd(_metadata, name, page_size, 0600);
	init_attach(&arg, name, 0);
	arg.pad = 1;
	EXPECT_EQ(-EINVAL, st_ioctl(self->fd, SHMDEV_IOC_ATTACH, &arg));
	check_attach_left_no_trace(_metadata, self, owner);
	close(owner);
}

TEST_F(shmdev, attach_reserved_nonzero_einval)
{
	const char *name = new_name(self);
	struct shmdev_attach arg;
	int owner;

	owner = create_on_new_fd(_metadata, name, page_size, 0600);
	init_attach(&arg, name, 0);
	arg.reserved[3] = 1;
	EXPECT_EQ(-EINVAL, st_ioctl(self->fd, SHMDEV_IOC_ATTACH, &arg));
	check_attach_left_no_trace(_metadata, self, owner);
	close(owner);
}

TEST_F(shmdev, attach_bad_pointer_efault)
{
	const char *name = new_name(self);
	int owner;

	owner = create_on_new_fd(_metadata, name, page_size, 0600);
	EXPECT_EQ(-EFAULT, st_ioctl(self->fd, SHMDEV_IOC_ATTACH, (void *)1));
	check_attach_left_no_trace(_metadata, self, owner);
	close(owner);
}

/* UNLINK */

TEST_F(shmdev, unlink_missing_name_enoent)
{
	EXPECT_EQ(-ENOENT, st_unlink(self->fd, new_name(self)));
}

TEST_F(shmdev, unlink_empty_name_einval)
{
	EXPECT_EQ(-EINVAL, st_unlink(self->fd, ""));
}

TEST_F(shmdev, unlink_reserved_nonzero_einval)
{
	const char *name = new_name(self);
	struct shmdev_unlink arg;
	int owner;

	owner = create_on_new_fd(_metadata, name, page_size, 0600);
	memset(&arg, 0, sizeof(arg));
	st_set_name(arg.name, name);
	arg.reserved = 1;
	EXPECT_EQ(-EINVAL, st_ioctl(self->fd, SHMDEV_IOC_UNLINK, &arg));
	arg.reserved = 0;
	arg.pad = 1;
	EXPECT_EQ(-EINVAL, st_ioctl(self->fd, SHMDEV_IOC_UNLINK, &arg));
	arg.pad = 0;
	arg.flags = 1U << 5;
	EXPECT_EQ(-EINVAL, st_ioctl(self->fd, SHMDEV_IOC_UNLINK, &arg));
	check_name_exists(_metadata, name);
	close(owner);
}

TEST_F(shmdev, unlink_bad_pointer_efault)
{
	const char *name = new_name(self);
	int owner;

	owner = create_on_new_fd(_metadata, name, page_size, 0600);
	EXPECT_EQ(-EFAULT, st_ioctl(self->fd, SHMDEV_IOC_UNLINK, (void *)1));
	check_name_exists(_metadata, name);
	close(owner);
}

TEST_F(shmdev, unlink_removes_name_at_once)
{
	const char *name = new_name(self);
	struct shmdev_info info;
	int fd;

	ASSERT_EQ(0, st_create(self->fd, name, page_size, 0600, NULL));
	fd = st_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, st_unlink(fd, name));
	EXPECT_EQ(-ENOENT, st_attach(fd, name, 0, NULL, NULL));
	EXPECT_EQ(-ENOENT, st_unlink(fd, name));
	ASSERT_EQ(0, st_info(self->fd, &info));
	EXPECT_EQ((uint32_t)SHMDEV_INFO_UNLINKED, info.flags);
	close(fd);
}

TEST_F(shmdev, unlink_keeps_existing_mapping_data)
{
	const char *name = new_name(self);
	size_t len = 4 * page_size;
	uint8_t *p;

	p = create_and_map(_metadata, self, name, len);
	st_fill(p, len, SEED_A);
	ASSERT_EQ(0, st_unlink(self->fd, name));
	EXPECT_EQ(len, st_mismatch(p, len, SEED_A));
	st_fill(p, len, SEED_B);
	EXPECT_EQ(len, st_mismatch(p, len, SEED_B));
	munmap(p, len);
}

TEST_F(shmdev, mmap_after_unlink_maps_same_segment)
{
	const char *name = new_name(self);
	size_t len = 2 * page_size;
	uint8_t *p, *q;

	p = create_and_map(_metadata, self, name, len);
	st_fill(p, len, SEED_A);
	ASSERT_EQ(0, st_unlink(self->fd, name));
	q = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, q) TH_LOG("mmap: %s", strerror(errno));
	EXPECT_EQ(len, st_mismatch(q, len, SEED_A));
	q[0] ^= 0xff;
	EXPECT_EQ(q[0], p[0]);
	munmap(q, len);
	munmap(p, len);
}

TEST_F(shmdev, create_after_unlink_is_new_zeroed_object)
{
	const char *name = new_name(self);
	size_t len = 4 * page_size;
	uint64_t old_id, new_id;
	uint8_t *p, *q;
	int fd;

	ASSERT_EQ(0, st_create(self->fd, name, len, 0600, &old_id));
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	st_fill(p, len, SEED_A);
	ASSERT_EQ(0, st_unlink(self->fd, name));

	fd = st_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, st_create(fd, name, len, 0600, &new_id));
	EXPECT_NE(old_id, new_id);
	q = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, q);
	EXPECT_TRUE(all_zero(q, len));
	st_fill(q, len, SEED_B);
	EXPECT_EQ(len, st_mismatch(p, len, SEED_A));
	munmap(q, len);
	munmap(p, len);
	close(fd);
}

/* INFO */

TEST_F(shmdev, info_unbound_enodev)
{
	struct shmdev_info info;

	EXPECT_EQ(-ENODEV, st_info(self->fd, &info));
}

TEST_F(shmdev, info_bad_pointer_efault)
{
	ASSERT_EQ(0, st_create(self->fd, "", page_size, 0600, NULL));
	EXPECT_EQ(-EFAULT, st_ioctl(self->fd, SHMDEV_IOC_INFO, (void *)1));
}

TEST_F(shmdev, info_zeroes_pad_reserved_and_name_tail)
{
	const char *name = new_name(self);
	size_t len = strlen(name);
	struct shmdev_info info;

	ASSERT_EQ(0, st_create(self->fd, name, page_size, 0600, NULL));
	memset(&info, 0xa5, sizeof(info));
	ASSERT_EQ(0, st_ioctl(self->fd, SHMDEV_IOC_INFO, &info));
	EXPECT_EQ(0, memcmp(info.name, name, len));
	EXPECT_TRUE(all_zero(info.name + len, SHMDEV_NAME_MAX - len));
	EXPECT_EQ(0U, info.seals);
	EXPECT_EQ(0U, info.pad);
	EXPECT_TRUE(all_zero(info.reserved, sizeof(info.reserved)));
}

TEST_F(shmdev, info_counts_bound_files)
{
	const char *name = new_name(self);
	struct shmdev_info info;
	int rw, ro, dupfd;

	ASSERT_EQ(0, st_create(self->fd, name, page_size, 0600, NULL));
	rw = attach_on_new_fd(_metadata, name, 0);
	ro = attach_on_new_fd(_metadata, name, SHMDEV_ATTACH_RDONLY);
	ASSERT_EQ(0, st_info(ro, &info));
	EXPECT_EQ(3U, info.nr_files);

	/* A duplicate descriptor is the same file. */
	dupfd = dup(self->fd);
	ASSERT_LE(0, dupfd);
	ASSERT_EQ(0, st_info(self->fd, &info));
	EXPECT_EQ(3U, info.nr_files);
	close(dupfd);

	close(rw);
	ASSERT_EQ(0, st_info(self->fd, &info));
	EXPECT_EQ(2U, info.nr_files);
	close(ro);
	ASSERT_EQ(0, st_info(self->fd, &info));
	EXPECT_EQ(1U, info.nr_files);
}

TEST_F(shmdev, info_counts_maps_and_mprotect_split)
{
	size_t len = 2 * page_size;
	struct shmdev_info info;
	uint8_t *p, *q;

	p = create_and_map(_metadata, self, "", len);
	ASSERT_EQ(0, st_info(self->fd, &info));
	EXPECT_EQ(1U, info.nr_maps);

	q = mmap(NULL, page_size, PROT_READ, MAP_SHARED, self->fd, page_size);
	ASSERT_NE(MAP_FAILED, q);
	ASSERT_EQ(0, st_info(self->fd, &info));
	EXPECT_EQ(2U, info.nr_maps);

	/* Splitting the first mapping in two makes two VMAs of it. */
	ASSERT_EQ(0, mprotect(p, page_size, PROT_READ));
	ASSERT_EQ(0, st_info(self->fd, &info));
	EXPECT_EQ(3U, info.nr_maps);

	ASSERT_EQ(0, munmap(q, page_size));
	ASSERT_EQ(0, st_info(self->fd, &info));
	EXPECT_EQ(2U, info.nr_maps);
	ASSERT_EQ(0, munmap(p, len));
	ASSERT_EQ(0, st_info(self->fd, &info));
	EXPECT_EQ(0U, info.nr_maps);
}

struct child_user_arg {
	const char *name;
	struct handshake *hs;	/* ready once the child has mapped it */
};

static int attach_map_and_wait_child(void *data)
{
	struct child_user_arg *a = data;
	void *p;
	int fd;

	fd = st_open();
	CHILD_CHECK(fd >= 0);
	CHILD_CHECK_EQ(0, st_attach(fd, a->name, 0, NULL, NULL));
	p = mmap(NULL, page_size, PROT_READ, MAP_SHARED, fd, 0);
	CHILD_CHECK(p != MAP_FAILED);
	CHILD_CHECK_EQ(0, handshake_child_wait(a->hs));
	return 0;
}

TEST_F(shmdev, info_counts_files_and_maps_of_child)
{
	struct child_user_arg arg = { .name = new_name(self) };
	struct shmdev_info info;
	struct handshake hs;
	uint8_t *p;
	pid_t pid;

	p = create_and_map(_metadata, self, arg.name, page_size);
	ASSERT_EQ(0, handshake_init(&hs));
	arg.hs = &hs;
	pid = spawn_child(NULL, attach_map_and_wait_child, &arg);
	ASSERT_LT(0, pid);
	ASSERT_EQ(0, handshake_parent_wait(&hs));
	ASSERT_EQ(0, st_info(self->fd, &info));
	EXPECT_EQ(2U, info.nr_files);
	/* Ours, the child's copy of ours, and the child's own. */
	EXPECT_EQ(3U, info.nr_maps);

	handshake_go(&hs, true);
	EXPECT_EQ(0, wait_child(pid));
	ASSERT_EQ(0, st_info(self->fd, &info));
	EXPECT_EQ(1U, info.nr_files);
	EXPECT_EQ(1U, info.nr_maps);
	munmap(p, page_size);
}

TEST_F(shmdev, info_counts_touched_pages)
{
	volatile uint8_t *p;
	size_t len = 16 * page_size;
	struct shmdev_info info;
	uint64_t pages = module_pages();

	p = create_and_map(_metadata, self, "", len);
	ASSERT_EQ(0, st_info(self->fd, &info));
	EXPECT_EQ(0U, info.nr_pages);
	p[0] = 1;
	p[5 * page_size + 17] = 1;
	p[9 * page_size] = 1;
	(void)p[12 * page_size + 99];
	ASSERT_EQ(0, st_info(self->fd, &info));
	EXPECT_EQ(4U, info.nr_pages);
	EXPECT_EQ(pages + 4, module_pages());
	munmap((void *)p, len);
}

/* ioctl numbers */

TEST_F(shmdev, ioctl_unknown_shmdev_command_enotty)
{
	struct shmdev_info buf;

	memset(&buf, 0, sizeof(buf));
	EXPECT_EQ(-ENOTTY, st_ioctl(self->fd,
				    _IOWR(SHMDEV_IOC_MAGIC, 0x7f,
					  struct shmdev_info), &buf));
}

TEST_F(shmdev, ioctl_wrong_size_shmdev_command_enotty)
{
	uint64_t buf[32];

	/* SHMDEV_IOC_VERSION's number with another size is another command */
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(-ENOTTY, st_ioctl(self->fd,
				    _IOR(SHMDEV_IOC_MAGIC, 0x00, uint64_t),
				    buf));
}

TEST_F(shmdev, ioctl_foreign_command_enotty)
{
	char buf[256];

	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(-ENOTTY, st_ioctl(self->fd, TCGETS, buf));
}

/* mmap */

TEST_F(shmdev, mmap_unbound_enodev)
{
	void *p;

	p = mmap(NULL, page_size, PROT_READ, MAP_SHARED, self->fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(ENODEV, errno);
}

TEST_F(shmdev, mmap_length_beyond_segment_einval)
{
	struct shmdev_info info;
	void *p;

	ASSERT_EQ(0, st_create(self->fd, "", 2 * page_size, 0600, NULL));
	p = mmap(NULL, 3 * page_size, PROT_READ, MAP_SHARED, self->fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, st_info(self->fd, &info));
	EXPECT_EQ(0U, info.nr_maps);
}

TEST_F(shmdev, mmap_offset_beyond_segment_einval)
{
	struct shmdev_info info;
	void *p;

	ASSERT_EQ(0, st_create(self->fd, "", 2 * page_size, 0600, NULL));
	p = mmap(NULL, page_size, PROT_READ, MAP_SHARED, self->fd,
		 2 * page_size);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	p = mmap(NULL, 2 * page_size, PROT_READ, MAP_SHARED, self->fd,
		 page_size);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, st_info(self->fd, &info));
	EXPECT_EQ(0U, info.nr_maps);
}

TEST_F(shmdev, mmap_offset_range_maps_matching_pages)
{
	size_t len = 4 * page_size;
	uint8_t *p, *q;

	p = create_and_map(_metadata, self, "", len);
	st_fill(p, len, SEED_A);
	q = mmap(NULL, 2 * page_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		 self->fd, 2 * page_size);
	ASSERT_NE(MAP_FAILED, q) TH_LOG("mmap: %s", strerror(errno));
	EXPECT_EQ(0, memcmp(q, p + 2 * page_size, 2 * page_size));
	q[page_size + 1] ^= 0xff;
	EXPECT_EQ(q[page_size + 1], p[3 * page_size + 1]);
	munmap(q, 2 * page_size);
	munmap(p, len);
}

TEST_F(shmdev, new_segment_reads_zero)
{
	size_t len = 16 * page_size;
	uint8_t *p;
	int fd;

	/* Dirty pages and free them: the new segment may well get them. */
	fd = create_on_new_fd(_metadata, "", len, 0600);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	memset(p, 0xa5, len);
	munmap(p, len);
	close(fd);

	p = create_and_map(_metadata, self, "", len);
	EXPECT_TRUE(all_zero(p, len));
	munmap(p, len);
}

TEST_F(shmdev, mmap_unaligned_tail_reads_zero)
{
	uint64_t size = page_size + 100;
	size_t len = pages_of(size);
	uint8_t *p;

	/* The mapping covers the whole last page, not only the size. */
	ASSERT_EQ(0, st_create(self->fd, "", size, 0600, NULL));
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, p) TH_LOG("mmap: %s", strerror(errno));
	st_fill(p, size, SEED_A);
	EXPECT_TRUE(all_zero(p + size, len - size));
	EXPECT_EQ(size, st_mismatch(p, size, SEED_A));
	munmap(p, len);
}

/* Grows a mapping of a @size segment past its end; touching there is SIGBUS */
static void check_sigbus_past_end(struct __test_metadata *_metadata,
				  FIXTURE_DATA(shmdev) *self, uint64_t size)
{
	size_t len = pages_of(size), grown = len + 2 * page_size;
	uint8_t *p, *q;
	int status;

	p = create_and_map(_metadata, self, "", size);
	p[0] = 0x11;
	q = mremap(p, len, grown, MREMAP_MAYMOVE);
	ASSERT_NE(MAP_FAILED, q) TH_LOG("mremap: %s", strerror(errno));
	EXPECT_EQ(0x11, q[0]);
	EXPECT_EQ(0, q[len - 1]);

	status = touch_in_child(q + len, false);
	EXPECT_TRUE(WIFSIGNALED(status));
	EXPECT_EQ(SIGBUS, WTERMSIG(status));
	status = touch_in_child(q + len + page_size + 8, true);
	EXPECT_TRUE(WIFSIGNALED(status));
	EXPECT_EQ(SIGBUS, WTERMSIG(status));
	munmap(q, grown);
}

TEST_F(shmdev, mremap_grow_past_end_sigbus)
{
	check_sigbus_past_end(_metadata, self, 2 * page_size);
}

TEST_F(shmdev, mremap_grow_past_unaligned_end_sigbus)
{
	check_sigbus_past_end(_metadata, self, page_size + 1);
}

/* Sharing between processes */

struct fill_arg {
	uint8_t *p;
	size_t len;
	uint8_t seed;
};

static int fill_child(void *data)
{
	struct fill_arg *a = data;

	st_fill(a->p, a->len, a->seed);
	CHILD_CHECK_EQ(a->len, st_mismatch(a->p, a->len, a->seed));
	return 0;
}

static int verify_child(void *data)
{
	struct fill_arg *a = data;

	CHILD_CHECK_EQ(a->len, st_mismatch(a->p, a->len, a->seed));
	return 0;
}

TEST_F(shmdev, fork_shares_shared_mapping)
{
	size_t len = 4 * page_size;
	struct fill_arg arg;
	uint8_t *p;

	p = create_and_map(_metadata, self, "", len);
	arg = (struct fill_arg){ .p = p, .len = len, .seed = SEED_A };
	ASSERT_EQ(0, run_child(NULL, fill_child, &arg));
	EXPECT_EQ(len, st_mismatch(p, len, SEED_A));

	st_fill(p, len, SEED_B);
	arg.seed = SEED_B;
	EXPECT_EQ(0, run_child(NULL, verify_child, &arg));
	munmap(p, len);
}

#define FAULT_AROUND_PAGES	16	/* default fault_around_bytes / 4 KiB */

struct read_faults_arg {
	int fd;
	size_t len;
};

/* Maps the segment anew, reads every page and counts its page faults. */
static int read_faults_child(void *data)
{
	struct read_faults_arg *a = data;
	size_t pages = a->len / page_size, i;
	struct rusage before, after;
	volatile const uint8_t *q;
	long faults;

	q = mmap(NULL, a->len, PROT_READ, MAP_SHARED, a->fd, 0);
	CHILD_CHECK(q != MAP_FAILED);
	CHILD_CHECK(!getrusage(RUSAGE_SELF, &before));
	for (i = 0; i < pages; i++)
		CHILD_CHECK_EQ(st_pattern(i * page_size, SEED_A),
			       q[i * page_size]);
	CHILD_CHECK(!getrusage(RUSAGE_SELF, &after));
	faults = after.ru_minflt - before.ru_minflt;
	if (faults > (long)(pages / FAULT_AROUND_PAGES + 2)) {
		fprintf(stderr, "# %ld faults to read %zu pages\n",
			faults, pages);
		return 1;
	}
	return 0;
}

/*
 * A second process reading a populated segment takes one fault per
 * fault-around window, not one per page: ->map_pages maps the neighbours
 * that are already in the page cache.
 */
TEST_F(shmdev, attach_read_faults_around_populated_pages)
{
	size_t len = 256 * page_size;
	struct read_faults_arg arg = { .fd = self->fd, .len = len };
	uint8_t *p;

	p = create_and_map(_metadata, self, "", len);
	st_fill(p, len, SEED_A);
	EXPECT_EQ(0, run_child(NULL, read_faults_child, &arg));
	munmap(p, len);
}

TEST_F(shmdev, fork_copies_private_mapping)
{
	size_t len = 4 * page_size;
	struct fill_arg arg;
	uint8_t *p, *q;

	p = create_and_map(_metadata, self, "", len);
	st_fill(p, len, SEED_A);
	q = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, self->fd, 0);
	ASSERT_NE(MAP_FAILED, q) TH_LOG("mmap: %s", strerror(errno));
	/* One page of our own copy already, the rest still the segment's. */
	q[0] ^= 0xff;

	arg = (struct fill_arg){ .p = q, .len = len, .seed = SEED_B };
	ASSERT_EQ(0, run_child(NULL, fill_child, &arg));
	EXPECT_EQ((uint8_t)(st_pattern(0, SEED_A) ^ 0xff), q[0]);
	EXPECT_EQ(0, memcmp(q + 1, p + 1, len - 1));
	EXPECT_EQ(len, st_mismatch(p, len, SEED_A));
	munmap(q, len);
	munmap(p, len);
}

TEST_F(shmdev, private_mapping_is_copy_on_write)
{
	const char *name = new_name(self);
	size_t len = 4 * page_size;
	uint8_t *p, *q, *r;

	p = create_and_map(_metadata, self, name, len);
	st_fill(p, len, SEED_A);
	q = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, self->fd, 0);
	ASSERT_NE(MAP_FAILED, q) TH_LOG("mmap: %s", strerror(errno));
	EXPECT_EQ(len, st_mismatch(q, len, SEED_A));

	st_fill(q, len, SEED_B);
	EXPECT_EQ(len, st_mismatch(q, len, SEED_B));
	EXPECT_EQ(len, st_mismatch(p, len, SEED_A));
	r = mmap(NULL, len, PROT_READ, MAP_PRIVATE, self->fd, 0);
	ASSERT_NE(MAP_FAILED, r);
	EXPECT_EQ(len, st_mismatch(r, len, SEED_A));
	/* Another process sees the segment unchanged too. */
	EXPECT_EQ(0, run_peer(NULL, 0, "check", name,
			      __stringify(SEED_A), NULL));
	munmap(r, len);
	munmap(q, len);
	munmap(p, len);
}

TEST_F(shmdev, shared_writes_visible_across_exec)
{
	const char *name = new_name(self);
	size_t len = 8 * page_size;
	char path[PATH_MAX];
	uint8_t *p;

	ASSERT_EQ(0, peer_path(path, sizeof(path)))
		TH_LOG(PEER_PROG " not found next to this program");
	p = create_and_map(_metadata, self, name, len);
	ASSERT_EQ(0, run_peer(NULL, 0, "fill", name,
			      __stringify(SEED_A), NULL));
	EXPECT_EQ(len, st_mismatch(p, len, SEED_A));

	st_fill(p, len, SEED_B);
	EXPECT_EQ(0, run_peer(NULL, 0, "check", name,
			      __stringify(SEED_B), NULL));
	/* The checker does notice a wrong pattern. */
	EXPECT_EQ(1, run_peer(NULL, 0, "check", name,
			      __stringify(SEED_A), NULL));
	munmap(p, len);
}

TEST_F(shmdev, named_segment_persists_after_creator_exits)
{
	const char *name = new_name(self);
	uint64_t size = 5 * page_size + 17, id, got_size, got_id;
	char path[PATH_MAX], out[512], size_str[32];
	uint8_t *p;

	ASSERT_EQ(0, peer_path(path, sizeof(path)))
		TH_LOG(PEER_PROG " not found next to this program");
	snprintf(size_str, sizeof(size_str), "%llu", (unsigned long long)size);
	ASSERT_EQ(0, run_peer(out, sizeof(out), "create", name, size_str,
			      "0640", NULL));
	id = strtoull(out, NULL, 10);
	ASSERT_EQ(0, run_peer(NULL, 0, "fill", name,
			      __stringify(SEED_C), NULL));

	/* Both processes have exited; the segment and its data remain. */
	ASSERT_EQ(0, st_attach(self->fd, name, 0, &got_size, &got_id));
	EXPECT_EQ(id, got_id);
	EXPECT_EQ(size, got_size);
	p = mmap(NULL, size, PROT_READ, MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(size, st_mismatch(p, size, SEED_C));

	ASSERT_EQ(0, run_peer(out, sizeof(out), "info", name, NULL));
	EXPECT_EQ((long long)id, info_value(out, "id"));
	EXPECT_EQ((long long)size, info_value(out, "size"));
	EXPECT_EQ(0640, info_value(out, "mode"));
	/* Our file and the peer's own. */
	EXPECT_EQ(2, info_value(out, "files"));
	EXPECT_EQ(1, info_value(out, "maps"));
	munmap(p, size);
}

struct counter_page {
	pthread_mutex_t lock;
	unsigned long count;
};

struct seg_child_arg {
	const char *name;
	size_t len;
	void *parent_map;
};

/* Attaches and maps the segment anew, at an address of its own. */
static void *child_map(const struct seg_child_arg *a)
{
	void *p;
	int fd;

	fd = st_open();
	CHILD_CHECK(fd >= 0);
	CHILD_CHECK_EQ(0, st_attach(fd, a->name, 0, NULL, NULL));
	p = mmap(NULL, a->len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHILD_CHECK(p != MAP_FAILED);
	CHILD_CHECK(p != a->parent_map);
	return p;
}

static int mutex_child(void *data)
{
	struct counter_page *cp = child_map(data);
	int i;

	/* Not atomic: only the mutex keeps increments from getting lost. */
	for (i = 0; i < MUTEX_LOOPS; i++) {
		CHILD_CHECK_EQ(0, pthread_mutex_lock(&cp->lock));
		cp->count++;
		CHILD_CHECK_EQ(0, pthread_mutex_unlock(&cp->lock));
	}
	return 0;
}

TEST_F_TIMEOUT(shmdev, pshared_mutex_counter_across_processes, 180)
{
	struct seg_child_arg arg = { .name = new_name(self) };
	pthread_mutexattr_t attr;
	pid_t pids[MUTEX_PROCS];
	struct counter_page *cp;
	int i;

	arg.len = page_size;
	cp = (void *)create_and_map(_metadata, self, arg.name, arg.len);
	arg.parent_map = cp;
	ASSERT_EQ(0, pthread_mutexattr_init(&attr));
	ASSERT_EQ(0, pthread_mutexattr_setpshared(&attr,
						  PTHREAD_PROCESS_SHARED));
	ASSERT_EQ(0, pthread_mutex_init(&cp->lock, &attr));
	cp->count = 0;

	for (i = 0; i < MUTEX_PROCS; i++)
		pids[i] = spawn_child(NULL, mutex_child, &arg);
	for (i = 0; i < MUTEX_PROCS; i++)
		EXPECT_EQ(0, wait_child(pids[i]));
	EXPECT_EQ((unsigned long)MUTEX_PROCS * MUTEX_LOOPS, cp->count);
	munmap(cp, arg.len);
}

static long futex(uint32_t *word, int op, uint32_t val,
		  const struct timespec *timeout)
{
	return syscall(SYS_futex, word, op, val, timeout, NULL, 0);
}

static int futex_wait_child(void *data)
{
	const struct timespec timeout = { .tv_sec = 20 };
	uint32_t *word = child_map(data);

	CHILD_CHECK_EQ(0, futex(word, FUTEX_WAIT, 0, &timeout));
	return 0;
}

/* A shared futex is keyed by the page, not by the address of a mapping. */
TEST_F(shmdev, futex_wake_reaches_waiter_at_other_address)
{
	struct seg_child_arg arg = { .name = new_name(self) };
	long woken = 0;
	uint32_t *word;
	pid_t pid;
	int i;

	arg.len = page_size;
	word = (void *)create_and_map(_metadata, self, arg.name, arg.len);
	arg.parent_map = word;
	pid = spawn_child(NULL, futex_wait_child, &arg);
	ASSERT_LT(0, pid);
	/* Wake until the child has got to sleep and is woken. */
	for (i = 0; i < 1000 && !woken; i++) {
		woken = futex(word, FUTEX_WAKE, 1, NULL);
		if (!woken)
			usleep(10000);
	}
	EXPECT_EQ(1, woken) TH_LOG("FUTEX_WAKE: %s", strerror(errno));
	if (woken != 1)
		kill(pid, SIGKILL);
	EXPECT_EQ(0, wait_child(pid));
	munmap(word, arg.len);
}

struct pingpong {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned int turn;	/* player to move: 0 parent, 1 child */
	unsigned int moves;
};

/* Makes @rounds moves as player @me; 0, or the pthread error. */
static int play(struct pingpong *pp, unsigned int me, unsigned int rounds)
{
	struct timespec deadline;
	unsigned int i;
	int ret;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 60;
	for (i = 0; i < rounds; i++) {
		ret = pthread_mutex_lock(&pp->lock);
		if (ret)
			return ret;
		while (pp->turn != me && !ret)
			ret = pthread_cond_timedwait(&pp->cond, &pp->lock,
						     &deadline);
		if (!ret) {
			pp->moves++;
			pp->turn = !me;
			ret = pthread_cond_broadcast(&pp->cond);
		}
		pthread_mutex_unlock(&pp->lock);
		if (ret)
			return ret;
	}
	return 0;
}

static int pingpong_child(void *data)
{
	struct pingpong *pp = child_map(data);

	CHILD_CHECK_EQ(0, play(pp, 1, PINGPONG_ROUNDS));
	return 0;
}

TEST_F_TIMEOUT(shmdev, pshared_condvar_ping_pong, 120)
{
	struct seg_child_arg arg = { .name = new_name(self) };
	pthread_mutexattr_t mattr;
	pthread_condattr_t cattr;
	struct pingpong *pp;
	pid_t pid;

	arg.len = page_size;
	pp = (void *)create_and_map(_metadata, self, arg.name, arg.len);
	arg.parent_map = pp;
	ASSERT_EQ(0, pthread_mutexattr_init(&mattr));
	ASSERT_EQ(0, pthread_mutexattr_setpshared(&mattr,
						  PTHREAD_PROCESS_SHARED));
	ASSERT_EQ(0, pthread_condattr_init(&cattr));
	ASSERT_EQ(0, pthread_condattr_setpshared(&cattr,
						 PTHREAD_PROCESS_SHARED));
	ASSERT_EQ(0, pthread_mutex_init(&pp->lock, &mattr));
	ASSERT_EQ(0, pthread_cond_init(&pp->cond, &cattr));
	pp->turn = 0;
	pp->moves = 0;

	pid = spawn_child(NULL, pingpong_child, &arg);
	ASSERT_LT(0, pid);
	EXPECT_EQ(0, play(pp, 0, PINGPONG_ROUNDS));
	EXPECT_EQ(0, wait_child(pid));
	EXPECT_EQ(2U * PINGPONG_ROUNDS, pp->moves);
	EXPECT_EQ(0U, pp->turn);
	munmap(pp, arg.len);
}

/* Lifecycle and page accounting */

TEST_F(shmdev, anonymous_segment_freed_after_last_user)
{
	size_t len = 8 * page_size;
	uint64_t pages = module_pages();
	uint8_t *p;

	p = create_and_map(_metadata, self, "", len);
	st_fill(p, len, SEED_A);
	EXPECT_EQ(pages + 8, module_pages());

	/* The mapping alone keeps the segment. */
	close(self->fd);
	self->fd = -1;
	EXPECT_EQ(pages + 8, module_pages());
	EXPECT_EQ(len, st_mismatch(p, len, SEED_A));

	munmap(p, len);
	EXPECT_EQ(pages, settle_pages(pages));
}

/*
 * Creates @name on self->fd with @len bytes of the pattern for @seed and
 * closes self->fd, so that only the name holds the segment.
 */
static void create_filled_and_close(struct __test_metadata *_metadata,
				    FIXTURE_DATA(shmdev) *self,
				    const char *name, size_t len, uint8_t seed)
{
	uint8_t *p;

	p = create_and_map(_metadata, self, name, len);
	st_fill(p, len, seed);
	munmap(p, len);
	close(self->fd);
	self->fd = -1;
}

/*
 * The segment bound to @fd still has its @len bytes of @seed's pattern, its
 * pages in memory or in swap.
 */
static void check_data_kept(struct __test_metadata *_metadata, int fd,
			    size_t len, uint8_t seed)
{
	struct shmdev_info info;
	uint8_t *p;

	ASSERT_EQ(0, st_info(fd, &info));
	EXPECT_EQ(len / page_size, info.nr_pages + info.nr_swapped);
	p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(len, st_mismatch(p, len, seed));
	munmap(p, len);
}

TEST_F(shmdev, named_segment_pages_kept_until_unlink)
{
	const char *name = new_name(self);
	size_t len = 8 * page_size;
	uint64_t pages = module_pages();

	create_filled_and_close(_metadata, self, name, len, SEED_A);
	EXPECT_EQ(pages + 8, module_pages());

	self->fd = st_open();
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, st_unlink(self->fd, name));
	EXPECT_EQ(pages, settle_pages(pages));
}

TEST_F(shmdev, unlinked_segment_freed_after_last_holder)
{
	const char *name = new_name(self);
	size_t len = 8 * page_size;
	uint64_t pages = module_pages();
	pid_t holder;

	create_filled_and_close(_metadata, self, name, len, SEED_A);

	holder = start_holder(name);
	ASSERT_LT(0, holder) TH_LOG("cannot start " PEER_PROG " hold");
	self->fd = st_open();
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, st_unlink(self->fd, name));
	EXPECT_EQ(-ENOENT, st_attach(self->fd, name, 0, NULL, NULL));
	/* The holder's file and mapping keep the pages. */
	EXPECT_EQ(pages + 8, module_pages());

	EXPECT_EQ(0, stop_holder(holder));
	EXPECT_EQ(pages, settle_pages(pages));
}

TEST_F(shmdev, data_survives_drop_caches)
{
	const char *name = new_name(self);
	size_t len = 32 * page_size;
	uint64_t pages;
	int fd;

	if (geteuid() != 0)
		SKIP(return, "needs root to write " DROP_CACHES);
	create_filled_and_close(_metadata, self, name, len, SEED_B);
	pages = module_pages();

	fd = open(DROP_CACHES, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		SKIP(return, "cannot open " DROP_CACHES ": %s",
		     strerror(errno));
	EXPECT_EQ(2, write(fd, "3\n", 2));
	close(fd);
	EXPECT_EQ(pages, module_pages());

	self->fd = attach_on_new_fd(_metadata, name, SHMDEV_ATTACH_RDONLY);
	check_data_kept(_metadata, self->fd, len, SEED_B);
}

/*
 * Reclaim must not drop the pages either: it may only move them to swap,
 * where the segment still holds them. This also covers modules whose
 * inodes drop_caches never visits.
 */
TEST_F(shmdev, data_survives_madvise_pageout)
{
	const char *name = new_name(self);
	size_t len = 32 * page_size;
	uint64_t pages;
	uint8_t *p;
	int ret;

	p = create_and_map(_metadata, self, name, len);
	st_fill(p, len, SEED_C);
	pages = module_pages();
	ret = madvise(p, len, MADV_PAGEOUT);
	if (ret && errno == EINVAL)
		SKIP(return, "MADV_PAGEOUT not supported");
	EXPECT_EQ(0, ret);
	munmap(p, len);
	EXPECT_EQ(pages, module_pages());
	check_data_kept(_metadata, self->fd, len, SEED_C);
}

/* Read-only attach */

TEST_F(shmdev, attach_readonly_sets_info_flag)
{
	const char *name = new_name(self);
	struct shmdev_info info;
	int ro;

	ASSERT_EQ(0, st_create(self->fd, name, page_size, 0600, NULL));
	ro = attach_on_new_fd(_metadata, name, SHMDEV_ATTACH_RDONLY);
	ASSERT_EQ(0, st_info(ro, &info));
	EXPECT_EQ((uint32_t)SHMDEV_INFO_RDONLY, info.flags);
	ASSERT_EQ(0, st_info(self->fd, &info));
	EXPECT_EQ(0U, info.flags);
	close(ro);
}

TEST_F(shmdev, attach_readonly_rejects_shared_write_mmap)
{
	const char *name = new_name(self);
	struct shmdev_info info;
	void *p;
	int ro;

	ASSERT_EQ(0, st_create(self->fd, name, page_size, 0600, NULL));
	ro = attach_on_new_fd(_metadata, name, SHMDEV_ATTACH_RDONLY);
	p = mmap(NULL, page_size, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EACCES, errno);
	ASSERT_EQ(0, st_info(ro, &info));
	EXPECT_EQ(0U, info.nr_maps);
	p = mmap(NULL, page_size, PROT_READ, MAP_SHARED, ro, 0);
	EXPECT_NE(MAP_FAILED, p);
	close(ro);
}

TEST_F(shmdev, attach_readonly_rejects_mprotect_write)
{
	const char *name = new_name(self);
	size_t len = 2 * page_size;
	uint8_t *w, *r;
	int ro;

	w = create_and_map(_metadata, self, name, len);
	ro = attach_on_new_fd(_metadata, name, SHMDEV_ATTACH_RDONLY);
	r = mmap(NULL, len, PROT_READ, MAP_SHARED, ro, 0);
	ASSERT_NE(MAP_FAILED, r) TH_LOG("mmap: %s", strerror(errno));
	EXPECT_EQ(-1, mprotect(r, len, PROT_READ | PROT_WRITE));
	EXPECT_EQ(EACCES, errno);
	/* Still a live view of the segment. */
	st_fill(w, len, SEED_A);
	EXPECT_EQ(len, st_mismatch(r, len, SEED_A));
	munmap(r, len);
	munmap(w, len);
	close(ro);
}

TEST_F(shmdev, attach_readonly_allows_private_write_cow)
{
	const char *name = new_name(self);
	size_t len = 2 * page_size;
	uint8_t *w, *q;
	int ro;

	w = create_and_map(_metadata, self, name, len);
	st_fill(w, len, SEED_A);
	ro = attach_on_new_fd(_metadata, name, SHMDEV_ATTACH_RDONLY);
	q = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, ro, 0);
	ASSERT_NE(MAP_FAILED, q) TH_LOG("mmap: %s", strerror(errno));
	st_fill(q, len, SEED_B);
	EXPECT_EQ(len, st_mismatch(q, len, SEED_B));
	EXPECT_EQ(len, st_mismatch(w, len, SEED_A));
	munmap(q, len);
	munmap(w, len);
	close(ro);
}

/* The segment file behind a mapping */

TEST_F(shmdev, msync_of_shared_mapping_succeeds)
{
	size_t len = 2 * page_size;
	uint8_t *p;

	p = create_and_map(_metadata, self, "", len);
	st_fill(p, len, SEED_A);
	EXPECT_EQ(0, msync(p, len, MS_SYNC)) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(0, msync(p, len, MS_ASYNC)) TH_LOG("%s", strerror(errno));
	EXPECT_EQ(len, st_mismatch(p, len, SEED_A));
	munmap(p, len);
}

/* The line of /proc/self/maps that maps @addr, or "" if none does. */
static void maps_line(const void *addr, char *line, size_t len)
{
	unsigned long start, end;
	FILE *maps = fopen("/proc/self/maps", "r");

	line[0] = '\0';
	if (!maps)
		return;
	while (fgets(line, len, maps)) {
		if (sscanf(line, "%lx-%lx", &start, &end) == 2 &&
		    start == (unsigned long)addr)
			break;
		line[0] = '\0';
	}
	fclose(maps);
}

TEST_F(shmdev, proc_maps_names_the_segment)
{
	const char *name = new_name(self);
	char line[512], want[SHMDEV_NAME_MAX + 16];
	uint8_t *p, *anon;
	int fd;

	p = create_and_map(_metadata, self, name, page_size);
	maps_line(p, line, sizeof(line));
	snprintf(want, sizeof(want), "/shmdev:%s ", name);
	EXPECT_NE(NULL, strstr(line, want)) TH_LOG("maps: %s", line);

	fd = create_on_new_fd(_metadata, "", page_size, 0600);
	anon = mmap(NULL, page_size, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, anon);
	maps_line(anon, line, sizeof(line));
	EXPECT_NE(NULL, strstr(line, "/shmdev ")) TH_LOG("maps: %s", line);
	munmap(anon, page_size);
	munmap(p, page_size);
	close(fd);
}

/*
 * The segment file is reachable by path through /proc/self/map_files (for
 * CAP_SYS_ADMIN); neither truncate() nor open() there may change the
 * segment.
 */
TEST_F(shmdev, map_files_path_cannot_truncate_or_open_segment)
{
	size_t len = 4 * page_size;
	struct shmdev_info info;
	char path[128];
	uint8_t *p;

	if (geteuid() != 0)
		SKIP(return, "needs root to reach /proc/self/map_files");
	p = create_and_map(_metadata, self, "", len);
	st_fill(p, len, SEED_A);
	snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx",
		 (unsigned long)p, (unsigned long)p + len);

	EXPECT_EQ(-1, truncate(path, 0));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, truncate(path, 2 * len));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(-1, open(path, O_RDWR));
	EXPECT_EQ(-1, chmod(path, 0666));

	ASSERT_EQ(0, st_info(self->fd, &info));
	EXPECT_EQ(len, info.size);
	EXPECT_EQ(len, st_mismatch(p, len, SEED_A));
	munmap(p, len);
}

/* Permissions */

TEST_F(shmdev, attach_owner_without_write_bit_eacces)
{
	struct create_arg c = { .name = new_name(self), .mode = 0400 };
	struct attach_expect e = { .name = c.name, .ro = 0, .rw = -EACCES };
	const struct creds *cr;

	UNPRIVILEGED_CREDS_OR_SKIP(cr);
	ASSERT_EQ(0, run_child(cr, create_child, &c));
	EXPECT_EQ(0, run_child(cr, attach_expect_child, &e));
}

TEST_F(shmdev, attach_owner_without_read_bit_eacces)
{
	struct create_arg c = { .name = new_name(self), .mode = 0200 };
	struct attach_expect e = {
		.name = c.name, .ro = -EACCES, .rw = -EACCES,
	};
	const struct creds *cr;

	UNPRIVILEGED_CREDS_OR_SKIP(cr);
	ASSERT_EQ(0, run_child(cr, create_child, &c));
	EXPECT_EQ(0, run_child(cr, attach_expect_child, &e));
}

TEST_F(shmdev, attach_root_overrides_mode)
{
	const char *name = new_name(self);
	int fd;

	if (geteuid() != 0)
		SKIP(return, "needs root (CAP_IPC_OWNER)");
	ASSERT_EQ(0, st_create(self->fd, name, page_size, 0000, NULL));
	fd = st_open();
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, st_attach(fd, name, 0, NULL, NULL));
	close(fd);
	fd = st_open();
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, st_attach(fd, name, SHMDEV_ATTACH_RDONLY, NULL, NULL));
	close(fd);
}

TEST_F(shmdev, attach_other_user_checks_other_bits)
{
	struct attach_expect none = { .ro = -EACCES, .rw = -EACCES };
	struct attach_expect rd = { .ro = 0, .rw = -EACCES };
	struct attach_expect rdwr = { .ro = 0, .rw = 0 };
	const char *reason;
	int a, b, c;

	reason = no_other_users();
	if (reason)
		SKIP(return, "%s", reason);
	/* Owned by root; user_a is neither owner nor in the group. */
	none.name = new_name(self);
	rd.name = new_name(self);
	rdwr.name = new_name(self);
	a = create_on_new_fd(_metadata, none.name, page_size, 0770);
	b = create_on_new_fd(_metadata, rd.name, page_size, 0664);
	c = create_on_new_fd(_metadata, rdwr.name, page_size, 0606);
	EXPECT_EQ(0, run_child(&user_a, attach_expect_child, &none));
	EXPECT_EQ(0, run_child(&user_a, attach_expect_child, &rd));
	EXPECT_EQ(0, run_child(&user_a, attach_expect_child, &rdwr));
	close(a);
	close(b);
	close(c);
}

static int check_owner_child(void *data)
{
	const char *name = data;
	struct shmdev_info info;
	int fd;

	fd = st_open();
	CHILD_CHECK(fd >= 0);
	CHILD_CHECK_EQ(0, st_attach(fd, name, SHMDEV_ATTACH_RDONLY,
				    NULL, NULL));
	CHILD_CHECK_EQ(0, st_info(fd, &info));
	CHILD_CHECK_EQ(user_a.uid, info.uid);
	CHILD_CHECK_EQ(user_a.gid, info.gid);
	return 0;
}

TEST_F(shmdev, attach_group_member_checks_group_bits)
{
	struct create_arg c = { .name = new_name(self), .mode = 0640 };
	struct attach_expect member = {
		.name = c.name, .ro = 0, .rw = -EACCES,
	};
	struct attach_expect outsider = {
		.name = c.name, .ro = -EACCES, .rw = -EACCES,
	};
	const char *reason;

	reason = no_other_users();
	if (reason)
		SKIP(return, "%s", reason);
	ASSERT_EQ(0, run_child(&user_a, create_child, &c));
	ASSERT_EQ(0, run_child(&user_a, check_owner_child, (void *)c.name));
	EXPECT_EQ(0, run_child(&user_b_in_group, attach_expect_child,
			       &member));
	EXPECT_EQ(0, run_child(&user_b, attach_expect_child, &outsider));
}

struct unlink_expect {
	const char *name;
	int ret;	/* expected result of the unlink */
};

static int unlink_child(void *data)
{
	struct unlink_expect *e = data;
	int fd = st_open();

	CHILD_CHECK(fd >= 0);
	CHILD_CHECK_EQ(e->ret, st_unlink(fd, e->name));
	return 0;
}

TEST_F(shmdev, unlink_by_other_user_eperm)
{
	struct unlink_expect e = { .name = new_name(self), .ret = -EPERM };
	const char *reason;

	reason = no_other_users();
	if (reason)
		SKIP(return, "%s", reason);
	/* Even with every permission bit set. */
	ASSERT_EQ(0, st_create(self->fd, e.name, page_size, 0777, NULL));
	EXPECT_EQ(0, run_child(&user_a, unlink_child, &e));
	check_name_exists(_metadata, e.name);
}

TEST_F(shmdev, unlink_by_owner_succeeds)
{
	struct create_arg c = { .name = new_name(self), .mode = 0600 };
	struct unlink_expect e = { .name = c.name, .ret = 0 };
	const struct creds *cr;

	UNPRIVILEGED_CREDS_OR_SKIP(cr);
	ASSERT_EQ(0, run_child(cr, create_child, &c));
	EXPECT_EQ(0, run_child(cr, unlink_child, &e));
	EXPECT_EQ(-ENOENT, st_attach(self->fd, c.name, SHMDEV_ATTACH_RDONLY,
				     NULL, NULL));
}

/* STAT: SysV's bookkeeping */

static int st_stat(int fd, struct shmdev_stat *st)
{
	memset(st, 0, sizeof(*st));
	return st_ioctl(fd, SHMDEV_IOC_STAT, st);
}

/* STAT of @name through a read-only attach of this process, or -errno. */
static int stat_of(const char *name, struct shmdev_stat *st)
{
	int fd = st_open(), ret;

	if (fd < 0)
		return fd;
	/* NEWFD: the attach and the release stay out of the figures. */
	ret = st_attach(fd, name, SHMDEV_ATTACH_RDONLY, NULL, NULL);
	if (!ret)
		ret = st_stat(fd, st);
	close(fd);
	return ret;
}

/* Attaches @arg's name and exits, closing the file: attach, then detach. */
static int attach_and_exit_child(void *arg)
{
	int fd = st_open();

	CHILD_CHECK(fd >= 0);
	CHILD_CHECK_EQ(0, st_attach(fd, arg, SHMDEV_ATTACH_RDONLY, NULL,
				    NULL));
	close(fd);
	return 0;
}

TEST_F(shmdev, stat_reports_creator_attacher_and_times)
{
	const char *name = new_name(self);
	struct shmdev_stat st, again;
	int64_t t0 = time(NULL);
	pid_t child;
	uint64_t id;
	int fd;

	ASSERT_EQ(0, st_create(self->fd, name, page_size, 0644, &id));
	ASSERT_EQ(0, st_stat(self->fd, &st));
	EXPECT_EQ(id, st.id);
	/* CREATE binds the creator's file: its attach. */
	EXPECT_EQ(getpid(), st.cpid);
	EXPECT_EQ(getpid(), st.lpid);
	EXPECT_LE(t0, st.crtime);
	EXPECT_GE(time(NULL), st.crtime);
	EXPECT_EQ(st.crtime, st.chtime);
	EXPECT_EQ(st.crtime, st.atime);
	EXPECT_EQ(0, st.dtime);
	EXPECT_EQ(geteuid(), st.uid);
	EXPECT_EQ(1, st.nr_files);
	EXPECT_STREQ(name, st.name);

	/* Another process attaches and closes: it is the last one. */
	fflush(stdout);
	child = fork();
	ASSERT_LE(0, child);
	if (!child)
		_exit(attach_and_exit_child((void *)name));
	ASSERT_EQ(0, wait_child(child));
	ASSERT_EQ(0, st_stat(self->fd, &st));
	EXPECT_EQ(getpid(), st.cpid);
	EXPECT_EQ(child, st.lpid);
	EXPECT_LE(st.crtime, st.atime);
	EXPECT_LE(st.atime, st.dtime);
	EXPECT_EQ(st.crtime, st.chtime);

	/* A change, a second later at least. */
	sleep(1);
	EXPECT_EQ(0, st_chmod(self->fd, name, 0600));
	ASSERT_EQ(0, st_stat(self->fd, &again));
	EXPECT_LT(st.chtime, again.chtime);
	EXPECT_EQ(st.atime, again.atime);
	EXPECT_EQ(0, st_resize(self->fd, 2 * page_size));
	EXPECT_EQ(0, st_stat(self->fd, &st));
	EXPECT_LE(again.chtime, st.chtime);
	/* Unbound: nothing to report. */
	fd = st_open();
	ASSERT_LE(0, fd);
	EXPECT_EQ(-ENODEV, st_stat(fd, &st));
	close(fd);
	/* A bad pointer for a bound file. */
	EXPECT_EQ(-EFAULT, st_ioctl(self->fd, SHMDEV_IOC_STAT, NULL));
}

/* In a new PID namespace: who is visible there, and as what. */
static int stat_pidns_child(void *arg)
{
	const char *name = arg;
	struct shmdev_stat st;
	pid_t inner;

	CHILD_CHECK_EQ(0, unshare(CLONE_NEWPID));
	inner = fork();
	CHILD_CHECK(inner >= 0);
	if (!inner) {
		/* PID 1 of the new namespace; the creator is outside. */
		CHILD_CHECK_EQ(0, attach_and_exit_child((void *)name));
		CHILD_CHECK_EQ(0, stat_of(name, &st));
		CHILD_CHECK_EQ(0, st.cpid);
		CHILD_CHECK_EQ(1, st.lpid);
		_exit(0);
	}
	CHILD_CHECK_EQ(0, wait_child(inner));
	/* This process is outside the new namespace: the real pid. */
	CHILD_CHECK_EQ(0, stat_of(name, &st));
	CHILD_CHECK_EQ(getpid(), st.lpid);
	return 0;
}

TEST_F(shmdev, stat_pids_as_seen_from_pid_namespace)
{
	const char *name = new_name(self);

	if (geteuid() != 0)
		SKIP(return, "needs root for unshare(CLONE_NEWPID)");
	ASSERT_EQ(0, st_create(self->fd, name, page_size, 0644, NULL));
	EXPECT_EQ(0, run_child(NULL, stat_pidns_child, (void *)name));
}

TEST_F(shmdev, list_stat_entries_match_stat)
{
	const char *names[2] = { new_name(self), new_name(self) };
	struct shmdev_stat v[8], st;
	struct shmdev_list arg;
	uint64_t ids[2];
	int fds[2], i;

	for (i = 0; i < 2; i++) {
		fds[i] = st_open();
		ASSERT_LE(0, fds[i]);
		ASSERT_EQ(0, st_create(fds[i], names[i], page_size, 0600,
				       &ids[i]));
	}
	memset(&arg, 0, sizeof(arg));
	memset(v, 0, sizeof(v));
	arg.entries = (uintptr_t)v;
	arg.after_id = ids[0] - 1;
	arg.nr_entries = 8;
	arg.flags = SHMDEV_LIST_STAT;
	ASSERT_EQ(0, st_ioctl(self->fd, SHMDEV_IOC_LIST, &arg));
	ASSERT_LE(2, arg.nr_entries);
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, st_stat(fds[i], &st));
		EXPECT_EQ(ids[i], v[i].id);
		EXPECT_STREQ(names[i], v[i].name);
		EXPECT_EQ(st.cpid, v[i].cpid);
		EXPECT_EQ(st.crtime, v[i].crtime);
		EXPECT_EQ(1, v[i].nr_files);
		close(fds[i]);
	}
	arg.flags = 1U << 4;
	EXPECT_EQ(-EINVAL, st_ioctl(self->fd, SHMDEV_IOC_LIST, &arg));
}

TEST_F(shmdev, unlink_if_unused_refuses_segment_in_use)
{
	const char *name = new_name(self);
	struct shmdev_unlink arg;
	void *p;
	int fd;

	fd = create_on_new_fd(_metadata, name, page_size, 0600);
	memset(&arg, 0, sizeof(arg));
	st_set_name(arg.name, name);
	arg.flags = SHMDEV_UNLINK_IF_UNUSED;
	/* A bound file ... */
	EXPECT_EQ(-EBUSY, st_ioctl(self->fd, SHMDEV_IOC_UNLINK, &arg));
	/* ... or only a mapping keeps it. */
	p = mmap(NULL, page_size, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	close(fd);
	EXPECT_EQ(-EBUSY, st_ioctl(self->fd, SHMDEV_IOC_UNLINK, &arg));
	check_name_exists(_metadata, name);
	munmap(p, page_size);
	EXPECT_EQ(0, st_ioctl(self->fd, SHMDEV_IOC_UNLINK, &arg));
	EXPECT_EQ(-ENOENT, st_ioctl(self->fd, SHMDEV_IOC_UNLINK, &arg));
}

/* What finds a segment's users in /proc: fdinfo, and maps by inode. */
TEST_F(shmdev, fdinfo_and_maps_identify_segment)
{
	const char *name = new_name(self);
	unsigned int major, minor;
	unsigned long long ino, start;
	char path[64], line[512], want[64];
	struct shmdev_stat st;
	bool id_seen = false, access_seen = false;
	int found = 0, ro;
	uint8_t *p;
	FILE *f;

	ASSERT_EQ(0, st_create(self->fd, name, 2 * page_size, 0600, NULL));
	ASSERT_EQ(0, st_stat(self->fd, &st));
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", self->fd);
	f = fopen(path, "re");
	ASSERT_NE(NULL, f);
	snprintf(want, sizeof(want), "shmdev-id:\t%llu\n",
		 (unsigned long long)st.id);
	while (fgets(line, sizeof(line), f)) {
		id_seen |= !strcmp(line, want);
		access_seen |= !strcmp(line, "shmdev-access:\trw\n");
	}
	fclose(f);
	EXPECT_TRUE(id_seen);
	EXPECT_TRUE(access_seen);

	p = mmap(NULL, 2 * page_size, PROT_READ, MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	f = fopen("/proc/self/maps", "re");
	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx-%*x %*s %*s %x:%x %llu", &start, &major,
			   &minor, &ino) != 4)
			continue;
		if (ino == st.ino && major == st.dev_major &&
		    minor == st.dev_minor) {
			found++;
			EXPECT_EQ((uintptr_t)p, start);
		}
	}
	fclose(f);
	EXPECT_EQ(1, found);
	munmap(p, 2 * page_size);

	/* A read-only attach says so; an unbound file says nothing. */
	ro = st_open();
	ASSERT_LE(0, ro);
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", ro);
	f = fopen(path, "re");
	ASSERT_NE(NULL, f);
	while (fgets(line, sizeof(line), f))
		EXPECT_NE(0, strncmp(line, "shmdev-", 7));
	fclose(f);
	ASSERT_EQ(0, st_attach(ro, name, SHMDEV_ATTACH_RDONLY, NULL, NULL));
	f = fopen(path, "re");
	ASSERT_NE(NULL, f);
	access_seen = false;
	while (fgets(line, sizeof(line), f))
		access_seen |= !strcmp(line, "shmdev-access:\tro\n");
	fclose(f);
	EXPECT_TRUE(access_seen);
	close(ro);
}

int main(int argc, char **argv)
{
	return shmdev_harness_main(argc, argv);
}
