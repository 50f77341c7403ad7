// SPDX-License-Identifier: GPL-2.0
/*
 * shmdev-ctl: create, list, inspect, resize, seal, chmod, remove, read and
 * write shmdev segments from the shell.
 *
 * Exit status: 0 success, 1 an operation failed, 2 usage error.
 * Errors go to stderr as "shmdev-ctl: OPERATION 'NAME': REASON".
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libshmdev.h>

#ifndef SHMDEV_CTL_VERSION
#define SHMDEV_CTL_VERSION	"unknown"
#endif

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

#define PROG		"shmdev-ctl"
#define EXIT_FAIL	1
#define EXIT_USAGE	2

/* cat and write map the segment this much at a time. */
#define CHUNK		(16UL << 20)

static struct {
	bool json;
	bool huge;
	bool locked;
	bool have_mode;
	bool pids;
	bool times;
	bool dry_run;
	bool help;
	bool have_unused_for;
	unsigned int mode;
	uint64_t unused_for;
} opts;

static const char usage_text[] =
"Usage: " PROG " [--json] VERB [ARGS]\n"
"\n"
"  create NAME SIZE [--mode OCTAL] [--huge] [--locked]\n"
"                       create a segment (mode 0600 unless given)\n"
"  list [-p] [-t]       list the segments you may see; -p: creator and last\n"
"                       attaching pid, -t: attach, detach, change times\n"
"  info NAME            show one segment (needs read permission)\n"
"  resize NAME SIZE     change the size (needs read-write permission)\n"
"  seal NAME SEAL[,SEAL...]\n"
"                       add seals: seal, shrink, grow, write, future-write\n"
"  chmod NAME MODE      change the permission bits (octal)\n"
"  chown NAME USER[:GROUP] | :GROUP\n"
"                       change the owner and/or group\n"
"  rm NAME...           remove names (memory goes with the last user)\n"
"  cat NAME             write the contents to standard output\n"
"  write NAME           copy standard input to the start of the segment;\n"
"                       fails if it does not fit\n"
"  limits [segments=N] [segment-size=SIZE] [total=SIZE]\n"
"                       show, or set (none: the module's), the limits of\n"
"                       this IPC namespace; setting needs CAP_SYS_ADMIN\n"
"  who NAME             the processes that have it open or mapped\n"
"  prune [--unused-for DURATION] [--dry-run]\n"
"                       remove the named segments nobody has open or\n"
"                       mapped (and, with --unused-for, untouched that long:\n"
"                       30s, 10m, 2h, 7d)\n"
"\n"
"VERB --help shows one verb.\n"
"SIZE is a number of bytes with an optional K, M, G, T suffix (powers of\n"
"1024). --json prints list, info and limits as JSON.\n"
"\n"
"Options: -j, --json   -m, --mode OCTAL   --huge   --locked   -p, --pids\n"
"         -t, --times   --unused-for DURATION   -n, --dry-run   -h, --help\n"
"         -V, --version\n"
"Exit status: 0 success, 1 an operation failed, 2 usage error.\n";

static void __attribute__((format(printf, 1, 2))) err(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int __attribute__((format(printf, 1, 2))) usage_error(const char *fmt,
								 ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry '" PROG " --help' for more information.\n", stderr);
	return EXIT_USAGE;
}

/*
 * Reports a failed operation on @name (NULL: none) with error @e (-errno);
 * an ioctl the module does not know is reported as such.
 */
static int fail(const char *op, const char *name, int e)
{
	const char *why = strerror(-e);

	if (e == -ENOTTY)
		why = "not supported by this shmdev module";
	else if (e == -ENODEV)
		why = "the shmdev module is not loaded (modprobe shmdev)";
	if (name)
		err("%s '%s': %s", op, name, why);
	else
		err("%s: %s", op, why);
	return EXIT_FAIL;
}

/*
 * Checks that /dev/shmdev can be opened for what a verb does (@write: it
 * changes something, so the device must open read-write), so that a later
 * ENOENT or EACCES is about the segment; tells the user what to do if not.
 * 0, or the exit status after reporting the error.
 */
static int check_device(bool write)
{
	int fd;

	fd = open(SHMDEV_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0 && errno == EACCES && !write)
		fd = open(SHMDEV_DEVICE_PATH, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		return 0;
	}
	switch (errno) {
	case ENOENT:
	case ENXIO:
	case ENODEV:
		err("the shmdev module is not loaded (%s is missing): run 'modprobe shmdev' as root",
		    SHMDEV_DEVICE_PATH);
		break;
	case EACCES:
		err("permission denied on %s%s: join the group that owns it (usually shmdev: 'usermod -aG shmdev USER' as root, then log in again)",
		    SHMDEV_DEVICE_PATH, write ? " for writing" : "");
		break;
	default:
		err("%s: %s", SHMDEV_DEVICE_PATH, strerror(errno));
		break;
	}
	return EXIT_FAIL;
}

static int parse_name(const char *name)
{
	int ret = shmdev_check_name(name);

	if (ret == -ENAMETOOLONG)
		return usage_error("name '%s' is longer than %d bytes", name,
				   SHMDEV_NAME_MAX - 1);
	if (ret)
		return usage_error("invalid name '%s' (printable ASCII without spaces or '/')",
				   name);
	return 0;
}

static int parse_size_arg(const char *str, uint64_t *size)
{
	int ret = shmdev_parse_size(str, size);

	if (ret == -ERANGE)
		return usage_error("size '%s' is too large", str);
	if (ret || !*size)
		return usage_error("invalid size '%s'", str);
	return 0;
}

static int parse_mode(const char *str, unsigned int *mode)
{
	unsigned long val;
	char *end;

	if (!*str || strlen(str) > 4 || strspn(str, "01234567") != strlen(str))
		return usage_error("invalid mode '%s' (octal, 0 to 0777)", str);
	val = strtoul(str, &end, 8);
	if (val > 0777)
		return usage_error("invalid mode '%s' (octal, 0 to 0777)", str);
	*mode = val;
	return 0;
}

static const struct {
	const char *name;
	unsigned int bit;
} seal_names[] = {
	{ "seal",		SHMDEV_SEAL_SEAL },
	{ "shrink",		SHMDEV_SEAL_SHRINK },
	{ "grow",		SHMDEV_SEAL_GROW },
	{ "write",		SHMDEV_SEAL_WRITE },
	{ "future-write",	SHMDEV_SEAL_FUTURE_WRITE },
};

#define NR_SEALS	ARRAY_SIZE(seal_names)

static int parse_seals(const char *str, unsigned int *seals)
{
	const char *p = str;
	size_t len, i;

	*seals = 0;
	for (;;) {
		len = strcspn(p, ",");
		for (i = 0; i < NR_SEALS; i++)
			if (strlen(seal_names[i].name) == len &&
			    !strncmp(p, seal_names[i].name, len))
				break;
		if (i == NR_SEALS)
			return usage_error("unknown seal '%.*s' in '%s' (seal, shrink, grow, write, future-write)",
					   (int)len, p, str);
		*seals |= seal_names[i].bit;
		if (!p[len])
			return 0;
		p += len + 1;
	}
}

/* "seal,write" for @seals, "-" for none. */
static void format_seals(unsigned int seals, char *buf, size_t len)
{
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; i < NR_SEALS; i++) {
		if (!(seals & seal_names[i].bit))
			continue;
		used += snprintf(buf + used, used < len ? len - used : 0,
				 "%s%s", used ? "," : "", seal_names[i].name);
	}
	if (!used)
		snprintf(buf, len, "-");
}

/* Exact size with the largest suffix that divides it: 64K, 3M, 4097. */
static void format_size(uint64_t size, char *buf, size_t len)
{
	static const char units[] = "KMGTPE";
	int i = -1;

	while (size && !(size & 1023) && i < 5) {
		size >>= 10;
		i++;
	}
	if (i < 0)
		snprintf(buf, len, "%" PRIu64, size);
	else
		snprintf(buf, len, "%" PRIu64 "%c", size, units[i]);
}

static void user_name(uint32_t uid, char *buf, size_t len)
{
	struct passwd *pw = getpwuid(uid);

	if (pw)
		snprintf(buf, len, "%s", pw->pw_name);
	else
		snprintf(buf, len, "%" PRIu32, uid);
}

static void group_name(uint32_t gid, char *buf, size_t len)
{
	struct group *gr = getgrgid(gid);

	if (gr)
		snprintf(buf, len, "%s", gr->gr_name);
	else
		snprintf(buf, len, "%" PRIu32, gid);
}

static void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void json_info(const struct shmdev_info *in, uint32_t nr_files)
{
	char buf[64];
	size_t i;
	bool first = true;

	printf("{\"id\":%" PRIu64 ",\"name\":", (uint64_t)in->id);
	json_string(in->name);
	printf(",\"size\":%" PRIu64 ",\"mode\":\"%04o\"", (uint64_t)in->size,
	       in->mode);
	printf(",\"uid\":%" PRIu32 ",\"owner\":", in->uid);
	user_name(in->uid, buf, sizeof(buf));
	json_string(buf);
	printf(",\"gid\":%" PRIu32 ",\"group\":", in->gid);
	group_name(in->gid, buf, sizeof(buf));
	json_string(buf);
	printf(",\"files\":%" PRIu32 ",\"mappings\":%" PRIu32
	       ",\"pages\":%" PRIu64 ",\"swapped_pages\":%" PRIu64
	       ",\"locked\":%s,\"seals\":[",
	       nr_files, in->nr_maps, (uint64_t)in->nr_pages,
	       (uint64_t)in->nr_swapped,
	       in->flags & SHMDEV_INFO_LOCKED ? "true" : "false");
	for (i = 0; i < NR_SEALS; i++) {
		if (!(in->seals & seal_names[i].bit))
			continue;
		printf("%s\"%s\"", first ? "" : ",", seal_names[i].name);
		first = false;
	}
	printf("],\"unlinked\":%s,\"huge\":%s,\"huge_pages\":%" PRIu64 "}",
	       in->flags & SHMDEV_INFO_UNLINKED ? "true" : "false",
	       in->flags & SHMDEV_INFO_HUGE ? "true" : "false",
	       (uint64_t)in->nr_huge_pages);
}

/*
 * Checks the device and opens @name for a verb: 0 with the fd in *fd, or
 * the exit status after reporting the error.
 */
static int open_segment(const char *name, unsigned int flags, int *fd)
{
	int ret = check_device(!(flags & SHMDEV_ATTACH_RDONLY));

	if (ret)
		return ret;
	*fd = shmdev_attach(name, flags);
	return *fd < 0 ? fail("attach", name, *fd) : 0;
}

/*
 * open_segment(), then shmdev_info() into @in: 0 with the fd in *fd, or
 * the exit status after reporting the error (and closing the fd).
 */
static int open_segment_info(const char *name, unsigned int flags, int *fd,
			     struct shmdev_info *in)
{
	int ret = open_segment(name, flags, fd);

	if (ret)
		return ret;
	ret = shmdev_info(*fd, in);
	if (ret) {
		close(*fd);
		return fail("info", name, ret);
	}
	return 0;
}

/*
 * Maps the chunk of @fd (the segment @name of @size bytes) that starts at
 * @off, at most CHUNK bytes; its length in *len. NULL after reporting the
 * error.
 */
static char *map_chunk(int fd, const char *name, uint64_t size, uint64_t off,
		       int prot, size_t *len)
{
	char *p;

	*len = size - off < CHUNK ? size - off : CHUNK;
	p = shmdev_map_range(fd, off, *len, prot, MAP_SHARED);
	if (!p)
		fail("map", name, -errno);
	return p;
}

static int cmd_create(int argc, char **argv)
{
	struct shmdev_version ver;
	unsigned int mode = opts.have_mode ? opts.mode : 0600;
	uint64_t size, granule;
	char gbuf[32];
	int ret, fd;

	if (argc != 2)
		return usage_error("create needs NAME and SIZE");
	ret = parse_name(argv[0]);
	if (!ret)
		ret = parse_size_arg(argv[1], &size);
	if (ret)
		return ret;
	ret = check_device(true);
	if (ret)
		return ret;
	if (opts.huge) {
		ret = shmdev_version(&ver);
		if (ret)
			return fail("version", NULL, ret);
		if (!(ver.features & SHMDEV_FEAT_HUGE)) {
			err("huge pages are not supported by this module");
			return EXIT_FAIL;
		}
		/* The PMD size (2M, 32M with 16 KiB pages), or the uapi's. */
		granule = ver.huge_page_size ?: SHMDEV_HUGE_ALIGN;
		if (size % granule) {
			format_size(granule, gbuf, sizeof(gbuf));
			err("a huge segment's size must be a multiple of %s",
			    gbuf);
			return EXIT_USAGE;
		}
		if (!ver.huge_page_size)
			fprintf(stderr, "shmdev-ctl: warning: this kernel cannot map huge pages; the segment uses base pages\n");
	}
	fd = shmdev_create(argv[0], size, mode,
			   (opts.huge ? SHMDEV_CREATE_HUGE : 0) |
			   (opts.locked ? SHMDEV_CREATE_LOCKED : 0));
	if (fd < 0)
		return fail("create", argv[0], fd);
	close(fd);
	return 0;
}

/* Widens the NAME and OWNER columns of list for @name and @uid. */
static void widen_columns(const char *name, uint32_t uid, int *name_w,
			  int *owner_w)
{
	char owner[64];

	user_name(uid, owner, sizeof(owner));
	if ((int)strlen(name) > *name_w)
		*name_w = strlen(name);
	if ((int)strlen(owner) > *owner_w)
		*owner_w = strlen(owner);
}

/* A time for list -t: local date and time, or "-" for never. */
static void format_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!t || !localtime_r(&tt, &tm) ||
	    !strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, len, "-");
}

/* list -p and -t: the columns of ipcs -p and -t, from SHMDEV_IOC_STAT. */
static int list_stat(void)
{
	char owner[64], cr[32], at[32], dt[32], ch[32];
	struct shmdev_stat *v = NULL;
	int ret, name_w = 4, owner_w = 5;
	size_t n, i;

	ret = shmdev_list_stat(&v, &n);
	if (ret)
		return fail("list", NULL, ret);
	if (opts.json) {
		putchar('[');
		for (i = 0; i < n; i++) {
			printf("%s{\"id\":%" PRIu64 ",\"name\":", i ? "," : "",
			       (uint64_t)v[i].id);
			json_string(v[i].name);
			printf(",\"uid\":%" PRIu32 ",\"cpid\":%" PRId32
			       ",\"lpid\":%" PRId32 ",\"created\":%" PRId64
			       ",\"attached\":%" PRId64 ",\"detached\":%" PRId64
			       ",\"changed\":%" PRId64 ",\"files\":%" PRIu32
			       ",\"mappings\":%" PRIu32 "}",
			       v[i].uid, v[i].cpid, v[i].lpid,
			       (int64_t)v[i].crtime, (int64_t)v[i].atime,
			       (int64_t)v[i].dtime, (int64_t)v[i].chtime,
			       v[i].nr_files, v[i].nr_maps);
		}
		printf("]\n");
		free(v);
		return 0;
	}
	/* Columns as wide as their widest entry. */
	for (i = 0; i < n; i++)
		widen_columns(v[i].name, v[i].uid, &name_w, &owner_w);
	printf("%-8s %-*s %-*s", "ID", name_w, "NAME", owner_w, "OWNER");
	if (opts.pids)
		printf(" %8s %8s", "CPID", "LPID");
	if (opts.times)
		printf(" %-19s %-19s %-19s %-19s", "CREATED", "ATTACHED",
		       "DETACHED", "CHANGED");
	putchar('\n');
	for (i = 0; i < n; i++) {
		user_name(v[i].uid, owner, sizeof(owner));
		printf("%-8" PRIu64 " %-*s %-*s", (uint64_t)v[i].id, name_w,
		       v[i].name, owner_w, owner);
		if (opts.pids)
			printf(" %8" PRId32 " %8" PRId32, v[i].cpid, v[i].lpid);
		if (opts.times) {
			format_time(v[i].crtime, cr, sizeof(cr));
			format_time(v[i].atime, at, sizeof(at));
			format_time(v[i].dtime, dt, sizeof(dt));
			format_time(v[i].chtime, ch, sizeof(ch));
			printf(" %-19s %-19s %-19s %-19s", cr, at, dt, ch);
		}
		putchar('\n');
	}
	free(v);
	return 0;
}

static int cmd_list(int argc, char **argv)
{
	char size[32], owner[64], seals[64];
	struct shmdev_info *v = NULL;
	int ret, name_w = 4, owner_w = 5;
	size_t n, i;

	(void)argv;
	if (argc)
		return usage_error("list takes no arguments");
	ret = check_device(false);
	if (ret)
		return ret;
	if (opts.pids || opts.times)
		return list_stat();
	ret = shmdev_list(&v, &n);
	if (ret)
		return fail("list", NULL, ret);
	if (opts.json) {
		putchar('[');
		for (i = 0; i < n; i++) {
			if (i)
				putchar(',');
			json_info(&v[i], v[i].nr_files);
		}
		printf("]\n");
		free(v);
		return 0;
	}
	/* Columns as wide as their widest entry. */
	for (i = 0; i < n; i++)
		widen_columns(v[i].name, v[i].uid, &name_w, &owner_w);
	printf("%-8s %-*s %8s %-*s %-4s %5s %8s %s\n", "ID", name_w, "NAME",
	       "SIZE", owner_w, "OWNER", "MODE", "FILES", "MAPPINGS", "SEALS");
	for (i = 0; i < n; i++) {
		const struct shmdev_info *in = &v[i];

		format_size(in->size, size, sizeof(size));
		user_name(in->uid, owner, sizeof(owner));
		format_seals(in->seals, seals, sizeof(seals));
		printf("%-8" PRIu64 " %-*s %8s %-*s %04o %5" PRIu32 " %8" PRIu32
		       " %s\n", (uint64_t)in->id, name_w, in->name, size,
		       owner_w, owner, in->mode, in->nr_files, in->nr_maps,
		       seals);
	}
	free(v);
	return 0;
}

static int cmd_info(int argc, char **argv)
{
	struct shmdev_info in;
	char buf[64], group[64];
	uint32_t files;
	int fd, ret;

	if (argc != 1)
		return usage_error("info needs NAME");
	ret = parse_name(argv[0]);
	if (!ret)
		ret = open_segment_info(argv[0], SHMDEV_ATTACH_RDONLY, &fd,
					&in);
	if (ret)
		return ret;
	close(fd);
	/* Not counting the file this command bound to look. */
	files = in.nr_files ? in.nr_files - 1 : 0;
	if (opts.json) {
		json_info(&in, files);
		putchar('\n');
		return 0;
	}
	printf("name:      %s\n", in.name);
	printf("id:        %" PRIu64 "\n", (uint64_t)in.id);
	format_size(in.size, buf, sizeof(buf));
	printf("size:      %" PRIu64 " (%s)\n", (uint64_t)in.size, buf);
	printf("mode:      %04o\n", in.mode);
	user_name(in.uid, buf, sizeof(buf));
	group_name(in.gid, group, sizeof(group));
	printf("owner:     %s (%" PRIu32 ")\n", buf, in.uid);
	printf("group:     %s (%" PRIu32 ")\n", group, in.gid);
	printf("files:     %" PRIu32 "\n", files);
	printf("mappings:  %" PRIu32 "\n", in.nr_maps);
	printf("pages:     %" PRIu64 "\n", (uint64_t)in.nr_pages);
	printf("swapped:   %" PRIu64 "\n", (uint64_t)in.nr_swapped);
	printf("locked:    %s\n", in.flags & SHMDEV_INFO_LOCKED ? "yes" : "no");
	if (in.flags & SHMDEV_INFO_HUGE)
		printf("huge:      yes, %" PRIu64 " huge pages\n",
		       (uint64_t)in.nr_huge_pages);
	else
		printf("huge:      no\n");
	format_seals(in.seals, buf, sizeof(buf));
	printf("seals:     %s\n", buf);
	return 0;
}

static int cmd_resize(int argc, char **argv)
{
	uint64_t size;
	int fd, ret;

	if (argc != 2)
		return usage_error("resize needs NAME and SIZE");
	ret = parse_name(argv[0]);
	if (!ret)
		ret = parse_size_arg(argv[1], &size);
	if (!ret)
		ret = open_segment(argv[0], 0, &fd);
	if (ret)
		return ret;
	ret = shmdev_resize(fd, size);
	close(fd);
	return ret ? fail("resize", argv[0], ret) : 0;
}

static int cmd_seal(int argc, char **argv)
{
	unsigned int seals;
	int fd, ret;

	if (argc != 2)
		return usage_error("seal needs NAME and SEAL[,SEAL...]");
	ret = parse_name(argv[0]);
	if (!ret)
		ret = parse_seals(argv[1], &seals);
	if (!ret)
		ret = open_segment(argv[0], 0, &fd);
	if (ret)
		return ret;
	ret = shmdev_add_seals(fd, seals);
	close(fd);
	return ret ? fail("seal", argv[0], ret) : 0;
}

static int cmd_chmod(int argc, char **argv)
{
	unsigned int mode;
	int ret;

	if (argc != 2)
		return usage_error("chmod needs NAME and MODE");
	ret = parse_name(argv[0]);
	if (!ret)
		ret = parse_mode(argv[1], &mode);
	if (!ret)
		ret = check_device(true);
	if (ret)
		return ret;
	ret = shmdev_chmod(argv[0], mode);
	return ret ? fail("chmod", argv[0], ret) : 0;
}

/* A user or group given by name or number; false if there is none. */
static bool lookup_id(const char *str, bool group, uint32_t *id)
{
	unsigned long val;
	char *end;

	if (group) {
		struct group *gr = getgrnam(str);

		if (gr) {
			*id = gr->gr_gid;
			return true;
		}
	} else {
		struct passwd *pw = getpwnam(str);

		if (pw) {
			*id = pw->pw_uid;
			return true;
		}
	}
	if (*str < '0' || *str > '9')
		return false;
	errno = 0;
	val = strtoul(str, &end, 10);
	if (errno || *end || val >= UINT32_MAX)
		return false;
	*id = val;
	return true;
}

static int cmd_chown(int argc, char **argv)
{
	uint32_t uid = (uint32_t)-1, gid = (uint32_t)-1;
	char *spec, *colon;
	int ret;

	if (argc != 2)
		return usage_error("chown needs NAME and USER[:GROUP]");
	ret = parse_name(argv[0]);
	if (ret)
		return ret;
	spec = argv[1];
	colon = strchr(spec, ':');
	if (colon)
		*colon = '\0';
	if (*spec && !lookup_id(spec, false, &uid))
		return usage_error("unknown user '%s'", spec);
	if (colon && colon[1] && !lookup_id(colon + 1, true, &gid))
		return usage_error("unknown group '%s'", colon + 1);
	if (uid == (uint32_t)-1 && gid == (uint32_t)-1)
		return usage_error("chown needs a user, a group or both");
	ret = check_device(true);
	if (ret)
		return ret;
	ret = shmdev_chown(argv[0], uid, gid);
	return ret ? fail("chown", argv[0], ret) : 0;
}

static int cmd_rm(int argc, char **argv)
{
	int i, ret, status = 0;

	if (!argc)
		return usage_error("rm needs at least one NAME");
	for (i = 0; i < argc; i++) {
		ret = parse_name(argv[i]);
		if (ret)
			return ret;
	}
	ret = check_device(true);
	if (ret)
		return ret;
	/* Like rm(1): try every name, fail if any failed. */
	for (i = 0; i < argc; i++) {
		ret = shmdev_unlink(argv[i]);
		if (ret)
			status = fail("rm", argv[i], ret);
	}
	return status;
}

static int write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len) {
		n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= n;
	}
	return 0;
}

/* Reads until @len bytes or end of input; bytes read, or -errno. */
static ssize_t read_full(int fd, char *buf, size_t len)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = read(fd, buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (!n)
			break;
		done += n;
	}
	return done;
}

static int cmd_cat(int argc, char **argv)
{
	struct shmdev_info in;
	uint64_t off;
	size_t len;
	char *p;
	int fd, ret;

	if (argc != 1)
		return usage_error("cat needs NAME");
	ret = parse_name(argv[0]);
	if (!ret)
		ret = open_segment_info(argv[0], SHMDEV_ATTACH_RDONLY, &fd,
					&in);
	if (ret)
		return ret;
	for (off = 0; off < in.size; off += len) {
		p = map_chunk(fd, argv[0], in.size, off, PROT_READ, &len);
		if (!p) {
			close(fd);
			return EXIT_FAIL;
		}
		ret = write_all(STDOUT_FILENO, p, len);
		shmdev_unmap(p, len);
		if (ret) {
			close(fd);
			return fail("write to standard output", NULL, ret);
		}
	}
	close(fd);
	return 0;
}

static int cmd_write(int argc, char **argv)
{
	struct shmdev_info in;
	struct stat st;
	uint64_t off;
	ssize_t n;
	off_t pos;
	size_t len;
	char *p, extra;
	int fd, ret;

	if (argc != 1)
		return usage_error("write needs NAME (the data comes from standard input)");
	ret = parse_name(argv[0]);
	if (!ret)
		ret = open_segment_info(argv[0], 0, &fd, &in);
	if (ret)
		return ret;
	/* A file that does not fit is refused before anything is written. */
	pos = lseek(STDIN_FILENO, 0, SEEK_CUR);
	if (!fstat(STDIN_FILENO, &st) && S_ISREG(st.st_mode) && pos >= 0 &&
	    st.st_size > pos && (uint64_t)(st.st_size - pos) > in.size) {
		close(fd);
		err("write '%s': input (%jd bytes) is larger than the segment (%" PRIu64 " bytes)",
		    argv[0], (intmax_t)(st.st_size - pos), (uint64_t)in.size);
		return EXIT_FAIL;
	}
	for (off = 0; off < in.size; off += len) {
		p = map_chunk(fd, argv[0], in.size, off, PROT_READ | PROT_WRITE,
			      &len);
		if (!p) {
			close(fd);
			return EXIT_FAIL;
		}
		n = read_full(STDIN_FILENO, p, len);
		shmdev_unmap(p, len);
		if (n < 0) {
			close(fd);
			return fail("read standard input", NULL, n);
		}
		if ((size_t)n < len)
			break;
	}
	close(fd);
	/* The segment is full: anything left over does not fit. */
	if (off >= in.size) {
		n = read_full(STDIN_FILENO, &extra, 1);
		if (n < 0)
			return fail("read standard input", NULL, n);
		if (n) {
			err("write '%s': input is larger than the segment (%" PRIu64 " bytes); only the first %" PRIu64 " bytes were written",
			    argv[0], (uint64_t)in.size, (uint64_t)in.size);
			return EXIT_FAIL;
		}
	}
	return 0;
}

/*
 * One LIMIT=VALUE argument of "limits" into @lim: segments=N,
 * segment-size=SIZE or total=SIZE, or none for no limit of the namespace's
 * own. 0, or the exit status after reporting a usage error.
 */
static int parse_limit(const char *arg, struct shmdev_limits *lim)
{
	const char *eq = strchr(arg, '=');
	const char *val = eq ? eq + 1 : "";
	size_t klen = eq ? (size_t)(eq - arg) : strlen(arg);
	bool none = !strcmp(val, "none");
	uint64_t v = UINT64_MAX;
	char *end;

	if (!strncmp(arg, "segments", klen) && klen == 8) {
		if (!none) {
			errno = 0;
			v = strtoull(val, &end, 10);
			if (!*val || *end || errno || v >= UINT32_MAX)
				return usage_error("invalid number of segments '%s'",
						   val);
		}
		lim->max_segments = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
		lim->flags |= SHMDEV_LIMITS_SEGMENTS;
		return 0;
	}
	if (!none && shmdev_parse_size(val, &v))
		return usage_error("invalid size '%s'", val);
	if (!strncmp(arg, "segment-size", klen) && klen == 12) {
		lim->max_segment_size = v;
		lim->flags |= SHMDEV_LIMITS_SEGMENT_SIZE;
		return 0;
	}
	if (!strncmp(arg, "total", klen) && klen == 5) {
		lim->max_total_bytes = v;
		lim->flags |= SHMDEV_LIMITS_TOTAL_BYTES;
		return 0;
	}
	return usage_error("unknown limit '%s' (segments=N, segment-size=SIZE, total=SIZE; none for the module's)",
			   arg);
}

/* "unlimited" for the largest value, else a size or a count. */
static void format_limit(uint64_t v, bool size, char *buf, size_t len)
{
	if (v >= (size ? UINT64_MAX : UINT32_MAX))
		snprintf(buf, len, "unlimited");
	else if (size)
		format_size(v, buf, len);
	else
		snprintf(buf, len, "%" PRIu64, v);
}

static int cmd_limits(int argc, char **argv)
{
	char a[32], b[32];
	struct shmdev_limits lim;
	int i, ret;

	memset(&lim, 0, sizeof(lim));
	for (i = 0; i < argc; i++) {
		ret = parse_limit(argv[i], &lim);
		if (ret)
			return ret;
	}
	ret = check_device(lim.flags != 0);
	if (ret)
		return ret;
	ret = shmdev_limits(&lim);
	if (ret == -EPERM) {
		err("limits: %s (raising needs CAP_SYS_ADMIN in the initial user namespace, lowering CAP_SYS_ADMIN over the IPC namespace's owner)",
		    strerror(EPERM));
		return EXIT_FAIL;
	}
	if (ret)
		return fail("limits", NULL, ret);
	if (opts.json) {
		printf("{\"max_segments\":%" PRIu32 ",\"max_segment_size\":%" PRIu64
		       ",\"max_total_bytes\":%" PRIu64 ",\"nr_segments\":%" PRIu64
		       ",\"total_bytes\":%" PRIu64 "}\n",
		       lim.max_segments, (uint64_t)lim.max_segment_size,
		       (uint64_t)lim.max_total_bytes, (uint64_t)lim.nr_segments,
		       (uint64_t)lim.total_bytes);
		return 0;
	}
	printf("%-14s %-10s %s\n", "LIMIT", "IN FORCE", "USED");
	format_limit(lim.max_segments, false, a, sizeof(a));
	printf("%-14s %-10s %" PRIu64 "\n", "segments", a,
	       (uint64_t)lim.nr_segments);
	format_limit(lim.max_segment_size, true, a, sizeof(a));
	printf("%-14s %-10s\n", "segment-size", a);
	format_limit(lim.max_total_bytes, true, a, sizeof(a));
	format_size(lim.total_bytes, b, sizeof(b));
	printf("%-14s %-10s %s\n", "total", a, b);
	return 0;
}

/* The stat of the segment @name from LIST, which changes nothing in it. */
static int find_stat(const char *name, struct shmdev_stat *out)
{
	struct shmdev_stat *v = NULL;
	size_t n, i;
	int ret;

	ret = shmdev_list_stat(&v, &n);
	if (ret)
		return ret;
	ret = -ENOENT;
	for (i = 0; i < n; i++) {
		if (!strncmp(v[i].name, name, SHMDEV_NAME_MAX)) {
			*out = v[i];
			ret = 0;
			break;
		}
	}
	free(v);
	return ret;
}

/*
 * The descriptors of process @pid bound to segment @id, as "3(rw),5(ro)"
 * in @buf; how many, or -1 if /proc would not tell.
 */
static int who_fds(const char *pid, uint64_t id, char *buf, size_t len)
{
	char path[320], line[128], want[40];
	struct dirent *de;
	size_t used = 0;
	int nr = 0;
	FILE *f;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%s/fdinfo", pid);
	d = opendir(path);
	if (!d)
		return -1;
	snprintf(want, sizeof(want), "shmdev-id:\t%" PRIu64 "\n", id);
	buf[0] = '\0';
	while ((de = readdir(d))) {
		bool match = false;
		const char *access = "?";

		int fd;

		if (de->d_name[0] == '.')
			continue;
		fd = openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC);
		f = fd < 0 ? NULL : fdopen(fd, "re");
		if (!f) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		while (fgets(line, sizeof(line), f)) {
			if (!strcmp(line, want))
				match = true;
			else if (!strncmp(line, "shmdev-access:\t", 15))
				access = line[15] == 'r' && line[16] == 'w' ?
					 "rw" : "ro";
		}
		fclose(f);
		if (!match)
			continue;
		nr++;
		if (used < len)
			used += snprintf(buf + used, len - used, "%s%s(%s)",
					 used ? "," : "", de->d_name, access);
	}
	closedir(d);
	return nr;
}

/* The mappings of segment @st in process @pid, or -1 if /proc would not tell. */
static int who_maps(const char *pid, const struct shmdev_stat *st)
{
	unsigned int major, minor;
	unsigned long long ino;
	char path[320], line[512];
	int nr = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%s/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	/* start-end perms offset major:minor inode [path] */
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%*s %*s %*s %x:%x %llu", &major, &minor,
			   &ino) == 3 && ino == st->ino &&
		    major == st->dev_major && minor == st->dev_minor)
			nr++;
	}
	fclose(f);
	return nr;
}

/*
 * The processes that have the segment open (a bound descriptor, found in
 * /proc/PID/fdinfo) or mapped (/proc/PID/maps), as far as the caller may
 * look into them: every process, as root.
 */
static int cmd_who(int argc, char **argv)
{
	char fds[128], comm[64], owner[64], path[320];
	struct shmdev_stat st;
	struct dirent *de;
	int ret, nfds, nmaps, hidden = 0;
	struct stat sb;
	FILE *f;
	DIR *d;

	if (argc != 1)
		return usage_error("who needs NAME");
	ret = parse_name(argv[0]);
	if (!ret)
		ret = check_device(false);
	if (ret)
		return ret;
	ret = find_stat(argv[0], &st);
	if (ret)
		return fail("who", argv[0], ret);
	d = opendir("/proc");
	if (!d) {
		err("/proc: %s", strerror(errno));
		return EXIT_FAIL;
	}
	printf("%-8s %-10s %-16s %-16s %s\n", "PID", "USER", "COMMAND", "FDS",
	       "MAPPINGS");
	while ((de = readdir(d))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		nfds = who_fds(de->d_name, st.id, fds, sizeof(fds));
		nmaps = who_maps(de->d_name, &st);
		if (nfds < 0 || nmaps < 0) {
			hidden++;
			continue;
		}
		if (!nfds && !nmaps)
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", de->d_name);
		comm[0] = '\0';
		f = fopen(path, "re");
		if (f) {
			if (!fgets(comm, sizeof(comm), f))
				comm[0] = '\0';
			fclose(f);
		}
		comm[strcspn(comm, "\n")] = '\0';
		snprintf(path, sizeof(path), "/proc/%s", de->d_name);
		if (stat(path, &sb))
			continue;
		user_name(sb.st_uid, owner, sizeof(owner));
		printf("%-8s %-10s %-16s %-16s %d\n", de->d_name, owner, comm,
		       nfds ? fds : "-", nmaps);
	}
	closedir(d);
	if (hidden)
		fprintf(stderr, PROG ": %d process%s not inspected (permission denied; root sees all)\n",
			hidden, hidden == 1 ? "" : "es");
	return 0;
}

/*
 * A duration for prune --unused-for: a number of seconds, or with an s, m,
 * h or d suffix. 0, or the exit status after reporting a usage error.
 */
static int parse_duration(const char *str, uint64_t *secs)
{
	static const struct {
		char unit;
		uint64_t secs;
	} units[] = { { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 } };
	unsigned long long v;
	uint64_t mul = 1;
	char *end;
	size_t i;

	errno = 0;
	v = strtoull(str, &end, 10);
	if (end == str || errno || *str == '-')
		return usage_error("invalid duration '%s' (30s, 10m, 2h, 7d)", str);
	if (*end) {
		for (i = 0; i < ARRAY_SIZE(units); i++)
			if (end[0] == units[i].unit && !end[1])
				mul = units[i].secs;
		if (mul == 1 && !(end[0] == 's' && !end[1]))
			return usage_error("invalid duration '%s' (30s, 10m, 2h, 7d)",
					   str);
	}
	if (v > UINT64_MAX / mul)
		return usage_error("duration '%s' is too long", str);
	*secs = v * mul;
	return 0;
}

/* The last time anything happened to a segment. */
static int64_t last_use(const struct shmdev_stat *st)
{
	int64_t t = st->crtime;

	if (st->atime > t)
		t = st->atime;
	if (st->dtime > t)
		t = st->dtime;
	if (st->chtime > t)
		t = st->chtime;
	return t;
}

/*
 * Removes the named segments that no file is bound to and nothing maps
 * (and that nothing touched for --unused-for). The kernel checks again as
 * it unlinks (SHMDEV_UNLINK_IF_UNUSED), so a segment attached meanwhile is
 * left alone; so are those the caller may not remove.
 */
static int cmd_prune(int argc, char **argv)
{
	int64_t now = (int64_t)time(NULL);
	struct shmdev_stat *v = NULL;
	size_t n, i, denied = 0;
	int ret, status = 0;

	(void)argv;
	if (argc)
		return usage_error("prune takes no arguments but its options");
	ret = check_device(!opts.dry_run);
	if (ret)
		return ret;
	ret = shmdev_list_stat(&v, &n);
	if (ret)
		return fail("prune", NULL, ret);
	for (i = 0; i < n; i++) {
		const struct shmdev_stat *st = &v[i];

		if (st->nr_files || st->nr_maps)
			continue;
		if (opts.have_unused_for &&
		    (now < last_use(st) ||
		     (uint64_t)(now - last_use(st)) < opts.unused_for))
			continue;
		if (opts.dry_run) {
			printf("would remove %s\n", st->name);
			continue;
		}
		ret = shmdev_unlink_flags(st->name, SHMDEV_UNLINK_IF_UNUSED);
		if (!ret)
			printf("removed %s\n", st->name);
		else if (ret == -EPERM)
			denied++;
		else if (ret != -EBUSY && ret != -ENOENT)
			status = fail("prune", st->name, ret);
	}
	free(v);
	if (denied)
		fprintf(stderr, PROG ": left %zu unused segment%s you may not remove\n",
			denied, denied == 1 ? "" : "s");
	return status;
}

static int print_version(void)
{
	struct shmdev_version ver;
	char huge[32] = "none";

	printf(PROG " %s (libshmdev %s)\n", SHMDEV_CTL_VERSION,
	       shmdev_lib_version());
	if (!shmdev_version(&ver)) {
		if (ver.huge_page_size)
			format_size(ver.huge_page_size, huge, sizeof(huge));
		printf("module: API version %" PRIu32 ", features 0x%" PRIx64
		       ", huge pages %s\n", ver.api_version,
		       (uint64_t)ver.features, huge);
	} else {
		printf("module: not available\n");
	}
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	bool takes_json;
	bool takes_create_opts;
	const char *help;	/* VERB --help: its line in usage_text */
} verbs[] = {
	{ "create",	cmd_create,	false,	true,	"\n  create " },
	{ "list",	cmd_list,	true,	false,	"\n  list " },
	{ "info",	cmd_info,	true,	false,	"\n  info " },
	{ "resize",	cmd_resize,	false,	false,	"\n  resize " },
	{ "seal",	cmd_seal,	false,	false,	"\n  seal " },
	{ "chmod",	cmd_chmod,	false,	false,	"\n  chmod " },
	{ "chown",	cmd_chown,	false,	false,	"\n  chown " },
	{ "rm",		cmd_rm,		false,	false,	"\n  rm " },
	{ "cat",	cmd_cat,	false,	false,	"\n  cat " },
	{ "write",	cmd_write,	false,	false,	"\n  write " },
	{ "limits",	cmd_limits,	true,	false,	"\n  limits " },
	{ "prune",	cmd_prune,	false,	false,	"\n  prune " },
	{ "who",	cmd_who,	false,	false,	"\n  who " },
};

/*
 * VERB --help: the lines of usage_text that describe the verb, from the
 * one that starts with @start up to the next verb's.
 */
static int verb_help(const char *start)
{
	const char *p = strstr(usage_text, start), *end;

	if (!p)
		return EXIT_FAIL;
	p++;
	end = p + strlen(start) - 1;
	for (;;) {
		end = strchr(end, '\n');
		if (!end || end[1] != ' ' || end[2] != ' ' || end[3] != ' ')
			break;
		end++;
	}
	printf("Usage: " PROG " %.*s\n", (int)((end ? end : p + strlen(p)) - p - 2),
	       p + 2);
	return 0;
}

enum { OPT_HUGE = 256, OPT_LOCKED, OPT_UNUSED_FOR };

static const struct option long_opts[] = {
	{ "json",	no_argument,		NULL,	'j' },
	{ "mode",	required_argument,	NULL,	'm' },
	{ "huge",	no_argument,		NULL,	OPT_HUGE },
	{ "locked",	no_argument,		NULL,	OPT_LOCKED },
	{ "pids",	no_argument,		NULL,	'p' },
	{ "times",	no_argument,		NULL,	't' },
	{ "unused-for",	required_argument,	NULL,	OPT_UNUSED_FOR },
	{ "dry-run",	no_argument,		NULL,	'n' },
	{ "help",	no_argument,		NULL,	'h' },
	{ "version",	no_argument,		NULL,	'V' },
	{ NULL,		0,			NULL,	0 },
};

int main(int argc, char **argv)
{
	size_t i;
	int c, ret;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":jm:hVptn", long_opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			opts.json = true;
			break;
		case 'm':
			ret = parse_mode(optarg, &opts.mode);
			if (ret)
				return ret;
			opts.have_mode = true;
			break;
		case OPT_HUGE:
			opts.huge = true;
			break;
		case OPT_LOCKED:
			opts.locked = true;
			break;
		case 'p':
			opts.pids = true;
			break;
		case 't':
			opts.times = true;
			break;
		case 'n':
			opts.dry_run = true;
			break;
		case OPT_UNUSED_FOR:
			ret = parse_duration(optarg, &opts.unused_for);
			if (ret)
				return ret;
			opts.have_unused_for = true;
			break;
		case 'h':
			opts.help = true;
			break;
		case 'V':
			return print_version();
		case ':':
			return usage_error("option '%s' needs an argument",
					   argv[optind - 1]);
		default:
			if (optopt)
				return usage_error("unknown option '-%c'",
						   optopt);
			return usage_error("unknown option '%s'",
					   argv[optind - 1]);
		}
	}
	if (opts.help && optind >= argc) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (optind >= argc)
		return usage_error("no verb given");
	for (i = 0; i < ARRAY_SIZE(verbs); i++)
		if (!strcmp(argv[optind], verbs[i].name))
			break;
	if (i == ARRAY_SIZE(verbs))
		return usage_error("unknown verb '%s'", argv[optind]);
	if (opts.help)
		return verb_help(verbs[i].help);
	if ((opts.pids || opts.times) && verbs[i].fn != cmd_list)
		return usage_error("-p and -t apply to list only");
	if ((opts.dry_run || opts.have_unused_for) && verbs[i].fn != cmd_prune)
		return usage_error("--unused-for and --dry-run apply to prune only");
	if (opts.json && !verbs[i].takes_json)
		return usage_error("--json applies to list, info and limits only");
	if ((opts.have_mode || opts.huge || opts.locked) &&
	    !verbs[i].takes_create_opts)
		return usage_error("--mode, --huge and --locked apply to create only");
	ret = verbs[i].fn(argc - optind - 1, argv + optind + 1);
	if (fflush(stdout) || ferror(stdout)) {
		err("write to standard output: %s", strerror(errno));
		return EXIT_FAIL;
	}
	return ret;
}
