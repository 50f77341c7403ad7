// SPDX-License-Identifier: GPL-2.0
/*
 * fdpass-demo: hand a shmdev segment to another process over a Unix socket.
 *
 * usage: fdpass-demo
 *
 * A segment is reached through a file descriptor, and a file descriptor can
 * be sent over an AF_UNIX socket (SCM_RIGHTS): shmdev_send_fd() and
 * shmdev_recv_fd(). The receiver gets the same access as the sender had.
 *
 * Part 1: the parent creates an ANONYMOUS segment, one that has no name and
 * that no other process could attach, after fork(), so the child cannot
 * have inherited it. It writes a message, sends the descriptor, and the
 * child maps it, prints the message and writes a reply that the parent
 * reads in its own mapping.
 *
 * Part 2: the parent creates a named segment, attaches it a second time
 * read-only and sends only that read-only descriptor. The child can map it
 * for reading, but neither a writable shared mapping nor mprotect() can
 * turn it into a writable one: both fail with EACCES.
 *
 * Exits with status 0 if everything behaved as described.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libshmdev.h>

#define SEG_SIZE	4096
#define REPLY_OFFSET	2048	/* where the child writes in part 1 */

/* One byte over the socket to say "your turn"; 0 or -1. */
static int signal_peer(int sock)
{
	return write(sock, "", 1) == 1 ? 0 : -1;
}

static int wait_peer(int sock)
{
	char c;

	return read(sock, &c, 1) == 1 ? 0 : -1;
}

/* The child: receives two descriptors from @sock. */
static int run_child(int sock)
{
	struct shmdev_info info;
	char *p, *w;
	size_t len;
	int fd, ret;

	/* Part 1: an anonymous segment, read-write. */
	fd = shmdev_recv_fd(sock);
	if (fd < 0) {
		fprintf(stderr, "child: recv_fd: %s\n", strerror(-fd));
		return 1;
	}
	ret = shmdev_info(fd, &info);
	if (ret) {
		fprintf(stderr, "child: info: %s\n", strerror(-ret));
		return 1;
	}
	printf("child:  received fd %d: segment id %llu, %llu bytes, %s\n", fd,
	       (unsigned long long)info.id, (unsigned long long)info.size,
	       info.name[0] ? info.name : "anonymous");
	p = shmdev_map(fd, PROT_READ | PROT_WRITE, MAP_SHARED, &len);
	close(fd);
	if (!p) {
		perror("child: map");
		return 1;
	}
	printf("child:  read \"%s\"\n", p);
	snprintf(p + REPLY_OFFSET, len - REPLY_OFFSET,
		 "hello back from pid %d", (int)getpid());
	shmdev_unmap(p, len);
	if (signal_peer(sock))
		return 1;

	/* Part 2: a descriptor attached read-only. */
	fd = shmdev_recv_fd(sock);
	if (fd < 0) {
		fprintf(stderr, "child: recv_fd: %s\n", strerror(-fd));
		return 1;
	}
	p = shmdev_map(fd, PROT_READ, MAP_SHARED, &len);
	if (!p) {
		perror("child: map read-only");
		return 1;
	}
	printf("child:  received a read-only fd; read \"%s\"\n", p);

	/* Asking for write access must fail, whichever way it is asked. */
	w = shmdev_map(fd, PROT_READ | PROT_WRITE, MAP_SHARED, NULL);
	if (w || errno != EACCES) {
		printf("child:  writable mapping of a read-only fd: %s (expected EACCES)\n",
		       w ? "succeeded" : strerror(errno));
		return 1;
	}
	printf("child:  writable shared mapping refused: %s\n",
	       strerror(errno));
	ret = mprotect(p, len, PROT_READ | PROT_WRITE);
	if (!ret || errno != EACCES) {
		printf("child:  mprotect(PROT_WRITE): %s (expected EACCES)\n",
		       ret ? strerror(errno) : "succeeded");
		return 1;
	}
	printf("child:  mprotect(PROT_READ | PROT_WRITE) refused: %s\n",
	       strerror(errno));
	shmdev_unmap(p, len);
	close(fd);
	return 0;
}

/* Part 1, the parent's side. */
static int share_anonymous(int sock)
{
	char *p;
	size_t len;
	int fd, ret;

	/* A NULL name makes an anonymous segment: only its fds reach it. */
	fd = shmdev_create(NULL, SEG_SIZE, 0600, 0);
	if (fd < 0) {
		fprintf(stderr, "parent: create: %s\n", strerror(-fd));
		return 1;
	}
	p = shmdev_map(fd, PROT_READ | PROT_WRITE, MAP_SHARED, &len);
	if (!p) {
		perror("parent: map");
		close(fd);
		return 1;
	}
	snprintf(p, REPLY_OFFSET, "hello from pid %d through an anonymous segment",
		 (int)getpid());
	printf("parent: created an anonymous segment, wrote \"%s\"\n", p);

	ret = shmdev_send_fd(sock, fd);
	/* The child has its own descriptor now; our mapping stays valid. */
	close(fd);
	if (ret) {
		fprintf(stderr, "parent: send_fd: %s\n", strerror(-ret));
		return 1;
	}
	if (wait_peer(sock)) {
		fprintf(stderr, "parent: the child went away\n");
		return 1;
	}
	printf("parent: the child wrote back \"%s\"\n", p + REPLY_OFFSET);
	shmdev_unmap(p, len);
	return 0;
}

/* Part 2, the parent's side. */
static int share_readonly(int sock)
{
	char name[SHMDEV_NAME_MAX], *p;
	int fd, ro, ret;
	size_t len;

	snprintf(name, sizeof(name), "fdpass-demo.%d", (int)getpid());
	fd = shmdev_create(name, SEG_SIZE, 0644, 0);
	if (fd < 0) {
		fprintf(stderr, "parent: create %s: %s\n", name, strerror(-fd));
		return 1;
	}
	p = shmdev_map(fd, PROT_READ | PROT_WRITE, MAP_SHARED, &len);
	close(fd);
	if (!p) {
		perror("parent: map");
		shmdev_unlink(name);
		return 1;
	}
	snprintf(p, len, "look, don't touch");
	shmdev_unmap(p, len);

	ro = shmdev_attach(name, SHMDEV_ATTACH_RDONLY);
	/*
	 * The name is not needed any more: the descriptor keeps the
	 * segment, and the child receives it without knowing the name.
	 */
	shmdev_unlink(name);
	if (ro < 0) {
		fprintf(stderr, "parent: attach %s read-only: %s\n", name,
			strerror(-ro));
		return 1;
	}
	printf("parent: created %s, sending a read-only attach of it\n", name);
	ret = shmdev_send_fd(sock, ro);
	close(ro);
	if (ret) {
		fprintf(stderr, "parent: send_fd: %s\n", strerror(-ret));
		return 1;
	}
	return 0;
}

int main(void)
{
	int sv[2], status, rc;
	pid_t pid;

	/* Line by line, so that parent and child do not interleave lines. */
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		perror("socketpair");
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (!pid) {
		close(sv[0]);
		_exit(run_child(sv[1]));
	}
	close(sv[1]);

	rc = share_anonymous(sv[0]);
	if (!rc)
		rc = share_readonly(sv[0]);
	/* The child sees end-of-file if we gave up early. */
	close(sv[0]);

	if (waitpid(pid, &status, 0) != pid) {
		perror("waitpid");
		return 1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "parent: the child failed\n");
		rc = 1;
	}
	if (!rc)
		printf("parent: ok: the segments traveled by fd, and read-only stayed read-only\n");
	return rc;
}
