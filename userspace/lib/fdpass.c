// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * libshmdev: passing a segment's file descriptor over a Unix socket.
 *
 * Each descriptor travels with one data byte, so that on a stream socket
 * every descriptor is tied to a byte of its own and two sends are never
 * merged into one receive.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "libshmdev.h"
#include "seg-private.h"

#define FDPASS_BYTE	'S'

union fd_cmsg {
	struct cmsghdr hdr;
	char buf[CMSG_SPACE(sizeof(int))];
};

/* A zeroed @msg carrying the one byte of @iov, with @cm for a descriptor. */
static void fd_msg_init(struct msghdr *msg, struct iovec *iov,
			union fd_cmsg *cm)
{
	memset(cm, 0, sizeof(*cm));
	memset(msg, 0, sizeof(*msg));
	msg->msg_iov = iov;
	msg->msg_iovlen = 1;
	msg->msg_control = cm->buf;
	msg->msg_controllen = sizeof(cm->buf);
}

int shmdev_send_fd(int sock, int fd)
{
	char byte = FDPASS_BYTE;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	union fd_cmsg cm;
	struct msghdr msg;
	struct cmsghdr *c;
	ssize_t n;

	if (fd < 0)
		return -EBADF;
	fd_msg_init(&msg, &iov, &cm);
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	do {
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == 1 ? 0 : -EIO;
}

/* Closes every descriptor in the control messages of @msg. */
static void close_passed_fds(struct msghdr *msg)
{
	struct cmsghdr *c;
	size_t i, nr;
	int fd;

	for (c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		nr = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < nr; i++) {
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			seg_close(fd);
		}
	}
}

int shmdev_recv_fd(int sock)
{
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	union fd_cmsg cm;
	struct msghdr msg;
	struct cmsghdr *c;
	ssize_t n;
	int fd;

	fd_msg_init(&msg, &iov, &cm);
	do {
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -EPIPE;		/* the peer closed the socket */
	c = CMSG_FIRSTHDR(&msg);
	if ((msg.msg_flags & MSG_CTRUNC) || !c ||
	    c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
	    c->cmsg_len != CMSG_LEN(sizeof(int)) || byte != FDPASS_BYTE) {
		close_passed_fds(&msg);
		return -EBADMSG;
	}
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}
