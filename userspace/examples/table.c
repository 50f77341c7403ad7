// SPDX-License-Identifier: GPL-2.0
/*
 * Opening, locking and repairing the shared table of table-writer and
 * table-reader (see table.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <libshmdev.h>

#include "table.h"

/* How long an opener waits for the creator to initialise the table. */
#define TABLE_INIT_TIMEOUT_MS	5000

/* The creator's part: everything zero, then the mutex, then "ready". */
static int table_init(struct table *t)
{
	int ret;

	t->nr_slots = TABLE_SLOTS;
	t->undo_slot = TABLE_NO_UNDO;
	ret = shmdev_mutex_init(&t->lock, 0);
	if (ret)
		return ret;
	/* Release: whoever sees TABLE_READY sees the mutex initialised. */
	atomic_store_explicit(&t->ready, TABLE_READY, memory_order_release);
	return 0;
}

/* Everyone else waits until the creator is done. */
static int table_wait_ready(struct table *t)
{
	int ms;

	for (ms = 0; ms < TABLE_INIT_TIMEOUT_MS; ms++) {
		if (atomic_load_explicit(&t->ready, memory_order_acquire) ==
		    TABLE_READY)
			return t->nr_slots == TABLE_SLOTS ? 0 : -EPROTO;
		usleep(1000);
	}
	return -ETIMEDOUT;
}

int table_open(const char *name, int create, struct table **table,
	       size_t *len)
{
	int fd, created = 0, ret;
	struct table *t;

	/*
	 * shmdev_open_or_create() lets any number of writers start at once:
	 * exactly one of them creates the segment and is told so.
	 */
	if (create)
		fd = shmdev_open_or_create(name, sizeof(*t), 0600, &created);
	else
		fd = shmdev_attach(name, 0);	/* locking needs write access */
	if (fd < 0) {
		fprintf(stderr, "%s: %s\n", name, strerror(-fd));
		return -1;
	}
	t = shmdev_map(fd, PROT_READ | PROT_WRITE, MAP_SHARED, len);
	ret = t ? 0 : -errno;
	close(fd);
	if (!ret && *len < sizeof(*t))
		ret = -EPROTO;		/* someone else's segment */
	if (!ret)
		ret = created ? table_init(t) : table_wait_ready(t);
	if (ret) {
		fprintf(stderr, "%s: %s\n", name, strerror(-ret));
		if (t)
			shmdev_unmap(t, *len);
		return -1;
	}
	*table = t;
	return 0;
}

/*
 * Puts the table back in a consistent state after its holder died in the
 * middle of an update: undo the half-done change, then recompute what is
 * derived from the counters.
 */
static void table_repair(struct table *t, const char *who)
{
	uint64_t sum = 0;
	unsigned int i;

	printf("%s: previous holder (pid %u) died holding the mutex\n",
	       who, t->last_pid);
	if (t->undo_slot < TABLE_SLOTS) {
		printf("%s: rolling back slot %u: %llu -> %llu\n", who,
		       t->undo_slot,
		       (unsigned long long)t->counters[t->undo_slot],
		       (unsigned long long)t->undo_value);
		t->counters[t->undo_slot] = t->undo_value;
	}
	t->undo_slot = TABLE_NO_UNDO;
	for (i = 0; i < TABLE_SLOTS; i++)
		sum += t->counters[i];
	if (sum != t->total)
		printf("%s: total was %llu, recomputed %llu\n", who,
		       (unsigned long long)t->total, (unsigned long long)sum);
	t->total = sum;
	t->repairs++;
}

int table_lock(struct table *t, const char *who)
{
	int ret = shmdev_mutex_lock(&t->lock);

	if (ret == -EOWNERDEAD) {
		/* We hold the mutex, but the data may be half-updated. */
		table_repair(t, who);
		ret = shmdev_mutex_consistent(&t->lock);
		if (ret) {
			fprintf(stderr, "%s: mutex_consistent: %s\n", who,
				strerror(-ret));
			shmdev_mutex_unlock(&t->lock);
			return -1;
		}
		printf("%s: previous holder died; table repaired\n", who);
	} else if (ret) {
		/*
		 * -ENOTRECOVERABLE: someone got -EOWNERDEAD and unlocked
		 * without shmdev_mutex_consistent(). Nothing works any more.
		 */
		fprintf(stderr, "%s: mutex_lock: %s\n", who, strerror(-ret));
		return -1;
	}
	return 0;
}

void table_unlock(struct table *t)
{
	shmdev_mutex_unlock(&t->lock);
}
