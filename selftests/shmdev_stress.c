// SPDX-License-Identifier: GPL-2.0
/*
 * shmdev_stress - random operations on /dev/shmdev from many processes,
 * with every byte of shared data verified.
 *
 *   shmdev_stress [--procs N] [--secs S] [--seed X] [--names N] [--verbose]
 *
 * N worker processes (default 8, $SHMDEV_STRESS_PROCS) run for S seconds
 * (default 60, $SHMDEV_STRESS_SECS) doing random operations: create named
 * and anonymous segments of random sizes, attach them read-write and
 * read-only, map random ranges shared and private, write and verify data,
 * fork, unlink, re-create, resize, seal, close, unmap and exit at random
 * points (the parent replaces a worker that exits). The seed is printed
 * ($SHMDEV_STRESS_SEED or --seed gives it back); each worker's operations
 * follow from it, their interleaving does not.
 *
 * Verification. Page 0 of every segment is a header (struct seg_hdr):
 * a process-shared robust mutex that writers hold, a sequence counter
 * (odd while a writer changes anything, as a seqlock), the size and, for
 * each data page, the generation and writer of its contents. Page P's
 * contents are a function of (segment id, P, generation, writer pid), so
 * any process, even one with only a read-only mapping, can check any other
 * process's data: it copies the page between two reads of the sequence
 * counter and compares. Resizes happen under the mutex too. A mismatch,
 * a SIGBUS inside the recorded size, a size that INFO reports differently,
 * or any errno the uapi does not document for that call in that state is a
 * failure.
 *
 * At the end every worker has exited, every name is unlinked, and the
 * module's page count (nr_pages) must come back to where it started.
 * Output is TAP (one test) with kselftest totals; exit status 0 or 1
 * (4: skipped, no module). SHMDEV_STRESS_INJECT=1 corrupts a byte now and
 * then behind the checker's back, to show that it notices (that run fails).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shmdev_util.h"

#define KSFT_SKIP		4
#define NR_NAMES_DEFAULT	12
#define NR_NAMES_MAX		64
#define MAX_PROCS		64
#define MAX_HANDLES		6
#define MAX_MAPS		6
#define MAX_DATA_PAGES		240	/* fits the header page */
#define SIZE_PAGES_MAX		48	/* data pages of a random size */
#define MAP_PAGES_MAX		16
#define IO_PAGES_MAX		8
#define HDR_MAGIC		0x53545253U
#define PAT_MAGIC		0x5348d3a1c0ffee00ULL
#define READ_TRIES		400
#define FORK_OPS		40
#define MAX_REPORTS		20	/* error lines one process prints */

static size_t ps;

/* Expected contents of one data page. */
struct page_ent {
	uint32_t gen;		/* 0: all zero */
	uint32_t pid;		/* writer */
	uint32_t vlen;		/* bytes of pattern; the rest reads zero */
	uint32_t pad;
};

struct seg_hdr {
	uint32_t magic;		/* HDR_MAGIC once initialised (release) */
	uint32_t seq;		/* odd while a writer changes anything */
	uint64_t id;		/* segment id, as CREATE returned it */
	uint64_t size;		/* segment size in bytes */
	uint32_t next_gen;
	uint32_t pad;
	pthread_mutex_t lock;	/* process-shared, robust */
	uint8_t pad2[128 - 32 - sizeof(pthread_mutex_t)];
	struct page_ent pages[MAX_DATA_PAGES];	/* pages[0] is page 1 */
};

_Static_assert(sizeof(struct seg_hdr) <= 4096, "header fits a page");

enum op {
	OP_OPEN_NAMED, OP_CREATE_NAMED, OP_ATTACH_RO, OP_CREATE_ANON, OP_MAP,
	OP_MAP_REFUSED, OP_UNMAP, OP_WRITE, OP_VERIFY, OP_PRIVATE_WRITE,
	OP_RESIZE, OP_RESIZE_REFUSED, OP_SEAL, OP_SEAL_REFUSED, OP_UNLINK,
	OP_RECREATE, OP_INFO, OP_CLOSE_FD, OP_DROP, OP_FORK, OP_EXIT,
	OP_PAGES_VERIFIED, OP_PAGES_WRITTEN, OP_READ_RETRY, OP_MAX
};

static const char *const op_names[OP_MAX] = {
	"open_named", "create_named", "attach_ro", "create_anon", "mmap",
	"mmap_refused", "munmap", "write", "verify", "private_write",
	"resize", "resize_refused", "seal", "seal_refused", "unlink",
	"recreate", "info", "close_fd", "drop", "fork", "exit",
	"pages_verified", "pages_written", "read_retry_exhausted",
};

/* Shared by all processes (anonymous shared mapping). */
struct ctl {
	volatile int stop;
	int pad;
	uint64_t counts[OP_MAX];
	uint64_t errors;
	uint64_t mismatches;
	uint64_t spawned;
	char first_error[512];
};

struct map {
	uint8_t *addr;
	size_t len;		/* bytes */
	uint32_t first;		/* segment page of addr, >= 1 */
	uint32_t npages;
	bool shared;
	bool writable;
	bool dirty;		/* private pages written: not verified */
};

struct handle {
	bool used;
	int fd;			/* -1 once closed */
	bool rdonly;
	int name;		/* pool index or -1 (anonymous) */
	uint64_t id;
	struct seg_hdr *hdr;
	bool hdr_rw;
	struct map maps[MAX_MAPS];
};

static struct ctl *ctl;
static uint64_t master_seed;
static int nr_names = NR_NAMES_DEFAULT;
static pid_t parent_pid;
static bool verbose;
static bool inject;	/* $SHMDEV_STRESS_INJECT: the run must fail */
static uint64_t rng;
static struct handle handles[MAX_HANDLES];
static int reports;
static uint8_t *expect_buf, *copy_buf;

static uint64_t next_rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545F4914F6CDD1DULL;
}

static uint64_t rnd_below(uint64_t n)
{
	return n ? next_rnd() % n : 0;
}

static void count(enum op op, uint64_t n)
{
	__atomic_fetch_add(&ctl->counts[op], n, __ATOMIC_RELAXED);
}

static void __attribute__((format(printf, 2, 3)))
error(bool mismatch, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (mismatch)
		__atomic_fetch_add(&ctl->mismatches, 1, __ATOMIC_SEQ_CST);
	if (!__atomic_fetch_add(&ctl->errors, 1, __ATOMIC_SEQ_CST))
		snprintf(ctl->first_error, sizeof(ctl->first_error),
			 "pid %d: %s", getpid(), msg);
	if (reports++ < MAX_REPORTS)
		fprintf(stderr, "# ERROR pid %d: %s\n", getpid(), msg);
	/* Stop the run soon: the first error is what matters. */
	ctl->stop = 1;
}

/* Copies @len bytes from @src; 0 or the signal the access raised. */
static int probe_copy(void *dst, const volatile uint8_t *src, size_t len)
{
	int sig;

	st_probe_armed = 1;
	sig = sigsetjmp(st_probe_env, 1);
	if (sig)
		return sig;
	memcpy(dst, (const void *)src, len);
	st_probe_armed = 0;
	return 0;
}

/* The contents of page @p of segment @id at generation @gen by @pid. */
static void pattern(uint8_t *buf, uint64_t id, uint32_t p, uint32_t gen,
		    uint32_t pid)
{
	uint64_t *w = (uint64_t *)buf, x;
	size_t i, n = ps / 8;

	w[0] = PAT_MAGIC ^ id;
	w[1] = p;
	w[2] = gen;
	w[3] = pid;
	x = st_mix64(id * 0x100000001b3ULL ^ ((uint64_t)p << 32) ^ gen) | 1;
	for (i = 4; i < n; i++) {
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		w[i] = x * 0x2545F4914F6CDD1DULL;
	}
}

static void expected(uint8_t *buf, uint64_t id, uint32_t p,
		     const struct page_ent *e)
{
	if (!e->gen) {
		memset(buf, 0, ps);
		return;
	}
	pattern(buf, id, p, e->gen, e->pid);
	if (e->vlen < ps)
		memset(buf + e->vlen, 0, ps - e->vlen);
}

static uint32_t seq_read(struct seg_hdr *h)
{
	return __atomic_load_n(&h->seq, __ATOMIC_ACQUIRE);
}

static void seq_begin(struct seg_hdr *h)
{
	__atomic_fetch_add(&h->seq, 1, __ATOMIC_SEQ_CST);
	/*
	 * The odd count before the stores that follow, as smp_wmb() in
	 * write_seqcount_begin(): an atomic read-modify-write alone does not
	 * keep later plain stores from becoming visible first on weakly
	 * ordered CPUs (arm64 without LSE atomics).
	 */
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

static void seq_end(struct seg_hdr *h)
{
	__atomic_fetch_add(&h->seq, 1, __ATOMIC_SEQ_CST);
}

static uint32_t pages_of_size(uint64_t size)
{
	return (size + ps - 1) / ps;
}

/* Takes the segment's writer lock; false if it cannot. */
static bool hdr_lock(struct handle *h)
{
	int ret;

	if (!h->hdr_rw)
		return false;
	ret = pthread_mutex_lock(&h->hdr->lock);
	if (ret == EOWNERDEAD) {
		error(false, "segment %" PRIu64 ": a process died holding its lock",
		      h->id);
		pthread_mutex_consistent(&h->hdr->lock);
		return true;
	}
	if (ret) {
		error(false, "pthread_mutex_lock: %s", strerror(ret));
		return false;
	}
	return true;
}

static void hdr_unlock(struct handle *h)
{
	pthread_mutex_unlock(&h->hdr->lock);
}

static int open_dev(void)
{
	int fd = st_open();

	if (fd < 0)
		error(false, "open " SHMDEV_DEVICE_PATH ": %s", strerror(-fd));
	return fd;
}

static void name_of(int i, char buf[SHMDEV_NAME_MAX])
{
	snprintf(buf, SHMDEV_NAME_MAX, "stress-%d-%d", (int)parent_pid, i);
}

/* A random segment size: at least the header page and one byte. */
static uint64_t random_size(void)
{
	uint64_t size = (1 + 1 + rnd_below(SIZE_PAGES_MAX)) * ps;

	if (!rnd_below(3))
		size -= rnd_below(ps - 1);
	return size;
}

static struct handle *free_handle(void);
static void drop_handle(struct handle *h);

/* Maps the header page of @h: read-write if the file and seals allow. */
static bool map_header(struct handle *h)
{
	void *p = MAP_FAILED;

	h->hdr_rw = false;
	if (!h->rdonly) {
		p = mmap(NULL, ps, PROT_READ | PROT_WRITE, MAP_SHARED, h->fd, 0);
		if (p == MAP_FAILED) {
			uint32_t seals = 0;

			st_get_seals(h->fd, &seals);
			if (errno != EPERM ||
			    !(seals & (SHMDEV_SEAL_WRITE |
				       SHMDEV_SEAL_FUTURE_WRITE)))
				error(false, "mmap header rw: %s (seals %#x)",
				      strerror(errno), seals);
		} else {
			h->hdr_rw = true;
		}
	}
	if (p == MAP_FAILED)
		p = mmap(NULL, ps, PROT_READ, MAP_SHARED, h->fd, 0);
	if (p == MAP_FAILED) {
		error(false, "mmap header: %s", strerror(errno));
		return false;
	}
	h->hdr = p;
	return true;
}

/* Initialises the header of a segment this process just created. */
static bool init_header(struct handle *h, uint64_t size)
{
	pthread_mutexattr_t attr;
	struct seg_hdr *hdr = h->hdr;

	if (!h->hdr_rw) {
		error(false, "new segment %" PRIu64 " not writable", h->id);
		return false;
	}
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&hdr->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	hdr->id = h->id;
	hdr->size = size;
	__atomic_store_n(&hdr->magic, HDR_MAGIC, __ATOMIC_RELEASE);
	return true;
}

/* Waits for the creator of an attached segment to initialise it. */
static bool wait_header(struct handle *h)
{
	double end = st_now_secs() + 20;

	while (__atomic_load_n(&h->hdr->magic, __ATOMIC_ACQUIRE) != HDR_MAGIC) {
		if (st_now_secs() > end) {
			error(false, "segment %" PRIu64 " never initialised",
			      h->id);
			return false;
		}
		usleep(1000);
	}
	if (h->hdr->id != h->id) {
		error(true, "attached segment %" PRIu64 " but its header says %" PRIu64,
		      h->id, h->hdr->id);
		return false;
	}
	return true;
}

/* Creates a segment (@name < 0: anonymous) into a new handle. */
static struct handle *create_seg(int name)
{
	char buf[SHMDEV_NAME_MAX] = "";
	uint64_t size = random_size(), id;
	struct handle *h;
	int fd, ret;

	if (name >= 0)
		name_of(name, buf);
	fd = open_dev();
	if (fd < 0)
		return NULL;
	ret = st_create(fd, buf, size, 0600, &id);
	if (ret) {
		close(fd);
		/* The limits are far away, but documented. */
		if (ret != -EEXIST && ret != -ENOMEM && ret != -ENOSPC)
			error(false, "create '%s' size %" PRIu64 ": %s", buf,
			      size, strerror(-ret));
		return NULL;
	}
	h = free_handle();
	h->used = true;
	h->fd = fd;
	h->rdonly = false;
	h->name = name;
	h->id = id;
	if (!map_header(h) || !init_header(h, size)) {
		drop_handle(h);
		return NULL;
	}
	count(name < 0 ? OP_CREATE_ANON : OP_CREATE_NAMED, 1);
	return h;
}

static struct handle *attach_seg(int name, bool rdonly)
{
	char buf[SHMDEV_NAME_MAX];
	uint64_t size, id;
	struct handle *h;
	int fd, ret;

	name_of(name, buf);
	fd = open_dev();
	if (fd < 0)
		return NULL;
	ret = st_attach(fd, buf, rdonly ? SHMDEV_ATTACH_RDONLY : 0, &size,
			&id);
	if (ret) {
		close(fd);
		if (ret != -ENOENT)
			error(false, "attach '%s': %s", buf, strerror(-ret));
		return NULL;
	}
	h = free_handle();
	h->used = true;
	h->fd = fd;
	h->rdonly = rdonly;
	h->name = name;
	h->id = id;
	if (!map_header(h) || !wait_header(h)) {
		drop_handle(h);
		return NULL;
	}
	count(rdonly ? OP_ATTACH_RO : OP_OPEN_NAMED, 1);
	return h;
}

static void unmap(struct map *m)
{
	if (m->addr && munmap(m->addr, m->len))
		error(false, "munmap: %s", strerror(errno));
	memset(m, 0, sizeof(*m));
}

static void drop_handle(struct handle *h)
{
	int i;

	for (i = 0; i < MAX_MAPS; i++)
		unmap(&h->maps[i]);
	if (h->hdr)
		munmap(h->hdr, ps);
	if (h->fd >= 0)
		close(h->fd);
	memset(h, 0, sizeof(*h));
	h->fd = -1;
}

/* A free slot; drops a random handle if all are in use. */
static struct handle *free_handle(void)
{
	int i;

	for (i = 0; i < MAX_HANDLES; i++)
		if (!handles[i].used)
			return &handles[i];
	i = rnd_below(MAX_HANDLES);
	drop_handle(&handles[i]);
	count(OP_DROP, 1);
	return &handles[i];
}

static struct handle *random_handle(void)
{
	int i, start = rnd_below(MAX_HANDLES);

	for (i = 0; i < MAX_HANDLES; i++) {
		struct handle *h = &handles[(start + i) % MAX_HANDLES];

		if (h->used)
			return h;
	}
	return NULL;
}

static struct map *random_map(struct handle *h)
{
	int i, start = rnd_below(MAX_MAPS);

	for (i = 0; i < MAX_MAPS; i++) {
		struct map *m = &h->maps[(start + i) % MAX_MAPS];

		if (m->addr)
			return m;
	}
	return NULL;
}

/* A stable snapshot of the size; 0 if writers kept it busy. */
static uint64_t size_snapshot(struct seg_hdr *hdr, uint32_t *seqp)
{
	uint32_t s1;
	uint64_t size;
	int i;

	for (i = 0; i < READ_TRIES; i++) {
		s1 = seq_read(hdr);
		if (s1 & 1) {
			sched_yield();
			continue;
		}
		size = __atomic_load_n(&hdr->size, __ATOMIC_ACQUIRE);
		if (seq_read(hdr) == s1) {
			if (seqp)
				*seqp = s1;
			return size;
		}
	}
	return 0;
}

static uint32_t get_seals(struct handle *h)
{
	uint32_t seals = 0;
	int ret = st_get_seals(h->fd, &seals);

	if (ret)
		error(false, "GET_SEALS: %s", strerror(-ret));
	return seals;
}

/*
 * Verifies page @p, which @m maps, against the header. Returns false on a
 * mismatch (reported).
 */
static bool verify_page(struct handle *h, struct map *m, uint32_t p)
{
	struct seg_hdr *hdr = h->hdr;
	const uint8_t *src = m->addr + (size_t)(p - m->first) * ps;
	struct page_ent e;
	uint32_t s1, s2;
	uint64_t size;
	size_t vis, off;
	int i, sig;

	for (i = 0; i < READ_TRIES; i++) {
		s1 = seq_read(hdr);
		if (s1 & 1) {
			sched_yield();
			continue;
		}
		size = hdr->size;
		if ((uint64_t)p * ps >= size)
			return true;	/* beyond the end now */
		e = hdr->pages[p - 1];
		vis = size - (uint64_t)p * ps;
		if (vis > ps)
			vis = ps;
		sig = probe_copy(copy_buf, src, vis);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		s2 = seq_read(hdr);
		if (s2 != s1)
			continue;
		if (sig) {
			error(false, "signal %d reading page %u of segment %" PRIu64 " (size %" PRIu64 ", %s mapping)",
			      sig, p, h->id, size,
			      m->shared ? "shared" : "private");
			return false;
		}
		expected(expect_buf, h->id, p, &e);
		if (memcmp(copy_buf, expect_buf, vis)) {
			for (off = 0; off < vis; off++)
				if (copy_buf[off] != expect_buf[off])
					break;
			error(true, "segment %" PRIu64 " page %u offset %zu: 0x%02x, expected 0x%02x (gen %u by pid %u, vlen %u, size %" PRIu64 ", %s mapping, read-only file %d; page says gen %" PRIu64 " pid %" PRIu64 ")",
			      h->id, p, off, copy_buf[off], expect_buf[off],
			      e.gen, e.pid, e.vlen, size,
			      m->shared ? "shared" : "private", h->rdonly,
			      ((uint64_t *)copy_buf)[2],
			      ((uint64_t *)copy_buf)[3]);
			return false;
		}
		count(OP_PAGES_VERIFIED, 1);
		return true;
	}
	count(OP_READ_RETRY, 1);
	return true;
}

static void op_verify(struct handle *h)
{
	struct map *m = random_map(h);
	uint32_t p, n, i;

	if (!m || m->dirty)
		return;
	n = 1 + rnd_below(m->npages);
	p = m->first + rnd_below(m->npages - n + 1);
	for (i = 0; i < n; i++)
		if (!verify_page(h, m, p + i))
			break;
	count(OP_VERIFY, 1);
}

/* Writes new generations of a few pages through a writable shared map. */
static void op_write(struct handle *h)
{
	struct map *m = random_map(h);
	struct seg_hdr *hdr = h->hdr;
	uint32_t p, n, i, last, gen;
	struct page_ent *e;

	if (!m || !m->shared || !m->writable || !hdr_lock(h))
		return;
	last = hdr->size / ps;	/* pages wholly inside the segment */
	n = 1 + rnd_below(IO_PAGES_MAX < m->npages ? IO_PAGES_MAX : m->npages);
	p = m->first + rnd_below(m->npages - n + 1);
	seq_begin(hdr);
	for (i = 0; i < n; i++) {
		if (p + i >= last)
			break;
		gen = ++hdr->next_gen;
		if (!gen)
			gen = ++hdr->next_gen;
		e = &hdr->pages[p + i - 1];
		pattern(m->addr + (size_t)(p + i - m->first) * ps, h->id,
			p + i, gen, getpid());
		e->gen = gen;
		e->pid = getpid();
		e->vlen = ps;
		/* Self-test of the checker: corrupt a byte now and then. */
		if (inject && !rnd_below(32))
			m->addr[(size_t)(p + i - m->first) * ps +
				rnd_below(ps)] ^= 0x10;
		count(OP_PAGES_WRITTEN, 1);
	}
	seq_end(hdr);
	hdr_unlock(h);
	count(OP_WRITE, 1);
}

/* Copy-on-write: a private page takes our data, the segment does not. */
static void op_private_write(struct handle *h)
{
	struct map *m = random_map(h);
	uint8_t *addr;
	uint32_t p;
	int sig;

	if (!m || m->shared || !m->writable || !hdr_lock(h))
		return;
	p = m->first + rnd_below(m->npages);
	if ((uint64_t)(p + 1) * ps > h->hdr->size) {
		hdr_unlock(h);
		return;
	}
	addr = m->addr + (size_t)(p - m->first) * ps;
	memset(copy_buf, 0xa5, ps);
	st_probe_armed = 1;
	sig = sigsetjmp(st_probe_env, 1);
	if (!sig) {
		memset(addr, 0xa5, ps);
		st_probe_armed = 0;
	}
	if (sig)
		error(false, "signal %d writing private page %u of segment %" PRIu64,
		      sig, p, h->id);
	else if (memcmp(addr, copy_buf, ps))
		error(true, "private page %u of segment %" PRIu64 " lost our write",
		      p, h->id);
	m->dirty = true;
	hdr_unlock(h);
	count(OP_PRIVATE_WRITE, 1);
}

/* Maps a random range; every refusal must be the documented one. */
static void op_map(struct handle *h)
{
	struct map *m = NULL;
	bool shared = rnd_below(4) != 0, wr = rnd_below(3) != 0, locked;
	uint32_t npages, first, n, seals_before = 0, seals;
	uint64_t size;
	int i, prot, err;
	void *p;

	if (h->fd < 0)
		return;
	for (i = 0; i < MAX_MAPS; i++)
		if (!h->maps[i].addr)
			m = &h->maps[i];
	if (!m)
		unmap(m = &h->maps[rnd_below(MAX_MAPS)]);
	/* Hold the lock (if we can) so that the size is known. */
	locked = hdr_lock(h);
	size = locked ? h->hdr->size : size_snapshot(h->hdr, NULL);
	npages = pages_of_size(size);
	if (npages < 2) {
		if (locked)
			hdr_unlock(h);
		return;
	}
	first = 1 + rnd_below(npages - 1);
	n = 1 + rnd_below(npages - first < MAP_PAGES_MAX ?
			  npages - first : MAP_PAGES_MAX);
	/* Now and then one page too many: EINVAL. */
	if (!rnd_below(16))
		n++;
	prot = PROT_READ | (wr ? PROT_WRITE : 0);
	if (shared && wr)
		seals_before = get_seals(h);
	p = mmap(NULL, (size_t)n * ps, prot, shared ? MAP_SHARED : MAP_PRIVATE,
		 h->fd, (off_t)first * ps);
	err = errno;
	if (locked)
		hdr_unlock(h);

	if (p != MAP_FAILED) {
		if (first + n > pages_of_size(size) && locked)
			error(false, "mmap of pages %u-%u beyond the end (%" PRIu64 " bytes) succeeded",
			      first, first + n - 1, size);
		if (shared && wr && h->rdonly)
			error(false, "writable shared mmap of a read-only file succeeded");
		if (shared && wr && (seals_before & (SHMDEV_SEAL_WRITE |
						     SHMDEV_SEAL_FUTURE_WRITE)))
			error(false, "writable shared mmap succeeded under seals %#x",
			      seals_before);
		m->addr = p;
		m->len = (size_t)n * ps;
		m->first = first;
		m->npages = n;
		m->shared = shared;
		m->writable = wr;
		m->dirty = false;
		count(OP_MAP, 1);
		if (first + n > pages_of_size(size))
			unmap(m);	/* raced with a grow; keep it simple */
		return;
	}
	seals = shared && wr ? get_seals(h) : 0;
	if (err == EINVAL && first + n > pages_of_size(size))
		;
	else if (err == EINVAL && !locked)
		;	/* raced with a resize we could not see */
	else if (err == EACCES && shared && wr && h->rdonly)
		;
	else if (err == EPERM && shared && wr &&
		 (seals & (SHMDEV_SEAL_WRITE | SHMDEV_SEAL_FUTURE_WRITE)))
		;
	else
		error(false, "mmap pages %u-%u (size %" PRIu64 ", %s, prot %#x, read-only file %d, seals %#x): %s",
		      first, first + n - 1, size,
		      shared ? "shared" : "private", prot, h->rdonly, seals,
		      strerror(err));
	count(OP_MAP_REFUSED, 1);
}

static void op_resize(struct handle *h)
{
	struct seg_hdr *hdr = h->hdr;
	uint64_t old, size = random_size();
	uint32_t seals_before, seals, p, oldpages, newpages, vis;
	struct shmdev_info info;
	int ret;

	if (h->fd < 0)
		return;
	if (h->rdonly) {
		ret = st_resize(h->fd, size);
		if (ret != -EPERM)
			error(false, "RESIZE of a read-only file: %s",
			      ret ? strerror(-ret) : "succeeded");
		count(OP_RESIZE_REFUSED, 1);
		return;
	}
	if (!hdr_lock(h))
		return;
	old = hdr->size;
	seals_before = get_seals(h);
	seq_begin(hdr);
	ret = st_resize(h->fd, size);
	if (!ret) {
		if ((size < old && (seals_before & SHMDEV_SEAL_SHRINK)) ||
		    (size > old && (seals_before & SHMDEV_SEAL_GROW)))
			error(false, "RESIZE %" PRIu64 " -> %" PRIu64 " succeeded under seals %#x",
			      old, size, seals_before);
		oldpages = pages_of_size(old);
		newpages = pages_of_size(size);
		for (p = newpages; p < oldpages; p++)
			memset(&hdr->pages[p - 1], 0, sizeof(hdr->pages[0]));
		if (size < old) {
			/* The new last page: only its head is left. */
			p = newpages - 1;
			vis = size - (uint64_t)p * ps;
			if (hdr->pages[p - 1].vlen > vis)
				hdr->pages[p - 1].vlen = vis;
		}
		hdr->size = size;
	}
	seq_end(hdr);
	if (!ret) {
		ret = st_info(h->fd, &info);
		if (ret || info.size != size)
			error(false, "INFO after RESIZE to %" PRIu64 ": %s, size %" PRIu64,
			      size, strerror(-ret), (uint64_t)info.size);
		hdr_unlock(h);
		count(OP_RESIZE, 1);
		return;
	}
	hdr_unlock(h);
	seals = get_seals(h);
	if (ret == -EPERM && ((size < old && (seals & SHMDEV_SEAL_SHRINK)) ||
			      (size > old && (seals & SHMDEV_SEAL_GROW))))
		;
	else if (ret == -ENOMEM)
		;	/* max_total_bytes */
	else
		error(false, "RESIZE %" PRIu64 " -> %" PRIu64 " (seals %#x): %s",
		      old, size, seals, strerror(-ret));
	count(OP_RESIZE_REFUSED, 1);
}

static void op_seal(struct handle *h)
{
	static const uint32_t choice[] = {
		SHMDEV_SEAL_SHRINK, SHMDEV_SEAL_GROW, SHMDEV_SEAL_WRITE,
		SHMDEV_SEAL_FUTURE_WRITE, SHMDEV_SEAL_SEAL,
		SHMDEV_SEAL_SHRINK | SHMDEV_SEAL_GROW,
	};
	uint32_t seal = choice[rnd_below(ARRAY_SIZE(choice))], seals;
	int ret;

	if (h->fd < 0)
		return;
	ret = st_add_seals(h->fd, seal);
	if (!ret) {
		seals = get_seals(h);
		if ((seals & seal) != seal)
			error(false, "ADD_SEALS %#x succeeded but seals are %#x",
			      seal, seals);
		count(OP_SEAL, 1);
		return;
	}
	seals = get_seals(h);
	if (ret == -EPERM && (h->rdonly || (seals & SHMDEV_SEAL_SEAL)))
		;
	else if (ret == -EBUSY && (seal & SHMDEV_SEAL_WRITE))
		;
	else
		error(false, "ADD_SEALS %#x (seals %#x, read-only file %d): %s",
		      seal, seals, h->rdonly, strerror(-ret));
	count(OP_SEAL_REFUSED, 1);
}

static void op_info(struct handle *h)
{
	struct shmdev_info info;
	bool locked;
	int ret;

	if (h->fd < 0)
		return;
	locked = hdr_lock(h);
	ret = st_info(h->fd, &info);
	if (ret) {
		error(false, "INFO: %s", strerror(-ret));
	} else {
		if (info.id != h->id)
			error(false, "INFO id %" PRIu64 ", attached %" PRIu64,
			      (uint64_t)info.id, h->id);
		if (locked && info.size != h->hdr->size)
			error(false, "INFO size %" PRIu64 ", header says %" PRIu64,
			      (uint64_t)info.size, h->hdr->size);
		if (!!(info.flags & SHMDEV_INFO_RDONLY) != h->rdonly)
			error(false, "INFO flags %#x on a %s file", info.flags,
			      h->rdonly ? "read-only" : "read-write");
		if (!!(info.flags & SHMDEV_INFO_ANON) != (h->name < 0))
			error(false, "INFO flags %#x for a %s segment",
			      info.flags, h->name < 0 ? "anonymous" : "named");
		if (info.nr_files < 1 || info.nr_maps < 1)
			error(false, "INFO counts %u files, %u maps; we hold one of each",
			      info.nr_files, info.nr_maps);
		/*
		 * Only with the size stable: a shrink sets the size before
		 * it frees the pages beyond, and INFO may see both.
		 */
		if (locked && info.nr_pages > pages_of_size(info.size))
			error(false, "INFO: %" PRIu64 " pages in a segment of %" PRIu64 " bytes (no resize in between)",
			      (uint64_t)info.nr_pages, (uint64_t)info.size);
	}
	if (locked)
		hdr_unlock(h);
	count(OP_INFO, 1);
}

static void op_unlink(int name, bool recreate)
{
	char buf[SHMDEV_NAME_MAX];
	int fd = open_dev(), ret;

	if (fd < 0)
		return;
	name_of(name, buf);
	ret = st_unlink(fd, buf);
	close(fd);
	if (ret && ret != -ENOENT)
		error(false, "UNLINK '%s': %s", buf, strerror(-ret));
	count(OP_UNLINK, 1);
	if (recreate && create_seg(name))
		count(OP_RECREATE, 1);
}

static void worker_ops(int nops, bool child);

static void op_fork(void)
{
	int status;
	pid_t pid;

	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		if (errno != EAGAIN && errno != ENOMEM)
			error(false, "fork: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		rng = st_mix64(rng ^ getpid());
		worker_ops(FORK_OPS, true);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid)
		error(false, "waitpid: %s", strerror(errno));
	else if (!WIFEXITED(status) || WEXITSTATUS(status))
		error(false, "forked child status %#x", status);
	count(OP_FORK, 1);
}

/* @nops random operations (0: until told to stop). */
static void worker_ops(int nops, bool child)
{
	struct handle *h;
	int i, r;

	for (i = 0; (!nops || i < nops) && !ctl->stop; i++) {
		r = rnd_below(1000);
		h = random_handle();
		if (!h && r >= 100)
			r = rnd_below(100);
		if (r < 50) {
			int name = rnd_below(nr_names);

			h = attach_seg(name, rnd_below(4) == 0);
			if (!h)
				create_seg(name);
		} else if (r < 70) {
			create_seg(-1);
		} else if (r < 80) {
			op_unlink(rnd_below(nr_names), false);
		} else if (r < 100) {
			op_unlink(rnd_below(nr_names), true);
		} else if (r < 230) {
			op_map(h);
		} else if (r < 270) {
			struct map *m = random_map(h);

			if (m) {
				unmap(m);
				count(OP_UNMAP, 1);
			}
		} else if (r < 480) {
			op_write(h);
		} else if (r < 760) {
			op_verify(h);
		} else if (r < 790) {
			op_private_write(h);
		} else if (r < 860) {
			op_resize(h);
		} else if (r < 870) {
			op_seal(h);
		} else if (r < 910) {
			op_info(h);
		} else if (r < 930) {
			if (h->fd >= 0) {
				close(h->fd);
				h->fd = -1;
				count(OP_CLOSE_FD, 1);
			}
		} else if (r < 960) {
			drop_handle(h);
			count(OP_DROP, 1);
		} else if (r < 975) {
			if (!child)
				op_fork();
		} else if (r < 978) {
			if (!child) {
				count(OP_EXIT, 1);
				_exit(0);
			}
		}
	}
}

static void worker(int slot, uint64_t gen)
{
	int i;

	st_probe_init();
	rng = st_mix64(master_seed ^
		       st_mix64(((uint64_t)slot << 32) ^ gen)) | 1;
	for (i = 0; i < MAX_HANDLES; i++)
		handles[i].fd = -1;
	if (verbose)
		fprintf(stderr, "# worker %d generation %" PRIu64 ": pid %d\n",
			slot, gen, getpid());
	worker_ops(0, false);
	_exit(0);
}

static pid_t spawn(int slot, uint64_t gen)
{
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0)
		worker(slot, gen);
	if (pid < 0)
		error(false, "fork: %s", strerror(errno));
	else
		__atomic_fetch_add(&ctl->spawned, 1, __ATOMIC_RELAXED);
	return pid;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "procs", required_argument, NULL, 'p' },
		{ "secs", required_argument, NULL, 's' },
		{ "seed", required_argument, NULL, 'S' },
		{ "names", required_argument, NULL, 'n' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long nprocs = st_env_num("SHMDEV_STRESS_PROCS", 8);
	unsigned long secs = st_env_num("SHMDEV_STRESS_SECS", 60);
	uint64_t gens[MAX_PROCS] = { 0 }, start_pages, pages;
	pid_t pids[MAX_PROCS];
	double t0, end, deadline;
	int opt, i, status, alive, fd;
	char buf[SHMDEV_NAME_MAX];
	struct rlimit no_core = { 0, 0 };
	bool ok;
	pid_t pid;

	ps = sysconf(_SC_PAGESIZE);
	master_seed = st_env_num("SHMDEV_STRESS_SEED", 0);
	while ((opt = getopt_long(argc, argv, "p:s:S:n:v", opts, NULL)) != -1) {
		switch (opt) {
		case 'p': nprocs = strtoul(optarg, NULL, 0); break;
		case 's': secs = strtoul(optarg, NULL, 0); break;
		case 'S': master_seed = strtoull(optarg, NULL, 0); break;
		case 'n': nr_names = strtol(optarg, NULL, 0); break;
		case 'v': verbose = true; break;
		default:
			fprintf(stderr, "usage: %s [--procs N] [--secs S] [--seed X] [--names N] [--verbose]\n",
				argv[0]);
			return 2;
		}
	}
	if (nprocs < 1)
		nprocs = 1;
	if (nprocs > MAX_PROCS)
		nprocs = MAX_PROCS;
	if (nr_names < 1 || nr_names > NR_NAMES_MAX)
		nr_names = NR_NAMES_DEFAULT;
	if (!master_seed)
		master_seed = st_clock_seed();

	printf("TAP version 13\n1..1\n");
	printf("# shmdev_stress: seed 0x%" PRIx64 " (--seed 0x%" PRIx64 " reproduces each worker's operations), %lu processes, %lu s\n",
	       master_seed, master_seed, nprocs, secs);
	fflush(stdout);
	if (access(SHMDEV_DEVICE_PATH, F_OK)) {
		printf("ok 1 - stress # SKIP " SHMDEV_DEVICE_PATH " not found\n");
		printf("# Totals: pass:0 fail:0 xfail:0 xpass:0 skip:1 error:0\n");
		return KSFT_SKIP;
	}
	setrlimit(RLIMIT_CORE, &no_core);
	ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	expect_buf = malloc(ps);
	copy_buf = malloc(ps);
	if (ctl == MAP_FAILED || !expect_buf || !copy_buf) {
		perror("allocation");
		return 1;
	}
	parent_pid = getpid();
	inject = st_env_num("SHMDEV_STRESS_INJECT", 0);
	start_pages = module_pages();

	t0 = st_now_secs();
	end = t0 + secs;
	for (i = 0; i < (int)nprocs; i++)
		pids[i] = spawn(i, gens[i]++);
	/* Replace workers that exit until the time is up. */
	while (st_now_secs() < end && !ctl->stop) {
		pid = waitpid(-1, &status, WNOHANG);
		if (pid <= 0) {
			usleep(10000);
			continue;
		}
		for (i = 0; i < (int)nprocs; i++)
			if (pids[i] == pid)
				break;
		if (i == (int)nprocs)
			continue;
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			error(false, "worker %d (pid %d) ended with status %#x",
			      i, pid, status);
		pids[i] = spawn(i, gens[i]++);
	}
	ctl->stop = 1;
	deadline = st_now_secs() + 60;
	do {
		alive = 0;
		for (i = 0; i < (int)nprocs; i++) {
			if (pids[i] <= 0)
				continue;
			pid = waitpid(pids[i], &status, WNOHANG);
			if (pid == 0) {
				alive++;
				continue;
			}
			if (pid == pids[i] &&
			    (!WIFEXITED(status) || WEXITSTATUS(status)))
				error(false, "worker %d (pid %d) ended with status %#x",
				      i, pid, status);
			pids[i] = 0;
		}
		if (alive)
			usleep(10000);
	} while (alive && st_now_secs() < deadline);
	if (alive) {
		error(false, "%d workers did not stop within 60 s", alive);
		for (i = 0; i < (int)nprocs; i++)
			if (pids[i] > 0) {
				kill(pids[i], SIGKILL);
				waitpid(pids[i], NULL, 0);
			}
	}
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;

	/* Remove every name; then the pages must all be gone. */
	fd = st_open();
	for (i = 0; fd >= 0 && i < nr_names; i++) {
		int ret;

		name_of(i, buf);
		ret = st_unlink(fd, buf);
		if (ret && ret != -ENOENT)
			error(false, "final UNLINK '%s': %s", buf,
			      strerror(-ret));
	}
	if (fd >= 0)
		close(fd);
	pages = module_pages();
	deadline = st_now_secs() + st_env_num("SHMDEV_STRESS_SETTLE_SECS", 10);
	while (pages != start_pages && st_now_secs() < deadline) {
		usleep(20000);
		pages = module_pages();
	}
	if (pages != start_pages)
		error(false, "nr_pages is %" PRIu64 " after the run, %" PRIu64 " before",
		      pages, start_pages);

	printf("# %.1f s, %" PRIu64 " worker processes, operations:\n",
	       st_now_secs() - t0, ctl->spawned);
	for (i = 0; i < OP_MAX; i++)
		printf("#   %-22s %10" PRIu64 "\n", op_names[i], ctl->counts[i]);
	printf("# nr_pages %" PRIu64 " before, %" PRIu64 " after\n",
	       start_pages, pages);
	ok = !ctl->errors;
	if (!ok)
		printf("# %" PRIu64 " errors (%" PRIu64 " data mismatches), first: %s\n# reproduce: shmdev_stress --seed 0x%" PRIx64 " --procs %lu --secs %lu\n",
		       ctl->errors, ctl->mismatches, ctl->first_error,
		       master_seed, nprocs, secs);
	printf("%s 1 - stress_%lu_procs_random_ops_verified\n",
	       ok ? "ok" : "not ok", nprocs);
	printf("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:0 error:0\n",
	       ok, !ok);
	return ok ? 0 : 1;
}
