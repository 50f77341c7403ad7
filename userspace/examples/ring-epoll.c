// SPDX-License-Identifier: GPL-2.0
/*
 * ring-epoll: one thread and one epoll loop serve two message rings and a
 * TCP connection.
 *
 * usage: ring-epoll NAME [COUNT]
 *
 * Creates the segments NAME.a and NAME.b, each holding a message ring, and
 * a TCP socket listening on 127.0.0.1 (on a port the kernel picks). Then
 * it forks a producer for each ring, which attaches the segment by name
 * and sends COUNT (default 10000) numbered messages in bursts, and a
 * client, which connects to the socket and sends TCP_LINES lines, also in
 * bursts.
 *
 * The parent waits for all three in a single epoll_wait(). A ring's file
 * (shmdev_ring_fd()) is readable once its doorbell rang, and the producer
 * rings it only after the consumer has found the ring empty and armed it
 * with shmdev_ring_poll_prepare(): so the loop reads what there is
 * without blocking, checks every message, arms the doorbell and sleeps.
 * A ring ends when poll_prepare() says -EPIPE (its producer detached or
 * died), the connection when the client closes it. Every LOOP_TICK_MS the
 * loop asks the rings again even if nothing rang: a producer that dies
 * without detaching rings nobody.
 *
 * Prints a summary, with how often epoll woke it up, and removes the
 * segments. Exits with status 0 if every message and every line arrived,
 * in order. The loopback interface must be up (ip link set lo up).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libshmdev.h>

#include "ring-loop.h"
#include "ring-msg.h"

#define NR_RINGS	2
/* Lines the client sends, and how many before each pause. */
#define TCP_LINES	1000
#define TCP_BURST	10
#define TCP_LINE_MAX	32
/* epoll_event.data.u32 of the sockets; a ring's is its index. */
#define EV_LISTEN	NR_RINGS
#define EV_CONN		(NR_RINGS + 1)

/* The server's side of the TCP connection. */
struct tcp {
	int listen_fd;
	int conn_fd;
	pid_t client;
	unsigned int lines;		/* lines received and checked */
	char line[TCP_LINE_MAX];	/* the line being received */
	size_t len;
	uint64_t wakeups;		/* times the sockets woke the loop */
	bool done;			/* all lines in, the client gone */
};

/* A socket listening on 127.0.0.1; its port in *@port. */
static int tcp_listen(struct tcp *t, in_port_t *port)
{
	struct sockaddr_in sa = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	socklen_t sa_len = sizeof(sa);

	t->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (t->listen_fd < 0 ||
	    bind(t->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(t->listen_fd, 1) ||
	    getsockname(t->listen_fd, (struct sockaddr *)&sa, &sa_len)) {
		fprintf(stderr, "ring-epoll: TCP on 127.0.0.1: %s\n",
			strerror(errno));
		return -1;
	}
	*port = sa.sin_port;
	return 0;
}

/* The client, in a child: TCP_LINES lines to @port, in bursts. */
static int tcp_client(in_port_t port)
{
	struct sockaddr_in sa = {
		.sin_family = AF_INET,
		.sin_port = port,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	char line[TCP_LINE_MAX];
	int fd, i, n;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		fprintf(stderr, "client: connect: %s%s\n", strerror(errno),
			errno == ENETUNREACH ?
			" (is the loopback interface up? ip link set lo up)" : "");
		return 1;
	}
	for (i = 0; i < TCP_LINES; i++) {
		n = snprintf(line, sizeof(line), "line %d\n", i);
		if (write(fd, line, n) != n) {
			fprintf(stderr, "client: write: %s\n", strerror(errno));
			return 1;
		}
		if (i % TCP_BURST == TCP_BURST - 1)
			usleep(LOOP_PAUSE_US);
	}
	close(fd);
	return 0;
}

/*
 * Reaps the client if it has exited, waiting for it with @flags 0: -1 if
 * it failed (having said so), 0 if not.
 */
static int tcp_reap(struct tcp *t, int flags)
{
	int st;

	if (t->client <= 0 || waitpid(t->client, &st, flags) != t->client)
		return 0;
	t->client = 0;
	if (WIFEXITED(st) && !WEXITSTATUS(st))
		return 0;
	fprintf(stderr, "ring-epoll: the client failed\n");
	return -1;
}

/* Takes the client's connection; the listening socket is no longer needed. */
static int tcp_accept(struct tcp *t, int ep)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = EV_CONN };

	t->conn_fd = accept4(t->listen_fd, NULL, NULL,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (t->conn_fd < 0 ||
	    epoll_ctl(ep, EPOLL_CTL_ADD, t->conn_fd, &ev)) {
		fprintf(stderr, "ring-epoll: accept: %s\n", strerror(errno));
		return -1;
	}
	epoll_ctl(ep, EPOLL_CTL_DEL, t->listen_fd, NULL);
	close(t->listen_fd);
	t->listen_fd = -1;
	return 0;
}

/*
 * Reads what the client sent, without blocking, and checks it line by
 * line: 0, or -1 having printed what is wrong. Sets ->done at the end.
 */
static int tcp_read(struct tcp *t, int ep)
{
	char buf[4096], want[TCP_LINE_MAX];
	ssize_t n, i;

	while ((n = read(t->conn_fd, buf, sizeof(buf))) > 0) {
		for (i = 0; i < n; i++) {
			if (buf[i] != '\n') {
				if (t->len == sizeof(t->line) - 1)
					goto bad;
				t->line[t->len++] = buf[i];
				continue;
			}
			t->line[t->len] = '\0';
			snprintf(want, sizeof(want), "line %u", t->lines);
			if (strcmp(t->line, want))
				goto bad;
			t->lines++;
			t->len = 0;
		}
	}
	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n < 0) {
		fprintf(stderr, "ring-epoll: read: %s\n", strerror(errno));
		return -1;
	}
	/* End of file: the client closed the connection. */
	epoll_ctl(ep, EPOLL_CTL_DEL, t->conn_fd, NULL);
	close(t->conn_fd);
	t->conn_fd = -1;
	if (t->len || t->lines != TCP_LINES) {
		fprintf(stderr, "ring-epoll: the client went away after %u of %d lines\n",
			t->lines, TCP_LINES);
		return -1;
	}
	t->done = true;
	return 0;
bad:
	t->line[t->len] = '\0';
	fprintf(stderr, "ring-epoll: expected \"line %u\", got \"%s\"\n",
		t->lines, t->line);
	return -1;
}

/*
 * The ring's doorbell rang (or a tick passed): read it empty and arm the
 * doorbell again, or take the ring out of the loop once it is done.
 */
static int serve_ring(struct loop_ring *lr, int ep, uint32_t events)
{
	int ret = loop_ring_drain(lr);

	if (ret < 0)
		return -1;
	if (ret > 0)
		return epoll_ctl(ep, EPOLL_CTL_DEL, lr->fd, NULL);
	/*
	 * Armed, yet the file hangs up: the segment's name is gone and
	 * every other file bound to it too, so nobody can ring it again.
	 */
	if (events & EPOLLHUP) {
		fprintf(stderr, "ring-epoll: %s: removed, and nobody left to ring its doorbell\n",
			lr->name);
		return -1;
	}
	return 0;
}

/*
 * What no event reports, looked at every LOOP_TICK_MS, busy or not: a
 * producer that died without detaching rang nobody (its ring now says
 * -EPIPE), and a client that failed before it connected sends nothing.
 */
static int check_peers(struct loop_ring *rings, struct tcp *t, int ep)
{
	int i;

	for (i = 0; i < NR_RINGS; i++)
		if (!rings[i].done && serve_ring(&rings[i], ep, 0))
			return -1;
	return tcp_reap(t, WNOHANG);
}

int main(int argc, char **argv)
{
	struct tcp tcp = { .listen_fd = -1, .conn_fd = -1 };
	struct loop_ring rings[NR_RINGS];
	struct epoll_event ev, evs[8];
	uint64_t count, wakeups = 0, ticks = 0;
	char seg[SHMDEV_NAME_MAX + 8];
	int i, n, ep = -1, nr_rings = 0, rc = 1;
	int64_t now, last, checked;
	const char *name;
	in_port_t port;
	bool done;

	if (loop_parse_args(argc, argv, &name, &count))
		return 2;
	/* Line by line: several processes share the terminal or log. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (loop_check_doorbells("ring-epoll"))
		return 1;

	for (i = 0; i < NR_RINGS; i++) {
		snprintf(seg, sizeof(seg), "%s.%c", name, 'a' + i);
		if (loop_ring_create(&rings[i], seg, count))
			goto out;
		nr_rings++;
		if (loop_producer_start(&rings[i]))
			goto out;
	}
	if (tcp_listen(&tcp, &port))
		goto out;
	tcp.client = fork();
	if (tcp.client < 0) {
		fprintf(stderr, "ring-epoll: fork: %s\n", strerror(errno));
		goto out;
	}
	if (tcp.client == 0) {
		close(tcp.listen_fd);
		_exit(tcp_client(port));
	}
	printf("ring-epoll: %s.a and %s.b, %" PRIu64 " messages each, and %d lines on 127.0.0.1:%u\n",
	       name, name, count, TCP_LINES, ntohs(port));

	/* After the forks: the children need no epoll instance. */
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0) {
		fprintf(stderr, "ring-epoll: epoll_create1: %s\n",
			strerror(errno));
		goto out;
	}
	for (i = 0; i <= NR_RINGS; i++) {
		ev.events = EPOLLIN;
		ev.data.u32 = i;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, i < NR_RINGS ?
			      shmdev_ring_fd(&rings[i].ring) : tcp.listen_fd,
			      &ev)) {
			fprintf(stderr, "ring-epoll: epoll_ctl: %s\n",
				strerror(errno));
			goto out;
		}
	}
	/* Nobody rings a doorbell that is not armed: drain and arm first. */
	for (i = 0; i < NR_RINGS; i++)
		if (serve_ring(&rings[i], ep, 0))
			goto out;

	last = loop_now_ms();
	checked = last;
	for (;;) {
		done = tcp.done;
		for (i = 0; i < NR_RINGS; i++)
			done = done && rings[i].done;
		if (done)
			break;
		n = epoll_wait(ep, evs, 8, LOOP_TICK_MS);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "ring-epoll: epoll_wait: %s\n",
				strerror(errno));
			goto out;
		}
		now = loop_now_ms();
		if (n > 0) {
			wakeups++;
			last = now;
		} else {
			ticks++;
		}
		for (i = 0; i < n; i++) {
			uint32_t what = evs[i].data.u32;

			if (what < NR_RINGS) {
				rings[what].wakeups++;
				if (serve_ring(&rings[what], ep, evs[i].events))
					goto out;
				continue;
			}
			tcp.wakeups++;
			if (what == EV_LISTEN ? tcp_accept(&tcp, ep) :
			    tcp_read(&tcp, ep))
				goto out;
		}
		if (now - checked >= LOOP_TICK_MS) {
			checked = now;
			if (check_peers(rings, &tcp, ep))
				goto out;
		}
		if (now - last > RING_STALL_TIMEOUT_NS / 1000000) {
			fprintf(stderr, "ring-epoll: nothing happened for %lld s, giving up\n",
				RING_STALL_TIMEOUT_NS / 1000000000LL);
			goto out;
		}
	}
	printf("ring-epoll: %s %" PRIu64 " and %s %" PRIu64 " messages, %u lines, all in order; %" PRIu64 " epoll wakeups (doorbells %" PRIu64 " + %" PRIu64 ", sockets %" PRIu64 "), %" PRIu64 " quiet ticks\n",
	       rings[0].name, rings[0].next, rings[1].name, rings[1].next,
	       tcp.lines, wakeups, rings[0].wakeups, rings[1].wakeups,
	       tcp.wakeups, ticks);
	rc = 0;
out:
	/* Removes the segments, and reaps (or kills) the producers. */
	for (i = 0; i < nr_rings; i++)
		if (loop_ring_finish(&rings[i]))
			rc = 1;
	if (tcp.client > 0 && !tcp.done) {
		kill(tcp.client, SIGKILL);
		waitpid(tcp.client, NULL, 0);
	} else if (tcp_reap(&tcp, 0)) {
		rc = 1;
	}
	if (tcp.conn_fd >= 0)
		close(tcp.conn_fd);
	if (tcp.listen_fd >= 0)
		close(tcp.listen_fd);
	if (ep >= 0)
		close(ep);
	if (rc)
		fprintf(stderr, "ring-epoll: FAILED\n");
	return rc;
}
