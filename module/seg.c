// SPDX-License-Identifier: GPL-2.0
/*
 * shmdev segments and their pages.
 *
 * Each segment owns an inode on a small pseudo filesystem private to the
 * module. Its pages are ordinary page-cache pages of that inode: the page
 * cache holds one reference per page and every mapping one more, so shared
 * futexes, GUP, rmap and copy-on-write work as for a file. The pages have no
 * backing store: they are marked dirty when they are added (dirty_folio is a
 * no-op, so nothing ever writes them back) and the mapping is unevictable,
 * which keeps reclaim and drop_caches away from them.
 *
 * A read fault maps all the pages around it that are already in the page
 * cache, as far as the page table reaches (fault-around, see
 * shmdev_map_pages()). A segment created with
 * SHMDEV_CREATE_HUGE takes PMD-sized folios, which the core mm maps with a
 * single PMD where the mapping is aligned (the device's get_unmapped_area
 * sees to that); where one cannot be allocated, that part of the segment
 * takes base pages. A file opened with SHMDEV_*_PREMAP maps all of a new
 * shared mapping from its ->mmap, allocating what is missing.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/delay.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/fs_context.h>
#include <linux/migrate.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/overflow.h>
#include <linux/pagemap.h>
#include <linux/pseudo_fs.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/xarray.h>

#include "compat.h"
#include "internal.h"

#define SHMDEV_FS_MAGIC	0x73686d64	/* "shmd" */

atomic_long_t shmdev_nr_pages = ATOMIC_LONG_INIT(0);
atomic_t shmdev_nr_segments = ATOMIC_INIT(0);
atomic64_t shmdev_total_bytes = ATOMIC64_INIT(0);

static atomic64_t shmdev_next_id = ATOMIC64_INIT(0);
static struct vfsmount *shmdev_mnt;

static void shmdev_free_folio(struct folio *folio)
{
	atomic_long_sub(folio_nr_pages(folio), &shmdev_nr_pages);
}

static const struct address_space_operations shmdev_aops = {
	.dirty_folio	= noop_dirty_folio,
	.free_folio	= shmdev_free_folio,
#ifdef CONFIG_MIGRATION
	.migrate_folio	= migrate_folio,
#endif
};

/* Pages the segment spans, the last one possibly partly. */
static pgoff_t shmdev_seg_pages(const struct shmdev_seg *seg)
{
	return DIV_ROUND_UP(shmdev_seg_size(seg), PAGE_SIZE);
}

/*
 * Allocate a zeroed folio of 2^@order pages and insert it, locked, at
 * @index rounded down to that order.
 */
static struct folio *shmdev_add_folio(struct address_space *mapping,
				      pgoff_t index, unsigned int order)
{
	/*
	 * Fail rather than invoke the OOM killer, globally or in the memory
	 * cgroup: killing tasks frees nothing that a persistent segment
	 * holds, so the fault raises SIGBUS instead (see shmdev_fault()).
	 * A huge folio is worth one attempt at compaction, not more: base
	 * pages will do.
	 */
	gfp_t gfp = mapping_gfp_mask(mapping) | __GFP_NOWARN |
		    (order ? __GFP_NORETRY : __GFP_RETRY_MAYFAIL);
	struct folio *folio;
	int err;

	folio = folio_alloc(gfp | __GFP_ZERO, order);
	if (!folio)
		return ERR_PTR(-ENOMEM);
	__folio_mark_uptodate(folio);

	/* Charges the folio to the memory cgroup of the faulting task. */
	err = filemap_add_folio(mapping, folio,
				round_down(index, 1UL << order), gfp);
	if (err) {
		folio_put(folio);
		return ERR_PTR(err);
	}
	folio_mark_dirty(folio);
	atomic_long_add(folio_nr_pages(folio), &shmdev_nr_pages);
	return folio;
}

/*
 * Finds the folio at @index locked, or allocates it: a huge one first for
 * a huge segment, then a base page. The caller holds the invalidate lock,
 * which shmdev_seg_resize() holds exclusively while it changes the size,
 * so no folio appears beyond the end of a segment that is being shrunk.
 * Returns NULL beyond the end.
 */
static struct folio *__shmdev_get_folio(struct shmdev_seg *seg, pgoff_t index)
{
	struct address_space *mapping = seg->inode->i_mapping;
	unsigned int order = shmdev_seg_huge_order(seg);
	struct folio *folio;

	for (;;) {
		if (index >= shmdev_seg_pages(seg))
			return NULL;
		folio = shmdev_lock_folio(mapping, index);
		if (folio)
			return folio;
		folio = shmdev_add_folio(mapping, index, order);
		if (!IS_ERR(folio))
			return folio;
		/*
		 * No huge folio to be had, or base pages already hold part
		 * of its range: fall back to a base page.
		 */
		if (order) {
			order = 0;
			continue;
		}
		/* -EEXIST: another fault inserted it first; look again. */
		if (PTR_ERR(folio) != -EEXIST)
			return folio;
	}
}

static struct folio *shmdev_get_folio(struct shmdev_seg *seg, pgoff_t index)
{
	struct address_space *mapping = seg->inode->i_mapping;
	struct folio *folio;

	folio = shmdev_lock_folio(mapping, index);
	if (folio)
		return folio;

	filemap_invalidate_lock_shared(mapping);
	folio = __shmdev_get_folio(seg, index);
	filemap_invalidate_unlock_shared(mapping);
	return folio;
}

static vm_fault_t shmdev_fault(struct vm_fault *vmf)
{
	struct shmdev_seg *seg = shmdev_file_seg(vmf->vma->vm_file);
	pgoff_t index = vmf->pgoff;
	struct folio *folio;

	if (index >= shmdev_seg_pages(seg))
		return VM_FAULT_SIGBUS;

	folio = shmdev_get_folio(seg, index);
	/* Out of memory, or over the memory cgroup's limit: see above. */
	if (IS_ERR(folio))
		return VM_FAULT_SIGBUS;
	/*
	 * A shrink may have set the new size after the check above; the
	 * folio lock orders this check against its truncation.
	 */
	if (folio && index >= shmdev_seg_pages(seg)) {
		folio_unlock(folio);
		folio_put(folio);
		folio = NULL;
	}
	if (!folio)
		return VM_FAULT_SIGBUS;

	/* A PMD-sized folio is mapped by finish_fault() with one PMD. */
	vmf->page = folio_file_page(folio, index);
	return VM_FAULT_LOCKED;
}

/*
 * Fault-around. The core mm asks for the fault_around_bytes (64 KiB) around
 * a read fault, a window sized for files whose neighbouring pages may need
 * I/O. A segment's pages are all in memory, so map what the page table of
 * the fault spans, within the VMA: a process reading a populated segment
 * takes one fault per 2 MiB instead of one per 64 KiB. filemap_map_pages()
 * maps only uptodate pages below the segment's end, under the page-table
 * lock, as it does for the core mm's window.
 */
static vm_fault_t shmdev_map_pages(struct vm_fault *vmf, pgoff_t start_pgoff,
				   pgoff_t end_pgoff)
{
	struct vm_area_struct *vma = vmf->vma;
	unsigned long table = vmf->address & PMD_MASK;
	unsigned long start = max(table, vma->vm_start);
	unsigned long end = min(table + PMD_SIZE, vma->vm_end);

	start_pgoff = vma->vm_pgoff + ((start - vma->vm_start) >> PAGE_SHIFT);
	end_pgoff = vma->vm_pgoff + ((end - vma->vm_start) >> PAGE_SHIFT) - 1;
	return filemap_map_pages(vmf, start_pgoff, end_pgoff);
}

/* Shared mappings that may become writable, counted for SEAL_WRITE. */
static bool shmdev_vma_maywrite(const struct vm_area_struct *vma)
{
	return (vma->vm_flags & (VM_SHARED | VM_MAYWRITE)) ==
	       (VM_SHARED | VM_MAYWRITE);
}

/* A VMA copied by fork() or split off an existing one. */
static void shmdev_vm_open(struct vm_area_struct *vma)
{
	struct shmdev_seg *seg = shmdev_file_seg(vma->vm_file);

	atomic_inc(&seg->nr_maps);
	/* The VMA it copies is counted too, so this never raises 0. */
	if (shmdev_vma_maywrite(vma))
		atomic_inc(&seg->nr_writable);
}

static void shmdev_vm_close(struct vm_area_struct *vma)
{
	struct shmdev_seg *seg = shmdev_file_seg(vma->vm_file);

	if (shmdev_vma_maywrite(vma))
		atomic_dec(&seg->nr_writable);
	atomic_dec(&seg->nr_maps);
}

static const struct vm_operations_struct shmdev_vm_ops = {
	.open		= shmdev_vm_open,
	.close		= shmdev_vm_close,
	.fault		= shmdev_fault,
	.map_pages	= shmdev_map_pages,
};

static const struct file_operations shmdev_seg_premap_fops;

/* Was @segfile opened with SHMDEV_{CREATE,ATTACH}_PREMAP? */
bool shmdev_file_premaps(const struct file *segfile)
{
	return segfile->f_op == &shmdev_seg_premap_fops;
}

/* Pages handed to vm_insert_pages() at a time. */
#define SHMDEV_PREMAP_BATCH	64

/*
 * Maps @nr pages of the segment, from @index on, at their place in @vma,
 * and drops the references the caller took on them.
 */
static int shmdev_premap_flush(struct vm_area_struct *vma, pgoff_t index,
			       struct page **pages, unsigned long nr)
{
	unsigned long addr = vma->vm_start +
			     ((index - vma->vm_pgoff) << PAGE_SHIFT);
	unsigned long left = nr, i;
	int err;

	err = vm_insert_pages(vma, addr, pages, &left);
	/* The page tables hold references of their own. */
	for (i = 0; i < nr; i++)
		put_page(pages[i]);
	return err;
}

/*
 * Maps every page of a new shared @vma, allocating the pages the segment
 * lacks, so that accesses through it do not fault. Runs from ->mmap, under
 * the mmap lock, before anything else can see the VMA. It is only an
 * optimisation: it stops at the first error and leaves the rest to faults.
 *
 * The invalidate lock keeps resizing away, so no page is truncated between
 * being found here and being mapped; truncation unmaps it later like any
 * other.
 *
 * A huge segment's pages are only allocated here: the fault path maps each
 * huge folio with one PMD, which a VM_MIXEDMAP VMA must not have (the core
 * mm takes such PMDs for special mappings without page references).
 */
static void shmdev_seg_premap(struct shmdev_seg *seg,
			      struct vm_area_struct *vma)
{
	struct address_space *mapping = seg->inode->i_mapping;
	struct page *pages[SHMDEV_PREMAP_BATCH];
	pgoff_t index = vma->vm_pgoff, end;
	unsigned long nr = 0;
	struct folio *folio;
	int err = 0;

	/*
	 * vm_insert_pages() would set this itself, taking the VMA's lock
	 * for writing; take it here, outside the invalidate lock, which
	 * faults take inside the VMA's lock.
	 */
	if (!seg->huge)
		shmdev_vm_flags_set(vma, VM_MIXEDMAP);
	filemap_invalidate_lock_shared(mapping);
	end = min_t(pgoff_t, vma->vm_pgoff + vma_pages(vma),
		    shmdev_seg_pages(seg));
	while (!err && index < end) {
		folio = shmdev_find_folio(mapping, index);
		if (!folio) {
			folio = __shmdev_get_folio(seg, index);
			if (IS_ERR_OR_NULL(folio))
				break;
			folio_unlock(folio);
		}
		if (seg->huge) {
			index = folio_next_index(folio);
			folio_put(folio);
		} else {
			/* Base pages only: a batch is consecutive pages. */
			pages[nr++] = folio_page(folio, 0);
			index++;
			if (nr < SHMDEV_PREMAP_BATCH && index < end)
				continue;
			err = shmdev_premap_flush(vma, index - nr, pages, nr);
			nr = 0;
		}
		cond_resched();
	}
	/* What an allocation failure left unmapped. */
	if (nr)
		shmdev_premap_flush(vma, index - nr, pages, nr);
	filemap_invalidate_unlock_shared(mapping);
}

/**
 * shmdev_seg_mmap - map a segment through one of its files
 * @segfile:	segment file, opened read-only for a read-only attach
 * @vma:	the new VMA, created on a /dev/shmdev file
 *
 * Points the VMA at the segment file, so the mapping keeps the segment
 * alive by itself and the core mm sees an ordinary shared file mapping.
 *
 * Return: 0, -EINVAL if the range lies outside the segment, -EACCES for a
 * writable shared mapping of a read-only file, -EPERM for one of a segment
 * sealed against writing.
 */
int shmdev_seg_mmap(struct file *segfile, struct vm_area_struct *vma)
{
	struct shmdev_seg *seg = shmdev_file_seg(segfile);
	bool shared = vma->vm_flags & VM_SHARED;
	pgoff_t end;
	int err = 0;

	if (check_add_overflow(vma->vm_pgoff, vma_pages(vma), &end) ||
	    end > shmdev_seg_pages(seg))
		return -EINVAL;

	if (shared && !(segfile->f_mode & FMODE_WRITE)) {
		if (vma->vm_flags & VM_WRITE)
			return -EACCES;
		/* mprotect(PROT_WRITE) must not upgrade it later. */
		shmdev_vm_flags_clear(vma, VM_MAYWRITE);
	}

	if (shared) {
		/* Orders the count against shmdev_seg_add_seals(). */
		mutex_lock(&seg->lock);
		if (seg->seals & (SHMDEV_SEAL_WRITE | SHMDEV_SEAL_FUTURE_WRITE)) {
			if (vma->vm_flags & VM_WRITE)
				err = -EPERM;
			else
				shmdev_vm_flags_clear(vma, VM_MAYWRITE);
		}
		if (!err && shmdev_vma_maywrite(vma))
			atomic_inc(&seg->nr_writable);
		mutex_unlock(&seg->lock);
		if (err)
			return err;
	}

	vma_set_file(vma, segfile);
	vma->vm_ops = &shmdev_vm_ops;
	atomic_inc(&seg->nr_maps);
	if (shared && shmdev_file_premaps(segfile))
		shmdev_seg_premap(seg, vma);
	return 0;
}

/**
 * shmdev_seg_resize - change the size of a segment
 * @seg:	the segment
 * @size:	new size in bytes, checked against max_segment_size
 *
 * Shrinking unmaps the pages beyond the new end from every mapping and
 * frees them; growing zeroes what lay beyond the old end in its last page,
 * where a shared mapping may have written, so the new bytes read zero.
 *
 * Return: 0, -EPERM against a SHRINK or GROW seal, -ENOMEM beyond
 * max_total_bytes, -EINVAL for a huge segment and a size that is not a
 * multiple of SHMDEV_HUGE_ALIGN.
 */
int shmdev_seg_resize(struct shmdev_seg *seg, u64 size)
{
	struct inode *inode = seg->inode;
	struct address_space *mapping = inode->i_mapping;
	u64 old;
	int err = 0;

	if (seg->huge && !IS_ALIGNED(size, SHMDEV_HUGE_ALIGN))
		return -EINVAL;

	mutex_lock(&seg->lock);
	old = shmdev_seg_size(seg);
	if (size == old)
		goto out_unlock;
	if (seg->seals & (size < old ? SHMDEV_SEAL_SHRINK : SHMDEV_SEAL_GROW)) {
		err = -EPERM;
		goto out_unlock;
	}
	if (size > old) {
		err = shmdev_reserve_bytes(size - old);
		if (err)
			goto out_unlock;
	}

	filemap_invalidate_lock(mapping);
	if (size < old) {
		i_size_write(inode, size);
		truncate_pagecache(inode, size);
		atomic64_sub(old - size, &shmdev_total_bytes);
	} else {
		if (offset_in_page(old)) {
			struct folio *folio;

			folio = shmdev_lock_folio(mapping, old >> PAGE_SHIFT);
			if (folio) {
				folio_zero_segment(folio,
						   offset_in_folio(folio, old),
						   folio_size(folio));
				folio_unlock(folio);
				folio_put(folio);
			}
		}
		i_size_write(inode, size);
	}
	filemap_invalidate_unlock(mapping);

out_unlock:
	mutex_unlock(&seg->lock);
	return err;
}

/*
 * Calls @fn on each folio of @seg's page cache, under RCU and without a
 * reference, until it returns true; returns whether one did.
 */
static bool shmdev_seg_any_folio(struct shmdev_seg *seg,
				 bool (*fn)(struct folio *folio, void *arg),
				 void *arg)
{
	XA_STATE(xas, &seg->inode->i_mapping->i_pages, 0);
	struct folio *folio;
	bool found = false;

	rcu_read_lock();
	xas_for_each(&xas, folio, ULONG_MAX) {
		if (xas_retry(&xas, folio) || xa_is_value(folio))
			continue;
		if (fn(folio, arg)) {
			found = true;
			break;
		}
		if (need_resched()) {
			xas_pause(&xas);
			rcu_read_unlock();
			cond_resched();
			rcu_read_lock();
		}
	}
	rcu_read_unlock();
	return found;
}

static bool shmdev_folio_pinned(struct folio *folio, void *arg)
{
	return folio_maybe_dma_pinned(folio);
}

/*
 * Is a page of @seg pinned for DMA (FOLL_PIN: O_DIRECT, io_uring fixed
 * buffers, RDMA)? Such a pin may still write after the last writable
 * mapping is gone.
 */
static bool shmdev_seg_pinned(struct shmdev_seg *seg)
{
	return shmdev_seg_any_folio(seg, shmdev_folio_pinned, NULL);
}

/**
 * shmdev_seg_add_seals - add seals to a segment
 * @seg:	the segment
 * @seals:	validated SHMDEV_SEAL_* bits
 *
 * Return: 0, -EPERM once SHMDEV_SEAL_SEAL is set, -EBUSY for
 * SHMDEV_SEAL_WRITE while a writable shared mapping exists or a page is
 * pinned for DMA.
 */
int shmdev_seg_add_seals(struct shmdev_seg *seg, u32 seals)
{
	int err = 0;

	mutex_lock(&seg->lock);
	if (seg->seals & SHMDEV_SEAL_SEAL)
		err = -EPERM;
	else if ((seals & SHMDEV_SEAL_WRITE) &&
		 (atomic_read(&seg->nr_writable) || shmdev_seg_pinned(seg)))
		err = -EBUSY;
	else
		WRITE_ONCE(seg->seals, seg->seals | seals);
	mutex_unlock(&seg->lock);
	return err;
}

static int shmdev_seg_release(struct inode *inode, struct file *segfile)
{
	shmdev_seg_put(shmdev_file_seg(segfile));
	return 0;
}

/*
 * Segment files are never handed to user space, only to VMAs. msync()
 * reaches ->fsync, and there is nothing to write back; remap_file_pages()
 * maps the VMA's file again through ->mmap, with the same checks. Files
 * that pre-map on mmap() are told apart by their operations, which are
 * otherwise the same.
 */
static const struct file_operations shmdev_seg_fops = {
	.owner		= THIS_MODULE,
	.release	= shmdev_seg_release,
	.mmap		= shmdev_seg_mmap,
	.fsync		= noop_fsync,
};

static const struct file_operations shmdev_seg_premap_fops = {
	.owner		= THIS_MODULE,
	.release	= shmdev_seg_release,
	.mmap		= shmdev_seg_mmap,
	.fsync		= noop_fsync,
};

/**
 * shmdev_seg_get_unmapped_area - place a new mapping of a segment
 * @segfile:	segment file the mapping is for
 * @file:	file mmap() was called on
 * @addr:	hint or fixed address, as for ->get_unmapped_area
 * @len:	length
 * @pgoff:	offset in pages
 * @flags:	MAP_* flags
 *
 * Mappings of a huge segment are aligned so that its huge pages can be
 * mapped by PMD; others go wherever the process's default policy puts them.
 *
 * Return: the address or a negative errno, as ->get_unmapped_area.
 */
unsigned long shmdev_seg_get_unmapped_area(struct file *segfile,
					   struct file *file,
					   unsigned long addr,
					   unsigned long len,
					   unsigned long pgoff,
					   unsigned long flags)
{
	if (segfile && shmdev_seg_huge_order(shmdev_file_seg(segfile)))
		return shmdev_thp_get_unmapped_area(file, addr, len, pgoff,
						    flags);
	return shmdev_default_get_unmapped_area(file, addr, len, pgoff, flags);
}

struct shmdev_huge_count {
	unsigned int order;
	unsigned long nr;
};

static bool shmdev_folio_count_huge(struct folio *folio, void *arg)
{
	struct shmdev_huge_count *count = arg;

	if (folio_order(folio) == count->order)
		count->nr++;
	return false;
}

/**
 * shmdev_seg_nr_huge - count the huge folios of a segment
 * @seg:	the segment
 *
 * Return: how many folios of the huge order the page cache holds.
 */
unsigned long shmdev_seg_nr_huge(struct shmdev_seg *seg)
{
	struct shmdev_huge_count count = {
		.order = shmdev_seg_huge_order(seg),
	};

	if (!count.order)
		return 0;
	shmdev_seg_any_folio(seg, shmdev_folio_count_huge, &count);
	return count.nr;
}

/**
 * shmdev_seg_open - open a new file on a segment
 * @seg:	the segment; the file takes a reference of its own
 * @rdonly:	open the file read-only
 * @premap:	make every shared mmap() of the file map all its pages
 *
 * The file pins the module until it is released.
 *
 * Return: the file or an ERR_PTR().
 */
struct file *shmdev_seg_open(struct shmdev_seg *seg, bool rdonly, bool premap)
{
	/* /proc/PID/maps shows "/shmdev:NAME (deleted)", as memfd does. */
	char dname[sizeof("shmdev:") + SHMDEV_NAME_MAX];
	struct file *segfile;

	if (seg->name[0])
		snprintf(dname, sizeof(dname), "shmdev:%s", seg->name);
	else
		strscpy(dname, "shmdev", sizeof(dname));

	/* Dropped by __fput() through fops_put(). */
	__module_get(THIS_MODULE);
	/* The file's dentry takes over this inode reference. */
	ihold(seg->inode);
	segfile = alloc_file_pseudo(seg->inode, shmdev_mnt, dname,
				    rdonly ? O_RDONLY : O_RDWR,
				    premap ? &shmdev_seg_premap_fops :
					     &shmdev_seg_fops);
	if (IS_ERR(segfile)) {
		iput(seg->inode);
		module_put(THIS_MODULE);
		return segfile;
	}
	refcount_inc(&seg->refs);
	segfile->private_data = seg;
	return segfile;
}

/**
 * shmdev_seg_new - create a segment
 * @name:	validated name, empty for an anonymous segment
 * @size:	validated size in bytes
 * @mode:	validated permission bits
 * @huge:	build it from huge folios where possible; @size is a multiple
 *		of SHMDEV_HUGE_ALIGN
 *
 * Return: the segment with one reference held by the caller, or an
 * ERR_PTR(): -ENOMEM also when @size does not fit in max_total_bytes.
 */
struct shmdev_seg *shmdev_seg_new(const char *name, u64 size, umode_t mode,
				  bool huge)
{
	struct shmdev_seg *seg;
	struct inode *inode;
	int err;

	err = shmdev_reserve_bytes(size);
	if (err)
		return ERR_PTR(err);
	seg = kzalloc(sizeof(*seg), GFP_KERNEL_ACCOUNT);
	if (!seg) {
		err = -ENOMEM;
		goto err_unreserve;
	}

	inode = alloc_anon_inode(shmdev_mnt->mnt_sb);
	if (IS_ERR(inode)) {
		err = PTR_ERR(inode);
		goto err_free_seg;
	}
	inode->i_mode |= S_IFREG;
	/*
	 * The inode is reachable by path through /proc/PID/map_files; keep
	 * truncate(), chmod() and the like away from it there. Its size and
	 * contents change only through shmdev.
	 */
	inode->i_flags |= S_IMMUTABLE;
	inode->i_mapping->a_ops = &shmdev_aops;
	mapping_set_unevictable(inode->i_mapping);
	i_size_write(inode, size);
	if (huge) {
		seg->huge = true;
		if (shmdev_seg_huge_order(seg))
			mapping_set_large_folios(inode->i_mapping);
	}

	refcount_set(&seg->refs, 1);
	mutex_init(&seg->lock);
	INIT_LIST_HEAD(&seg->scope_node);
	seg->inode = inode;
	seg->id = atomic64_inc_return(&shmdev_next_id);
	seg->uid = current_euid();
	seg->gid = current_egid();
	seg->mode = mode;
	strscpy(seg->name, name, sizeof(seg->name));
	atomic_inc(&shmdev_nr_segments);
	return seg;

err_free_seg:
	kfree(seg);
err_unreserve:
	atomic64_sub(size, &shmdev_total_bytes);
	return ERR_PTR(err);
}

static void shmdev_seg_free(struct shmdev_seg *seg)
{
	struct address_space *mapping = seg->inode->i_mapping;

	/*
	 * Nothing maps the segment any more. Free its pages now, while the
	 * caller still pins the module: the inode itself may be evicted
	 * only after __fput() has dropped that pin, and from then on it must
	 * not call back into the module.
	 */
	truncate_inode_pages(mapping, 0);
	mapping->a_ops = &empty_aops;
	atomic64_sub(shmdev_seg_size(seg), &shmdev_total_bytes);
	iput(seg->inode);
	atomic_dec(&shmdev_nr_segments);
	mutex_destroy(&seg->lock);
	kfree(seg);
}

void shmdev_seg_put(struct shmdev_seg *seg)
{
	if (refcount_dec_and_test(&seg->refs))
		shmdev_seg_free(seg);
}

static int shmdev_init_fs_context(struct fs_context *fc)
{
	return init_pseudo(fc, SHMDEV_FS_MAGIC) ? 0 : -ENOMEM;
}

/*
 * No .owner: the superblock must not pin the module, or segments that
 * nobody has open would keep it loaded forever. Open files pin it instead,
 * and shmdev_fs_exit() makes sure the superblock dies before the module.
 */
static struct file_system_type shmdev_fs_type = {
	.name			= "shmdev",
	.init_fs_context	= shmdev_init_fs_context,
	.kill_sb		= kill_anon_super,
};

int __init shmdev_fs_init(void)
{
	shmdev_mnt = kern_mount(&shmdev_fs_type);
	return PTR_ERR_OR_ZERO(shmdev_mnt);
}

void shmdev_fs_exit(void)
{
	long pages;

	/*
	 * __fput() drops the module reference of a segment file before its
	 * reference to the mount, and a path looked up through
	 * /proc/PID/map_files holds the mount without the module. Wait for
	 * both to let go, so that kern_unmount() drops the last reference
	 * and the superblock, which points at shmdev_fs_type, dies here and
	 * not after the module is gone. The module reference is already 0,
	 * so no new segment file can appear.
	 */
	mntget(shmdev_mnt);
	while (!may_umount_tree(shmdev_mnt))
		msleep(20);
	mntput(shmdev_mnt);
	kern_unmount(shmdev_mnt);

	pages = atomic_long_read(&shmdev_nr_pages);
	if (pages)
		pr_err("%ld pages leaked at unload\n", pages);
}
