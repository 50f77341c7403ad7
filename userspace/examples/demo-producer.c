// SPDX-License-Identifier: GPL-2.0
/*
 * demo-producer: create a named shmdev segment, write a message and a
 * checksum into it, and exit. The segment outlives this process.
 *
 * usage: demo-producer NAME MESSAGE
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
	struct shmdev_create create;
	struct demo_page *page;
	int fd;

	if (argc != 3 || strlen(argv[1]) >= SHMDEV_NAME_MAX ||
	    strlen(argv[2]) >= sizeof(page->text)) {
		fprintf(stderr, "usage: %s NAME MESSAGE\n", argv[0]);
		return 2;
	}

	fd = open(SHMDEV_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		perror(SHMDEV_DEVICE_PATH);
		return 1;
	}
	memset(&create, 0, sizeof(create));
	strcpy(create.name, argv[1]);
	create.size = DEMO_SIZE;
	create.mode = 0644;
	if (ioctl(fd, SHMDEV_IOC_CREATE, &create)) {
		fprintf(stderr, "create %s: %s\n", argv[1], strerror(errno));
		return 1;
	}

	page = mmap(NULL, DEMO_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (page == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	strcpy(page->text, argv[2]);
	page->pid = getpid();
	page->sum = demo_checksum(page->text);
	munmap(page, DEMO_SIZE);
	close(fd);

	printf("producer %d: wrote \"%s\" into segment %s (id %llu), exiting\n",
	       (int)getpid(), argv[2], argv[1],
	       (unsigned long long)create.id);
	return 0;
}
