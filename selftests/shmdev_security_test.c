// SPDX-License-Identifier: GPL-2.0
/*
 * Security selftests for shmdev (/dev/shmdev): one test per attack or
 * guarantee of the security model.
 *
 *  - a read-only attach stays read-only through mprotect, mremap,
 *    remap_file_pages, /proc/self/map_files, /proc/self/fd reopen,
 *    /proc/self/mem, fork and fd passing;
 *  - RESIZE, and seals with memfd's semantics;
 *  - names are per IPC namespace, permission checks use kuids and only the
 *    capabilities of the IPC namespace's user namespace;
 *  - SETPERM and LIST;
 *  - limits as module parameters and memory cgroup accounting;
 *  - no information leaks in ioctl results or recycled pages;
 *  - bounded races between resize, seals, faults, mmap, unlink, create.
 *
 * Run it as root and as an ordinary user: tests that need root, another
 * user or a user namespace say why they skip. SHMDEV_RACE_SECS sets the
 * length of each race test in seconds (default 3).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/capability.h>

#include "shmdev_test_util.h"

#define OVERFLOW_ID		65534	/* kernel.overflowuid default */
#define LIST_BULK		300	/* segments of the paging tests */
#define LEAK_SEGMENTS		16	/* may reuse the freed pages */
#define CGROUP2_MAGIC		0x63677270

/* Exit status of a child that found user namespaces unavailable. */
#define CHILD_SKIP		KSFT_SKIP

/* SIGBUS/SIGSEGV probes (st_probe()): 0 or the signal the access raised. */
static int probe_read(volatile uint8_t *addr)
{
	return st_probe(addr, false, 0, NULL);
}

static int probe_write(volatile uint8_t *addr, uint8_t val)
{
	return st_probe(addr, true, val, NULL);
}

/* Exit status of a child, as touch_in_child() returns it: the signal. */
static int touch_signal(volatile uint8_t *addr, bool write)
{
	int status = touch_in_child(addr, write);

	return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

static uint8_t *map_fd(int fd, size_t len, int prot, int flags)
{
	return mmap(NULL, len, prot, flags, fd, 0);
}

/* Segment size as INFO reports it, or 0. */
static uint64_t seg_size(int fd)
{
	struct shmdev_info info;

	return st_info(fd, &info) ? 0 : info.size;
}

/*
 * The shared mapping @p of @len bytes can be made writable neither by
 * mprotect() (EACCES) nor by just writing (SIGSEGV).
 */
static void check_stays_readonly(struct __test_metadata *_metadata,
				 uint8_t *p, size_t len)
{
	EXPECT_EQ(-1, mprotect(p, len, PROT_READ | PROT_WRITE));
	EXPECT_EQ(EACCES, errno);
	EXPECT_EQ(SIGSEGV, touch_signal(p, true));
	EXPECT_EQ(SIGSEGV, touch_signal(p + len - 1, true));
}

/*
 * Creates a named segment of @len bytes on self->fd (mode 0600), maps it
 * read-write and shared into *@w, fills it with SEED_A and attaches a
 * second file read-only, which it returns.
 */
static int create_with_readonly_file(struct __test_metadata *_metadata,
				     FIXTURE_DATA(shmdev) *self, size_t len,
				     uint8_t **w)
{
	const char *name = new_name(self);

	*w = create_and_map(_metadata, self, name, len);
	st_fill(*w, len, SEED_A);
	return attach_on_new_fd(_metadata, name, SHMDEV_ATTACH_RDONLY);
}

/* Read-only attach: no way to write */

TEST_F(shmdev, readonly_attach_rejects_shared_writable_mmap)
{
	size_t len = 2 * page_size;
	struct shmdev_info info;
	uint8_t *w, *p;
	int ro;

	ro = create_with_readonly_file(_metadata, self, len, &w);
	p = map_fd(ro, len, PROT_READ | PROT_WRITE, MAP_SHARED);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EACCES, errno);
	p = map_fd(ro, len, PROT_WRITE, MAP_SHARED);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EACCES, errno);
	ASSERT_EQ(0, st_info(ro, &info));
	EXPECT_EQ(1U, info.nr_maps);
	EXPECT_EQ(len, st_mismatch(w, len, SEED_A));
	munmap(w, len);
	close(ro);
}

TEST_F(shmdev, readonly_attach_rejects_mprotect_write)
{
	size_t len = 4 * page_size;
	uint8_t *w, *r;
	int ro;

	ro = create_with_readonly_file(_metadata, self, len, &w);
	r = map_fd(ro, len, PROT_READ, MAP_SHARED);
	ASSERT_NE(MAP_FAILED, r) TH_LOG("mmap: %s", strerror(errno));
	EXPECT_EQ(-1, mprotect(r, len, PROT_READ | PROT_WRITE));
	EXPECT_EQ(EACCES, errno);
	/* Nor one page of it, nor with PROT_EXEC along. */
	EXPECT_EQ(-1, mprotect(r + page_size, page_size, PROT_WRITE));
	EXPECT_EQ(EACCES, errno);
	EXPECT_EQ(-1, mprotect(r, page_size,
			       PROT_READ | PROT_WRITE | PROT_EXEC));
	EXPECT_EQ(SIGSEGV, touch_signal(r + page_size, true));
	EXPECT_EQ(len, st_mismatch(r, len, SEED_A));
	munmap(r, len);
	munmap(w, len);
	close(ro);
}

/* mremap()s a read-only mapping with @flags and checks it stays so. */
static void check_mremap_stays_readonly(struct __test_metadata *_metadata,
					FIXTURE_DATA(shmdev) *self, bool move)
{
	size_t len = 4 * page_size, half = 2 * page_size;
	uint8_t *w, *r, *q, *dest = NULL;
	int ro;

	ro = create_with_readonly_file(_metadata, self, len, &w);
	r = map_fd(ro, half, PROT_READ, MAP_SHARED);
	ASSERT_NE(MAP_FAILED, r) TH_LOG("mmap: %s", strerror(errno));
	if (move) {
		/* A free place to move to: map and unmap it. */
		dest = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
			    -1, 0);
		ASSERT_NE(MAP_FAILED, dest);
		q = mremap(r, half, len, MREMAP_MAYMOVE | MREMAP_FIXED, dest);
		ASSERT_EQ(dest, q) TH_LOG("mremap: %s", strerror(errno));
	} else {
		q = mremap(r, half, len, MREMAP_MAYMOVE);
		ASSERT_NE(MAP_FAILED, q) TH_LOG("mremap: %s", strerror(errno));
	}
	EXPECT_EQ(len, st_mismatch(q, len, SEED_A));
	check_stays_readonly(_metadata, q, len);
	EXPECT_EQ(len, st_mismatch(w, len, SEED_A));
	munmap(q, len);
	munmap(w, len);
	close(ro);
}

TEST_F(shmdev, readonly_mremap_grow_stays_readonly)
{
	check_mremap_stays_readonly(_metadata, self, false);
}

TEST_F(shmdev, readonly_mremap_move_stays_readonly)
{
	check_mremap_stays_readonly(_metadata, self, true);
}

/*
 * remap_file_pages() maps the VMA's file again through ->mmap: the result
 * must not be (or become) writable either.
 */
TEST_F(shmdev, readonly_remap_file_pages_cannot_make_writable_page)
{
	size_t len = 4 * page_size;
	uint8_t *w, *r;
	int ro, ret;

	ro = create_with_readonly_file(_metadata, self, len, &w);
	r = map_fd(ro, len, PROT_READ, MAP_SHARED);
	ASSERT_NE(MAP_FAILED, r) TH_LOG("mmap: %s", strerror(errno));
	ret = remap_file_pages(r, page_size, 0, 2, 0);
	TH_LOG("remap_file_pages: %s", ret ? strerror(errno) : "done");
	if (!ret)
		EXPECT_EQ(0, memcmp(r, w + 2 * page_size, page_size));
	check_stays_readonly(_metadata, r, page_size);
	check_stays_readonly(_metadata, r, len);
	EXPECT_EQ(len, st_mismatch(w, len, SEED_A));
	munmap(r, len);
	munmap(w, len);
	close(ro);
}

TEST_F(shmdev, readonly_map_files_path_cannot_be_opened)
{
	size_t len = 2 * page_size;
	char path[128];
	uint8_t *w, *r;
	int ro, fd;

	if (geteuid() != 0)
		SKIP(return, "needs root to reach /proc/self/map_files");
	ro = create_with_readonly_file(_metadata, self, len, &w);
	r = map_fd(ro, len, PROT_READ, MAP_SHARED);
	ASSERT_NE(MAP_FAILED, r) TH_LOG("mmap: %s", strerror(errno));
	snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx",
		 (unsigned long)r, (unsigned long)r + len);
	fd = open(path, O_RDWR | O_CLOEXEC);
	EXPECT_EQ(-1, fd);
	if (fd >= 0)
		close(fd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	EXPECT_EQ(-1, fd);
	if (fd >= 0)
		close(fd);
	EXPECT_EQ(-1, truncate(path, 0));
	EXPECT_EQ(len, st_mismatch(w, len, SEED_A));
	EXPECT_EQ(len, seg_size(self->fd));
	munmap(r, len);
	munmap(w, len);
	close(ro);
}

/* /proc/self/fd/N opens /dev/shmdev anew: an unbound file, no upgrade. */
TEST_F(shmdev, readonly_proc_fd_reopen_gives_unbound_file)
{
	size_t len = page_size;
	struct shmdev_info info;
	char path[64];
	uint8_t *w, *p;
	int ro, fd;

	ro = create_with_readonly_file(_metadata, self, len, &w);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", ro);
	fd = open(path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd) TH_LOG("open %s: %s", path, strerror(errno));
	EXPECT_EQ(-ENODEV, st_info(fd, &info));
	p = map_fd(fd, len, PROT_READ | PROT_WRITE, MAP_SHARED);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(ENODEV, errno);
	EXPECT_EQ(-ENODEV, st_resize(fd, 2 * len));
	EXPECT_EQ(-ENODEV, st_add_seals(fd, SHMDEV_SEAL_SEAL));
	ASSERT_EQ(0, st_info(ro, &info));
	EXPECT_EQ((uint32_t)SHMDEV_INFO_RDONLY, info.flags);
	EXPECT_EQ(2U, info.nr_files);
	close(fd);
	munmap(w, len);
	close(ro);
}

/* The child checks its copy of a read-only mapping cannot become writable */
static int mprotect_write_child(void *data)
{
	uint8_t *r = data;

	st_probe_init();
	CHILD_CHECK(mprotect(r, page_size, PROT_READ | PROT_WRITE) == -1);
	CHILD_CHECK_EQ(EACCES, errno);
	CHILD_CHECK_EQ(SIGSEGV, probe_write(r, 0x77));
	CHILD_CHECK_EQ(st_pattern(0, SEED_A), r[0]);
	return 0;
}

TEST_F(shmdev, readonly_fork_child_cannot_mprotect_write)
{
	size_t len = 2 * page_size;
	uint8_t *w, *r;
	int ro;

	ro = create_with_readonly_file(_metadata, self, len, &w);
	r = map_fd(ro, len, PROT_READ, MAP_SHARED);
	ASSERT_NE(MAP_FAILED, r) TH_LOG("mmap: %s", strerror(errno));
	EXPECT_EQ(0, run_child(NULL, mprotect_write_child, r));
	EXPECT_EQ(len, st_mismatch(w, len, SEED_A));
	munmap(r, len);
	munmap(w, len);
	close(ro);
}

/* One byte with room for one SCM_RIGHTS descriptor. */
struct fd_msg {
	struct msghdr msg;
	struct iovec iov;
	char byte;
	char cbuf[CMSG_SPACE(sizeof(int))];
};

static void fd_msg_init(struct fd_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->byte = 'f';
	m->iov.iov_base = &m->byte;
	m->iov.iov_len = 1;
	m->msg.msg_iov = &m->iov;
	m->msg.msg_iovlen = 1;
	m->msg.msg_control = m->cbuf;
	m->msg.msg_controllen = sizeof(m->cbuf);
}

static int send_fd(int sock, int fd)
{
	struct cmsghdr *cmsg;
	struct fd_msg m;

	fd_msg_init(&m);
	cmsg = CMSG_FIRSTHDR(&m.msg);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	return sendmsg(sock, &m.msg, 0) == 1 ? 0 : -errno;
}

static int recv_fd(int sock)
{
	struct cmsghdr *cmsg;
	struct fd_msg m;
	int fd;

	fd_msg_init(&m);
	if (recvmsg(sock, &m.msg, MSG_CMSG_CLOEXEC) != 1)
		return -1;
	cmsg = CMSG_FIRSTHDR(&m.msg);
	if (!cmsg || cmsg->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));
	return fd;
}

struct passed_fd_arg {
	int sock;
	int parent_sock;	/* the parent's end, which the child closes */
	size_t len;
};

/* Receives a read-only file and tries every way to write through it. */
static int passed_fd_child(void *data)
{
	struct passed_fd_arg *a = data;
	struct shmdev_info info;
	uint8_t *p;
	int fd;

	st_probe_init();
	/* Else a parent that fails before sending would leave us waiting. */
	close(a->parent_sock);
	fd = recv_fd(a->sock);
	CHILD_CHECK(fd >= 0);
	CHILD_CHECK_EQ(0, st_info(fd, &info));
	CHILD_CHECK_EQ(SHMDEV_INFO_RDONLY, info.flags & SHMDEV_INFO_RDONLY);
	p = map_fd(fd, a->len, PROT_READ | PROT_WRITE, MAP_SHARED);
	CHILD_CHECK(p == MAP_FAILED);
	CHILD_CHECK_EQ(EACCES, errno);
	p = map_fd(fd, a->len, PROT_READ, MAP_SHARED);
	CHILD_CHECK(p != MAP_FAILED);
	CHILD_CHECK_EQ(a->len, st_mismatch(p, a->len, SEED_A));
	CHILD_CHECK(mprotect(p, a->len, PROT_READ | PROT_WRITE) == -1);
	CHILD_CHECK_EQ(EACCES, errno);
	CHILD_CHECK_EQ(SIGSEGV, probe_write(p, 0x77));
	CHILD_CHECK_EQ(-EPERM, st_resize(fd, 2 * a->len));
	CHILD_CHECK_EQ(-EPERM, st_add_seals(fd, SHMDEV_SEAL_SEAL));
	return 0;
}

TEST_F(shmdev, readonly_fd_passed_over_unix_socket_stays_readonly)
{
	struct passed_fd_arg arg = { .len = 2 * page_size };
	int sv[2], ro;
	uint8_t *w;
	pid_t pid;

	/* The child exists before the file: it can only get it passed. */
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	arg.sock = sv[1];
	arg.parent_sock = sv[0];
	pid = spawn_child(NULL, passed_fd_child, &arg);
	ASSERT_LT(0, pid);
	close(sv[1]);
	ro = create_with_readonly_file(_metadata, self, arg.len, &w);
	EXPECT_EQ(0, send_fd(sv[0], ro));
	EXPECT_EQ(0, wait_child(pid));
	EXPECT_EQ(arg.len, st_mismatch(w, arg.len, SEED_A));
	EXPECT_EQ(arg.len, seg_size(self->fd));
	close(sv[0]);
	munmap(w, arg.len);
	close(ro);
}

TEST_F(shmdev, readonly_private_mapping_is_cow_and_segment_unchanged)
{
	size_t len = 4 * page_size;
	uint8_t *w, *q, *r;
	int ro;

	ro = create_with_readonly_file(_metadata, self, len, &w);
	q = map_fd(ro, len, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	ASSERT_NE(MAP_FAILED, q) TH_LOG("mmap: %s", strerror(errno));
	st_fill(q, len, SEED_B);
	EXPECT_EQ(len, st_mismatch(q, len, SEED_B));
	/* A private read-only mapping may be made writable: still a copy. */
	r = map_fd(ro, len, PROT_READ, MAP_PRIVATE);
	ASSERT_NE(MAP_FAILED, r);
	EXPECT_EQ(0, mprotect(r, len, PROT_READ | PROT_WRITE));
	st_fill(r, len, SEED_C);
	EXPECT_EQ(len, st_mismatch(w, len, SEED_A));
	munmap(r, len);
	munmap(q, len);
	munmap(w, len);
	close(ro);
}

/*
 * A debugger-style write through /proc/self/mem uses FOLL_FORCE, which may
 * break copy-on-write of private mappings but not write a shared mapping
 * that was never allowed to be writable.
 */
TEST_F(shmdev, readonly_proc_self_mem_write_does_not_change_segment)
{
	size_t len = 2 * page_size;
	uint8_t *w, *r, buf[16];
	ssize_t n;
	int ro, mem;

	ro = create_with_readonly_file(_metadata, self, len, &w);
	r = map_fd(ro, len, PROT_READ, MAP_SHARED);
	ASSERT_NE(MAP_FAILED, r) TH_LOG("mmap: %s", strerror(errno));
	mem = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, mem) TH_LOG("open /proc/self/mem: %s", strerror(errno));
	memset(buf, 0x77, sizeof(buf));
	n = pwrite(mem, buf, sizeof(buf), (off_t)(uintptr_t)(r + page_size));
	EXPECT_EQ(-1, n) TH_LOG("pwrite wrote %zd bytes", n);
	/* Reading through it works: the write was refused, not the file. */
	EXPECT_EQ((ssize_t)sizeof(buf),
		  pread(mem, buf, sizeof(buf), (off_t)(uintptr_t)r));
	EXPECT_EQ(0, memcmp(buf, w, sizeof(buf)));
	EXPECT_EQ(len, st_mismatch(w, len, SEED_A));
	close(mem);
	munmap(r, len);
	munmap(w, len);
	close(ro);
}

TEST_F(shmdev, readonly_process_vm_writev_does_not_change_segment)
{
	size_t len = page_size;
	uint8_t *w, *r, buf[16];
	struct iovec local = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct iovec remote;
	int ro;

	ro = create_with_readonly_file(_metadata, self, len, &w);
	r = map_fd(ro, len, PROT_READ, MAP_SHARED);
	ASSERT_NE(MAP_FAILED, r) TH_LOG("mmap: %s", strerror(errno));
	remote.iov_base = r;
	remote.iov_len = sizeof(buf);
	memset(buf, 0x77, sizeof(buf));
	EXPECT_EQ(-1, process_vm_writev(getpid(), &local, 1, &remote, 1, 0));
	EXPECT_EQ(len, st_mismatch(w, len, SEED_A));
	munmap(r, len);
	munmap(w, len);
	close(ro);
}

/* RESIZE */

TEST_F(shmdev, resize_unbound_enodev)
{
	EXPECT_EQ(-ENODEV, st_resize(self->fd, page_size));
}

TEST_F(shmdev, resize_readonly_file_eperm)
{
	size_t len = 2 * page_size;
	uint8_t *w;
	int ro;

	ro = create_with_readonly_file(_metadata, self, len, &w);
	EXPECT_EQ(-EPERM, st_resize(ro, page_size));
	EXPECT_EQ(-EPERM, st_resize(ro, 2 * len));
	EXPECT_EQ(len, seg_size(self->fd));
	munmap(w, len);
	close(ro);
}

TEST_F(shmdev, resize_size_zero_einval)
{
	ASSERT_EQ(0, st_create(self->fd, "", page_size, 0600, NULL));
	EXPECT_EQ(-EINVAL, st_resize(self->fd, 0));
	EXPECT_EQ(page_size, seg_size(self->fd));
}

TEST_F(shmdev, resize_reserved_nonzero_einval)
{
	struct shmdev_resize arg;
	int i;

	ASSERT_EQ(0, st_create(self->fd, "", page_size, 0600, NULL));
	for (i = 0; i < (int)ARRAY_SIZE(arg.reserved); i++) {
		memset(&arg, 0, sizeof(arg));
		arg.size = 2 * page_size;
		arg.reserved[i] = 1;
		EXPECT_EQ(-EINVAL, st_ioctl(self->fd, SHMDEV_IOC_RESIZE, &arg));
	}
	EXPECT_EQ(page_size, seg_size(self->fd));
}

TEST_F(shmdev, resize_over_max_segment_size_efbig)
{
	struct shmdev_version ver;

	ASSERT_EQ(0, st_version(self->fd, &ver));
	ASSERT_EQ(0, st_create(self->fd, "", page_size, 0600, NULL));
	if (ver.max_segment_size != UINT64_MAX)
		EXPECT_EQ(-EFBIG, st_resize(self->fd,
					    ver.max_segment_size + 1));
	EXPECT_EQ(-EFBIG, st_resize(self->fd, UINT64_MAX));
	EXPECT_EQ(page_size, seg_size(self->fd));
}

TEST_F(shmdev, resize_bad_pointer_efault)
{
	ASSERT_EQ(0, st_create(self->fd, "", page_size, 0600, NULL));
	EXPECT_EQ(-EFAULT, st_ioctl(self->fd, SHMDEV_IOC_RESIZE, (void *)1));
	EXPECT_EQ(page_size, seg_size(self->fd));
}

TEST_F(shmdev, resize_shrink_updates_info_and_frees_pages)
{
	size_t len = 8 * page_size;
	uint64_t pages = module_pages();
	struct shmdev_info info;
	uint8_t *p;

	p = create_and_map(_metadata, self, "", len);
	st_fill(p, len, SEED_A);
	EXPECT_EQ(pages + 8, module_pages());
	ASSERT_EQ(0, st_resize(self->fd, 3 * page_size + 10));
	ASSERT_EQ(0, st_info(self->fd, &info));
	EXPECT_EQ(3 * page_size + 10, info.size);
	EXPECT_EQ(4U, info.nr_pages);
	EXPECT_EQ(pages + 4, module_pages());
	EXPECT_EQ(3 * page_size + 10, st_mismatch(p, 3 * page_size + 10,
						  SEED_A));
	munmap(p, len);
}

TEST_F(shmdev, resize_shrink_sigbus_in_own_mapping)
{
	size_t len = 8 * page_size;
	uint8_t *p;
	int i;

	st_probe_init();
	p = create_and_map(_metadata, self, "", len);
	st_fill(p, len, SEED_A);
	ASSERT_EQ(0, st_resize(self->fd, 3 * page_size));
	for (i = 3; i < 8; i++) {
		EXPECT_EQ(SIGBUS, probe_read(p + i * page_size))
			TH_LOG("page %d", i);
		EXPECT_EQ(SIGBUS, probe_write(p + i * page_size + 1, 1));
	}
	EXPECT_EQ(3 * page_size, st_mismatch(p, 3 * page_size, SEED_A));
	munmap(p, len);
}

struct shrink_peer_arg {
	const char *name;
	size_t len;		/* mapped and touched before the shrink */
	size_t new_size;	/* after it */
	struct handshake hs;	/* ready when mapped, go after the shrink */
};

/*
 * Attaches the segment, maps and reads all of it, reports ready, waits for
 * the shrink and then checks every page: data below the new end, SIGBUS
 * beyond it.
 */
static int shrink_peer_child(void *data)
{
	struct shrink_peer_arg *a = data;
	size_t off;
	uint8_t *p;
	int fd;

	st_probe_init();
	fd = st_open();
	CHILD_CHECK(fd >= 0);
	CHILD_CHECK_EQ(0, st_attach(fd, a->name, 0, NULL, NULL));
	p = map_fd(fd, a->len, PROT_READ | PROT_WRITE, MAP_SHARED);
	CHILD_CHECK(p != MAP_FAILED);
	CHILD_CHECK_EQ(a->len, st_mismatch(p, a->len, SEED_A));
	CHILD_CHECK_EQ(1, handshake_child_wait(&a->hs));
	for (off = 0; off < a->len; off += page_size) {
		if (off < a->new_size) {
			CHILD_CHECK_EQ(0, probe_read(p + off));
			CHILD_CHECK_EQ(st_pattern(off, SEED_A), p[off]);
		} else {
			CHILD_CHECK_EQ(SIGBUS, probe_read(p + off));
			CHILD_CHECK_EQ(SIGBUS, probe_write(p + off, 1));
		}
	}
	return 0;
}

TEST_F(shmdev, resize_shrink_sigbus_in_other_process)
{
	struct shrink_peer_arg arg = {
		.name = new_name(self), .len = 8 * page_size,
		.new_size = 2 * page_size,
	};
	uint8_t *p;
	pid_t pid;

	p = create_and_map(_metadata, self, arg.name, arg.len);
	st_fill(p, arg.len, SEED_A);
	munmap(p, arg.len);
	ASSERT_EQ(0, handshake_init(&arg.hs));
	pid = spawn_child(NULL, shrink_peer_child, &arg);
	ASSERT_LT(0, pid);
	ASSERT_EQ(0, handshake_parent_wait(&arg.hs));
	EXPECT_EQ(0, st_resize(self->fd, arg.new_size));
	EXPECT_EQ(0, handshake_go(&arg.hs, false));
	EXPECT_EQ(0, wait_child(pid));
}

TEST_F(shmdev, resize_grow_reads_zero_and_keeps_data)
{
	size_t len = 2 * page_size, grown = 6 * page_size;
	const char *name = new_name(self);
	struct shmdev_info info;
	uint8_t *p, *q;
	int other;

	p = create_and_map(_metadata, self, name, len);
	st_fill(p, len, SEED_A);
	ASSERT_EQ(0, st_resize(self->fd, grown));
	ASSERT_EQ(0, st_info(self->fd, &info));
	EXPECT_EQ(grown, info.size);
	other = attach_on_new_fd(_metadata, name, 0);
	q = map_fd(other, grown, PROT_READ | PROT_WRITE, MAP_SHARED);
	ASSERT_NE(MAP_FAILED, q) TH_LOG("mmap: %s", strerror(errno));
	EXPECT_EQ(len, st_mismatch(q, len, SEED_A));
	EXPECT_TRUE(all_zero(q + len, grown - len));
	q[grown - 1] = 0x42;
	EXPECT_EQ(0x42, q[grown - 1]);
	munmap(q, grown);
	munmap(p, len);
	close(other);
}

/*
 * Bytes past the size in the last page were writable through a mapping
 * while the segment was short; growing must not expose them.
 */
TEST_F(shmdev, resize_grow_zeroes_tail_of_partial_last_page)
{
	size_t len = 2 * page_size, small = page_size + 100;
	uint8_t *p;

	p = create_and_map(_metadata, self, "", len);
	st_fill(p, len, SEED_A);
	ASSERT_EQ(0, st_resize(self->fd, small));
	/* The last page is still there; its tail is writable. */
	memset(p + small, 0xee, len - small);
	ASSERT_EQ(0, st_resize(self->fd, len));
	EXPECT_EQ(small, st_mismatch(p, small, SEED_A));
	EXPECT_TRUE(all_zero(p + small, len - small));
	munmap(p, len);
}

TEST_F(shmdev, resize_shrink_then_grow_reads_zero)
{
	size_t len = 8 * page_size;
	uint8_t *p, *q;

	p = create_and_map(_metadata, self, "", len);
	st_fill(p, len, SEED_B);
	munmap(p, len);
	ASSERT_EQ(0, st_resize(self->fd, page_size));
	ASSERT_EQ(0, st_resize(self->fd, len));
	q = map_fd(self->fd, len, PROT_READ, MAP_SHARED);
	ASSERT_NE(MAP_FAILED, q) TH_LOG("mmap: %s", strerror(errno));
	EXPECT_EQ(page_size, st_mismatch(q, page_size, SEED_B));
	EXPECT_TRUE(all_zero(q + page_size, len - page_size));
	munmap(q, len);
}

/* Seals */

TEST_F(shmdev, seals_none_on_new_segment)
{
	struct shmdev_info info;
	uint32_t seals = ~0U;

	ASSERT_EQ(0, st_create(self->fd, "", page_size, 0600, NULL));
	ASSERT_EQ(0, st_get_seals(self->fd, &seals));
	EXPECT_EQ(0U, seals);
	ASSERT_EQ(0, st_info(self->fd, &info));
	EXPECT_EQ(0U, info.seals);
}

TEST_F(shmdev, seals_match_memfd_values)
{
	EXPECT_EQ((unsigned int)F_SEAL_SEAL, SHMDEV_SEAL_SEAL);
	EXPECT_EQ((unsigned int)F_SEAL_SHRINK, SHMDEV_SEAL_SHRINK);
	EXPECT_EQ((unsigned int)F_SEAL_GROW, SHMDEV_SEAL_GROW);
	EXPECT_EQ((unsigned int)F_SEAL_WRITE, SHMDEV_SEAL_WRITE);
#ifdef F_SEAL_FUTURE_WRITE
	EXPECT_EQ((unsigned int)F_SEAL_FUTURE_WRITE, SHMDEV_SEAL_FUTURE_WRITE);
#endif
}

TEST_F(shmdev, add_seals_unbound_enodev)
{
	EXPECT_EQ(-ENODEV, st_add_seals(self->fd, SHMDEV_SEAL_SEAL));
}

TEST_F(shmdev, add_seals_readonly_file_eperm)
{
	uint32_t seals = ~0U;
	uint8_t *w;
	int ro;

	ro = create_with_readonly_file(_metadata, self, page_size, &w);
	EXPECT_EQ(-EPERM, st_add_seals(ro, SHMDEV_SEAL_SHRINK));
	EXPECT_EQ(-EPERM, st_add_seals(ro, SHMDEV_SEAL_SEAL));
	ASSERT_EQ(0, st_get_seals(ro, &seals));
	EXPECT_EQ(0U, seals);
	munmap(w, page_size);
	close(ro);
}

TEST_F(shmdev, add_seals_unknown_bits_einval)
{
	uint32_t seals = ~0U;

	ASSERT_EQ(0, st_create(self->fd, "", page_size, 0600, NULL));
	EXPECT_EQ(-EINVAL, st_add_seals(self->fd, SHMDEV_SEAL_MASK + 1));
	EXPECT_EQ(-EINVAL, st_add_seals(self->fd, 1U << 31 |
					SHMDEV_SEAL_SHRINK));
	ASSERT_EQ(0, st_get_seals(self->fd, &seals));
	EXPECT_EQ(0U, seals);
}

/* ADD_SEALS of @arg (SEAL_GROW and one bad field) fails, sealing nothing */
static void check_add_seals_einval(struct __test_metadata *_metadata,
				   FIXTURE_DATA(shmdev) *self,
				   struct shmdev_seals *arg)
{
	uint32_t seals = ~0U;

	ASSERT_EQ(0, st_create(self->fd, "", page_size, 0600, NULL));
	arg->seals = SHMDEV_SEAL_GROW;
	EXPECT_EQ(-EINVAL, st_ioctl(self->fd, SHMDEV_IOC_ADD_SEALS, arg));
	ASSERT_EQ(0, st_get_seals(self->fd, &seals));
	EXPECT_EQ(0U, seals);
}

TEST_F(shmdev, add_seals_pad_nonzero_einval)
{
	struct shmdev_seals arg = { .pad = 1 };

	check_add_seals_einval(_metadata, self, &arg);
}

TEST_F(shmdev, add_seals_reserved_nonzero_einval)
{
	struct shmdev_seals arg = { .reserved = { 0, 0, 1 } };

	check_add_seals_einval(_metadata, self, &arg);
}

TEST_F(shmdev, seal_seal_blocks_further_seals_eperm)
{
	uint32_t seals = 0;

	ASSERT_EQ(0, st_create(self->fd, "", page_size, 0600, NULL));
	ASSERT_EQ(0, st_add_seals(self->fd, SHMDEV_SEAL_GROW));
	ASSERT_EQ(0, st_add_seals(self->fd, SHMDEV_SEAL_SEAL));
	EXPECT_EQ(-EPERM, st_add_seals(self->fd, SHMDEV_SEAL_SHRINK));
	EXPECT_EQ(-EPERM, st_add_seals(self->fd, SHMDEV_SEAL_WRITE));
	EXPECT_EQ(-EPERM, st_add_seals(self->fd, SHMDEV_SEAL_SEAL));
	ASSERT_EQ(0, st_get_seals(self->fd, &seals));
	EXPECT_EQ(SHMDEV_SEAL_SEAL | SHMDEV_SEAL_GROW, seals);
	/* The seals it has still work. */
	EXPECT_EQ(0, st_resize(self->fd, 1));
}

TEST_F(shmdev, seal_shrink_rejects_smaller_resize)
{
	size_t len = 4 * page_size;
	uint8_t *p;

	p = create_and_map(_metadata, self, "", len);
	st_fill(p, len, SEED_A);
	ASSERT_EQ(0, st_add_seals(self->fd, SHMDEV_SEAL_SHRINK));
	EXPECT_EQ(-EPERM, st_resize(self->fd, len - 1));
	EXPECT_EQ(-EPERM, st_resize(self->fd, page_size));
	EXPECT_EQ(len, seg_size(self->fd));
	EXPECT_EQ(len, st_mismatch(p, len, SEED_A));
	EXPECT_EQ(0, st_resize(self->fd, len + 1));
	EXPECT_EQ(0, st_resize(self->fd, len + 1));
	EXPECT_EQ(len + 1, seg_size(self->fd));
	munmap(p, len);
}

TEST_F(shmdev, seal_grow_rejects_larger_resize)
{
	size_t len = 4 * page_size;

	ASSERT_EQ(0, st_create(self->fd, "", len, 0600, NULL));
	ASSERT_EQ(0, st_add_seals(self->fd, SHMDEV_SEAL_GROW));
	EXPECT_EQ(-EPERM, st_resize(self->fd, len + 1));
	EXPECT_EQ(-EPERM, st_resize(self->fd, 8 * len));
	EXPECT_EQ(len, seg_size(self->fd));
	EXPECT_EQ(0, st_resize(self->fd, len - 1));
	EXPECT_EQ(len - 1, seg_size(self->fd));
	EXPECT_EQ(-EPERM, st_resize(self->fd, len));
}

TEST_F(shmdev, seal_write_refused_while_writable_mapping_ebusy)
{
	size_t len = 2 * page_size;
	uint32_t seals = ~0U;
	uint8_t *p;

	p = create_and_map(_metadata, self, "", len);
	EXPECT_EQ(-EBUSY, st_add_seals(self->fd, SHMDEV_SEAL_WRITE));
	/* A part of the mapping is still a writable mapping. */
	ASSERT_EQ(0, munmap(p, page_size));
	EXPECT_EQ(-EBUSY, st_add_seals(self->fd, SHMDEV_SEAL_WRITE));
	ASSERT_EQ(0, st_get_seals(self->fd, &seals));
	EXPECT_EQ(0U, seals);
	ASSERT_EQ(0, munmap(p + page_size, page_size));
	EXPECT_EQ(0, st_add_seals(self->fd, SHMDEV_SEAL_WRITE));
	ASSERT_EQ(0, st_get_seals(self->fd, &seals));
	EXPECT_EQ(SHMDEV_SEAL_WRITE, seals);
}

struct holder_arg {
	const char *name;	/* attach and map this, or ... */
	uint8_t *inherited;	/* ... keep this inherited mapping */
	struct handshake hs;	/* ready once it holds it, go to let go */
};

/* Holds a writable shared mapping until told to go. */
static int hold_writable_child(void *data)
{
	struct holder_arg *a = data;
	uint8_t *p = a->inherited;
	int fd;

	if (a->name) {
		fd = st_open();
		CHILD_CHECK(fd >= 0);
		CHILD_CHECK_EQ(0, st_attach(fd, a->name, 0, NULL, NULL));
		p = map_fd(fd, page_size, PROT_READ | PROT_WRITE, MAP_SHARED);
		CHILD_CHECK(p != MAP_FAILED);
		close(fd);
	}
	p[0] = 0x11;
	CHILD_CHECK_EQ(0, handshake_child_wait(&a->hs));
	return 0;
}

/*
 * Runs hold_writable_child() for @a, checks that SEAL_WRITE is refused
 * while it runs and accepted after it exited.
 */
static void check_seal_write_waits_for(struct __test_metadata *_metadata,
				       FIXTURE_DATA(shmdev) *self,
				       struct holder_arg *a)
{
	pid_t pid;

	ASSERT_EQ(0, handshake_init(&a->hs));
	pid = spawn_child(NULL, hold_writable_child, a);
	ASSERT_LT(0, pid);
	ASSERT_EQ(0, handshake_parent_wait(&a->hs));
	if (a->inherited)
		ASSERT_EQ(0, munmap(a->inherited, page_size));
	EXPECT_EQ(-EBUSY, st_add_seals(self->fd, SHMDEV_SEAL_WRITE));
	handshake_go(&a->hs, true);
	EXPECT_EQ(0, wait_child(pid));
	EXPECT_EQ(0, st_add_seals(self->fd, SHMDEV_SEAL_WRITE));
}

TEST_F(shmdev, seal_write_refused_while_forked_child_keeps_mapping)
{
	struct holder_arg a = { 0 };

	a.inherited = create_and_map(_metadata, self, "", page_size);
	check_seal_write_waits_for(_metadata, self, &a);
}

TEST_F(shmdev, seal_write_refused_while_other_process_maps_writable)
{
	struct holder_arg a = { .name = new_name(self) };

	ASSERT_EQ(0, st_create(self->fd, a.name, page_size, 0600, NULL));
	check_seal_write_waits_for(_metadata, self, &a);
}

/* A segment of @len bytes filled with SEED_A, sealed with @seals. */
static void create_sealed(struct __test_metadata *_metadata,
			  FIXTURE_DATA(shmdev) *self, const char *name,
			  size_t len, uint32_t seals)
{
	uint8_t *p;

	p = create_and_map(_metadata, self, name, len);
	st_fill(p, len, SEED_A);
	ASSERT_EQ(0, munmap(p, len));
	ASSERT_EQ(0, st_add_seals(self->fd, seals));
}

TEST_F(shmdev, seal_write_rejects_writable_shared_mmap)
{
	const char *name = new_name(self);
	size_t len = 2 * page_size;
	uint8_t *p;
	int other;

	create_sealed(_metadata, self, name, len, SHMDEV_SEAL_WRITE);
	p = map_fd(self->fd, len, PROT_READ | PROT_WRITE, MAP_SHARED);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EPERM, errno);
	/* Nor through another file attached read-write. */
	other = attach_on_new_fd(_metadata, name, 0);
	p = map_fd(other, page_size, PROT_WRITE, MAP_SHARED);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EPERM, errno);
	close(other);
}

TEST_F(shmdev, seal_write_readonly_mapping_cannot_mprotect_write)
{
	size_t len = 2 * page_size;
	uint8_t *p;

	create_sealed(_metadata, self, "", len, SHMDEV_SEAL_WRITE);
	p = map_fd(self->fd, len, PROT_READ, MAP_SHARED);
	ASSERT_NE(MAP_FAILED, p) TH_LOG("mmap: %s", strerror(errno));
	EXPECT_EQ(len, st_mismatch(p, len, SEED_A));
	check_stays_readonly(_metadata, p, len);
	munmap(p, len);
}

TEST_F(shmdev, seal_write_allows_private_cow_mapping)
{
	size_t len = 2 * page_size;
	uint8_t *q, *r;

	create_sealed(_metadata, self, "", len, SHMDEV_SEAL_WRITE);
	q = map_fd(self->fd, len, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	ASSERT_NE(MAP_FAILED, q) TH_LOG("mmap: %s", strerror(errno));
	st_fill(q, len, SEED_B);
	EXPECT_EQ(len, st_mismatch(q, len, SEED_B));
	r = map_fd(self->fd, len, PROT_READ, MAP_SHARED);
	ASSERT_NE(MAP_FAILED, r);
	EXPECT_EQ(len, st_mismatch(r, len, SEED_A));
	munmap(r, len);
	munmap(q, len);
}

TEST_F(shmdev, seal_future_write_keeps_existing_writable_mapping)
{
	const char *name = new_name(self);
	size_t len = 2 * page_size;
	uint8_t *p;

	p = create_and_map(_metadata, self, name, len);
	ASSERT_EQ(0, st_add_seals(self->fd, SHMDEV_SEAL_FUTURE_WRITE));
	st_fill(p, len, SEED_C);
	/* Another process sees what the old mapping wrote. */
	EXPECT_EQ(0, run_peer(NULL, 0, "check", name,
			      __stringify(SEED_C), NULL));
	munmap(p, len);
}

TEST_F(shmdev, seal_future_write_rejects_new_writable_shared_mmap)
{
	size_t len = 2 * page_size;
	uint8_t *p, *q;

	p = create_and_map(_metadata, self, "", len);
	ASSERT_EQ(0, st_add_seals(self->fd, SHMDEV_SEAL_FUTURE_WRITE));
	q = map_fd(self->fd, len, PROT_READ | PROT_WRITE, MAP_SHARED);
	EXPECT_EQ(MAP_FAILED, q);
	EXPECT_EQ(EPERM, errno);
	/* Private copies stay allowed. */
	q = map_fd(self->fd, len, PROT_READ | PROT_WRITE, MAP_PRIVATE);
	ASSERT_NE(MAP_FAILED, q);
	q[0] = 0x42;
	EXPECT_EQ(0, p[0]);
	munmap(q, len);
	munmap(p, len);
}

TEST_F(shmdev, seal_future_write_readonly_mapping_cannot_mprotect_write)
{
	size_t len = 2 * page_size;
	uint8_t *p;

	ASSERT_EQ(0, st_create(self->fd, "", len, 0600, NULL));
	ASSERT_EQ(0, st_add_seals(self->fd, SHMDEV_SEAL_FUTURE_WRITE));
	p = map_fd(self->fd, len, PROT_READ, MAP_SHARED);
	ASSERT_NE(MAP_FAILED, p) TH_LOG("mmap: %s", strerror(errno));
	check_stays_readonly(_metadata, p, len);
	munmap(p, len);
}

TEST_F(shmdev, seals_are_per_segment_and_seen_by_every_file)
{
	const char *name = new_name(self);
	const uint32_t want = SHMDEV_SEAL_SHRINK | SHMDEV_SEAL_GROW;
	struct shmdev_info info;
	uint32_t seals = 0;
	int ro, rw, other;

	ASSERT_EQ(0, st_create(self->fd, name, page_size, 0600, NULL));
	ro = attach_on_new_fd(_metadata, name, SHMDEV_ATTACH_RDONLY);
	other = create_on_new_fd(_metadata, "", page_size, 0600);
	ASSERT_EQ(0, st_add_seals(self->fd, SHMDEV_SEAL_SHRINK));
	rw = attach_on_new_fd(_metadata, name, 0);
	ASSERT_EQ(0, st_add_seals(rw, SHMDEV_SEAL_GROW));

	ASSERT_EQ(0, st_get_seals(ro, &seals));
	EXPECT_EQ(want, seals);
	ASSERT_EQ(0, st_get_seals(self->fd, &seals));
	EXPECT_EQ(want, seals);
	ASSERT_EQ(0, st_info(ro, &info));
	EXPECT_EQ(want, info.seals);
	EXPECT_EQ(-EPERM, st_resize(rw, 2 * page_size));
	ASSERT_EQ(0, st_get_seals(other, &seals));
	EXPECT_EQ(0U, seals);
	EXPECT_EQ(0, st_resize(other, 2 * page_size));
	close(other);
	close(rw);
	close(ro);
}

/* SETPERM */

/* The mode INFO reports for @name, attaching it read-only, or -errno. */
static long long mode_of(const char *name)
{
	struct shmdev_info info;
	int fd, ret;

	fd = st_open();
	if (fd < 0)
		return fd;
	ret = st_attach(fd, name, SHMDEV_ATTACH_RDONLY, NULL, NULL);
	if (!ret)
		ret = st_info(fd, &info);
	close(fd);
	return ret ? ret : (long long)info.mode;
}

TEST_F(shmdev, setperm_missing_name_enoent)
{
	EXPECT_EQ(-ENOENT, st_chmod(self->fd, new_name(self), 0600));
}

TEST_F(shmdev, setperm_empty_name_einval)
{
	EXPECT_EQ(-EINVAL, st_chmod(self->fd, "", 0600));
}

/* SETPERM of @arg (on a 0640 segment it names) fails with EINVAL. */
static void check_setperm_einval(struct __test_metadata *_metadata,
				 FIXTURE_DATA(shmdev) *self,
				 struct shmdev_setperm *arg)
{
	const char *name = new_name(self);
	struct shmdev_info info;

	ASSERT_EQ(0, st_create(self->fd, name, page_size, 0640, NULL));
	st_set_name(arg->name, name);
	EXPECT_EQ(-EINVAL, st_ioctl(self->fd, SHMDEV_IOC_SETPERM, arg));
	ASSERT_EQ(0, st_info(self->fd, &info));
	EXPECT_EQ(0640U, info.mode);
	EXPECT_EQ(geteuid(), info.uid);
	EXPECT_EQ(getegid(), info.gid);
}

TEST_F(shmdev, setperm_unknown_flags_einval)
{
	struct shmdev_setperm arg = {
		.flags = SHMDEV_SETPERM_MODE | (SHMDEV_SETPERM_FLAGS_MASK + 1),
		.mode = 0600,
	};

	check_setperm_einval(_metadata, self, &arg);
}

TEST_F(shmdev, setperm_zero_flags_einval)
{
	struct shmdev_setperm arg = { .flags = 0, .mode = 0600 };

	check_setperm_einval(_metadata, self, &arg);
}

TEST_F(shmdev, setperm_mode_over_0777_einval)
{
	struct shmdev_setperm arg = {
		.flags = SHMDEV_SETPERM_MODE, .mode = 01600,
	};

	check_setperm_einval(_metadata, self, &arg);
}

TEST_F(shmdev, setperm_reserved_nonzero_einval)
{
	struct shmdev_setperm arg = {
		.flags = SHMDEV_SETPERM_MODE, .mode = 0600,
		.reserved = { 0, 1 },
	};

	check_setperm_einval(_metadata, self, &arg);
}

TEST_F(shmdev, setperm_unmapped_uid_einval)
{
	struct shmdev_setperm arg = {
		.flags = SHMDEV_SETPERM_UID, .uid = (uint32_t)-1,
	};

	check_setperm_einval(_metadata, self, &arg);
}

TEST_F(shmdev, setperm_unmapped_gid_einval)
{
	struct shmdev_setperm arg = {
		.flags = SHMDEV_SETPERM_MODE | SHMDEV_SETPERM_GID,
		.mode = 0600, .gid = (uint32_t)-1,
	};

	check_setperm_einval(_metadata, self, &arg);
}

TEST_F(shmdev, setperm_bad_pointer_efault)
{
	EXPECT_EQ(-EFAULT, st_ioctl(self->fd, SHMDEV_IOC_SETPERM, (void *)1));
}

struct perm_op {
	const char *name;
	uint32_t flags, mode, uid, gid;
	int ret;	/* expected result of the SETPERM */
};

static int setperm_child(void *data)
{
	struct perm_op *op = data;
	int fd = st_open();

	CHILD_CHECK(fd >= 0);
	CHILD_CHECK_EQ(op->ret, st_setperm(fd, op->name, op->flags, op->mode,
					   op->uid, op->gid));
	return 0;
}

TEST_F(shmdev, setperm_by_other_user_eperm)
{
	struct perm_op op = {
		.name = new_name(self), .flags = SHMDEV_SETPERM_MODE,
		.mode = 0666, .ret = -EPERM,
	};
	const char *reason = no_other_users();

	if (reason)
		SKIP(return, "%s", reason);
	/* Even with every permission bit set. */
	ASSERT_EQ(0, st_create(self->fd, op.name, page_size, 0660, NULL));
	EXPECT_EQ(0, run_child(&user_a, setperm_child, &op));
	op.flags = SHMDEV_SETPERM_UID;
	op.uid = user_a.uid;
	EXPECT_EQ(0, run_child(&user_a, setperm_child, &op));
	EXPECT_EQ(0660, mode_of(op.name));
}

/* The owner, without capabilities, takes write permission from itself. */
static int owner_chmod_child(void *data)
{
	const char *name = data;
	int fd, ro;

	fd = st_open();
	CHILD_CHECK(fd >= 0);
	CHILD_CHECK_EQ(0, st_create(fd, name, page_size, 0600, NULL));
	close(fd);
	fd = st_open();
	CHILD_CHECK(fd >= 0);
	CHILD_CHECK_EQ(0, st_chmod(fd, name, 0400));
	CHILD_CHECK_EQ(-EACCES, st_attach(fd, name, 0, NULL, NULL));
	CHILD_CHECK_EQ(0, st_attach(fd, name, SHMDEV_ATTACH_RDONLY,
				    NULL, NULL));
	ro = st_open();
	CHILD_CHECK(ro >= 0);
	CHILD_CHECK_EQ(0, st_chmod(ro, name, 0200));
	CHILD_CHECK_EQ(-EACCES, st_attach(ro, name, SHMDEV_ATTACH_RDONLY,
					  NULL, NULL));
	CHILD_CHECK_EQ(0, st_unlink(ro, name));
	return 0;
}

TEST_F(shmdev, setperm_owner_mode_change_applies_to_new_attaches)
{
	const char *name = new_name(self);
	const struct creds *cr;

	UNPRIVILEGED_CREDS_OR_SKIP(cr);
	EXPECT_EQ(0, run_child(cr, owner_chmod_child, (void *)name));
}

/* Files bound before a chmod keep their access; new attaches do not. */
static int bound_file_keeps_access_child(void *data)
{
	const char *name = data;
	uint8_t *p;
	int fd, rw;

	rw = st_open();
	CHILD_CHECK(rw >= 0);
	CHILD_CHECK_EQ(0, st_create(rw, name, page_size, 0600, NULL));
	CHILD_CHECK_EQ(0, st_chmod(rw, name, 0));
	fd = st_open();
	CHILD_CHECK(fd >= 0);
	CHILD_CHECK_EQ(-EACCES, st_attach(fd, name, SHMDEV_ATTACH_RDONLY,
					  NULL, NULL));
	p = map_fd(rw, page_size, PROT_READ | PROT_WRITE, MAP_SHARED);
	CHILD_CHECK(p != MAP_FAILED);
	p[0] = 1;
	CHILD_CHECK_EQ(0, st_resize(rw, 2 * page_size));
	CHILD_CHECK_EQ(0, st_unlink(fd, name));
	return 0;
}

TEST_F(shmdev, setperm_bound_files_keep_their_access)
{
	const char *name = new_name(self);
	const struct creds *cr;

	UNPRIVILEGED_CREDS_OR_SKIP(cr);
	EXPECT_EQ(0, run_child(cr, bound_file_keeps_access_child,
			       (void *)name));
}

TEST_F(shmdev, setperm_chmod_0600_locks_out_other_user)
{
	struct attach_expect e = { .ro = -EACCES, .rw = -EACCES };
	struct attach_expect before = { .ro = 0, .rw = 0 };
	const char *reason = no_other_users();
	int rw;

	if (reason)
		SKIP(return, "%s", reason);
	e.name = before.name = new_name(self);
	ASSERT_EQ(0, st_create(self->fd, e.name, page_size, 0666, NULL));
	EXPECT_EQ(0, run_child(&user_a, attach_expect_child, &before));
	rw = st_open();
	ASSERT_LE(0, rw);
	ASSERT_EQ(0, st_chmod(rw, e.name, 0600));
	EXPECT_EQ(0, run_child(&user_a, attach_expect_child, &e));
	EXPECT_EQ(0600, mode_of(e.name));
	close(rw);
}

TEST_F(shmdev, setperm_chmod_0644_gives_other_user_readonly_only)
{
	struct attach_expect e = { .ro = 0, .rw = -EACCES };
	const char *reason = no_other_users();

	if (reason)
		SKIP(return, "%s", reason);
	e.name = new_name(self);
	ASSERT_EQ(0, st_create(self->fd, e.name, page_size, 0600, NULL));
	ASSERT_EQ(0, st_chmod(self->fd, e.name, 0644));
	EXPECT_EQ(0, run_child(&user_a, attach_expect_child, &e));
}

struct owner_expect {
	const char *name;
	uint32_t uid, gid;	/* INFO should report */
	int unlink;		/* expected result of UNLINK */
};

static int owner_expect_child(void *data)
{
	struct owner_expect *e = data;
	struct shmdev_info info;
	int fd;

	fd = st_open();
	CHILD_CHECK(fd >= 0);
	CHILD_CHECK_EQ(0, st_attach(fd, e->name, SHMDEV_ATTACH_RDONLY,
				    NULL, NULL));
	CHILD_CHECK_EQ(0, st_info(fd, &info));
	CHILD_CHECK_EQ(e->uid, info.uid);
	CHILD_CHECK_EQ(e->gid, info.gid);
	close(fd);
	fd = st_open();
	CHILD_CHECK(fd >= 0);
	CHILD_CHECK_EQ(e->unlink, st_unlink(fd, e->name));
	return 0;
}

TEST_F(shmdev, setperm_chown_makes_other_user_owner)
{
	struct perm_op op = {
		.flags = SHMDEV_SETPERM_UID | SHMDEV_SETPERM_GID,
		.uid = user_b.uid, .gid = user_b.gid,
	};
	struct owner_expect old_owner = {
		.uid = user_b.uid, .gid = user_b.gid, .unlink = -EPERM,
	};
	struct owner_expect new_owner = {
		.uid = user_b.uid, .gid = user_b.gid, .unlink = 0,
	};
	const char *reason = no_other_users();
	int fd;

	if (reason)
		SKIP(return, "%s", reason);
	op.name = old_owner.name = new_owner.name = new_name(self);
	fd = create_on_new_fd(_metadata, op.name, page_size, 0644);
	close(fd);
	/* The owner (root here) gives it away ... */
	EXPECT_EQ(0, run_child(NULL, setperm_child, &op));
	/* ... user_a, who is not the owner, may not take it ... */
	op.uid = user_a.uid;
	op.ret = -EPERM;
	EXPECT_EQ(0, run_child(&user_a, setperm_child, &op));
	EXPECT_EQ(0, run_child(&user_a, owner_expect_child, &old_owner));
	/* ... and user_b owns it now: it may unlink it. */
	EXPECT_EQ(0, run_child(&user_b, owner_expect_child, &new_owner));
}

/*
 * user_a creates @c->name (mode 0644) and gives it to user_b with @op;
 * @e then expects user_b as owner, user_a's group, and an unlink that works.
 */
static void give_to_user_b(struct __test_metadata *_metadata,
			   FIXTURE_DATA(shmdev) *self, struct create_arg *c,
			   struct perm_op *op, struct owner_expect *e)
{
	*c = (struct create_arg){ .mode = 0644, .name = new_name(self) };
	*op = (struct perm_op){
		.name = c->name, .flags = SHMDEV_SETPERM_UID,
		.uid = user_b.uid,
	};
	*e = (struct owner_expect){
		.name = c->name, .uid = user_b.uid, .gid = user_a.gid,
		.unlink = 0,
	};
	ASSERT_EQ(0, run_child(&user_a, create_child, c));
	EXPECT_EQ(0, run_child(&user_a, setperm_child, op));
}

/*
 * As IPC_SET: the owner may give the segment to another user, who may then
 * unlink it; and as with SysV, the creator keeps control of what it gave.
 */
TEST_F(shmdev, setperm_owner_can_give_segment_away)
{
	const char *reason = no_other_users();
	struct owner_expect e;
	struct create_arg c;
	struct perm_op op;

	if (reason)
		SKIP(return, "%s", reason);
	give_to_user_b(_metadata, self, &c, &op, &e);
	EXPECT_EQ(0, run_child(&user_b, owner_expect_child, &e));
	EXPECT_EQ(-ENOENT, mode_of(c.name));
}

TEST_F(shmdev, creator_keeps_control_after_giving_segment_away)
{
	const char *reason = no_other_users();
	struct owner_expect e;
	struct create_arg c;
	struct perm_op op;

	if (reason)
		SKIP(return, "%s", reason);
	give_to_user_b(_metadata, self, &c, &op, &e);
	/* No longer the owner, user_a still changes the mode ... */
	op.flags = SHMDEV_SETPERM_MODE;
	op.mode = 0640;
	EXPECT_EQ(0, run_child(&user_a, setperm_child, &op));
	EXPECT_EQ(0640, mode_of(c.name));
	/* ... and unlinks it. */
	EXPECT_EQ(0, run_child(&user_a, owner_expect_child, &e));
	EXPECT_EQ(-ENOENT, mode_of(c.name));
}

/*
 * Becomes @cr with capability @cap alone, effective and permitted; 0 or
 * -errno.
 */
static int become_with_cap(const struct creds *cr, int cap)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) || setgroups(0, NULL) ||
	    setgid(cr->gid) || setuid(cr->uid))
		return -errno;
	memset(data, 0, sizeof(data));
	data[CAP_TO_INDEX(cap)].effective = CAP_TO_MASK(cap);
	data[CAP_TO_INDEX(cap)].permitted = CAP_TO_MASK(cap);
	if (syscall(SYS_capset, &hdr, data))
		return -errno;
	return 0;
}

struct cap_op {
	const char *name;
	int cap;
	int attach, setperm, unlink;	/* expected results */
};

/* As user_b with one capability: attach, change the mode, unlink. */
static int cap_only_child(void *data)
{
	struct cap_op *op = data;
	int fd;

	CHILD_CHECK_EQ(0, become_with_cap(&user_b, op->cap));
	fd = st_open();
	CHILD_CHECK(fd >= 0);
	CHILD_CHECK_EQ(op->attach, st_attach(fd, op->name, 0, NULL, NULL));
	close(fd);
	fd = st_open();
	CHILD_CHECK(fd >= 0);
	CHILD_CHECK_EQ(op->setperm, st_chmod(fd, op->name, 0640));
	CHILD_CHECK_EQ(op->unlink, st_unlink(fd, op->name));
	close(fd);
	return 0;
}

/*
 * As SysV's IPC_RMID and IPC_SET: CAP_IPC_OWNER overrides the mode for
 * ATTACH but gives no control; CAP_SYS_ADMIN gives control but no access.
 */
TEST_F(shmdev, unlink_and_setperm_need_sys_admin_not_ipc_owner)
{
	struct cap_op ipc_owner = {
		.cap = CAP_IPC_OWNER, .attach = 0,
		.setperm = -EPERM, .unlink = -EPERM,
	};
	struct cap_op sys_admin = {
		.cap = CAP_SYS_ADMIN, .attach = -EACCES,
		.setperm = 0, .unlink = 0,
	};
	const char *reason = no_other_users();

	if (reason)
		SKIP(return, "%s", reason);
	ipc_owner.name = sys_admin.name = new_name(self);
	/* Root's, and nothing for anyone else. */
	ASSERT_EQ(0, st_create(self->fd, ipc_owner.name, page_size, 0600,
			       NULL));
	EXPECT_EQ(0, run_child(NULL, cap_only_child, &ipc_owner));
	EXPECT_EQ(0600, mode_of(ipc_owner.name));
	EXPECT_EQ(0, run_child(NULL, cap_only_child, &sys_admin));
	EXPECT_EQ(-ENOENT, mode_of(ipc_owner.name));
}

/* LIST */

/* Index in @entries of the entry named @name, or -1. */
static int find_entry(const struct shmdev_info *entries, uint32_t nr,
		      const char *name)
{
	uint32_t i;

	for (i = 0; i < nr; i++)
		if (!strncmp(entries[i].name, name, SHMDEV_NAME_MAX))
			return i;
	return -1;
}

/*
 * Lists everything with an id above @after_id, up to @room entries, into
 * @entries; returns how many it wrote, or -errno.
 */
static int list_all(int fd, uint64_t after_id, struct shmdev_info *entries,
		    uint32_t room)
{
	uint32_t nr, total, got = 0;
	int ret;

	while (got < room) {
		ret = st_list(fd, after_id, entries + got, room - got, &nr,
			      &total);
		if (ret)
			return ret;
		got += nr;
		/* All there is after after_id came back: the end. */
		if (!nr || nr >= total)
			break;
		after_id = entries[got - 1].id;
	}
	return got;
}

TEST_F(shmdev, list_reports_own_segments_in_id_order)
{
	const char *names[3] = { new_name(self), new_name(self),
				 new_name(self) };
	struct shmdev_info entries[64];
	uint64_t ids[3];
	int i, nr, idx;

	for (i = 0; i < 3; i++) {
		int fd = st_open();

		ASSERT_LE(0, fd);
		ASSERT_EQ(0, st_create(fd, names[i], (i + 1) * page_size + i,
				       0600 - 0100 * i, &ids[i]));
		if (i == 1)
			ASSERT_EQ(0, st_add_seals(fd, SHMDEV_SEAL_GROW));
		close(fd);
	}
	nr = list_all(self->fd, ids[0] - 1, entries, ARRAY_SIZE(entries));
	ASSERT_LE(3, nr) TH_LOG("LIST: %d", nr);
	for (i = 1; i < nr; i++)
		EXPECT_LT(entries[i - 1].id, entries[i].id);
	for (i = 0; i < 3; i++) {
		idx = find_entry(entries, nr, names[i]);
		ASSERT_LE(0, idx) TH_LOG("%s not listed", names[i]);
		EXPECT_EQ(ids[i], entries[idx].id);
		EXPECT_EQ((i + 1) * page_size + i, entries[idx].size);
		EXPECT_EQ(0600U - 0100 * i, entries[idx].mode);
		EXPECT_EQ(geteuid(), entries[idx].uid);
		EXPECT_EQ(getegid(), entries[idx].gid);
		EXPECT_EQ(0U, entries[idx].flags);
		EXPECT_EQ(0U, entries[idx].nr_files);
		EXPECT_EQ(i == 1 ? SHMDEV_SEAL_GROW : 0U, entries[idx].seals);
	}
}

TEST_F(shmdev, list_omits_anonymous_and_unlinked_segments)
{
	const char *name = new_name(self);
	struct shmdev_info entries[64];
	uint64_t anon_id, id;
	int anon, nr, i;

	anon = st_open();
	ASSERT_LE(0, anon);
	ASSERT_EQ(0, st_create(anon, "", page_size, 0600, &anon_id));
	ASSERT_EQ(0, st_create(self->fd, name, page_size, 0600, &id));
	ASSERT_EQ(0, st_unlink(self->fd, name));
	nr = list_all(self->fd, anon_id - 1, entries, ARRAY_SIZE(entries));
	ASSERT_LE(0, nr);
	for (i = 0; i < nr; i++) {
		EXPECT_NE(anon_id, entries[i].id);
		EXPECT_NE(id, entries[i].id);
		EXPECT_NE('\0', entries[i].name[0]);
	}
	close(anon);
}

/* Creates the test's bulk names (mode 0600, one page); the first id. */
static uint64_t create_bulk(struct __test_metadata *_metadata,
			    FIXTURE_DATA(shmdev) *self, int count)
{
	char name[SHMDEV_NAME_MAX];
	uint64_t id, first = 0;
	int i, fd;

	reserve_bulk_names(self, count);
	for (i = 0; i < count; i++) {
		fd = st_open();
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, st_create(fd, bulk_name(self, i, name), page_size,
				       0600, &id)) TH_LOG("segment %d", i);
		if (!i)
			first = id;
		close(fd);
	}
	return first;
}

/* Index of a bulk name of this test, or -1. */
static int bulk_index(FIXTURE_DATA(shmdev) *self, const char *name)
{
	size_t len = strlen(self->bulk_prefix);
	char *end;
	long i;

	if (strncmp(name, self->bulk_prefix, len) || name[len] != '-')
		return -1;
	i = strtol(name + len + 1, &end, 10);
	return *end || i < 0 || i >= self->nr_bulk ? -1 : i;
}

TEST_F_TIMEOUT(shmdev, list_pages_through_300_segments_exactly_once, 120)
{
	const uint32_t room = 7;
	struct shmdev_info entries[7];
	uint64_t after, last = 0;
	int seen[LIST_BULK] = { 0 };
	uint32_t nr, total, prev_total = UINT32_MAX, i;
	int idx, calls = 0;

	after = create_bulk(_metadata, self, LIST_BULK) - 1;
	do {
		ASSERT_EQ(0, st_list(self->fd, after, entries, room, &nr,
				     &total));
		ASSERT_GE(room, nr);
		/* Each call counts what is left from its starting point. */
		EXPECT_GE(total, nr);
		EXPECT_GE(prev_total, total);
		prev_total = total - nr;
		for (i = 0; i < nr; i++) {
			EXPECT_LT(last, entries[i].id);
			last = entries[i].id;
			idx = bulk_index(self, entries[i].name);
			if (idx >= 0)
				seen[idx]++;
		}
		if (nr)
			after = entries[nr - 1].id;
		ASSERT_GT(1000, ++calls);
	} while (nr == room);
	for (idx = 0; idx < LIST_BULK; idx++)
		EXPECT_EQ(1, seen[idx]) TH_LOG("segment %d", idx);
}

TEST_F_TIMEOUT(shmdev, list_writes_at_most_list_max_entries, 120)
{
	static struct shmdev_info entries[LIST_BULK];
	uint32_t nr, total;
	uint64_t first;
	int i;

	first = create_bulk(_metadata, self, LIST_BULK);
	memset(entries, 0xa5, sizeof(entries));
	ASSERT_EQ(0, st_list(self->fd, first - 1, entries, LIST_BULK, &nr,
			     &total));
	EXPECT_EQ((uint32_t)SHMDEV_LIST_MAX, nr);
	EXPECT_LE((uint32_t)LIST_BULK, total);
	for (i = SHMDEV_LIST_MAX; i < LIST_BULK; i++)
		EXPECT_EQ(0xa5a5a5a5a5a5a5a5ULL, entries[i].id)
			TH_LOG("entry %d was written", i);
}

TEST_F(shmdev, list_nr_entries_zero_writes_nothing_returns_total)
{
	const char *a = new_name(self), *b = new_name(self);
	struct shmdev_info entry;
	uint32_t nr = ~0U, total = 0;
	uint64_t id;
	int fd;

	fd = create_on_new_fd(_metadata, b, page_size, 0600);
	ASSERT_EQ(0, st_create(self->fd, a, page_size, 0600, &id));
	memset(&entry, 0xa5, sizeof(entry));
	ASSERT_EQ(0, st_list(self->fd, id - 1, &entry, 0, &nr, &total));
	EXPECT_EQ(0U, nr);
	EXPECT_LE(1U, total);
	EXPECT_EQ(0xa5a5a5a5a5a5a5a5ULL, entry.id);
	/* Not even a pointer is needed to count. */
	ASSERT_EQ(0, st_list(self->fd, id - 1, (void *)1, 0, &nr, &total));
	EXPECT_EQ(0U, nr);
	EXPECT_LE(1U, total);
	close(fd);
}

TEST_F(shmdev, list_bad_entries_pointer_efault)
{
	const char *name = new_name(self);
	uint64_t id;

	ASSERT_EQ(0, st_create(self->fd, name, page_size, 0600, &id));
	EXPECT_EQ(-EFAULT, st_list(self->fd, id - 1, (void *)1, 4, NULL,
				   NULL));
}

TEST_F(shmdev, list_bad_pointer_efault)
{
	EXPECT_EQ(-EFAULT, st_ioctl(self->fd, SHMDEV_IOC_LIST, (void *)1));
}

/* LIST with one field of @arg set, which must fail with EINVAL. */
static void check_list_einval(struct __test_metadata *_metadata,
			      FIXTURE_DATA(shmdev) *self,
			      struct shmdev_list *arg)
{
	struct shmdev_info entry;

	memset(&entry, 0xa5, sizeof(entry));
	arg->entries = (uintptr_t)&entry;
	arg->nr_entries = 1;
	ASSERT_EQ(0, st_create(self->fd, new_name(self), page_size, 0600,
			       NULL));
	EXPECT_EQ(-EINVAL, st_ioctl(self->fd, SHMDEV_IOC_LIST, arg));
	EXPECT_EQ(0xa5a5a5a5a5a5a5a5ULL, entry.id);
}

TEST_F(shmdev, list_flags_nonzero_einval)
{
	struct shmdev_list arg = { .flags = 1U << 5 };

	check_list_einval(_metadata, self, &arg);
}

TEST_F(shmdev, list_pad_nonzero_einval)
{
	struct shmdev_list arg = { .pad = 1 };

	check_list_einval(_metadata, self, &arg);
}

TEST_F(shmdev, list_reserved_nonzero_einval)
{
	struct shmdev_list arg = { .reserved = { 0, 1 } };

	check_list_einval(_metadata, self, &arg);
}

struct list_expect {
	uint64_t after_id;
	const char *names[4];
	bool listed[4];
};

static int list_expect_child(void *data)
{
	struct list_expect *e = data;
	struct shmdev_info entries[64];
	int fd, nr, i;

	fd = st_open();
	CHILD_CHECK(fd >= 0);
	nr = list_all(fd, e->after_id, entries, ARRAY_SIZE(entries));
	CHILD_CHECK(nr >= 0);
	for (i = 0; i < 4 && e->names[i]; i++) {
		if ((find_entry(entries, nr, e->names[i]) >= 0) !=
		    e->listed[i]) {
			fprintf(stderr, "# %s: listed %d, expected %d\n",
				e->names[i], !e->listed[i], e->listed[i]);
			return 1;
		}
	}
	return 0;
}

TEST_F(shmdev, list_hides_segments_caller_may_not_read)
{
	struct create_arg own = { .name = new_name(self), .mode = 0 };
	struct list_expect e = {
		.names = { new_name(self), new_name(self), new_name(self),
			   own.name },
		.listed = { false, true, true, true },
	};
	const char *reason = no_other_users();
	int fd;

	if (reason)
		SKIP(return, "%s", reason);
	/* Root's 0600, 0604 and 0640 with user_a in the group; user_a's 0. */
	fd = st_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, st_create(fd, e.names[0], page_size, 0600,
			       &e.after_id));
	e.after_id--;
	close(fd);
	fd = create_on_new_fd(_metadata, e.names[1], page_size, 0604);
	close(fd);
	fd = st_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, st_create(fd, e.names[2], page_size, 0640, NULL));
	ASSERT_EQ(0, st_setperm(fd, e.names[2], SHMDEV_SETPERM_GID, 0, 0,
				user_b_in_group.group));
	close(fd);
	ASSERT_EQ(0, run_child(&user_a, create_child, &own));
	EXPECT_EQ(0, run_child(&user_a, list_expect_child, &e));
	/* Root may attach anything, so it lists them all. */
	e.listed[0] = true;
	EXPECT_EQ(0, run_child(NULL, list_expect_child, &e));
}

/* Namespaces */

/*
 * In a child: enters a new user namespace (and a new IPC namespace if
 * @ipc) in which the caller's uid and gid are 0. Exits with CHILD_SKIP if
 * unprivileged user namespaces are not available.
 */
static void enter_userns(bool ipc)
{
	uid_t uid = geteuid();
	gid_t gid = getegid();
	char map[64];

	/* After setuid() /proc/self is root's unless we are dumpable. */
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	if (unshare(CLONE_NEWUSER | (ipc ? CLONE_NEWIPC : 0))) {
		fprintf(stderr, "# unshare(CLONE_NEWUSER%s): %s\n",
			ipc ? " | CLONE_NEWIPC" : "", strerror(errno));
		if (errno == EPERM || errno == EINVAL || errno == ENOSPC)
			_exit(CHILD_SKIP);
		_exit(1);
	}
	CHILD_CHECK_EQ(0, write_file("/proc/self/setgroups", "deny"));
	snprintf(map, sizeof(map), "0 %u 1", uid);
	CHILD_CHECK_EQ(0, write_file("/proc/self/uid_map", map));
	snprintf(map, sizeof(map), "0 %u 1", gid);
	CHILD_CHECK_EQ(0, write_file("/proc/self/gid_map", map));
}

/* Runs @fn in a child, as @cr if given; SKIPs if it reports CHILD_SKIP. */
#define RUN_NS_CHILD(cr, fn, arg) do {					\
	int __ret = run_child(cr, fn, arg);				\
									\
	if (__ret == CHILD_SKIP)					\
		SKIP(return, "unprivileged user namespaces unavailable"); \
	EXPECT_EQ(0, __ret);						\
} while (0)

struct ns_arg {
	const char *name;	/* the parent's segment */
	uint64_t id;		/* its id */
	bool userns;		/* a user namespace, not just an IPC one */
	bool ipcns;
};

/* In a new IPC namespace (as root, or in a user namespace). */
static void enter_ns(const struct ns_arg *a)
{
	if (a->userns) {
		enter_userns(a->ipcns);
		return;
	}
	CHILD_CHECK_EQ(0, unshare(CLONE_NEWIPC));
}

/* In a child: neither a read-write nor a read-only attach of @name works */
static void child_check_attach_fails(const char *name, int err)
{
	struct shmdev_info info;
	int fd;

	fd = st_open();
	CHILD_CHECK(fd >= 0);
	CHILD_CHECK_EQ(err, st_attach(fd, name, 0, NULL, NULL));
	CHILD_CHECK_EQ(err, st_attach(fd, name, SHMDEV_ATTACH_RDONLY,
				      NULL, NULL));
	CHILD_CHECK_EQ(-ENODEV, st_info(fd, &info));
	close(fd);
}

/* Nothing of the parent's segment is reachable by name. */
static int other_ns_lookup_child(void *data)
{
	struct ns_arg *a = data;
	uint32_t nr = 1, total = 1;
	struct shmdev_info entry;
	int fd;

	enter_ns(a);
	child_check_attach_fails(a->name, -ENOENT);
	fd = st_open();
	CHILD_CHECK(fd >= 0);
	CHILD_CHECK_EQ(-ENOENT, st_unlink(fd, a->name));
	CHILD_CHECK_EQ(-ENOENT, st_chmod(fd, a->name, 0666));
	CHILD_CHECK_EQ(0, st_list(fd, 0, &entry, 1, &nr, &total));
	CHILD_CHECK_EQ(0, nr);
	CHILD_CHECK_EQ(0, total);
	return 0;
}

/* The same name is free there: a new, separate segment. */
static int other_ns_create_child(void *data)
{
	struct ns_arg *a = data;
	struct shmdev_info entry;
	uint32_t nr = 0, total = 0;
	uint64_t id;
	uint8_t *p;
	int fd;

	enter_ns(a);
	fd = st_open();
	CHILD_CHECK(fd >= 0);
	CHILD_CHECK_EQ(0, st_create(fd, a->name, page_size, 0666, &id));
	CHILD_CHECK(id != a->id);
	p = map_fd(fd, page_size, PROT_READ | PROT_WRITE, MAP_SHARED);
	CHILD_CHECK(p != MAP_FAILED);
	CHILD_CHECK(all_zero(p, page_size));
	memset(p, 0xee, page_size);
	CHILD_CHECK_EQ(0, st_list(fd, 0, &entry, 1, &nr, &total));
	CHILD_CHECK_EQ(1, nr);
	CHILD_CHECK_EQ(id, entry.id);
	CHILD_CHECK_EQ(-EEXIST, st_create(st_open(), a->name, page_size, 0600,
					  NULL));
	CHILD_CHECK_EQ(0, st_unlink(fd, a->name));
	return 0;
}

/* The parent's segment @a, filled with SEED_A, still there and its own. */
static void check_parent_segment(struct __test_metadata *_metadata,
				 const struct ns_arg *a)
{
	uint64_t id;
	uint8_t *p;
	int fd;

	fd = st_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, st_attach(fd, a->name, SHMDEV_ATTACH_RDONLY, NULL, &id));
	EXPECT_EQ(a->id, id);
	p = map_fd(fd, page_size, PROT_READ, MAP_SHARED);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(page_size, st_mismatch(p, page_size, SEED_A));
	EXPECT_EQ(0666, mode_of(a->name));
	munmap(p, page_size);
	close(fd);
}

/* A segment everyone may use, filled with SEED_A, for the ns tests. */
static void create_public(struct __test_metadata *_metadata,
			  FIXTURE_DATA(shmdev) *self, struct ns_arg *a)
{
	uint8_t *p;

	a->name = new_name(self);
	ASSERT_EQ(0, st_create(self->fd, a->name, page_size, 0666, &a->id));
	p = map_fd(self->fd, page_size, PROT_READ | PROT_WRITE, MAP_SHARED);
	ASSERT_NE(MAP_FAILED, p);
	st_fill(p, page_size, SEED_A);
	munmap(p, page_size);
}

/*
 * Runs @fn in a child in another IPC namespace: as root in a new IPC
 * namespace, or (@userns) as an ordinary user in a new user and IPC
 * namespace, as an unprivileged container would. The parent's segment
 * must come out of it unchanged.
 */
static void check_other_ns(struct __test_metadata *_metadata,
			   FIXTURE_DATA(shmdev) *self, bool userns,
			   int (*fn)(void *))
{
	struct ns_arg a = { .userns = userns, .ipcns = true };
	const struct creds *cr = NULL;
	const char *reason;

	if (!userns && geteuid() != 0)
		SKIP(return, "needs root for unshare(CLONE_NEWIPC)");
	reason = userns ? unprivileged_creds(&cr) : NULL;
	if (reason)
		SKIP(return, "%s", reason);
	create_public(_metadata, self, &a);
	RUN_NS_CHILD(cr, fn, &a);
	check_parent_segment(_metadata, &a);
}

TEST_F(shmdev, other_ipcns_cannot_attach_unlink_setperm_or_list)
{
	check_other_ns(_metadata, self, false, other_ns_lookup_child);
}

TEST_F(shmdev, other_ipcns_same_name_is_independent_segment)
{
	check_other_ns(_metadata, self, false, other_ns_create_child);
}

TEST_F(shmdev, other_userns_cannot_attach_unlink_setperm_or_list)
{
	check_other_ns(_metadata, self, true, other_ns_lookup_child);
}

TEST_F(shmdev, other_userns_same_name_is_independent_segment)
{
	check_other_ns(_metadata, self, true, other_ns_create_child);
}

/* Creates a segment in a new IPC namespace and leaves it there. */
static int abandon_in_ns_child(void *data)
{
	struct ns_arg *a = data;
	uint8_t *p;
	int fd;

	enter_ns(a);
	fd = st_open();
	CHILD_CHECK(fd >= 0);
	CHILD_CHECK_EQ(0, st_create(fd, a->name, 8 * page_size, 0600, NULL));
	p = map_fd(fd, 8 * page_size, PROT_READ | PROT_WRITE, MAP_SHARED);
	CHILD_CHECK(p != MAP_FAILED);
	memset(p, 0xee, 8 * page_size);
	return 0;
}

/* Names of a namespace nobody can enter any more go, and their memory. */
TEST_F(shmdev, dead_ipcns_segments_are_freed)
{
	struct ns_arg a = { .name = new_name(self), .ipcns = true };
	uint64_t pages = module_pages();
	const struct creds *cr = NULL;
	const char *reason;

	if (geteuid() != 0) {
		reason = unprivileged_creds(&cr);
		if (reason)
			SKIP(return, "%s", reason);
		a.userns = true;
	}
	RUN_NS_CHILD(cr, abandon_in_ns_child, &a);
	EXPECT_EQ(pages, settle_pages(pages));
}

/* IPC namespaces created and abandoned for this long, one at a time. */
#define CHURN_NAMESPACES	20
#define CHURN_GAP_SECS		0.4
/*
 * The longest a dead namespace's names may stay: the module looks for dead
 * namespaces every second, and emulation and debug kernels run slowly.
 */
#define CHURN_REAP_BOUND_SECS	4.0
#define CHURN_SEG_PAGES		64

struct churn_arg {
	struct ns_arg ns;
	int fd;			/* the parent's device file to create on */
};

/*
 * Creates and fills a named segment on the parent's file in a new IPC
 * namespace, then exits: the namespace dies with it, while the parent's
 * file keeps the segment's memory.
 */
static int churn_child(void *data)
{
	struct churn_arg *c = data;
	size_t size = CHURN_SEG_PAGES * page_size;
	uint8_t *p;

	enter_ns(&c->ns);
	CHILD_CHECK_EQ(0, st_create(c->fd, c->ns.name, size, 0600, NULL));
	p = map_fd(c->fd, size, PROT_READ | PROT_WRITE, MAP_SHARED);
	CHILD_CHECK(p != MAP_FAILED);
	memset(p, 0xee, size);
	return 0;
}

/*
 * Whether the segment behind @fd has lost its name; checks that it waited
 * no longer than the bound since its namespace died at @died.
 */
static bool churn_reaped(struct __test_metadata *_metadata, int fd,
			 double died, double *latency)
{
	struct shmdev_info info;
	double now = st_now_secs();
	int ret;

	*latency = now - died;
	ret = st_info(fd, &info);
	EXPECT_EQ(0, ret);
	if (ret)
		return true;
	if (info.flags & SHMDEV_INFO_UNLINKED)
		return true;
	/* Past the bound: a failure, and no point in waiting longer. */
	EXPECT_GE(CHURN_REAP_BOUND_SECS, *latency);
	return *latency > CHURN_REAP_BOUND_SECS;
}

/*
 * A new IPC namespace every 0.4 s, each dying with a named segment in it:
 * every one's names go within a bounded time while the churn goes on (a
 * reaper that new namespaces keep postponing fails here), and the memory
 * goes when the last file does.
 */
TEST_F_TIMEOUT(shmdev, dead_ipcns_churn_reaped_within_bound, 120)
{
	struct churn_arg c[CHURN_NAMESPACES] = { 0 };
	double died[CHURN_NAMESPACES], latency[CHURN_NAMESPACES];
	bool done[CHURN_NAMESPACES] = { false };
	uint64_t pages = module_pages();
	const char *name = new_name(self);
	const struct creds *cr = NULL;
	double next, worst = 0;
	int i, j, left, ret;

	if (geteuid() != 0) {
		const char *reason = unprivileged_creds(&cr);

		if (reason)
			SKIP(return, "%s", reason);
	}
	for (i = 0; i < CHURN_NAMESPACES; i++) {
		/* Each namespace is new: one name serves them all. */
		c[i].ns.name = name;
		c[i].ns.ipcns = true;
		c[i].ns.userns = geteuid() != 0;
		c[i].fd = -1;
	}
	next = st_now_secs();
	for (i = 0, left = CHURN_NAMESPACES; left;) {
		if (i < CHURN_NAMESPACES && st_now_secs() >= next) {
			c[i].fd = st_open();
			ASSERT_LE(0, c[i].fd);
			ret = run_child(cr, churn_child, &c[i]);
			if (ret == CHILD_SKIP)
				SKIP(goto out, "unprivileged user namespaces unavailable");
			ASSERT_EQ(0, ret);
			died[i++] = st_now_secs();
			next += CHURN_GAP_SECS;
		}
		for (j = 0; j < i; j++) {
			if (!done[j] && churn_reaped(_metadata, c[j].fd,
						     died[j], &latency[j])) {
				done[j] = true;
				left--;
			}
		}
		usleep(20000);
	}
	for (j = 0; j < CHURN_NAMESPACES; j++) {
		struct shmdev_info info;

		if (latency[j] > worst)
			worst = latency[j];
		/* Unnamed now, but the file still holds every page. */
		EXPECT_EQ(0, st_info(c[j].fd, &info));
		EXPECT_EQ(CHURN_SEG_PAGES, info.nr_pages);
	}
	printf("# %d namespaces, names gone at most %.2f s after death\n",
	       CHURN_NAMESPACES, worst);
out:
	for (j = 0; j < CHURN_NAMESPACES; j++)
		if (c[j].fd >= 0)
			close(c[j].fd);
	EXPECT_EQ(pages, settle_pages(pages));
}

/* Same IPC namespace, new user namespace: names are visible. */
static int same_ipcns_child(void *data)
{
	struct ns_arg *a = data;
	struct shmdev_info entries[64];
	uint64_t id;
	int fd, nr;

	enter_userns(false);
	fd = st_open();
	CHILD_CHECK(fd >= 0);
	CHILD_CHECK_EQ(0, st_attach(fd, a->name, SHMDEV_ATTACH_RDONLY, NULL,
				    &id));
	CHILD_CHECK_EQ(a->id, id);
	nr = list_all(fd, a->id - 1, entries, ARRAY_SIZE(entries));
	CHILD_CHECK(find_entry(entries, nr, a->name) >= 0);
	return 0;
}

TEST_F(shmdev, child_userns_in_same_ipcns_sees_names)
{
	struct ns_arg a = { 0 };
	const struct creds *cr;

	UNPRIVILEGED_CREDS_OR_SKIP(cr);
	create_public(_metadata, self, &a);
	RUN_NS_CHILD(cr, same_ipcns_child, &a);
}

/*
 * Full capabilities in a user namespace that does not own the IPC
 * namespace override nothing.
 */
static int userns_caps_child(void *data)
{
	struct ns_arg *a = data;
	struct shmdev_info entries[64];
	int fd, nr;

	enter_userns(false);
	child_check_attach_fails(a->name, -EACCES);
	fd = st_open();
	CHILD_CHECK(fd >= 0);
	CHILD_CHECK_EQ(-EPERM, st_unlink(fd, a->name));
	CHILD_CHECK_EQ(-EPERM, st_chmod(fd, a->name, 0666));
	CHILD_CHECK_EQ(-EPERM, st_setperm(fd, a->name, SHMDEV_SETPERM_UID, 0,
					  0, 0));
	nr = list_all(fd, a->id - 1, entries, ARRAY_SIZE(entries));
	CHILD_CHECK(nr >= 0);
	CHILD_CHECK(find_entry(entries, nr, a->name) < 0);
	return 0;
}

TEST_F(shmdev, child_userns_caps_do_not_override_mode)
{
	struct ns_arg a = { .name = new_name(self) };
	const char *reason = no_other_users();

	if (reason)
		SKIP(return, "%s", reason);
	ASSERT_EQ(0, st_create(self->fd, a.name, page_size, 0600, &a.id));
	RUN_NS_CHILD(&user_a, userns_caps_child, &a);
	EXPECT_EQ(0600, mode_of(a.name));
}

/* The owner's own mode bits bind it even with all capabilities in a userns */
static int userns_own_mode_child(void *data)
{
	struct ns_arg *a = data;
	int fd;

	fd = st_open();
	CHILD_CHECK(fd >= 0);
	CHILD_CHECK_EQ(0, st_create(fd, a->name, page_size, 0, NULL));
	close(fd);
	enter_userns(false);
	child_check_attach_fails(a->name, -EACCES);
	fd = st_open();
	CHILD_CHECK(fd >= 0);
	/* Still the owner: it may remove it. */
	CHILD_CHECK_EQ(0, st_unlink(fd, a->name));
	return 0;
}

TEST_F(shmdev, child_userns_caps_do_not_override_own_mode_bits)
{
	struct ns_arg a = { .name = new_name(self) };
	const struct creds *cr;

	UNPRIVILEGED_CREDS_OR_SKIP(cr);
	RUN_NS_CHILD(cr, userns_own_mode_child, &a);
}

struct userns_ids_arg {
	const char *own;	/* created by the child before unshare */
	const char *foreign;	/* root's, or NULL */
};

static int userns_ids_child(void *data)
{
	struct userns_ids_arg *a = data;
	struct shmdev_info info;
	int fd;

	fd = st_open();
	CHILD_CHECK(fd >= 0);
	CHILD_CHECK_EQ(0, st_create(fd, a->own, page_size, 0600, NULL));
	enter_userns(false);
	CHILD_CHECK_EQ(0, st_info(fd, &info));
	CHILD_CHECK_EQ(0, info.uid);
	CHILD_CHECK_EQ(0, info.gid);
	if (a->foreign) {
		fd = st_open();
		CHILD_CHECK(fd >= 0);
		CHILD_CHECK_EQ(0, st_attach(fd, a->foreign,
					    SHMDEV_ATTACH_RDONLY, NULL, NULL));
		CHILD_CHECK_EQ(0, st_info(fd, &info));
		CHILD_CHECK_EQ(OVERFLOW_ID, info.uid);
		CHILD_CHECK_EQ(OVERFLOW_ID, info.gid);
	}
	/* A uid with no mapping in this namespace cannot be given. */
	CHILD_CHECK_EQ(-EINVAL, st_setperm(fd, a->own, SHMDEV_SETPERM_UID, 0,
					   1, 0));
	CHILD_CHECK_EQ(0, st_unlink(fd, a->own));
	return 0;
}

TEST_F(shmdev, userns_info_reports_owner_as_seen_from_userns)
{
	struct userns_ids_arg a = { .own = new_name(self) };
	const struct creds *cr;

	UNPRIVILEGED_CREDS_OR_SKIP(cr);
	if (cr) {
		a.foreign = new_name(self);
		ASSERT_EQ(0, st_create(self->fd, a.foreign, page_size, 0644,
				       NULL));
	}
	RUN_NS_CHILD(cr, userns_ids_child, &a);
}

/* Limits (module parameters) */

/*
 * CREATE on @fd, retried for a while on @err: a segment closed just before
 * may still be on its way out.
 */
static int create_retry(int fd, uint64_t size, int err)
{
	int ret, i;

	for (i = 0; i < SETTLE_TRIES; i++) {
		ret = st_create(fd, "", size, 0600, NULL);
		if (ret != err)
			break;
		usleep(10000);
	}
	return ret;
}

#define NEEDS_ROOT_FOR_PARAMS() do {					\
	if (geteuid() != 0)						\
		SKIP(return, "needs root to write " PARAM_DIR);		\
} while (0)

TEST_F(shmdev, version_reports_limits_of_params)
{
	struct shmdev_version ver;
	uint64_t size, total, count;

	ASSERT_EQ(0, read_param("max_segment_size", &size));
	ASSERT_EQ(0, read_param("max_total_bytes", &total));
	ASSERT_EQ(0, read_param("max_segments", &count));
	ASSERT_EQ(0, st_version(self->fd, &ver));
	EXPECT_EQ(size, ver.max_segment_size);
	EXPECT_EQ(total, ver.max_total_bytes);
	EXPECT_EQ(count, ver.max_segments);
	if (geteuid() != 0)
		return;
	ASSERT_EQ(0, set_param(self, "max_segment_size", 5 * page_size));
	ASSERT_EQ(0, set_param(self, "max_total_bytes", 50 * page_size));
	ASSERT_EQ(0, set_param(self, "max_segments", 77));
	ASSERT_EQ(0, st_version(self->fd, &ver));
	EXPECT_EQ(5 * page_size, ver.max_segment_size);
	EXPECT_EQ(50 * page_size, ver.max_total_bytes);
	EXPECT_EQ(77U, ver.max_segments);
}

TEST_F(shmdev, limit_max_segments_create_enospc)
{
	const char *name = new_name(self);
	int fds[5], i, created = 0, ret = 0;

	NEEDS_ROOT_FOR_PARAMS();
	ASSERT_EQ(0, set_param(self, "max_segments", 4));
	for (i = 0; i < 5; i++) {
		fds[i] = st_open();
		ASSERT_LE(0, fds[i]);
		ret = st_create(fds[i], "", page_size, 0600, NULL);
		if (ret)
			break;
		created++;
	}
	EXPECT_EQ(-ENOSPC, ret) TH_LOG("after %d segments", created);
	EXPECT_GE(4, created);
	/* Named or not, nothing more, and the failure left no name. */
	EXPECT_EQ(-ENOSPC, st_create(self->fd, name, page_size, 0600, NULL));
	EXPECT_EQ(-ENOENT, st_attach(self->fd, name, 0, NULL, NULL));
	/* One gone, one more allowed. */
	if (created) {
		close(fds[0]);
		EXPECT_EQ(0, create_retry(fds[created], page_size, -ENOSPC));
	}
	for (i = 1; i <= created && i < 5; i++)
		close(fds[i]);
}

TEST_F(shmdev, limit_max_segment_size_create_and_resize_efbig)
{
	const size_t max = 4 * page_size;
	int fd;

	NEEDS_ROOT_FOR_PARAMS();
	ASSERT_EQ(0, set_param(self, "max_segment_size", max));
	EXPECT_EQ(-EFBIG, st_create(self->fd, "", max + 1, 0600, NULL));
	ASSERT_EQ(0, st_create(self->fd, "", max, 0600, NULL));
	EXPECT_EQ(-EFBIG, st_resize(self->fd, max + 1));
	EXPECT_EQ(max, seg_size(self->fd));
	EXPECT_EQ(0, st_resize(self->fd, max - 1));
	/* Lowering the limit leaves bigger segments alone. */
	ASSERT_EQ(0, set_param(self, "max_segment_size", page_size));
	EXPECT_EQ(max - 1, seg_size(self->fd));
	EXPECT_EQ(-EFBIG, st_resize(self->fd, max));
	fd = st_open();
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EFBIG, st_create(fd, "", 2 * page_size, 0600, NULL));
	close(fd);
}

TEST_F(shmdev, limit_max_total_bytes_create_and_resize_enomem)
{
	int a, b, c;

	NEEDS_ROOT_FOR_PARAMS();
	ASSERT_EQ(0, set_param(self, "max_total_bytes", 8 * page_size));
	a = st_open();
	b = st_open();
	c = st_open();
	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	ASSERT_LE(0, c);
	if (st_create(a, "", 6 * page_size, 0600, NULL) == -ENOMEM)
		SKIP(goto out, "other segments use up the bytes");
	EXPECT_EQ(-ENOMEM, st_create(b, new_name(self), 3 * page_size, 0600,
				     NULL));
	ASSERT_EQ(0, st_create(b, "", 2 * page_size, 0600, NULL));
	EXPECT_EQ(-ENOMEM, st_create(c, "", 1, 0600, NULL));
	EXPECT_EQ(-ENOMEM, st_resize(b, 2 * page_size + 1));
	EXPECT_EQ(2 * page_size, seg_size(b));
	/* Shrinking gives bytes back for others to use. */
	EXPECT_EQ(0, st_resize(a, 5 * page_size));
	EXPECT_EQ(0, st_resize(b, 3 * page_size));
	close(a);
	EXPECT_EQ(0, create_retry(c, 5 * page_size, -ENOMEM));
out:
	close(b);
	close(c);
}

static int write_params_child(void *data)
{
	static const char *const params[] = {
		"max_segments", "max_segment_size", "max_total_bytes",
		"nr_pages",
	};
	char path[128];
	size_t i;

	(void)data;
	for (i = 0; i < ARRAY_SIZE(params); i++) {
		snprintf(path, sizeof(path), PARAM_DIR "/%s", params[i]);
		CHILD_CHECK(open(path, O_WRONLY | O_CLOEXEC) == -1);
		CHILD_CHECK_EQ(EACCES, errno);
	}
	return 0;
}

TEST_F(shmdev, limit_params_not_writable_by_unprivileged_user)
{
	uint64_t before, after;
	const struct creds *cr;

	UNPRIVILEGED_CREDS_OR_SKIP(cr);
	ASSERT_EQ(0, read_param("max_segments", &before));
	EXPECT_EQ(0, run_child(cr, write_params_child, NULL));
	ASSERT_EQ(0, read_param("max_segments", &after));
	EXPECT_EQ(before, after);
}

/* Memory cgroup accounting */

struct memcg {
	char mnt[64];		/* our cgroup2 mount, if we made one */
	char root[80];		/* the cgroup2 root */
	char dir[160];		/* our group */
	bool enabled_memory;	/* we wrote +memory to subtree_control */
};

static int cg_path(char *buf, size_t len, const char *dir, const char *file)
{
	return snprintf(buf, len, "%s/%s", dir, file) >= (int)len ? -1 : 0;
}

static int cg_write(const char *dir, const char *file, const char *val)
{
	char path[256];

	if (cg_path(path, sizeof(path), dir, file))
		return -ENAMETOOLONG;
	return write_file(path, val);
}

static int cg_read(const char *dir, const char *file, char *buf, size_t len)
{
	char path[256];
	ssize_t n;
	int fd;

	if (cg_path(path, sizeof(path), dir, file))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

/* Value of @key in a flat keyed file such as memory.events, or -1. */
static long long cg_key(const char *dir, const char *file, const char *key)
{
	char buf[1024], *line;
	size_t klen = strlen(key);

	if (cg_read(dir, file, buf, sizeof(buf)))
		return -1;
	for (line = buf; line && *line; line = strchr(line, '\n')) {
		if (*line == '\n')
			line++;
		if (!strncmp(line, key, klen) && line[klen] == ' ')
			return strtoll(line + klen + 1, NULL, 10);
	}
	return -1;
}

static long long cg_value(const char *dir, const char *file)
{
	char buf[64];

	return cg_read(dir, file, buf, sizeof(buf)) ? -1 :
	       strtoll(buf, NULL, 10);
}

static void memcg_cleanup(struct memcg *cg)
{
	int i;

	/* A group is busy until its last, dying, member is gone. */
	for (i = 0; cg->dir[0] && i < 200; i++) {
		if (!rmdir(cg->dir) || errno == ENOENT)
			break;
		usleep(10000);
	}
	if (cg->enabled_memory)
		cg_write(cg->root, "cgroup.subtree_control", "-memory");
	if (cg->mnt[0]) {
		umount2(cg->mnt, MNT_DETACH);
		rmdir(cg->mnt);
	}
}

/*
 * Sets up a group limited to @max bytes, and to no swap unless @swap; NULL,
 * or why it could not.
 */
static const char *memcg_setup_swap(struct memcg *cg, long long max,
				    bool swap)
{
	char buf[256];
	struct statfs sfs;

	memset(cg, 0, sizeof(*cg));
	if (!statfs("/sys/fs/cgroup", &sfs) && sfs.f_type == CGROUP2_MAGIC) {
		strcpy(cg->root, "/sys/fs/cgroup");
	} else {
		strcpy(cg->mnt, "/tmp/shmdev-cg-XXXXXX");
		if (!mkdtemp(cg->mnt)) {
			cg->mnt[0] = '\0';
			return "cannot make a cgroup2 mount point";
		}
		if (mount("cgroup2", cg->mnt, "cgroup2", 0, NULL)) {
			rmdir(cg->mnt);
			cg->mnt[0] = '\0';
			return "cannot mount cgroup2";
		}
		strcpy(cg->root, cg->mnt);
	}
	if (cg_read(cg->root, "cgroup.controllers", buf, sizeof(buf)) ||
	    !strstr(buf, "memory"))
		return "no memory controller in cgroup2";
	if (cg_read(cg->root, "cgroup.subtree_control", buf, sizeof(buf)))
		return "cannot read cgroup.subtree_control";
	if (!strstr(buf, "memory")) {
		if (cg_write(cg->root, "cgroup.subtree_control", "+memory"))
			return "cannot enable the memory controller";
		cg->enabled_memory = true;
	}
	snprintf(cg->dir, sizeof(cg->dir), "%s/shmdev-memcg-%d", cg->root,
		 getpid());
	if (mkdir(cg->dir, 0755)) {
		cg->dir[0] = '\0';
		return "cannot create a cgroup";
	}
	snprintf(buf, sizeof(buf), "%lld", max);
	if (cg_write(cg->dir, "memory.max", buf))
		return "cannot set memory.max";
	if (cg_path(buf, sizeof(buf), cg->dir, "memory.swap.max") == 0 &&
	    !access(buf, F_OK) &&
	    cg_write(cg->dir, "memory.swap.max", swap ? "max" : "0"))
		return "cannot set memory.swap.max";
	return NULL;
}

static const char *memcg_setup(struct memcg *cg, long long max)
{
	return memcg_setup_swap(cg, max, false);
}

struct memcg_child_arg {
	int go_fd;
	int close_fd;
	const char *name;	/* a segment to attach, or NULL: create one */
	size_t len;
	size_t huge;		/* a huge segment's page size, or 0 */
	bool tables_first;	/* st_make_page_tables() before the fill */
	bool verify;		/* fill every byte, then read all back */
};

/* Waits to be moved into the group, then writes every page of a segment. */
static int memcg_child(void *data)
{
	struct memcg_child_arg *a = data;
	struct rlimit no_core = { 0, 0 };
	volatile uint8_t *p;
	bool realigned;
	size_t off;
	char c;
	int fd;

	close(a->close_fd);
	/*
	 * No core dump, not even the start of one: the kernel prepares the
	 * dump's credentials before it looks at RLIMIT_CORE, and that
	 * allocation, charged to the full group, calls the OOM killer on the
	 * child the SIGBUS was killing (seen on 7.2, arm64 with 16 KiB
	 * pages). Not dumpable is checked first.
	 */
	setrlimit(RLIMIT_CORE, &no_core);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	CHILD_CHECK(read(a->go_fd, &c, 1) == 0);
	fd = st_open();
	CHILD_CHECK(fd >= 0);
	if (a->name)
		CHILD_CHECK_EQ(0, st_attach(fd, a->name, 0, NULL, NULL));
	else
		CHILD_CHECK_EQ(0, st_create(fd, "", a->len, 0600, NULL));
	p = st_mmap_huge(fd, a->len, PROT_READ | PROT_WRITE, MAP_SHARED, 0,
			 a->huge, &realigned);
	CHILD_CHECK(p != MAP_FAILED);
	if (a->tables_first)
		st_make_page_tables(p, a->len);
	if (a->verify) {
		st_fill((void *)p, a->len, SEED_C);
		off = st_mismatch((void *)p, a->len, SEED_C);
		CHILD_CHECK_EQ(a->len, off);
		fprintf(stderr, "# child wrote and read back %zu bytes\n",
			a->len);
		return 0;
	}
	for (off = 0; off < a->len; off += page_size)
		p[off] = 1;
	fprintf(stderr, "# child wrote all %zu bytes\n", a->len);
	return 0;
}

/*
 * Starts memcg_child() and moves it into @cg before it allocates anything.
 * Its pid, or -1.
 */
static pid_t memcg_spawn(struct __test_metadata *_metadata, struct memcg *cg,
			 struct memcg_child_arg *arg)
{
	char pidbuf[32];
	int go[2], ret;
	pid_t pid;

	if (pipe2(go, O_CLOEXEC)) {
		EXPECT_EQ(0, -errno);
		return -1;
	}
	arg->go_fd = go[0];
	arg->close_fd = go[1];
	pid = spawn_child(NULL, memcg_child, arg);
	close(go[0]);
	snprintf(pidbuf, sizeof(pidbuf), "%d", pid);
	ret = pid > 0 ? cg_write(cg->dir, "cgroup.procs", pidbuf) : -ECHILD;
	EXPECT_EQ(0, ret) TH_LOG("cannot move the child: %s", strerror(-ret));
	if (ret && pid > 0)
		kill(pid, SIGKILL);
	/* End of file on the pipe: the child goes on. */
	close(go[1]);
	return pid;
}

TEST_F_TIMEOUT(shmdev, memcg_limit_enforced, 120)
{
	const long long max = 16 << 20;
	/*
	 * Page tables first: the kernel charges one to the group when a fault
	 * enters a new span, before the module's page, and that charge calls
	 * the OOM killer when it finds the group full.
	 */
	struct memcg_child_arg arg = { .len = 64 << 20, .tables_first = true };
	long long current, peak = 0, oom, oom_kill, max_events;
	uint64_t pages = module_pages(), now, seg_peak = 0;
	int status = -1;
	const char *reason;
	struct memcg cg;
	pid_t pid;

	if (geteuid() != 0)
		SKIP(return, "needs root to set up a memory cgroup");
	reason = memcg_setup(&cg, max);
	if (reason) {
		memcg_cleanup(&cg);
		SKIP(return, "%s", reason);
	}
	pid = memcg_spawn(_metadata, &cg, &arg);
	/* Watch the usage while the child runs. */
	while (pid > 0 && waitpid(pid, &status, WNOHANG) == 0) {
		current = cg_value(cg.dir, "memory.current");
		if (current > peak)
			peak = current;
		now = module_pages();
		if (now != UINT64_MAX && now > pages && now - pages > seg_peak)
			seg_peak = now - pages;
		usleep(2000);
	}
	current = cg_value(cg.dir, "memory.peak");
	if (current > peak)
		peak = current;
	oom = cg_key(cg.dir, "memory.events", "oom");
	oom_kill = cg_key(cg.dir, "memory.events", "oom_kill");
	max_events = cg_key(cg.dir, "memory.events", "max");
	memcg_cleanup(&cg);

	TH_LOG("peak %lld, segment pages %llu, events: max %lld oom %lld oom_kill %lld",
	       peak, (unsigned long long)seg_peak, max_events, oom, oom_kill);
	/*
	 * The module fails the charge instead of calling the memcg OOM
	 * killer: the process that went over the limit gets SIGBUS, and
	 * nothing is killed.
	 */
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS)
		TH_LOG("child status 0x%x", status);
	/* The segment never held more than the group may use... */
	EXPECT_GE((uint64_t)max / page_size, seg_peak);
	EXPECT_LT(0U, seg_peak);
	/*
	 * ...and the group stayed near its limit. The kernel charges its own
	 * atomic allocations past memory.max (the siginfo of the SIGBUS, for
	 * one), and its per-CPU charge batches are 64 pages: seen here up to
	 * 64 pages over, so allow 1 MiB. The segment's own pages are bounded
	 * exactly, above.
	 */
	EXPECT_GE(max + (1 << 20), peak);
	EXPECT_LT(0, peak);
	EXPECT_LT(0, max_events);
	EXPECT_EQ(0, oom_kill);
	EXPECT_EQ(pages, settle_pages(pages));
}

/*
 * A huge segment whose huge pages the memory cgroup cannot pay for falls
 * back to base pages, until those cannot be paid for either: the segment
 * then holds both kinds, INFO tells them apart, and resizing over the
 * mixed range and reading it back work.
 */
TEST_F_TIMEOUT(shmdev, huge_falls_back_to_base_pages_under_memcg_limit, 120)
{
	const char *name = new_name(self);
	struct memcg_child_arg arg = { .name = name };
	struct shmdev_version ver;
	long long max;
	struct shmdev_info info;
	int status = -1;
	uint64_t huge_pages, base;
	const char *reason;
	struct memcg cg;
	size_t off, written = 0;
	uint8_t *p;
	pid_t pid;

	if (geteuid() != 0)
		SKIP(return, "needs root to set up a memory cgroup");
	ASSERT_EQ(0, st_version(self->fd, &ver));
	if (!ver.huge_page_size)
		SKIP(return, "this kernel cannot map huge pages");
	arg.huge = ver.huge_page_size;
	/* 12 MiB of 32 with 2 MiB huge pages: room for some, not all. */
	max = 6 * ver.huge_page_size;
	arg.len = 16 * ver.huge_page_size;
	ASSERT_EQ(0, st_create_flags(self->fd, name, arg.len, 0600,
				     SHMDEV_CREATE_HUGE, NULL));
	reason = memcg_setup(&cg, max);
	if (reason) {
		memcg_cleanup(&cg);
		SKIP(return, "%s", reason);
	}
	pid = memcg_spawn(_metadata, &cg, &arg);
	if (pid > 0)
		waitpid(pid, &status, 0);
	memcg_cleanup(&cg);

	/* It ran out of memory part-way, with SIGBUS, not the OOM killer. */
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS)
		TH_LOG("child status 0x%x", status);
	ASSERT_EQ(0, st_info(self->fd, &info));
	huge_pages = info.nr_huge_pages * (ver.huge_page_size / page_size);
	base = info.nr_pages - huge_pages;
	TH_LOG("%llu huge pages, %llu base pages",
	       (unsigned long long)info.nr_huge_pages,
	       (unsigned long long)base);
	EXPECT_LT(0U, info.nr_huge_pages);
	EXPECT_LT(0U, base);
	EXPECT_GE((uint64_t)max / page_size, info.nr_pages);

	/* What the child wrote is there, huge and base pages alike. */
	p = map_fd(self->fd, arg.len, PROT_READ | PROT_WRITE, MAP_SHARED);
	ASSERT_NE(MAP_FAILED, p);
	for (off = 0; off < arg.len && p[off] == 1; off += page_size)
		written++;
	EXPECT_LE(info.nr_pages - 1, written);
	/* Shrinking over the mixed range and growing back reads zeroes. */
	ASSERT_EQ(0, st_resize(self->fd, ver.huge_page_size));
	ASSERT_EQ(0, st_resize(self->fd, arg.len));
	EXPECT_EQ(1, p[0]);
	EXPECT_EQ(0, p[ver.huge_page_size]);
	EXPECT_EQ(0, p[arg.len - page_size]);
	munmap(p, arg.len);
}

/* Swap space in use, in kB, from /proc/swaps; -1 without any. */
static long long swap_total_kb(void)
{
	char line[256];
	long long size, total = -1;
	FILE *f = fopen("/proc/swaps", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%*s %*s %lld", &size) == 1)
			total = (total < 0 ? 0 : total) + size;
	fclose(f);
	return total;
}

/* A counter of /proc/vmstat, or -1. */
static long long vmstat(const char *key)
{
	char line[128];
	size_t klen = strlen(key);
	long long val = -1;
	FILE *f = fopen("/proc/vmstat", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && line[klen] == ' ')
			val = strtoll(line + klen + 1, NULL, 10);
	fclose(f);
	return val;
}

/*
 * A segment larger than its memory cgroup's memory.max is ordinary memory
 * when there is swap: its pages go to swap and come back intact, as a
 * memfd's do, with neither SIGBUS nor the OOM killer. Three times the
 * limit, kept small: every page goes out to the VM's emulated swap disk
 * and back, which took more than 300 s for 96 MiB on the debug kernel.
 */
TEST_F_TIMEOUT(shmdev, memcg_segment_larger_than_limit_swaps, 300)
{
	const long long max = 8 << 20;
	const char *name = new_name(self);
	struct memcg_child_arg arg = { .name = name, .len = 24 << 20,
				       .verify = true };
	long long swap_kb, pswpout, oom_kill;
	struct shmdev_info info;
	const char *reason;
	int status = -1;
	struct memcg cg;
	pid_t pid;

	if (geteuid() != 0)
		SKIP(return, "needs root to set up a memory cgroup");
	swap_kb = swap_total_kb();
	if (swap_kb <= 0)
		SKIP(return, "no swap here (the rig's VM has a swap disk)");
	if (swap_kb < 2 * (long long)(arg.len >> 10))
		SKIP(return, "%lld kB of swap is too little", swap_kb);
	ASSERT_EQ(0, st_create(self->fd, name, arg.len, 0600, NULL));
	reason = memcg_setup_swap(&cg, max, true);
	if (reason) {
		memcg_cleanup(&cg);
		SKIP(return, "%s", reason);
	}
	pswpout = vmstat("pswpout");
	pid = memcg_spawn(_metadata, &cg, &arg);
	if (pid > 0)
		waitpid(pid, &status, 0);
	oom_kill = cg_key(cg.dir, "memory.events", "oom_kill");
	ASSERT_EQ(0, st_info(self->fd, &info));
	memcg_cleanup(&cg);

	TH_LOG("pswpout +%lld, segment: %llu pages in memory, %llu in swap",
	       vmstat("pswpout") - pswpout,
	       (unsigned long long)info.nr_pages,
	       (unsigned long long)info.nr_swapped);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("child status 0x%x", status);
	EXPECT_EQ(0, oom_kill);
	EXPECT_LT(pswpout, vmstat("pswpout"));
	EXPECT_LT(0U, info.nr_swapped);
	EXPECT_GE((uint64_t)max / page_size, info.nr_pages);
	/* Unlinked, its swap is freed with it. */
	EXPECT_EQ(0, st_unlink(self->fd, name));
}

/* Information leaks */

TEST_F(shmdev, create_and_attach_outputs_fully_initialised)
{
	const char *name = new_name(self);
	struct shmdev_create c;
	struct shmdev_attach a;
	int fd;

	memset(&c, 0, sizeof(c));
	st_set_name(c.name, name);
	c.size = page_size;
	c.mode = 0600;
	memset(&c.id, 0xa5, sizeof(c.id));
	ASSERT_EQ(0, st_ioctl(self->fd, SHMDEV_IOC_CREATE, &c));
	EXPECT_NE(0xa5a5a5a5a5a5a5a5ULL, c.id);
	EXPECT_TRUE(all_zero(c.reserved, sizeof(c.reserved)));
	EXPECT_TRUE(all_zero(c.name + strlen(name),
			     SHMDEV_NAME_MAX - strlen(name)));

	memset(&a, 0, sizeof(a));
	st_set_name(a.name, name);
	a.flags = SHMDEV_ATTACH_RDONLY;
	memset(&a.size, 0xa5, sizeof(a.size));
	memset(&a.id, 0xa5, sizeof(a.id));
	fd = st_open();
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, st_ioctl(fd, SHMDEV_IOC_ATTACH, &a));
	EXPECT_EQ(c.id, a.id);
	EXPECT_EQ(page_size, a.size);
	EXPECT_EQ(0U, a.pad);
	EXPECT_TRUE(all_zero(a.reserved, sizeof(a.reserved)));
	close(fd);
}

TEST_F(shmdev, info_output_fully_initialised)
{
	const char *name = new_name(self);
	size_t len = strlen(name);
	struct shmdev_info info;
	int ro;

	ASSERT_EQ(0, st_create(self->fd, name, page_size, 0640, NULL));
	ASSERT_EQ(0, st_add_seals(self->fd, SHMDEV_SEAL_SHRINK));
	ro = attach_on_new_fd(_metadata, name, SHMDEV_ATTACH_RDONLY);
	memset(&info, 0xa5, sizeof(info));
	ASSERT_EQ(0, st_ioctl(ro, SHMDEV_IOC_INFO, &info));
	EXPECT_EQ(0, memcmp(info.name, name, len));
	EXPECT_TRUE(all_zero(info.name + len, SHMDEV_NAME_MAX - len));
	EXPECT_EQ((uint32_t)SHMDEV_INFO_RDONLY, info.flags);
	EXPECT_EQ(SHMDEV_SEAL_SHRINK, info.seals);
	EXPECT_EQ(0U, info.pad);
	EXPECT_TRUE(all_zero(info.reserved, sizeof(info.reserved)));
	EXPECT_EQ(0U, info.nr_pages);
	EXPECT_EQ(0U, info.nr_maps);
	close(ro);
}

TEST_F(shmdev, get_seals_output_fully_initialised)
{
	struct shmdev_seals arg;

	ASSERT_EQ(0, st_create(self->fd, "", page_size, 0600, NULL));
	ASSERT_EQ(0, st_add_seals(self->fd, SHMDEV_SEAL_GROW));
	memset(&arg, 0xa5, sizeof(arg));
	ASSERT_EQ(0, st_ioctl(self->fd, SHMDEV_IOC_GET_SEALS, &arg));
	EXPECT_EQ(SHMDEV_SEAL_GROW, arg.seals);
	EXPECT_EQ(0U, arg.pad);
	EXPECT_TRUE(all_zero(arg.reserved, sizeof(arg.reserved)));
}

TEST_F(shmdev, list_output_fully_initialised)
{
	const char *name = new_name(self);
	size_t len = strlen(name);
	struct shmdev_info entries[4];
	struct shmdev_list arg;
	uint64_t id;
	int idx;

	ASSERT_EQ(0, st_create(self->fd, name, 3 * page_size, 0640, &id));
	ASSERT_EQ(0, st_add_seals(self->fd, SHMDEV_SEAL_SEAL));
	memset(entries, 0xa5, sizeof(entries));
	memset(&arg, 0, sizeof(arg));
	arg.entries = (uintptr_t)entries;
	arg.after_id = id - 1;
	arg.nr_entries = ARRAY_SIZE(entries);
	arg.nr_total = 0xa5a5a5a5;
	ASSERT_EQ(0, st_ioctl(self->fd, SHMDEV_IOC_LIST, &arg));
	EXPECT_EQ(0U, arg.flags);
	EXPECT_EQ(0U, arg.pad);
	EXPECT_TRUE(all_zero(arg.reserved, sizeof(arg.reserved)));
	ASSERT_LE(1U, arg.nr_entries);
	EXPECT_LE(arg.nr_entries, arg.nr_total);
	idx = find_entry(entries, arg.nr_entries, name);
	ASSERT_LE(0, idx);
	EXPECT_EQ(id, entries[idx].id);
	EXPECT_EQ(3 * page_size, entries[idx].size);
	EXPECT_EQ(0640U, entries[idx].mode);
	EXPECT_EQ(SHMDEV_SEAL_SEAL, entries[idx].seals);
	EXPECT_EQ(0U, entries[idx].flags);
	EXPECT_EQ(1U, entries[idx].nr_files);
	EXPECT_TRUE(all_zero(entries[idx].name + len, SHMDEV_NAME_MAX - len));
	EXPECT_EQ(0U, entries[idx].pad);
	EXPECT_TRUE(all_zero(entries[idx].reserved,
			     sizeof(entries[idx].reserved)));
	if (arg.nr_entries < ARRAY_SIZE(entries))
		EXPECT_EQ(0xa5a5a5a5a5a5a5a5ULL,
			  entries[arg.nr_entries].id);
}

/* Pages freed by one segment read zero in any later one. */
TEST_F(shmdev, freed_pages_never_reappear_in_new_segments)
{
	const size_t len = 64 * page_size;
	const char *name = new_name(self);
	uint64_t pages = module_pages();
	int fds[LEAK_SEGMENTS], i;
	uint8_t *p;

	p = create_and_map(_metadata, self, name, len);
	memset(p, 0xa5, len);
	ASSERT_EQ(0, st_unlink(self->fd, name));
	munmap(p, len);
	close(self->fd);
	self->fd = -1;
	ASSERT_EQ(pages, settle_pages(pages));

	for (i = 0; i < LEAK_SEGMENTS; i++) {
		fds[i] = create_on_new_fd(_metadata, "", len / 8, 0600);
		p = map_fd(fds[i], len / 8, PROT_READ | PROT_WRITE,
			   MAP_SHARED);
		ASSERT_NE(MAP_FAILED, p);
		EXPECT_TRUE(all_zero(p, len / 8)) TH_LOG("segment %d", i);
		munmap(p, len / 8);
	}
	for (i = 0; i < LEAK_SEGMENTS; i++)
		close(fds[i]);
}

/* Races, each for race_secs() seconds */

#define RACE_MIN_PAGES		8	/* never shrunk below this */
#define RACE_MAX_PAGES		64
#define RACE_THREADS		4

struct race {
	int fd;
	const char *name;
	size_t min, max;		/* bytes */
	uint8_t *map;			/* shared by the threads, if any */
	volatile bool stop;
	volatile bool sealed;
	uint32_t seal;			/* the seal being raced */
	uint64_t sealed_size;
	int errors;
	long ops;
	char what[160];			/* the first error */
};

static void race_op(struct race *r)
{
	__atomic_fetch_add(&r->ops, 1, __ATOMIC_RELAXED);
}

static uint32_t thread_seed(void)
{
	static uint32_t next = 0x12345678;

	return __atomic_add_fetch(&next, 0x9e3779b9, __ATOMIC_RELAXED) | 1;
}

/*
 * Runs @nr threads over @r for race_secs(), then stops and joins them and
 * reports the errors they found.
 */
static void run_race(struct __test_metadata *_metadata, struct race *r,
		     void *(*const fns[])(void *), int nr)
{
	pthread_t threads[RACE_THREADS];
	double end = st_now_secs() + race_secs();
	int i, started = 0;

	st_probe_init();
	for (i = 0; i < nr && i < RACE_THREADS; i++) {
		if (pthread_create(&threads[i], NULL, fns[i], r))
			break;
		started++;
	}
	while (started == nr && st_now_secs() < end && !r->errors)
		usleep(10000);
	r->stop = true;
	for (i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	ASSERT_EQ(nr, started) TH_LOG("pthread_create failed");
	EXPECT_EQ(0, r->errors) TH_LOG("%d errors, first: %s", r->errors,
				       r->what);
	TH_LOG("%ld operations", r->ops);
}

/* Random sizes between r->min and r->max, some not page aligned. */
static void *resize_thread(void *data)
{
	struct race *r = data;
	uint32_t seed = thread_seed();
	uint64_t size;
	int ret;

	while (!r->stop) {
		size = r->min + rnd(&seed) % (r->max - r->min + 1);
		if (rnd(&seed) & 1)
			size = (size + page_size - 1) / page_size * page_size;
		if (size > r->max)
			size = r->max;
		ret = st_resize(r->fd, size);
		if (ret)
			race_error(r, "resize to %llu: %s",
				   (unsigned long long)size, strerror(-ret));
		race_op(r);
	}
	return NULL;
}

/*
 * Maps a random length, checks the never-shrunk part holds the pattern,
 * writes beyond it (SIGBUS allowed there only) and unmaps.
 */
static void *map_touch_thread(void *data)
{
	struct race *r = data;
	uint32_t seed = thread_seed();
	size_t len, off;
	uint8_t *p, val;
	int i, sig;

	while (!r->stop) {
		len = (1 + rnd(&seed) % (r->max / page_size)) * page_size;
		p = map_fd(r->fd, len, PROT_READ | PROT_WRITE, MAP_SHARED);
		if (p == MAP_FAILED) {
			/* Longer than the segment is right now. */
			if (errno != EINVAL)
				race_error(r, "mmap: %s", strerror(errno));
			continue;
		}
		for (i = 0; i < 16; i++) {
			off = rnd(&seed) % len;
			if (off < r->min) {
				sig = st_probe(p + off, false, 0, &val);
				if (sig)
					race_error(r, "signal %d at %zu", sig,
						   off);
				else if (val != st_pattern(off, SEED_A))
					race_error(r, "offset %zu changed",
						   off);
			} else {
				sig = probe_write(p + off, 0xee);
				if (sig && sig != SIGBUS)
					race_error(r, "signal %d at %zu", sig,
						   off);
			}
		}
		munmap(p, len);
		race_op(r);
	}
	return NULL;
}

TEST_F_TIMEOUT(shmdev, race_resize_vs_mmap_touch_munmap_keeps_data,
	       RACE_TIMEOUT)
{
	static void *(*const fns[])(void *) = {
		resize_thread, map_touch_thread, map_touch_thread,
		map_touch_thread,
	};
	struct race r = {
		.min = RACE_MIN_PAGES * page_size,
		.max = RACE_MAX_PAGES * page_size,
	};
	uint64_t pages = module_pages();
	uint8_t *p;

	p = create_and_map(_metadata, self, "", r.max);
	st_fill(p, r.min, SEED_A);
	munmap(p, r.max);
	r.fd = self->fd;
	run_race(_metadata, &r, fns, ARRAY_SIZE(fns));
	EXPECT_LE(r.min, seg_size(self->fd));
	p = map_fd(self->fd, r.min, PROT_READ, MAP_SHARED);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(r.min, st_mismatch(p, r.min, SEED_A));
	munmap(p, r.min);
	close(self->fd);
	self->fd = -1;
	EXPECT_EQ(pages, settle_pages(pages));
}

/* Faults every page of r->map in, over and over; SIGBUS is expected. */
static void *fault_thread(void *data)
{
	struct race *r = data;
	uint32_t seed = thread_seed();
	size_t off;
	int sig;

	while (!r->stop) {
		off = rnd(&seed) % (r->max / page_size) * page_size;
		sig = probe_write(r->map + off, 0xee);
		if (sig && sig != SIGBUS)
			race_error(r, "signal %d at %zu", sig, off);
		race_op(r);
	}
	return NULL;
}

/* Shrinks to a random size and grows back to r->max. */
static void *shrink_grow_thread(void *data)
{
	struct race *r = data;
	uint32_t seed = thread_seed();
	uint64_t size;
	int ret;

	while (!r->stop) {
		size = 1 + rnd(&seed) % r->max;
		ret = st_resize(r->fd, size);
		if (!ret)
			ret = st_resize(r->fd, r->max);
		if (ret)
			race_error(r, "resize: %s", strerror(-ret));
		race_op(r);
	}
	return NULL;
}

TEST_F_TIMEOUT(shmdev, race_fault_vs_shrink_leaves_no_page_beyond_end,
	       RACE_TIMEOUT)
{
	static void *(*const fns[])(void *) = {
		shrink_grow_thread, fault_thread, fault_thread, fault_thread,
	};
	struct race r = { .max = RACE_MAX_PAGES * page_size };
	uint64_t pages = module_pages();
	struct shmdev_info info;
	size_t off;

	r.map = create_and_map(_metadata, self, "", r.max);
	r.fd = self->fd;
	run_race(_metadata, &r, fns, ARRAY_SIZE(fns));

	ASSERT_EQ(0, st_resize(self->fd, page_size));
	for (off = page_size; off < r.max; off += page_size)
		EXPECT_EQ(SIGBUS, probe_read(r.map + off))
			TH_LOG("page %zu still mapped", off / page_size);
	ASSERT_EQ(0, st_info(self->fd, &info));
	EXPECT_GE(1U, info.nr_pages);
	EXPECT_GE(pages + 1, module_pages());
	munmap(r.map, r.max);
	close(self->fd);
	self->fd = -1;
	EXPECT_EQ(pages, settle_pages(pages));
}

/* Ends a round of a seal race: stops thread @t, closes the segment. */
static void end_round(struct __test_metadata *_metadata, struct race *r,
		      pthread_t t)
{
	r->stop = true;
	pthread_join(t, NULL);
	EXPECT_EQ(0, r->errors) TH_LOG("first: %s", r->what);
	close(r->fd);
}

/* Maps writable and writes until the seal stops it. */
static void *writable_map_thread(void *data)
{
	struct race *r = data;
	uint8_t *p;

	while (!r->stop) {
		p = map_fd(r->fd, page_size, PROT_READ | PROT_WRITE,
			   MAP_SHARED);
		if (p == MAP_FAILED) {
			if (errno != EPERM)
				race_error(r, "mmap: %s", strerror(errno));
			else if (!r->sealed)
				usleep(100);
			else
				break;
			continue;
		}
		p[0]++;
		p[page_size - 1]++;
		munmap(p, page_size);
		race_op(r);
	}
	return NULL;
}

/*
 * SEAL_WRITE against a thread that keeps mapping the segment writable: once
 * the seal is in, no writable mapping exists and the contents stay frozen.
 */
TEST_F_TIMEOUT(shmdev, race_seal_write_vs_writable_mmap, RACE_TIMEOUT)
{
	double end = st_now_secs() + race_secs();
	uint8_t snap[2], *ro, *p;
	int rounds = 0, sealed = 0, ret, fd;
	long maps = 0;
	struct race r;
	pthread_t t;

	while (st_now_secs() < end) {
		memset(&r, 0, sizeof(r));
		fd = create_on_new_fd(_metadata, "", page_size, 0600);
		r.fd = fd;
		ASSERT_EQ(0, pthread_create(&t, NULL, writable_map_thread, &r));
		/* Let it get going: a few mappings, more each round. */
		while (__atomic_load_n(&r.ops, __ATOMIC_RELAXED) <
		       1 + rounds % 8 && st_now_secs() < end + 5)
			sched_yield();
		do {
			ret = st_add_seals(fd, SHMDEV_SEAL_WRITE);
		} while (ret == -EBUSY && st_now_secs() < end + 5);
		EXPECT_EQ(0, ret);
		if (!ret) {
			sealed++;
			ro = map_fd(fd, page_size, PROT_READ, MAP_SHARED);
			ASSERT_NE(MAP_FAILED, ro);
			snap[0] = ro[0];
			snap[1] = ro[page_size - 1];
			r.sealed = true;
			p = map_fd(fd, page_size, PROT_READ | PROT_WRITE,
				   MAP_SHARED);
			EXPECT_EQ(MAP_FAILED, p);
			usleep(1000);
			EXPECT_EQ(snap[0], ro[0]);
			EXPECT_EQ(snap[1], ro[page_size - 1]);
			munmap(ro, page_size);
		}
		end_round(_metadata, &r, t);
		maps += r.ops;
		rounds++;
	}
	TH_LOG("%d rounds, %d sealed, %ld writable mappings", rounds, sealed,
	       maps);
}

/* Records every resize that succeeded against the seal. */
static void *resize_vs_seal_thread(void *data)
{
	struct race *r = data;
	uint32_t seed = thread_seed();
	uint64_t size, limit;
	bool sealed;
	int ret;

	while (!r->stop) {
		size = 1 + rnd(&seed) % r->max;
		sealed = r->sealed;
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		limit = r->sealed_size;
		ret = st_resize(r->fd, size);
		if (ret && ret != -EPERM)
			race_error(r, "resize: %s", strerror(-ret));
		if (!ret && sealed &&
		    ((r->seal == SHMDEV_SEAL_SHRINK && size < limit) ||
		     (r->seal == SHMDEV_SEAL_GROW && size > limit)))
			race_error(r, "resized to %llu past the seal at %llu",
				   (unsigned long long)size,
				   (unsigned long long)limit);
		race_op(r);
	}
	return NULL;
}

TEST_F_TIMEOUT(shmdev, race_seal_shrink_grow_vs_resize, RACE_TIMEOUT)
{
	double end = st_now_secs() + race_secs();
	int rounds = 0, fd, i;
	uint64_t size;
	struct race r;
	pthread_t t;

	while (st_now_secs() < end) {
		memset(&r, 0, sizeof(r));
		r.max = 16 * page_size;
		r.seal = rounds & 1 ? SHMDEV_SEAL_GROW : SHMDEV_SEAL_SHRINK;
		fd = create_on_new_fd(_metadata, "", r.max / 2, 0600);
		r.fd = fd;
		ASSERT_EQ(0, pthread_create(&t, NULL, resize_vs_seal_thread,
					    &r));
		usleep(rounds % 7 * 300);
		EXPECT_EQ(0, st_add_seals(fd, r.seal));
		r.sealed_size = seg_size(fd);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		r.sealed = true;
		for (i = 0; i < 100; i++) {
			size = seg_size(fd);
			if (r.seal == SHMDEV_SEAL_SHRINK) {
				EXPECT_LE(r.sealed_size, size);
			} else {
				EXPECT_GE(r.sealed_size, size);
			}
			usleep(100);
		}
		end_round(_metadata, &r, t);
		rounds++;
	}
	TH_LOG("%d rounds", rounds);
}

/* The byte a segment of this id is filled with: never 0, differs by id. */
static uint8_t id_byte(uint64_t id)
{
	return id % 251 + 1;
}

/* Creates the name, fills it with its id byte, closes; again and again. */
static void *create_fill_thread(void *data)
{
	struct race *r = data;
	uint64_t id;
	uint8_t *p;
	int fd, ret;

	while (!r->stop) {
		fd = st_open();
		if (fd < 0) {
			race_error(r, "open: %s", strerror(-fd));
			break;
		}
		ret = st_create(fd, r->name, r->max, 0600, &id);
		if (ret && ret != -EEXIST)
			race_error(r, "create: %s", strerror(-ret));
		if (!ret) {
			p = map_fd(fd, r->max, PROT_READ | PROT_WRITE,
				   MAP_SHARED);
			if (p == MAP_FAILED) {
				race_error(r, "mmap: %s", strerror(errno));
			} else {
				memset(p, id_byte(id), r->max);
				munmap(p, r->max);
			}
			race_op(r);
		}
		close(fd);
	}
	return NULL;
}

static void *unlink_thread(void *data)
{
	struct race *r = data;
	int fd = st_open(), ret;

	while (fd >= 0 && !r->stop) {
		ret = st_unlink(fd, r->name);
		if (ret && ret != -ENOENT)
			race_error(r, "unlink: %s", strerror(-ret));
		usleep(50);
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

/* Bytes of segment @id must be 0 (not written yet) or its id byte. */
static void check_id_bytes(struct race *r, const uint8_t *p, size_t size,
			   uint64_t id)
{
	size_t off;

	for (off = 0; off < size; off += 61)
		if (p[off] && p[off] != id_byte(id))
			race_error(r, "segment %llu has %#x at %zu",
				   (unsigned long long)id, p[off], off);
}

/* Attaches whatever has the name; it must only ever see its own bytes. */
static void *attach_check_thread(void *data)
{
	struct race *r = data;
	uint64_t id, size;
	uint8_t *p;
	int fd, ret;

	while (!r->stop) {
		fd = st_open();
		if (fd < 0)
			break;
		ret = st_attach(fd, r->name, SHMDEV_ATTACH_RDONLY, &size, &id);
		if (ret && ret != -ENOENT)
			race_error(r, "attach: %s", strerror(-ret));
		if (!ret && size != r->max)
			race_error(r, "size %llu", (unsigned long long)size);
		if (!ret && size == r->max) {
			p = map_fd(fd, size, PROT_READ, MAP_SHARED);
			if (p == MAP_FAILED) {
				race_error(r, "mmap: %s", strerror(errno));
			} else {
				check_id_bytes(r, p, size, id);
				munmap(p, size);
			}
			race_op(r);
		}
		close(fd);
	}
	return NULL;
}

TEST_F_TIMEOUT(shmdev, race_unlink_recreate_same_name_vs_attach,
	       RACE_TIMEOUT)
{
	static void *(*const fns[])(void *) = {
		create_fill_thread, unlink_thread, attach_check_thread,
		attach_check_thread,
	};
	struct race r = { .name = new_name(self), .max = 4 * page_size };
	uint64_t pages = module_pages();
	int ret;

	run_race(_metadata, &r, fns, ARRAY_SIZE(fns));
	ret = st_unlink(self->fd, r.name);
	EXPECT_TRUE(ret == 0 || ret == -ENOENT);
	EXPECT_EQ(pages, settle_pages(pages));
}

enum mixed_role { MIX_RESIZE, MIX_MAP, MIX_SEAL, MIX_RECREATE, MIX_ROLES };

struct mixed_arg {
	const char *name;
	enum mixed_role role;
	double end;
};

/* Binds a new file to the name; -1 if there is none right now. */
static int mixed_attach(const char *name, uint32_t flags)
{
	int fd = st_open(), ret;

	if (fd < 0)
		return -1;
	ret = st_attach(fd, name, flags, NULL, NULL);
	if (ret) {
		close(fd);
		CHILD_CHECK_EQ(-ENOENT, ret);
		return -1;
	}
	return fd;
}

/* One process of the mixed race: one kind of operation until the end. */
static int mixed_child(void *data)
{
	struct mixed_arg *a = data;
	const size_t max = RACE_MAX_PAGES * page_size;
	uint32_t seed = 0x5eed + a->role * 7919;
	uint8_t *p;
	size_t len;
	int fd, ret, i;

	st_probe_init();
	while (st_now_secs() < a->end) {
		if (a->role == MIX_RECREATE) {
			fd = st_open();
			CHILD_CHECK(fd >= 0);
			ret = st_unlink(fd, a->name);
			CHILD_CHECK(ret == 0 || ret == -ENOENT);
			ret = st_create(fd, a->name, max / 2, 0600, NULL);
			CHILD_CHECK(ret == 0 || ret == -EEXIST);
			close(fd);
			usleep(2000);
			continue;
		}
		fd = mixed_attach(a->name, 0);
		if (fd < 0)
			continue;
		switch (a->role) {
		case MIX_RESIZE:
			for (i = 0; i < 20; i++) {
				ret = st_resize(fd, 1 + rnd(&seed) % max);
				CHILD_CHECK(ret == 0 || ret == -EPERM);
			}
			break;
		case MIX_MAP:
			len = (1 + rnd(&seed) % RACE_MAX_PAGES) * page_size;
			p = map_fd(fd, len, PROT_READ | PROT_WRITE,
				   MAP_SHARED);
			if (p == MAP_FAILED) {
				CHILD_CHECK(errno == EINVAL || errno == EPERM);
				break;
			}
			for (i = 0; i < 32; i++) {
				ret = probe_write(p + rnd(&seed) % len, 1);
				CHILD_CHECK(ret == 0 || ret == SIGBUS);
			}
			munmap(p, len);
			break;
		case MIX_SEAL:
			usleep(1000);
			ret = st_add_seals(fd, 1U << (rnd(&seed) % 5));
			CHILD_CHECK(ret == 0 || ret == -EBUSY || ret == -EPERM);
			break;
		default:
			break;
		}
		close(fd);
	}
	return 0;
}

/* Processes resizing, sealing, mapping, unlinking and re-creating a name. */
TEST_F_TIMEOUT(shmdev, race_processes_resize_seal_map_unlink_recreate,
	       RACE_TIMEOUT)
{
	struct mixed_arg args[MIX_ROLES];
	uint64_t pages = module_pages();
	const char *name = new_name(self);
	pid_t pids[MIX_ROLES];
	int i, ret;

	ASSERT_EQ(0, st_create(self->fd, name, page_size, 0600, NULL));
	for (i = 0; i < MIX_ROLES; i++) {
		args[i].name = name;
		args[i].role = i;
		args[i].end = st_now_secs() + race_secs();
		pids[i] = spawn_child(NULL, mixed_child, &args[i]);
	}
	for (i = 0; i < MIX_ROLES; i++)
		EXPECT_EQ(0, wait_child(pids[i])) TH_LOG("role %d", i);
	close(self->fd);
	self->fd = st_open();
	ret = st_unlink(self->fd, name);
	EXPECT_TRUE(ret == 0 || ret == -ENOENT);
	EXPECT_EQ(pages, settle_pages(pages));
}

/* Device files opened without write access */

/*
 * A device file opened O_RDONLY: VERSION, LIST, INFO, GET_SEALS and a
 * read-only ATTACH work; whatever would change something fails with EBADF
 * and changes nothing.
 */
TEST_F(shmdev, rdonly_device_file_changes_nothing)
{
	const char *name = new_name(self), *other = new_name(self);
	struct shmdev_info info, entries[64];
	struct shmdev_version ver;
	uint32_t seals;
	uint64_t id;
	void *p;
	int ro;

	ASSERT_EQ(0, st_create(self->fd, name, page_size, 0644, &id));
	ro = open(SHMDEV_DEVICE_PATH, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, ro);
	EXPECT_EQ(0, st_version(ro, &ver));
	EXPECT_TRUE(ver.features & SHMDEV_FEAT_DEV_ACCESS);
	EXPECT_EQ(-EBADF, st_create(ro, other, page_size, 0600, NULL));
	EXPECT_EQ(-EBADF, st_create(ro, "", page_size, 0600, NULL));
	EXPECT_EQ(-EBADF, st_create_flags(ro, other, page_size, 0600,
					  SHMDEV_CREATE_NEWFD, NULL));
	EXPECT_EQ(-EBADF, st_attach(ro, name, 0, NULL, NULL));
	EXPECT_EQ(-EBADF, st_attach(ro, name, SHMDEV_ATTACH_NEWFD, NULL,
				    NULL));
	EXPECT_EQ(-EBADF, st_chmod(ro, name, 0666));
	EXPECT_EQ(-EBADF, st_unlink(ro, name));
	EXPECT_EQ(1, list_all(ro, id - 1, entries, ARRAY_SIZE(entries)));
	EXPECT_EQ(id, entries[0].id);
	EXPECT_EQ(0644, entries[0].mode);
	/* Still unbound after all that: a read-only attach binds it. */
	EXPECT_EQ(0, st_attach(ro, name, SHMDEV_ATTACH_RDONLY, NULL, NULL));
	EXPECT_EQ(0, st_info(ro, &info));
	EXPECT_EQ(id, info.id);
	EXPECT_TRUE(info.flags & SHMDEV_INFO_RDONLY);
	EXPECT_EQ(0, st_get_seals(ro, &seals));
	EXPECT_EQ(-EBADF, st_resize(ro, 2 * page_size));
	EXPECT_EQ(-EBADF, st_add_seals(ro, SHMDEV_SEAL_SEAL));
	p = mmap(NULL, page_size, PROT_READ, MAP_SHARED, ro, 0);
	EXPECT_NE(MAP_FAILED, p);
	if (p != MAP_FAILED)
		munmap(p, page_size);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, page_size, PROT_READ | PROT_WRITE,
				   MAP_SHARED, ro, 0));
	EXPECT_EQ(EACCES, errno);
	close(ro);
	/* Nothing changed: the name, its mode and size, no new name. */
	EXPECT_EQ(0644, mode_of(name));
	EXPECT_EQ(0, st_info(self->fd, &info));
	EXPECT_EQ(page_size, info.size);
	EXPECT_EQ(0, info.seals);
	EXPECT_EQ(-ENOENT, mode_of(other));
}

/* ATTACH with NEWFD through @fd: the new descriptor, or -errno. */
static int attach_newfd(int fd, const char *name, uint32_t flags)
{
	struct shmdev_attach arg;
	int ret;

	memset(&arg, 0, sizeof(arg));
	ret = st_set_name(arg.name, name);
	if (ret)
		return ret;
	arg.flags = flags | SHMDEV_ATTACH_NEWFD;
	ret = ioctl(fd, SHMDEV_IOC_ATTACH, &arg);
	return ret < 0 ? -errno : ret;
}

/* A NEWFD file has no more access than the file it was made through. */
TEST_F(shmdev, newfd_file_keeps_access_of_rdonly_device_file)
{
	const char *name = new_name(self);
	int ro, nfd;

	ASSERT_EQ(0, st_create(self->fd, name, page_size, 0644, NULL));
	ro = open(SHMDEV_DEVICE_PATH, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, ro);
	nfd = attach_newfd(ro, name, SHMDEV_ATTACH_RDONLY);
	ASSERT_LE(0, nfd);
	EXPECT_EQ(O_RDONLY, fcntl(nfd, F_GETFL) & O_ACCMODE);
	EXPECT_EQ(-EBADF, st_unlink(nfd, name));
	EXPECT_EQ(-EBADF, st_chmod(nfd, name, 0666));
	EXPECT_EQ(0644, mode_of(name));
	close(nfd);
	close(ro);
}

/* Limits per IPC namespace */

#define NS_PAGES(n)	((uint64_t)(n) * (uint64_t)sysconf(_SC_PAGESIZE))

/* Runs @fn in a child as root, which unshare(CLONE_NEWIPC) needs. */
#define RUN_IPCNS_ROOT_CHILD(fn) do {					\
	if (geteuid() != 0)						\
		SKIP(return, "needs root for unshare(CLONE_NEWIPC)");	\
	EXPECT_EQ(0, run_child(NULL, fn, NULL));			\
} while (0)

/* The limits in force and usage of the caller's IPC namespace. */
static struct shmdev_limits ns_limits(void)
{
	struct shmdev_limits lim;
	int fd = st_open();

	memset(&lim, 0, sizeof(lim));
	if (fd < 0 || st_limits(fd, &lim))
		memset(&lim, 0xff, sizeof(lim));
	if (fd >= 0)
		close(fd);
	return lim;
}

/* A new anonymous or named segment of @pages pages on its own fd, or -errno. */
static int ns_create(const char *name, unsigned int pages)
{
	int fd = st_open(), ret;

	if (fd < 0)
		return fd;
	ret = st_create(fd, name, NS_PAGES(pages), 0600, NULL);
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

/*
 * A new IPC namespace starts with the module's limits and counts what is
 * created in it, named or anonymous, until it is freed.
 */
static int ns_usage_child(void *data)
{
	struct shmdev_version ver;
	struct shmdev_limits lim;
	int fd, a, b;

	(void)data;
	CHILD_CHECK_EQ(0, unshare(CLONE_NEWIPC));
	fd = st_open();
	CHILD_CHECK(fd >= 0);
	CHILD_CHECK_EQ(0, st_version(fd, &ver));
	lim = ns_limits();
	CHILD_CHECK_EQ(ver.max_segments, lim.max_segments);
	CHILD_CHECK_EQ(ver.max_segment_size, lim.max_segment_size);
	CHILD_CHECK_EQ(ver.max_total_bytes, lim.max_total_bytes);
	CHILD_CHECK_EQ(0, lim.nr_segments);
	CHILD_CHECK_EQ(0, lim.total_bytes);
	a = ns_create("", 3);
	CHILD_CHECK(a >= 0);
	b = ns_create("ns-usage", 2);
	CHILD_CHECK(b >= 0);
	lim = ns_limits();
	CHILD_CHECK_EQ(2, lim.nr_segments);
	CHILD_CHECK_EQ(NS_PAGES(5), lim.total_bytes);
	CHILD_CHECK_EQ(0, st_resize(b, NS_PAGES(4)));
	CHILD_CHECK_EQ(NS_PAGES(7), ns_limits().total_bytes);
	close(a);
	CHILD_CHECK_EQ(1, ns_limits().nr_segments);
	close(b);
	CHILD_CHECK_EQ(0, st_unlink(fd, "ns-usage"));
	lim = ns_limits();
	CHILD_CHECK_EQ(0, lim.nr_segments);
	CHILD_CHECK_EQ(0, lim.total_bytes);
	close(fd);
	return 0;
}

TEST_F(shmdev, ns_limits_start_as_module_params_and_count_usage)
{
	RUN_IPCNS_ROOT_CHILD(ns_usage_child);
}

/*
 * Root sets a container's limits from inside it; the container fills
 * them and gets the module's errnos, while the host still creates.
 */
static int ns_full_child(void *data)
{
	struct shmdev_limits lim;
	struct shmdev_version ver;
	int host, fd, a, b;

	(void)data;
	host = open("/proc/self/ns/ipc", O_RDONLY | O_CLOEXEC);
	CHILD_CHECK(host >= 0);
	CHILD_CHECK_EQ(0, unshare(CLONE_NEWIPC));
	fd = st_open();
	CHILD_CHECK(fd >= 0);
	CHILD_CHECK_EQ(0, st_set_limit(fd, SHMDEV_LIMITS_SEGMENTS, 2));
	CHILD_CHECK_EQ(0, st_set_limit(fd, SHMDEV_LIMITS_SEGMENT_SIZE,
				       NS_PAGES(4)));
	CHILD_CHECK_EQ(0, st_set_limit(fd, SHMDEV_LIMITS_TOTAL_BYTES,
				       NS_PAGES(6)));
	lim = ns_limits();
	CHILD_CHECK_EQ(2, lim.max_segments);
	CHILD_CHECK_EQ(NS_PAGES(4), lim.max_segment_size);
	CHILD_CHECK_EQ(NS_PAGES(6), lim.max_total_bytes);
	CHILD_CHECK_EQ(0, st_version(fd, &ver));
	CHILD_CHECK_EQ(2, ver.max_segments);
	CHILD_CHECK_EQ(NS_PAGES(4), ver.max_segment_size);
	CHILD_CHECK_EQ(NS_PAGES(6), ver.max_total_bytes);

	CHILD_CHECK_EQ(-EFBIG, ns_create("", 5));
	a = ns_create("ns-full-a", 4);
	CHILD_CHECK(a >= 0);
	CHILD_CHECK_EQ(-ENOMEM, ns_create("", 3));
	b = ns_create("", 2);
	CHILD_CHECK(b >= 0);
	CHILD_CHECK_EQ(-ENOSPC, ns_create("", 1));
	CHILD_CHECK_EQ(-ENOMEM, st_resize(b, NS_PAGES(3)));
	CHILD_CHECK_EQ(-EFBIG, st_resize(a, NS_PAGES(5)));
	lim = ns_limits();
	CHILD_CHECK_EQ(2, lim.nr_segments);
	CHILD_CHECK_EQ(NS_PAGES(6), lim.total_bytes);

	/* The host, with the container full: creates as before. */
	CHILD_CHECK_EQ(0, setns(host, CLONE_NEWIPC));
	CHILD_CHECK_EQ(0, st_version(fd, &ver));
	CHILD_CHECK(ver.max_segments > 2);
	close(fd);
	fd = ns_create("", 5);
	CHILD_CHECK(fd >= 0);
	CHILD_CHECK_EQ(0, st_resize(fd, NS_PAGES(8)));
	close(fd);
	fd = ns_create("", 1);
	CHILD_CHECK(fd >= 0);
	close(fd);
	close(a);
	close(b);
	close(host);
	return 0;
}

TEST_F(shmdev, ns_limits_bound_the_namespace_not_the_host)
{
	RUN_IPCNS_ROOT_CHILD(ns_full_child);
}

/*
 * Root of a user namespace that owns its IPC namespace (a rootless
 * container) may lower its limits, not raise them again.
 */
static int ns_lower_child(void *data)
{
	struct shmdev_limits lim;
	int fd, segs[3], i;

	(void)data;
	enter_userns(true);
	fd = st_open();
	CHILD_CHECK(fd >= 0);
	CHILD_CHECK_EQ(0, st_set_limit(fd, SHMDEV_LIMITS_SEGMENTS, 5));
	CHILD_CHECK_EQ(-EPERM, st_set_limit(fd, SHMDEV_LIMITS_SEGMENTS, 6));
	CHILD_CHECK_EQ(-EPERM, st_set_limit(fd, SHMDEV_LIMITS_SEGMENT_SIZE,
					    UINT64_MAX));
	CHILD_CHECK_EQ(0, st_set_limit(fd, SHMDEV_LIMITS_SEGMENTS, 3));
	CHILD_CHECK_EQ(0, st_set_limit(fd, SHMDEV_LIMITS_TOTAL_BYTES,
				       NS_PAGES(10)));
	/* A refused call changes nothing, not even the lowered part. */
	memset(&lim, 0, sizeof(lim));
	lim.flags = SHMDEV_LIMITS_SEGMENTS | SHMDEV_LIMITS_TOTAL_BYTES;
	lim.max_segments = 1;
	lim.max_total_bytes = NS_PAGES(11);
	CHILD_CHECK_EQ(-EPERM, st_limits(fd, &lim));
	lim = ns_limits();
	CHILD_CHECK_EQ(3, lim.max_segments);
	CHILD_CHECK_EQ(NS_PAGES(10), lim.max_total_bytes);
	for (i = 0; i < 3; i++) {
		segs[i] = ns_create("", 1);
		CHILD_CHECK(segs[i] >= 0);
	}
	CHILD_CHECK_EQ(-ENOSPC, ns_create("", 1));
	for (i = 0; i < 3; i++)
		close(segs[i]);
	close(fd);
	return 0;
}

TEST_F(shmdev, ns_limits_lowered_not_raised_from_user_namespace)
{
	const struct creds *cr;

	UNPRIVILEGED_CREDS_OR_SKIP(cr);
	RUN_NS_CHILD(cr, ns_lower_child, NULL);
}

/* Without CAP_SYS_ADMIN over the IPC namespace's owner: no change. */
static int ns_refused_child(void *data)
{
	bool userns = data != NULL;
	struct shmdev_limits before = ns_limits();
	int fd;

	if (userns)
		enter_userns(false);
	fd = st_open();
	CHILD_CHECK(fd >= 0);
	CHILD_CHECK_EQ(-EPERM, st_set_limit(fd, SHMDEV_LIMITS_SEGMENTS, 1));
	CHILD_CHECK_EQ(-EPERM, st_set_limit(fd, SHMDEV_LIMITS_TOTAL_BYTES,
					    0));
	CHILD_CHECK_EQ(before.max_segments, ns_limits().max_segments);
	close(fd);
	return 0;
}

TEST_F(shmdev, ns_limits_refused_without_sys_admin_over_namespace)
{
	const struct creds *cr;

	UNPRIVILEGED_CREDS_OR_SKIP(cr);
	EXPECT_EQ(0, run_child(cr, ns_refused_child, NULL));
	/* Root of a user namespace that does not own the IPC namespace. */
	RUN_NS_CHILD(cr, ns_refused_child, (void *)1);
}

/* The module's limits bound a namespace's, whatever root set there. */
static int ns_capped_child(void *data)
{
	struct shmdev_version ver;
	struct shmdev_limits lim;
	int fd;

	(void)data;
	CHILD_CHECK_EQ(0, unshare(CLONE_NEWIPC));
	fd = st_open();
	CHILD_CHECK(fd >= 0);
	CHILD_CHECK_EQ(0, st_version(fd, &ver));
	memset(&lim, 0, sizeof(lim));
	lim.flags = SHMDEV_LIMITS_FLAGS_MASK;
	lim.max_segments = UINT32_MAX;
	lim.max_segment_size = UINT64_MAX;
	lim.max_total_bytes = UINT64_MAX;
	CHILD_CHECK_EQ(0, st_limits(fd, &lim));
	CHILD_CHECK_EQ(ver.max_segments, lim.max_segments);
	CHILD_CHECK_EQ(ver.max_segment_size, lim.max_segment_size);
	CHILD_CHECK_EQ(ver.max_total_bytes, lim.max_total_bytes);
	CHILD_CHECK_EQ(-EFBIG, st_create(fd, "", ver.max_segment_size + 1,
					 0600, NULL));
	close(fd);
	return 0;
}

TEST_F(shmdev, ns_limits_capped_by_module_params)
{
	RUN_IPCNS_ROOT_CHILD(ns_capped_child);
}

TEST_F(shmdev, ns_limits_rejects_bad_input_and_readonly_files)
{
	struct shmdev_limits lim;
	int ro;

	EXPECT_EQ(-EFAULT, st_limits(self->fd, NULL));
	memset(&lim, 0, sizeof(lim));
	lim.flags = 1U << 3;
	EXPECT_EQ(-EINVAL, st_limits(self->fd, &lim));
	memset(&lim, 0, sizeof(lim));
	lim.reserved[2] = 1;
	EXPECT_EQ(-EINVAL, st_limits(self->fd, &lim));
	ro = open(SHMDEV_DEVICE_PATH, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, ro);
	memset(&lim, 0, sizeof(lim));
	EXPECT_EQ(0, st_limits(ro, &lim));
	EXPECT_LT(0, lim.max_segments);
	lim.flags = SHMDEV_LIMITS_SEGMENTS;
	EXPECT_EQ(-EBADF, st_limits(ro, &lim));
	close(ro);
}

int main(int argc, char **argv)
{
	return shmdev_harness_main(argc, argv);
}
