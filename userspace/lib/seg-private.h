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
