// SPDX-License-Identifier: GPL-2.0
/*
 * The fast paths of shmdev: fault-around, pre-mapping on mmap()
 * (SHMDEV_CREATE_PREMAP, SHMDEV_ATTACH_PREMAP) and huge-page segments
 * (SHMDEV_CREATE_HUGE). Page faults are counted with getrusage(), which
 * stays exact under emulation; each test also checks that the faster path
 * keeps the contents, the permissions and the resize semantics of the
 * ordinary one.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shmdev_test_util.h"

#define MIB			(1024 * 1024ULL)
/*
 * What one read fault maps: the reach of a page table, whose 8-byte
 * entries fill a base page (2 MiB with 4 KiB pages, 32 MiB with 16 KiB).
 */
#define PAGE_TABLE_SPAN		((size_t)page_size * (page_size / 8))

static long minflt(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

/* Touches one byte in every page of @p, writing @seed-patterned bytes. */
static void write_pages(uint8_t *p, size_t len, uint8_t seed)
{
	size_t off;

	for (off = 0; off < len; off += page_size)
		p[off] = st_pattern(off, seed);
}

/* Offset of the first page whose byte differs from the pattern, or -1. */
static long check_pages(const uint8_t *p, size_t len, uint8_t seed,
			size_t base)
{
	size_t off;

	for (off = 0; off < len; off += page_size)
		if (p[off] != st_pattern(base + off, seed))
			return off;
	return -1;
}

/*
 * Faults that pre-mapping @len bytes may count in getrusage(): it maps the
 * pages with one fault per page table the mapping touches, from the kernel,
 * and the test itself may fault once or twice (its stack, say). Faulting
 * each page would count len / page_size.
 */
static long premap_faults(size_t len)
{
	return len / PAGE_TABLE_SPAN + 1 + 2;
}

/* huge_page_size of the running module, 0 if it cannot map huge pages. */
static uint64_t huge_size(int fd)
{
	struct shmdev_version ver;

	if (st_version(fd, &ver))
		return 0;
	return ver.huge_page_size;
}

#define HUGE_OR_SKIP(fd) do {						\
	if (!huge_size(fd))						\
		SKIP(return, "this kernel cannot map huge pages "	\
		     "(no CONFIG_TRANSPARENT_HUGEPAGE)");		\
} while (0)

/*
 * Value in kB of smaps field @field ("ShmemPmdMapped:") for the mapping
 * that starts at @addr, or -1.
 */
static long smaps_kb(const void *addr, const char *field)
{
	unsigned long start, end;
	char line[512];
	bool in = false;
	long kb = -1;
	FILE *f;

	f = fopen("/proc/self/smaps", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			in = start == (unsigned long)addr;
			continue;
		}
		if (in && !strncmp(line, field, strlen(field))) {
			kb = strtol(line + strlen(field), NULL, 10);
			break;
		}
	}
	fclose(f);
	return kb;
}

static uint8_t *map_fd(int fd, size_t len, int prot, int flags, off_t off)
{
	void *p = mmap(NULL, len, prot, flags, fd, off);

	return p == MAP_FAILED ? NULL : p;
}

/*
 * A shared mapping of all of huge segment @fd where its huge pages can be
 * mapped by PMD: see st_mmap_huge(), and the log line for 32-bit tasks.
 */
static uint8_t *map_huge(struct __test_metadata *_metadata, int fd,
			 size_t len, uint64_t huge)
{
	bool realigned;
	void *p = st_mmap_huge(fd, len, PROT_READ | PROT_WRITE, MAP_SHARED,
			       0, huge, &realigned);

	if (realigned)
		TH_LOG("this kernel does not align a 32-bit task's mappings for huge pages (nor memfd's): mapped at an aligned address");
	return p == MAP_FAILED ? NULL : p;
}

/* VERSION */

TEST_F(shmdev, version_reports_huge_and_premap)
{
	struct shmdev_version ver;

	ASSERT_EQ(0, st_version(self->fd, &ver));
	EXPECT_EQ(SHMDEV_FEAT_HUGE | SHMDEV_FEAT_PREMAP,
		  ver.features & (SHMDEV_FEAT_HUGE | SHMDEV_FEAT_PREMAP));
	/*
	 * Debian's kernels have transparent huge pages, PMD-sized: a page
	 * table's reach. Not with 64 KiB pages, whose 512 MiB PMD is more
	 * than the page cache holds in one folio.
	 */
	if (!access("/sys/kernel/mm/transparent_hugepage", F_OK) &&
	    page_size < 65536) {
		EXPECT_EQ(PAGE_TABLE_SPAN, ver.huge_page_size);
	} else {
		EXPECT_EQ(0U, ver.huge_page_size);
	}
	EXPECT_TRUE(all_zero(ver.reserved, sizeof(ver.reserved)));
}

/* Fault-around */

TEST_F(shmdev, fault_around_read_maps_a_page_table_per_fault)
{
	const size_t len = 4 * MIB;
	const char *name = new_name(self);
	long before, faults;
	uint8_t *p;
	int fd;

	p = create_and_map(_metadata, self, name, len);
	write_pages(p, len, SEED_A);
	ASSERT_EQ(0, munmap(p, len));

	fd = attach_on_new_fd(_metadata, name, SHMDEV_ATTACH_RDONLY);
	p = map_fd(fd, len, PROT_READ, MAP_SHARED, 0);
	ASSERT_NE(NULL, p);
	before = minflt();
	EXPECT_EQ(-1, check_pages(p, len, SEED_A, 0));
	faults = minflt() - before;
	TH_LOG("%zu pages read with %ld faults", len / page_size, faults);
	/*
	 * The mapping may straddle one more page table than it fills, and
	 * the test itself may fault once (its stack, say).
	 */
	EXPECT_LE(faults, (long)(len / PAGE_TABLE_SPAN) + 2);
	EXPECT_LE(1, faults);
	munmap(p, len);
	close(fd);
}

/* Pre-mapping */

TEST_F(shmdev, premap_attach_maps_every_page_without_faults)
{
	const size_t len = 4 * MIB;
	const char *name = new_name(self);
	struct shmdev_info info;
	long before, faults;
	uint8_t *p, *q;
	int fd;

	p = create_and_map(_metadata, self, name, len);
	write_pages(p, len, SEED_A);

	fd = attach_on_new_fd(_metadata, name, SHMDEV_ATTACH_PREMAP);
	ASSERT_EQ(0, st_info(fd, &info));
	EXPECT_TRUE(info.flags & SHMDEV_INFO_PREMAP);
	ASSERT_EQ(0, st_info(self->fd, &info));
	EXPECT_FALSE(info.flags & SHMDEV_INFO_PREMAP);

	before = minflt();
	q = map_fd(fd, len, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	ASSERT_NE(NULL, q);
	EXPECT_EQ(-1, check_pages(q, len, SEED_A, 0));
	write_pages(q, len, SEED_B);
	faults = minflt() - before;
	TH_LOG("%zu pages read and written with %ld faults", len / page_size,
	       faults);
	/*
	 * The pre-map itself faults once per page table in the kernel, which
	 * getrusage() counts too; the accesses fault no more.
	 */
	EXPECT_LE(faults, premap_faults(len));
	/* The writes went to the segment's own pages. */
	EXPECT_EQ(-1, check_pages(p, len, SEED_B, 0));
	munmap(q, len);
	munmap(p, len);
	close(fd);
}

TEST_F(shmdev, premap_create_allocates_pages_of_mapped_range_only)
{
	const size_t len = 4 * MIB, part = 64 * 1024;
	struct shmdev_info info;
	long before, faults;
	uint8_t *p;

	ASSERT_EQ(0, st_create_flags(self->fd, "", len, 0600,
				     SHMDEV_CREATE_PREMAP, NULL));
	ASSERT_EQ(0, st_info(self->fd, &info));
	EXPECT_EQ(0U, info.nr_pages);
	EXPECT_TRUE(info.flags & SHMDEV_INFO_PREMAP);

	/* A part of it, from 1 MiB on: only those pages are allocated. */
	p = map_fd(self->fd, part, PROT_READ | PROT_WRITE, MAP_SHARED, MIB);
	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, st_info(self->fd, &info));
	EXPECT_EQ(part / page_size, info.nr_pages);
	munmap(p, part);

	before = minflt();
	p = map_fd(self->fd, len, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, st_info(self->fd, &info));
	EXPECT_EQ(len / page_size, info.nr_pages);
	write_pages(p, len, SEED_C);
	EXPECT_EQ(-1, check_pages(p, len, SEED_C, 0));
	faults = minflt() - before;
	EXPECT_LE(faults, premap_faults(len));
	munmap(p, len);
}

TEST_F(shmdev, premap_readonly_attach_stays_readonly)
{
	const size_t len = 256 * 1024;
	const char *name = new_name(self);
	uint8_t *p, *q;
	int fd, status;

	p = create_and_map(_metadata, self, name, len);
	write_pages(p, len, SEED_A);
	fd = attach_on_new_fd(_metadata, name,
			      SHMDEV_ATTACH_RDONLY | SHMDEV_ATTACH_PREMAP);
	EXPECT_EQ(NULL, map_fd(fd, len, PROT_READ | PROT_WRITE, MAP_SHARED, 0));
	EXPECT_EQ(EACCES, errno);

	q = map_fd(fd, len, PROT_READ, MAP_SHARED, 0);
	ASSERT_NE(NULL, q);
	EXPECT_EQ(-1, check_pages(q, len, SEED_A, 0));
	EXPECT_EQ(-1, mprotect(q, len, PROT_READ | PROT_WRITE));
	EXPECT_EQ(EACCES, errno);
	status = touch_in_child(q + page_size, true);
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);
	EXPECT_EQ(st_pattern(page_size, SEED_A), p[page_size]);
	munmap(q, len);
	munmap(p, len);
	close(fd);
}

TEST_F(shmdev, premap_shrink_unmaps_pages_and_grow_reads_zero)
{
	const size_t len = 1 * MIB;
	const char *name = new_name(self);
	struct shmdev_info info;
	uint8_t *p;
	int fd, status;

	ASSERT_EQ(0, st_create_flags(self->fd, name, len, 0600,
				     SHMDEV_CREATE_PREMAP, NULL));
	p = map_fd(self->fd, len, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	ASSERT_NE(NULL, p);
	write_pages(p, len, SEED_A);

	fd = attach_on_new_fd(_metadata, name, 0);
	ASSERT_EQ(0, st_resize(fd, len / 2));
	ASSERT_EQ(0, st_info(fd, &info));
	EXPECT_EQ(len / 2 / page_size, info.nr_pages);
	status = touch_in_child(p + len / 2, false);
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS);
	EXPECT_EQ(-1, check_pages(p, len / 2, SEED_A, 0));

	ASSERT_EQ(0, st_resize(fd, len));
	EXPECT_EQ(0, p[len / 2]);
	EXPECT_EQ(0, p[len - 1]);
	munmap(p, len);
	close(fd);
}

TEST_F(shmdev, premap_private_mapping_is_copy_on_write)
{
	const size_t len = 256 * 1024;
	const char *name = new_name(self);
	uint8_t *p, *q;
	int fd;

	p = create_and_map(_metadata, self, name, len);
	write_pages(p, len, SEED_A);
	fd = attach_on_new_fd(_metadata, name, SHMDEV_ATTACH_PREMAP);
	q = map_fd(fd, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, 0);
	ASSERT_NE(NULL, q);
	EXPECT_EQ(-1, check_pages(q, len, SEED_A, 0));
	write_pages(q, len, SEED_B);
	EXPECT_EQ(-1, check_pages(q, len, SEED_B, 0));
	EXPECT_EQ(-1, check_pages(p, len, SEED_A, 0));
	munmap(q, len);
	munmap(p, len);
	close(fd);
}

TEST_F(shmdev, premap_fork_mremap_and_counts)
{
	const size_t len = 512 * 1024;
	const char *name = new_name(self);
	struct shmdev_info info;
	uint8_t *p, *q;
	int fd, status;
	pid_t pid;

	ASSERT_EQ(0, st_create_flags(self->fd, name, 2 * len, 0600,
				     SHMDEV_CREATE_PREMAP, NULL));
	p = map_fd(self->fd, len, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	ASSERT_NE(NULL, p);
	write_pages(p, len, SEED_A);

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (check_pages(p, len, SEED_A, 0) != -1)
			_exit(1);
		write_pages(p, len, SEED_B);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	EXPECT_EQ(-1, check_pages(p, len, SEED_B, 0));
	ASSERT_EQ(0, st_info(self->fd, &info));
	EXPECT_EQ(1U, info.nr_maps);

	/* Grow the mapping: the new part is reached by faults. */
	q = mremap(p, len, 2 * len, MREMAP_MAYMOVE);
	ASSERT_NE(MAP_FAILED, q);
	EXPECT_EQ(-1, check_pages(q, len, SEED_B, 0));
	write_pages(q + len, len, SEED_C);
	EXPECT_EQ(-1, check_pages(q + len, len, SEED_C, 0));

	/* A writable pre-mapped mapping blocks SEAL_WRITE like any other. */
	fd = attach_on_new_fd(_metadata, name, 0);
	EXPECT_EQ(-EBUSY, st_add_seals(fd, SHMDEV_SEAL_WRITE));
	ASSERT_EQ(0, munmap(q, 2 * len));
	ASSERT_EQ(0, st_info(self->fd, &info));
	EXPECT_EQ(0U, info.nr_maps);
	EXPECT_EQ(0, st_add_seals(fd, SHMDEV_SEAL_WRITE));
	close(fd);
}

/* Huge pages */

TEST_F(shmdev, huge_create_and_resize_need_huge_multiple)
{
	const char *name = new_name(self);
	uint64_t granule;
	int fd;

	/* The huge page size, or the uapi's granule where there is none. */
	granule = huge_size(self->fd) ?: SHMDEV_HUGE_ALIGN;
	EXPECT_EQ(-EINVAL, st_create_flags(self->fd, name, MIB, 0600,
					   SHMDEV_CREATE_HUGE, NULL));
	EXPECT_EQ(-EINVAL, st_create_flags(self->fd, name, granule + page_size,
					   0600, SHMDEV_CREATE_HUGE, NULL));
	fd = st_open();
	ASSERT_LE(0, fd);
	EXPECT_EQ(-ENOENT, st_attach(fd, name, 0, NULL, NULL));
	close(fd);

	ASSERT_EQ(0, st_create_flags(self->fd, name, 2 * granule, 0600,
				     SHMDEV_CREATE_HUGE, NULL));
	EXPECT_EQ(-EINVAL, st_resize(self->fd, granule + granule / 2));
	EXPECT_EQ(-EINVAL, st_resize(self->fd, page_size));
	EXPECT_EQ(0, st_resize(self->fd, granule));
	EXPECT_EQ(0, st_resize(self->fd, 3 * granule));
}

TEST_F(shmdev, huge_populate_maps_by_pmd)
{
	const char *name = new_name(self);
	struct shmdev_info info;
	long before, faults;
	uint64_t huge;
	size_t len;
	uint8_t *p;

	HUGE_OR_SKIP(self->fd);
	huge = huge_size(self->fd);
	len = 8 * huge;
	ASSERT_EQ(0, st_create_flags(self->fd, name, len, 0600,
				     SHMDEV_CREATE_HUGE, NULL));
	ASSERT_EQ(0, st_info(self->fd, &info));
	EXPECT_TRUE(info.flags & SHMDEV_INFO_HUGE);

	p = map_huge(_metadata, self->fd, len, huge);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(0U, (uintptr_t)p % huge);
	before = minflt();
	write_pages(p, len, SEED_A);
	faults = minflt() - before;
	TH_LOG("%zu pages written with %ld faults", len / page_size, faults);

	ASSERT_EQ(0, st_info(self->fd, &info));
	EXPECT_EQ(len / page_size, info.nr_pages);
	EXPECT_EQ(len / huge, info.nr_huge_pages)
		TH_LOG("fell back to base pages");
	EXPECT_LE(faults, (long)(len / huge) + 2);
	/* The segment's pages are shmem's, counted as such in smaps. */
	EXPECT_EQ((long)(len / 1024), smaps_kb(p, "ShmemPmdMapped:"));
	EXPECT_EQ(-1, check_pages(p, len, SEED_A, 0));
	munmap(p, len);
}

TEST_F(shmdev, huge_unaligned_offset_and_other_process_see_same_data)
{
	const char *name = new_name(self);
	uint8_t *p, *q;
	int status;
	size_t len;
	pid_t pid;

	HUGE_OR_SKIP(self->fd);
	len = 4 * huge_size(self->fd);
	ASSERT_EQ(0, st_create_flags(self->fd, name, len, 0600,
				     SHMDEV_CREATE_HUGE, NULL));
	p = map_fd(self->fd, len, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	ASSERT_NE(NULL, p);
	write_pages(p, len, SEED_A);

	/* One page in: parts of huge pages mapped by PTE. */
	q = map_fd(self->fd, len - 2 * page_size, PROT_READ | PROT_WRITE,
		   MAP_SHARED, page_size);
	ASSERT_NE(NULL, q);
	EXPECT_EQ(-1, check_pages(q, len - 2 * page_size, SEED_A, page_size));
	q[0] = 0x11;
	EXPECT_EQ(0x11, p[page_size]);
	p[page_size] = st_pattern(page_size, SEED_A);
	munmap(q, len - 2 * page_size);

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int fd = st_open();
		uint8_t *c;

		if (fd < 0 || st_attach(fd, name, 0, NULL, NULL))
			_exit(1);
		c = map_fd(fd, len, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
		if (!c || check_pages(c, len, SEED_A, 0) != -1)
			_exit(2);
		write_pages(c, len, SEED_B);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	EXPECT_EQ(-1, check_pages(p, len, SEED_B, 0));
	munmap(p, len);
}

TEST_F(shmdev, huge_shrink_frees_huge_pages_and_grow_reads_zero)
{
	const char *name = new_name(self);
	struct shmdev_info info;
	uint64_t huge;
	size_t len;
	uint8_t *p;
	int status;

	HUGE_OR_SKIP(self->fd);
	huge = huge_size(self->fd);
	len = 4 * huge;
	ASSERT_EQ(0, st_create_flags(self->fd, name, len, 0600,
				     SHMDEV_CREATE_HUGE, NULL));
	p = map_huge(_metadata, self->fd, len, huge);
	ASSERT_NE(NULL, p);
	write_pages(p, len, SEED_A);

	ASSERT_EQ(0, st_resize(self->fd, len / 2));
	ASSERT_EQ(0, st_info(self->fd, &info));
	EXPECT_EQ(len / 2 / page_size, info.nr_pages);
	EXPECT_EQ(len / 2 / huge, info.nr_huge_pages);
	status = touch_in_child(p + len / 2, false);
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS);
	EXPECT_EQ(-1, check_pages(p, len / 2, SEED_A, 0));

	ASSERT_EQ(0, st_resize(self->fd, len));
	EXPECT_EQ(0, p[len / 2]);
	EXPECT_EQ(0, p[len - 1]);
	munmap(p, len);
	/* The two reads brought in one new huge page each. */
	ASSERT_EQ(0, st_info(self->fd, &info));
	EXPECT_EQ(len / page_size, info.nr_pages);
	EXPECT_EQ(len / huge, info.nr_huge_pages);
}

TEST_F(shmdev, huge_premap_allocates_and_maps_by_pmd_on_fault)
{
	struct shmdev_info info;
	long before, faults;
	uint64_t huge;
	size_t len;
	uint8_t *p;

	HUGE_OR_SKIP(self->fd);
	huge = huge_size(self->fd);
	len = 4 * huge;
	ASSERT_EQ(0, st_create_flags(self->fd, "", len, 0600,
				     SHMDEV_CREATE_HUGE | SHMDEV_CREATE_PREMAP,
				     NULL));
	p = map_fd(self->fd, len, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, st_info(self->fd, &info));
	EXPECT_EQ(len / page_size, info.nr_pages);
	EXPECT_EQ(len / huge, info.nr_huge_pages);
	before = minflt();
	write_pages(p, len, SEED_C);
	faults = minflt() - before;
	EXPECT_LE(faults, (long)(len / huge) + 2);
	EXPECT_EQ(-1, check_pages(p, len, SEED_C, 0));
	munmap(p, len);
}

TEST_F(shmdev, huge_readonly_attach_cannot_write)
{
	const char *name = new_name(self);
	uint8_t *p, *q;
	int fd, status;
	size_t len;

	HUGE_OR_SKIP(self->fd);
	len = 2 * huge_size(self->fd);
	ASSERT_EQ(0, st_create_flags(self->fd, name, len, 0644,
				     SHMDEV_CREATE_HUGE, NULL));
	p = map_fd(self->fd, len, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	ASSERT_NE(NULL, p);
	write_pages(p, len, SEED_A);
	fd = attach_on_new_fd(_metadata, name, SHMDEV_ATTACH_RDONLY);
	q = map_fd(fd, len, PROT_READ, MAP_SHARED, 0);
	ASSERT_NE(NULL, q);
	EXPECT_EQ(-1, check_pages(q, len, SEED_A, 0));
	EXPECT_EQ(-1, mprotect(q, len, PROT_READ | PROT_WRITE));
	status = touch_in_child(q, true);
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);
	EXPECT_EQ(st_pattern(0, SEED_A), p[0]);
	munmap(q, len);
	munmap(p, len);
	close(fd);
}

/* New descriptors (SHMDEV_*_NEWFD) */

/* Descriptors open in this process. */
static int nr_fds(void)
{
	struct dirent *d;
	DIR *dir;
	int n = 0;

	dir = opendir("/proc/self/fd");
	if (!dir)
		return -1;
	while ((d = readdir(dir)))
		n += d->d_name[0] != '.';
	closedir(dir);
	return n - 1;	/* opendir()'s own */
}

TEST_F(shmdev, newfd_create_and_attach_return_bound_descriptors)
{
	const size_t len = 64 * 1024;
	const char *name = new_name(self);
	struct shmdev_create carg;
	struct shmdev_attach aarg;
	struct shmdev_info info;
	int fd, fd2, flags;
	uint8_t *p, *q;

	init_create(&carg, name, len, 0600);
	carg.flags = SHMDEV_CREATE_NEWFD;
	fd = ioctl(self->fd, SHMDEV_IOC_CREATE, &carg);
	ASSERT_LE(0, fd) TH_LOG("CREATE: %s", strerror(errno));
	EXPECT_NE(self->fd, fd);
	EXPECT_NE(0U, carg.id);
	flags = fcntl(fd, F_GETFD);
	EXPECT_TRUE(flags >= 0 && (flags & FD_CLOEXEC));
	/* The file the ioctl was called on is still unbound. */
	EXPECT_EQ(-ENODEV, st_info(self->fd, &info));

	ASSERT_EQ(0, st_info(fd, &info));
	EXPECT_STREQ(name, info.name);
	EXPECT_EQ(carg.id, info.id);
	EXPECT_EQ(1U, info.nr_files);
	p = map_fd(fd, len, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	ASSERT_NE(NULL, p);
	write_pages(p, len, SEED_A);

	init_attach(&aarg, name, SHMDEV_ATTACH_RDONLY | SHMDEV_ATTACH_NEWFD);
	fd2 = ioctl(self->fd, SHMDEV_IOC_ATTACH, &aarg);
	ASSERT_LE(0, fd2) TH_LOG("ATTACH: %s", strerror(errno));
	EXPECT_EQ(carg.id, aarg.id);
	EXPECT_EQ(len, aarg.size);
	ASSERT_EQ(0, st_info(fd2, &info));
	EXPECT_TRUE(info.flags & SHMDEV_INFO_RDONLY);
	EXPECT_EQ(2U, info.nr_files);
	EXPECT_EQ(NULL, map_fd(fd2, len, PROT_READ | PROT_WRITE, MAP_SHARED, 0));
	q = map_fd(fd2, len, PROT_READ, MAP_SHARED, 0);
	ASSERT_NE(NULL, q);
	EXPECT_EQ(-1, check_pages(q, len, SEED_A, 0));
	munmap(q, len);
	munmap(p, len);
	close(fd2);
	close(fd);

	/* And the first file can still be bound by CREATE or ATTACH. */
	EXPECT_EQ(0, st_attach(self->fd, name, 0, NULL, NULL));
}

TEST_F(shmdev, newfd_failures_leave_no_descriptor)
{
	const char *name = new_name(self);
	struct shmdev_create carg;
	struct shmdev_attach aarg;
	int before, owner;

	owner = create_on_new_fd(_metadata, name, page_size, 0600);
	before = nr_fds();
	ASSERT_LT(0, before);

	init_create(&carg, name, page_size, 0600);
	carg.flags = SHMDEV_CREATE_NEWFD;
	EXPECT_EQ(-1, ioctl(self->fd, SHMDEV_IOC_CREATE, &carg));
	EXPECT_EQ(EEXIST, errno);
	carg.flags |= SHMDEV_CREATE_HUGE;
	EXPECT_EQ(-1, ioctl(self->fd, SHMDEV_IOC_CREATE, &carg));
	EXPECT_EQ(EINVAL, errno);

	init_attach(&aarg, "no-such-segment-here", SHMDEV_ATTACH_NEWFD);
	EXPECT_EQ(-1, ioctl(self->fd, SHMDEV_IOC_ATTACH, &aarg));
	EXPECT_EQ(ENOENT, errno);
	init_attach(&aarg, name, SHMDEV_ATTACH_NEWFD);
	EXPECT_EQ(-1, ioctl(self->fd, SHMDEV_IOC_ATTACH, NULL));
	EXPECT_EQ(EFAULT, errno);

	EXPECT_EQ(before, nr_fds());
	/* Unbound still. */
	EXPECT_EQ(0, st_attach(self->fd, name, 0, NULL, NULL));
	close(owner);
}

TEST_F(shmdev, newfd_anonymous_segment_lives_with_its_descriptor)
{
	const size_t len = 256 * 1024;
	struct shmdev_create carg;
	struct shmdev_info info;
	uint64_t base;
	uint8_t *p;
	int fd;

	base = module_pages();
	init_create(&carg, "", len, 0600);
	carg.flags = SHMDEV_CREATE_NEWFD;
	fd = ioctl(self->fd, SHMDEV_IOC_CREATE, &carg);
	ASSERT_LE(0, fd);
	p = map_fd(fd, len, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	ASSERT_NE(NULL, p);
	write_pages(p, len, SEED_B);
	ASSERT_EQ(0, st_info(fd, &info));
	EXPECT_TRUE(info.flags & SHMDEV_INFO_ANON);
	EXPECT_EQ(len / page_size, info.nr_pages);
	/* The mapping keeps it after the descriptor goes, and no longer. */
	close(fd);
	EXPECT_EQ(-1, check_pages(p, len, SEED_B, 0));
	munmap(p, len);
	EXPECT_EQ(base, settle_pages(base));
}

int main(int argc, char **argv)
{
	return shmdev_harness_main(argc, argv);
}
