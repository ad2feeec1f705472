/*
 * /dev/fuse served by workers that each drive an io_uring of their own
 * (the transport of every kernel without FUSE over io_uring, and of
 * uring=off). A worker's ring carries both an exclusive poll of
 * /dev/fuse (a request wakes one worker, which then read(2)s it) and the
 * backing I/O of the requests it serves, and one io_uring_enter submits
 * what is queued and waits for either: no hand-over to an
 * engine lane and its completion thread, which is most of what a 4 KiB
 * request cost over /dev/fuse (docs/performance.md, "/dev/fuse workers
 * driven by a ring of their own").
 *
 * A worker reaps its own I/O, so it must never wait for anything another
 * request brings about (its request context says may_block false, as a
 * FUSE ring queue thread's): it serves READ, WRITE and the attribute
 * reads itself (bfs_request_served_in_place), and hands everything else,
 * and what those defer, to helper threads, which grow while all are busy,
 * up to the daemon's max_threads. A deferred request takes its receive
 * buffer with it; the worker takes another from the pool.
 *
 * Made before the first request, with the rings disabled; started after
 * INIT, once /dev/fuse is non-blocking, by the thread that served INIT
 * (session_loop.c).
 */
#ifndef BOUNCEFS_DEV_FUSE_RING_H
#define BOUNCEFS_DEV_FUSE_RING_H

#include <fuse_lowlevel.h>

struct bfs_dio;
struct dev_fuse_ring;

/* workers threads, helpers up to max_helpers; their rings made (not yet
 * enabled) with the pool's buffers registered where the kernel allows.
 * NULL, with the reason logged, if it cannot be made: the caller serves
 * /dev/fuse with blocking workers instead. */
struct dev_fuse_ring *dev_fuse_ring_setup(struct fuse_session *se,
					  struct bfs_dio *dio,
					  unsigned workers,
					  unsigned max_helpers);

/* Start the workers on a non-blocking /dev/fuse. ended(err) is called
 * from a worker that ends on its own (the file system unmounted: err 0;
 * else the -errno it ended on). 0, or -errno with no worker started. */
int dev_fuse_ring_start(struct dev_fuse_ring *r, void (*ended)(int err));

/* Stop the workers (each finishes its request and its I/O in flight),
 * then the helpers (they finish what they hold). */
void dev_fuse_ring_stop(struct dev_fuse_ring *r);

/* After the stop (or instead of the start): before the pool goes, whose
 * buffers the rings hold registered. */
void dev_fuse_ring_free(struct dev_fuse_ring *r);

#endif
