/*
 * The io_uring engine: workers submit reads and writes of pool buffers.
 * It has a few lanes, each a ring with its own completion thread, which
 * reaps that ring's I/Os and calls each I/O's callback there. A ring's
 * submissions are serialised (by us and by the kernel), so workers spread
 * over the lanes; two completion threads also copy large read replies in
 * parallel. A completion thread waits for nothing but its ring: what its
 * callbacks call takes only leaf locks held for a moment (docs/
 * architecture.md, "Threads").
 */
#ifndef BOUNCEFS_URING_ENGINE_H
#define BOUNCEFS_URING_ENGINE_H

#include <liburing.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#define ENGINE_MAX_LANES 4

struct uring_io;
typedef void (*uring_done_fn)(struct uring_io *io, int res);

/* One I/O; lives as long as it is in flight (the caller owns it). */
struct uring_io {
	uring_done_fn done;
	int fd;
	bool write;
	void *addr;
	unsigned len;
	uint64_t off;
	int buf_index;    /* registered buffer, or -1 */
	int rw_flags;     /* RWF_DSYNC, RWF_SYNC */
};

struct uring_engine;

struct uring_lane {
	struct io_uring ring;
	pthread_mutex_t sq_lock;
	pthread_t thread;
	struct uring_engine *engine;
	unsigned index;
	bool fixed;       /* buffers are registered with this ring */
	bool started;
};

struct uring_engine {
	struct uring_lane lanes[ENGINE_MAX_LANES];
	unsigned nlanes;
	_Atomic unsigned next_lane;  /* round robin for new threads */
	bool running;
	pthread_mutex_t drain_lock;  /* only for engine_stop's wait */
	pthread_cond_t drained;
	_Atomic bool draining;
	_Atomic unsigned inflight;   /* over all lanes */
};

/*
 * Set up lanes rings of at least entries entries each, register bufs with
 * each (if that fails, plain reads and writes are used) and start their
 * completion threads. Returns 0 or -errno.
 */
int engine_init(struct uring_engine *e, unsigned lanes, unsigned entries,
		const struct iovec *bufs, unsigned nbufs);

/* A free SQE of ring, submitting what is queued there if it is full
 * (NULL if there is still none). */
struct io_uring_sqe *engine_get_sqe(struct io_uring *ring);

/* Submit io on the calling thread's lane (a completion thread's is its
 * own). On failure to submit, io->done runs at once with -errno. */
void engine_submit(struct uring_engine *e, struct uring_io *io);

/* io_uring_queue_init_params with p->flags, dropping what this kernel
 * lacks (uring_setup_fallback) but must: 0 with the ring made (p as the
 * kernel filled it; what was dropped is noted as lacking), or -errno. */
int uring_setup(unsigned entries, struct io_uring *ring,
		struct io_uring_params *p, unsigned must);

/*
 * The calling thread owns ring (NULL: no longer): its submissions go there
 * without a lock or a system call, counted in *inflight, and the thread's
 * own loop submits them, reaps them and calls engine_complete for each.
 * Buffers are registered with it if fixed. (Kept in the thread's request
 * context, request.h, as is the lane it submits on otherwise.)
 */
void engine_own_ring(struct io_uring *ring, bool fixed, unsigned *inflight);
void engine_complete(struct uring_engine *e, struct uring_io *io, int res);

/* On an owned ring, a completion's user_data is an I/O's address (a
 * struct uring_io, aligned) unless one of these low bits is set: the
 * owner's own commands (a FUSE command, a poll of /dev/fuse...). */
#define ENGINE_OWNER_TAGS 7ull
static inline bool engine_is_io(uint64_t user_data)
{
	return user_data && !(user_data & ENGINE_OWNER_TAGS);
}

/* Linux 6.15: a wait in io_uring_enter that is not counted as I/O wait
 * (liburing 2.3 knows neither). */
#define ENGINE_FEAT_NO_IOWAIT (1U << 17)

/*
 * The owner of ring submits what is queued there and waits for at least
 * one completion, in one system call; no_iowait (the ring's features have
 * ENGINE_FEAT_NO_IOWAIT) keeps the wait out of I/O wait. As
 * io_uring_submit_and_wait: the count submitted, or -errno.
 */
int engine_wait_own(struct io_uring *ring, bool no_iowait);

/*
 * After a fatal error of the owner's io_uring_enter: the engine I/Os still
 * in flight on ring (*inflight) are reaped for up to a second, so that
 * they are answered and their locks and buffers released, and
 * engine_stop does not wait for a thread that has gone. Completions of
 * the owner's own commands are dropped.
 */
void engine_drain_own(struct uring_engine *e, struct io_uring *ring,
		      unsigned *inflight);

/* Wait for every I/O in flight, then stop the completion threads. */
void engine_stop(struct uring_engine *e);

#endif
