// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/shmdev: named, permissioned shared-memory segments.
 *
 * Opening the device gives an unbound file, whose ->private_data is a
 * struct shmdev_handle. SHMDEV_IOC_CREATE or SHMDEV_IOC_ATTACH binds it to
 * one segment for the rest of its life by storing a segment file in the
 * handle; mmap() then maps the segment through that segment file, and
 * poll() waits on its doorbells (bell.c). Named segments stay in the name table until
 * SHMDEV_IOC_UNLINK, the death of their IPC namespace, or module unload.
 *
 * The name table is names.c's, the permission checks perm.c's, the limits
 * limits.c's and the segments and their pages seg.c's.
 */

#include <linux/anon_inodes.h>
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/kdev_t.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pid.h>
#include <linux/seq_file.h>
#include <linux/sched.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>
#include <linux/stat.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/user_namespace.h>

#include "compat.h"
#include "internal.h"

#define SHMDEV_FEATURES	(SHMDEV_FEAT_NAMED | SHMDEV_FEAT_ANON | \
			 SHMDEV_FEAT_RDONLY | SHMDEV_FEAT_RESIZE | \
			 SHMDEV_FEAT_SEALS | SHMDEV_FEAT_SETPERM | \
			 SHMDEV_FEAT_LIST | SHMDEV_FEAT_IPC_NS | \
			 SHMDEV_FEAT_HUGE | SHMDEV_FEAT_PREMAP | \
			 SHMDEV_FEAT_NEWFD | SHMDEV_FEAT_SHMEM | \
			 SHMDEV_FEAT_LOCKED | SHMDEV_FEAT_DEV_ACCESS | \
			 SHMDEV_FEAT_NS_LIMITS | SHMDEV_FEAT_STAT | \
			 SHMDEV_FEAT_DOORBELL | SHMDEV_FEAT_REATTACH)

/**
 * struct shmdev_handle - what a /dev/shmdev file holds
 * @segfile:	the segment file it is bound to, or NULL; set once, under
 *		shmdev_lock, and read locklessly
 * @bells:	its view of the segment's doorbells, set up before @segfile
 */
struct shmdev_handle {
	struct file		*segfile;
	struct shmdev_file_bells bells;
};

static struct shmdev_handle *shmdev_handle(struct file *file)
{
	return file->private_data;
}

/* The segment file a device file is bound to, or NULL. */
static struct file *shmdev_bound(struct file *file)
{
	/* Pairs with shmdev_bind(): the segment file is fully set up. */
	return smp_load_acquire(&shmdev_handle(file)->segfile);
}

static void shmdev_bind(struct file *file, struct file *segfile)
{
	struct shmdev_handle *h = shmdev_handle(file);
	struct shmdev_seg *seg = shmdev_file_seg(segfile);

	lockdep_assert_held(&shmdev_lock);
	atomic_inc(&seg->nr_files);
	shmdev_bells_bind(&h->bells, seg);
	/* Pairs with shmdev_bound(): publish only a fully set-up file. */
	smp_store_release(&h->segfile, segfile);
}

static long shmdev_ioc_version(struct shmdev_version __user *uarg)
{
	struct shmdev_version ver;

	memset(&ver, 0, sizeof(ver));
	ver.api_version = SHMDEV_API_VERSION;
	ver.features = SHMDEV_FEATURES;
	mutex_lock(&shmdev_lock);
	shmdev_fill_limits(shmdev_current_limits(), &ver);
	mutex_unlock(&shmdev_lock);
	if (shmdev_huge_order())
		ver.huge_page_size = PAGE_SIZE << shmdev_huge_order();
	return copy_to_user(uarg, &ver, sizeof(ver)) ? -EFAULT : 0;
}

/* Create a segment and bind @file to it; adds named ones to the table. */
static int shmdev_create_locked(struct file *file,
				const struct shmdev_create *arg, u64 *id)
{
	struct shmdev_ns_limits *limits;
	struct shmdev_scope *scope;
	struct shmdev_seg *seg;
	struct file *segfile;
	int err;

	lockdep_assert_held(&shmdev_lock);
	if (shmdev_bound(file))
		return -EBUSY;
	if (arg->name[0] && shmdev_lookup(arg->name))
		return -EEXIST;
	/* Named or not, the segment counts against its namespace's limits. */
	scope = shmdev_scope_get();
	if (!scope)
		return -ENOMEM;
	limits = shmdev_scope_limits(scope);
	if (shmdev_segments_full(limits))
		return -ENOSPC;
	err = shmdev_check_size(limits, arg->size);
	if (err)
		return err;

	seg = shmdev_seg_new(limits, arg->name, arg->size, arg->mode,
			     arg->flags);
	if (IS_ERR(seg))
		return PTR_ERR(seg);
	segfile = shmdev_seg_open(seg, false,
				  arg->flags & SHMDEV_CREATE_PREMAP);
	if (IS_ERR(segfile)) {
		shmdev_seg_put(seg);
		return PTR_ERR(segfile);
	}
	if (arg->name[0])
		/* The creator's reference becomes the name table's. */
		shmdev_link_locked(scope, seg);
	else
		shmdev_seg_put(seg);
	*id = seg->id;
	shmdev_bind(file, segfile);
	return 0;
}

static const struct file_operations shmdev_fops;

/*
 * SHMDEV_{CREATE,ATTACH}_NEWFD: a new, unbound file on the device and a
 * descriptor for it, which shmdev_install_new_file() installs once the
 * ioctl has bound the file.
 */
static int shmdev_open_new_file(struct file **filep, int *fdp)
{
	/* No more access than the file the ioctl came through. */
	int flags = (*filep)->f_mode & FMODE_WRITE ? O_RDWR : O_RDONLY;
	struct shmdev_handle *h;
	struct file *file;
	int fd, err;

	h = kzalloc(sizeof(*h), GFP_KERNEL_ACCOUNT);
	if (!h)
		return -ENOMEM;
	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0) {
		err = fd;
		goto err_free_handle;
	}
	file = anon_inode_getfile("[shmdev]", &shmdev_fops, h, flags);
	if (IS_ERR(file)) {
		err = PTR_ERR(file);
		goto err_put_fd;
	}
	*filep = file;
	*fdp = fd;
	return 0;

err_put_fd:
	put_unused_fd(fd);
err_free_handle:
	kfree(h);
	return err;
}

/* Returns the new descriptor, or @err after dropping file and descriptor. */
static long shmdev_install_new_file(struct file *file, int fd, int err)
{
	if (err) {
		fput(file);
		put_unused_fd(fd);
		return err;
	}
	fd_install(fd, file);
	return fd;
}

static long shmdev_ioc_create(struct file *file,
			      struct shmdev_create __user *uarg)
{
	struct shmdev_create arg;
	int ret, fd = -1;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if ((arg.flags & ~SHMDEV_CREATE_FLAGS_MASK) ||
	    memchr_inv(arg.reserved, 0, sizeof(arg.reserved)))
		return -EINVAL;
	if (arg.mode & ~0777)
		return -EINVAL;
	ret = shmdev_check_size(NULL, arg.size);
	if (ret)
		return ret;
	if ((arg.flags & SHMDEV_CREATE_HUGE) &&
	    !IS_ALIGNED(arg.size, shmdev_huge_granule()))
		return -EINVAL;
	ret = shmdev_check_name(arg.name, true);
	if (ret < 0)
		return ret;
	/* Fail before creating anything if the result cannot be returned. */
	if (copy_to_user(uarg, &arg, sizeof(arg)))
		return -EFAULT;
	if (arg.flags & SHMDEV_CREATE_NEWFD) {
		ret = shmdev_open_new_file(&file, &fd);
		if (ret)
			return ret;
	}

	mutex_lock(&shmdev_lock);
	ret = shmdev_create_locked(file, &arg, &arg.id);
	mutex_unlock(&shmdev_lock);
	if (!ret)
		ret = put_user(arg.id, &uarg->id);
	if (fd >= 0)
		return shmdev_install_new_file(file, fd, ret);
	return ret;
}

/* Binds @file to @seg as ATTACH's @arg asks, access already checked. */
static int shmdev_attach_seg(struct file *file, struct shmdev_seg *seg,
			     struct shmdev_attach *arg)
{
	struct file *segfile;

	lockdep_assert_held(&shmdev_lock);
	segfile = shmdev_seg_open(seg, arg->flags & SHMDEV_ATTACH_RDONLY,
				  arg->flags & SHMDEV_ATTACH_PREMAP);
	if (IS_ERR(segfile))
		return PTR_ERR(segfile);
	arg->size = shmdev_seg_size(seg);
	arg->id = seg->id;
	shmdev_seg_attached(seg);
	shmdev_bind(file, segfile);
	return 0;
}

static int shmdev_attach_locked(struct file *file, struct shmdev_attach *arg)
{
	struct shmdev_seg *seg;

	lockdep_assert_held(&shmdev_lock);
	if (shmdev_bound(file))
		return -EBUSY;
	seg = shmdev_lookup(arg->name);
	if (!seg)
		return -ENOENT;
	if (!shmdev_may_attach(seg, arg->flags & SHMDEV_ATTACH_RDONLY))
		return -EACCES;
	return shmdev_attach_seg(file, seg, arg);
}

/*
 * ATTACH with an empty name and NEWFD: a new file on the segment @file is
 * bound to, with no more access than @file has. It needs no permission
 * check, the binding of @file having passed one, and works for anonymous
 * segments, which no name reaches.
 */
static int shmdev_reattach(struct file *file, struct file *newfile,
			   struct shmdev_attach *arg)
{
	struct file *segfile = shmdev_bound(file);

	lockdep_assert_held(&shmdev_lock);
	if (!segfile)
		return -ENODEV;
	if (!(arg->flags & SHMDEV_ATTACH_RDONLY) &&
	    !(segfile->f_mode & FMODE_WRITE))
		return -EACCES;
	return shmdev_attach_seg(newfile, shmdev_file_seg(segfile), arg);
}

static long shmdev_ioc_attach(struct file *file,
			      struct shmdev_attach __user *uarg)
{
	struct shmdev_attach arg;
	struct file *newfile = file;
	bool again;
	int ret, fd = -1;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if ((arg.flags & ~SHMDEV_ATTACH_FLAGS_MASK) || arg.pad ||
	    memchr_inv(arg.reserved, 0, sizeof(arg.reserved)))
		return -EINVAL;
	/* No name: the segment of this file, which only NEWFD can bind. */
	again = !arg.name[0] && (arg.flags & SHMDEV_ATTACH_NEWFD);
	ret = again ? 0 : shmdev_check_name(arg.name, false);
	if (ret < 0)
		return ret;
	/* A file opened without write access attaches read-only only. */
	if (!(arg.flags & SHMDEV_ATTACH_RDONLY) &&
	    !(file->f_mode & FMODE_WRITE))
		return -EBADF;
	if (copy_to_user(uarg, &arg, sizeof(arg)))
		return -EFAULT;
	if (arg.flags & SHMDEV_ATTACH_NEWFD) {
		ret = shmdev_open_new_file(&newfile, &fd);
		if (ret)
			return ret;
	}

	mutex_lock(&shmdev_lock);
	if (again)
		ret = shmdev_reattach(file, newfile, &arg);
	else
		ret = shmdev_attach_locked(newfile, &arg);
	mutex_unlock(&shmdev_lock);
	/*
	 * The file is bound: only the two results go back, to a structure
	 * found writable above.
	 */
	if (!ret && (put_user(arg.size, &uarg->size) ||
		     put_user(arg.id, &uarg->id)))
		ret = -EFAULT;
	if (fd >= 0)
		return shmdev_install_new_file(newfile, fd, ret);
	return ret;
}

/* Describes @seg as seen from the caller's user namespace. */
static void shmdev_fill_info(struct shmdev_seg *seg,
			     struct shmdev_info *info)
{
	struct user_namespace *ns = current_user_ns();

	lockdep_assert_held(&shmdev_lock);
	memset(info, 0, sizeof(*info));
	info->id = seg->id;
	/* Size, pages and seals as no resize is halfway through them. */
	mutex_lock(&seg->lock);
	info->size = shmdev_seg_size(seg);
	info->nr_pages = READ_ONCE(seg->inode->i_mapping->nrpages);
	info->seals = seg->seals;
	info->nr_huge_pages = shmdev_seg_nr_huge(seg);
	info->nr_swapped = READ_ONCE(SHMEM_I(seg->inode)->swapped);
	mutex_unlock(&seg->lock);
	if (seg->huge)
		info->flags |= SHMDEV_INFO_HUGE;
	if (seg->locked_mm)
		info->flags |= SHMDEV_INFO_LOCKED;
	if (!seg->name[0])
		info->flags |= SHMDEV_INFO_ANON;
	else if (!seg->linked)
		info->flags |= SHMDEV_INFO_UNLINKED;
	info->mode = seg->mode;
	info->uid = from_kuid_munged(ns, seg->uid);
	info->gid = from_kgid_munged(ns, seg->gid);
	info->nr_files = atomic_read(&seg->nr_files);
	info->nr_maps = atomic_read(&seg->nr_maps);
	strscpy(info->name, seg->name, sizeof(info->name));
}

static long shmdev_ioc_info(struct file *file, struct shmdev_info __user *uarg)
{
	struct file *segfile = shmdev_bound(file);
	struct shmdev_info info;

	if (!segfile)
		return -ENODEV;

	mutex_lock(&shmdev_lock);
	shmdev_fill_info(shmdev_file_seg(segfile), &info);
	mutex_unlock(&shmdev_lock);
	if (!(segfile->f_mode & FMODE_WRITE))
		info.flags |= SHMDEV_INFO_RDONLY;
	if (shmdev_file_premaps(segfile))
		info.flags |= SHMDEV_INFO_PREMAP;
	return copy_to_user(uarg, &info, sizeof(info)) ? -EFAULT : 0;
}

static long shmdev_ioc_unlink(struct shmdev_unlink __user *uarg)
{
	struct shmdev_unlink arg;
	struct shmdev_seg *seg;
	int ret;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if ((arg.flags & ~SHMDEV_UNLINK_FLAGS_MASK) || arg.pad || arg.reserved)
		return -EINVAL;
	ret = shmdev_check_name(arg.name, false);
	if (ret < 0)
		return ret;

	mutex_lock(&shmdev_lock);
	seg = shmdev_lookup(arg.name);
	if (!seg)
		ret = -ENOENT;
	else if (!shmdev_may_control(seg))
		ret = -EPERM;
	/*
	 * Binding a file takes shmdev_lock, and mapping needs a bound file
	 * or a mapping: neither count can rise from zero while it is held.
	 */
	else if ((arg.flags & SHMDEV_UNLINK_IF_UNUSED) &&
		 (atomic_read(&seg->nr_files) || atomic_read(&seg->nr_maps)))
		ret = -EBUSY;
	else
		shmdev_unlink_locked(seg);
	mutex_unlock(&shmdev_lock);
	if (ret < 0)
		return ret;

	/* Drop the name table's reference outside the lock. */
	shmdev_seg_put(seg);
	return 0;
}

/* The segment of a file bound read-write, for RESIZE and ADD_SEALS. */
static struct shmdev_seg *shmdev_writable_seg(struct file *file)
{
	struct file *segfile = shmdev_bound(file);

	if (!segfile)
		return ERR_PTR(-ENODEV);
	if (!(segfile->f_mode & FMODE_WRITE))
		return ERR_PTR(-EPERM);
	return shmdev_file_seg(segfile);
}

static long shmdev_ioc_resize(struct file *file,
			      struct shmdev_resize __user *uarg)
{
	struct shmdev_resize arg;
	struct shmdev_seg *seg;
	int ret;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (memchr_inv(arg.reserved, 0, sizeof(arg.reserved)))
		return -EINVAL;
	ret = shmdev_check_size(NULL, arg.size);
	if (ret)
		return ret;
	seg = shmdev_writable_seg(file);
	if (IS_ERR(seg))
		return PTR_ERR(seg);
	return shmdev_seg_resize(seg, arg.size);
}

static long shmdev_ioc_add_seals(struct file *file,
				 struct shmdev_seals __user *uarg)
{
	struct shmdev_seals arg;
	struct shmdev_seg *seg;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if ((arg.seals & ~SHMDEV_SEAL_MASK) || arg.pad ||
	    memchr_inv(arg.reserved, 0, sizeof(arg.reserved)))
		return -EINVAL;
	seg = shmdev_writable_seg(file);
	if (IS_ERR(seg))
		return PTR_ERR(seg);
	return shmdev_seg_add_seals(seg, arg.seals);
}

static long shmdev_ioc_get_seals(struct file *file,
				 struct shmdev_seals __user *uarg)
{
	struct file *segfile = shmdev_bound(file);
	struct shmdev_seals arg;

	if (!segfile)
		return -ENODEV;
	memset(&arg, 0, sizeof(arg));
	arg.seals = READ_ONCE(shmdev_file_seg(segfile)->seals);
	return copy_to_user(uarg, &arg, sizeof(arg)) ? -EFAULT : 0;
}

static int shmdev_setperm_locked(const struct shmdev_setperm *arg,
				 kuid_t uid, kgid_t gid)
{
	struct shmdev_seg *seg;

	lockdep_assert_held(&shmdev_lock);
	seg = shmdev_lookup(arg->name);
	if (!seg)
		return -ENOENT;
	if (!shmdev_may_control(seg))
		return -EPERM;
	if (arg->flags & SHMDEV_SETPERM_MODE)
		seg->mode = arg->mode;
	if (arg->flags & SHMDEV_SETPERM_UID)
		seg->uid = uid;
	if (arg->flags & SHMDEV_SETPERM_GID)
		seg->gid = gid;
	shmdev_seg_changed(seg);
	return 0;
}

static long shmdev_ioc_setperm(struct shmdev_setperm __user *uarg)
{
	struct user_namespace *ns = current_user_ns();
	struct shmdev_setperm arg;
	kuid_t uid = INVALID_UID;
	kgid_t gid = INVALID_GID;
	int ret;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (!arg.flags || (arg.flags & ~SHMDEV_SETPERM_FLAGS_MASK) ||
	    memchr_inv(arg.reserved, 0, sizeof(arg.reserved)))
		return -EINVAL;
	if ((arg.flags & SHMDEV_SETPERM_MODE) && (arg.mode & ~0777))
		return -EINVAL;
	if (arg.flags & SHMDEV_SETPERM_UID) {
		uid = make_kuid(ns, arg.uid);
		if (!uid_valid(uid))
			return -EINVAL;
	}
	if (arg.flags & SHMDEV_SETPERM_GID) {
		gid = make_kgid(ns, arg.gid);
		if (!gid_valid(gid))
			return -EINVAL;
	}
	ret = shmdev_check_name(arg.name, false);
	if (ret < 0)
		return ret;

	mutex_lock(&shmdev_lock);
	ret = shmdev_setperm_locked(&arg, uid, gid);
	mutex_unlock(&shmdev_lock);
	return ret;
}

/* SysV's bookkeeping of @seg (shmid_ds), as seen from the caller. */
static void shmdev_fill_stat(struct shmdev_seg *seg, struct shmdev_stat *st)
{
	struct user_namespace *ns = current_user_ns();

	lockdep_assert_held(&shmdev_lock);
	memset(st, 0, sizeof(*st));
	st->id = seg->id;
	st->cpid = pid_vnr(seg->cpid);
	st->lpid = shmdev_seg_lpid_vnr(seg);
	st->crtime = seg->crtime;
	st->atime = READ_ONCE(seg->atime);
	st->dtime = READ_ONCE(seg->dtime);
	st->chtime = READ_ONCE(seg->chtime);
	st->uid = from_kuid_munged(ns, seg->uid);
	st->gid = from_kgid_munged(ns, seg->gid);
	st->nr_files = atomic_read(&seg->nr_files);
	st->nr_maps = atomic_read(&seg->nr_maps);
	strscpy(st->name, seg->name, sizeof(st->name));
	st->ino = seg->inode->i_ino;
	st->dev_major = MAJOR(seg->inode->i_sb->s_dev);
	st->dev_minor = MINOR(seg->inode->i_sb->s_dev);
}

static long shmdev_ioc_stat(struct file *file, struct shmdev_stat __user *uarg)
{
	struct file *segfile = shmdev_bound(file);
	struct shmdev_stat st;

	if (!segfile)
		return -ENODEV;
	mutex_lock(&shmdev_lock);
	shmdev_fill_stat(shmdev_file_seg(segfile), &st);
	mutex_unlock(&shmdev_lock);
	return copy_to_user(uarg, &st, sizeof(st)) ? -EFAULT : 0;
}

/*
 * Fills @out with up to @room listable segments after @after_id, as struct
 * shmdev_stat with @stat, else as struct shmdev_info.
 */
static u32 shmdev_list_locked(u64 after_id, void *out, u32 room, bool stat,
			      u32 *nr_total)
{
	struct shmdev_stat *stats = out;
	struct shmdev_info *infos = out;
	struct shmdev_seg *seg = NULL;
	u32 nr = 0, total = 0;

	lockdep_assert_held(&shmdev_lock);
	while ((seg = shmdev_name_next(seg))) {
		if (seg->id <= after_id)
			continue;
		if (!shmdev_may_list(seg))
			continue;
		total++;
		if (nr >= room)
			continue;
		if (stat)
			shmdev_fill_stat(seg, &stats[nr++]);
		else
			shmdev_fill_info(seg, &infos[nr++]);
	}
	*nr_total = total;
	return nr;
}

static long shmdev_ioc_list(struct shmdev_list __user *uarg)
{
	struct shmdev_list arg;
	void *entries = NULL;
	size_t size;
	bool stat;
	u32 room;
	int ret = 0;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if ((arg.flags & ~SHMDEV_LIST_FLAGS_MASK) || arg.pad ||
	    memchr_inv(arg.reserved, 0, sizeof(arg.reserved)))
		return -EINVAL;
	stat = arg.flags & SHMDEV_LIST_STAT;
	size = stat ? sizeof(struct shmdev_stat) : sizeof(struct shmdev_info);
	room = min_t(u32, arg.nr_entries, SHMDEV_LIST_MAX);
	if (room) {
		/* Sized by the caller: ENOMEM for it, no warning for us. */
		entries = kvcalloc(room, size, GFP_KERNEL | __GFP_NOWARN);
		if (!entries)
			return -ENOMEM;
	}

	mutex_lock(&shmdev_lock);
	arg.nr_entries = shmdev_list_locked(arg.after_id, entries, room, stat,
					    &arg.nr_total);
	mutex_unlock(&shmdev_lock);

	if (copy_to_user(u64_to_user_ptr(arg.entries), entries,
			 array_size(arg.nr_entries, size)) ||
	    copy_to_user(uarg, &arg, sizeof(arg)))
		ret = -EFAULT;
	kvfree(entries);
	return ret;
}

static long shmdev_ioc_limits(struct file *file,
			      struct shmdev_limits __user *uarg)
{
	struct shmdev_ns_limits *limits;
	struct shmdev_scope *scope;
	struct shmdev_limits arg;
	int ret = 0;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if ((arg.flags & ~SHMDEV_LIMITS_FLAGS_MASK) ||
	    memchr_inv(arg.reserved, 0, sizeof(arg.reserved)))
		return -EINVAL;
	if (arg.flags && !(file->f_mode & FMODE_WRITE))
		return -EBADF;
	/* Fail before setting anything if the result cannot be returned. */
	if (arg.flags && copy_to_user(uarg, &arg, sizeof(arg)))
		return -EFAULT;

	mutex_lock(&shmdev_lock);
	if (!arg.flags) {
		/* Reading makes no scope: NULL reads the module's. */
		limits = shmdev_current_limits();
	} else if (!shmdev_may_lower_limits()) {
		ret = -EPERM;
	} else {
		scope = shmdev_scope_get();
		limits = scope ? shmdev_scope_limits(scope) : NULL;
		ret = limits ? shmdev_set_limits(limits, &arg,
						 shmdev_may_raise_limits()) :
			       -ENOMEM;
	}
	if (!ret)
		shmdev_get_limits(limits, &arg);
	mutex_unlock(&shmdev_lock);
	if (ret)
		return ret;
	return copy_to_user(uarg, &arg, sizeof(arg)) ? -EFAULT : 0;
}

static long shmdev_ioc_ring(struct file *file, struct shmdev_bell __user *uarg)
{
	struct file *segfile = shmdev_bound(file);
	struct shmdev_bell arg;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (!shmdev_bell_valid(&arg))
		return -EINVAL;
	if (!segfile)
		return -ENODEV;
	/* A read-only attach changes nothing that writers see. */
	if (!(segfile->f_mode & FMODE_WRITE))
		return -EPERM;
	shmdev_bells_ring(shmdev_file_seg(segfile), &arg);
	return 0;
}

static long shmdev_ioc_ack(struct file *file, struct shmdev_ack __user *uarg)
{
	struct file *segfile = shmdev_bound(file);
	struct shmdev_file_bells *fb;
	struct shmdev_seg *seg;
	struct shmdev_ack arg;
	unsigned long watch;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (!shmdev_ack_valid(&arg))
		return -EINVAL;
	if (!segfile)
		return -ENODEV;
	/* The counts will be gone from the file: they must reach the caller. */
	if (copy_to_user(uarg, &arg, sizeof(arg)))
		return -EFAULT;
	fb = &shmdev_handle(file)->bells;
	seg = shmdev_file_seg(segfile);
	watch = shmdev_bells_ack(fb, seg, &arg);
	if (copy_to_user(uarg, &arg, sizeof(arg))) {
		/* Nothing lost: the rings stay pending, the watch set too. */
		shmdev_bells_unack(fb, seg, &arg, watch);
		return -EFAULT;
	}
	return 0;
}

/*
 * The ioctls that change something, which a file opened without write
 * access may not make (EBADF, as write() on it): with such a file one may
 * VERSION, LIST, INFO, STAT, GET_SEALS, ACK and ATTACH read-only.
 */
static bool shmdev_ioc_changes(unsigned int cmd)
{
	switch (cmd) {
	case SHMDEV_IOC_CREATE:
	case SHMDEV_IOC_UNLINK:
	case SHMDEV_IOC_RESIZE:
	case SHMDEV_IOC_ADD_SEALS:
	case SHMDEV_IOC_SETPERM:
	case SHMDEV_IOC_RING:
		return true;
	default:
		return false;
	}
}

static long shmdev_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	if (shmdev_ioc_changes(cmd) && !(file->f_mode & FMODE_WRITE))
		return -EBADF;

	switch (cmd) {
	case SHMDEV_IOC_VERSION:
		return shmdev_ioc_version(uarg);
	case SHMDEV_IOC_CREATE:
		return shmdev_ioc_create(file, uarg);
	case SHMDEV_IOC_ATTACH:
		return shmdev_ioc_attach(file, uarg);
	case SHMDEV_IOC_INFO:
		return shmdev_ioc_info(file, uarg);
	case SHMDEV_IOC_UNLINK:
		return shmdev_ioc_unlink(uarg);
	case SHMDEV_IOC_RESIZE:
		return shmdev_ioc_resize(file, uarg);
	case SHMDEV_IOC_ADD_SEALS:
		return shmdev_ioc_add_seals(file, uarg);
	case SHMDEV_IOC_GET_SEALS:
		return shmdev_ioc_get_seals(file, uarg);
	case SHMDEV_IOC_SETPERM:
		return shmdev_ioc_setperm(uarg);
	case SHMDEV_IOC_LIST:
		return shmdev_ioc_list(uarg);
	case SHMDEV_IOC_LIMITS:
		return shmdev_ioc_limits(file, uarg);
	case SHMDEV_IOC_STAT:
		return shmdev_ioc_stat(file, uarg);
	case SHMDEV_IOC_RING:
		return shmdev_ioc_ring(file, uarg);
	case SHMDEV_IOC_ACK:
		return shmdev_ioc_ack(file, uarg);
	default:
		return -ENOTTY;
	}
}

static int shmdev_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct file *segfile = shmdev_bound(file);

	if (!segfile)
		return -ENODEV;
	return shmdev_seg_mmap(segfile, vma);
}

static unsigned long shmdev_get_unmapped_area(struct file *file,
					      unsigned long addr,
					      unsigned long len,
					      unsigned long pgoff,
					      unsigned long flags)
{
	return shmdev_seg_get_unmapped_area(shmdev_bound(file), file, addr,
					    len, pgoff, flags);
}

/* /proc/PID/fdinfo: which segment a file is bound to, and how. */
static void shmdev_show_fdinfo(struct seq_file *m, struct file *file)
{
	struct file *segfile = shmdev_bound(file);

	if (!segfile)
		return;
	seq_printf(m, "shmdev-id:\t%llu\n", shmdev_file_seg(segfile)->id);
	seq_printf(m, "shmdev-access:\t%s\n",
		   segfile->f_mode & FMODE_WRITE ? "rw" : "ro");
}

static __poll_t shmdev_poll(struct file *file, poll_table *pt)
{
	struct file *segfile = shmdev_bound(file);

	if (!segfile)
		return EPOLLERR;
	return shmdev_bells_poll(file, &shmdev_handle(file)->bells, segfile,
				 pt);
}

static int shmdev_open(struct inode *inode, struct file *file)
{
	struct shmdev_handle *h = kzalloc(sizeof(*h), GFP_KERNEL_ACCOUNT);

	if (!h)
		return -ENOMEM;
	/* misc_open() left the miscdevice here: replace it by the handle. */
	file->private_data = h;
	return 0;
}

static int shmdev_release(struct inode *inode, struct file *file)
{
	struct file *segfile = shmdev_bound(file);

	if (segfile) {
		struct shmdev_seg *seg = shmdev_file_seg(segfile);

		shmdev_seg_detached(seg);
		atomic_dec(&seg->nr_files);
		shmdev_bells_wake_hangup(seg);
		fput(segfile);
	}
	kfree(shmdev_handle(file));
	return 0;
}

static const struct file_operations shmdev_fops = {
	.owner		= THIS_MODULE,
	.open		= shmdev_open,
	.release	= shmdev_release,
	.unlocked_ioctl	= shmdev_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.mmap		= shmdev_mmap,
	.poll		= shmdev_poll,
	.get_unmapped_area = shmdev_get_unmapped_area,
	.llseek		= noop_llseek,
	.show_fdinfo	= shmdev_show_fdinfo,
};

static struct miscdevice shmdev_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "shmdev",
	.fops	= &shmdev_fops,
};

/* The ABI is the same for 32- and 64-bit callers: no implicit padding. */
static void __init shmdev_check_abi(void)
{
	BUILD_BUG_ON(sizeof(struct shmdev_version) != 64);
	BUILD_BUG_ON(sizeof(struct shmdev_create) != 120);
	BUILD_BUG_ON(sizeof(struct shmdev_attach) != 120);
	BUILD_BUG_ON(sizeof(struct shmdev_info) != 144);
	BUILD_BUG_ON(sizeof(struct shmdev_unlink) != 80);
	BUILD_BUG_ON(sizeof(struct shmdev_resize) != 32);
	BUILD_BUG_ON(sizeof(struct shmdev_seals) != 32);
	BUILD_BUG_ON(sizeof(struct shmdev_setperm) != 96);
	BUILD_BUG_ON(sizeof(struct shmdev_list) != 48);
	BUILD_BUG_ON(sizeof(struct shmdev_limits) != 64);
	BUILD_BUG_ON(sizeof(struct shmdev_stat) != 160);
	BUILD_BUG_ON(sizeof(struct shmdev_bell) != 32);
	BUILD_BUG_ON(sizeof(struct shmdev_ack) != 88);
}

static int __init shmdev_init(void)
{
	int err;

	shmdev_check_abi();
	shmdev_limits_init();

	err = shmdev_fs_init();
	if (err)
		return err;
	err = misc_register(&shmdev_misc);
	if (err)
		goto err_fs_exit;
	return 0;

err_fs_exit:
	shmdev_fs_exit();
	return err;
}

static void __exit shmdev_exit(void)
{
	misc_deregister(&shmdev_misc);
	shmdev_unlink_all();
	shmdev_fs_exit();
	shmdev_scopes_free();
}

module_init(shmdev_init);
module_exit(shmdev_exit);

MODULE_DESCRIPTION("Named, permissioned shared-memory segments");
MODULE_LICENSE("GPL");
MODULE_VERSION(SHMDEV_VERSION);
