/* /dev/fuse workers that each drive an io_uring of their own; helpers. */
#include "transport/dev_fuse_ring.h"
#include "transport/closing.h"
#include "transport/device_io.h"
#include "core/helper_pool.h"
#include "core/log.h"
#include "core/tsan_annotations.h"
#include "dio/dio.h"
#include "dio/request.h"

#include <errno.h>
#include <linux/fuse.h>
#include <liburing.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define TAG_POLL 2ull    /* user_data: the worker's poll of /dev/fuse */
#define TAG_CANCEL 4ull  /* user_data: that poll's cancellation */
/* Made by the thread that serves INIT, enabled by the worker, which is
 * then the only one to submit; the kernel's work for the ring waits until
 * that worker asks. */
#define RING_FLAGS (IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER | \
		    IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED)

/* A request (or a deferred function of one) a helper serves. */
struct dfr_work {
	struct helper_work hw;
	struct dev_fuse_ring *r;
	unsigned buf_idx;        /* its receive buffer, now the helper's */
	size_t len;              /* the request's length (fn NULL) */
	void (*fn)(void *arg);   /* NULL: serve the request */
	_Alignas(16) char slot[REQUEST_DEFER_MAX];
};

struct dfr_worker {
	struct dev_fuse_ring *r;
	unsigned index;
	struct io_uring ring;
	bool ring_ok;
	bool fixed;              /* the pool's buffers are registered */
	bool no_iowait;
	pthread_t thread;
	bool started;
	unsigned own_inflight;   /* backing I/Os on this ring */
	bool polling;            /* a poll of /dev/fuse is on the ring */
	bool cancelling;         /* and its cancellation */
	bool shared_poll;        /* the kernel refused an exclusive one */
	bool ended;              /* the connection is gone */
	unsigned buf_idx;        /* receive buffer, REQUEST_NO_BUFFER if none */
};

struct dev_fuse_ring {
	struct fuse_session *se;
	struct bfs_dio *dio;
	unsigned nworkers;
	struct dfr_worker *workers;
	struct helper_pool helpers;
	_Atomic bool stopping;
	void (*ended)(int err);
};

/* ---- helpers ---------------------------------------------------------- */

static void serve(struct dev_fuse_ring *r, void *mem, size_t len)
{
	struct fuse_buf fb = { .mem = mem, .size = len };

	bfs_request_begin(mem, len);
	fuse_session_process_buf(r->se, &fb);
	bfs_request_end();
}

static void run_work(struct helper_work *hw)
{
	struct dfr_work *w = (struct dfr_work *)hw;
	struct bfs_dio *dio = w->r->dio;
	struct bfs_request *req = bfs_request_self();

	req->buf_idx = w->buf_idx;
	req->buf_taken = false;
	if (w->fn)
		w->fn(w->slot);
	else
		serve(w->r, dio_recv_at(dio, w->buf_idx), w->len);
	/* Unless an I/O in flight keeps it, the buffer goes back. */
	if (!req->buf_taken)
		pool_give(&dio->pool, w->buf_idx);
	req->buf_idx = REQUEST_NO_BUFFER;
	req->buf_taken = false;
	free(w);
}

/* Hand the request received in the calling worker's buffer (or fn(arg)
 * of it) to a helper, with that buffer: 0, or the -errno to answer with. */
static int to_helper(struct dev_fuse_ring *r, size_t len,
		     void (*fn)(void *arg), const void *arg, size_t arg_len)
{
	struct bfs_request *req = bfs_request_self();
	struct dfr_work *w;
	int rc;

	if (arg_len > REQUEST_DEFER_MAX)
		return -EINVAL;
	w = malloc(sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->hw.run = run_work;
	w->r = r;
	w->buf_idx = req->buf_idx;
	w->len = len;
	w->fn = fn;
	if (fn)
		memcpy(w->slot, arg, arg_len);
	rc = helper_pool_push(&r->helpers, &w->hw);
	if (rc) {
		free(w);
		if (rc == -EAGAIN)
			bfs_log(LOG_ERR, "cannot start a helper thread");
		return rc == -ESHUTDOWN ? -ENOTCONN : rc;
	}
	/* The worker receives the next request into another buffer. */
	req->buf_taken = true;
	return 0;
}

/* The request context's hooks (request.h) on a worker. */
static int hook_defer(struct bfs_request *req, void (*fn)(void *arg),
		      const void *arg, size_t len)
{
	struct dfr_worker *w = req->thread_state;

	return to_helper(w->r, 0, fn, arg, len);
}

/* A request of a worker with no I/O of its own in flight: served
 * synchronously, without a round trip through the ring. (A worker holds
 * one request at a time: its poll wakes it for one read.) */
static bool hook_alone(const struct bfs_request *req)
{
	const struct dfr_worker *w = req->thread_state;

	return w->own_inflight == 0;
}

static const struct request_transport worker_hooks = {
	.defer = hook_defer,
	.alone = hook_alone,
};

/* ---- the worker ------------------------------------------------------- */

/* A receive buffer for the next read: false if the pool has none now and
 * I/O of this worker's own is in flight (its completions give some back;
 * with none, another thread's will, and this waits). */
static bool have_buffer(struct dfr_worker *w)
{
	struct buffer_pool *pool = &w->r->dio->pool;

	if (w->buf_idx != REQUEST_NO_BUFFER)
		return true;
	if (pool_try_take(pool, &w->buf_idx))
		return true;
	if (w->own_inflight)
		return false;
	w->buf_idx = pool_take(pool);
	return true;
}

/*
 * Wait on the ring for a request on /dev/fuse: an exclusive poll, so that
 * a request wakes one worker, not both (an io_uring read that finds
 * nothing waits in a poll that every request wakes: at queue depth 1
 * each request woke both workers, one for nothing). The worker then
 * reads it with read(2) (poll_done).
 */
static void prep_poll(struct dfr_worker *w)
{
	struct io_uring_sqe *sqe = engine_get_sqe(&w->ring);

	if (!sqe)
		return; /* (the SQ holds every buffer's I/O twice over) */
	io_uring_prep_poll_add(sqe, fuse_session_fd(w->r->se),
			       w->shared_poll ? POLLIN : POLLIN | EPOLLEXCLUSIVE);
	io_uring_sqe_set_data64(sqe, TAG_POLL);
	w->polling = true;
}

static void prep_cancel(struct dfr_worker *w)
{
	struct io_uring_sqe *sqe = engine_get_sqe(&w->ring);

	if (!sqe)
		return;
	io_uring_prep_cancel64(sqe, TAG_POLL, 0);
	io_uring_sqe_set_data64(sqe, TAG_CANCEL);
	w->cancelling = true;
}

/* The connection is gone (err 0: unmounted) or failed. */
static void worker_ends(struct dfr_worker *w, int err)
{
	w->ended = true;
	if (w->r->ended)
		w->r->ended(err);
}

/* A request of res bytes arrived in the worker's buffer: serve it here
 * or in a helper. */
static void received(struct dfr_worker *w, ssize_t res)
{
	struct dev_fuse_ring *r = w->r;
	struct bfs_request *req = bfs_request_self();
	void *mem = dio_recv_at(r->dio, w->buf_idx);
	struct fuse_in_header h;
	int rc;

	TSAN_FUSE_RECEIVED();
	if ((size_t)res < sizeof(h)) {
		bfs_log(LOG_WARNING, "/dev/fuse: a request of %zd bytes", res);
		return;
	}
	if (closing_refuses(mem, (size_t)res)) {
		device_io_answer_error(r->se, mem, -ENOTCONN);
		return;
	}
	memcpy(&h, mem, sizeof(h));
	req->buf_idx = w->buf_idx;
	req->buf_taken = false;
	if (bfs_request_served_in_place(h.opcode)) {
		serve(r, mem, (size_t)res);
	} else {
		rc = to_helper(r, (size_t)res, NULL, NULL, 0);
		if (rc)
			device_io_answer_error(r->se, mem, rc);
	}
	/* A handler's I/O, or a helper, may have taken the buffer. */
	if (req->buf_taken)
		w->buf_idx = REQUEST_NO_BUFFER;
	req->buf_idx = REQUEST_NO_BUFFER;
	req->buf_taken = false;
}

/* The poll of /dev/fuse ended with res: read what is there. */
static void poll_done(struct dfr_worker *w, int res)
{
	struct bfs_dio *dio = w->r->dio;
	ssize_t n;

	w->polling = false;
	w->cancelling = false;
	if (res == -EINVAL && !w->shared_poll) {
		w->shared_poll = true; /* (no EPOLLEXCLUSIVE: before 5.13) */
		return;
	}
	if (res == -ECANCELED || res == -EINTR || res == -EAGAIN)
		return;
	if (res < 0) {
		worker_ends(w, res);
		return;
	}
	n = read(fuse_session_fd(w->r->se), dio_recv_at(dio, w->buf_idx),
		 dio_recv_len(dio));
	if (n > 0) {
		received(w, n);
		return;
	}
	/* EAGAIN: the other worker took it; ENOENT: a request interrupted
	 * before it was read; ENODEV: unmounted. */
	if (n < 0 && (errno == EAGAIN || errno == EINTR || errno == ENOENT))
		return;
	worker_ends(w, n == 0 || errno == ENODEV ? 0 : -errno);
}

/* The worker becomes its ring's one submitter (liburing 2.3 has no
 * io_uring_enable_rings). 0 or -errno. */
static int enable_ring(struct dfr_worker *w)
{
	if (syscall(__NR_io_uring_register, w->ring.ring_fd,
		    IORING_REGISTER_ENABLE_RINGS, NULL, 0) < 0)
		return -errno;
	return 0;
}

static void *worker_main(void *arg)
{
	struct dfr_worker *w = arg;
	struct dev_fuse_ring *r = w->r;
	struct bfs_request *req = bfs_request_self();
	sigset_t wake;
	int rc;

	sigemptyset(&wake);
	sigaddset(&wake, WAKE_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &wake, NULL);
	rc = enable_ring(w);
	if (rc < 0) {
		bfs_log(LOG_ERR, "/dev/fuse worker %u: cannot enable its ring: %s",
			w->index, strerror(-rc));
		if (r->ended)
			r->ended(rc);
		return NULL;
	}
	/* What this thread serves itself must not wait for another request:
	 * what may, it defers (dev_fuse_ring.h). */
	req->transport = &worker_hooks;
	req->thread_state = w;
	req->may_block = false;
	engine_own_ring(&w->ring, w->fixed, &w->own_inflight);

	for (;;) {
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;
		bool stop = w->ended || atomic_load(&r->stopping);

		if (stop && !w->polling && w->own_inflight == 0)
			break;
		if (!stop && !w->polling && have_buffer(w))
			prep_poll(w);
		if (stop && w->polling && !w->cancelling)
			prep_cancel(w);
		rc = engine_wait_own(&w->ring, w->no_iowait);
		if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
			bfs_log(LOG_ERR, "/dev/fuse worker %u: %s", w->index,
				strerror(-rc));
			engine_drain_own(&r->dio->engine, &w->ring,
					 &w->own_inflight);
			if (r->ended)
				r->ended(rc);
			break;
		}
		io_uring_for_each_cqe(&w->ring, head, cqe) {
			uint64_t ud = io_uring_cqe_get_data64(cqe);

			seen++;
			if (ud == TAG_POLL) {
				poll_done(w, cqe->res);
			} else if (engine_is_io(ud)) {
				w->own_inflight--;
				engine_complete(&r->dio->engine,
						(struct uring_io *)(uintptr_t)ud,
						cqe->res);
			}
		}
		io_uring_cq_advance(&w->ring, seen);
	}
	engine_own_ring(NULL, false, NULL);
	req->transport = NULL;
	req->thread_state = NULL;
	req->may_block = true;
	if (w->buf_idx != REQUEST_NO_BUFFER)
		pool_give(&r->dio->pool, w->buf_idx);
	w->buf_idx = REQUEST_NO_BUFFER;
	return NULL;
}

/* ---- set-up and stop -------------------------------------------------- */

static int worker_ring(struct dfr_worker *w)
{
	struct bfs_dio *dio = w->r->dio;
	struct io_uring_params p;
	struct iovec *iov;
	unsigned sq = 8;
	int rc;

	/* Room for an I/O of every buffer, the poll and its cancellation. */
	while (sq < dio->pool.count + 4)
		sq <<= 1;
	memset(&p, 0, sizeof(p));
	p.flags = RING_FLAGS;
	p.cq_entries = 2 * sq;
	rc = uring_setup(sq, &w->ring, &p, IORING_SETUP_R_DISABLED);
	if (rc < 0)
		return rc;
	w->ring_ok = true;
	w->no_iowait = (p.features & ENGINE_FEAT_NO_IOWAIT) != 0;
	iov = pool_iovecs(&dio->pool);
	if (iov) {
		w->fixed = io_uring_register_buffers(&w->ring, iov,
						     dio->pool.count) == 0;
		free(iov);
	}
	return 0;
}

struct dev_fuse_ring *dev_fuse_ring_setup(struct fuse_session *se,
					  struct bfs_dio *dio,
					  unsigned workers,
					  unsigned max_helpers)
{
	struct dev_fuse_ring *r = calloc(1, sizeof(*r));
	int rc = -ENOMEM;

	if (!r)
		goto fail;
	r->se = se;
	r->dio = dio;
	r->workers = calloc(workers ? workers : 1, sizeof(*r->workers));
	if (!r->workers || helper_pool_init(&r->helpers, max_helpers))
		goto fail;
	r->nworkers = workers ? workers : 1;
	for (unsigned i = 0; i < r->nworkers; i++) {
		struct dfr_worker *w = &r->workers[i];

		w->r = r;
		w->index = i;
		w->buf_idx = REQUEST_NO_BUFFER;
		rc = worker_ring(w);
		if (rc)
			goto fail;
	}
	return r;
fail:
	bfs_log(LOG_WARNING, "/dev/fuse: cannot make the workers' rings (%s); "
		"using blocking workers", strerror(-rc));
	dev_fuse_ring_free(r);
	return NULL;
}

int dev_fuse_ring_start(struct dev_fuse_ring *r, void (*ended)(int err))
{
	unsigned started = 0;
	int rc = 0;

	r->ended = ended;
	for (unsigned i = 0; i < r->nworkers; i++) {
		struct dfr_worker *w = &r->workers[i];

		rc = -pthread_create(&w->thread, NULL, worker_main, w);
		if (rc) {
			bfs_log(LOG_WARNING, "cannot start a /dev/fuse worker: %s",
				strerror(-rc));
			break;
		}
		w->started = true;
		started++;
	}
	if (!started)
		return rc;
	bfs_log(LOG_INFO, "/dev/fuse: %u workers, each with an io_uring of its own",
		started);
	return 0;
}

void dev_fuse_ring_stop(struct dev_fuse_ring *r)
{
	if (!r)
		return;
	atomic_store(&r->stopping, true);
	/* A worker sees the stop when its wait ends: interrupted until it
	 * has cancelled its poll and reaped its I/O. */
	for (unsigned i = 0; i < r->nworkers; i++) {
		struct dfr_worker *w = &r->workers[i];
		const struct timespec pause = { 0, 10 * 1000 * 1000 };

		if (!w->started)
			continue;
		while (pthread_tryjoin_np(w->thread, NULL) == EBUSY) {
			pthread_kill(w->thread, WAKE_SIGNAL);
			nanosleep(&pause, NULL);
		}
		w->started = false;
	}
	helper_pool_stop(&r->helpers);
}

void dev_fuse_ring_free(struct dev_fuse_ring *r)
{
	if (!r)
		return;
	dev_fuse_ring_stop(r);
	for (unsigned i = 0; r->workers && i < r->nworkers; i++)
		if (r->workers[i].ring_ok)
			io_uring_queue_exit(&r->workers[i].ring);
	free(r->workers);
	helper_pool_destroy(&r->helpers);
	free(r);
}
