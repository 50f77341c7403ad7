// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/shmdev: named, permissioned shared-memory segments.
 *
 * Opening the device gives an unbound file. SHMDEV_IOC_CREATE or
 * SHMDEV_IOC_ATTACH binds it to one segment for the rest of its life by
 * storing a segment file in ->private_data; mmap() then maps the segment
 * through that segment file. Named segments stay in the name table until
 * SHMDEV_IOC_UNLINK, the death of their IPC namespace, or module unload.
 *
 * Names are scoped by IPC namespace, as SysV IPC objects and POSIX message
 * queues are: each IPC namespace that has named segments has a struct
 * shmdev_scope, which holds a reference to it. A scope whose namespace has
 * no other reference left can never be entered again; a periodic reaper
 * unlinks its segments and lets the namespace go.
 */

#include <linux/anon_inodes.h>
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/hashtable.h>
#include <linux/ipc_namespace.h>
#include <linux/list.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/nsproxy.h>
#include <linux/sched.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>
#include <linux/stat.h>
#include <linux/string.h>
#include <linux/stringhash.h>
#include <linux/uaccess.h>
#include <linux/user_namespace.h>
#include <linux/workqueue.h>

#include "compat.h"
#include "internal.h"

#define SHMDEV_FEATURES	(SHMDEV_FEAT_NAMED | SHMDEV_FEAT_ANON | \
			 SHMDEV_FEAT_RDONLY | SHMDEV_FEAT_RESIZE | \
			 SHMDEV_FEAT_SEALS | SHMDEV_FEAT_SETPERM | \
			 SHMDEV_FEAT_LIST | SHMDEV_FEAT_IPC_NS | \
			 SHMDEV_FEAT_HUGE | SHMDEV_FEAT_PREMAP | \
			 SHMDEV_FEAT_NEWFD | SHMDEV_FEAT_SHMEM | \
			 SHMDEV_FEAT_LOCKED)

/* How often the reaper looks for dead IPC namespaces. */
#define SHMDEV_REAP_INTERVAL	HZ

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

/**
 * struct shmdev_scope - the names of one IPC namespace
 * @node:	entry in shmdev_scopes; shmdev_lock
 * @ipc_ns:	the namespace, of which the scope holds a reference; constant
 * @segs:	named segments, in ascending id order; shmdev_lock
 *
 * Exists while the namespace has named segments.
 */
struct shmdev_scope {
	struct list_head	node;
	struct ipc_namespace	*ipc_ns;
	struct list_head	segs;
};

/* Serialises the name table, the scopes and the binding of device files. */
static DEFINE_MUTEX(shmdev_lock);
/*
 * Named segments, hashed by scope and name; shmdev_lock. 4096 buckets keep
 * the chains short up to max_segments' default; a lookup compares full
 * hashes before names.
 */
static DEFINE_HASHTABLE(shmdev_names, 12);
/* Every struct shmdev_scope; shmdev_lock. */
static LIST_HEAD(shmdev_scopes);

static void shmdev_reap_fn(struct work_struct *work);
static DECLARE_DELAYED_WORK(shmdev_reap_work, shmdev_reap_fn);

/* The initial IPC namespace lives as long as the system. */
static bool shmdev_is_init_ipc_ns(const struct ipc_namespace *ipc_ns)
{
	return ipc_ns == init_task.nsproxy->ipc_ns;
}

/* The scope of the caller's IPC namespace, or NULL if it has no names. */
static struct shmdev_scope *shmdev_current_scope(void)
{
	struct ipc_namespace *ipc_ns = current->nsproxy->ipc_ns;
	struct shmdev_scope *scope;

	lockdep_assert_held(&shmdev_lock);
	list_for_each_entry(scope, &shmdev_scopes, node)
		if (scope->ipc_ns == ipc_ns)
			return scope;
	return NULL;
}

static struct shmdev_scope *shmdev_scope_new(void)
{
	struct ipc_namespace *ipc_ns = current->nsproxy->ipc_ns;
	struct shmdev_scope *scope;

	lockdep_assert_held(&shmdev_lock);
	scope = kzalloc(sizeof(*scope), GFP_KERNEL_ACCOUNT);
	if (!scope)
		return NULL;
	scope->ipc_ns = get_ipc_ns(ipc_ns);
	INIT_LIST_HEAD(&scope->segs);
	list_add(&scope->node, &shmdev_scopes);
	/*
	 * Queued unless pending already: namespaces created faster than the
	 * reaper runs must not postpone it (mod_delayed_work() would).
	 */
	if (!shmdev_is_init_ipc_ns(ipc_ns))
		queue_delayed_work(shmdev_unbound_wq(), &shmdev_reap_work,
				   SHMDEV_REAP_INTERVAL);
	return scope;
}

static void shmdev_scope_free(struct shmdev_scope *scope)
{
	lockdep_assert_held(&shmdev_lock);
	list_del(&scope->node);
	shmdev_put_ipc_ns(scope->ipc_ns);
	kfree(scope);
}

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

static u32 shmdev_name_hash(const struct shmdev_scope *scope,
			    const char *name)
{
	return full_name_hash(scope, name, strlen(name));
}

/* The segment named @name in the caller's IPC namespace, or NULL. */
static struct shmdev_seg *shmdev_lookup(const char *name)
{
	struct shmdev_scope *scope = shmdev_current_scope();
	struct shmdev_seg *seg;
	u32 hash;

	if (!scope)
		return NULL;
	hash = shmdev_name_hash(scope, name);
	hash_for_each_possible(shmdev_names, seg, node, hash)
		if (seg->name_hash == hash && seg->scope == scope &&
		    !strcmp(seg->name, name))
			return seg;
	return NULL;
}

static void shmdev_link_locked(struct shmdev_scope *scope,
			       struct shmdev_seg *seg)
{
	lockdep_assert_held(&shmdev_lock);
	seg->scope = scope;
	seg->name_hash = shmdev_name_hash(scope, seg->name);
	hash_add(shmdev_names, &seg->node, seg->name_hash);
	/* Ids only grow: the list stays sorted. */
	list_add_tail(&seg->scope_node, &scope->segs);
	WRITE_ONCE(seg->linked, true);
}

/*
 * Removes @seg from the name table, and its scope if that was the last
 * name. The caller drops the table's reference.
 */
static void shmdev_unlink_locked(struct shmdev_seg *seg)
{
	struct shmdev_scope *scope = seg->scope;

	lockdep_assert_held(&shmdev_lock);
	hash_del(&seg->node);
	list_del_init(&seg->scope_node);
	seg->scope = NULL;
	WRITE_ONCE(seg->linked, false);
	if (list_empty(&scope->segs))
		shmdev_scope_free(scope);
}

/* Unlinks every segment of @scope; the last one frees the scope. */
static void shmdev_scope_unlink_all(struct shmdev_scope *scope)
{
	struct shmdev_seg *seg;
	bool last;

	lockdep_assert_held(&shmdev_lock);
	do {
		seg = list_first_entry(&scope->segs, struct shmdev_seg,
				       scope_node);
		last = list_is_singular(&scope->segs);
		shmdev_unlink_locked(seg);
		shmdev_seg_put(seg);
	} while (!last);
}

/*
 * No task, nsfs file or bind mount uses the scope's IPC namespace any more,
 * and none can bring it back: nobody can reach its names.
 */
static bool shmdev_scope_dead(const struct shmdev_scope *scope)
{
	return !shmdev_is_init_ipc_ns(scope->ipc_ns) &&
	       !shmdev_ipc_ns_in_use(scope->ipc_ns);
}

/* Frees the names of dead namespaces; true if a namespace is left to watch. */
static bool shmdev_reap_locked(void)
{
	struct shmdev_scope *scope, *tmp;
	bool watch = false;

	lockdep_assert_held(&shmdev_lock);
	list_for_each_entry_safe(scope, tmp, &shmdev_scopes, node) {
		if (shmdev_scope_dead(scope))
			shmdev_scope_unlink_all(scope);
		else if (!shmdev_is_init_ipc_ns(scope->ipc_ns))
			watch = true;
	}
	return watch;
}

static void shmdev_reap_fn(struct work_struct *work)
{
	mutex_lock(&shmdev_lock);
	if (shmdev_reap_locked())
		queue_delayed_work(shmdev_unbound_wq(), &shmdev_reap_work,
				   SHMDEV_REAP_INTERVAL);
	mutex_unlock(&shmdev_lock);
}

/* Capabilities count in the user namespace owning the names' namespace. */
static bool shmdev_capable(const struct shmdev_seg *seg, int cap)
{
	return ns_capable(seg->scope->ipc_ns->user_ns, cap);
}

/* SysV-style permission check (ipcperms()) for attaching @seg. */
static bool shmdev_may_attach(const struct shmdev_seg *seg, bool rdonly)
{
	int want = rdonly ? 04 : 06;
	int granted = seg->mode;

	lockdep_assert_held(&shmdev_lock);
	if (uid_eq(current_euid(), seg->uid))
		granted >>= 6;
	else if (in_group_p(seg->gid))
		granted >>= 3;
	if (!(want & ~granted & 07))
		return true;
	return shmdev_capable(seg, CAP_IPC_OWNER);
}

/* May the caller unlink @seg or change its owner and mode (IPC_SET)? */
static bool shmdev_is_owner(const struct shmdev_seg *seg)
{
	lockdep_assert_held(&shmdev_lock);
	return uid_eq(current_euid(), seg->uid) ||
	       shmdev_capable(seg, CAP_IPC_OWNER) ||
	       shmdev_capable(seg, CAP_SYS_ADMIN);
}

static long shmdev_ioc_version(struct shmdev_version __user *uarg)
{
	struct shmdev_version ver;

	memset(&ver, 0, sizeof(ver));
	ver.api_version = SHMDEV_API_VERSION;
	ver.features = SHMDEV_FEATURES;
	ver.max_segment_size = READ_ONCE(max_segment_size);
	ver.max_total_bytes = READ_ONCE(max_total_bytes);
	ver.max_segments = READ_ONCE(max_segments);
	if (shmdev_huge_order())
		ver.huge_page_size = PAGE_SIZE << shmdev_huge_order();
	return copy_to_user(uarg, &ver, sizeof(ver)) ? -EFAULT : 0;
}

/* Create a segment and bind @file to it; adds named ones to the table. */
static int shmdev_create_locked(struct file *file,
				const struct shmdev_create *arg, u64 *id)
{
	struct shmdev_scope *scope = NULL;
	struct shmdev_seg *seg;
	struct file *segfile;

	lockdep_assert_held(&shmdev_lock);
	if (shmdev_bound(file))
		return -EBUSY;
	if (arg->name[0] && shmdev_lookup(arg->name))
		return -EEXIST;
	if (atomic_read(&shmdev_nr_segments) >= READ_ONCE(max_segments))
		return -ENOSPC;
	if (arg->name[0]) {
		scope = shmdev_current_scope();
		if (!scope)
			scope = shmdev_scope_new();
		if (!scope)
			return -ENOMEM;
	}

	seg = shmdev_seg_new(arg->name, arg->size, arg->mode, arg->flags);
	if (IS_ERR(seg)) {
		segfile = ERR_CAST(seg);
		goto err_free_scope;
	}
	segfile = shmdev_seg_open(seg, false,
				  arg->flags & SHMDEV_CREATE_PREMAP);
	if (IS_ERR(segfile)) {
		shmdev_seg_put(seg);
		goto err_free_scope;
	}
	if (scope)
		/* The creator's reference becomes the name table's. */
		shmdev_link_locked(scope, seg);
	else
		shmdev_seg_put(seg);
	*id = seg->id;
	shmdev_bind(file, segfile);
	return 0;

err_free_scope:
	if (scope && list_empty(&scope->segs))
		shmdev_scope_free(scope);
	return PTR_ERR(segfile);
}

static const struct file_operations shmdev_fops;

/*
 * SHMDEV_{CREATE,ATTACH}_NEWFD: a new, unbound file on the device and a
 * descriptor for it, which shmdev_install_new_file() installs once the
 * ioctl has bound the file.
 */
static int shmdev_open_new_file(struct file **filep, int *fdp)
{
	struct file *file;
	int fd;

	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0)
		return fd;
	file = anon_inode_getfile("[shmdev]", &shmdev_fops, NULL, O_RDWR);
	if (IS_ERR(file)) {
		put_unused_fd(fd);
		return PTR_ERR(file);
	}
	*filep = file;
	*fdp = fd;
	return 0;
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

/* Size limits shared by CREATE and RESIZE. */
static int shmdev_check_size(u64 size)
{
	if (!size)
		return -EINVAL;
	if (size > READ_ONCE(max_segment_size) || size > MAX_LFS_FILESIZE)
		return -EFBIG;
	return 0;
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
	ret = shmdev_check_size(arg.size);
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

	segfile = shmdev_seg_open(seg, rdonly,
				  arg->flags & SHMDEV_ATTACH_PREMAP);
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
	int ret, fd = -1;

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
	if (arg.flags & SHMDEV_ATTACH_NEWFD) {
		ret = shmdev_open_new_file(&file, &fd);
		if (ret)
			return ret;
	}

	mutex_lock(&shmdev_lock);
	ret = shmdev_attach_locked(file, &arg);
	mutex_unlock(&shmdev_lock);
	if (!ret && copy_to_user(uarg, &arg, sizeof(arg)))
		ret = -EFAULT;
	if (fd >= 0)
		return shmdev_install_new_file(file, fd, ret);
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
	ret = shmdev_check_size(arg.size);
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
	if (!shmdev_is_owner(seg))
		return -EPERM;
	if (arg->flags & SHMDEV_SETPERM_MODE)
		seg->mode = arg->mode;
	if (arg->flags & SHMDEV_SETPERM_UID)
		seg->uid = uid;
	if (arg->flags & SHMDEV_SETPERM_GID)
		seg->gid = gid;
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

/* Fills @out with up to @room listable segments after @after_id. */
static u32 shmdev_list_locked(u64 after_id, struct shmdev_info *out, u32 room,
			      u32 *nr_total)
{
	struct shmdev_scope *scope = shmdev_current_scope();
	struct shmdev_seg *seg;
	u32 nr = 0, total = 0;

	lockdep_assert_held(&shmdev_lock);
	if (!scope)
		goto out;
	list_for_each_entry(seg, &scope->segs, scope_node) {
		if (seg->id <= after_id)
			continue;
		if (!uid_eq(current_euid(), seg->uid) &&
		    !shmdev_may_attach(seg, true))
			continue;
		total++;
		if (nr < room)
			shmdev_fill_info(seg, &out[nr++]);
	}
out:
	*nr_total = total;
	return nr;
}

static long shmdev_ioc_list(struct shmdev_list __user *uarg)
{
	struct shmdev_info *entries = NULL;
	struct shmdev_list arg;
	u32 room;
	int ret = 0;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (arg.flags || arg.pad ||
	    memchr_inv(arg.reserved, 0, sizeof(arg.reserved)))
		return -EINVAL;
	room = min_t(u32, arg.nr_entries, SHMDEV_LIST_MAX);
	if (room) {
		entries = kvcalloc(room, sizeof(*entries), GFP_KERNEL);
		if (!entries)
			return -ENOMEM;
	}

	mutex_lock(&shmdev_lock);
	arg.nr_entries = shmdev_list_locked(arg.after_id, entries, room,
					    &arg.nr_total);
	mutex_unlock(&shmdev_lock);

	if (copy_to_user(u64_to_user_ptr(arg.entries), entries,
			 array_size(arg.nr_entries, sizeof(*entries))) ||
	    copy_to_user(uarg, &arg, sizeof(arg)))
		ret = -EFAULT;
	kvfree(entries);
	return ret;
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
	.get_unmapped_area = shmdev_get_unmapped_area,
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
	struct shmdev_scope *scope, *tmp;

	cancel_delayed_work_sync(&shmdev_reap_work);
	mutex_lock(&shmdev_lock);
	list_for_each_entry_safe(scope, tmp, &shmdev_scopes, node)
		shmdev_scope_unlink_all(scope);
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
	BUILD_BUG_ON(sizeof(struct shmdev_resize) != 32);
	BUILD_BUG_ON(sizeof(struct shmdev_seals) != 32);
	BUILD_BUG_ON(sizeof(struct shmdev_setperm) != 96);
	BUILD_BUG_ON(sizeof(struct shmdev_list) != 48);
}

static int __init shmdev_init(void)
{
	u64 ram;
	int err;

	shmdev_check_abi();

	ram = min_t(u64, (u64)totalram_pages() << PAGE_SHIFT, ULONG_MAX);
	if (!max_segment_size)
		max_segment_size = ram;
	if (!max_total_bytes)
		max_total_bytes = ram;

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
MODULE_VERSION(SHMDEV_VERSION);
