// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/shmdev: named, permissioned shared-memory segments.
 *
 * Opening the device gives an unbound file. SHMDEV_IOC_CREATE or
 * SHMDEV_IOC_ATTACH binds it to one segment for the rest of its life by
 * storing a segment file in ->private_data; mmap() then maps the segment
 * through that segment file. Named segments stay in the name table until
 * SHMDEV_IOC_UNLINK or module unload.
 */

#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/hashtable.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/stat.h>
#include <linux/string.h>
#include <linux/stringhash.h>
#include <linux/uaccess.h>

#include "internal.h"

#define SHMDEV_FEATURES	(SHMDEV_FEAT_NAMED | SHMDEV_FEAT_ANON | \
			 SHMDEV_FEAT_RDONLY)

static unsigned long max_segment_size;
module_param(max_segment_size, ulong, 0644);
MODULE_PARM_DESC(max_segment_size,
		 "Largest segment in bytes (default: size of RAM)");

static unsigned int max_segments = 4096;
module_param(max_segments, uint, 0644);
MODULE_PARM_DESC(max_segments, "Most segments in existence (default 4096)");

static int shmdev_nr_pages_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%ld\n", atomic_long_read(&shmdev_nr_pages));
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

/* Serialises the name table and the binding of device files. */
static DEFINE_MUTEX(shmdev_lock);
static DEFINE_HASHTABLE(shmdev_names, 10);

/* The segment file a device file is bound to, or NULL. */
static struct file *shmdev_bound(struct file *file)
{
	/* Pairs with shmdev_bind(): the segment file is fully set up. */
	return smp_load_acquire(&file->private_data);
}

static void shmdev_bind(struct file *file, struct file *segfile)
{
	lockdep_assert_held(&shmdev_lock);
	atomic_inc(&shmdev_file_seg(segfile)->nr_files);
	/* Pairs with shmdev_bound(): publish only a fully set-up file. */
	smp_store_release(&file->private_data, segfile);
}

/*
 * A name is 1 to SHMDEV_NAME_MAX - 1 graphic ASCII characters other than
 * '/', NUL-terminated inside the field. Returns its length or -errno.
 */
static int shmdev_check_name(const char *name, bool may_be_empty)
{
	size_t i, len = strnlen(name, SHMDEV_NAME_MAX);

	if (len == SHMDEV_NAME_MAX)
		return -ENAMETOOLONG;
	if (!len)
		return may_be_empty ? 0 : -EINVAL;
	for (i = 0; i < len; i++) {
		unsigned char c = name[i];

		if (c <= ' ' || c > '~' || c == '/')
			return -EINVAL;
	}
	return len;
}

static u32 shmdev_name_hash(const char *name)
{
	return full_name_hash(NULL, name, strlen(name));
}

static struct shmdev_seg *shmdev_lookup(const char *name)
{
	struct shmdev_seg *seg;

	lockdep_assert_held(&shmdev_lock);
	hash_for_each_possible(shmdev_names, seg, node, shmdev_name_hash(name))
		if (!strcmp(seg->name, name))
			return seg;
	return NULL;
}

static void shmdev_unlink_locked(struct shmdev_seg *seg)
{
	lockdep_assert_held(&shmdev_lock);
	hash_del(&seg->node);
	WRITE_ONCE(seg->linked, false);
}

/* SysV-style permission check (ipcperms()) for attaching @seg. */
static bool shmdev_may_attach(const struct shmdev_seg *seg, bool rdonly)
{
	int want = rdonly ? 04 : 06;
	int granted = seg->mode;

	if (uid_eq(current_euid(), seg->uid))
		granted >>= 6;
	else if (in_group_p(seg->gid))
		granted >>= 3;
	if (!(want & ~granted & 07))
		return true;
	return capable(CAP_IPC_OWNER);
}

static bool shmdev_is_owner(const struct shmdev_seg *seg)
{
	return uid_eq(current_euid(), seg->uid) || capable(CAP_SYS_ADMIN);
}

static long shmdev_ioc_version(struct shmdev_version __user *uarg)
{
	struct shmdev_version ver;

	memset(&ver, 0, sizeof(ver));
	ver.api_version = SHMDEV_API_VERSION;
	ver.features = SHMDEV_FEATURES;
	ver.max_segment_size = READ_ONCE(max_segment_size);
	return copy_to_user(uarg, &ver, sizeof(ver)) ? -EFAULT : 0;
}

/* Create a segment and bind @file to it; adds named ones to the table. */
static int shmdev_create_locked(struct file *file,
				const struct shmdev_create *arg, u64 *id)
{
	struct shmdev_seg *seg;
	struct file *segfile;

	lockdep_assert_held(&shmdev_lock);
	if (shmdev_bound(file))
		return -EBUSY;
	if (arg->name[0] && shmdev_lookup(arg->name))
		return -EEXIST;
	if (atomic_read(&shmdev_nr_segments) >= READ_ONCE(max_segments))
		return -ENOSPC;

	seg = shmdev_seg_new(arg->name, arg->size, arg->mode);
	if (IS_ERR(seg))
		return PTR_ERR(seg);
	segfile = shmdev_seg_open(seg, false);
	if (IS_ERR(segfile)) {
		shmdev_seg_put(seg);
		return PTR_ERR(segfile);
	}
	if (arg->name[0]) {
		/* The creator's reference becomes the name table's. */
		hash_add(shmdev_names, &seg->node, shmdev_name_hash(seg->name));
		WRITE_ONCE(seg->linked, true);
	} else {
		shmdev_seg_put(seg);
	}
	*id = seg->id;
	shmdev_bind(file, segfile);
	return 0;
}

static long shmdev_ioc_create(struct file *file,
			      struct shmdev_create __user *uarg)
{
	struct shmdev_create arg;
	int ret;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if ((arg.flags & ~SHMDEV_CREATE_FLAGS_MASK) ||
	    memchr_inv(arg.reserved, 0, sizeof(arg.reserved)))
		return -EINVAL;
	if (arg.mode & ~0777)
		return -EINVAL;
	if (!arg.size || arg.size > READ_ONCE(max_segment_size) ||
	    arg.size > MAX_LFS_FILESIZE)
		return -EINVAL;
	ret = shmdev_check_name(arg.name, true);
	if (ret < 0)
		return ret;
	/* Fail before creating anything if the result cannot be returned. */
	if (copy_to_user(uarg, &arg, sizeof(arg)))
		return -EFAULT;

	mutex_lock(&shmdev_lock);
	ret = shmdev_create_locked(file, &arg, &arg.id);
	mutex_unlock(&shmdev_lock);
	if (ret)
		return ret;
	return put_user(arg.id, &uarg->id);
}

static int shmdev_attach_locked(struct file *file, struct shmdev_attach *arg)
{
	bool rdonly = arg->flags & SHMDEV_ATTACH_RDONLY;
	struct shmdev_seg *seg;
	struct file *segfile;

	lockdep_assert_held(&shmdev_lock);
	if (shmdev_bound(file))
		return -EBUSY;
	seg = shmdev_lookup(arg->name);
	if (!seg)
		return -ENOENT;
	if (!shmdev_may_attach(seg, rdonly))
		return -EACCES;

	segfile = shmdev_seg_open(seg, rdonly);
	if (IS_ERR(segfile))
		return PTR_ERR(segfile);
	arg->size = shmdev_seg_size(seg);
	arg->id = seg->id;
	shmdev_bind(file, segfile);
	return 0;
}

static long shmdev_ioc_attach(struct file *file,
			      struct shmdev_attach __user *uarg)
{
	struct shmdev_attach arg;
	int ret;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if ((arg.flags & ~SHMDEV_ATTACH_FLAGS_MASK) || arg.pad ||
	    memchr_inv(arg.reserved, 0, sizeof(arg.reserved)))
		return -EINVAL;
	ret = shmdev_check_name(arg.name, false);
	if (ret < 0)
		return ret;
	if (copy_to_user(uarg, &arg, sizeof(arg)))
		return -EFAULT;

	mutex_lock(&shmdev_lock);
	ret = shmdev_attach_locked(file, &arg);
	mutex_unlock(&shmdev_lock);
	if (ret)
		return ret;
	return copy_to_user(uarg, &arg, sizeof(arg)) ? -EFAULT : 0;
}

static long shmdev_ioc_info(struct file *file, struct shmdev_info __user *uarg)
{
	struct file *segfile = shmdev_bound(file);
	struct user_namespace *ns = current_user_ns();
	struct shmdev_info info;
	struct shmdev_seg *seg;

	if (!segfile)
		return -ENODEV;
	seg = shmdev_file_seg(segfile);

	memset(&info, 0, sizeof(info));
	info.id = seg->id;
	info.size = shmdev_seg_size(seg);
	if (!seg->name[0])
		info.flags |= SHMDEV_INFO_ANON;
	else if (!READ_ONCE(seg->linked))
		info.flags |= SHMDEV_INFO_UNLINKED;
	if (!(segfile->f_mode & FMODE_WRITE))
		info.flags |= SHMDEV_INFO_RDONLY;
	info.mode = seg->mode;
	info.uid = from_kuid_munged(ns, seg->uid);
	info.gid = from_kgid_munged(ns, seg->gid);
	info.nr_files = atomic_read(&seg->nr_files);
	info.nr_maps = atomic_read(&seg->nr_maps);
	info.nr_pages = READ_ONCE(seg->inode->i_mapping->nrpages);
	strscpy(info.name, seg->name, sizeof(info.name));
	return copy_to_user(uarg, &info, sizeof(info)) ? -EFAULT : 0;
}

static long shmdev_ioc_unlink(struct shmdev_unlink __user *uarg)
{
	struct shmdev_unlink arg;
	struct shmdev_seg *seg;
	int ret;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (memchr_inv(arg.reserved, 0, sizeof(arg.reserved)))
		return -EINVAL;
	ret = shmdev_check_name(arg.name, false);
	if (ret < 0)
		return ret;

	mutex_lock(&shmdev_lock);
	seg = shmdev_lookup(arg.name);
	if (!seg)
		ret = -ENOENT;
	else if (!shmdev_is_owner(seg))
		ret = -EPERM;
	else
		shmdev_unlink_locked(seg);
	mutex_unlock(&shmdev_lock);
	if (ret < 0)
		return ret;

	/* Drop the name table's reference outside the lock. */
	shmdev_seg_put(seg);
	return 0;
}

static long shmdev_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

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

static int shmdev_open(struct inode *inode, struct file *file)
{
	/* misc_open() left the miscdevice here; unbound means NULL. */
	file->private_data = NULL;
	return 0;
}

static int shmdev_release(struct inode *inode, struct file *file)
{
	struct file *segfile = shmdev_bound(file);

	if (segfile) {
		atomic_dec(&shmdev_file_seg(segfile)->nr_files);
		fput(segfile);
	}
	return 0;
}

static const struct file_operations shmdev_fops = {
	.owner		= THIS_MODULE,
	.open		= shmdev_open,
	.release	= shmdev_release,
	.unlocked_ioctl	= shmdev_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.mmap		= shmdev_mmap,
	.llseek		= noop_llseek,
};

static struct miscdevice shmdev_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "shmdev",
	.fops	= &shmdev_fops,
};

/* Unload: nothing is open or mapped, so the table holds the last refs. */
static void shmdev_unlink_all(void)
{
	struct shmdev_seg *seg;
	struct hlist_node *tmp;
	int bkt;

	mutex_lock(&shmdev_lock);
	hash_for_each_safe(shmdev_names, bkt, tmp, seg, node) {
		shmdev_unlink_locked(seg);
		shmdev_seg_put(seg);
	}
	mutex_unlock(&shmdev_lock);
}

/* The ABI is the same for 32- and 64-bit callers: no implicit padding. */
static void __init shmdev_check_abi(void)
{
	BUILD_BUG_ON(sizeof(struct shmdev_version) != 64);
	BUILD_BUG_ON(sizeof(struct shmdev_create) != 120);
	BUILD_BUG_ON(sizeof(struct shmdev_attach) != 120);
	BUILD_BUG_ON(sizeof(struct shmdev_info) != 144);
	BUILD_BUG_ON(sizeof(struct shmdev_unlink) != 80);
}

static int __init shmdev_init(void)
{
	int err;

	shmdev_check_abi();

	if (!max_segment_size)
		max_segment_size = min_t(u64, (u64)totalram_pages() << PAGE_SHIFT,
					 ULONG_MAX);

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
}

module_init(shmdev_init);
module_exit(shmdev_exit);

MODULE_DESCRIPTION("Named, permissioned shared-memory segments");
MODULE_LICENSE("GPL");
