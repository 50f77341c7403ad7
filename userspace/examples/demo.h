/* SPDX-License-Identifier: GPL-2.0 */
/* Layout of the demo segment, shared by demo-producer and demo-consumer. */
#ifndef SHMDEV_DEMO_H
#define SHMDEV_DEMO_H

#include <stdint.h>

#define DEMO_SIZE	(64 * 1024)

struct demo_page {
	uint32_t pid;
	uint32_t sum;
	char text[256];
};

/* FNV-1a over the NUL-terminated text. */
static inline uint32_t demo_checksum(const char *text)
{
	uint32_t h = 2166136261u;

	while (*text)
		h = (h ^ (unsigned char)*text++) * 16777619u;
	return h;
}

#endif
