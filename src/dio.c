/* The direct-I/O data path: pool buffers, io_uring, read-modify-write. */
#include "dio.h"
#include "align.h"
#include "error_log.h"
#include "fs.h"
#include "fuse_ring.h"
#include "log.h"
#include "invalidator.h"
#include "stats.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

/* Size of struct fuse_in_header + struct fuse_write_in: a WRITE payload
 * starts this far into the received message. */
#define WRITE_HEADERS 80

/* io_uring lanes: one per worker that receives READ and WRITE (see
 * session_loop.c), so their submissions do not queue behind each other. */
#define DIO_LANES 2

/* An I/O in flight. It lives at the start of its pool buffer. */
struct dio_io {
	struct uring_io uio;
	fuse_req_t req;
	struct bfs_dio *dio;
	struct bfs_file *file;
	unsigned buf_idx;
	char *img;             /* aligned image: what goes to or from the file */
	uint64_t img_off;      /* its file offset */
	size_t img_len;
	size_t done;           /* bytes of the image transferred */
	struct io_plan plan;
	size_t user_len;       /* bytes the request asked for */
	uint32_t align;        /* the image's block: a short read of whole
				  blocks may not be the end of the file */
	bool cached;           /* a read of the backing page cache, not
				  counted with the direct I/O statistics */
	bool locked;
	struct range_lock_entry lock;
	uint64_t start_us;
};

/* The buffer a worker received its current request into. */
static __thread unsigned recv_idx = UINT_MAX;
static __thread bool recv_stolen;

static struct bfs_dio *the_dio;

int dio_init(struct bfs_dio *d, unsigned queue_depth, unsigned max_threads,
	     uint32_t min_align, unsigned ring_buffers)
{
	unsigned count = (ring_buffers > queue_depth ? ring_buffers : queue_depth) +
			 max_threads;
	size_t h = (size_t)sysconf(_SC_PAGESIZE);
	struct iovec *iov;
	unsigned entries = 1;
	int rc;

	memset(d, 0, sizeof(*d));
	if (h < 4096)
		h = 4096;
	/* Payloads land aligned to the header room: at least the device's
	 * block (a 16 KiB-block device gets 16 KiB). */
	while (h < min_align && h < DIO_MAX_REQUEST)
		h <<= 1;
	d->header_room = h;
	/* Header room, the largest request with a block either side (an
	 * RMW image starts a block early), and the scratch block. */
	rc = pool_init(&d->pool, count, h + DIO_MAX_REQUEST + 3 * h, h);
	if (rc)
		return rc;
	d->kept = calloc(count, sizeof(*d->kept));
	if (!d->kept) {
		pool_destroy(&d->pool);
		return -ENOMEM;
	}
	while (entries < count)
		entries <<= 1;
	iov = pool_iovecs(&d->pool);
	if (!iov) {
		pool_destroy(&d->pool);
		return -ENOMEM;
	}
	rc = engine_init(&d->engine, DIO_LANES, entries, iov, count);
	free(iov);
	if (rc) {
		free(d->kept);
		pool_destroy(&d->pool);
		return rc;
	}
	d->running = true;
	the_dio = d;
	return 0;
}

void dio_destroy(struct bfs_dio *d)
{
	if (!d->running)
		return;
	engine_stop(&d->engine);
	pool_destroy(&d->pool);
	free(d->kept);
	d->running = false;
	the_dio = NULL;
}

uint32_t dio_max_align(const struct bfs_dio *d)
{
	return (uint32_t)d->header_room;
}

void *dio_recv_next(void *ctx, void *prev)
{
	struct bfs_dio *d = ctx;

	if (!prev || recv_stolen || recv_idx == UINT_MAX) {
		recv_idx = pool_take(&d->pool);
		recv_stolen = false;
	}
	return pool_buf(&d->pool, recv_idx) + d->header_room - WRITE_HEADERS;
}

void dio_recv_done(void *ctx, void *mem)
{
	struct bfs_dio *d = ctx;

	(void)mem;
	if (!recv_stolen && recv_idx != UINT_MAX)
		pool_give(&d->pool, recv_idx);
	recv_idx = UINT_MAX;
}

void dio_use_buffer(unsigned idx)
{
	recv_idx = idx;
	recv_stolen = false;
}

char *dio_recv_space(size_t *len)
{
	struct bfs_dio *d = the_dio;

	if (!d || recv_idx == UINT_MAX || recv_stolen)
		return NULL;
	*len = d->pool.size - 2 * d->header_room;
	return pool_buf(&d->pool, recv_idx) + d->header_room;
}

void dio_keep_buffer(unsigned idx)
{
	the_dio->kept[idx] = true;
}

/* The current receive buffer becomes the I/O's; the worker takes another. */
static unsigned steal_recv_buffer(void)
{
	recv_stolen = true;
	return recv_idx;
}

static int rw_flags_for(int flags)
{
	if ((flags & O_SYNC) == O_SYNC)
		return RWF_SYNC;
	if (flags & O_DSYNC)
		return RWF_DSYNC;
	return 0;
}

/*
 * A write from a direct open to a file that is also open through the
 * kernel's page cache must drop the cached pages of its range, so those
 * readers see the new data, as on a local file system. The kernel's
 * invalidation waits for the pages' locks, which a cached open's WRITE
 * holds until we answer it. So such writes, and every write from a cached
 * open, are served in the worker and never through the ring: the
 * completion thread never waits for a page, and the cached writer's answer
 * never waits for the completion thread.
 */
static bool must_invalidate(const struct bfs_file *f, bool writeback)
{
	/* A writeback's data came from the page cache: nothing to drop, and
	 * dropping would wait for the very pages we are writing back. */
	return !writeback && !f->cached &&
	       atomic_load(&f->inode->cached_opens) > 0;
}

/* Answer a write of n bytes that reached the file at [off, off + len):
 * at once, or, if cached pages of the range must go first, through the
 * invalidator's thread (see invalidator.h), so that this thread never
 * waits for a page. Called with no range lock held (a cached writer
 * holding those pages may be waiting for one). */
static void answer_write(struct bfs_dio *d, fuse_req_t req,
			 struct bfs_file *f, uint64_t off, uint64_t len,
			 bool writeback, size_t n)
{
	if (!len || !must_invalidate(f, writeback)) {
		fuse_reply_write(req, n);
		return;
	}
	invalidator_write_done(d->inval, req, (fuse_ino_t)(uintptr_t)f->inode,
			       off, len, n);
}

static void finish(struct dio_io *io)
{
	struct bfs_dio *d = io->dio;

	if (io->locked)
		range_lock_release(&io->file->inode->writers, &io->lock);
	stats_inflight_dec();
	if (!d->kept[io->buf_idx])
		pool_give(&d->pool, io->buf_idx);
}

static void submit_rest(struct dio_io *io)
{
	io->uio.addr = io->img + io->done;
	io->uio.len = (unsigned)(io->img_len - io->done);
	io->uio.off = io->img_off + io->done;
	engine_submit(&io->dio->engine, &io->uio);
}

/* Completion thread: a read's data arrived (or an error). */
static void read_done(struct uring_io *uio, int res)
{
	struct dio_io *io = (struct dio_io *)uio;

	if (res == -EAGAIN || res == -EINTR) {
		submit_rest(io);
		return;
	}
	if (res < 0) {
		error_log_file("read", io->uio.fd, (int64_t)io->uio.off,
			       io->uio.len, -res);
		if (!io->cached)
			stats_done(STATS_READ, 0, -res, io->start_us);
		/* Like read(2): what was read, else the error. */
		if (io->cached && io->done)
			fuse_reply_buf(io->req, io->img, io->done);
		else
			fuse_reply_err(io->req, -res);
		finish(io);
		return;
	}
	io->done += (size_t)res;
	/* A short read of whole blocks may not be the end of the file yet. */
	if (res > 0 && io->done < io->img_len && io->done % io->align == 0) {
		submit_rest(io);
		return;
	}
	{
		size_t n = align_read_result(&io->plan, io->done, io->user_len);

		if (!io->cached)
			stats_done(STATS_READ, n, 0, io->start_us);
		fuse_reply_buf(io->req, io->img + io->plan.head, n);
	}
	finish(io);
}

/* Completion thread: a write went out (or failed). */
static void write_done(struct uring_io *uio, int res)
{
	struct dio_io *io = (struct dio_io *)uio;

	if (res == -EAGAIN || res == -EINTR) {
		submit_rest(io);
		return;
	}
	if (res > 0) {
		io->done += (size_t)res;
		if (io->done < io->img_len) {
			submit_rest(io);
			return;
		}
	}
	{
		/* The buffer holding io goes back first: keep what is needed. */
		fuse_req_t req = io->req;
		uint64_t start_us = io->start_us;
		size_t done = io->done;
		/* Never more than reached the file. */
		size_t n = done < io->user_len ? done : io->user_len;

		if (res < 0)
			error_log_file("write", io->uio.fd, (int64_t)io->uio.off,
				       io->uio.len, -res);
		finish(io);
		if (res < 0 && done == 0) {
			stats_done(STATS_WRITE, 0, -res, start_us);
			fuse_reply_err(req, -res);
		} else {
			stats_done(STATS_WRITE, n, res < 0 ? -res : 0, start_us);
			fuse_reply_write(req, n);
		}
	}
}

static struct dio_io *new_io(struct bfs_dio *d, fuse_req_t req,
			     struct bfs_file *f)
{
	unsigned idx = steal_recv_buffer();
	struct dio_io *io = (struct dio_io *)pool_buf(&d->pool, idx);

	memset(io, 0, sizeof(*io));
	io->req = req;
	io->dio = d;
	io->file = f;
	io->buf_idx = idx;
	io->uio.fd = f->dfd;
	io->uio.buf_index = (int)idx;
	io->align = f->align;
	io->start_us = stats_now_us();
	stats_inflight_inc();
	return io;
}

/*
 * With nothing in flight, a request is served in the worker itself: the
 * hand-off to the completion thread costs a wake-up, which is most of the
 * latency at queue depth 1. Under load the ring takes over.
 */
static _Atomic unsigned sync_busy; /* requests served in a worker now */

/* Claim the worker path: true if nothing else is in flight anywhere. */
static bool claim_sync(struct bfs_dio *d)
{
	unsigned zero = 0;

	if (atomic_load_explicit(&d->engine.inflight, memory_order_relaxed) ||
	    !fuse_ring_alone())
		return false;
	return atomic_compare_exchange_strong(&sync_busy, &zero, 1);
}

static void release_sync(void)
{
	atomic_store(&sync_busy, 0);
}

/* Read len bytes at off into img, up to the end of the file (a read that
 * stops short of a multiple of a is the end); returns the bytes read, or
 * -errno if any part failed. */
static ssize_t read_all(int fd, char *img, size_t len, uint64_t off, uint32_t a)
{
	size_t got;
	int err = fs_pread_all(fd, img, len, (off_t)off, a, &got);

	return err ? -err : (ssize_t)got;
}

/* The image plan for a read of size bytes at off in blocks of a, or an
 * error answered; then served here, alone, or through the ring. */
static void read_request(fuse_req_t req, struct bfs_file *f, bool cached,
			 size_t size, off_t off)
{
	struct bfs_dio *d = the_dio;
	uint32_t a = cached ? 1 : f->align;
	int fd = cached ? f->fd : f->dfd;
	struct io_plan plan;
	struct dio_io *io;

	if (align_plan_read((uint64_t)off, size, a, &plan) ||
	    plan.len > DIO_MAX_REQUEST + 2 * d->header_room) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (claim_sync(d)) {
		char *img = pool_buf(&d->pool, recv_idx) + d->header_room;
		uint64_t start_us = stats_now_us();
		size_t got = 0;
		int err = fs_pread_all(fd, img, plan.len, (off_t)plan.start, a,
				       &got);

		release_sync();
		fuse_ring_note_wait(stats_now_us() - start_us);
		if (err)
			error_log_file("read", fd, (int64_t)(plan.start + got),
				       plan.len - got, err);
		/* A cached read answers what it read before an error, like
		 * read(2); a direct one the error. */
		if (err && (!cached || got == 0)) {
			if (!cached)
				stats_done(STATS_READ, 0, err, start_us);
			fuse_reply_err(req, err);
		} else {
			size_t len = align_read_result(&plan, got, size);

			if (!cached)
				stats_done(STATS_READ, len, 0, start_us);
			fuse_reply_buf(req, img + plan.head, len);
		}
		return;
	}
	io = new_io(d, req, f);
	io->cached = cached;
	io->align = a;
	io->uio.fd = fd;
	io->plan = plan;
	io->user_len = size;
	io->img = pool_buf(&d->pool, io->buf_idx) + d->header_room;
	io->img_off = plan.start;
	io->img_len = plan.len;
	io->uio.done = read_done;
	io->uio.write = false;
	submit_rest(io);
}

void dio_read(fuse_req_t req, struct bfs_file *f, size_t size, off_t off)
{
	stats_add(&bfs_stats.direct_requests, 1);
	read_request(req, f, false, size, off);
}

void dio_read_cached(fuse_req_t req, struct bfs_file *f, size_t size,
		     off_t off)
{
	stats_add(&bfs_stats.buffered_requests, 1);
	read_request(req, f, true, size, off);
}

static int file_size(int fd, uint64_t *size)
{
	struct stat st;

	if (fstat(fd, &st))
		return errno;
	*size = (uint64_t)st.st_size;
	return 0;
}

/* Read the block at off into scratch (zeros past the end of the file). */
static int read_block(int fd, char *scratch, uint32_t a, uint64_t off)
{
	ssize_t n = read_all(fd, scratch, a, off, a);

	if (n < 0)
		return (int)-n;
	memset(scratch + n, 0, a - (size_t)n);
	return 0;
}

/*
 * Unaligned write: read-modify-write in the worker, under a lock on the
 * blocks it touches (to the end of the file if the blocks reach past it).
 */
static void rmw_write(fuse_req_t req, struct bfs_file *f, const char *buf,
		      size_t size, off_t off, int flags, bool writeback)
{
	struct bfs_dio *d = the_dio;
	struct range_lock *rl = &f->inode->writers;
	struct range_lock_entry lock;
	char *rbuf = pool_buf(&d->pool, recv_idx);
	char *scratch = rbuf + d->pool.size - d->header_room;
	uint32_t a = f->align;
	uint64_t start_us = stats_now_us(), size_now = 0, lock_end;
	struct io_plan plan = { 0 };
	size_t written = 0, endoff;
	char *img;
	int err;

	err = file_size(f->dfd, &size_now);
	if (err)
		goto fail;
	lock_end = align_up((uint64_t)off + size, a) > size_now ?
		RANGE_LOCK_EOF : align_up((uint64_t)off + size, a);
	for (;;) {
		range_lock_acquire(rl, &lock, align_down((uint64_t)off, a), lock_end);
		err = file_size(f->dfd, &size_now);
		if (err)
			goto unlock;
		if (align_up((uint64_t)off + size, a) <= size_now ||
		    lock_end == RANGE_LOCK_EOF)
			break;
		/* The file shrank meanwhile: lock to its end. */
		range_lock_release(rl, &lock);
		lock_end = RANGE_LOCK_EOF;
	}
	align_plan_write((uint64_t)off, size, size_now, a, &plan);
	stats_add(&bfs_stats.rmw_cycles, 1);

	/* The image starts one block before the payload's page when the
	 * payload has a head, so the payload moves back by a - head. */
	img = plan.head ? rbuf + d->header_room - a : rbuf + d->header_room;
	if (img + plan.head != buf) {
		memmove(img + plan.head, buf, size);
		stats_add(&bfs_stats.copied_bytes, size);
	}
	endoff = (size_t)(plan.end - plan.start);
	memset(img, 0, plan.head);
	memset(img + endoff, 0, plan.len - endoff);
	if (plan.read_head) {
		err = read_block(f->dfd, scratch, a, plan.start);
		if (err)
			goto unlock;
		memcpy(img, scratch, plan.head);
		if (plan.tail_start == plan.start && endoff < a)
			memcpy(img + endoff, scratch + endoff, a - endoff);
	}
	if (plan.read_tail) {
		size_t in_tail = (size_t)(plan.end - plan.tail_start);

		err = read_block(f->dfd, scratch, a, plan.tail_start);
		if (err)
			goto unlock;
		memcpy(img + (plan.tail_start - plan.start) + in_tail,
		       scratch + in_tail, a - in_tail);
	}
	err = fs_pwrite_all(f->dfd, img, plan.len, (off_t)plan.start,
			    rw_flags_for(flags), &written);
	if (plan.truncate_after && written > 0) {
		uint64_t reached = plan.start + written;
		uint64_t want = plan.end < reached ? plan.end : reached;

		if (want < size_now)
			want = size_now;
		if (ftruncate(f->dfd, (off_t)want) && !err)
			err = errno;
	}
unlock:
	range_lock_release(rl, &lock);
	/* Report the bytes of the request that reached the file, if any. */
	if (written && align_write_result(&plan, written, size) > 0) {
		size_t n = align_write_result(&plan, written, size);

		stats_done(STATS_WRITE, n, err, start_us);
		answer_write(d, req, f, plan.start, written, writeback, n);
		return;
	}
	if (!err)
		err = EIO;
fail:
	error_log_file("write", f->dfd, (int64_t)off, size, err);
	stats_done(STATS_WRITE, 0, err, start_us);
	fuse_reply_err(req, err);
}

/* A write a FUSE ring's queue thread hands to a helper (see fuse_ring.h). */
struct deferred_write {
	fuse_req_t req;
	struct bfs_file *f;
	const char *buf;
	size_t size;
	off_t off;
	int flags;
	bool writeback;
};

_Static_assert(sizeof(struct deferred_write) <= FUSE_RING_DEFER_MAX,
	       "a deferred write must fit a ring entry's slot");

static void write_request(fuse_req_t req, struct bfs_file *f, const char *buf,
			  size_t size, off_t off, int flags, bool writeback);

static void run_deferred_write(void *arg)
{
	struct deferred_write *w = arg;

	write_request(w->req, w->f, w->buf, w->size, w->off, w->flags,
		      w->writeback);
}

static void defer_write(fuse_req_t req, struct bfs_file *f, const char *buf,
			size_t size, off_t off, int flags, bool writeback)
{
	struct deferred_write w = { req, f, buf, size, off, flags, writeback };
	int err = fuse_ring_defer(run_deferred_write, &w, sizeof(w));

	if (err)
		fuse_reply_err(req, err);
}

/* Take the writers' lock on [start, end): a queue thread only if that
 * needs no wait (what it would wait for may be its own I/O). */
static bool lock_writers(struct bfs_file *f, struct range_lock_entry *lock,
			 uint64_t start, uint64_t end)
{
	if (fuse_ring_inline())
		return range_lock_try(&f->inode->writers, lock, start, end);
	range_lock_acquire(&f->inode->writers, lock, start, end);
	return true;
}

void dio_write(fuse_req_t req, struct bfs_file *f, const char *buf,
	       size_t size, off_t off, int flags, bool writeback)
{
	stats_add(&bfs_stats.direct_requests, 1);
	write_request(req, f, buf, size, off, flags, writeback);
}

static void write_request(fuse_req_t req, struct bfs_file *f, const char *buf,
			  size_t size, off_t off, int flags, bool writeback)
{
	struct bfs_dio *d = the_dio;
	char *expected = pool_buf(&d->pool, recv_idx) + d->header_room;
	struct dio_io *io;
	uint64_t end = (uint64_t)off + size;
	bool aligned = buf == expected && (uint64_t)off % f->align == 0 &&
		       size % f->align == 0;
	/* Aligned: written from where it landed. The lock keeps a
	 * concurrent read-modify-write of the same blocks out. */
	bool in_worker = f->cached || must_invalidate(f, writeback);

	if (size == 0) {
		fuse_reply_write(req, 0);
		return;
	}
	if (fuse_ring_inline() && (!aligned || in_worker)) {
		defer_write(req, f, buf, size, off, flags, writeback);
		return;
	}
	if (!aligned) {
		rmw_write(req, f, buf, size, off, flags, writeback);
		return;
	}
	bool claimed = !in_worker && claim_sync(d);

	if (in_worker || claimed) {
		struct range_lock_entry lock;
		uint64_t start_us = stats_now_us();
		size_t done;
		int err;

		if (!lock_writers(f, &lock, (uint64_t)off, end)) {
			if (claimed)
				release_sync();
			defer_write(req, f, buf, size, off, flags, writeback);
			return;
		}
		err = fs_pwrite_all(f->dfd, buf, size, off, rw_flags_for(flags),
				    &done);
		range_lock_release(&f->inode->writers, &lock);
		if (claimed) {
			release_sync();
			fuse_ring_note_wait(stats_now_us() - start_us);
		}
		if (err)
			error_log_file("write", f->dfd, (int64_t)(off + done),
				       size - done, err);
		stats_done(STATS_WRITE, done, err, start_us);
		if (done)
			answer_write(d, req, f, (uint64_t)off, done, writeback,
				     done);
		else
			fuse_reply_err(req, err);
		return;
	}
	io = new_io(d, req, f);
	if (!lock_writers(f, &io->lock, (uint64_t)off, end)) {
		/* The buffer is the ring entry's: nothing to give back. */
		stats_inflight_dec();
		defer_write(req, f, buf, size, off, flags, writeback);
		return;
	}
	io->locked = true;
	io->user_len = size;
	io->img = expected;
	io->img_off = (uint64_t)off;
	io->img_len = size;
	io->uio.done = write_done;
	io->uio.write = true;
	io->uio.rw_flags = rw_flags_for(flags);
	submit_rest(io);
}
