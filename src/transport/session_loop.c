/* The main thread (INIT, signals, the stop) and the blocking /dev/fuse
 * workers of -s, or of a mount whose ring workers cannot start. */
#include "transport/session_loop.h"
#include "transport/closing.h"
#include "transport/dev_fuse_ring.h"
#include "transport/device_io.h"
#include "dio/request.h"
#include "core/helper_pool.h"
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SIG_WORKER_ENDED SIGUSR1  /* a worker tells the main thread */

struct loop {
	struct fuse_session *se;
	pthread_mutex_t lock;
	pthread_t main_thread;
	pthread_t *threads;
	_Atomic unsigned nthreads;
	unsigned max_threads;
	_Atomic unsigned idle;  /* workers waiting for a request */
	bool stopping;
	int error;              /* first -errno a worker ended on */
	const struct session_buffers *bufs;
};

static void *worker(void *arg);

/* The loop's state: one per process, its lock never destroyed. */
static struct loop loop_state = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void wake_noop(int sig)
{
	(void)sig;
}

/* Called with l->lock held. */
static void spawn_locked(struct loop *l)
{
	pthread_t t;
	int err;

	if (l->stopping || l->nthreads >= l->max_threads)
		return;
	err = pthread_create(&t, NULL, worker, l);
	if (err) {
		bfs_log(LOG_WARNING, "cannot start a worker thread: %s",
			strerror(err));
		return;
	}
	l->threads[l->nthreads++] = t;
}

/* Is the received request a READ or a WRITE? */
static bool is_io(const struct fuse_buf *b)
{
	const size_t at = offsetof(struct fuse_in_header, opcode);
	uint32_t opcode;

	if (b->size < at + sizeof(opcode) || (b->flags & FUSE_BUF_IS_FD))
		return false;
	memcpy(&opcode, (const char *)b->mem + at, sizeof(opcode));
	return opcode == FUSE_READ || opcode == FUSE_WRITE;
}

static void *worker(void *arg)
{
	struct loop *l = arg;
	struct fuse_buf fbuf = { .mem = NULL };
	sigset_t wake;
	void *mem = l->bufs->next(l->bufs->ctx, NULL);

	sigemptyset(&wake);
	sigaddset(&wake, WAKE_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &wake, NULL);

	while (!fuse_session_exited(l->se)) {
		int res;
		bool grow;

		atomic_fetch_add(&l->idle, 1);
		fbuf.mem = mem;
		res = fuse_session_receive_buf(l->se, &fbuf);
		/* Grow when every worker is busy and this request may block. */
		grow = atomic_fetch_sub(&l->idle, 1) == 1 && res > 0 &&
		       (!is_io(&fbuf) ||
			atomic_load_explicit(&l->nthreads, memory_order_relaxed) < SESSION_IO_WORKERS);
		if (grow) {
			pthread_mutex_lock(&l->lock);
			spawn_locked(l);
			pthread_mutex_unlock(&l->lock);
		}

		if (res == -EINTR || res == -EAGAIN)
			continue;
		if (res <= 0) {
			if (res < 0) {
				pthread_mutex_lock(&l->lock);
				if (!l->error)
					l->error = res;
				pthread_mutex_unlock(&l->lock);
			}
			break;
		}
		if (!(fbuf.flags & FUSE_BUF_IS_FD) &&
		    closing_refuses(fbuf.mem, (size_t)res)) {
			device_io_answer_error(l->se, fbuf.mem, -ENOTCONN);
			continue;
		}
		bfs_request_begin(fbuf.mem, (size_t)res);
		fuse_session_process_buf(l->se, &fbuf);
		bfs_request_end();
		/* A handler may have kept the buffer for I/O in flight. */
		mem = l->bufs->next(l->bufs->ctx, mem);
	}
	l->bufs->done(l->bufs->ctx, mem);
	fuse_session_exit(l->se);
	pthread_kill(l->main_thread, SIG_WORKER_ENDED);
	return NULL;
}

int session_loop_block_signals(void)
{
	struct sigaction sa;
	sigset_t set;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	/* No SA_RESTART: the wake-up must interrupt a blocked read. */
	sa.sa_handler = wake_noop;
	sigaction(WAKE_SIGNAL, &sa, NULL);

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIG_WORKER_ENDED);
	sigaddset(&set, WAKE_SIGNAL);
	return -pthread_sigmask(SIG_BLOCK, &set, NULL);
}

/* Interrupt every worker until it has ended, then join it. */
static void stop_workers(struct loop *l)
{
	pthread_mutex_lock(&l->lock);
	l->stopping = true;
	pthread_mutex_unlock(&l->lock);

	for (unsigned i = 0; i < l->nthreads; i++) {
		const struct timespec pause = { 0, 10 * 1000 * 1000 };

		while (pthread_tryjoin_np(l->threads[i], NULL) == EBUSY) {
			pthread_kill(l->threads[i], WAKE_SIGNAL);
			nanosleep(&pause, NULL);
		}
	}
}

/* A ring worker ended on its own (dev_fuse_ring.h): as a worker's end. */
static void ring_worker_ended(int err)
{
	struct loop *l = &loop_state;

	pthread_mutex_lock(&l->lock);
	if (err && !l->error)
		l->error = err;
	pthread_mutex_unlock(&l->lock);
	fuse_session_exit(l->se);
	pthread_kill(l->main_thread, SIG_WORKER_ENDED);
}

/*
 * Serve the first request (INIT: the kernel sends nothing else before it
 * is answered) in this thread, with a blocking read, then make /dev/fuse
 * non-blocking and start the ring workers. 0 with them started; else
 * -errno (the first request failed: the loop ends), or 1 (they could not
 * start: blocking workers serve instead).
 */
static int start_ring_workers(struct loop *l, struct dev_fuse_ring *ring)
{
	struct fuse_buf fbuf = { .mem = NULL };
	void *mem = l->bufs->next(l->bufs->ctx, NULL);
	int fd = fuse_session_fd(l->se), fl, res;

	do {
		fbuf.mem = mem;
		res = fuse_session_receive_buf(l->se, &fbuf);
	} while (res == -EINTR || res == -EAGAIN || res == -ENOENT);
	if (res > 0) {
		bfs_request_begin(fbuf.mem, (size_t)res);
		fuse_session_process_buf(l->se, &fbuf);
		bfs_request_end();
		mem = l->bufs->next(l->bufs->ctx, mem);
	}
	l->bufs->done(l->bufs->ctx, mem);
	if (res <= 0)
		return res < 0 ? res : -ENODEV;
	if (fuse_session_exited(l->se))
		return -ENODEV;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		bfs_log(LOG_WARNING, "/dev/fuse: cannot make it non-blocking (%s); "
			"using blocking workers", strerror(errno));
		return 1;
	}
	if (dev_fuse_ring_start(ring, ring_worker_ended) == 0)
		return 0;
	if (fcntl(fd, F_SETFL, fl) < 0)
		return -errno;
	return 1;
}

int session_loop_run(struct fuse_session *se, unsigned max_threads,
		     const struct session_buffers *bufs,
		     struct dev_fuse_ring *ring)
{
	struct loop *l = &loop_state;
	pthread_t *threads;
	sigset_t wait;
	int sig = 0, error;

	threads = calloc(max_threads ? max_threads : 1, sizeof(*threads));
	if (!threads)
		return -ENOMEM;
	pthread_mutex_lock(&l->lock);
	l->se = se;
	l->bufs = bufs;
	l->main_thread = pthread_self();
	l->max_threads = max_threads ? max_threads : 1;
	l->threads = threads;
	l->nthreads = 0;
	l->idle = 0;
	l->stopping = false;
	l->error = 0;
	pthread_mutex_unlock(&l->lock);
	if (ring) {
		int rc = start_ring_workers(l, ring);

		if (rc < 0) {
			pthread_mutex_lock(&l->lock);
			l->stopping = true;
			l->threads = NULL;
			pthread_mutex_unlock(&l->lock);
			free(threads);
			return rc;
		}
		if (rc > 0)
			ring = NULL;
	}
	pthread_mutex_lock(&l->lock);
	if (!ring)
		spawn_locked(l);
	if (!ring && l->nthreads == 0) {
		l->stopping = true;
		l->threads = NULL;
		pthread_mutex_unlock(&l->lock);
		free(threads);
		return -EAGAIN;
	}
	pthread_mutex_unlock(&l->lock);

	sigemptyset(&wait);
	sigaddset(&wait, SIGINT);
	sigaddset(&wait, SIGTERM);
	sigaddset(&wait, SIGHUP);
	sigaddset(&wait, SIG_WORKER_ENDED);
	sigwait(&wait, &sig);
	if (sig != SIG_WORKER_ENDED) {
		bfs_log(LOG_INFO, "%s received: finishing the requests held, then unmounting",
			strsignal(sig));
		closing_drain();
	}

	fuse_session_exit(se);
	dev_fuse_ring_stop(ring);
	stop_workers(l);
	/* stopping stays set: nothing starts a worker after this. */
	pthread_mutex_lock(&l->lock);
	l->threads = NULL;
	error = l->error;
	pthread_mutex_unlock(&l->lock);
	free(threads);
	return error;
}
