// SPDX-License-Identifier: GPL-2.0
/*
 * shmdev's permission checks, modelled on SysV IPC's (ipcperms() in
 * ipc/util.c): owner, group and other bits of the segment's mode, and
 * capabilities that count in the user namespace owning the IPC namespace
 * its name lives in.
 */

#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/ipc_namespace.h>
#include <linux/nsproxy.h>
#include <linux/sched.h>
#include <linux/lockdep.h>
#include <linux/uidgid.h>

#include "internal.h"

/* Capabilities count in the user namespace owning the names' namespace. */
static bool shmdev_capable(const struct shmdev_seg *seg, int cap)
{
	return ns_capable(shmdev_seg_user_ns(seg), cap);
}

/* The bits of @seg's mode (owner, group or other) that apply to the caller. */
static int shmdev_granted(const struct shmdev_seg *seg)
{
	int granted = seg->mode;

	if (uid_eq(current_euid(), seg->uid))
		granted >>= 6;
	else if (in_group_p(seg->gid))
		granted >>= 3;
	return granted & 07;
}

/* SysV-style permission check (ipcperms()) for attaching @seg. */
bool shmdev_may_attach(const struct shmdev_seg *seg, bool rdonly)
{
	int want = rdonly ? 04 : 06;

	lockdep_assert_held(&shmdev_lock);
	if (!(want & ~shmdev_granted(seg)))
		return true;
	return shmdev_capable(seg, CAP_IPC_OWNER);
}

/*
 * Does LIST show @seg to the caller: its owner, or one who may attach it
 * read-only? A listing asks this of every segment, so the capability that
 * widens it is looked up without an audit record for each.
 */
bool shmdev_may_list(const struct shmdev_seg *seg)
{
	lockdep_assert_held(&shmdev_lock);
	if (uid_eq(current_euid(), seg->uid) || (shmdev_granted(seg) & 04))
		return true;
	return ns_capable_noaudit(shmdev_seg_user_ns(seg), CAP_IPC_OWNER);
}

/*
 * May the caller unlink @seg or change its owner and mode? As SysV's
 * IPC_RMID and IPC_SET (ipcctl_obtain_check()): the owner, the creator or
 * CAP_SYS_ADMIN. CAP_IPC_OWNER bypasses access checks only, as for SysV.
 */
bool shmdev_may_control(const struct shmdev_seg *seg)
{
	kuid_t euid = current_euid();

	lockdep_assert_held(&shmdev_lock);
	return uid_eq(euid, seg->uid) || uid_eq(euid, seg->cuid) ||
	       shmdev_capable(seg, CAP_SYS_ADMIN);
}

/*
 * May the caller set the limits of its IPC namespace: lower them, with
 * CAP_SYS_ADMIN over the user namespace owning it; raise them too, with
 * CAP_SYS_ADMIN in the initial user namespace (the module's own limits
 * still bound them)?
 */
bool shmdev_may_lower_limits(void)
{
	return ns_capable(current->nsproxy->ipc_ns->user_ns, CAP_SYS_ADMIN);
}

bool shmdev_may_raise_limits(void)
{
	return capable(CAP_SYS_ADMIN);
}
