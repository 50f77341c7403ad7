/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * libshmdev: named, permissioned shared-memory segments behind /dev/shmdev.
 *
 * Conventions, the same for every function:
 *  - a function that returns int returns 0 (or a file descriptor, or a
 *    non-negative value it documents) on success and a negative errno on
 *    failure; errno is unspecified afterwards;
 *  - a function that returns a pointer returns NULL on failure and sets
 *    errno;
 *  - nothing prints, exits, raises signals or keeps global state, so every
 *    function is thread-safe;
 *  - every file descriptor the library creates is close-on-exec.
 *
 * A segment is reached through a /dev/shmdev file descriptor bound to it
 * (shmdev_create(), shmdev_attach(), shmdev_open_or_create(),
 * shmdev_recv_fd()); close() it when done. Mappings outlive the descriptor.
 * Names follow the kernel's rules (see shmdev_check_name()); functions that
 * take a name reject a bad one before they make a system call.
 *
 * The ABI structures (struct shmdev_info, struct shmdev_version) and the
 * SHMDEV_* flags come from <linux/shmdev.h>, which libshmdev installs.
 * Functions and structures share some names, as stat() and struct stat do.
 */
#ifndef LIBSHMDEV_H
#define LIBSHMDEV_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <linux/shmdev.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Version of the library, "MAJOR.MINOR.PATCH". */
const char *shmdev_lib_version(void);

/* Opens /dev/shmdev unbound, read-write, close-on-exec; the fd or -errno. */
int shmdev_open_device(void);

/* SHMDEV_IOC_VERSION: API version, feature bits and limits of the module. */
int shmdev_version(struct shmdev_version *ver);

/*
 * Creates a segment of @size bytes and permission bits @mode (0 to 0777)
 * and returns a read-write fd bound to it. A NULL or empty @name creates an
 * anonymous segment. @flags: SHMDEV_CREATE_HUGE (huge pages; @size a
 * multiple of shmdev_version()'s huge_page_size, or of SHMDEV_HUGE_ALIGN
 * where that is 0), SHMDEV_CREATE_PREMAP (mmap() maps every
 * page at once), SHMDEV_CREATE_LOCKED (never swapped; charged to
 * RLIMIT_MEMLOCK, ENOMEM beyond it). EEXIST if the name exists.
 */
int shmdev_create(const char *name, uint64_t size, unsigned int mode,
		  unsigned int flags);

/*
 * Attaches the named segment; @flags is 0 (read-write) or
 * SHMDEV_ATTACH_RDONLY, either possibly with SHMDEV_ATTACH_PREMAP.
 * Returns the bound fd; ENOENT, EACCES.
 */
int shmdev_attach(const char *name, unsigned int flags);

/*
 * As shmdev_create() and shmdev_attach(), through @devfd, a /dev/shmdev
 * descriptor the caller keeps open (from shmdev_open_device()), which is
 * left as it was: each call returns a new descriptor (close-on-exec) bound
 * to the segment, at the cost of one system call (SHMDEV_*_NEWFD).
 */
int shmdev_create_at(int devfd, const char *name, uint64_t size,
		     unsigned int mode, unsigned int flags);
int shmdev_attach_at(int devfd, const char *name, unsigned int flags);

/*
 * A new descriptor (close-on-exec) bound to the segment @fd is bound to,
 * named or anonymous, with no more access than @fd: @flags as for
 * shmdev_attach(). For a process that received an anonymous segment and
 * needs files of its own on it (doorbell waiters). ENODEV if @fd is not
 * bound, EACCES for read-write from a read-only @fd.
 */
int shmdev_reattach(int fd, unsigned int flags);

/*
 * Attaches @name read-write, creating it with @size and @mode if it does not
 * exist, and retrying if it is removed in between. *@created (if not NULL)
 * tells whether this call created it. An existing segment keeps its size.
 */
int shmdev_open_or_create(const char *name, uint64_t size, unsigned int mode,
			  int *created);

/*
 * Maps the whole segment of @fd with @prot (PROT_READ, PROT_WRITE) and
 * @flags (MAP_SHARED or MAP_PRIVATE, optionally with MAP_POPULATE,
 * MAP_NORESERVE or MAP_LOCKED). Stores the mapping's length in *@length if
 * not NULL. Returns the address, or NULL with errno set.
 */
void *shmdev_map(int fd, int prot, int flags, size_t *length);

/*
 * Maps @length bytes from byte @offset of the segment; @offset need not be
 * page-aligned (the mapping starts at the page that holds it and the
 * returned pointer points at @offset). NULL with errno set on failure.
 */
void *shmdev_map_range(int fd, uint64_t offset, size_t length, int prot,
		       int flags);

/* Unmaps what shmdev_map() or shmdev_map_range() returned; 0 or -errno. */
int shmdev_unmap(void *addr, size_t length);

/* SHMDEV_IOC_INFO for the segment of @fd. */
int shmdev_info(int fd, struct shmdev_info *info);

/* SHMDEV_IOC_RESIZE: new size in bytes; @fd must be bound read-write. */
int shmdev_resize(int fd, uint64_t size);

/* SHMDEV_IOC_ADD_SEALS: adds SHMDEV_SEAL_* bits. */
int shmdev_add_seals(int fd, unsigned int seals);

/* SHMDEV_IOC_GET_SEALS: the SHMDEV_SEAL_* bits in force, or -errno. */
int shmdev_get_seals(int fd);

/*
 * SHMDEV_IOC_SETPERM: changes what @flags (SHMDEV_SETPERM_*) selects of
 * the mode, owner and group of the named segment.
 */
int shmdev_setperm(const char *name, unsigned int flags, unsigned int mode,
		   uid_t uid, gid_t gid);

/* shmdev_setperm() with SHMDEV_SETPERM_MODE. */
int shmdev_chmod(const char *name, unsigned int mode);

/* shmdev_setperm() for owner and group; (uid_t)-1 or (gid_t)-1 keeps one. */
int shmdev_chown(const char *name, uid_t uid, gid_t gid);

/* SHMDEV_IOC_UNLINK: removes the name; mappings and fds keep the memory. */
int shmdev_unlink(const char *name);

/*
 * Lists every segment the caller may see (SHMDEV_IOC_LIST) in ascending id
 * order into a malloc()ed array stored in *@entries (free() it; NULL when
 * there are none) and its length in *@count.
 */
int shmdev_list(struct shmdev_info **entries, size_t *count);

/*
 * The limits of the caller's IPC namespace (SHMDEV_IOC_LIMITS): sets those
 * @lim->flags names (0: none), then fills *@lim with the limits in force
 * and the namespace's usage. Symbol version LIBSHMDEV_1.1.
 */
int shmdev_limits(struct shmdev_limits *lim);

/*
 * SysV's bookkeeping of a segment (SHMDEV_IOC_STAT: creator and last
 * attaching pid, creation, attach, detach and change times) for a bound
 * fd, and for every segment the caller may see, as shmdev_list() does.
 * Symbol version LIBSHMDEV_1.1.
 */
int shmdev_stat(int fd, struct shmdev_stat *st);
int shmdev_list_stat(struct shmdev_stat **entries, size_t *count);

/*
 * shmdev_unlink() with SHMDEV_UNLINK_* @flags: SHMDEV_UNLINK_IF_UNUSED
 * fails with -EBUSY if a file is bound to the segment or a mapping of it
 * exists. Symbol version LIBSHMDEV_1.1.
 */
int shmdev_unlink_flags(const char *name, unsigned int flags);

/*
 * Calls @fn for each segment the caller may see, in ascending id order.
 * Returns 0, the first non-zero value @fn returned (which stops the walk),
 * or -errno.
 */
int shmdev_list_foreach(int (*fn)(const struct shmdev_info *info, void *arg),
			void *arg);

/* Sends @fd over the Unix socket @sock (SCM_RIGHTS, with one data byte). */
int shmdev_send_fd(int sock, int fd);

/* Receives a descriptor sent by shmdev_send_fd(); the new fd or -errno. */
int shmdev_recv_fd(int sock);

/*
 * 0 if @name is a valid segment name: 1 to SHMDEV_NAME_MAX - 1 bytes of
 * graphic ASCII (0x21 to 0x7e) other than '/'. -ENAMETOOLONG if it is
 * longer, -EINVAL otherwise. Reads at most SHMDEV_NAME_MAX bytes of @name.
 */
int shmdev_check_name(const char *name);

/*
 * Parses a size: decimal digits, optionally followed by K, M, G, T, P or E
 * (powers of 1024, either case, optionally followed by "iB" or "B").
 * Stores it in *@size; -EINVAL for bad syntax, -ERANGE if it overflows.
 */
int shmdev_parse_size(const char *str, uint64_t *size);

#ifdef __cplusplus
}
#endif

/* Synchronisation objects and message rings that live in a segment. */
#if defined(__has_include)
#if __has_include(<libshmdev/sync.h>)
#include <libshmdev/sync.h>
#endif
#if __has_include(<libshmdev/ring.h>)
#include <libshmdev/ring.h>
#endif
#else
#include <libshmdev/sync.h>
#include <libshmdev/ring.h>
#endif

#endif /* LIBSHMDEV_H */
