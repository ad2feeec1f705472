/*
 * The io_uring engine: workers submit reads and writes of pool buffers;
 * one completion thread reaps them and calls each I/O's callback there.
 * The completion thread blocks on nothing but the ring.
 */
#ifndef BOUNCEFS_URING_ENGINE_H
#define BOUNCEFS_URING_ENGINE_H

#include <liburing.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

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

struct uring_engine {
	struct io_uring ring;
	pthread_mutex_t sq_lock;
	pthread_t thread;
	bool running;
	bool fixed;       /* buffers are registered */
	pthread_mutex_t drain_lock;
	pthread_cond_t drained;
	unsigned inflight;
};

/*
 * Set up a ring of at least entries entries, register bufs (if that fails,
 * plain reads and writes are used) and start the completion thread.
 * Returns 0 or -errno.
 */
int engine_init(struct uring_engine *e, unsigned entries,
		const struct iovec *bufs, unsigned nbufs);

/* Submit io. On failure to submit, io->done runs at once with -errno. */
void engine_submit(struct uring_engine *e, struct uring_io *io);

/* Wait for every I/O in flight, then stop the completion thread. */
void engine_stop(struct uring_engine *e);

#endif
