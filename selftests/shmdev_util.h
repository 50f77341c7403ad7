/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the shmdev selftest programs and shmdev_peer: the test
 * data pattern and thin wrappers around the /dev/shmdev ioctls.
 *
 * Every wrapper returns 0 on success or a negative errno, so that callers
 * can compare the result against the errno they expect.
 */
#ifndef SHMDEV_SELFTEST_UTIL_H
#define SHMDEV_SELFTEST_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/shmdev.h>

#ifndef __noreturn
#define __noreturn	__attribute__((__noreturn__))
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

/* Creates segment @name ("" for anonymous) and binds @fd to it. */
static inline int st_create(int fd, const char *name, uint64_t size,
			    uint32_t mode, uint64_t *id)
{
	struct shmdev_create arg;
	int ret;

	memset(&arg, 0, sizeof(arg));
	ret = st_set_name(arg.name, name);
	if (ret)
		return ret;
	arg.size = size;
	arg.mode = mode;
	ret = st_ioctl(fd, SHMDEV_IOC_CREATE, &arg);
	if (!ret && id)
		*id = arg.id;
	return ret;
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

#endif /* SHMDEV_SELFTEST_UTIL_H */
