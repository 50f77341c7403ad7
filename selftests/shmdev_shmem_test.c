// SPDX-License-Identifier: GPL-2.0
/*
 * What a segment's pages can do because they are shmem pages, checked
 * against memfd on the same kernel where the kernel decides: NUMA placement
 * by mbind() and set_mempolicy() with a policy shared by every process
 * mapping the segment, long-term pins (io_uring fixed buffers), O_DIRECT
 * through a mapping, SEAL_WRITE that tells mappings from pins, locked
 * segments charged to RLIMIT_MEMLOCK and never swapped, and a segment
 * that cannot be executed. Swapping is tested with the memory
 * cgroup tests in shmdev_security_test.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <linux/mempolicy.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shmdev_test_util.h"

#define NR_NUMA_PAGES	64
#define MOVE_PAGES_CHUNK	16

/* The bits of a one-word node mask: 32 for a 32-bit task. */
#define NODEMASK_BITS		(8 * sizeof(unsigned long))

static long sys_mbind(void *addr, unsigned long len, int mode,
		      const unsigned long *nodemask, unsigned long maxnode,
		      unsigned int flags)
{
	return syscall(__NR_mbind, addr, len, mode, nodemask, maxnode, flags);
}

static long sys_set_mempolicy(int mode, const unsigned long *nodemask,
			      unsigned long maxnode)
{
	return syscall(__NR_set_mempolicy, mode, nodemask, maxnode);
}

static long sys_move_pages(unsigned long count, void **pages, int *status)
{
	return syscall(__NR_move_pages, 0, count, pages, NULL, status, 0);
}

/* Online NUMA nodes, from sysfs: 1 without NUMA. */
static int nr_nodes(void)
{
	char path[64];
	int n = 0;

	for (;;) {
		snprintf(path, sizeof(path),
			 "/sys/devices/system/node/node%d", n);
		if (access(path, F_OK))
			return n ? n : 1;
		n++;
	}
}

#define TWO_NODES_OR_SKIP() do {					\
	if (nr_nodes() < 2)						\
		SKIP(return, "one NUMA node: nothing to place on");	\
} while (0)

/*
 * How many pages of @p[0..nr) are on node @node, asked of move_pages()
 * without moving them; -1 on error.
 */
static int pages_on_node(uint8_t *p, int nr, int node)
{
	void *pages[NR_NUMA_PAGES];
	int status[NR_NUMA_PAGES];
	int i, on = 0;

	if (nr > NR_NUMA_PAGES)
		return -1;
	/* move_pages() looks in this process's page tables: map them. */
	for (i = 0; i < nr; i++) {
		pages[i] = p + i * page_size;
		(void)*(volatile uint8_t *)pages[i];
	}
	/*
	 * At most 16 pages a call: a 32-bit task's move_pages() reads the
	 * wrong entries of the page array after the first 16 on the 6.1 and
	 * 6.12 kernels (compat do_pages_stat() steps through it by 64-bit
	 * pointers; 7.2's does not).
	 */
	for (i = 0; i < nr; i += MOVE_PAGES_CHUNK)
		if (sys_move_pages(nr - i < MOVE_PAGES_CHUNK ? nr - i :
				   MOVE_PAGES_CHUNK, pages + i, status + i))
			return -1;
	for (i = 0; i < nr; i++)
		on += status[i] == node;
	return on;
}

static uint8_t *create_map(struct __test_metadata *_metadata, int fd,
			   const char *name, size_t len)
{
	void *p;

	ASSERT_EQ(0, st_create(fd, name, len, 0600, NULL));
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p) TH_LOG("mmap: %s", strerror(errno));
	return p;
}

/* NUMA placement */

TEST_F(shmdev, mbind_places_pages_on_the_node)
{
	const size_t len = NR_NUMA_PAGES * page_size;
	unsigned long node1 = 1UL << 1;
	uint8_t *p;

	TWO_NODES_OR_SKIP();
	p = create_map(_metadata, self->fd, "", len);
	ASSERT_EQ(0, sys_mbind(p, len, MPOL_BIND, &node1, NODEMASK_BITS, 0))
		TH_LOG("mbind: %s", strerror(errno));
	st_fill(p, len, SEED_A);
	EXPECT_EQ(NR_NUMA_PAGES, pages_on_node(p, NR_NUMA_PAGES, 1));
	EXPECT_EQ(len, st_mismatch(p, len, SEED_A));
	munmap(p, len);
}

TEST_F(shmdev, set_mempolicy_places_pages_on_the_node)
{
	const size_t len = NR_NUMA_PAGES * page_size;
	unsigned long node1 = 1UL << 1;
	uint8_t *p;
	int status;
	pid_t pid;

	TWO_NODES_OR_SKIP();
	p = create_map(_metadata, self->fd, "", len);
	/* The task's policy, in a child, so that it ends with it. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (sys_set_mempolicy(MPOL_BIND, &node1, NODEMASK_BITS))
			_exit(2);
		st_fill(p, len, SEED_B);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	EXPECT_EQ(NR_NUMA_PAGES, pages_on_node(p, NR_NUMA_PAGES, 1));
	EXPECT_EQ(len, st_mismatch(p, len, SEED_B));
	munmap(p, len);
}

/*
 * The policy belongs to the segment, as for shmem: set through one
 * process's mapping, it places the pages another process faults in through
 * a mapping of its own.
 */
TEST_F(shmdev, mbind_policy_is_shared_with_other_processes)
{
	const size_t len = NR_NUMA_PAGES * page_size;
	const char *name = new_name(self);
	unsigned long node1 = 1UL << 1;
	uint8_t *p;
	int status;
	pid_t pid;

	TWO_NODES_OR_SKIP();
	p = create_map(_metadata, self->fd, name, len);
	ASSERT_EQ(0, sys_mbind(p, len, MPOL_BIND, &node1, NODEMASK_BITS, 0));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		uint8_t *q;
		int fd = st_open();

		if (fd < 0 || st_attach(fd, name, 0, NULL, NULL))
			_exit(2);
		q = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (q == MAP_FAILED)
			_exit(3);
		st_fill(q, len, SEED_C);
		_exit(pages_on_node(q, NR_NUMA_PAGES, 1) == NR_NUMA_PAGES ?
		      0 : 4);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("child status %#x", status);
	EXPECT_EQ(NR_NUMA_PAGES, pages_on_node(p, NR_NUMA_PAGES, 1));
	EXPECT_EQ(len, st_mismatch(p, len, SEED_C));
	munmap(p, len);
}

/* Long-term pins: io_uring fixed buffers */

static int ring_setup(void)
{
	struct io_uring_params params;

	memset(&params, 0, sizeof(params));
	return syscall(__NR_io_uring_setup, 4, &params);
}

/* Registers @len bytes at @p as fixed buffer 0 of @ring: 0 or -errno. */
static int ring_register(int ring, void *p, size_t len)
{
	struct iovec iov = { .iov_base = p, .iov_len = len };

	if (syscall(__NR_io_uring_register, ring, IORING_REGISTER_BUFFERS,
		    &iov, 1))
		return -errno;
	return 0;
}

static int ring_unregister(int ring)
{
	if (syscall(__NR_io_uring_register, ring, IORING_UNREGISTER_BUFFERS,
		    NULL, 0))
		return -errno;
	return 0;
}

/*
 * Whether this kernel registers a memfd mapping as a fixed buffer: NULL,
 * or why a test that needs it is skipped.
 */
static const char *memfd_pin_refused(int ring, size_t len)
{
	const char *why = NULL;
	void *p;
	int fd;

	fd = memfd_create("shmdev-test", 0);
	if (fd < 0 || ftruncate(fd, len))
		return "memfd_create failed";
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return "cannot map a memfd";
	if (ring_register(ring, p, len))
		why = "this kernel does not pin memfd mappings for io_uring "
		      "either";
	else
		ring_unregister(ring);
	munmap(p, len);
	return why;
}

/*
 * 6.1's io_uring takes file mappings as fixed buffers only if their
 * vm_ops are shmem's own (vma_is_shmem()), which no file that wraps a
 * shmem file has; 6.2 and later ask the folios instead, and take shmdev's.
 * A SysV segment wraps its shmem file the same way: whether this kernel
 * refuses one tells the kernel's rule from a shmdev bug.
 */
static bool sysv_pin_refused(int ring, size_t len)
{
	bool refused = false;
	void *p;
	int id;

	id = shmget(IPC_PRIVATE, len, IPC_CREAT | 0600);
	if (id < 0)
		return false;
	p = shmat(id, NULL, 0);
	shmctl(id, IPC_RMID, NULL);
	if (p == (void *)-1)
		return false;
	memset(p, 1, len);
	if (ring_register(ring, p, len) == -EOPNOTSUPP)
		refused = true;
	else
		ring_unregister(ring);
	shmdt(p);
	return refused;
}

#define SHMDEV_PIN_REFUSED_WHY						\
	"io_uring of this kernel pins only mappings whose vm_ops are "	\
	"shmem's own (6.1's vma_is_shmem() check): it refuses SysV "	\
	"segments too"

/*
 * Creates an anonymous segment of @len bytes on @fd, maps and fills it, and
 * registers the mapping as a fixed buffer of a new io_uring, in *@ring.
 * Returns the mapping, or NULL with *@why set when the kernel refuses.
 */
static uint8_t *map_pinned(struct __test_metadata *_metadata, int fd,
			   size_t len, int *ring, const char **why)
{
	uint8_t *p;
	int ret;

	*ring = ring_setup();
	if (*ring < 0) {
		*why = "no io_uring here";
		return NULL;
	}
	*why = memfd_pin_refused(*ring, len);
	if (*why) {
		close(*ring);
		return NULL;
	}
	p = create_map(_metadata, fd, "", len);
	st_fill(p, len, SEED_A);
	ret = ring_register(*ring, p, len);
	if (ret == -EOPNOTSUPP && sysv_pin_refused(*ring, len)) {
		*why = SHMDEV_PIN_REFUSED_WHY;
		munmap(p, len);
		close(*ring);
		return NULL;
	}
	EXPECT_EQ(0, ret);
	return p;
}

TEST_F(shmdev, io_uring_registers_a_mapping_as_fixed_buffer)
{
	const size_t len = 64 * page_size;
	const char *why;
	uint8_t *p;
	int ring;

	p = map_pinned(_metadata, self->fd, len, &ring, &why);
	if (!p)
		SKIP(return, "%s", why);
	EXPECT_EQ(0, ring_unregister(ring));
	EXPECT_EQ(len, st_mismatch(p, len, SEED_A));
	munmap(p, len);
	close(ring);
}

/*
 * A pin may write after every writable mapping is gone: SEAL_WRITE is
 * refused while it is held, and granted once it is dropped.
 */
TEST_F(shmdev, seal_write_refused_while_pinned)
{
	const size_t len = 16 * page_size;
	const char *why;
	uint8_t *p;
	int ring;

	p = map_pinned(_metadata, self->fd, len, &ring, &why);
	if (!p)
		SKIP(return, "%s", why);
	/* No writable mapping left, only the pin. */
	ASSERT_EQ(0, munmap(p, len));
	EXPECT_EQ(-EBUSY, st_add_seals(self->fd, SHMDEV_SEAL_WRITE));
	EXPECT_EQ(0, ring_unregister(ring));
	EXPECT_EQ(0, st_add_seals(self->fd, SHMDEV_SEAL_WRITE));
	close(ring);
}

/*
 * Mappings are not pins, however many: a page mapped read-only by 2000
 * VMAs has 2000 more references, and sealing still succeeds.
 */
TEST_F(shmdev, seal_write_granted_with_2000_readonly_mappings)
{
	const int nr = 2000;
	const char *name = new_name(self);
	uint8_t **maps, *p;
	int ro, i, mapped = 0;

	p = create_map(_metadata, self->fd, name, page_size);
	st_fill(p, page_size, SEED_B);
	ASSERT_EQ(0, munmap(p, page_size));
	ro = attach_on_new_fd(_metadata, name, SHMDEV_ATTACH_RDONLY);
	maps = calloc(nr, sizeof(*maps));
	ASSERT_NE(NULL, maps);
	for (i = 0; i < nr; i++) {
		maps[i] = mmap(NULL, page_size, PROT_READ, MAP_SHARED, ro, 0);
		if (maps[i] == MAP_FAILED)
			break;
		/* Map the page in this VMA. */
		mapped += maps[i][0] == st_pattern(0, SEED_B);
	}
	ASSERT_EQ(nr, i) TH_LOG("mmap %d: %s", i, strerror(errno));
	EXPECT_EQ(nr, mapped);
	EXPECT_EQ(0, st_add_seals(self->fd, SHMDEV_SEAL_WRITE));
	for (i = 0; i < nr; i++)
		munmap(maps[i], page_size);
	free(maps);
	close(ro);
}

/* O_DIRECT */

/*
 * A file on a filesystem that takes O_DIRECT, of @len bytes, or -1: the
 * block device or scratch directory the rig names in SHMDEV_TEST_DIRECT,
 * else /var/tmp and /tmp (tmpfs takes O_DIRECT from 6.6 on).
 */
static int open_direct(size_t len, char *path, size_t size)
{
	const char *dirs[] = { getenv("SHMDEV_TEST_DIRECT"), "/var/tmp",
			       "/tmp" };
	unsigned int i;
	int fd;

	for (i = 0; i < ARRAY_SIZE(dirs); i++) {
		if (!dirs[i])
			continue;
		if (!strncmp(dirs[i], "/dev/", 5)) {
			snprintf(path, size, "%s", dirs[i]);
			fd = open(path, O_RDWR | O_DIRECT | O_CLOEXEC);
			if (fd >= 0)
				return fd;
			continue;
		}
		snprintf(path, size, "%s/shmdev-direct-XXXXXX", dirs[i]);
		fd = mkostemp(path, O_DIRECT | O_CLOEXEC);
		if (fd < 0)
			continue;
		unlink(path);
		if (!ftruncate(fd, len))
			return fd;
		close(fd);
	}
	return -1;
}

TEST_F(shmdev, o_direct_reads_into_and_writes_from_a_mapping)
{
	const size_t len = 64 * page_size;
	char path[128];
	uint8_t *p;
	int fd;

	fd = open_direct(len, path, sizeof(path));
	if (fd < 0)
		SKIP(return, "no file or device that takes O_DIRECT here");
	p = create_map(_metadata, self->fd, "", len);
	st_fill(p, len, SEED_A);
	/* Out of the segment to the file, then back over other bytes. */
	ASSERT_EQ((ssize_t)len, pwrite(fd, p, len, 0))
		TH_LOG("O_DIRECT write to %s: %s", path, strerror(errno));
	st_fill(p, len, SEED_B);
	ASSERT_EQ((ssize_t)len, pread(fd, p, len, 0))
		TH_LOG("O_DIRECT read from %s: %s", path, strerror(errno));
	EXPECT_EQ(len, st_mismatch(p, len, SEED_A));
	munmap(p, len);
	close(fd);
}

/* Locked segments */

/* Is a swap area in use? */
static bool have_swap(void)
{
	char line[256];
	bool found = false;
	FILE *f = fopen("/proc/swaps", "r");

	if (!f)
		return false;
	/* The first line is a header. */
	found = fgets(line, sizeof(line), f) && fgets(line, sizeof(line), f);
	fclose(f);
	return found;
}

/*
 * Without CAP_IPC_LOCK, under a 1 MiB RLIMIT_MEMLOCK: a locked segment is
 * charged to the creator's locked memory, refused beyond the limit, at
 * CREATE and at RESIZE, and its charge is returned when it is freed.
 */
static int locked_memlock_child(void *arg)
{
	struct rlimit lim = { 1 << 20, 1 << 20 };
	long base;
	int fd;

	(void)arg;
	CHILD_CHECK(!setrlimit(RLIMIT_MEMLOCK, &lim));
	base = st_vm_locked_kb();
	CHILD_CHECK(base >= 0);
	fd = st_open();
	CHILD_CHECK(fd >= 0);
	CHILD_CHECK_EQ(-ENOMEM, st_create_flags(fd, "", 2 << 20, 0600,
						SHMDEV_CREATE_LOCKED, NULL));
	CHILD_CHECK_EQ(base, st_vm_locked_kb());
	CHILD_CHECK_EQ(0, st_create_flags(fd, "", 512 << 10, 0600,
					  SHMDEV_CREATE_LOCKED, NULL));
	CHILD_CHECK_EQ(base + 512, st_vm_locked_kb());
	CHILD_CHECK_EQ(-ENOMEM, st_resize(fd, 2 << 20));
	CHILD_CHECK_EQ(base + 512, st_vm_locked_kb());
	CHILD_CHECK_EQ(0, st_resize(fd, 768 << 10));
	CHILD_CHECK_EQ(base + 768, st_vm_locked_kb());
	CHILD_CHECK_EQ(0, st_resize(fd, 256 << 10));
	CHILD_CHECK_EQ(base + 256, st_vm_locked_kb());
	/* The anonymous segment goes with its only file. */
	close(fd);
	CHILD_CHECK_EQ(base, st_vm_locked_kb());
	return 0;
}

TEST_F(shmdev, locked_segment_charged_to_memlock_rlimit)
{
	const struct creds *cr;

	UNPRIVILEGED_CREDS_OR_SKIP(cr);
	EXPECT_EQ(0, run_child(cr, locked_memlock_child, NULL));
}

TEST_F(shmdev, locked_segment_reports_its_flag)
{
	struct shmdev_info info;

	if (geteuid() != 0)
		SKIP(return, "needs CAP_IPC_LOCK for a locked segment of any size");
	ASSERT_EQ(0, st_create_flags(self->fd, "", 64 * page_size, 0600,
				     SHMDEV_CREATE_LOCKED, NULL));
	ASSERT_EQ(0, st_info(self->fd, &info));
	EXPECT_TRUE(info.flags & SHMDEV_INFO_LOCKED);
}

/*
 * Reclaim moves an ordinary segment's pages to swap, never a locked
 * segment's: MADV_PAGEOUT on both, side by side.
 */
TEST_F(shmdev, locked_segment_is_never_swapped)
{
	const size_t len = 64 * page_size;
	struct shmdev_info info;
	uint8_t *p, *q;
	int lk;

	if (geteuid() != 0)
		SKIP(return, "needs CAP_IPC_LOCK for a locked segment of any size");
	if (!have_swap())
		SKIP(return, "no swap here (the rig's VM has a swap disk)");
	p = create_map(_metadata, self->fd, "", len);
	lk = st_open();
	ASSERT_LE(0, lk);
	ASSERT_EQ(0, st_create_flags(lk, "", len, 0600, SHMDEV_CREATE_LOCKED,
				     NULL));
	q = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, lk, 0);
	ASSERT_NE(MAP_FAILED, q);
	st_fill(p, len, SEED_A);
	st_fill(q, len, SEED_B);
	if (madvise(p, len, MADV_PAGEOUT) && errno == EINVAL)
		SKIP(return, "MADV_PAGEOUT not supported");
	EXPECT_EQ(0, madvise(q, len, MADV_PAGEOUT));

	ASSERT_EQ(0, st_info(self->fd, &info));
	EXPECT_LT(0U, info.nr_swapped);
	ASSERT_EQ(0, st_info(lk, &info));
	EXPECT_EQ(0U, info.nr_swapped);
	EXPECT_EQ(len / page_size, info.nr_pages);
	EXPECT_EQ(len, st_mismatch(p, len, SEED_A));
	EXPECT_EQ(len, st_mismatch(q, len, SEED_B));
	munmap(q, len);
	munmap(p, len);
	close(lk);
}

/* Nothing executes from a segment */

/*
 * Root reaches a mapping's file by path through /proc/self/map_files. A
 * segment holding a copy of a program must not run as one, by path or by
 * descriptor.
 */
TEST_F(shmdev, segment_cannot_be_executed)
{
	/* Should the copy run, its harness fails on the unknown option. */
	char *const argv[] = { "shmdev-exec-probe", "-Z", NULL };
	char *const envp[] = { NULL };
	char path[128];
	struct stat st;
	size_t len;
	uint8_t *p;
	int prog, fd, status;
	pid_t pid;

	if (geteuid() != 0)
		SKIP(return, "needs root to reach /proc/self/map_files");
	prog = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, prog);
	ASSERT_EQ(0, fstat(prog, &st));
	len = (st.st_size + page_size - 1) / page_size * page_size;
	p = create_map(_metadata, self->fd, "", len);
	ASSERT_EQ(st.st_size, pread(prog, p, st.st_size, 0));
	close(prog);
	snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx",
		 (unsigned long)p, (unsigned long)p + len);

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int err;

		execve(path, argv, envp);
		err = errno;
		fd = open(path, O_PATH | O_CLOEXEC);
		if (fd < 0)
			_exit(100);
		fexecve(fd, argv, envp);
		/* Both refused: report the errors. */
		_exit(err == EACCES && errno == EACCES ? 0 : 101);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("child status %#x (a copy of this program ran?)",
		       status);
	munmap(p, len);
}

TEST_HARNESS_MAIN
