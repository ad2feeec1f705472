/*
 * The request loop: worker threads that receive requests from /dev/fuse
 * and process them, growing up to a maximum while all are busy, and a
 * main thread that waits for a signal or an unmount and then stops them.
 */
#ifndef BOUNCEFS_SESSION_LOOP_H
#define BOUNCEFS_SESSION_LOOP_H

#include <fuse_lowlevel.h>

/*
 * Block the signals the loop handles. Call before creating any thread,
 * so that every thread inherits the mask.
 */
int session_loop_block_signals(void);

/*
 * Where workers receive requests. next(ctx, prev) returns the memory to
 * receive the next request into (prev is the last one, NULL at first; it
 * may be returned again); done(ctx, last) gives the last one back when the
 * worker ends. The memory must hold libfuse's receive size (1 MiB + 4 KiB).
 */
struct session_buffers {
	void *ctx;
	void *(*next)(void *ctx, void *prev);
	void (*done)(void *ctx, void *last);
};

struct dev_fuse_ring;

/* The workers that receive READ and WRITE: more only add context
 * switches (docs/architecture.md, "Threads", has the measurement). */
#define SESSION_IO_WORKERS 2

/*
 * Serve requests until SIGINT, SIGTERM or SIGHUP arrives or the file
 * system is unmounted. With ring (dev_fuse_ring.h), this thread serves
 * INIT and the ring's workers everything after it, or, should they not
 * start, blocking workers (up to max_threads) as without. Returns 0 on
 * a clean stop, -errno otherwise.
 */
int session_loop_run(struct fuse_session *se, unsigned max_threads,
		     const struct session_buffers *bufs,
		     struct dev_fuse_ring *ring);

#endif
