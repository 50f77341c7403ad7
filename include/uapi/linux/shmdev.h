/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * shmdev: named, permissioned shared-memory segments behind /dev/shmdev.
 *
 * A process opens /dev/shmdev, which gives an unbound file. SHMDEV_IOC_CREATE
 * or SHMDEV_IOC_ATTACH binds that file to one segment for the rest of its
 * life; mmap() on the bound file then maps the segment's pages, which every
 * process mapping the segment shares.
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
#define SHMDEV_API_VERSION	1

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

/**
 * struct shmdev_version - SHMDEV_IOC_VERSION result
 * @api_version:	SHMDEV_API_VERSION of the running module
 * @pad:		zero
 * @features:		SHMDEV_FEAT_* bits the module supports
 * @max_segment_size:	largest size SHMDEV_IOC_CREATE accepts, in bytes
 * @reserved:		zero
 */
struct shmdev_version {
	__u32 api_version;
	__u32 pad;
	__u64 features;
	__u64 max_segment_size;
	__u64 reserved[5];
};

/* shmdev_create.flags: none defined yet; every bit must be zero. */
#define SHMDEV_CREATE_FLAGS_MASK	0U

/**
 * struct shmdev_create - SHMDEV_IOC_CREATE argument
 * @name:	segment name; an empty string creates an anonymous segment,
 *		which lives only as long as files and mappings refer to it
 * @size:	size in bytes, 1 to shmdev_version.max_segment_size
 * @mode:	permission bits (0 to 0777) checked by SHMDEV_IOC_ATTACH
 * @flags:	zero (no flags defined yet)
 * @id:		out: identifier of the new segment, unique while the module
 *		is loaded
 * @reserved:	zero
 *
 * Fails with EEXIST if a segment of that name exists, EBUSY if the file is
 * already bound.
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
#define SHMDEV_ATTACH_FLAGS_MASK	SHMDEV_ATTACH_RDONLY

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
 * permission (EACCES otherwise). ENOENT if no segment has that name.
 */
struct shmdev_attach {
	char  name[SHMDEV_NAME_MAX];
	__u32 flags;
	__u32 pad;
	__u64 size;
	__u64 id;
	__u64 reserved[4];
};

/* shmdev_info.flags */
#define SHMDEV_INFO_ANON	(1U << 0)	/* anonymous segment */
#define SHMDEV_INFO_UNLINKED	(1U << 1)	/* name removed by UNLINK */
#define SHMDEV_INFO_RDONLY	(1U << 2)	/* this file attached read-only */

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
	__u64 reserved[4];
};

/**
 * struct shmdev_unlink - SHMDEV_IOC_UNLINK argument
 * @name:	name to remove
 * @reserved:	zero
 *
 * Removes the name at once; the memory goes when the last file and mapping
 * of the segment go. Only the owner, or a caller with CAP_SYS_ADMIN, may
 * unlink (EPERM otherwise).
 */
struct shmdev_unlink {
	char  name[SHMDEV_NAME_MAX];
	__u64 reserved[2];
};

#define SHMDEV_IOC_MAGIC	0xD5

#define SHMDEV_IOC_VERSION	_IOR(SHMDEV_IOC_MAGIC, 0x00, struct shmdev_version)
#define SHMDEV_IOC_CREATE	_IOWR(SHMDEV_IOC_MAGIC, 0x01, struct shmdev_create)
#define SHMDEV_IOC_ATTACH	_IOWR(SHMDEV_IOC_MAGIC, 0x02, struct shmdev_attach)
#define SHMDEV_IOC_INFO		_IOR(SHMDEV_IOC_MAGIC, 0x03, struct shmdev_info)
#define SHMDEV_IOC_UNLINK	_IOW(SHMDEV_IOC_MAGIC, 0x04, struct shmdev_unlink)

#endif /* _UAPI_LINUX_SHMDEV_H */
