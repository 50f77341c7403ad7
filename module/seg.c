// SPDX-License-Identifier: GPL-2.0
/*
 * shmdev segments and their pages.
 *
 * A segment's pages are the pages of a shmem file, as a SysV segment's are:
 * they swap, follow NUMA policy, are charged to the memory cgroup of the
 * task that faults them in, and can be pinned wherever memfd's can. The
 * files live on tmpfs instances private to the module (as i915's gemfs):
 * one for segments of base pages (huge=never), one for SHMDEV_CREATE_HUGE
 * segments (huge=within_size), whose pages the core mm maps by PMD where a
 * mapping is aligned (shmdev_seg_get_unmapped_area() sees to that).
 *
 * The shmem file never reaches user space. Each /dev/shmdev file bound to
 * a segment owns a segment file: a file of its own on the shmem inode,
 * with shmdev's operations, which the segment's VMAs map (as ipc/shm.c's
 * shm file wraps its shmem file). Its vm_ops forward faults, fault-around
 * and NUMA policy to shmem's, and add what shmdev needs: mappings counted
 * for SEAL_WRITE, SIGBUS rather than the OOM killer, fault-around over a
 * whole page table. The inode is reachable by path only through
 * /proc/PID/map_files, where it can neither be opened nor changed nor
 * executed (see shmdev_seg_new()).
 *
 * A file opened with SHMDEV_*_PREMAP maps all of every new shared mapping
 * before mmap() returns to user space, from task work that runs after the
 * mmap lock is dropped (shmdev_premap_queue()).
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/delay.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/overflow.h>
#include <linux/pagemap.h>
#include <linux/pid.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/task_work.h>
#include <linux/timekeeping.h>
#include <linux/xarray.h>

#include "compat.h"
#include "internal.h"

atomic_t shmdev_nr_segments = ATOMIC_INIT(0);

static atomic64_t shmdev_next_id = ATOMIC64_INIT(0);

/* The private tmpfs instances: base pages, and huge (NULL without THP). */
static struct vfsmount *shmdev_mnt;
static struct vfsmount *shmdev_huge_mnt;

/* Every segment in existence, for the nr_pages parameter. */
static LIST_HEAD(shmdev_all_segs);
static DEFINE_SPINLOCK(shmdev_all_segs_lock);

/* Pages @size bytes span, the last one possibly partly. */
static long shmdev_seg_pages_of(u64 size)
{
	return DIV_ROUND_UP(size, PAGE_SIZE);
}

/* Pages the segment spans. */
static pgoff_t shmdev_seg_pages(const struct shmdev_seg *seg)
{
	return shmdev_seg_pages_of(shmdev_seg_size(seg));
}

/*
 * Charges @pages (returns them if negative) to the locked memory of a
 * locked segment's creator: -ENOMEM beyond the caller's RLIMIT_MEMLOCK,
 * unless it has CAP_IPC_LOCK. Takes the creator's mmap lock.
 */
static int shmdev_seg_charge_locked(struct shmdev_seg *seg, long pages)
{
	if (!seg->locked_mm || !pages)
		return 0;
	return account_locked_vm(seg->locked_mm, abs(pages), pages > 0);
}

/**
 * shmdev_nr_pages - pages held by all segments
 *
 * Return: the pages all segments hold, in memory or in swap.
 */
long shmdev_nr_pages(void)
{
	struct shmdev_seg *seg;
	long pages = 0;

	spin_lock(&shmdev_all_segs_lock);
	list_for_each_entry(seg, &shmdev_all_segs, all_node)
		pages += READ_ONCE(SHMEM_I(seg->inode)->alloced);
	spin_unlock(&shmdev_all_segs_lock);
	return pages;
}

/*
 * Calls @fn on each folio of @seg until it returns true, and returns whether
 * one did. Folios are looked at under the xarray lock, which keeps them in
 * the page cache and so alive, never bare under RCU.
 */
static bool shmdev_seg_any_folio(struct shmdev_seg *seg,
				 bool (*fn)(struct folio *folio, void *arg),
				 void *arg)
{
	XA_STATE(xas, &seg->inode->i_mapping->i_pages, 0);
	unsigned int latency = 0;
	struct folio *folio;
	bool found = false;

	xas_lock_irq(&xas);
	xas_for_each(&xas, folio, ULONG_MAX) {
		if (xas_retry(&xas, folio) || xa_is_value(folio))
			continue;
		if (fn(folio, arg)) {
			found = true;
			break;
		}
		if (++latency < XA_CHECK_SCHED)
			continue;
		latency = 0;
		xas_pause(&xas);
		xas_unlock_irq(&xas);
		cond_resched();
		xas_lock_irq(&xas);
	}
	xas_unlock_irq(&xas);
	return found;
}

const struct vm_operations_struct *
shmdev_shmem_vm_ops(const struct vm_area_struct *vma)
{
	return READ_ONCE(shmdev_file_seg(vma->vm_file)->shmem_vm_ops);
}

static vm_fault_t shmdev_fault(struct vm_fault *vmf)
{
	vm_fault_t ret = shmdev_shmem_vm_ops(vmf->vma)->fault(vmf);

	/*
	 * Neither RAM nor swap could take the page, or its memory cgroup is
	 * at its limit. The allocation did not wake the OOM killer (see
	 * SHMDEV_GFP): killing tasks frees nothing that a persistent segment
	 * holds. Raise SIGBUS, as beyond the end, rather than retrying the
	 * fault for ever.
	 */
	if (ret & VM_FAULT_OOM)
		ret = (ret & ~VM_FAULT_OOM) | VM_FAULT_SIGBUS;
	return ret;
}

/*
 * Fault-around. The core mm asks for the fault_around_bytes (64 KiB) around
 * a read fault, a window sized for files whose neighbouring pages may need
 * I/O. Map what the page table of the fault spans instead, within the VMA:
 * a process reading a populated segment takes one fault per page table
 * instead of one per 64 KiB. shmem's map_pages (filemap_map_pages()) maps
 * only pages already in memory and uptodate, below the segment's end, under
 * the page-table lock, as it does for the core mm's window.
 */
static vm_fault_t shmdev_map_pages(struct vm_fault *vmf, pgoff_t start_pgoff,
				   pgoff_t end_pgoff)
{
	struct vm_area_struct *vma = vmf->vma;
	unsigned long table = vmf->address & PMD_MASK;
	unsigned long start = max(table, vma->vm_start);
	unsigned long end = min(table + PMD_SIZE, vma->vm_end);
	const struct vm_operations_struct *ops = shmdev_shmem_vm_ops(vma);

	/*
	 * Not while part of the segment is in swap: each swapped-out page
	 * takes a fault of its own anyway, and looking through a page
	 * table's worth of entries at every one of them made reading back a
	 * swapped-out segment 4.5 times slower than memfd's core window.
	 */
	if (READ_ONCE(SHMEM_I(file_inode(vma->vm_file))->swapped))
		return ops->map_pages(vmf, start_pgoff, end_pgoff);

	start_pgoff = vma->vm_pgoff + ((start - vma->vm_start) >> PAGE_SHIFT);
	end_pgoff = vma->vm_pgoff + ((end - vma->vm_start) >> PAGE_SHIFT) - 1;
	return ops->map_pages(vmf, start_pgoff, end_pgoff);
}

#ifdef CONFIG_NUMA
/*
 * mbind() on any mapping sets the policy of that range of the shmem file,
 * which every process mapping the segment then allocates by.
 */
static int shmdev_set_policy(struct vm_area_struct *vma, struct mempolicy *mpol)
{
	return shmdev_shmem_vm_ops(vma)->set_policy(vma, mpol);
}
#endif

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
#ifdef CONFIG_NUMA
	.set_policy	= shmdev_set_policy,
	.get_policy	= shmdev_get_policy,
#endif
};

static const struct file_operations shmdev_seg_premap_fops;

/* Was @segfile opened with SHMDEV_{CREATE,ATTACH}_PREMAP? */
bool shmdev_file_premaps(const struct file *segfile)
{
	return segfile->f_op == &shmdev_seg_premap_fops;
}

/**
 * struct shmdev_premap - a new mapping to pre-map
 * @work:	task work of the task that called mmap()
 * @segfile:	the mapping's segment file, referenced
 * @start:	the mapping's first address
 * @end:	the end of the mapping
 * @pgoff:	offset of @start in the segment, in pages
 */
struct shmdev_premap {
	struct callback_head	work;
	struct file		*segfile;
	unsigned long		start;
	unsigned long		end;
	pgoff_t			pgoff;
};

/*
 * Allocates the pages of [@index, @end) that @seg lacks. A fatal signal or
 * an allocation failure ends it: it is only an optimisation.
 */
static void shmdev_premap_alloc(struct shmdev_seg *seg, pgoff_t index,
				pgoff_t end)
{
	struct address_space *mapping = seg->inode->i_mapping;
	struct page *page;

	while (index < end && !fatal_signal_pending(current)) {
		page = shmem_read_mapping_page_gfp(mapping, index,
						   mapping_gfp_mask(mapping));
		if (IS_ERR(page))
			return;
		index = folio_next_index(page_folio(page));
		put_page(page);
		cond_resched();
	}
}

/*
 * Maps [pm->start, pm->end) with one read fault per page table: with every
 * page in memory, fault-around (shmdev_map_pages()) maps the whole table,
 * writable where the mapping is. The mmap lock is taken for reading, one
 * page table at a time, and a fatal signal ends it.
 */
static void shmdev_premap_map(struct shmdev_premap *pm, struct mm_struct *mm)
{
	struct vm_area_struct *vma;
	unsigned long addr, next;
	int err;

	for (addr = pm->start; addr < pm->end; addr = next) {
		next = min(pm->end, (addr & PMD_MASK) + PMD_SIZE);
		if (fatal_signal_pending(current) || mmap_read_lock_killable(mm))
			return;
		/* Unless the mapping went away or changed meanwhile. */
		vma = vma_lookup(mm, addr);
		if (vma && vma->vm_file == pm->segfile &&
		    vma->vm_pgoff + ((addr - vma->vm_start) >> PAGE_SHIFT) ==
		    pm->pgoff + ((addr - pm->start) >> PAGE_SHIFT))
			err = fixup_user_fault(mm, addr, 0, NULL);
		else
			err = -EFAULT;
		mmap_read_unlock(mm);
		if (err)
			return;
		cond_resched();
	}
}

static void shmdev_premap_run(struct callback_head *work)
{
	struct shmdev_premap *pm = container_of(work, struct shmdev_premap,
						work);
	struct shmdev_seg *seg = shmdev_file_seg(pm->segfile);

	/* Not when the task is exiting: its mm is gone. */
	if (current->mm) {
		shmdev_premap_alloc(seg, pm->pgoff,
				    pm->pgoff + ((pm->end - pm->start) >>
						 PAGE_SHIFT));
		shmdev_premap_map(pm, current->mm);
	}
	/* The file pins the module; its last reference is put later. */
	fput(pm->segfile);
	kfree(pm);
}

/*
 * Pre-maps the new shared @vma of @segfile before mmap() returns, from task
 * work: ->mmap runs under the mmap lock held for writing, where allocating
 * a whole mapping would stall every other thread's faults and could not be
 * killed. Without memory for the work, faults do it.
 */
static void shmdev_premap_queue(struct file *segfile,
				struct vm_area_struct *vma)
{
	struct shmdev_premap *pm;

	if (current->flags & PF_KTHREAD)
		return;
	pm = kmalloc(sizeof(*pm), GFP_KERNEL);
	if (!pm)
		return;
	pm->segfile = get_file(segfile);
	pm->start = vma->vm_start;
	pm->end = vma->vm_end;
	pm->pgoff = vma->vm_pgoff;
	init_task_work(&pm->work, shmdev_premap_run);
	if (task_work_add(current, &pm->work, TWA_RESUME)) {
		fput(segfile);
		kfree(pm);
	}
}

/**
 * shmdev_seg_mmap - map a segment through one of its files
 * @segfile:	segment file, opened read-only for a read-only attach
 * @vma:	the new VMA, created on a /dev/shmdev file
 *
 * Points the VMA at the segment file, so the mapping keeps the segment
 * alive by itself and the core mm sees an ordinary shared file mapping of
 * the shmem inode.
 *
 * Return: 0, -EINVAL if the range lies outside the segment, -EACCES for a
 * writable shared mapping of a read-only file, -EPERM for one of a segment
 * sealed against writing, or shmem's error.
 */
int shmdev_seg_mmap(struct file *segfile, struct vm_area_struct *vma)
{
	struct shmdev_seg *seg = shmdev_file_seg(segfile);
	bool shared = vma->vm_flags & VM_SHARED;
	bool counted = false;
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
		if (!err && shmdev_vma_maywrite(vma)) {
			atomic_inc(&seg->nr_writable);
			counted = true;
		}
		mutex_unlock(&seg->lock);
		if (err)
			return err;
	}

	vma_set_file(vma, segfile);
	/* shmem sets its vm_ops, which shmdev's wrap. */
	err = shmdev_call_mmap(seg->shmem_file, vma);
	if (err) {
		if (counted)
			atomic_dec(&seg->nr_writable);
		return err;
	}
	WRITE_ONCE(seg->shmem_vm_ops, vma->vm_ops);
	vma->vm_ops = &shmdev_vm_ops;
	atomic_inc(&seg->nr_maps);
	if (shared && shmdev_file_premaps(segfile))
		shmdev_premap_queue(segfile, vma);
	return 0;
}

/*
 * Zeroes what lies beyond @size in the last page of @seg, which a shared
 * mapping may have written to, and sets the new, larger size. The page is
 * unmapped from every mapping while it is locked, so that no store through
 * one lands after the zeroing: a fault must lock it to map it again, and
 * finds the new size.
 */
static int shmdev_seg_grow(struct shmdev_seg *seg, u64 old, u64 size)
{
	struct inode *inode = seg->inode;
	struct address_space *mapping = inode->i_mapping;
	pgoff_t index = old >> PAGE_SHIFT;
	struct folio *folio = NULL;
	struct page *page;
	loff_t from;

	if (offset_in_page(old)) {
		folio = shmdev_lock_folio(mapping, index);
		/* Swapped out: bring it back to zero it. */
		if (!folio && xa_is_value(xa_load(&mapping->i_pages, index))) {
			page = shmem_read_mapping_page(mapping, index);
			if (IS_ERR(page))
				return PTR_ERR(page);
			folio = page_folio(page);
			folio_lock(folio);
		}
	}
	if (folio) {
		from = round_down(old, PAGE_SIZE);
		unmap_mapping_range(mapping, from,
				    folio_pos(folio) + folio_size(folio) - from,
				    0);
		folio_zero_segment(folio, offset_in_folio(folio, old),
				   folio_size(folio));
		folio_mark_dirty(folio);
	}
	i_size_write(inode, size);
	if (folio) {
		folio_unlock(folio);
		folio_put(folio);
	}
	return 0;
}

/* Sets the new, smaller size and frees what lies beyond it. */
static void shmdev_seg_shrink(struct shmdev_seg *seg, u64 size)
{
	struct inode *inode = seg->inode;
	loff_t holebegin = round_up(size, PAGE_SIZE);

	i_size_write(inode, size);
	/*
	 * As shmem_setattr(): unmap first, then free (which zeroes the tail
	 * of a partial last page), then unmap again what copy-on-write may
	 * have raced in.
	 */
	unmap_mapping_range(inode->i_mapping, holebegin, 0, 1);
	shmem_truncate_range(inode, size, (loff_t)-1);
	unmap_mapping_range(inode->i_mapping, holebegin, 0, 1);
}

/**
 * shmdev_seg_resize - change the size of a segment
 * @seg:	the segment
 * @size:	new size in bytes, checked against max_segment_size
 *
 * Shrinking unmaps the pages beyond the new end from every mapping and
 * frees them, in memory and in swap; growing zeroes what lay beyond the old
 * end in its last page, so the new bytes read zero.
 *
 * Return: 0, -EPERM against a SHRINK or GROW seal, -EFBIG beyond the
 * namespace's max_segment_size, -ENOMEM beyond max_total_bytes (the
 * module's or the namespace's) or without memory to zero a swapped-out
 * last page, -EINVAL for a huge segment and a size that is not a multiple
 * of the huge page size.
 */
int shmdev_seg_resize(struct shmdev_seg *seg, u64 size)
{
	struct inode *inode = seg->inode;
	long charged = 0;
	u64 old;
	int err = 0;

	if (seg->huge && !IS_ALIGNED(size, shmdev_huge_granule()))
		return -EINVAL;
	/* The limit of the namespace the segment was created in. */
	err = shmdev_check_size(seg->ns_limits, size);
	if (err)
		return err;

	/*
	 * shmem's own truncation runs under the inode lock, which tmpfs
	 * takes outside the mmap lock; the segment lock nests inside both.
	 * Only resizing changes the size, so it is stable under this lock.
	 */
	inode_lock(inode);
	old = shmdev_seg_size(seg);
	/* The growth of a locked segment, charged before the mmap lock's. */
	if (size > old) {
		charged = shmdev_seg_pages_of(size) - shmdev_seg_pages_of(old);
		err = shmdev_seg_charge_locked(seg, charged);
		if (err)
			goto out_inode_unlock;
	}
	mutex_lock(&seg->lock);
	if (size == old)
		goto out_unlock;
	if (seg->seals & (size < old ? SHMDEV_SEAL_SHRINK : SHMDEV_SEAL_GROW)) {
		err = -EPERM;
		goto out_unlock;
	}
	if (size < old) {
		shmdev_seg_shrink(seg, size);
		shmdev_release_bytes(seg->ns_limits, old - size);
		charged = shmdev_seg_pages_of(size) - shmdev_seg_pages_of(old);
		shmdev_seg_changed(seg);
		goto out_unlock;
	}
	err = shmdev_reserve_bytes(seg->ns_limits, size - old);
	if (err)
		goto out_unlock;
	err = shmdev_seg_grow(seg, old, size);
	if (err)
		shmdev_release_bytes(seg->ns_limits, size - old);
	else
		shmdev_seg_changed(seg);

out_unlock:
	mutex_unlock(&seg->lock);
	/* Returns the pages of a shrink, or what a failed growth charged. */
	if (charged < 0)
		shmdev_seg_charge_locked(seg, charged);
	else if (err)
		shmdev_seg_charge_locked(seg, -charged);
out_inode_unlock:
	inode_unlock(inode);
	return err;
}

/*
 * Is @folio pinned (FOLL_PIN: io_uring fixed buffers, RDMA, VFIO, O_DIRECT
 * on kernels whose block layer pins)? A large folio counts its pins apart;
 * each pin of a base page adds GUP_PIN_COUNTING_BIAS references, told apart
 * here from the references of page tables, however many map it, and from
 * the odd transient one (a per-CPU LRU batch, which a module cannot drain,
 * holds one for as long as its CPU is idle).
 */
static bool shmdev_folio_pinned(struct folio *folio, void *arg)
{
	if (folio_test_large(folio))
		return folio_maybe_dma_pinned(folio);
	return shmdev_folio_extra_refs(folio) >= GUP_PIN_COUNTING_BIAS;
}

/* Tries, with these pauses in between: none, then 10 ms up to 80 ms. */
#define SHMDEV_PIN_SCANS	4

/*
 * Is a page of @seg pinned for DMA for longer than an O_DIRECT transfer
 * takes? A pin may still write after the last writable mapping is gone.
 * As mm/memfd.c does for F_SEAL_WRITE, references are weighed against map
 * counts, so that any number of mappings is no pin, and looked at again
 * after short pauses.
 */
static bool shmdev_seg_pinned(struct shmdev_seg *seg)
{
	int scan;

	for (scan = 0; scan <= SHMDEV_PIN_SCANS; scan++) {
		if (scan && schedule_timeout_killable((HZ << scan) / 200))
			scan = SHMDEV_PIN_SCANS;
		if (!shmdev_seg_any_folio(seg, shmdev_folio_pinned, NULL))
			return false;
	}
	return true;
}

/**
 * shmdev_seg_add_seals - add seals to a segment
 * @seg:	the segment
 * @seals:	validated SHMDEV_SEAL_* bits
 *
 * Return: 0, -EPERM once SHMDEV_SEAL_SEAL is set, -EBUSY for
 * SHMDEV_SEAL_WRITE while a writable shared mapping exists or a page is
 * pinned.
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
	if (!err)
		shmdev_seg_changed(seg);
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

static int shmdev_inode_open(struct inode *inode, struct file *file)
{
	return -ENXIO;
}

/*
 * The shmem inode's own file operations: an open by path, possible only
 * through /proc/PID/map_files, is refused. A path may outlive the segment
 * and the module (an O_PATH descriptor): shmdev_seg_free() hands the inode
 * to the kernel's bad-inode operations, so that nothing left of it points
 * into the module. An open that read these operations just before still
 * finds them: such a path keeps the mount busy, and unloading then waits
 * (shmdev_unmount()) long enough for the open to be over. No .owner: an
 * open racing with the unload runs this harmless function instead of
 * failing fops_get() with a warning.
 */
static const struct file_operations shmdev_inode_fops = {
	.open		= shmdev_inode_open,
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

/* "shmdev:NAME", or "shmdev" for an anonymous segment, as memfd names. */
static void shmdev_seg_dname(const char *name, char *buf, size_t size)
{
	if (name[0])
		snprintf(buf, size, "shmdev:%s", name);
	else
		strscpy(buf, "shmdev", size);
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

	shmdev_seg_dname(seg->name, dname, sizeof(dname));
	/* Dropped by __fput() through fops_put(). */
	__module_get(THIS_MODULE);
	/* The file's dentry takes over this inode reference. */
	ihold(seg->inode);
	segfile = alloc_file_pseudo(seg->inode, seg->shmem_file->f_path.mnt,
				    dname, rdonly ? O_RDONLY : O_RDWR,
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

/*
 * Neither the OOM killer nor an allocation warning: a fault that finds no
 * memory raises SIGBUS (shmdev_fault()), and a pre-map stops.
 */
#define SHMDEV_GFP	(__GFP_RETRY_MAYFAIL | __GFP_NOWARN)

/**
 * shmdev_seg_new - create a segment
 * @l:		the limits of the caller's IPC namespace, charged with it
 * @name:	validated name, empty for an anonymous segment
 * @size:	validated size in bytes
 * @mode:	validated permission bits
 * @flags:	validated SHMDEV_CREATE_* bits: HUGE (build it from huge
 *		folios where possible; @size is a multiple of
 *		shmdev_huge_granule()), LOCKED (keep its pages in memory)
 *
 * Return: the segment with one reference held by the caller, or an
 * ERR_PTR(): -ENOMEM also when @size does not fit in max_total_bytes (the
 * module's or the namespace's) or, for a locked segment, in the caller's
 * RLIMIT_MEMLOCK.
 */
struct shmdev_seg *shmdev_seg_new(struct shmdev_ns_limits *l,
				  const char *name, u64 size, umode_t mode,
				  u32 flags)
{
	char dname[sizeof("shmdev:") + SHMDEV_NAME_MAX];
	struct vfsmount *mnt = shmdev_mnt;
	struct address_space *mapping;
	struct shmdev_seg *seg;
	struct inode *inode;
	struct file *file;
	int err;

	err = shmdev_reserve_bytes(l, size);
	if (err)
		return ERR_PTR(err);
	seg = kzalloc(sizeof(*seg), GFP_KERNEL_ACCOUNT);
	if (!seg) {
		err = -ENOMEM;
		goto err_unreserve;
	}

	if (flags & SHMDEV_CREATE_LOCKED) {
		/* Before the file: its release would return the charge. */
		seg->locked_mm = current->mm;
		err = shmdev_seg_charge_locked(seg, shmdev_seg_pages_of(size));
		if (err)
			goto err_free_seg;
		mmgrab(seg->locked_mm);
	}
	if (flags & SHMDEV_CREATE_HUGE) {
		seg->huge = true;
		if (shmdev_huge_mnt)
			mnt = shmdev_huge_mnt;
	}
	shmdev_seg_dname(name, dname, sizeof(dname));
	file = shmdev_shmem_file_setup(mnt, dname, size);
	if (IS_ERR(file)) {
		/*
		 * shmem says ENOSPC when it cannot allocate the inode: the
		 * private mount has no inode limit, so that is out of memory
		 * here (ENOSPC is max_segments to shmdev's callers).
		 */
		err = PTR_ERR(file) == -ENOSPC ? -ENOMEM : PTR_ERR(file);
		goto err_uncharge;
	}
	inode = file_inode(file);
	mapping = inode->i_mapping;
	/*
	 * The inode is reachable by path through /proc/PID/map_files: no
	 * open there (not even read-only: the pages of a read-only attach
	 * stay behind shmdev's checks), no truncate(), chmod() or the like,
	 * no exec. Its size and contents change only through shmdev.
	 */
	inode->i_fop = &shmdev_inode_fops;
	inode->i_flags |= S_IMMUTABLE;
	inode->i_mode &= ~0111;
	mapping_set_gfp_mask(mapping, mapping_gfp_mask(mapping) | SHMDEV_GFP);
	/* As SHM_LOCK: its pages go to the unevictable list as they come. */
	if (seg->locked_mm)
		mapping_set_unevictable(mapping);

	refcount_set(&seg->refs, 1);
	mutex_init(&seg->lock);
	shmdev_bells_init(seg);
	INIT_LIST_HEAD(&seg->scope_node);
	seg->shmem_file = file;
	seg->inode = inode;
	seg->id = atomic64_inc_return(&shmdev_next_id);
	seg->uid = current_euid();
	seg->gid = current_egid();
	seg->cuid = seg->uid;
	seg->ns_limits = l;
	spin_lock_init(&seg->stat_lock);
	seg->cpid = get_pid(task_tgid(current));
	/* CREATE binds the creator's file: its first attach. */
	seg->lpid = get_pid(seg->cpid);
	seg->crtime = ktime_get_real_seconds();
	seg->atime = seg->crtime;
	seg->chtime = seg->crtime;
	seg->mode = mode;
	strscpy(seg->name, name, sizeof(seg->name));
	spin_lock(&shmdev_all_segs_lock);
	list_add_tail(&seg->all_node, &shmdev_all_segs);
	spin_unlock(&shmdev_all_segs_lock);
	atomic_inc(&shmdev_nr_segments);
	shmdev_count_segment(l);
	return seg;

err_uncharge:
	if (seg->locked_mm) {
		shmdev_seg_charge_locked(seg, -shmdev_seg_pages_of(size));
		mmdrop(seg->locked_mm);
	}
err_free_seg:
	kfree(seg);
err_unreserve:
	shmdev_release_bytes(l, size);
	return ERR_PTR(err);
}

static void shmdev_seg_free(struct shmdev_seg *seg)
{
	spin_lock(&shmdev_all_segs_lock);
	list_del(&seg->all_node);
	spin_unlock(&shmdev_all_segs_lock);
	/*
	 * Nothing maps the segment any more. Free its pages and swap now,
	 * not when the last file on the inode is gone, which may be later:
	 * fput() defers that.
	 */
	shmem_truncate_range(seg->inode, 0, (loff_t)-1);
	/*
	 * Nor can anything open it: a path found through map_files while
	 * the segment was mapped may still be held, and open through it
	 * after the module is gone. Opens fail with EIO from now on.
	 */
	make_bad_inode(seg->inode);
	shmdev_release_bytes(seg->ns_limits, shmdev_seg_size(seg));
	if (seg->locked_mm) {
		shmdev_seg_charge_locked(seg,
					 -shmdev_seg_pages_of(shmdev_seg_size(seg)));
		mmdrop(seg->locked_mm);
	}
	fput(seg->shmem_file);
	put_pid(seg->cpid);
	put_pid(seg->lpid);
	atomic_dec(&shmdev_nr_segments);
	mutex_destroy(&seg->lock);
	/* Last: names.c may free the namespace's limits after this. */
	shmdev_uncount_segment(seg->ns_limits);
	kfree(seg);
}

void shmdev_seg_put(struct shmdev_seg *seg)
{
	if (refcount_dec_and_test(&seg->refs))
		shmdev_seg_free(seg);
}

/* The caller's process last attached or detached @seg. */
static void shmdev_seg_set_lpid(struct shmdev_seg *seg)
{
	struct pid *pid = get_pid(task_tgid(current)), *old;

	spin_lock(&seg->stat_lock);
	old = seg->lpid;
	seg->lpid = pid;
	spin_unlock(&seg->stat_lock);
	put_pid(old);
}

/* Bookkeeping for STAT, as SysV's shm_atime, shm_dtime and shm_lprid. */
void shmdev_seg_attached(struct shmdev_seg *seg)
{
	WRITE_ONCE(seg->atime, ktime_get_real_seconds());
	shmdev_seg_set_lpid(seg);
}

void shmdev_seg_detached(struct shmdev_seg *seg)
{
	WRITE_ONCE(seg->dtime, ktime_get_real_seconds());
	shmdev_seg_set_lpid(seg);
}

void shmdev_seg_changed(struct shmdev_seg *seg)
{
	WRITE_ONCE(seg->chtime, ktime_get_real_seconds());
}

/* @seg's last attacher or detacher in the caller's PID namespace, or 0. */
pid_t shmdev_seg_lpid_vnr(struct shmdev_seg *seg)
{
	pid_t nr;

	spin_lock(&seg->stat_lock);
	nr = pid_vnr(seg->lpid);
	spin_unlock(&seg->stat_lock);
	return nr;
}

/*
 * A tmpfs instance of the module's own, mounted with @huge (a huge= option,
 * or NULL). Kernel mounts have no size or inode limits: shmdev's limits
 * apply. Nothing on it is executed.
 */
static struct vfsmount *shmdev_tmpfs_mount(struct file_system_type *tmpfs,
					   const char *huge)
{
	/* Parsed in place. */
	char opts[sizeof("huge=within_size")];
	struct vfsmount *mnt;

	if (huge)
		strscpy(opts, huge, sizeof(opts));
	mnt = vfs_kern_mount(tmpfs, SB_KERNMOUNT, tmpfs->name,
			     huge ? opts : NULL);
	if (!IS_ERR(mnt))
		mnt->mnt_sb->s_iflags |= SB_I_NOEXEC | SB_I_NODEV;
	return mnt;
}

int __init shmdev_fs_init(void)
{
	struct file_system_type *tmpfs = get_fs_type("tmpfs");
	struct vfsmount *mnt;

	if (!tmpfs)
		return -ENODEV;
	/* huge= is a tmpfs option only where the kernel has huge pages. */
	mnt = shmdev_tmpfs_mount(tmpfs, shmdev_huge_order() ? "huge=never" :
							      NULL);
	if (IS_ERR(mnt))
		return PTR_ERR(mnt);
	shmdev_mnt = mnt;
	if (!shmdev_huge_order())
		return 0;
	mnt = shmdev_tmpfs_mount(tmpfs, "huge=within_size");
	if (IS_ERR(mnt)) {
		kern_unmount(shmdev_mnt);
		return PTR_ERR(mnt);
	}
	shmdev_huge_mnt = mnt;
	return 0;
}

/* Waits of 20 ms for delayed files before unloading: at most 1 s. */
#define SHMDEV_UNMOUNT_TRIES	50

/*
 * What may still hold a mount when the module goes: fput() of a segment's
 * shmem file (in the kernel's delayed list when a worker put it), and a
 * path looked up through /proc/PID/map_files (an O_PATH descriptor), which
 * holds it for as long as its owner likes, without the module. Neither
 * leaves a pointer into the module: every segment is freed by now (the
 * module reference is 0 and the names are gone), and shmdev_seg_free()
 * gave each inode the kernel's bad-inode operations. So unloading waits a
 * little for the delayed files, to free their memory now, but never for a
 * path: the mount then lives on, detached, until its last user lets go.
 */
static void shmdev_unmount(struct vfsmount *mnt)
{
	int tries;

	if (!mnt)
		return;
	mntget(mnt);
	for (tries = 0; tries < SHMDEV_UNMOUNT_TRIES; tries++) {
		flush_delayed_fput();
		if (may_umount_tree(mnt))
			break;
		msleep(20);
	}
	mntput(mnt);
	kern_unmount(mnt);
}

void shmdev_fs_exit(void)
{
	shmdev_unmount(shmdev_huge_mnt);
	shmdev_unmount(shmdev_mnt);
	WARN_ON(!list_empty(&shmdev_all_segs));
}
