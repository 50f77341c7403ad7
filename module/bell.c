// SPDX-License-Identifier: GPL-2.0
/*
 * Doorbells: counters in a segment that its read-write files ring and that
 * all its files wait on with poll(), epoll or io_uring.
 *
 * A segment keeps, per doorbell, the number of rings since it was created
 * (modulo 2^64); a bound file keeps, per doorbell, the count it has
 * acknowledged. The file is readable while one of the doorbells it watches
 * is ahead of what it acknowledged. Ringing adds to a counter and then
 * wakes the segment's wait queue; poll() queues itself and then reads the
 * counters, so either the ringer finds the poller queued or the poller
 * finds the new count. The wakeups carry no event mask: a file's
 * readiness depends on its watch set, so every waiter (epoll, io_uring,
 * aio) must ask poll() again rather than take the mask of the wakeup.
 * Acknowledging moves the file's count up to the segment's with a
 * compare-and-exchange, so two threads acknowledging through one file
 * never both report the same rings.
 */

#include <linux/atomic.h>
#include <linux/bits.h>
#include <linux/fs.h>
#include <linux/poll.h>
#include <linux/string.h>
#include <linux/wait.h>

#include "internal.h"

#define SHMDEV_ALL_BELLS	GENMASK(SHMDEV_NR_BELLS - 1, 0)

/* The counters start at 0 with the zeroed segment. */
void shmdev_bells_init(struct shmdev_seg *seg)
{
	init_waitqueue_head(&seg->bell_wq);
}

/* A newly bound file counts the rings from now on, of every doorbell. */
void shmdev_bells_bind(struct shmdev_file_bells *fb, struct shmdev_seg *seg)
{
	int i;

	for (i = 0; i < SHMDEV_NR_BELLS; i++)
		atomic64_set(&fb->seen[i], atomic64_read(&seg->bells[i]));
	WRITE_ONCE(fb->watch, SHMDEV_ALL_BELLS);
}

/* A valid SHMDEV_IOC_RING argument, whatever the file? */
bool shmdev_bell_valid(const struct shmdev_bell *arg)
{
	return arg->bell < SHMDEV_NR_BELLS && arg->count && !arg->flags &&
	       !arg->pad && !memchr_inv(arg->reserved, 0, sizeof(arg->reserved));
}

/* A valid SHMDEV_IOC_ACK argument, whatever the file? */
bool shmdev_ack_valid(const struct shmdev_ack *arg)
{
	return !(arg->flags & ~SHMDEV_ACK_FLAGS_MASK) &&
	       !(arg->bells & ~SHMDEV_ALL_BELLS) &&
	       !((arg->flags & SHMDEV_ACK_WATCH) && !arg->bells) &&
	       !memchr_inv(arg->reserved, 0, sizeof(arg->reserved));
}

/* Rings a doorbell; @arg passed shmdev_bell_valid(). */
void shmdev_bells_ring(struct shmdev_seg *seg, const struct shmdev_bell *arg)
{
	/*
	 * Fully ordered before the wait queue's lock: a poller that queued
	 * itself before we take it is woken, one that queues after reads
	 * the new count.
	 */
	atomic64_add_return(arg->count, &seg->bells[arg->bell]);
	wake_up(&seg->bell_wq);
}

/*
 * Acknowledges (and watches); @arg passed shmdev_ack_valid(). Returns the
 * watch set before, for shmdev_bells_unack().
 */
unsigned long shmdev_bells_ack(struct shmdev_file_bells *fb,
			       struct shmdev_seg *seg, struct shmdev_ack *arg)
{
	unsigned long watch = READ_ONCE(fb->watch);
	unsigned long bells = arg->bells;
	unsigned int i;

	if (arg->flags & SHMDEV_ACK_WATCH)
		WRITE_ONCE(fb->watch, bells);
	if (!bells)
		bells = watch;

	memset(arg->counts, 0, sizeof(arg->counts));
	for_each_set_bit(i, &bells, SHMDEV_NR_BELLS) {
		s64 old, now;

		/*
		 * The count is read after the file's (acquire), and another
		 * acknowledger's store of what it read is fully ordered
		 * after its read: so @now is never behind @old.
		 */
		do {
			old = atomic64_read_acquire(&fb->seen[i]);
			now = atomic64_read(&seg->bells[i]);
		} while (atomic64_cmpxchg(&fb->seen[i], old, now) != old);
		arg->counts[i] = (u64)now - (u64)old;
	}
	return watch;
}

/*
 * Undoes shmdev_bells_ack() whose counts could not reach the caller: the
 * rings it took are pending again (so none is lost) and the watch set is
 * @watch again; pollers look anew.
 */
void shmdev_bells_unack(struct shmdev_file_bells *fb, struct shmdev_seg *seg,
			const struct shmdev_ack *arg, unsigned long watch)
{
	unsigned int i;

	for (i = 0; i < SHMDEV_NR_BELLS; i++)
		if (arg->counts[i])
			atomic64_sub(arg->counts[i], &fb->seen[i]);
	WRITE_ONCE(fb->watch, watch);
	wake_up(&seg->bell_wq);
}

static bool shmdev_bells_pending(struct shmdev_file_bells *fb,
				 struct shmdev_seg *seg)
{
	unsigned long watch = READ_ONCE(fb->watch);
	unsigned int i;

	for_each_set_bit(i, &watch, SHMDEV_NR_BELLS)
		if (atomic64_read(&seg->bells[i]) !=
		    atomic64_read(&fb->seen[i]))
			return true;
	return false;
}

/*
 * The last file of a named segment whose name is gone: nobody can attach
 * and ring it any more.
 */
static bool shmdev_bells_hung_up(struct shmdev_seg *seg)
{
	return seg->name[0] && !READ_ONCE(seg->linked) &&
	       atomic_read(&seg->nr_files) <= 1;
}

__poll_t shmdev_bells_poll(struct file *file, struct shmdev_file_bells *fb,
			   struct file *segfile, poll_table *pt)
{
	struct shmdev_seg *seg = shmdev_file_seg(segfile);
	__poll_t mask = 0;

	poll_wait(file, &seg->bell_wq, pt);
	if (shmdev_bells_pending(fb, seg))
		mask |= EPOLLIN | EPOLLRDNORM;
	if (segfile->f_mode & FMODE_WRITE)
		mask |= EPOLLOUT | EPOLLWRNORM;
	if (shmdev_bells_hung_up(seg))
		mask |= EPOLLHUP;
	return mask;
}

/* Called when the name goes or a file is released: pollers may hang up. */
void shmdev_bells_wake_hangup(struct shmdev_seg *seg)
{
	/*
	 * Orders our store (->linked or ->nr_files) before our reads of
	 * the other: an unlink and a release racing each other cannot both
	 * miss the hangup.
	 */
	smp_mb();
	if (shmdev_bells_hung_up(seg))
		wake_up(&seg->bell_wq);
}
