/*
 * FUSE over io_uring (Linux 6.14 and later, fuse.enable_uring=Y): the
 * kernel hands requests to ring entries instead of read(/dev/fuse), one
 * queue per possible CPU, and takes each answer with the same command that
 * fetches the next request. libfuse 3.14 does not speak it, so this module
 * does: a request is rebuilt in front of its payload, in the layout
 * read(/dev/fuse) would have produced, and goes through libfuse's own
 * dispatch; libfuse's answer comes back through the device write hook
 * (fuse_io.c), which hands it to fuse_ring_reply.
 *
 * Each queue has two or more threads (of at most 8 entries each; one a
 * queue past 32 CPUs), each owning one io_uring:
 * the FUSE commands and the backing file's reads and writes for the
 * requests it serves, so a direct READ or WRITE is received, sent to the
 * backing file, reaped and answered without leaving that thread. A thread
 * keeps to its queue's CPU while requests come one at a time. Each
 * entry's payload buffer is a pool buffer (see dio.h): a WRITE payload
 * lands aligned and is written from there, and a READ is read into it and
 * answered from there. Requests that may block (everything but READ and
 * WRITE, and writes to files that also have cached opens) go to helper
 * threads, so a queue thread never waits for anything but its ring; the
 * page-cache invalidation such a write needs goes on to the invalidator
 * (invalidator.h), so no helper waits for another request either.
 *
 * Without the kernel's support everything stays on /dev/fuse.
 */
#ifndef BOUNCEFS_FUSE_RING_H
#define BOUNCEFS_FUSE_RING_H

#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "options.h"

struct bfs_dio;

/* Is the transport usable with this mode? May enable the kernel's module
 * parameter (BFS_URING_ON). Call before sizing the buffer pool. */
bool fuse_ring_wanted(enum bfs_uring_mode mode);

/* Pool buffers the ring will take (0 if not wanted). */
unsigned fuse_ring_buffers(unsigned queue_depth);

/* Remember what the queues need; they start after INIT (fuse_io.c). */
void fuse_ring_setup(struct fuse_session *se, struct bfs_dio *dio,
		     unsigned queue_depth, unsigned max_helpers);

/* Called once the INIT reply is written: register the queues. */
void fuse_ring_start(void);

/* Stop: finish what the helpers hold, drain each queue's I/O, end the
 * queue threads and close their rings. */
void fuse_ring_stop(void);

/* Free what is left, once nothing can answer a request any more (after
 * dio_destroy: a lane's completion thread may still be answering). */
void fuse_ring_free(void);

/* If unique names a request received on the ring, take its answer (the
 * iovecs libfuse would have written to /dev/fuse), commit it and return
 * true with *written set. */
bool fuse_ring_reply(const struct iovec *iov, int count, ssize_t *written);

/* Is this thread a queue thread serving a request itself? Such a thread
 * must not wait for anything another request brings about. */
bool fuse_ring_inline(void);

/* Is the request this thread serves the only one its queue has now? (A
 * queue thread may then serve it synchronously, without a round trip
 * through its ring; true outside queue threads.) */
bool fuse_ring_alone(void);

/* A queue thread waited us for the backing file, serving a request
 * synchronously: where it runs depends on it (nothing outside queue
 * threads). */
void fuse_ring_note_wait(uint64_t us);

#define FUSE_RING_DEFER_MAX 128

/* From a queue thread serving a request: run fn(arg) in a helper thread
 * instead (arg, at most FUSE_RING_DEFER_MAX bytes, is copied). The request's buffer stays
 * as it is until the answer. 0, or the errno the caller answers with:
 * ENOTCONN once the daemon is stopping, EAGAIN if no helper thread could be
 * started. */
int fuse_ring_defer(void (*fn)(void *arg), const void *arg, size_t len);

#endif
