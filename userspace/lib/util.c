// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * libshmdev helpers that need no kernel: the library version, segment name
 * validation and size parsing.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "libshmdev.h"

#ifndef SHMDEV_LIB_VERSION
#error "SHMDEV_LIB_VERSION must be defined (the Makefile reads ../VERSION)"
#endif

const char *shmdev_lib_version(void)
{
	return SHMDEV_LIB_VERSION;
}

/* The kernel's rules (module/dev.c), in the same order. */
int shmdev_check_name(const char *name)
{
	size_t i, len;

	if (!name)
		return -EINVAL;
	len = strnlen(name, SHMDEV_NAME_MAX);
	if (len == SHMDEV_NAME_MAX)
		return -ENAMETOOLONG;
	if (!len)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		unsigned char c = name[i];

		if (c <= ' ' || c > '~' || c == '/')
			return -EINVAL;
	}
	return 0;
}

/* Shift for a unit letter (K, M, G, T, P, E in either case), or -1. */
static int unit_shift(char c)
{
	static const char units[] = "KMGTPE";
	const char *u;

	if (c >= 'a' && c <= 'z')
		c -= 'a' - 'A';
	u = c ? strchr(units, c) : NULL;
	return u ? 10 * (int)(u - units + 1) : -1;
}

int shmdev_parse_size(const char *str, uint64_t *size)
{
	const char *p = str;
	uint64_t val = 0;
	int shift = 0;

	if (!str || !size)
		return -EINVAL;
	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned int digit = *p - '0';

		if (val > (UINT64_MAX - digit) / 10)
			return -ERANGE;
		val = val * 10 + digit;
	}
	if (*p) {
		shift = unit_shift(*p);
		if (shift < 0)
			return -EINVAL;
		p++;
		if (p[0] == 'i' && p[1] == 'B')
			p += 2;
		else if (p[0] == 'B')
			p++;
		if (*p)
			return -EINVAL;
	}
	if (shift && val > (UINT64_MAX >> shift))
		return -ERANGE;
	*size = val << shift;
	return 0;
}
