// SPDX-License-Identifier: GPL-2.0
/*
 * shmdev's permission checks, modelled on SysV IPC's (ipcperms() in
 * ipc/util.c): owner, group and other bits of the segment's mode, and
 * capabilities that count in the user namespace owning the IPC namespace
 * its name lives in.
 */

#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/lockdep.h>
#include <linux/uidgid.h>

#include "internal.h"

/* Capabilities count in the user namespace owning the names' namespace. */
static bool shmdev_capable(const struct shmdev_seg *seg, int cap)
{
	return ns_capable(shmdev_seg_user_ns(seg), cap);
}

/* SysV-style permission check (ipcperms()) for attaching @seg. */
bool shmdev_may_attach(const struct shmdev_seg *seg, bool rdonly)
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
bool shmdev_is_owner(const struct shmdev_seg *seg)
{
	lockdep_assert_held(&shmdev_lock);
	return uid_eq(current_euid(), seg->uid) ||
	       shmdev_capable(seg, CAP_IPC_OWNER) ||
	       shmdev_capable(seg, CAP_SYS_ADMIN);
}
