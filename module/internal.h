/* SPDX-License-Identifier: GPL-2.0 */
/*
 * shmdev internals shared by the device and its ioctls (dev.c), the limits
 * (limits.c), the name table (names.c), the permission checks (perm.c) and
 * the segments and their shmem pages (seg.c).
 */
#ifndef _SHMDEV_INTERNAL_H
#define _SHMDEV_INTERNAL_H

#include <linux/atomic.h>
#include <linux/fs.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/poll.h>
#include <linux/refcount.h>
#include <linux/types.h>
#include <linux/uidgid.h>
#include <linux/wait.h>

#include <linux/shmdev.h>

#include "compat.h"

struct shmdev_scope;

/**
 * struct shmdev_ns_limits - the limits and usage of one IPC namespace
 * @max_segments:	the namespace's own limit on its segments, UINT_MAX
 *			for none; written under shmdev_lock
 * @max_segment_size:	its own limit on a segment's size, U64_MAX for none
 * @max_total_bytes:	its own limit on its segments' sizes, U64_MAX for none
 * @nr_segments:	segments created in the namespace that exist; atomic
 * @total_bytes:	the sum of their sizes; atomic
 *
 * The module parameters bound every namespace: the limit in force is the
 * smaller of the namespace's own and the module's.
 */
struct shmdev_ns_limits {
	unsigned int		max_segments;
	u64			max_segment_size;
	u64			max_total_bytes;
	atomic_t		nr_segments;
	atomic64_t		total_bytes;
};

/**
 * struct shmdev_seg - one shared-memory segment
 * @node:	entry in the name table; shmdev_lock
 * @scope_node:	entry in @scope's segment list, in id order; shmdev_lock
 * @scope:	names of the IPC namespace the segment is named in, while
 *		linked; shmdev_lock
 * @name_hash:	hash of @scope and @name, while linked; shmdev_lock
 * @linked:	the name table holds a reference; shmdev_lock, read locklessly
 * @refs:	the name table's reference and one per segment file
 * @all_node:	entry in the list of all segments; its own spinlock
 * @shmem_file:	shmem file holding the segment's pages, on one of the
 *		module's tmpfs instances; never seen by user space; constant
 * @inode:	its inode, whose i_size is the segment's size; constant
 * @shmem_vm_ops: shmem's vm_ops, which the segment's VMAs forward to; set
 *		by each mmap(), always to the same value
 * @lock:	serialises resizing, sealing, shared mappings' seal checks
 *		and INFO's view of size and pages; nests inside shmdev_lock,
 *		the mmap lock and the inode lock
 * @seals:	SHMDEV_SEAL_* bits; @lock, read locklessly
 * @id:		identifier, unique while the module is loaded; constant
 * @uid:	owner; shmdev_lock
 * @gid:	owner group; shmdev_lock
 * @cuid:	creator, who may unlink and SETPERM as the owner may; constant
 * @ns_limits:	the limits of the IPC namespace the segment was created in,
 *		charged with it until it is freed; constant
 * @stat_lock:	guards @lpid
 * @cpid:	the process that created it; constant
 * @lpid:	the process that last attached or detached it
 * @crtime:	creation time (seconds since the Epoch); constant
 * @atime:	last CREATE or ATTACH; WRITE_ONCE()
 * @dtime:	last release of a bound file, or 0; WRITE_ONCE()
 * @chtime:	last change (creation, SETPERM, RESIZE, ADD_SEALS);
 *		WRITE_ONCE()
 * @mode:	permission bits; shmdev_lock
 * @nr_files:	/dev/shmdev files bound to the segment; atomic
 * @nr_maps:	VMAs mapping the segment; atomic
 * @nr_writable: shared VMAs that may write (VM_MAYWRITE); atomic,
 *		raised from 0 only under @lock
 * @huge:	created with SHMDEV_CREATE_HUGE; constant
 * @locked_mm:	for a SHMDEV_CREATE_LOCKED segment, the creator's mm, whose
 *		locked_vm is charged the segment's size in pages; constant
 * @bells:	rings of each doorbell since creation, modulo 2^64; atomic
 * @bell_wq:	pollers of the files bound to the segment
 * @name:	NUL-terminated name, empty if anonymous; constant
 *
 * A segment lives while the name table or a segment file refers to it.
 * Each bound /dev/shmdev file owns one segment file, and every VMA mapping
 * the segment holds that file too, so mappings outlive both the device
 * file and the name.
 */
struct shmdev_seg {
	struct hlist_node	node;
	struct list_head	scope_node;
	struct shmdev_scope	*scope;
	u32			name_hash;
	bool			linked;
	refcount_t		refs;
	struct list_head	all_node;
	struct file		*shmem_file;
	struct inode		*inode;
	const struct vm_operations_struct *shmem_vm_ops;
	/* Taken under the mmap lock and the inode lock. */
	struct mutex		lock;
	u32			seals;
	u64			id;
	kuid_t			uid;
	kgid_t			gid;
	kuid_t			cuid;
	struct shmdev_ns_limits	*ns_limits;
	spinlock_t		stat_lock;	/* guards lpid */
	struct pid		*cpid;
	struct pid		*lpid;
	time64_t		crtime;
	time64_t		atime;
	time64_t		dtime;
	time64_t		chtime;
	umode_t			mode;
	atomic_t		nr_files;
	atomic_t		nr_maps;
	atomic_t		nr_writable;
	bool			huge;
	struct mm_struct	*locked_mm;
	atomic64_t		bells[SHMDEV_NR_BELLS];
	wait_queue_head_t	bell_wq;
	char			name[SHMDEV_NAME_MAX];
};

/**
 * struct shmdev_file_bells - a bound file's view of its segment's doorbells
 * @seen:	per doorbell, the count this file last acknowledged or was
 *		bound at; atomic
 * @watch:	the doorbells that make the file readable; READ_ONCE()
 */
struct shmdev_file_bells {
	atomic64_t		seen[SHMDEV_NR_BELLS];
	u32			watch;
};

/* Segments in existence, named or not. */
extern atomic_t shmdev_nr_segments;

/* bell.c */
void shmdev_bells_init(struct shmdev_seg *seg);
void shmdev_bells_bind(struct shmdev_file_bells *fb, struct shmdev_seg *seg);
bool shmdev_bell_valid(const struct shmdev_bell *arg);
bool shmdev_ack_valid(const struct shmdev_ack *arg);
void shmdev_bells_ring(struct shmdev_seg *seg, const struct shmdev_bell *arg);
unsigned long shmdev_bells_ack(struct shmdev_file_bells *fb,
			       struct shmdev_seg *seg, struct shmdev_ack *arg);
void shmdev_bells_unack(struct shmdev_file_bells *fb, struct shmdev_seg *seg,
			const struct shmdev_ack *arg, unsigned long watch);
__poll_t shmdev_bells_poll(struct file *file, struct shmdev_file_bells *fb,
			   struct file *segfile, poll_table *pt);
void shmdev_bells_wake_hangup(struct shmdev_seg *seg);

/* limits.c: @l NULL means the module's limits only */
void shmdev_ns_limits_init(struct shmdev_ns_limits *l);
int shmdev_reserve_bytes(struct shmdev_ns_limits *l, u64 bytes);
void shmdev_release_bytes(struct shmdev_ns_limits *l, u64 bytes);
int shmdev_check_size(const struct shmdev_ns_limits *l, u64 size);
bool shmdev_segments_full(const struct shmdev_ns_limits *l);
void shmdev_count_segment(struct shmdev_ns_limits *l);
void shmdev_uncount_segment(struct shmdev_ns_limits *l);
void shmdev_fill_limits(const struct shmdev_ns_limits *l,
			struct shmdev_version *ver);
void shmdev_get_limits(const struct shmdev_ns_limits *l,
		       struct shmdev_limits *out);
int shmdev_set_limits(struct shmdev_ns_limits *l,
		      const struct shmdev_limits *arg, bool may_raise);
void shmdev_limits_init(void);

/* names.c: the name table, under shmdev_lock */
extern struct mutex shmdev_lock;
int shmdev_check_name(const char *name, bool may_be_empty);
struct shmdev_scope *shmdev_scope_get(void);
struct shmdev_ns_limits *shmdev_current_limits(void);
struct shmdev_ns_limits *shmdev_scope_limits(struct shmdev_scope *scope);
struct shmdev_seg *shmdev_lookup(const char *name);
void shmdev_link_locked(struct shmdev_scope *scope, struct shmdev_seg *seg);
void shmdev_unlink_locked(struct shmdev_seg *seg);
void shmdev_unlink_all(void);
void shmdev_scopes_free(void);
struct user_namespace *shmdev_seg_user_ns(const struct shmdev_seg *seg);
struct shmdev_seg *shmdev_name_next(struct shmdev_seg *seg);

/* perm.c */
bool shmdev_may_attach(const struct shmdev_seg *seg, bool rdonly);
bool shmdev_may_list(const struct shmdev_seg *seg);
bool shmdev_may_control(const struct shmdev_seg *seg);
bool shmdev_may_lower_limits(void);
bool shmdev_may_raise_limits(void);

/* seg.c */
long shmdev_nr_pages(void);

int shmdev_fs_init(void);
void shmdev_fs_exit(void);

struct shmdev_seg *shmdev_seg_new(struct shmdev_ns_limits *l,
				  const char *name, u64 size, umode_t mode,
				  u32 flags);
void shmdev_seg_put(struct shmdev_seg *seg);
void shmdev_seg_attached(struct shmdev_seg *seg);
void shmdev_seg_detached(struct shmdev_seg *seg);
void shmdev_seg_changed(struct shmdev_seg *seg);
pid_t shmdev_seg_lpid_vnr(struct shmdev_seg *seg);
struct file *shmdev_seg_open(struct shmdev_seg *seg, bool rdonly, bool premap);
bool shmdev_file_premaps(const struct file *segfile);
int shmdev_seg_mmap(struct file *segfile, struct vm_area_struct *vma);
unsigned long shmdev_seg_get_unmapped_area(struct file *segfile,
					   struct file *file,
					   unsigned long addr,
					   unsigned long len,
					   unsigned long pgoff,
					   unsigned long flags);
unsigned long shmdev_seg_nr_huge(struct shmdev_seg *seg);
int shmdev_seg_resize(struct shmdev_seg *seg, u64 size);
int shmdev_seg_add_seals(struct shmdev_seg *seg, u32 seals);

static inline struct shmdev_seg *shmdev_file_seg(struct file *segfile)
{
	return segfile->private_data;
}

/*
 * Order of the folios a fault tries first: PMD-sized for a huge segment on
 * a kernel that can map them, else 0.
 */
static inline unsigned int shmdev_seg_huge_order(const struct shmdev_seg *seg)
{
	return seg->huge ? shmdev_huge_order() : 0;
}

/*
 * Size granule of a huge segment: the size of the PMD-mapped folios it is
 * built from where the kernel has them (2 MiB on x86-64 and on arm64 with
 * 4 KiB pages, 32 MiB with 16 KiB pages), else the uapi's default.
 */
static inline u64 shmdev_huge_granule(void)
{
	return shmdev_huge_order() ? PAGE_SIZE << shmdev_huge_order() :
				     SHMDEV_HUGE_ALIGN;
}

/* The segment's size in bytes is its inode's i_size. */
static inline u64 shmdev_seg_size(const struct shmdev_seg *seg)
{
	return i_size_read(seg->inode);
}

#endif /* _SHMDEV_INTERNAL_H */
