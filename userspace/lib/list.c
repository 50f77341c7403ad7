// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * libshmdev: listing the segments the caller may see (SHMDEV_IOC_LIST).
 *
 * The kernel writes at most SHMDEV_LIST_MAX entries a call, in ascending id
 * order; the walk asks again after the last id it got until a call comes
 * back short. Segments created or removed during the walk may or may not be
 * seen, but none is seen twice.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libshmdev.h"
#include "seg-private.h"

/*
 * One batch: the entries of the last call and what the walk needs. Entries
 * are struct shmdev_info, or struct shmdev_stat with SHMDEV_LIST_STAT;
 * both begin with the segment's id.
 */
struct list_walk {
	int fd;
	uint32_t flags;			/* SHMDEV_LIST_* */
	size_t esize;			/* size of an entry */
	uint64_t after_id;
	int done;
	char *batch;			/* SHMDEV_LIST_MAX entries */
	uint32_t nr;			/* entries in @batch */
	uint32_t nr_total;		/* the kernel's count of what is left */
};

static int walk_begin(struct list_walk *w, uint32_t flags)
{
	memset(w, 0, sizeof(*w));
	w->flags = flags;
	w->esize = flags & SHMDEV_LIST_STAT ? sizeof(struct shmdev_stat) :
					      sizeof(struct shmdev_info);
	w->batch = calloc(SHMDEV_LIST_MAX, w->esize);
	if (!w->batch)
		return -ENOMEM;
	w->fd = seg_open_device_to_read();
	if (w->fd < 0) {
		free(w->batch);
		return w->fd;
	}
	return 0;
}

static void walk_end(struct list_walk *w)
{
	seg_close(w->fd);
	free(w->batch);
}

static void *walk_entry(const struct list_walk *w, uint32_t i)
{
	return w->batch + i * w->esize;
}

static uint64_t walk_id(const struct list_walk *w, uint32_t i)
{
	uint64_t id;

	memcpy(&id, walk_entry(w, i), sizeof(id));
	return id;
}

/* Fetches the next batch; 0 with w->nr == 0 at the end, or -errno. */
static int walk_next(struct list_walk *w)
{
	struct shmdev_list arg;
	uint32_t i;
	int ret;

	w->nr = 0;
	if (w->done)
		return 0;
	memset(w->batch, 0, SHMDEV_LIST_MAX * w->esize);
	memset(&arg, 0, sizeof(arg));
	arg.entries = (uintptr_t)w->batch;
	arg.after_id = w->after_id;
	arg.nr_entries = SHMDEV_LIST_MAX;
	arg.flags = w->flags;
	ret = seg_ioctl(w->fd, SHMDEV_IOC_LIST, &arg);
	if (ret)
		return ret;
	if (arg.nr_entries > SHMDEV_LIST_MAX)
		return -EIO;
	/* Ids must ascend past after_id, or the walk would never end. */
	for (i = 0; i < arg.nr_entries; i++) {
		if (walk_id(w, i) <= (i ? walk_id(w, i - 1) : w->after_id))
			return -EIO;
	}
	w->nr = arg.nr_entries;
	w->nr_total = arg.nr_total;
	if (w->nr < SHMDEV_LIST_MAX || w->nr >= arg.nr_total)
		w->done = 1;
	if (w->nr)
		w->after_id = walk_id(w, w->nr - 1);
	return 0;
}

int shmdev_list_foreach(int (*fn)(const struct shmdev_info *info, void *arg),
			void *arg)
{
	struct list_walk w;
	uint32_t i;
	int ret;

	if (!fn)
		return -EINVAL;
	ret = walk_begin(&w, 0);
	if (ret)
		return ret;
	do {
		ret = walk_next(&w);
		for (i = 0; !ret && i < w.nr; i++)
			ret = fn(walk_entry(&w, i), arg);
	} while (!ret && w.nr);
	walk_end(&w);
	return ret;
}

/* Every entry of a walk with @flags, in one malloc()ed array. */
static int list_all(uint32_t flags, void **entries, size_t *count)
{
	size_t nr = 0, room = 0, want;
	char *all = NULL, *grown;
	struct list_walk w;
	int ret;

	if (!entries || !count)
		return -EINVAL;
	ret = walk_begin(&w, flags);
	if (ret)
		return ret;
	for (;;) {
		ret = walk_next(&w);
		if (ret || !w.nr)
			break;
		if (nr + w.nr > room) {
			/* Room for what the kernel says is left, at least. */
			want = nr + (w.nr_total > w.nr ? w.nr_total : w.nr);
			if (want < 2 * room)
				want = 2 * room;
			if (want > SIZE_MAX / w.esize) {
				ret = -ENOMEM;
				break;
			}
			grown = realloc(all, want * w.esize);
			if (!grown) {
				ret = -ENOMEM;
				break;
			}
			all = grown;
			room = want;
		}
		memcpy(all + nr * w.esize, w.batch, w.nr * w.esize);
		nr += w.nr;
	}
	walk_end(&w);
	if (ret) {
		free(all);
		return ret;
	}
	*entries = all;
	*count = nr;
	return 0;
}

int shmdev_list(struct shmdev_info **entries, size_t *count)
{
	return list_all(0, (void **)entries, count);
}

int shmdev_list_stat(struct shmdev_stat **entries, size_t *count)
{
	return list_all(SHMDEV_LIST_STAT, (void **)entries, count);
}
