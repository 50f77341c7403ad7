/* SPDX-License-Identifier: GPL-2.0 */
/*
 * shmdev internals shared by the device (dev.c) and the segment and page
 * model (seg.c).
 */
#ifndef _SHMDEV_INTERNAL_H
#define _SHMDEV_INTERNAL_H

#include <linux/atomic.h>
#include <linux/fs.h>
#include <linux/list.h>
#include <linux/refcount.h>
#include <linux/types.h>
#include <linux/uidgid.h>

#include <linux/shmdev.h>

/**
 * struct shmdev_seg - one shared-memory segment
 * @node:	entry in the name table; shmdev_lock
 * @linked:	the name table holds a reference; shmdev_lock
 * @refs:	the name table's reference and one per segment file
 * @inode:	inode on the shmdev pseudo filesystem whose page cache holds
 *		the segment's pages; constant
 * @id:		identifier, unique while the module is loaded; constant
 * @uid:	owner; constant
 * @gid:	owner group; constant
 * @mode:	permission bits; constant
 * @nr_files:	/dev/shmdev files bound to the segment; atomic
 * @nr_maps:	VMAs mapping the segment; atomic
 * @name:	NUL-terminated name, empty if anonymous; constant
 *
 * A segment lives while the name table or a segment file refers to it.
 * Each bound /dev/shmdev file owns one segment file, and every VMA mapping
 * the segment holds that file too, so mappings outlive both the device
 * file and the name.
 */
struct shmdev_seg {
	struct hlist_node	node;
	bool			linked;
	refcount_t		refs;
	struct inode		*inode;
	u64			id;
	kuid_t			uid;
	kgid_t			gid;
	umode_t			mode;
	atomic_t		nr_files;
	atomic_t		nr_maps;
	char			name[SHMDEV_NAME_MAX];
};

/* Pages held in the page caches of all segments. */
extern atomic_long_t shmdev_nr_pages;
/* Segments in existence, named or not. */
extern atomic_t shmdev_nr_segments;

int shmdev_fs_init(void);
void shmdev_fs_exit(void);

struct shmdev_seg *shmdev_seg_new(const char *name, u64 size, umode_t mode);
void shmdev_seg_put(struct shmdev_seg *seg);
struct file *shmdev_seg_open(struct shmdev_seg *seg, bool rdonly);
int shmdev_seg_mmap(struct file *segfile, struct vm_area_struct *vma);

static inline struct shmdev_seg *shmdev_file_seg(struct file *segfile)
{
	return segfile->private_data;
}

/* The segment's size in bytes is its inode's i_size. */
static inline u64 shmdev_seg_size(const struct shmdev_seg *seg)
{
	return i_size_read(seg->inode);
}

#endif /* _SHMDEV_INTERNAL_H */
