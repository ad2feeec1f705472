/* io_uring submission lanes and their completion threads. */
#include "dio/uring_engine.h"
#include "core/kernel_features.h"
#include "core/log.h"
#include "dio/request.h"
#include "core/tsan_annotations.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>


/* One I/O fewer in flight; wake engine_stop if it waits for the last. */
static void io_ended(struct uring_engine *e)
{
	if (atomic_fetch_sub(&e->inflight, 1) == 1 &&
	    atomic_load(&e->draining)) {
		pthread_mutex_lock(&e->drain_lock);
		pthread_cond_broadcast(&e->drained);
		pthread_mutex_unlock(&e->drain_lock);
	}
}

static void *completion_thread(void *arg)
{
	struct uring_lane *lane = arg;
	struct uring_engine *e = lane->engine;

	/* Resubmissions stay on this ring. */
	bfs_request_self()->lane = lane->index;
	for (;;) {
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;
		bool stop = false;
		int rc;

		rc = io_uring_wait_cqe(&lane->ring, &cqe);
		if (rc == -EINTR)
			continue;
		if (rc < 0) {
			bfs_log(LOG_ERR, "cannot reap I/O completions: %s",
				strerror(-rc));
			break;
		}
		/* Everything that has completed, then one advance. */
		io_uring_for_each_cqe(&lane->ring, head, cqe) {
			struct uring_io *io = io_uring_cqe_get_data(cqe);

			seen++;
			if (!io) {
				stop = true; /* the stop token */
				break;
			}
			engine_complete(e, io, cqe->res);
		}
		io_uring_cq_advance(&lane->ring, seen);
		if (stop)
			break;
	}
	return NULL;
}

int uring_setup(unsigned entries, struct io_uring *ring,
		struct io_uring_params *p, unsigned must)
{
	struct io_uring_params want = *p;
	uint32_t dropped = 0;
	int rc, f;

	for (;;) {
		*p = want;
		rc = io_uring_queue_init_params(entries, ring, p);
		if (rc >= 0 || (f = uring_setup_fallback(&want.flags, must, rc)) < 0)
			break;
		dropped |= 1u << f;
	}
	if (rc < 0)
		return rc;
	for (f = 0; f < BFS_KF_COUNT; f++)
		if (dropped & (1u << f))
			kernel_feature_lacking((enum bfs_kfeature)f);
	return 0;
}

static int lane_init(struct uring_engine *e, unsigned i, unsigned entries,
		     const struct iovec *bufs, unsigned nbufs)
{
	struct uring_lane *lane = &e->lanes[i];
	struct io_uring_params p;
	int rc;

	memset(&p, 0, sizeof(p));
	/* Room for every buffer's I/O, and its completion. */
	p.flags = IORING_SETUP_CQSIZE;
	p.cq_entries = entries * 2;
	rc = uring_setup(entries, &lane->ring, &p, 0);
	if (rc < 0)
		return rc;
	lane->engine = e;
	lane->index = i;
	if (bufs && nbufs) {
		rc = io_uring_register_buffers(&lane->ring, bufs, nbufs);
		lane->fixed = rc == 0;
		if (rc)
			bfs_log(LOG_WARNING,
				"cannot register I/O buffers (%s); using plain reads and writes",
				strerror(-rc));
	}
	pthread_mutex_init(&lane->sq_lock, NULL);
	rc = -pthread_create(&lane->thread, NULL, completion_thread, lane);
	if (rc) {
		pthread_mutex_destroy(&lane->sq_lock);
		io_uring_queue_exit(&lane->ring);
		return rc;
	}
	lane->started = true;
	return 0;
}

static void lane_stop(struct uring_lane *lane)
{
	struct io_uring_sqe *sqe;

	if (!lane->started)
		return;
	pthread_mutex_lock(&lane->sq_lock);
	/* (The SQ empties as the kernel takes what was submitted.) */
	while (!(sqe = engine_get_sqe(&lane->ring)))
		continue;
	io_uring_prep_nop(sqe);
	io_uring_sqe_set_data(sqe, NULL);
	io_uring_submit(&lane->ring);
	pthread_mutex_unlock(&lane->sq_lock);
	pthread_join(lane->thread, NULL);
	io_uring_queue_exit(&lane->ring);
	pthread_mutex_destroy(&lane->sq_lock);
	lane->started = false;
}

int engine_init(struct uring_engine *e, unsigned lanes, unsigned entries,
		const struct iovec *bufs, unsigned nbufs)
{
	int rc = 0;

	memset(e, 0, sizeof(*e));
	if (lanes < 1)
		lanes = 1;
	if (lanes > ENGINE_MAX_LANES)
		lanes = ENGINE_MAX_LANES;
	pthread_mutex_init(&e->drain_lock, NULL);
	pthread_cond_init(&e->drained, NULL);
	for (unsigned i = 0; i < lanes; i++) {
		rc = lane_init(e, i, entries, bufs, nbufs);
		if (rc)
			break;
		e->nlanes++;
	}
	if (e->nlanes == 0) {
		pthread_mutex_destroy(&e->drain_lock);
		pthread_cond_destroy(&e->drained);
		return rc;
	}
	/* Fewer lanes than asked for still work. */
	e->running = true;
	return 0;
}

static void prep(bool fixed, struct io_uring_sqe *sqe, struct uring_io *io)
{
	if (fixed && io->buf_index >= 0) {
		if (io->write)
			io_uring_prep_write_fixed(sqe, io->fd, io->addr, io->len,
						  io->off, io->buf_index);
		else
			io_uring_prep_read_fixed(sqe, io->fd, io->addr, io->len,
						 io->off, io->buf_index);
	} else if (io->write) {
		io_uring_prep_write(sqe, io->fd, io->addr, io->len, io->off);
	} else {
		io_uring_prep_read(sqe, io->fd, io->addr, io->len, io->off);
	}
	sqe->rw_flags = io->rw_flags;
	io_uring_sqe_set_data(sqe, io);
	TSAN_RELEASE(io);
}

struct io_uring_sqe *engine_get_sqe(struct io_uring *ring)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	if (!sqe) {
		/* Full: push what is queued and try once more. */
		io_uring_submit(ring);
		sqe = io_uring_get_sqe(ring);
	}
	return sqe;
}

void engine_submit(struct uring_engine *e, struct uring_io *io)
{
	struct bfs_request *r = bfs_request_self();
	struct uring_lane *lane;
	struct io_uring_sqe *sqe;
	int rc;

	if (r->own_ring) {
		/* The owner's loop submits it with its next wait. */
		sqe = engine_get_sqe(r->own_ring);
		if (!sqe) {
			io->done(io, -EBUSY);
			return;
		}
		atomic_fetch_add(&e->inflight, 1);
		prep(r->own_fixed, sqe, io);
		(*r->own_inflight)++;
		return;
	}
	if (r->lane >= e->nlanes)
		r->lane = atomic_fetch_add(&e->next_lane, 1) % e->nlanes;
	lane = &e->lanes[r->lane];
	atomic_fetch_add(&e->inflight, 1);

	pthread_mutex_lock(&lane->sq_lock);
	sqe = engine_get_sqe(&lane->ring);
	if (sqe) {
		unsigned tries = 0;

		prep(lane->fixed, sqe, io);
		/* Once prepared, the sqe is in the ring: a transient refusal
		 * (completions backed up) is retried, never dropped. */
		do {
			rc = io_uring_submit(&lane->ring);
			if (rc == -EAGAIN || rc == -EBUSY)
				usleep(100);
		} while ((rc == -EINTR || rc == -EAGAIN || rc == -EBUSY) &&
			 ++tries < 10000);
	} else {
		rc = -EBUSY;
	}
	pthread_mutex_unlock(&lane->sq_lock);
	if (rc < 0 && sqe) {
		/* Still queued: it goes with the next submit. */
		bfs_log(LOG_WARNING, "I/O submission delayed: %s", strerror(-rc));
		return;
	}
	if (rc < 0) {
		io->done(io, rc);
		io_ended(e);
	}
}

void engine_stop(struct uring_engine *e)
{
	if (!e->running)
		return;
	pthread_mutex_lock(&e->drain_lock);
	atomic_store(&e->draining, true);
	while (atomic_load(&e->inflight))
		pthread_cond_wait(&e->drained, &e->drain_lock);
	pthread_mutex_unlock(&e->drain_lock);

	for (unsigned i = 0; i < e->nlanes; i++)
		lane_stop(&e->lanes[i]);
	pthread_mutex_destroy(&e->drain_lock);
	pthread_cond_destroy(&e->drained);
	e->running = false;
}

void engine_own_ring(struct io_uring *ring, bool fixed, unsigned *inflight)
{
	struct bfs_request *r = bfs_request_self();

	r->own_ring = ring;
	r->own_fixed = fixed;
	r->own_inflight = inflight;
}

void engine_complete(struct uring_engine *e, struct uring_io *io, int res)
{
	TSAN_ACQUIRE(io);
	io->done(io, res);
	io_ended(e);
}

#define ENTER_NO_IOWAIT (1U << 7) /* IORING_ENTER_NO_IOWAIT, Linux 6.15 */

/*
 * A ring's owner waits for requests on it (FUSE commands, reads of
 * /dev/fuse), which are I/O in flight to the kernel, so an idle mount's
 * threads would count as waiting for I/O, and the machine would show 100%
 * iowait while nothing happens: where the kernel can, the wait is kept
 * out of it. liburing 2.3 cannot pass that flag, so this publishes the
 * queued entries as its io_uring_submit does (the SQ tail; liburing maps
 * each SQ slot to its SQE at setup) and enters itself: two system calls
 * instead (submit, then wait) cost a measurable part of a request at QD1
 * (docs/architecture.md, "No I/O wait while idle").
 */
int engine_wait_own(struct io_uring *ring, bool no_iowait)
{
	struct io_uring_sq *sq = &ring->sq;
	unsigned tail = sq->sqe_tail;

	if (!no_iowait)
		return io_uring_submit_and_wait(ring, 1);
	if (sq->sqe_head != tail) {
		sq->sqe_head = tail;
		io_uring_smp_store_release(sq->ktail, tail);
	}
	/* (liburing's wrapper returns -errno, as io_uring_submit_and_wait) */
	return io_uring_enter(ring->ring_fd, tail - *sq->khead, 1,
			      IORING_ENTER_GETEVENTS | ENTER_NO_IOWAIT, NULL);
}

void engine_drain_own(struct uring_engine *e, struct io_uring *ring,
		      unsigned *inflight)
{
	for (int i = 0; i < 100 && *inflight; i++) {
		struct __kernel_timespec ts = { 0, 10 * 1000 * 1000 };
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;

		if (io_uring_wait_cqe_timeout(ring, &cqe, &ts) != 0)
			continue;
		io_uring_for_each_cqe(ring, head, cqe) {
			uint64_t ud = io_uring_cqe_get_data64(cqe);

			seen++;
			if (!engine_is_io(ud))
				continue;
			(*inflight)--;
			engine_complete(e, (struct uring_io *)(uintptr_t)ud,
					cqe->res);
		}
		io_uring_cq_advance(ring, seen);
		io_uring_submit(ring); /* the rest of a short transfer */
	}
	if (*inflight)
		bfs_log(LOG_ERR, "%u backing I/Os never completed", *inflight);
}
