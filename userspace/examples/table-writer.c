// SPDX-License-Identifier: GPL-2.0
/*
 * table-writer: update a table of counters shared between processes, under
 * a robust mutex that lives in the same shmdev segment.
 *
 * usage: table-writer [--rounds N] [--die-holding] NAME
 *
 * Opens the table NAME, creating it if it does not exist (any number of
 * writers may start at once), and adds 1 to a random counter N times
 * (default 10000), each time under the mutex. Run several at once and the
 * total comes out exact.
 *
 * --die-holding makes the writer crash (SIGKILL) in the middle of its last
 * update, while it holds the mutex. The kernel marks the mutex as owned by
 * a dead process; the next process that locks it gets -EOWNERDEAD, repairs
 * the table, calls shmdev_mutex_consistent() and carries on (table.c).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libshmdev.h>

#include "table.h"

/*
 * One update: note what is about to change (the undo record), change it,
 * then drop the note. Between the first and the last step the invariant
 * (total == sum of the counters) does not hold.
 */
static void table_add(struct table *t, unsigned int slot, int die)
{
	t->last_pid = getpid();
	t->undo_value = t->counters[slot];
	t->undo_slot = slot;

	t->counters[slot]++;
	if (die) {
		printf("writer %d: crashing in the middle of an update of slot %u, holding the mutex\n",
		       (int)getpid(), slot);
		fflush(stdout);
		raise(SIGKILL);
	}
	t->total++;

	t->undo_slot = TABLE_NO_UNDO;
}

int main(int argc, char **argv)
{
	unsigned long rounds = 10000, i;
	int die_holding = 0, argi;
	unsigned int seed;
	struct table *t;
	char who[32];
	size_t len;

	for (argi = 1; argi < argc && argv[argi][0] == '-'; argi++) {
		if (!strcmp(argv[argi], "--die-holding")) {
			die_holding = 1;
		} else if (!strcmp(argv[argi], "--rounds") && argi + 1 < argc) {
			rounds = strtoul(argv[++argi], NULL, 10);
		} else {
			argi = argc;	/* usage */
			break;
		}
	}
	if (argi != argc - 1) {
		fprintf(stderr, "usage: %s [--rounds N] [--die-holding] NAME\n",
			argv[0]);
		return 2;
	}
	/* Line by line: several processes share the terminal or log. */
	setvbuf(stdout, NULL, _IOLBF, 0);

	snprintf(who, sizeof(who), "writer %d", (int)getpid());
	seed = getpid();

	if (table_open(argv[argi], 1, &t, &len))
		return 1;

	for (i = 0; i < rounds; i++) {
		if (table_lock(t, who))
			return 1;
		table_add(t, rand_r(&seed) % TABLE_SLOTS, 0);
		table_unlock(t);
	}
	printf("%s: made %lu updates\n", who, rounds);

	if (die_holding) {
		if (table_lock(t, who))
			return 1;
		table_add(t, rand_r(&seed) % TABLE_SLOTS, 1);
		/* Not reached. */
	}
	shmdev_unmap(t, len);
	return 0;
}
