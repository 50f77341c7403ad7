/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * Helpers shared by the segment sources of libshmdev. Everything here is
 * static inline: the library exports only the functions of libshmdev.h.
 */
#ifndef LIBSHMDEV_SEG_PRIVATE_H
#define LIBSHMDEV_SEG_PRIVATE_H

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "libshmdev.h"

/*
 * ioctl() that retries on EINTR; its result (0, or a new fd for the NEWFD
 * flags) or -errno.
 */
static inline int seg_ioctl(int fd, unsigned long cmd, void *arg)
{
	int ret;

	do {
		ret = ioctl(fd, cmd, arg);
	} while (ret < 0 && errno == EINTR);
	return ret < 0 ? -errno : ret;
}

/* close() that keeps errno, for error paths. */
static inline void seg_close(int fd)
{
	int saved = errno;

	close(fd);
	errno = saved;
}

/*
 * Opens the device with @flags (O_RDWR or O_RDONLY), close-on-exec. No
 * device node, or a node without the driver behind it, is -ENODEV: the
 * module is not loaded (-ENOENT stays for "no such segment").
 */
static inline int seg_open_device(int flags)
{
	int fd;

	do {
		fd = open(SHMDEV_DEVICE_PATH, flags | O_CLOEXEC);
	} while (fd < 0 && errno == EINTR);
	if (fd >= 0)
		return fd;
	if (errno == ENOENT || errno == ENXIO || errno == ENODEV)
		return -ENODEV;
	return -errno;
}

/*
 * For what a read-only device file may do (VERSION, LIST, read-only
 * ATTACH): read-write if the caller may, else read-only, so that a device
 * node everyone may read but only a group may write serves everyone.
 */
static inline int seg_open_device_to_read(void)
{
	int fd = seg_open_device(O_RDWR);

	return fd == -EACCES ? seg_open_device(O_RDONLY) : fd;
}

/* Checks @name and copies it into a zeroed name field; 0 or -errno. */
static inline int seg_set_name(char dst[SHMDEV_NAME_MAX], const char *name)
{
	int ret = shmdev_check_name(name);

	if (ret)
		return ret;
	memcpy(dst, name, strlen(name) + 1);
	return 0;
}

#endif /* LIBSHMDEV_SEG_PRIVATE_H */
