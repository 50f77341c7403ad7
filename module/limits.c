// SPDX-License-Identifier: GPL-2.0
/*
 * shmdev's limits: module parameters that root sets, each IPC namespace's
 * own limits within them, the accounting that enforces both, and the
 * read-only page count.
 */

#include <linux/atomic.h>
#include <linux/fs.h>
#include <linux/limits.h>
#include <linux/lockdep.h>
#include <linux/minmax.h>
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

/*
 * The limits in force for the namespace of @l: the smaller of its own and
 * the module's.
 */
static unsigned int shmdev_max_segments(const struct shmdev_ns_limits *l)
{
	unsigned int max = READ_ONCE(max_segments);

	return l ? min(max, READ_ONCE(l->max_segments)) : max;
}

static u64 shmdev_max_segment_size(const struct shmdev_ns_limits *l)
{
	u64 max = READ_ONCE(max_segment_size);

	return l ? min(max, READ_ONCE(l->max_segment_size)) : max;
}

static u64 shmdev_max_total_bytes(const struct shmdev_ns_limits *l)
{
	u64 max = READ_ONCE(max_total_bytes);

	return l ? min(max, READ_ONCE(l->max_total_bytes)) : max;
}

/* A namespace's limits: none of its own. */
void shmdev_ns_limits_init(struct shmdev_ns_limits *l)
{
	l->max_segments = UINT_MAX;
	l->max_segment_size = U64_MAX;
	l->max_total_bytes = U64_MAX;
	atomic_set(&l->nr_segments, 0);
	atomic64_set(&l->total_bytes, 0);
}

/* Adds @bytes to @total unless that would exceed @limit; 0 or -ENOMEM. */
static int shmdev_add_bytes(atomic64_t *total, u64 bytes, u64 limit)
{
	s64 old = atomic64_read(total);

	do {
		if (bytes > limit || old > limit - bytes)
			return -ENOMEM;
	} while (!atomic64_try_cmpxchg(total, &old, old + bytes));
	return 0;
}

/**
 * shmdev_reserve_bytes - account for @bytes more of segment size
 * @l:		the limits of the segment's namespace
 * @bytes:	bytes to add to its total and the module's
 *
 * Return: 0, or -ENOMEM if either total would exceed its limit.
 */
int shmdev_reserve_bytes(struct shmdev_ns_limits *l, u64 bytes)
{
	int err;

	err = shmdev_add_bytes(&shmdev_total_bytes, bytes,
			       READ_ONCE(max_total_bytes));
	if (err)
		return err;
	err = shmdev_add_bytes(&l->total_bytes, bytes,
			       shmdev_max_total_bytes(l));
	if (err)
		atomic64_sub(bytes, &shmdev_total_bytes);
	return err;
}

/* Gives back @bytes of segment size that shmdev_reserve_bytes() took. */
void shmdev_release_bytes(struct shmdev_ns_limits *l, u64 bytes)
{
	atomic64_sub(bytes, &l->total_bytes);
	atomic64_sub(bytes, &shmdev_total_bytes);
}

/* A new segment of @l's namespace. */
void shmdev_count_segment(struct shmdev_ns_limits *l)
{
	atomic_inc(&l->nr_segments);
}

/*
 * The segment is gone: its last touch of @l, which names.c may free once
 * it sees no segment left (the barrier pairs with its acquire).
 */
void shmdev_uncount_segment(struct shmdev_ns_limits *l)
{
	/* Orders the segment's uses of @l before the count names.c reads. */
	smp_mb__before_atomic();
	atomic_dec(&l->nr_segments);
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
int shmdev_check_size(const struct shmdev_ns_limits *l, u64 size)
{
	if (!size)
		return -EINVAL;
	if (size > shmdev_max_segment_size(l) || size > MAX_LFS_FILESIZE)
		return -EFBIG;
	return 0;
}

/* Whether the module or the namespace of @l has all the segments it may. */
bool shmdev_segments_full(const struct shmdev_ns_limits *l)
{
	return atomic_read(&shmdev_nr_segments) >= READ_ONCE(max_segments) ||
	       (l && atomic_read(&l->nr_segments) >= shmdev_max_segments(l));
}

/* The limits in force as VERSION reports them. */
void shmdev_fill_limits(const struct shmdev_ns_limits *l,
			struct shmdev_version *ver)
{
	ver->max_segment_size = shmdev_max_segment_size(l);
	ver->max_total_bytes = shmdev_max_total_bytes(l);
	ver->max_segments = shmdev_max_segments(l);
}

/* The limits in force and the usage as SHMDEV_IOC_LIMITS reports them. */
void shmdev_get_limits(const struct shmdev_ns_limits *l,
		       struct shmdev_limits *out)
{
	out->max_segment_size = shmdev_max_segment_size(l);
	out->max_total_bytes = shmdev_max_total_bytes(l);
	out->max_segments = shmdev_max_segments(l);
	out->nr_segments = l ? atomic_read(&l->nr_segments) : 0;
	out->total_bytes = l ? atomic64_read(&l->total_bytes) : 0;
}

/**
 * shmdev_set_limits - set the limits of a namespace
 * @l:		its limits
 * @arg:	the new values of the limits arg->flags names
 * @may_raise:	whether the caller may set any value; without, only values
 *		below the limits in force
 *
 * Context: shmdev_lock.
 * Return: 0, or -EPERM (nothing changed) for a limit it may not raise.
 */
int shmdev_set_limits(struct shmdev_ns_limits *l,
		      const struct shmdev_limits *arg, bool may_raise)
{
	u32 flags = arg->flags;

	lockdep_assert_held(&shmdev_lock);
	if (!may_raise &&
	    (((flags & SHMDEV_LIMITS_SEGMENTS) &&
	      arg->max_segments > shmdev_max_segments(l)) ||
	     ((flags & SHMDEV_LIMITS_SEGMENT_SIZE) &&
	      arg->max_segment_size > shmdev_max_segment_size(l)) ||
	     ((flags & SHMDEV_LIMITS_TOTAL_BYTES) &&
	      arg->max_total_bytes > shmdev_max_total_bytes(l))))
		return -EPERM;
	if (flags & SHMDEV_LIMITS_SEGMENTS)
		WRITE_ONCE(l->max_segments, arg->max_segments);
	if (flags & SHMDEV_LIMITS_SEGMENT_SIZE)
		WRITE_ONCE(l->max_segment_size, arg->max_segment_size);
	if (flags & SHMDEV_LIMITS_TOTAL_BYTES)
		WRITE_ONCE(l->max_total_bytes, arg->max_total_bytes);
	return 0;
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
