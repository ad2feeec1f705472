/* The direct-I/O data path: pool buffers, io_uring, read-modify-write. */
#include "dio/dio.h"
#include "core/align.h"
#include "core/error_log.h"
#include "core/stats.h"
#include "dio/invalidator.h"
#include "dio/request.h"
#include "dio/sys_io.h"

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

/* The header room H for a device block of min_align. */
static size_t header_room_for(uint32_t min_align)
{
	size_t h = (size_t)sysconf(_SC_PAGESIZE);

	if (h < 4096)
		h = 4096;
	/* Payloads land aligned to the header room: at least the device's
	 * block (a 16 KiB-block device gets 16 KiB). */
	while (h < min_align && h < DIO_MAX_REQUEST)
		h <<= 1;
	return h;
}

size_t dio_pool_bytes(unsigned queue_depth, unsigned max_threads,
		      uint32_t min_align, unsigned ring_buffers,
		      unsigned *count, size_t *each)
{
	size_t h = header_room_for(min_align);

	*count = (ring_buffers > queue_depth ? ring_buffers : queue_depth) +
		 max_threads;
	/* Header room, the largest request with a block either side (an
	 * RMW image starts a block early), and the scratch block. */
	*each = h + DIO_MAX_REQUEST + 3 * h;
	return *count * *each;
}

int dio_init(struct bfs_dio *d, unsigned queue_depth, unsigned max_threads,
	     uint32_t min_align, unsigned ring_buffers)
{
	unsigned count;
	size_t each;
	struct iovec *iov;
	unsigned entries = 1;
	int rc;

	memset(d, 0, sizeof(*d));
	dio_pool_bytes(queue_depth, max_threads, min_align, ring_buffers,
		       &count, &each);
	d->header_room = header_room_for(min_align);
	rc = pool_init(&d->pool, count, each, d->header_room);
	if (rc)
		return rc;
	rc = -ENOMEM;
	d->kept = calloc(count, sizeof(*d->kept));
	if (!d->kept)
		goto fail_pool;
	while (entries < count)
		entries <<= 1;
	iov = pool_iovecs(&d->pool);
	if (!iov)
		goto fail_kept;
	rc = engine_init(&d->engine, DIO_LANES, entries, iov, count);
	free(iov);
	if (rc)
		goto fail_kept;
	d->running = true;
	return 0;

fail_kept:
	free(d->kept);
	d->kept = NULL;
fail_pool:
	pool_destroy(&d->pool);
	return rc;
}

void dio_destroy(struct bfs_dio *d)
{
	if (!d->running)
		return;
	engine_stop(&d->engine);
	pool_destroy(&d->pool);
	free(d->kept);
	d->running = false;
}

uint32_t dio_max_align(const struct bfs_dio *d)
{
	return (uint32_t)d->header_room;
}

void *dio_recv_at(struct bfs_dio *d, unsigned idx)
{
	return pool_buf(&d->pool, idx) + d->header_room - WRITE_HEADERS;
}

size_t dio_recv_len(const struct bfs_dio *d)
{
	return WRITE_HEADERS + d->pool.size - 2 * d->header_room;
}

void *dio_recv_next(void *ctx, void *prev)
{
	struct bfs_dio *d = ctx;
	struct bfs_request *r = bfs_request_self();

	if (!prev || r->buf_taken || r->buf_idx == REQUEST_NO_BUFFER) {
		r->buf_idx = pool_take(&d->pool);
		r->buf_taken = false;
	}
	return dio_recv_at(d, r->buf_idx);
}

void dio_recv_done(void *ctx, void *mem)
{
	struct bfs_dio *d = ctx;
	struct bfs_request *r = bfs_request_self();

	(void)mem;
	if (!r->buf_taken && r->buf_idx != REQUEST_NO_BUFFER)
		pool_give(&d->pool, r->buf_idx);
	r->buf_idx = REQUEST_NO_BUFFER;
}

char *dio_recv_space(struct bfs_dio *d, size_t *len)
{
	const struct bfs_request *r = bfs_request_self();

	if (!d || !d->running || r->buf_idx == REQUEST_NO_BUFFER || r->buf_taken)
		return NULL;
	*len = d->pool.size - 2 * d->header_room;
	return pool_buf(&d->pool, r->buf_idx) + d->header_room;
}

void dio_keep_buffer(struct bfs_dio *d, unsigned idx)
{
	d->kept[idx] = true;
}

/* The request's receive buffer: where its payload landed. */
static char *recv_buffer(struct bfs_dio *d)
{
	return pool_buf(&d->pool, bfs_request_self()->buf_idx);
}

/* The current receive buffer becomes the I/O's; the worker takes another. */
static unsigned take_recv_buffer(void)
{
	struct bfs_request *r = bfs_request_self();

	r->buf_taken = true;
	return r->buf_idx;
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

void dio_answer_write(struct bfs_dio *d, fuse_req_t req, struct bfs_file *f,
		      uint64_t off, size_t reached, size_t n, int err,
		      bool writeback)
{
	if (n == 0 && err) {
		fuse_reply_err(req, -err);
		return;
	}
	if (!reached || !must_invalidate(f, writeback)) {
		fuse_reply_write(req, n);
		return;
	}
	invalidator_write_done(d ? d->inval : NULL, req,
			       f->inode->id, off, reached, n);
}

/* Count a finished direct request, for the mount and for its file. */
static void count_done(struct bfs_file *f, enum stats_op op, uint64_t bytes,
		       int err, uint64_t start_us)
{
	stats_done(op, bytes, err, start_us);
	file_counters_done(&f->counters, op, bytes, err);
}

/* Answer a read: n bytes at data, or the -errno err. A cached read
 * answers what it read before an error, as read(2) does; a direct one the
 * error. */
static void answer_read(fuse_req_t req, struct bfs_file *f, const char *data,
			size_t n, int err, bool cached, uint64_t start_us)
{
	if (err && (!cached || n == 0)) {
		if (!cached)
			count_done(f, STATS_READ, 0, -err, start_us);
		fuse_reply_err(req, -err);
		return;
	}
	if (!cached)
		count_done(f, STATS_READ, n, 0, start_us);
	fuse_reply_buf(req, data, n);
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
		answer_read(io->req, io->file, io->img, io->done, res, io->cached,
			    io->start_us);
		finish(io);
		return;
	}
	io->done += (size_t)res;
	/* A short read of whole blocks may not be the end of the file yet. */
	if (res > 0 && io->done < io->img_len && io->done % io->align == 0) {
		submit_rest(io);
		return;
	}
	answer_read(io->req, io->file, io->img + io->plan.head,
		    align_read_result(&io->plan, io->done, io->user_len), 0,
		    io->cached, io->start_us);
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
		int err = res < 0 ? res : 0;

		if (err)
			error_log_file("write", io->uio.fd, (int64_t)io->uio.off,
				       io->uio.len, -err);
		struct bfs_file *f = io->file;

		finish(io);
		count_done(f, STATS_WRITE, n, -err, start_us);
		/* Sent through the ring: no cached open to drop pages of
		 * (must_invalidate), so nothing reached to invalidate. */
		dio_answer_write(NULL, req, f, 0, 0, n, n ? 0 : err, false);
	}
}

static struct dio_io *new_io(struct bfs_dio *d, fuse_req_t req,
			     struct bfs_file *f)
{
	unsigned idx = take_recv_buffer();
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
static bool claim_sync(struct bfs_dio *d)
{
	unsigned zero = 0;

	if (atomic_load_explicit(&d->engine.inflight, memory_order_relaxed) ||
	    !bfs_request_alone())
		return false;
	return atomic_compare_exchange_strong(&d->sync_busy, &zero, 1);
}

static void release_sync(struct bfs_dio *d)
{
	atomic_store(&d->sync_busy, 0);
}

/* The image plan for a read of size bytes at off in blocks of a, or an
 * error answered; then served here, alone, or through the ring. */
static void read_request(struct bfs_dio *d, fuse_req_t req, struct bfs_file *f,
			 bool cached, size_t size, off_t off)
{
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
		char *img = recv_buffer(d) + d->header_room;
		uint64_t start_us = stats_now_us();
		size_t got = 0;
		int err;

		stats_inflight_inc();
		err = sys_pread_all(fd, img, plan.len, (off_t)plan.start, a, &got);
		stats_inflight_dec();
		release_sync(d);
		if (err)
			error_log_file("read", fd, (int64_t)(plan.start + got),
				       plan.len - got, -err);
		answer_read(req, f, img + plan.head,
			    err && got == 0 ? 0 : align_read_result(&plan, got, size),
			    err, cached, start_us);
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

void dio_read(struct bfs_dio *d, fuse_req_t req, struct bfs_file *f,
	      size_t size, off_t off)
{
	stats_add(&bfs_stats.direct_requests, 1);
	read_request(d, req, f, false, size, off);
}

void dio_read_cached(struct bfs_dio *d, fuse_req_t req, struct bfs_file *f,
		     size_t size, off_t off)
{
	stats_add(&bfs_stats.buffered_requests, 1);
	read_request(d, req, f, true, size, off);
}

/* Read the block at off into scratch (zeros past the end of the file):
 * 0 or -errno. */
static int read_block(int fd, char *scratch, uint32_t a, uint64_t off)
{
	size_t got;
	int err = sys_pread_all(fd, scratch, a, (off_t)off, a, &got);

	if (err)
		return err;
	memset(scratch + got, 0, a - got);
	return 0;
}

/*
 * Unaligned write: read-modify-write in the worker, under a lock on the
 * blocks it touches (to the end of the file if the blocks reach past it).
 */
static void rmw_write(struct bfs_dio *d, const struct dio_write_args *w)
{
	struct bfs_file *f = w->f;
	struct range_lock *rl = &f->inode->writers;
	struct range_lock_entry lock;
	char *rbuf = recv_buffer(d);
	char *scratch = rbuf + d->pool.size - d->header_room;
	uint32_t a = f->align;
	uint64_t start_us = stats_now_us(), size_now = 0, lock_end;
	uint64_t wend = (uint64_t)w->off + w->size;
	struct io_plan plan = { 0 };
	size_t written = 0, endoff, n = 0;
	char *img;
	int err;

	err = sys_file_size(f->dfd, &size_now);
	if (err)
		goto fail;
	lock_end = align_up(wend, a) > size_now ? RANGE_LOCK_EOF : align_up(wend, a);
	for (;;) {
		range_lock_acquire(rl, &lock, align_down((uint64_t)w->off, a),
				   lock_end);
		err = sys_file_size(f->dfd, &size_now);
		if (err)
			goto unlock;
		if (align_up(wend, a) <= size_now || lock_end == RANGE_LOCK_EOF)
			break;
		/* The file shrank meanwhile: lock to its end. */
		range_lock_release(rl, &lock);
		lock_end = RANGE_LOCK_EOF;
	}
	align_plan_write((uint64_t)w->off, w->size, size_now, a, &plan);
	stats_add(&bfs_stats.rmw_cycles, 1);

	/* The image starts one block before the payload's page when the
	 * payload has a head, so the payload moves back by a - head. */
	img = plan.head ? rbuf + d->header_room - a : rbuf + d->header_room;
	if (img + plan.head != w->buf) {
		memmove(img + plan.head, w->buf, w->size);
		stats_add(&bfs_stats.copied_bytes, w->size);
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
	err = sys_pwrite_all(f->dfd, img, plan.len, (off_t)plan.start,
			     rw_flags_for(w->flags), &written);
	if (plan.truncate_after && written > 0) {
		uint64_t reached = plan.start + written;
		uint64_t want = plan.end < reached ? plan.end : reached;

		if (want < size_now)
			want = size_now;
		if (sys_io->ftruncate(f->dfd, (off_t)want) && !err)
			err = -errno;
	}
	/* The bytes of the request that reached the file, if any. */
	if (written)
		n = align_write_result(&plan, written, w->size);
unlock:
	range_lock_release(rl, &lock);
	if (n) {
		count_done(f, STATS_WRITE, n, -err, start_us);
		dio_answer_write(d, w->req, f, plan.start, written, n, 0,
				 w->writeback);
		return;
	}
	if (!err)
		err = -EIO;
fail:
	error_log_file("write", f->dfd, w->off, w->size, -err);
	count_done(f, STATS_WRITE, 0, -err, start_us);
	fuse_reply_err(w->req, -err);
}

_Static_assert(sizeof(struct dio_write_args) <= REQUEST_DEFER_MAX,
	       "a deferred write must fit what a transport copies");

static void write_request(struct bfs_dio *d, const struct dio_write_args *w);

static void run_deferred_write(void *arg)
{
	const struct dio_write_args *w = arg;

	write_request(w->dio, w);
}

/* Serve w in a thread that may block instead (see request.h). */
static void defer_write(const struct dio_write_args *w)
{
	int err = bfs_request_defer(run_deferred_write, w, sizeof(*w));

	if (err)
		fuse_reply_err(w->req, -err);
}

/* Take the writers' lock on [start, end): a thread that must not block
 * only if that needs no wait (what it would wait for may be its own I/O). */
static bool lock_writers(struct bfs_file *f, struct range_lock_entry *lock,
			 uint64_t start, uint64_t end)
{
	if (!bfs_request_self()->may_block)
		return range_lock_try(&f->inode->writers, lock, start, end);
	range_lock_acquire(&f->inode->writers, lock, start, end);
	return true;
}

void dio_write(struct bfs_dio *d, fuse_req_t req, struct bfs_file *f,
	       const char *buf, size_t size, off_t off, int flags,
	       bool writeback)
{
	const struct dio_write_args w = {
		.dio = d, .req = req, .f = f, .buf = buf, .size = size,
		.off = off, .flags = flags, .writeback = writeback,
	};

	stats_add(&bfs_stats.direct_requests, 1);
	write_request(d, &w);
}

/* An aligned write served in this thread: alone, or one that must be
 * (see must_invalidate). */
static void write_here(struct bfs_dio *d, const struct dio_write_args *w,
		       bool claimed)
{
	struct bfs_file *f = w->f;
	struct range_lock_entry lock;
	uint64_t start_us = stats_now_us();
	size_t done;
	int err;

	if (!lock_writers(f, &lock, (uint64_t)w->off, (uint64_t)w->off + w->size)) {
		if (claimed)
			atomic_store(&d->sync_busy, 0);
		defer_write(w);
		return;
	}
	stats_inflight_inc();
	err = sys_pwrite_all(f->dfd, w->buf, w->size, w->off,
			     rw_flags_for(w->flags), &done);
	stats_inflight_dec();
	range_lock_release(&f->inode->writers, &lock);
	if (claimed)
		release_sync(d);
	if (err)
		error_log_file("write", f->dfd, w->off + (off_t)done,
			       w->size - done, -err);
	count_done(f, STATS_WRITE, done, -err, start_us);
	dio_answer_write(d, w->req, f, (uint64_t)w->off, done, done, err,
			 w->writeback);
}

static void write_request(struct bfs_dio *d, const struct dio_write_args *w)
{
	struct bfs_file *f = w->f;
	char *expected = recv_buffer(d) + d->header_room;
	struct dio_io *io;
	bool aligned = w->buf == expected && (uint64_t)w->off % f->align == 0 &&
		       w->size % f->align == 0;
	/* Aligned: written from where it landed. The lock keeps a
	 * concurrent read-modify-write of the same blocks out. */
	bool in_worker = f->cached || must_invalidate(f, w->writeback);
	bool claimed;

	if (w->size == 0) {
		fuse_reply_write(w->req, 0);
		return;
	}
	if (!bfs_request_self()->may_block && (!aligned || in_worker)) {
		defer_write(w);
		return;
	}
	if (!aligned) {
		rmw_write(d, w);
		return;
	}
	claimed = !in_worker && claim_sync(d);
	if (in_worker || claimed) {
		write_here(d, w, claimed);
		return;
	}
	io = new_io(d, w->req, f);
	if (!lock_writers(f, &io->lock, (uint64_t)w->off,
			  (uint64_t)w->off + w->size)) {
		/* Not taken after all: the request's buffer goes with it
		 * to the helper (a ring entry's is kept anyway). */
		bfs_request_self()->buf_taken = false;
		stats_inflight_dec();
		defer_write(w);
		return;
	}
	io->locked = true;
	io->user_len = w->size;
	io->img = expected;
	io->img_off = (uint64_t)w->off;
	io->img_len = w->size;
	io->uio.done = write_done;
	io->uio.write = true;
	io->uio.rw_flags = rw_flags_for(w->flags);
	submit_rest(io);
}
