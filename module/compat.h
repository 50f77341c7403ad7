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
#include <linux/ipc_namespace.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/proc_ns.h>

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
#else
static inline void shmdev_vm_flags_clear(struct vm_area_struct *vma,
					 vm_flags_t flags)
{
	vma->vm_flags &= ~flags;
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

#endif /* _SHMDEV_COMPAT_H */
