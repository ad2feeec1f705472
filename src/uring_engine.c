/* io_uring submission and the completion thread. */
#include "uring_engine.h"
#include "log.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>


static void *completion_thread(void *arg)
{
	struct uring_engine *e = arg;

	for (;;) {
		struct io_uring_cqe *cqe;
		struct uring_io *io;
		int res, rc;

		rc = io_uring_wait_cqe(&e->ring, &cqe);
		if (rc == -EINTR)
			continue;
		if (rc < 0) {
			bfs_log(LOG_ERR, "cannot reap I/O completions: %s",
				strerror(-rc));
			break;
		}
		io = io_uring_cqe_get_data(cqe);
		res = cqe->res;
		io_uring_cqe_seen(&e->ring, cqe);
		if (!io)
			break; /* the stop token */
		io->done(io, res);
		pthread_mutex_lock(&e->drain_lock);
		if (--e->inflight == 0)
			pthread_cond_broadcast(&e->drained);
		pthread_mutex_unlock(&e->drain_lock);
	}
	return NULL;
}

int engine_init(struct uring_engine *e, unsigned entries,
		const struct iovec *bufs, unsigned nbufs)
{
	struct io_uring_params p;
	int rc;

	memset(e, 0, sizeof(*e));
	memset(&p, 0, sizeof(p));
	/* Room for every buffer's I/O, and its completion. */
	p.flags = IORING_SETUP_CQSIZE;
	p.cq_entries = entries * 2;
	rc = io_uring_queue_init_params(entries, &e->ring, &p);
	if (rc < 0)
		return rc;
	if (bufs && nbufs) {
		rc = io_uring_register_buffers(&e->ring, bufs, nbufs);
		e->fixed = rc == 0;
		if (rc)
			bfs_log(LOG_WARNING,
				"cannot register I/O buffers (%s); using plain reads and writes",
				strerror(-rc));
	}
	pthread_mutex_init(&e->sq_lock, NULL);
	pthread_mutex_init(&e->drain_lock, NULL);
	pthread_cond_init(&e->drained, NULL);
	rc = -pthread_create(&e->thread, NULL, completion_thread, e);
	if (rc) {
		io_uring_queue_exit(&e->ring);
		return rc;
	}
	e->running = true;
	return 0;
}

static void prep(struct uring_engine *e, struct io_uring_sqe *sqe,
		 struct uring_io *io)
{
	if (e->fixed && io->buf_index >= 0) {
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
}

void engine_submit(struct uring_engine *e, struct uring_io *io)
{
	struct io_uring_sqe *sqe;
	int rc;

	pthread_mutex_lock(&e->drain_lock);
	e->inflight++;
	pthread_mutex_unlock(&e->drain_lock);

	pthread_mutex_lock(&e->sq_lock);
	sqe = io_uring_get_sqe(&e->ring);
	if (!sqe) {
		/* Full: push what is queued and try once more. */
		io_uring_submit(&e->ring);
		sqe = io_uring_get_sqe(&e->ring);
	}
	if (sqe) {
		unsigned tries = 0;

		prep(e, sqe, io);
		/* Once prepared, the sqe is in the ring: a transient refusal
		 * (completions backed up) is retried, never dropped. */
		do {
			rc = io_uring_submit(&e->ring);
			if (rc == -EAGAIN || rc == -EBUSY)
				usleep(100);
		} while ((rc == -EINTR || rc == -EAGAIN || rc == -EBUSY) &&
			 ++tries < 10000);
	} else {
		rc = -EBUSY;
	}
	pthread_mutex_unlock(&e->sq_lock);
	if (rc < 0 && sqe) {
		/* Still queued: it goes with the next submit. */
		bfs_log(LOG_WARNING, "I/O submission delayed: %s", strerror(-rc));
		return;
	}
	if (rc < 0) {
		io->done(io, rc);
		pthread_mutex_lock(&e->drain_lock);
		if (--e->inflight == 0)
			pthread_cond_broadcast(&e->drained);
		pthread_mutex_unlock(&e->drain_lock);
	}
}

void engine_stop(struct uring_engine *e)
{
	struct io_uring_sqe *sqe;

	if (!e->running)
		return;
	pthread_mutex_lock(&e->drain_lock);
	while (e->inflight)
		pthread_cond_wait(&e->drained, &e->drain_lock);
	pthread_mutex_unlock(&e->drain_lock);

	pthread_mutex_lock(&e->sq_lock);
	while (!(sqe = io_uring_get_sqe(&e->ring)))
		io_uring_submit(&e->ring);
	io_uring_prep_nop(sqe);
	io_uring_sqe_set_data(sqe, NULL);
	io_uring_submit(&e->ring);
	pthread_mutex_unlock(&e->sq_lock);
	pthread_join(e->thread, NULL);
	io_uring_queue_exit(&e->ring);
	pthread_mutex_destroy(&e->sq_lock);
	pthread_mutex_destroy(&e->drain_lock);
	pthread_cond_destroy(&e->drained);
	e->running = false;
}
