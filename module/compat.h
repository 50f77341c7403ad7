/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel-version differences, kept in one place. Every other file of the
 * module uses these helpers instead of testing for kernel features itself.
 * Features are probed in the target kernel's headers by module/Kbuild, so
 * distribution kernels with backports get the right variant.
 */
#ifndef _SHMDEV_COMPAT_H
#define _SHMDEV_COMPAT_H

#include <linux/err.h>
#include <linux/fs.h>
#include <linux/ipc_namespace.h>
#include <linux/mm.h>		/* and linux/huge_mm.h, after it */
#include <linux/pagemap.h>
#include <linux/proc_ns.h>
#include <linux/sched/mm.h>
#include <linux/shmem_fs.h>
#include <linux/workqueue.h>

/*
 * vm_flags became read-only behind vm_flags_set()/vm_flags_clear() in 6.3;
 * module/Kbuild defines SHMDEV_HAVE_VM_FLAGS_CLEAR when the headers have it.
 */
#ifdef SHMDEV_HAVE_VM_FLAGS_CLEAR
static inline void shmdev_vm_flags_clear(struct vm_area_struct *vma,
					 vm_flags_t flags)
{
	vm_flags_clear(vma, flags);
}

static inline void shmdev_vm_flags_set(struct vm_area_struct *vma,
				       vm_flags_t flags)
{
	vm_flags_set(vma, flags);
}
#else
static inline void shmdev_vm_flags_clear(struct vm_area_struct *vma,
					 vm_flags_t flags)
{
	vma->vm_flags &= ~flags;
}

static inline void shmdev_vm_flags_set(struct vm_area_struct *vma,
				       vm_flags_t flags)
{
	vma->vm_flags |= flags;
}
#endif

/*
 * filemap_lock_folio() returns NULL on a miss up to 6.3 and ERR_PTR(-ENOENT)
 * from 6.4 on; callers here only need "found or not".
 */
static inline struct folio *shmdev_lock_folio(struct address_space *mapping,
					      pgoff_t index)
{
	struct folio *folio = filemap_lock_folio(mapping, index);

	return IS_ERR_OR_NULL(folio) ? NULL : folio;
}

/* The same for filemap_get_folio(): a referenced, unlocked folio or NULL. */
static inline struct folio *shmdev_find_folio(struct address_space *mapping,
					      pgoff_t index)
{
	struct folio *folio = filemap_get_folio(mapping, index);

	return IS_ERR_OR_NULL(folio) ? NULL : folio;
}

/*
 * Order of the PMD-sized folios huge segments are built from, or 0 when
 * the kernel cannot map such folios by PMD (no CONFIG_TRANSPARENT_HUGEPAGE,
 * or a CPU without large pages), or cannot hold them in the page cache:
 * from 6.10 the page cache caps folios at MAX_PAGECACHE_ORDER, which a PMD
 * exceeds with 64 KiB pages (512 MiB), and shmem never allocates them.
 */
static inline unsigned int shmdev_huge_order(void)
{
#ifdef CONFIG_TRANSPARENT_HUGEPAGE
#ifdef MAX_PAGECACHE_ORDER
	if (HPAGE_PMD_ORDER > MAX_PAGECACHE_ORDER)
		return 0;
#endif
	if (has_transparent_hugepage())
		return HPAGE_PMD_ORDER;
#endif
	return 0;
}

/*
 * The process's default placement of a new mapping: a method of the mm up
 * to 6.8, mm_get_unmapped_area(mm, ...) from 6.9 and mm_get_unmapped_area()
 * of the current mm, without the mm argument, from 7.2 on. module/Kbuild
 * tells the two prototypes apart by their first parameter.
 */
static inline unsigned long
shmdev_default_get_unmapped_area(struct file *file, unsigned long addr,
				 unsigned long len, unsigned long pgoff,
				 unsigned long flags)
{
#if defined(SHMDEV_HAVE_MM_GET_UNMAPPED_AREA)
	return mm_get_unmapped_area(file, addr, len, pgoff, flags);
#elif defined(SHMDEV_HAVE_MM_GET_UNMAPPED_AREA_MM)
	return mm_get_unmapped_area(current->mm, file, addr, len, pgoff, flags);
#else
	return current->mm->get_unmapped_area(file, addr, len, pgoff, flags);
#endif
}

/* Placement aligned for PMD mappings, where the kernel can make them. */
static inline unsigned long
shmdev_thp_get_unmapped_area(struct file *file, unsigned long addr,
			     unsigned long len, unsigned long pgoff,
			     unsigned long flags)
{
#ifdef CONFIG_TRANSPARENT_HUGEPAGE
	return thp_get_unmapped_area(file, addr, len, pgoff, flags);
#else
	return shmdev_default_get_unmapped_area(file, addr, len, pgoff, flags);
#endif
}

/*
 * put_ipc_ns() is exported to modules by newer kernels (6.12 does, 6.1
 * does not) and is an inline no-op without CONFIG_IPC_NS; module/Kbuild
 * defines SHMDEV_HAVE_PUT_IPC_NS when the target's Module.symvers lists it.
 * Elsewhere the namespace's proc_ns operations drop the reference, the same
 * way nsfs does.
 */
static inline void shmdev_put_ipc_ns(struct ipc_namespace *ns)
{
#if defined(SHMDEV_HAVE_PUT_IPC_NS) || !defined(CONFIG_IPC_NS)
	put_ipc_ns(ns);
#else
	ns->ns.ops->put(&ns->ns);
#endif
}

/*
 * Whether anything but the caller's own reference keeps @ns reachable: a
 * task in it, an nsfs file or a bind mount that could bring a task back.
 *
 * Kernels with the ns_ref_active_read() accessor (7.2 has it; module/Kbuild
 * finds its definition) count such users apart from plain references, and
 * an IPC namespace without active users can never be entered again. Older
 * kernels offer only the reference count, through ns_ref_read() where that
 * accessor exists and as the ns_common's count field before: a count of one
 * is the caller's own reference.
 */
static inline bool shmdev_ipc_ns_in_use(struct ipc_namespace *ns)
{
#if defined(SHMDEV_HAVE_NS_REF_ACTIVE)
	return ns_ref_active_read(ns) > 0;
#elif defined(SHMDEV_HAVE_NS_REF_READ)
	return ns_ref_read(ns) > 1;
#else
	return refcount_read(&ns->ns.count) > 1;
#endif
}

/*
 * The unbound system workqueue: system_dfl_wq where the headers declare it
 * (module/Kbuild; 6.17, and 6.12's stable updates), system_unbound_wq
 * before. 7.x warns when work is queued on system_wq or system_unbound_wq.
 */
static inline struct workqueue_struct *shmdev_unbound_wq(void)
{
#ifdef SHMDEV_HAVE_SYSTEM_DFL_WQ
	return system_dfl_wq;
#else
	return system_unbound_wq;
#endif
}

/*
 * Calling a file's mmap method on an existing VMA, as a file that stacks on
 * another does: call_mmap() up to 6.17, vfs_mmap() after, which also runs
 * the mmap_prepare method that shmem has from 6.17 on. module/Kbuild finds
 * vfs_mmap()'s definition.
 */
static inline int shmdev_call_mmap(struct file *file,
				   struct vm_area_struct *vma)
{
#ifdef SHMDEV_HAVE_VFS_MMAP
	return vfs_mmap(file, vma);
#else
	return call_mmap(file, vma);
#endif
}

/* shmem's vm_ops, which a segment's VMA forwards to (seg.c). */
const struct vm_operations_struct *
shmdev_shmem_vm_ops(const struct vm_area_struct *vma);

#ifdef CONFIG_NUMA
/*
 * A segment VMA's get_policy method, forwarded to shmem's. The method
 * takes an interleave index from 6.7 on; module/Kbuild tells the
 * prototypes apart by that parameter.
 */
#ifdef SHMDEV_HAVE_GET_POLICY_ILX
static inline struct mempolicy *shmdev_get_policy(struct vm_area_struct *vma,
						  unsigned long addr,
						  pgoff_t *ilx)
{
	return shmdev_shmem_vm_ops(vma)->get_policy(vma, addr, ilx);
}
#else
static inline struct mempolicy *shmdev_get_policy(struct vm_area_struct *vma,
						  unsigned long addr)
{
	return shmdev_shmem_vm_ops(vma)->get_policy(vma, addr);
}
#endif
#endif /* CONFIG_NUMA */

/*
 * A shmem file on @mnt whose memory is accounted page by page as it is
 * allocated (VM_NORESERVE), as memfd's. The flags became a vma_flags_t in
 * 7.0; module/Kbuild tells the prototypes apart by that parameter.
 */
static inline struct file *shmdev_shmem_file_setup(struct vfsmount *mnt,
						   const char *name,
						   loff_t size)
{
#ifdef SHMDEV_HAVE_SHMEM_VMA_FLAGS
	return shmem_file_setup_with_mnt(mnt, name, size,
					 mk_vma_flags(VMA_NORESERVE_BIT));
#else
	return shmem_file_setup_with_mnt(mnt, name, size, VM_NORESERVE);
#endif
}

/*
 * References to @folio, a base page, beyond those of the page cache, the
 * swap cache and the page tables that map it. folio_mapcount(), which the
 * kernel's own folio_expected_ref_count() uses, is inline from 6.4 on
 * (module/Kbuild finds the definition); on 6.1 it is out of line and not
 * exported, and a base page's map count is read directly.
 */
static inline int shmdev_folio_extra_refs(struct folio *folio)
{
#ifdef SHMDEV_HAVE_INLINE_FOLIO_MAPCOUNT
	return folio_ref_count(folio) - folio_expected_ref_count(folio);
#else
	return folio_ref_count(folio) - page_mapcount(&folio->page) -
	       !!folio->mapping - folio_test_swapcache(folio) -
	       folio_test_private(folio);
#endif
}

#endif /* _SHMDEV_COMPAT_H */
