// SPDX-License-Identifier: GPL-2.0
/*
 * shmdev's names: the name table, scoped by IPC namespace, and the reaper
 * of the names of dead namespaces.
 *
 * Names are scoped by IPC namespace, as SysV IPC objects and POSIX message
 * queues are: each IPC namespace that has created a segment has a struct
 * shmdev_scope, which holds a reference to it, its names and its limits. A
 * scope whose namespace has no other reference left can never be entered
 * again; a periodic reaper unlinks its segments, frees the scope once no
 * segment of the namespace is left, and so lets the namespace go.
 */

#include <linux/hashtable.h>
#include <linux/ipc_namespace.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/nsproxy.h>
#include <linux/sched.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/stringhash.h>
#include <linux/workqueue.h>

#include "compat.h"
#include "internal.h"

/* How often the reaper looks for dead IPC namespaces. */
#define SHMDEV_REAP_INTERVAL	HZ

/**
 * struct shmdev_scope - the names of one IPC namespace
 * @node:	entry in shmdev_scopes; shmdev_lock
 * @ipc_ns:	the namespace, of which the scope holds a reference; constant
 * @segs:	named segments, in ascending id order; shmdev_lock
 * @limits:	the namespace's limits, and its segments' usage of them
 *
 * Exists from the namespace's first CREATE while the namespace lives, and
 * after it while a segment created in it exists (charged to @limits).
 */
struct shmdev_scope {
	struct list_head	node;
	struct ipc_namespace	*ipc_ns;
	struct list_head	segs;
	struct shmdev_ns_limits	limits;
};

/* Serialises the name table, the scopes and the binding of device files. */
DEFINE_MUTEX(shmdev_lock);
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
	shmdev_ns_limits_init(&scope->limits);
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
	WARN_ON_ONCE(!list_empty(&scope->segs) ||
		     atomic_read(&scope->limits.nr_segments));
	list_del(&scope->node);
	shmdev_put_ipc_ns(scope->ipc_ns);
	kfree(scope);
}

/*
 * A name is 1 to SHMDEV_NAME_MAX - 1 graphic ASCII characters other than
 * '/', NUL-terminated inside the field. Returns its length or -errno.
 */
int shmdev_check_name(const char *name, bool may_be_empty)
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
struct shmdev_seg *shmdev_lookup(const char *name)
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

void shmdev_link_locked(struct shmdev_scope *scope, struct shmdev_seg *seg)
{
	lockdep_assert_held(&shmdev_lock);
	seg->scope = scope;
	seg->name_hash = shmdev_name_hash(scope, seg->name);
	hash_add(shmdev_names, &seg->node, seg->name_hash);
	/* Ids only grow: the list stays sorted. */
	list_add_tail(&seg->scope_node, &scope->segs);
	WRITE_ONCE(seg->linked, true);
}

/* Removes @seg from the name table; the caller drops the table's ref. */
void shmdev_unlink_locked(struct shmdev_seg *seg)
{
	lockdep_assert_held(&shmdev_lock);
	hash_del(&seg->node);
	list_del_init(&seg->scope_node);
	seg->scope = NULL;
	WRITE_ONCE(seg->linked, false);
	shmdev_bells_wake_hangup(seg);
}

/* Unlinks every segment of @scope. */
static void shmdev_scope_unlink_all(struct shmdev_scope *scope)
{
	struct shmdev_seg *seg;

	lockdep_assert_held(&shmdev_lock);
	while (!list_empty(&scope->segs)) {
		seg = list_first_entry(&scope->segs, struct shmdev_seg,
				       scope_node);
		shmdev_unlink_locked(seg);
		shmdev_seg_put(seg);
	}
}

/* Whether a segment created in @scope's namespace still exists. */
static bool shmdev_scope_charged(const struct shmdev_scope *scope)
{
	/* Pairs with shmdev_uncount_segment(): its last touch is done. */
	return atomic_read_acquire(&scope->limits.nr_segments);
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

/*
 * Frees the names of dead namespaces, and their scopes once no segment of
 * theirs is left; true if a namespace is left to watch.
 */
static bool shmdev_reap_locked(void)
{
	struct shmdev_scope *scope, *tmp;
	bool watch = false;

	lockdep_assert_held(&shmdev_lock);
	list_for_each_entry_safe(scope, tmp, &shmdev_scopes, node) {
		if (shmdev_is_init_ipc_ns(scope->ipc_ns))
			continue;
		if (shmdev_scope_dead(scope)) {
			shmdev_scope_unlink_all(scope);
			if (!shmdev_scope_charged(scope)) {
				shmdev_scope_free(scope);
				continue;
			}
		}
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

static void shmdev_unlink_all_fn(struct work_struct *work)
{
	struct shmdev_scope *scope;

	mutex_lock(&shmdev_lock);
	list_for_each_entry(scope, &shmdev_scopes, node)
		shmdev_scope_unlink_all(scope);
	mutex_unlock(&shmdev_lock);
}

/*
 * Unload: nothing is open or mapped, so the table holds the last refs.
 * The segments it frees put their shmem files, and fput() in this task
 * would finish only when the task returns to user space, after module
 * exit, which waits for those files (shmdev_fs_exit()). A worker's fput()
 * goes to the kernel's delayed list instead, which module exit flushes.
 */
void shmdev_unlink_all(void)
{
	struct work_struct work;

	cancel_delayed_work_sync(&shmdev_reap_work);
	INIT_WORK_ONSTACK(&work, shmdev_unlink_all_fn);
	queue_work(shmdev_unbound_wq(), &work);
	flush_work(&work);
	destroy_work_on_stack(&work);
}

/*
 * Module exit, after every segment is gone (shmdev_fs_exit()): frees the
 * scopes, which the reaper keeps while their namespaces live.
 */
void shmdev_scopes_free(void)
{
	struct shmdev_scope *scope, *tmp;

	mutex_lock(&shmdev_lock);
	list_for_each_entry_safe(scope, tmp, &shmdev_scopes, node)
		shmdev_scope_free(scope);
	mutex_unlock(&shmdev_lock);
}

/**
 * shmdev_scope_get - the names and limits of the caller's IPC namespace
 *
 * Made if the namespace has none yet; it stays while the namespace lives.
 *
 * Return: the scope, or NULL without memory.
 */
struct shmdev_scope *shmdev_scope_get(void)
{
	struct shmdev_scope *scope = shmdev_current_scope();

	return scope ?: shmdev_scope_new();
}

/* The limits of the caller's IPC namespace, or NULL: the module's only. */
struct shmdev_ns_limits *shmdev_current_limits(void)
{
	struct shmdev_scope *scope = shmdev_current_scope();

	return scope ? &scope->limits : NULL;
}

struct shmdev_ns_limits *shmdev_scope_limits(struct shmdev_scope *scope)
{
	return &scope->limits;
}

/* The user namespace that owns the IPC namespace @seg is named in. */
struct user_namespace *shmdev_seg_user_ns(const struct shmdev_seg *seg)
{
	return seg->scope->ipc_ns->user_ns;
}

/*
 * The named segment after @seg in its IPC namespace, in id order, or with
 * @seg NULL the first of the caller's IPC namespace; NULL after the last.
 */
struct shmdev_seg *shmdev_name_next(struct shmdev_seg *seg)
{
	struct shmdev_scope *scope = seg ? seg->scope : shmdev_current_scope();

	lockdep_assert_held(&shmdev_lock);
	if (!scope)
		return NULL;
	if (seg)
		seg = list_next_entry(seg, scope_node);
	else
		seg = list_first_entry(&scope->segs, struct shmdev_seg,
				       scope_node);
	return list_entry_is_head(seg, &scope->segs, scope_node) ? NULL : seg;
}
