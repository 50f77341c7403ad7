/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * shmdev: named, permissioned shared-memory segments behind /dev/shmdev.
 *
 * A process opens /dev/shmdev, which gives an unbound file. SHMDEV_IOC_CREATE
 * or SHMDEV_IOC_ATTACH binds that file to one segment for the rest of its
 * life; mmap() on the bound file then maps the segment's pages, which every
 * process mapping the segment shares.
 *
 * A /dev/shmdev file opened without write access (O_RDONLY) may VERSION,
 * LIST, INFO, STAT, GET_SEALS, ACK and ATTACH with SHMDEV_ATTACH_RDONLY;
 * CREATE, read-write ATTACH, UNLINK, RESIZE, ADD_SEALS, SETPERM, RING (and
 * setting LIMITS) fail on it with EBADF, as write() would. So the device
 * node's own mode can let everyone read while a group creates (0664, group
 * shmdev), and a file made by a NEWFD flag has the access of the file the
 * ioctl came through.
 *
 * A bound file can also be waited on with poll(), epoll or io_uring: see
 * the doorbells below.
 *
 * Every structure below has a fixed layout on 32- and 64-bit ABIs: fields are
 * __u32/__u64, padding is explicit and every reserved field must be zero on
 * input (the ioctl fails with EINVAL otherwise). The kernel zeroes every
 * structure it copies back before filling it in.
 */
#ifndef _UAPI_LINUX_SHMDEV_H
#define _UAPI_LINUX_SHMDEV_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define SHMDEV_DEVICE_PATH	"/dev/shmdev"

/* Interface version reported by SHMDEV_IOC_VERSION. */
#define SHMDEV_API_VERSION	3

/*
 * Segment names: 1 to SHMDEV_NAME_MAX - 1 bytes of graphic ASCII (0x21 to
 * 0x7e) other than '/', NUL-terminated inside the SHMDEV_NAME_MAX bytes of
 * the field.
 */
#define SHMDEV_NAME_MAX		64

/* Feature bits reported in shmdev_version.features. */
#define SHMDEV_FEAT_NAMED	(1ULL << 0)	/* named, persistent segments */
#define SHMDEV_FEAT_ANON	(1ULL << 1)	/* anonymous segments */
#define SHMDEV_FEAT_RDONLY	(1ULL << 2)	/* read-only attach */
#define SHMDEV_FEAT_RESIZE	(1ULL << 3)	/* SHMDEV_IOC_RESIZE */
#define SHMDEV_FEAT_SEALS	(1ULL << 4)	/* SHMDEV_IOC_{ADD,GET}_SEALS */
#define SHMDEV_FEAT_SETPERM	(1ULL << 5)	/* SHMDEV_IOC_SETPERM */
#define SHMDEV_FEAT_LIST	(1ULL << 6)	/* SHMDEV_IOC_LIST */
#define SHMDEV_FEAT_IPC_NS	(1ULL << 7)	/* names are per IPC namespace */
#define SHMDEV_FEAT_HUGE	(1ULL << 8)	/* SHMDEV_CREATE_HUGE accepted */
#define SHMDEV_FEAT_PREMAP	(1ULL << 9)	/* SHMDEV_{CREATE,ATTACH}_PREMAP */
#define SHMDEV_FEAT_NEWFD	(1ULL << 10)	/* SHMDEV_{CREATE,ATTACH}_NEWFD */
#define SHMDEV_FEAT_SHMEM	(1ULL << 11)	/* shmem pages: swap, mbind(), */
						/* pins; info.nr_swapped */
#define SHMDEV_FEAT_LOCKED	(1ULL << 12)	/* SHMDEV_CREATE_LOCKED */
#define SHMDEV_FEAT_DEV_ACCESS	(1ULL << 13)	/* a file opened O_RDONLY */
						/* changes nothing; creator */
						/* may UNLINK and SETPERM */
#define SHMDEV_FEAT_NS_LIMITS	(1ULL << 14)	/* limits per IPC namespace, */
						/* SHMDEV_IOC_LIMITS */
#define SHMDEV_FEAT_STAT	(1ULL << 15)	/* SHMDEV_IOC_STAT, */
						/* SHMDEV_LIST_STAT, */
						/* SHMDEV_UNLINK_IF_UNUSED */
#define SHMDEV_FEAT_DOORBELL	(1ULL << 16)	/* poll(), SHMDEV_IOC_RING, */
						/* SHMDEV_IOC_ACK */
#define SHMDEV_FEAT_REATTACH	(1ULL << 17)	/* ATTACH with NEWFD and no */
						/* name: the file's segment */

/*
 * Names live in the IPC namespace of the process that creates the segment:
 * ATTACH, UNLINK, SETPERM and LIST see only the names of the caller's IPC
 * namespace. Permission checks compare kernel uids and gids, and the
 * capabilities that override them (CAP_IPC_OWNER, CAP_SYS_ADMIN) count only
 * in the user namespace that owns that IPC namespace.
 *
 * Limits, set by root through /sys/module/shmdev/parameters/, fail with:
 *   max_segments		ENOSPC (CREATE)
 *   max_segment_size	EFBIG  (CREATE, RESIZE)
 *   max_total_bytes	ENOMEM (CREATE, RESIZE; sum of all segment sizes)
 * Each IPC namespace has the same three limits for the segments created in
 * it, anonymous ones too (SHMDEV_IOC_LIMITS); the module's bound them all.
 */

/**
 * struct shmdev_version - SHMDEV_IOC_VERSION result
 * @api_version:	SHMDEV_API_VERSION of the running module
 * @pad:		zero
 * @features:		SHMDEV_FEAT_* bits the module supports
 * @max_segment_size:	largest segment size, in bytes
 * @max_total_bytes:	largest sum of the sizes of all segments, in bytes
 * @max_segments:	most segments that may exist at once
 *			(these three as in force for the caller's IPC
 *			namespace: see struct shmdev_limits)
 * @pad2:		zero
 * @huge_page_size:	size of the pages a SHMDEV_CREATE_HUGE segment is
 *			built from when memory allows, the PMD size (2 MiB on
 *			x86-64 and on arm64 with 4 KiB pages, 32 MiB with
 *			16 KiB pages), or 0 if this kernel cannot map them
 *			(and such segments use base pages only)
 * @reserved:		zero
 */
struct shmdev_version {
	__u32 api_version;
	__u32 pad;
	__u64 features;
	__u64 max_segment_size;
	__u64 max_total_bytes;
	__u32 max_segments;
	__u32 pad2;
	__u64 huge_page_size;
	__u64 reserved[2];
};

/*
 * shmdev_create.flags
 *
 * HUGE: build the segment from huge pages (shmdev_version.huge_page_size),
 * each mapped by a single page-table entry where the mapping is aligned to
 * it. The size must be a multiple of shmdev_version.huge_page_size, or of
 * SHMDEV_HUGE_ALIGN where that is 0 (EINVAL otherwise), at CREATE and at
 * every RESIZE. Where a huge page cannot be allocated, that part of
 * the segment falls back to base pages; shmdev_info.nr_huge_pages tells how
 * much of it is huge.
 *
 * PREMAP: every shared mmap() of this file allocates the pages of the mapped
 * range that the segment does not hold yet and maps them all at once, so
 * that accesses through the mapping do not page-fault. As
 * SHMDEV_ATTACH_PREMAP.
 *
 * LOCKED: the segment's pages stay in memory, never swapped, as after
 * SysV's SHM_LOCK. Its size in pages is charged to the creator's
 * RLIMIT_MEMLOCK (as locked memory, VmLck) until the segment is freed, and
 * RESIZE charges or returns the difference: ENOMEM beyond the limit, unless
 * the caller has CAP_IPC_LOCK.
 *
 * NEWFD: bind a new file instead of this one, which is left as it was, and
 * return its descriptor (close-on-exec) as the ioctl's result: one open of
 * /dev/shmdev serves any number of segments, each then costing one system
 * call, as memfd_create() does. As SHMDEV_ATTACH_NEWFD.
 */
#define SHMDEV_CREATE_HUGE		(1U << 0)
#define SHMDEV_CREATE_PREMAP		(1U << 1)
#define SHMDEV_CREATE_NEWFD		(1U << 2)
#define SHMDEV_CREATE_LOCKED		(1U << 3)
#define SHMDEV_CREATE_FLAGS_MASK	(SHMDEV_CREATE_HUGE | \
					 SHMDEV_CREATE_PREMAP | \
					 SHMDEV_CREATE_NEWFD | \
					 SHMDEV_CREATE_LOCKED)

/*
 * Size granule of SHMDEV_CREATE_HUGE segments where the kernel has no huge
 * pages (shmdev_version.huge_page_size 0), and the huge page size of
 * x86-64. Elsewhere the granule is huge_page_size: 32 MiB on arm64 with
 * 16 KiB pages.
 */
#define SHMDEV_HUGE_ALIGN		(2ULL << 20)

/**
 * struct shmdev_create - SHMDEV_IOC_CREATE argument
 * @name:	segment name; an empty string creates an anonymous segment,
 *		which lives only as long as files and mappings refer to it
 * @size:	size in bytes, 1 to shmdev_version.max_segment_size
 * @mode:	permission bits (0 to 0777) checked by SHMDEV_IOC_ATTACH
 * @flags:	SHMDEV_CREATE_* bits
 * @id:		out: identifier of the new segment, unique while the module
 *		is loaded
 * @reserved:	zero
 *
 * Fails with EEXIST if a segment of that name exists in the caller's IPC
 * namespace, EBUSY if the file is already bound (unless NEWFD), and with
 * the errors of the limits above. Returns 0, or with NEWFD the new file
 * descriptor.
 */
struct shmdev_create {
	char  name[SHMDEV_NAME_MAX];
	__u64 size;
	__u32 mode;
	__u32 flags;
	__u64 id;
	__u64 reserved[4];
};

/* shmdev_attach.flags */
#define SHMDEV_ATTACH_RDONLY		(1U << 0)	/* map read-only */
#define SHMDEV_ATTACH_PREMAP		(1U << 1)	/* as SHMDEV_CREATE_PREMAP */
#define SHMDEV_ATTACH_NEWFD		(1U << 2)	/* as SHMDEV_CREATE_NEWFD */
#define SHMDEV_ATTACH_FLAGS_MASK	(SHMDEV_ATTACH_RDONLY | \
					 SHMDEV_ATTACH_PREMAP | \
					 SHMDEV_ATTACH_NEWFD)

/**
 * struct shmdev_attach - SHMDEV_IOC_ATTACH argument
 * @name:	name of an existing segment
 * @flags:	SHMDEV_ATTACH_* bits
 * @pad:	zero
 * @size:	out: segment size in bytes
 * @id:		out: segment identifier
 * @reserved:	zero
 *
 * Read-write attach needs read and write permission, read-only attach read
 * permission (EACCES otherwise). ENOENT if no segment has that name. Returns
 * 0, or with SHMDEV_ATTACH_NEWFD the new file descriptor.
 *
 * With SHMDEV_ATTACH_NEWFD and an empty @name, the ioctl binds a new file
 * to the segment of the file it is made on (SHMDEV_FEAT_REATTACH), named
 * or anonymous, unlinked or not: with no permission check, and with no
 * more access than that file has (read-write only from a file bound
 * read-write, EACCES otherwise; ENODEV if the file is not bound). So a
 * process that received an anonymous segment's file can have files of its
 * own on it, as each waiter on a doorbell needs.
 */
struct shmdev_attach {
	char  name[SHMDEV_NAME_MAX];
	__u32 flags;
	__u32 pad;
	__u64 size;
	__u64 id;
	__u64 reserved[4];
};

/*
 * Seals, with the meaning of memfd's F_SEAL_* (same values):
 *   SEAL		no more seals can be added
 *   SHRINK		RESIZE cannot make the segment smaller
 *   GROW		RESIZE cannot make the segment larger
 *   WRITE		contents are frozen: no writable shared mapping can be
 *			made, and the seal is refused (EBUSY) while one exists
 *   FUTURE_WRITE	no new writable shared mapping; existing ones keep
 *			writing
 * Private (copy-on-write) mappings stay allowed under every seal.
 */
#define SHMDEV_SEAL_SEAL		0x0001U
#define SHMDEV_SEAL_SHRINK		0x0002U
#define SHMDEV_SEAL_GROW		0x0004U
#define SHMDEV_SEAL_WRITE		0x0008U
#define SHMDEV_SEAL_FUTURE_WRITE	0x0010U
#define SHMDEV_SEAL_MASK		0x001fU

/* shmdev_info.flags */
#define SHMDEV_INFO_ANON	(1U << 0)	/* anonymous segment */
#define SHMDEV_INFO_UNLINKED	(1U << 1)	/* name removed by UNLINK */
#define SHMDEV_INFO_RDONLY	(1U << 2)	/* this file attached read-only */
#define SHMDEV_INFO_HUGE	(1U << 3)	/* created with SHMDEV_CREATE_HUGE */
#define SHMDEV_INFO_PREMAP	(1U << 4)	/* this file pre-maps on mmap() */
#define SHMDEV_INFO_LOCKED	(1U << 5)	/* created with SHMDEV_CREATE_LOCKED */

/**
 * struct shmdev_info - SHMDEV_IOC_INFO result, for the file's segment
 * @id:		segment identifier
 * @size:	size in bytes
 * @flags:	SHMDEV_INFO_* bits
 * @mode:	permission bits
 * @uid:	owner user id, as seen from the caller's user namespace
 * @gid:	owner group id, as seen from the caller's user namespace
 * @nr_files:	/dev/shmdev files bound to the segment
 * @nr_maps:	memory mappings (VMAs) of the segment, in all processes
 * @nr_pages:	pages the segment holds in memory
 * @name:	segment name; empty for an anonymous segment
 * @seals:	SHMDEV_SEAL_* bits in force
 * @pad:	zero
 * @nr_huge_pages: huge pages among the segment's pages; each one counts
 *		huge_page_size / page size times in @nr_pages
 * @nr_swapped:	pages of the segment in swap, not counted in @nr_pages
 *		(SHMDEV_FEAT_SHMEM; zero before)
 * @reserved:	zero
 */
struct shmdev_info {
	__u64 id;
	__u64 size;
	__u32 flags;
	__u32 mode;
	__u32 uid;
	__u32 gid;
	__u32 nr_files;
	__u32 nr_maps;
	__u64 nr_pages;
	char  name[SHMDEV_NAME_MAX];
	__u32 seals;
	__u32 pad;
	__u64 nr_huge_pages;
	__u64 nr_swapped;
	__u32 reserved[2];
};

/*
 * shmdev_unlink.flags
 *   IF_UNUSED	only if no file is bound to the segment and nothing maps it
 *		(EBUSY otherwise), checked and done at once, so that a tool
 *		removing abandoned segments never removes one in use
 */
#define SHMDEV_UNLINK_IF_UNUSED		(1U << 0)
#define SHMDEV_UNLINK_FLAGS_MASK	SHMDEV_UNLINK_IF_UNUSED

/**
 * struct shmdev_unlink - SHMDEV_IOC_UNLINK argument
 * @name:	name to remove
 * @flags:	SHMDEV_UNLINK_* bits
 * @pad:	zero
 * @reserved:	zero
 *
 * Removes the name at once; the memory goes when the last file and mapping
 * of the segment go. As SysV's IPC_RMID, only the owner, the creator or a
 * caller with CAP_SYS_ADMIN may unlink (EPERM otherwise): CAP_IPC_OWNER
 * overrides access checks only.
 */
struct shmdev_unlink {
	char  name[SHMDEV_NAME_MAX];
	__u32 flags;
	__u32 pad;
	__u64 reserved;
};

/**
 * struct shmdev_resize - SHMDEV_IOC_RESIZE argument
 * @size:	new size in bytes, 1 to shmdev_version.max_segment_size
 * @reserved:	zero
 *
 * Resizes the segment of a file bound read-write (EPERM for a read-only
 * file or against a SHRINK or GROW seal). Shrinking removes the pages
 * beyond the new end from every mapping, where later access raises
 * SIGBUS, and frees them; growing adds zeroes.
 */
struct shmdev_resize {
	__u64 size;
	__u64 reserved[3];
};

/**
 * struct shmdev_seals - SHMDEV_IOC_ADD_SEALS and SHMDEV_IOC_GET_SEALS
 * @seals:	SHMDEV_SEAL_* bits to add, or (GET) the seals in force
 * @pad:	zero
 * @reserved:	zero
 *
 * Adding seals needs a file bound read-write (EPERM otherwise, and once
 * SHMDEV_SEAL_SEAL is set); SHMDEV_SEAL_WRITE fails with EBUSY while a
 * writable shared mapping of the segment exists.
 */
struct shmdev_seals {
	__u32 seals;
	__u32 pad;
	__u64 reserved[3];
};

/* shmdev_setperm.flags: which fields to change */
#define SHMDEV_SETPERM_MODE		(1U << 0)
#define SHMDEV_SETPERM_UID		(1U << 1)
#define SHMDEV_SETPERM_GID		(1U << 2)
#define SHMDEV_SETPERM_FLAGS_MASK	0x7U

/**
 * struct shmdev_setperm - SHMDEV_IOC_SETPERM argument
 * @name:	name of the segment, in the caller's IPC namespace
 * @flags:	SHMDEV_SETPERM_* bits, at least one
 * @mode:	new permission bits (0 to 0777)
 * @uid:	new owner, as seen from the caller's user namespace
 * @gid:	new group, as seen from the caller's user namespace
 * @reserved:	zero
 *
 * Like IPC_SET: only the owner, the creator or a caller with CAP_SYS_ADMIN
 * may change them (EPERM otherwise). A uid or gid that has
 * no mapping in the caller's user namespace gives EINVAL. Files already
 * bound keep the access they were granted.
 */
struct shmdev_setperm {
	char  name[SHMDEV_NAME_MAX];
	__u32 flags;
	__u32 mode;
	__u32 uid;
	__u32 gid;
	__u64 reserved[2];
};

/* shmdev_limits.flags: which limits SHMDEV_IOC_LIMITS sets */
#define SHMDEV_LIMITS_SEGMENTS		(1U << 0)
#define SHMDEV_LIMITS_SEGMENT_SIZE	(1U << 1)
#define SHMDEV_LIMITS_TOTAL_BYTES	(1U << 2)
#define SHMDEV_LIMITS_FLAGS_MASK	0x7U

/**
 * struct shmdev_limits - SHMDEV_IOC_LIMITS argument
 * @max_segment_size:	largest segment, in bytes
 * @max_total_bytes:	largest sum of the sizes of the namespace's segments
 * @max_segments:	most segments of the namespace at once
 * @flags:		SHMDEV_LIMITS_* bits: the limits to set; 0 sets none
 * @nr_segments:	out: segments created in the namespace that exist
 * @total_bytes:	out: the sum of their sizes
 * @reserved:		zero
 *
 * The limits of the caller's IPC namespace, which bound the segments
 * created in it (named or anonymous, wherever they are used later) with
 * the errors of the module's limits above. A namespace starts with no
 * limits of its own, and the module parameters bound every namespace: on
 * return, the three limits are those in force, the smaller of the
 * namespace's own and the module's, as SHMDEV_IOC_VERSION reports them.
 *
 * Setting, which needs a file opened for writing (EBADF): a caller with
 * CAP_SYS_ADMIN in the initial user namespace may set any value, also
 * above the module's (~0 drops the namespace's own limit), in the IPC
 * namespace it is in (setns() into a container's to set the container's);
 * a caller with CAP_SYS_ADMIN over the user namespace that owns its IPC
 * namespace may only lower a limit below the one in force (EPERM to raise
 * it, and for anyone else). Existing segments are not touched; a limit
 * below the usage only stops creating and growing. Limits of a new IPC
 * namespace are the module's, not those of the namespace it came from.
 */
struct shmdev_limits {
	__u64 max_segment_size;
	__u64 max_total_bytes;
	__u32 max_segments;
	__u32 flags;
	__u64 nr_segments;
	__u64 total_bytes;
	__u64 reserved[3];
};

/**
 * struct shmdev_stat - SHMDEV_IOC_STAT result, and SHMDEV_LIST_STAT entries
 * @id:		segment identifier
 * @cpid:	process that created the segment, as seen from the caller's
 *		PID namespace; 0 if it is not visible there
 * @lpid:	process that last attached or detached it, as @cpid: CREATE
 *		and ATTACH bind a file to the segment (an attach), the
 *		release of such a file is a detach
 * @crtime:	creation time, in seconds since the Epoch
 * @atime:	time of the last attach (CREATE or ATTACH)
 * @dtime:	time of the last detach (a bound file released), or 0
 * @chtime:	time of the last change: creation, SETPERM, RESIZE or
 *		ADD_SEALS
 * @uid:	owner user id, as seen from the caller's user namespace
 * @gid:	owner group id, likewise
 * @nr_files:	/dev/shmdev files bound to the segment
 * @nr_maps:	memory mappings (VMAs) of the segment, in all processes
 * @name:	segment name; empty for an anonymous segment
 * @ino:	inode number of the segment's mappings, as the inode column
 *		of /proc/PID/maps shows it
 * @dev_major:	major number of their device (the maps' dev column)
 * @dev_minor:	minor number of it
 * @reserved:	zero
 *
 * What SysV's shmid_ds has besides permissions and size (shm_cpid,
 * shm_lpid, shm_atime, shm_dtime, shm_ctime), for ipcs -p and -t and for
 * finding abandoned segments; and what finds the segment's mappings in
 * /proc/PID/maps. A file bound to a segment shows "shmdev-id:" and the id
 * in /proc/PID/fdinfo.
 */
struct shmdev_stat {
	__u64 id;
	__s32 cpid;
	__s32 lpid;
	__s64 crtime;
	__s64 atime;
	__s64 dtime;
	__s64 chtime;
	__u32 uid;
	__u32 gid;
	__u32 nr_files;
	__u32 nr_maps;
	char  name[SHMDEV_NAME_MAX];
	__u64 ino;
	__u32 dev_major;
	__u32 dev_minor;
	__u64 reserved[2];
};

/* shmdev_list.flags */
#define SHMDEV_LIST_STAT	(1U << 0)	/* entries are struct shmdev_stat */
#define SHMDEV_LIST_FLAGS_MASK	SHMDEV_LIST_STAT

/* Most entries SHMDEV_IOC_LIST writes in one call. */
#define SHMDEV_LIST_MAX		256

/**
 * struct shmdev_list - SHMDEV_IOC_LIST argument
 * @entries:	user pointer to an array of struct shmdev_info, or of
 *		struct shmdev_stat with SHMDEV_LIST_STAT
 * @after_id:	list only segments whose id is greater than this
 * @nr_entries:	in: room in @entries; out: entries written, at most
 *		SHMDEV_LIST_MAX
 * @flags:	SHMDEV_LIST_* bits
 * @nr_total:	out: listable segments with an id greater than @after_id
 * @pad:	zero
 * @reserved:	zero
 *
 * Lists the named segments of the caller's IPC namespace that the caller
 * owns or may attach read-only, in ascending id order. To list them all,
 * call again with @after_id set to the last id returned until @nr_entries
 * comes back equal to @nr_total (the room given is capped at
 * SHMDEV_LIST_MAX, so a short answer alone does not mean the end). The entries' SHMDEV_INFO_RDONLY
 * flag is always clear.
 */
struct shmdev_list {
	__u64 entries;
	__u64 after_id;
	__u32 nr_entries;
	__u32 flags;
	__u32 nr_total;
	__u32 pad;
	__u64 reserved[2];
};

/*
 * Doorbells (SHMDEV_FEAT_DOORBELL): each segment has SHMDEV_NR_BELLS
 * counters that any file bound to it read-write may ring (SHMDEV_IOC_RING)
 * and that every file bound to it, read-only ones too, may wait on with
 * poll(), select(), epoll or io_uring, so a process that can attach the
 * segment can be woken through it with no other channel.
 *
 * Each bound file counts the rings of every doorbell from the moment it is
 * bound, and is readable (EPOLLIN) while a doorbell it watches has been
 * rung more times than the file has acknowledged: SHMDEV_IOC_ACK returns
 * those counts and resets them, as read() on an eventfd does, so no ring
 * is lost and none is reported twice. A file watches every doorbell until
 * SHMDEV_ACK_WATCH chooses some. Counts are kept modulo 2^64.
 *
 * Files that share one open file description (after fork() or SCM_RIGHTS)
 * share its counts: a waiter that must not miss a ring another waiter
 * acknowledges needs a file of its own (attach again, or NEWFD).
 *
 * Ringing needs a file bound read-write (EPERM on a read-only attach), as
 * every other change a process makes to a segment: a read-only attach
 * never changes what writers see. A file bound read-write is always
 * writable (EPOLLOUT), since ringing never blocks.
 *
 * A file whose named segment has been unlinked and which is the last file
 * bound to it reports EPOLLHUP: no other file can ring it any more, and no
 * new one can be bound by name (processes that share this one file can
 * still ring through it; anonymous segments never report EPOLLHUP, their
 * files being passed around as they are). An unbound file reports
 * EPOLLERR and is never woken: bind a file before adding it to epoll or
 * io_uring.
 */
#define SHMDEV_NR_BELLS		8

/**
 * struct shmdev_bell - SHMDEV_IOC_RING argument
 * @bell:	doorbell to ring, 0 to SHMDEV_NR_BELLS - 1
 * @count:	rings to add, at least 1
 * @flags:	zero
 * @pad:	zero
 * @reserved:	zero
 *
 * Adds @count to the doorbell and wakes every poller of the segment's
 * files. EINVAL for a bad doorbell, count, flag or reserved field, EPERM
 * for a read-only attach, EBADF on a /dev/shmdev file opened O_RDONLY,
 * ENODEV for an unbound file.
 */
struct shmdev_bell {
	__u32 bell;
	__u32 count;
	__u32 flags;
	__u32 pad;
	__u64 reserved[2];
};

/*
 * shmdev_ack.flags
 *   WATCH	first make @bells the doorbells that make this file readable
 *		(at least one); until then it watches all of them
 */
#define SHMDEV_ACK_WATCH		(1U << 0)
#define SHMDEV_ACK_FLAGS_MASK		SHMDEV_ACK_WATCH

/**
 * struct shmdev_ack - SHMDEV_IOC_ACK argument
 * @bells:	bit n set acknowledges doorbell n; 0 means the doorbells the
 *		file watches
 * @flags:	SHMDEV_ACK_* bits
 * @counts:	out: for each acknowledged doorbell, the rings since this
 *		file last acknowledged it (or was bound); 0 for the others
 * @reserved:	zero
 *
 * Returns and resets this file's counts. A read-only attach may
 * acknowledge. EINVAL for a bell beyond SHMDEV_NR_BELLS or a bad flag or
 * reserved field, ENODEV for an unbound file.
 */
struct shmdev_ack {
	__u32 bells;
	__u32 flags;
	__u64 counts[SHMDEV_NR_BELLS];
	__u64 reserved[2];
};

#define SHMDEV_IOC_MAGIC	0xD5

#define SHMDEV_IOC_VERSION	_IOR(SHMDEV_IOC_MAGIC, 0x00, struct shmdev_version)
#define SHMDEV_IOC_CREATE	_IOWR(SHMDEV_IOC_MAGIC, 0x01, struct shmdev_create)
#define SHMDEV_IOC_ATTACH	_IOWR(SHMDEV_IOC_MAGIC, 0x02, struct shmdev_attach)
#define SHMDEV_IOC_INFO		_IOR(SHMDEV_IOC_MAGIC, 0x03, struct shmdev_info)
#define SHMDEV_IOC_UNLINK	_IOW(SHMDEV_IOC_MAGIC, 0x04, struct shmdev_unlink)
#define SHMDEV_IOC_RESIZE	_IOW(SHMDEV_IOC_MAGIC, 0x05, struct shmdev_resize)
#define SHMDEV_IOC_ADD_SEALS	_IOW(SHMDEV_IOC_MAGIC, 0x06, struct shmdev_seals)
#define SHMDEV_IOC_GET_SEALS	_IOR(SHMDEV_IOC_MAGIC, 0x07, struct shmdev_seals)
#define SHMDEV_IOC_SETPERM	_IOW(SHMDEV_IOC_MAGIC, 0x08, struct shmdev_setperm)
#define SHMDEV_IOC_LIST		_IOWR(SHMDEV_IOC_MAGIC, 0x09, struct shmdev_list)
#define SHMDEV_IOC_LIMITS	_IOWR(SHMDEV_IOC_MAGIC, 0x0a, struct shmdev_limits)
#define SHMDEV_IOC_STAT		_IOR(SHMDEV_IOC_MAGIC, 0x0b, struct shmdev_stat)
#define SHMDEV_IOC_RING		_IOW(SHMDEV_IOC_MAGIC, 0x0c, struct shmdev_bell)
#define SHMDEV_IOC_ACK		_IOWR(SHMDEV_IOC_MAGIC, 0x0d, struct shmdev_ack)

#endif /* _UAPI_LINUX_SHMDEV_H */
