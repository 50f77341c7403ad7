// SPDX-License-Identifier: GPL-2.0
/*
 * demo-consumer: attach a named shmdev segment read-only, verify the
 * producer's message, show the segment as the kernel reports it, and
 * remove it unless --keep is given.
 *
 * usage: demo-consumer [--keep] NAME
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/shmdev.h>

#include "demo.h"

int main(int argc, char **argv)
{
	struct shmdev_attach attach;
	struct shmdev_unlink unlink;
	struct shmdev_info info;
	const struct demo_page *page;
	const char *name;
	int keep = 0, fd;

	if (argc == 3 && !strcmp(argv[1], "--keep"))
		keep = 1;
	else if (argc != 2) {
		fprintf(stderr, "usage: %s [--keep] NAME\n", argv[0]);
		return 2;
	}
	name = argv[argc - 1];
	if (strlen(name) >= SHMDEV_NAME_MAX) {
		fprintf(stderr, "%s: name too long\n", name);
		return 2;
	}

	fd = open(SHMDEV_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		perror(SHMDEV_DEVICE_PATH);
		return 1;
	}
	memset(&attach, 0, sizeof(attach));
	strcpy(attach.name, name);
	attach.flags = SHMDEV_ATTACH_RDONLY;
	if (ioctl(fd, SHMDEV_IOC_ATTACH, &attach)) {
		fprintf(stderr, "attach %s: %s\n", name, strerror(errno));
		return 1;
	}
	page = mmap(NULL, attach.size, PROT_READ, MAP_SHARED, fd, 0);
	if (page == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	if (page->sum != demo_checksum(page->text)) {
		fprintf(stderr, "consumer: checksum mismatch\n");
		return 1;
	}
	printf("consumer %d: read \"%s\" from producer %d, checksum ok\n",
	       (int)getpid(), page->text, (int)page->pid);

	if (ioctl(fd, SHMDEV_IOC_INFO, &info)) {
		perror("info");
		return 1;
	}
	printf("%-6s %-16s %10s %6s %6s %5s %5s %5s\n",
	       "id", "name", "size", "uid", "gid", "mode", "files", "maps");
	printf("%-6llu %-16s %10llu %6u %6u %5o %5u %5u\n",
	       (unsigned long long)info.id, info.name,
	       (unsigned long long)info.size, info.uid, info.gid, info.mode,
	       info.nr_files, info.nr_maps);

	munmap((void *)page, attach.size);
	close(fd);
	if (keep)
		return 0;

	fd = open(SHMDEV_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	memset(&unlink, 0, sizeof(unlink));
	strcpy(unlink.name, name);
	if (fd < 0 || ioctl(fd, SHMDEV_IOC_UNLINK, &unlink)) {
		fprintf(stderr, "unlink %s: %s\n", name, strerror(errno));
		return 1;
	}
	close(fd);
	printf("consumer: removed segment %s\n", name);
	return 0;
}
