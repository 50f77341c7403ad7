// SPDX-License-Identifier: GPL-2.0
/*
 * shmdev's limits: module parameters that root sets, the accounting that
 * enforces them, and the read-only page count.
 */

#include <linux/atomic.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/sysfs.h>

#include "internal.h"

static unsigned long max_segment_size;
module_param(max_segment_size, ulong, 0644);
MODULE_PARM_DESC(max_segment_size,
		 "Largest segment in bytes (default: size of RAM)");

static unsigned long max_total_bytes;
module_param(max_total_bytes, ulong, 0644);
MODULE_PARM_DESC(max_total_bytes,
		 "Largest sum of all segment sizes in bytes (default: size of RAM)");

static unsigned int max_segments = 4096;
module_param(max_segments, uint, 0644);
MODULE_PARM_DESC(max_segments, "Most segments in existence (default 4096)");

/* Sum of the sizes of all segments, in bytes. */
static atomic64_t shmdev_total_bytes = ATOMIC64_INIT(0);

/**
 * shmdev_reserve_bytes - account for @bytes more of segment size
 * @bytes:	bytes to add to shmdev_total_bytes
 *
 * Return: 0, or -ENOMEM if the total would exceed max_total_bytes.
 */
int shmdev_reserve_bytes(u64 bytes)
{
	u64 limit = READ_ONCE(max_total_bytes);
	s64 old = atomic64_read(&shmdev_total_bytes);

	do {
		if (bytes > limit || old > limit - bytes)
			return -ENOMEM;
	} while (!atomic64_try_cmpxchg(&shmdev_total_bytes, &old, old + bytes));
	return 0;
}

/* Gives back @bytes of segment size that shmdev_reserve_bytes() took. */
void shmdev_release_bytes(u64 bytes)
{
	atomic64_sub(bytes, &shmdev_total_bytes);
}

static int shmdev_nr_pages_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%ld\n", shmdev_nr_pages());
}

static int shmdev_nr_pages_set(const char *val, const struct kernel_param *kp)
{
	return -EPERM;
}

static const struct kernel_param_ops shmdev_nr_pages_ops = {
	.set	= shmdev_nr_pages_set,
	.get	= shmdev_nr_pages_get,
};

module_param_cb(nr_pages, &shmdev_nr_pages_ops, NULL, 0444);
MODULE_PARM_DESC(nr_pages, "Pages held by all segments (read-only)");

/* Size limits shared by CREATE and RESIZE. */
int shmdev_check_size(u64 size)
{
	if (!size)
		return -EINVAL;
	if (size > READ_ONCE(max_segment_size) || size > MAX_LFS_FILESIZE)
		return -EFBIG;
	return 0;
}

/* Whether max_segments segments exist already. */
bool shmdev_segments_full(void)
{
	return atomic_read(&shmdev_nr_segments) >= READ_ONCE(max_segments);
}

/* The limits as VERSION reports them. */
void shmdev_fill_limits(struct shmdev_version *ver)
{
	ver->max_segment_size = READ_ONCE(max_segment_size);
	ver->max_total_bytes = READ_ONCE(max_total_bytes);
	ver->max_segments = READ_ONCE(max_segments);
}

/* Defaults that depend on the machine: the size of RAM. */
void __init shmdev_limits_init(void)
{
	u64 ram = min_t(u64, (u64)totalram_pages() << PAGE_SHIFT, ULONG_MAX);

	if (!max_segment_size)
		max_segment_size = ram;
	if (!max_total_bytes)
		max_total_bytes = ram;
}
