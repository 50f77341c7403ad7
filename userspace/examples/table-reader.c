// SPDX-License-Identifier: GPL-2.0
/*
 * table-reader: print the table of counters that table-writer processes
 * share, as one consistent snapshot taken under the table's mutex.
 *
 * usage: table-reader [--expect TOTAL] [--unlink] NAME
 *
 * --expect TOTAL  exit with status 1 unless the total is TOTAL
 * --unlink        remove the table's name afterwards
 *
 * The reader locks the mutex like a writer, so if the last holder died
 * holding it, the reader is the one that repairs the table (table.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libshmdev.h>

#include "table.h"

int main(int argc, char **argv)
{
	unsigned long long expect = 0;
	int have_expect = 0, unlink_it = 0, argi, ret, rc = 0;
	uint64_t sum = 0;
	struct table snap, *t;
	const char *name;
	unsigned int i;
	size_t len;

	for (argi = 1; argi < argc && argv[argi][0] == '-'; argi++) {
		if (!strcmp(argv[argi], "--unlink")) {
			unlink_it = 1;
		} else if (!strcmp(argv[argi], "--expect") && argi + 1 < argc) {
			expect = strtoull(argv[++argi], NULL, 10);
			have_expect = 1;
		} else {
			argi = argc;	/* usage */
			break;
		}
	}
	if (argi != argc - 1) {
		fprintf(stderr, "usage: %s [--expect TOTAL] [--unlink] NAME\n",
			argv[0]);
		return 2;
	}
	name = argv[argi];

	if (table_open(name, 0, &t, &len))
		return 1;

	/* Copy it under the mutex, print it without holding anyone up. */
	if (table_lock(t, "reader"))
		return 1;
	memcpy(&snap, t, sizeof(snap));
	table_unlock(t);
	shmdev_unmap(t, len);

	printf("table %s: %u counters, total %llu, %llu repair(s), last writer pid %u\n",
	       name, TABLE_SLOTS, (unsigned long long)snap.total,
	       (unsigned long long)snap.repairs, snap.last_pid);
	for (i = 0; i < TABLE_SLOTS; i++) {
		sum += snap.counters[i];
		printf("%s%6llu", i % 8 ? " " : "  ",
		       (unsigned long long)snap.counters[i]);
		if (i % 8 == 7)
			printf("\n");
	}

	if (sum != snap.total || snap.undo_slot != TABLE_NO_UNDO) {
		printf("reader: INCONSISTENT: counters add up to %llu\n",
		       (unsigned long long)sum);
		rc = 1;
	} else {
		printf("reader: consistent: the counters add up to the total\n");
	}
	if (have_expect && snap.total != expect) {
		printf("reader: expected a total of %llu\n", expect);
		rc = 1;
	}

	if (unlink_it) {
		ret = shmdev_unlink(name);
		if (ret) {
			fprintf(stderr, "reader: unlink %s: %s\n", name,
				strerror(-ret));
			rc = 1;
		} else {
			printf("reader: removed %s\n", name);
		}
	}
	return rc;
}
