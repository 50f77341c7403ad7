// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * libFuzzer target: shmdev_ring_attach() on a region whose header a peer
 * scribbled on, and then non-blocking use of the ring, under ASan and
 * UBSan. ring.c promises that a peer that writes anything into the region
 * can make calls fail (-EPROTO and the like) or lose messages, but never
 * make the library touch memory outside the region: the region here is a
 * heap block of exactly its length, so ASan sees any access beyond it.
 *
 * Input: 1 byte of geometry choice (length, kind, msg_max), then bytes
 * that overwrite the start of a freshly initialised ring (header and the
 * first bytes of the data area), the rest of the ring as init left it.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libshmdev/ring.h"

static const size_t lens[] = { 1024, 1088, 2048, 4096, 8192, 16384 + 1024 };

static void check(const char *what, int ret)
{
	/* Every function returns 0 or a negative errno, nothing else. */
	if (ret > 0 || ret < -4095) {
		fprintf(stderr, "%s returned %d\n", what, ret);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct shmdev_ring ring;
	struct shmdev_ring_info info;
	uint8_t msg[512], *mem;
	const void *peek;
	size_t len, n, got;
	unsigned int flags;
	uint32_t msg_max;
	int ret, i;
	void *buf;

	if (size < 1)
		return 0;
	len = lens[data[0] % (sizeof(lens) / sizeof(lens[0]))];
	flags = data[0] & 0x40 ? SHMDEV_RING_MPMC : 0;
	msg_max = data[0] & 0x80 ? 256 : 32;
	data++;
	size--;

	if (posix_memalign((void **)&mem, 64, len))
		return 0;
	memset(mem, 0, len);
	ret = shmdev_ring_init(mem, len, msg_max, flags);
	check("shmdev_ring_init", ret);
	/* Shrink the block to exactly len for ASan: copy to a fresh one. */
	{
		uint8_t *exact = malloc(len);

		if (!exact) {
			free(mem);
			return 0;
		}
		memcpy(exact, mem, len);
		free(mem);
		mem = exact;
	}
	n = size < len ? size : len;
	memcpy(mem, data, n);

	ret = shmdev_ring_attach(mem, len, &ring);
	check("shmdev_ring_attach", ret);
	if (ret == 0) {
		check("shmdev_ring_info", shmdev_ring_info(&ring, &info));
		for (i = 0; i < 4; i++) {
			memset(msg, i, sizeof(msg));
			check("shmdev_ring_send",
			      shmdev_ring_send(&ring, msg, 1 + i * 7, 0));
			ret = shmdev_ring_reserve(&ring, 8, &buf, 0);
			check("shmdev_ring_reserve", ret);
			if (!ret) {
				memset(buf, 0xab, 8);
				check("shmdev_ring_commit",
				      shmdev_ring_commit(&ring, 8));
			}
			ret = shmdev_ring_peek(&ring, &peek, &got, 0);
			check("shmdev_ring_peek", ret);
			if (!ret) {
				volatile uint8_t sink = 0;
				size_t k;

				for (k = 0; k < got; k++)
					sink ^= ((const uint8_t *)peek)[k];
				(void)sink;
				check("shmdev_ring_release",
				      shmdev_ring_release(&ring));
			}
			check("shmdev_ring_recv",
			      shmdev_ring_recv(&ring, msg, sizeof(msg), &got,
					       0));
		}
		check("shmdev_ring_detach", shmdev_ring_detach(&ring));
	}
	free(mem);
	return 0;
}
