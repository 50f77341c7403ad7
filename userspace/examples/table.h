/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The shared table of table-writer and table-reader: counters in a named
 * shmdev segment, guarded by a robust, process-shared mutex that lives in
 * the segment too.
 *
 * The data obey an invariant: total is the sum of counters[]. A writer
 * breaks it for a moment while it updates a counter; if it dies there,
 * still holding the mutex, the next process to lock the mutex gets
 * -EOWNERDEAD and must repair the data before it calls
 * shmdev_mutex_consistent(). To make that repair possible, a writer notes
 * what it is about to change (an undo record) before it changes it.
 */
#ifndef TABLE_H
#define TABLE_H

#include <stdatomic.h>
#include <stdint.h>

#include <libshmdev.h>

#define TABLE_SLOTS	64
#define TABLE_READY	0x5441424cU	/* "TABL": initialised */
#define TABLE_NO_UNDO	UINT32_MAX

struct table {
	/* TABLE_READY once the creator has initialised the rest. */
	_Atomic uint32_t ready;
	uint32_t nr_slots;		/* TABLE_SLOTS */
	struct shmdev_mutex lock;
	/* Everything below is protected by lock. */
	uint64_t total;			/* sum of counters[] */
	uint64_t repairs;		/* times a dead holder's mess was fixed */
	uint32_t last_pid;		/* the last process that changed it */
	uint32_t undo_slot;		/* slot being changed, or TABLE_NO_UNDO */
	uint64_t undo_value;		/* its value before the change */
	uint64_t counters[TABLE_SLOTS];
};

/*
 * Opens the table @name: with @create, creates and initialises it if it
 * does not exist; otherwise it must exist. Stores the mapping in *@table
 * and its length in *@len. Prints what went wrong; 0 or -1.
 */
int table_open(const char *name, int create, struct table **table,
	       size_t *len);

/*
 * Locks the table's mutex. If the previous holder died holding it, repairs
 * the table and marks the mutex consistent, and says so. 0 when the caller
 * holds the mutex, -1 (having printed why) when it does not.
 */
int table_lock(struct table *t, const char *who);

void table_unlock(struct table *t);

#endif /* TABLE_H */
