// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * libFuzzer target: shmdev_parse_size() and shmdev_check_name() against
 * reference implementations written from their documentation
 * (libshmdev.h), under ASan and UBSan.
 *
 * The name is handed over in a buffer of exactly the input's length when
 * that is SHMDEV_NAME_MAX or more, without a NUL: shmdev_check_name() "reads
 * at most SHMDEV_NAME_MAX bytes", and ASan reports a byte more.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libshmdev.h"

/*
 * "Decimal digits, optionally followed by K, M, G, T, P or E (powers of
 * 1024, either case, optionally followed by "iB" or "B")." -EINVAL for bad
 * syntax, -ERANGE on overflow. Which one a string with both gets is not
 * documented (the library reports the overflow of its digits first):
 * *@overflowed says the digits alone overflowed, and the caller accepts
 * -ERANGE then too.
 */
static int ref_parse_size(const char *s, uint64_t *out, int *overflowed)
{
	static const char units[] = "kmgtpe";
	unsigned __int128 val = 0;
	const char *u;
	int shift = 0;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	while (*s >= '0' && *s <= '9') {
		val = val * 10 + (unsigned)(*s++ - '0');
		if (val > UINT64_MAX) {
			val = (unsigned __int128)UINT64_MAX + 1; /* sticky */
			*overflowed = 1;
		}
	}
	if (*s) {
		char c = *s;

		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		u = strchr(units, c);
		if (!c || !u)
			return -EINVAL;
		shift = 10 * (int)(u - units + 1);
		s++;
		if (s[0] == 'i' && s[1] == 'B')
			s += 2;
		else if (s[0] == 'B')
			s++;
		if (*s)
			return -EINVAL;
	}
	if (val > UINT64_MAX || (val << shift) > UINT64_MAX)
		return -ERANGE;
	*out = (uint64_t)(val << shift);
	return 0;
}

/* "1 to SHMDEV_NAME_MAX - 1 bytes of graphic ASCII other than '/'." */
static int ref_check_name(const unsigned char *p, size_t avail)
{
	size_t i;

	for (i = 0; i < SHMDEV_NAME_MAX && i < avail && p[i]; i++)
		;
	if (i == SHMDEV_NAME_MAX)
		return -ENAMETOOLONG;
	if (!i)
		return -EINVAL;
	while (i--)
		if (p[i] < 0x21 || p[i] > 0x7e || p[i] == '/')
			return -EINVAL;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t got = 0xdeadbeef, want = 0xdeadbeef;
	int ret, ref, overflowed = 0;
	char *str, *name;

	str = malloc(size + 1);
	if (!str)
		return 0;
	memcpy(str, data, size);
	str[size] = '\0';
	ret = shmdev_parse_size(str, &got);
	ref = ref_parse_size(str, &want, &overflowed);
	if ((ret != ref && !(overflowed && ret == -ERANGE)) ||
	    (!ret && got != want)) {
		fprintf(stderr, "shmdev_parse_size(\"%s\") = %d, %llu; reference %d, %llu\n",
			str, ret, (unsigned long long)got, ref,
			(unsigned long long)want);
		abort();
	}
	free(str);

	/* Exactly the input's bytes, NUL-terminated only if shorter. */
	name = malloc(size < SHMDEV_NAME_MAX ? size + 1 : size);
	if (!name)
		return 0;
	memcpy(name, data, size);
	if (size < SHMDEV_NAME_MAX)
		name[size] = '\0';
	ret = shmdev_check_name(name);
	ref = ref_check_name((const unsigned char *)name,
			     size < SHMDEV_NAME_MAX ? size + 1 : size);
	if (ret != ref) {
		fprintf(stderr, "shmdev_check_name() = %d, reference %d\n",
			ret, ref);
		abort();
	}
	free(name);
	return 0;
}
