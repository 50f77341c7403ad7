/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the shmdev selftest programs and the helpers that run
 * without the kselftest harness (shmdev_peer, shmdev_stress, shmdev_fuzz,
 * shmdev_memhog): the test data pattern, thin wrappers around the
 * /dev/shmdev ioctls, module parameters, SIGBUS/SIGSEGV probes, a clock and
 * a seed mixer.
 *
 * Every ioctl wrapper returns 0 on success or a negative errno, so that
 * callers can compare the result against the errno they expect.
 *
 * Include it with _GNU_SOURCE defined; it must not need kselftest_harness.h.
 */
#ifndef SHMDEV_SELFTEST_UTIL_H
#define SHMDEV_SELFTEST_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/shmdev.h>

#ifndef __noreturn
#define __noreturn	__attribute__((__noreturn__))
#endif

#ifndef __maybe_unused
#define __maybe_unused	__attribute__((__unused__))
#endif

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

/*
 * Byte at offset @off of the test pattern for @seed. Only bits 13..20 of the
 * product and bits 12..19 of the offset reach the result, so the value is
 * the same whatever the width of the arithmetic.
 */
static inline uint8_t st_pattern(uint64_t off, uint8_t seed)
{
	return (uint8_t)(((off * 2654435761u) >> 13) ^ seed ^ (off >> 12));
}

static inline void st_fill(void *buf, size_t len, uint8_t seed)
{
	uint8_t *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = st_pattern(i, seed);
}

/* Offset of the first byte of @buf that differs from the pattern, or @len. */
static inline size_t st_mismatch(const void *buf, size_t len, uint8_t seed)
{
	const uint8_t *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != st_pattern(i, seed))
			break;
	return i;
}

/*
 * mmap() of a huge segment at an address aligned to @align (its huge page
 * size), as the kernel places it for a 64-bit caller. Since Linux 6.8,
 * and in the stable kernels that took the change (Debian's 6.1 too), the
 * kernel no longer aligns a 32-bit task's mappings for huge pages (nor
 * memfd's): for such a task whose mapping came out unaligned, this maps
 * the segment again at an aligned address it reserves itself, and sets
 * *@realigned. A 64-bit caller gets what mmap() gave, aligned or not.
 * MAP_FAILED on error.
 */
static inline void *st_mmap_huge(int fd, size_t len, int prot, int flags,
				 off_t off, size_t align, bool *realigned)
{
	void *p = mmap(NULL, len, prot, flags, fd, off), *res;
	uintptr_t a, end;

	*realigned = false;
	if (p == MAP_FAILED || !align || !((uintptr_t)p % align) ||
	    sizeof(long) == 8)
		return p;
	munmap(p, len);
	res = mmap(NULL, len + align, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		   -1, 0);
	if (res == MAP_FAILED)
		return MAP_FAILED;
	a = ((uintptr_t)res + align - 1) & ~(uintptr_t)(align - 1);
	end = (uintptr_t)res + len + align;
	p = mmap((void *)a, len, prot, flags | MAP_FIXED, fd, off);
	if (p == MAP_FAILED) {
		munmap(res, len + align);
		return MAP_FAILED;
	}
	if (a > (uintptr_t)res)
		munmap(res, a - (uintptr_t)res);
	if (end > a + len)
		munmap((void *)(a + len), end - (a + len));
	*realigned = true;
	return p;
}

/* Opens the device with close-on-exec; returns the fd or -errno. */
static inline int st_open(void)
{
	int fd = open(SHMDEV_DEVICE_PATH, O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

static inline int st_ioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) < 0 ? -errno : 0;
}

/* Copies @name into a name field; -ENAMETOOLONG if it does not fit. */
static inline int st_set_name(char dst[SHMDEV_NAME_MAX], const char *name)
{
	size_t len = strlen(name);

	if (len >= SHMDEV_NAME_MAX)
		return -ENAMETOOLONG;
	memset(dst, 0, SHMDEV_NAME_MAX);
	memcpy(dst, name, len);
	return 0;
}

static inline int st_version(int fd, struct shmdev_version *ver)
{
	memset(ver, 0, sizeof(*ver));
	return st_ioctl(fd, SHMDEV_IOC_VERSION, ver);
}

/*
 * Creates segment @name ("" for anonymous) with SHMDEV_CREATE_* @flags and
 * binds @fd to it.
 */
static inline int st_create_flags(int fd, const char *name, uint64_t size,
				  uint32_t mode, uint32_t flags, uint64_t *id)
{
	struct shmdev_create arg;
	int ret;

	memset(&arg, 0, sizeof(arg));
	ret = st_set_name(arg.name, name);
	if (ret)
		return ret;
	arg.size = size;
	arg.mode = mode;
	arg.flags = flags;
	ret = st_ioctl(fd, SHMDEV_IOC_CREATE, &arg);
	if (!ret && id)
		*id = arg.id;
	return ret;
}

/* Creates segment @name ("" for anonymous) and binds @fd to it. */
static inline int st_create(int fd, const char *name, uint64_t size,
			    uint32_t mode, uint64_t *id)
{
	return st_create_flags(fd, name, size, mode, 0, id);
}

/* Binds @fd to the existing segment @name. */
static inline int st_attach(int fd, const char *name, uint32_t flags,
			    uint64_t *size, uint64_t *id)
{
	struct shmdev_attach arg;
	int ret;

	memset(&arg, 0, sizeof(arg));
	ret = st_set_name(arg.name, name);
	if (ret)
		return ret;
	arg.flags = flags;
	ret = st_ioctl(fd, SHMDEV_IOC_ATTACH, &arg);
	if (!ret && size)
		*size = arg.size;
	if (!ret && id)
		*id = arg.id;
	return ret;
}

static inline int st_info(int fd, struct shmdev_info *info)
{
	memset(info, 0, sizeof(*info));
	return st_ioctl(fd, SHMDEV_IOC_INFO, info);
}

static inline int st_unlink(int fd, const char *name)
{
	struct shmdev_unlink arg;
	int ret;

	memset(&arg, 0, sizeof(arg));
	ret = st_set_name(arg.name, name);
	if (ret)
		return ret;
	return st_ioctl(fd, SHMDEV_IOC_UNLINK, &arg);
}

/* Resizes the segment bound to @fd to @size bytes. */
static inline int st_resize(int fd, uint64_t size)
{
	struct shmdev_resize arg;

	memset(&arg, 0, sizeof(arg));
	arg.size = size;
	return st_ioctl(fd, SHMDEV_IOC_RESIZE, &arg);
}

static inline int st_add_seals(int fd, uint32_t seals)
{
	struct shmdev_seals arg;

	memset(&arg, 0, sizeof(arg));
	arg.seals = seals;
	return st_ioctl(fd, SHMDEV_IOC_ADD_SEALS, &arg);
}

static inline int st_get_seals(int fd, uint32_t *seals)
{
	struct shmdev_seals arg;
	int ret;

	memset(&arg, 0, sizeof(arg));
	ret = st_ioctl(fd, SHMDEV_IOC_GET_SEALS, &arg);
	if (!ret)
		*seals = arg.seals;
	return ret;
}

/*
 * Changes the fields of segment @name that @flags (SHMDEV_SETPERM_*) name
 * to @mode, @uid and @gid.
 */
static inline int st_setperm(int fd, const char *name, uint32_t flags,
			     uint32_t mode, uint32_t uid, uint32_t gid)
{
	struct shmdev_setperm arg;
	int ret;

	memset(&arg, 0, sizeof(arg));
	ret = st_set_name(arg.name, name);
	if (ret)
		return ret;
	arg.flags = flags;
	arg.mode = mode;
	arg.uid = uid;
	arg.gid = gid;
	return st_ioctl(fd, SHMDEV_IOC_SETPERM, &arg);
}

static inline int st_chmod(int fd, const char *name, uint32_t mode)
{
	return st_setperm(fd, name, SHMDEV_SETPERM_MODE, mode, 0, 0);
}

/*
 * Lists up to @room segments with an id above @after_id into @entries;
 * stores how many it wrote in @nr (if given) and how many there are in
 * @total (if given).
 */
static inline int st_list(int fd, uint64_t after_id,
			  struct shmdev_info *entries, uint32_t room,
			  uint32_t *nr, uint32_t *total)
{
	struct shmdev_list arg;
	int ret;

	memset(&arg, 0, sizeof(arg));
	arg.entries = (uintptr_t)entries;
	arg.after_id = after_id;
	arg.nr_entries = room;
	ret = st_ioctl(fd, SHMDEV_IOC_LIST, &arg);
	if (!ret && nr)
		*nr = arg.nr_entries;
	if (!ret && total)
		*total = arg.nr_total;
	return ret;
}

/* SHMDEV_IOC_LIMITS: sets what @lim->flags names, reads back; 0 or -errno. */
static inline int st_limits(int fd, struct shmdev_limits *lim)
{
	return st_ioctl(fd, SHMDEV_IOC_LIMITS, lim);
}

/* Sets the limit(s) @flags of the caller's IPC namespace to @val. */
static inline int st_set_limit(int fd, uint32_t flags, uint64_t val)
{
	struct shmdev_limits lim;

	memset(&lim, 0, sizeof(lim));
	lim.flags = flags;
	lim.max_segments = val > UINT32_MAX ? UINT32_MAX : (uint32_t)val;
	lim.max_segment_size = val;
	lim.max_total_bytes = val;
	return st_limits(fd, &lim);
}

#define PARAM_DIR	"/sys/module/shmdev/parameters"

/* Reads module parameter @param into *@val (0 if it fails); 0 or -errno. */
static inline int read_param(const char *param, uint64_t *val)
{
	char path[128], buf[64], *end;
	ssize_t n;
	int fd;

	*val = 0;
	snprintf(path, sizeof(path), PARAM_DIR "/%s", param);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		n = -errno;
	close(fd);
	if (n <= 0)
		return n ? n : -ENODATA;
	buf[n] = '\0';
	errno = 0;
	*val = strtoull(buf, &end, 0);
	if (errno || end == buf || (*end && *end != '\n'))
		return -EINVAL;
	return 0;
}

/* Pages the module holds in all segments, or UINT64_MAX if unreadable. */
static inline uint64_t module_pages(void)
{
	uint64_t val;

	return read_param("nr_pages", &val) ? UINT64_MAX : val;
}

/* Writes @text to the file at @path; 0 or -errno. */
static inline int write_file(const char *path, const char *text)
{
	ssize_t len = strlen(text), n;
	int fd;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, text, len);
	if (n < 0)
		n = -errno;
	close(fd);
	return n < 0 ? n : (n == len ? 0 : -EIO);
}

/* Writes @val to module parameter @param; 0 or -errno. */
static inline int write_param(const char *param, uint64_t val)
{
	char path[128], buf[32];

	snprintf(path, sizeof(path), PARAM_DIR "/%s", param);
	snprintf(buf, sizeof(buf), "%llu\n", (unsigned long long)val);
	return write_file(path, buf);
}

/*
 * SIGBUS/SIGSEGV probes. With st_probe_handler() installed (st_probe_init()
 * does it for both signals), an access made after setting st_probe_armed
 * and calling sigsetjmp(st_probe_env, 1) makes sigsetjmp() return the
 * signal instead of killing the process; clear st_probe_armed after the
 * access. Per thread, so that several threads can probe at once.
 */
static __thread sigjmp_buf st_probe_env __maybe_unused;
static __thread volatile sig_atomic_t st_probe_armed __maybe_unused;

static inline void st_probe_handler(int sig)
{
	if (st_probe_armed) {
		st_probe_armed = 0;
		siglongjmp(st_probe_env, sig);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static inline void st_probe_init(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = st_probe_handler;
	sa.sa_flags = SA_NODEFER;
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
}

/*
 * Writes @wval to @addr if @write; then reads the byte at @addr into *@val
 * if @val is given (else, if it did not write, reads it and drops it).
 * Returns 0, or the signal (SIGBUS, SIGSEGV) the access raised.
 */
static inline int st_probe(volatile uint8_t *addr, bool write, uint8_t wval,
			   uint8_t *val)
{
	int sig;

	st_probe_armed = 1;
	sig = sigsetjmp(st_probe_env, 1);
	if (sig)
		return sig;
	if (write)
		*addr = wval;
	if (val)
		*val = *addr;
	else if (!write)
		(void)*addr;
	st_probe_armed = 0;
	return 0;
}

/* Seconds on the monotonic clock. */
static inline double st_now_secs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Reads a byte in each page-table span that [@p, @p + @len) meets (ps / 8
 * pages: 2 MiB with 4 KiB pages), so that the mapping's page tables exist
 * before it is filled; the mapping need not start on a span boundary.
 *
 * A fault allocates the page table (GFP_KERNEL_ACCOUNT) before it asks the
 * mapping for the page. When memory or a memory cgroup's limit runs out,
 * that core-mm allocation calls the OOM killer, where the module's own
 * page allocation fails with SIGBUS: tests that expect the SIGBUS make the
 * page tables first, while memory is still there. Not for HUGE segments,
 * whose first fault in a span allocates a huge page.
 */
static inline void st_make_page_tables(const volatile uint8_t *p, size_t len)
{
	size_t ps = sysconf(_SC_PAGESIZE), span = ps / 8 * ps;
	uintptr_t base = (uintptr_t)p, addr;

	for (addr = base & ~(uintptr_t)(span - 1); addr < base + len;
	     addr += span)
		(void)p[addr < base ? 0 : addr - base];
}

/* splitmix64's finalizer: spreads the bits of @x over the result. */
static inline uint64_t st_mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* A seed from the clock and the pid, for a run that was given none. */
static inline uint64_t st_clock_seed(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return st_mix64(ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ getpid());
}

/* The number in environment variable @name, or @def if unset or empty. */
static inline unsigned long long st_env_num(const char *name,
					    unsigned long long def)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 0) : def;
}

/* VmLck of this process in kB (locked segments are charged there), or -1. */
static inline long st_vm_locked_kb(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[128];
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmLck: %ld", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

#endif /* SHMDEV_SELFTEST_UTIL_H */
