// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * libshmdev segments: create, attach, map, info, resize, seals, permissions
 * and unlink, one thin function per ioctl.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "libshmdev.h"
#include "seg-private.h"

/* How often shmdev_open_or_create() retries a name that comes and goes. */
#define OPEN_OR_CREATE_TRIES	1000

/* mmap() flags shmdev_map() and shmdev_map_range() pass on. */
#define MAP_TYPE_FLAGS		(MAP_SHARED | MAP_PRIVATE)
#define MAP_EXTRA_FLAGS		(MAP_POPULATE | MAP_NORESERVE | MAP_LOCKED)

int shmdev_open_device(void)
{
	return seg_open_device(O_RDWR);
}

int shmdev_version(struct shmdev_version *ver)
{
	int fd, ret;

	if (!ver)
		return -EINVAL;
	fd = seg_open_device_to_read();
	if (fd < 0)
		return fd;
	memset(ver, 0, sizeof(*ver));
	ret = seg_ioctl(fd, SHMDEV_IOC_VERSION, ver);
	seg_close(fd);
	return ret;
}

/* CREATE on the unbound file @fd; 0 or -errno. */
static int do_create(int fd, const char *name, uint64_t size,
		     unsigned int mode, unsigned int flags)
{
	struct shmdev_create arg;
	int ret;

	memset(&arg, 0, sizeof(arg));
	if (name && name[0]) {
		ret = seg_set_name(arg.name, name);
		if (ret)
			return ret;
	}
	arg.size = size;
	arg.mode = mode;
	arg.flags = flags;
	return seg_ioctl(fd, SHMDEV_IOC_CREATE, &arg);
}

/* ATTACH on the unbound file @fd; 0 or -errno. */
static int do_attach(int fd, const char *name, unsigned int flags)
{
	struct shmdev_attach arg;
	int ret;

	memset(&arg, 0, sizeof(arg));
	ret = seg_set_name(arg.name, name);
	if (ret)
		return ret;
	arg.flags = flags;
	return seg_ioctl(fd, SHMDEV_IOC_ATTACH, &arg);
}

/*
 * An unbound file to bind to @name; the name is checked before opening
 * anything, so that a bad one gets the same error as from the kernel. The
 * fd, or -errno.
 */
static int open_for_name(const char *name, bool rdonly)
{
	int ret = shmdev_check_name(name);

	if (ret)
		return ret;
	return rdonly ? seg_open_device_to_read() : shmdev_open_device();
}

/* @fd if binding it gave @ret 0; otherwise closes @fd and returns @ret. */
static int bound_fd(int fd, int ret)
{
	if (ret) {
		seg_close(fd);
		return ret;
	}
	return fd;
}

/* An ioctl that needs no bound file, on a file of its own; 0 or -errno. */
static int device_ioctl(unsigned long cmd, void *arg)
{
	int fd, ret;

	fd = shmdev_open_device();
	if (fd < 0)
		return fd;
	ret = seg_ioctl(fd, cmd, arg);
	seg_close(fd);
	return ret;
}

int shmdev_create(const char *name, uint64_t size, unsigned int mode,
		  unsigned int flags)
{
	int fd;

	/* The new file would be lost: shmdev_create_at() is for that. */
	if (flags & SHMDEV_CREATE_NEWFD)
		return -EINVAL;
	/* An anonymous segment has no name to check. */
	fd = name && name[0] ? open_for_name(name, false) :
			       shmdev_open_device();
	if (fd < 0)
		return fd;
	return bound_fd(fd, do_create(fd, name, size, mode, flags));
}

int shmdev_attach(const char *name, unsigned int flags)
{
	int fd;

	if (flags & SHMDEV_ATTACH_NEWFD)
		return -EINVAL;
	fd = open_for_name(name, flags & SHMDEV_ATTACH_RDONLY);
	if (fd < 0)
		return fd;
	return bound_fd(fd, do_attach(fd, name, flags));
}

int shmdev_create_at(int devfd, const char *name, uint64_t size,
		     unsigned int mode, unsigned int flags)
{
	return do_create(devfd, name, size, mode, flags | SHMDEV_CREATE_NEWFD);
}

int shmdev_attach_at(int devfd, const char *name, unsigned int flags)
{
	return do_attach(devfd, name, flags | SHMDEV_ATTACH_NEWFD);
}

int shmdev_reattach(int fd, unsigned int flags)
{
	struct shmdev_attach arg;

	if (fd < 0 || (flags & ~(SHMDEV_ATTACH_RDONLY | SHMDEV_ATTACH_PREMAP)))
		return -EINVAL;
	/* An empty name: the segment @fd is bound to. */
	memset(&arg, 0, sizeof(arg));
	arg.flags = flags | SHMDEV_ATTACH_NEWFD;
	return seg_ioctl(fd, SHMDEV_IOC_ATTACH, &arg);
}

int shmdev_open_or_create(const char *name, uint64_t size, unsigned int mode,
			  int *created)
{
	int fd, ret, tries;

	/* An anonymous segment cannot be opened again: a name is required. */
	fd = open_for_name(name, false);
	if (fd < 0)
		return fd;
	/* A failed CREATE or ATTACH leaves the file unbound: reuse it. */
	for (tries = 0; tries < OPEN_OR_CREATE_TRIES; tries++) {
		ret = do_create(fd, name, size, mode, 0);
		if (!ret) {
			if (created)
				*created = 1;
			return fd;
		}
		if (ret != -EEXIST)
			break;
		ret = do_attach(fd, name, 0);
		if (!ret) {
			if (created)
				*created = 0;
			return fd;
		}
		/* Removed between our CREATE and ATTACH: try again. */
		if (ret != -ENOENT)
			break;
		ret = -EAGAIN;
	}
	seg_close(fd);
	return ret;
}

int shmdev_info(int fd, struct shmdev_info *info)
{
	if (!info)
		return -EINVAL;
	memset(info, 0, sizeof(*info));
	return seg_ioctl(fd, SHMDEV_IOC_INFO, info);
}

static size_t page_size(void)
{
	long ps = sysconf(_SC_PAGESIZE);

	return ps > 0 ? (size_t)ps : 4096;
}

static int check_map_flags(int flags)
{
	int type = flags & MAP_TYPE_FLAGS;

	if (type != MAP_SHARED && type != MAP_PRIVATE)
		return -EINVAL;
	if (flags & ~(MAP_TYPE_FLAGS | MAP_EXTRA_FLAGS))
		return -EINVAL;
	return 0;
}

void *shmdev_map_range(int fd, uint64_t offset, size_t length, int prot,
		       int flags)
{
	size_t ps = page_size(), delta, maplen;
	uint64_t start;
	void *addr;
	int ret;

	ret = check_map_flags(flags);
	if (!ret && !length)
		ret = -EINVAL;
	if (ret) {
		errno = -ret;
		return NULL;
	}
	delta = offset & (ps - 1);
	start = offset - delta;
	/* The mapping: from the page holding @offset to the end, in pages. */
	if (length > SIZE_MAX - delta - (ps - 1) ||
	    (off_t)start < 0 || (uint64_t)(off_t)start != start) {
		errno = EOVERFLOW;
		return NULL;
	}
	maplen = (delta + length + ps - 1) & ~(ps - 1);
	addr = mmap(NULL, maplen, prot, flags, fd, (off_t)start);
	if (addr == MAP_FAILED)
		return NULL;
	return (char *)addr + delta;
}

void *shmdev_map(int fd, int prot, int flags, size_t *length)
{
	struct shmdev_info info;
	void *addr;
	int ret;

	ret = shmdev_info(fd, &info);
	if (ret) {
		errno = -ret;
		return NULL;
	}
	if (info.size > SIZE_MAX) {
		errno = EOVERFLOW;
		return NULL;
	}
	addr = shmdev_map_range(fd, 0, (size_t)info.size, prot, flags);
	if (addr && length)
		*length = (size_t)info.size;
	return addr;
}

int shmdev_unmap(void *addr, size_t length)
{
	size_t ps = page_size();
	uintptr_t start = (uintptr_t)addr & ~(uintptr_t)(ps - 1);
	size_t delta = (uintptr_t)addr - start;

	if (!addr || !length || length > SIZE_MAX - delta)
		return -EINVAL;
	/* munmap() rounds the length up to whole pages itself. */
	return munmap((void *)start, delta + length) ? -errno : 0;
}

int shmdev_resize(int fd, uint64_t size)
{
	struct shmdev_resize arg;

	memset(&arg, 0, sizeof(arg));
	arg.size = size;
	return seg_ioctl(fd, SHMDEV_IOC_RESIZE, &arg);
}

int shmdev_add_seals(int fd, unsigned int seals)
{
	struct shmdev_seals arg;

	memset(&arg, 0, sizeof(arg));
	arg.seals = seals;
	return seg_ioctl(fd, SHMDEV_IOC_ADD_SEALS, &arg);
}

int shmdev_get_seals(int fd)
{
	struct shmdev_seals arg;
	int ret;

	memset(&arg, 0, sizeof(arg));
	ret = seg_ioctl(fd, SHMDEV_IOC_GET_SEALS, &arg);
	if (ret)
		return ret;
	/* Only SHMDEV_SEAL_MASK bits exist; anything else is not an int. */
	if (arg.seals > INT32_MAX)
		return -EOVERFLOW;
	return (int)arg.seals;
}

int shmdev_setperm(const char *name, unsigned int flags, unsigned int mode,
		   uid_t uid, gid_t gid)
{
	struct shmdev_setperm arg;
	int ret;

	memset(&arg, 0, sizeof(arg));
	ret = seg_set_name(arg.name, name);
	if (ret)
		return ret;
	/* Fields that @flags does not select go in as zero. */
	arg.flags = flags;
	if (flags & SHMDEV_SETPERM_MODE)
		arg.mode = mode;
	if (flags & SHMDEV_SETPERM_UID)
		arg.uid = uid;
	if (flags & SHMDEV_SETPERM_GID)
		arg.gid = gid;
	return device_ioctl(SHMDEV_IOC_SETPERM, &arg);
}

int shmdev_chmod(const char *name, unsigned int mode)
{
	return shmdev_setperm(name, SHMDEV_SETPERM_MODE, mode, 0, 0);
}

int shmdev_chown(const char *name, uid_t uid, gid_t gid)
{
	unsigned int flags = 0;

	if (uid != (uid_t)-1)
		flags |= SHMDEV_SETPERM_UID;
	if (gid != (gid_t)-1)
		flags |= SHMDEV_SETPERM_GID;
	if (!flags)
		return -EINVAL;
	return shmdev_setperm(name, flags, 0, uid, gid);
}

int shmdev_stat(int fd, struct shmdev_stat *st)
{
	if (!st)
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	return seg_ioctl(fd, SHMDEV_IOC_STAT, st);
}

int shmdev_limits(struct shmdev_limits *lim)
{
	int fd, ret;

	if (!lim)
		return -EINVAL;
	/* Reading them needs no write access to the device. */
	fd = lim->flags ? shmdev_open_device() : seg_open_device_to_read();
	if (fd < 0)
		return fd;
	ret = seg_ioctl(fd, SHMDEV_IOC_LIMITS, lim);
	seg_close(fd);
	return ret;
}

int shmdev_unlink_flags(const char *name, unsigned int flags)
{
	struct shmdev_unlink arg;
	int ret;

	memset(&arg, 0, sizeof(arg));
	ret = seg_set_name(arg.name, name);
	if (ret)
		return ret;
	arg.flags = flags;
	return device_ioctl(SHMDEV_IOC_UNLINK, &arg);
}

int shmdev_unlink(const char *name)
{
	return shmdev_unlink_flags(name, 0);
}
