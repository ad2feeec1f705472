/*
 * FUSE over io_uring (Linux 6.14 and later, fuse.enable_uring=Y): the
 * kernel hands requests to ring entries instead of read(/dev/fuse), one
 * queue per possible CPU, and takes each answer with the same command that
 * fetches the next request. libfuse 3.14 does not speak it, so this module
 * does: a request is rebuilt in front of its payload, in the layout
 * read(/dev/fuse) would have produced, and goes through libfuse's own
 * dispatch; libfuse's answer comes back through the device write hook
 * (device_io.c), which hands it to ring_transport_reply.
 *
 * Each queue has two or more threads (of at most 8 entries each; one a
 * queue past 32 CPUs), each owning one io_uring:
 * the FUSE commands and the backing file's reads and writes for the
 * requests it serves, so a direct READ or WRITE is received, sent to the
 * backing file, reaped and answered without leaving that thread. A thread
 * keeps to its queue's CPU while requests come one at a time. Each
 * entry's payload buffer is a pool buffer (see dio.h): a WRITE payload
 * lands aligned and is written from there, and a READ is read into it and
 * answered from there. Requests that may block (everything but READ,
 * WRITE and the attribute reads GETATTR, GETXATTR and LISTXATTR; and of
 * those, read-modify-writes, writes whose blocks are locked and writes to
 * files that also have cached opens) go to helper threads, through the
 * request context's defer (request.h), so a queue thread never waits for
 * anything but its ring; the
 * page-cache invalidation such a write needs goes on to the invalidator
 * (invalidator.h), so no helper waits for another request either.
 *
 * Without the kernel's support everything stays on /dev/fuse.
 */
#ifndef BOUNCEFS_RING_TRANSPORT_H
#define BOUNCEFS_RING_TRANSPORT_H

#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "core/options.h"
#include <sys/types.h>

struct bfs_dio;
struct ring_transport;

/* Is the transport usable with this mode? May enable the kernel's module
 * parameter (BFS_URING_ON). Call before sizing the buffer pool. */
bool ring_transport_wanted(enum bfs_uring_mode mode);

/* Pool buffers the ring will take (0 if not wanted). */
unsigned ring_transport_buffers(unsigned queue_depth);

/* What the queues need; they start after INIT (ring_transport_start,
 * from device_io.c's hook). NULL without memory. */
struct ring_transport *ring_transport_setup(struct fuse_session *se,
					    struct bfs_dio *dio,
					    unsigned queue_depth,
					    unsigned max_helpers);

/* Called once the INIT reply is written (ctx: the ring transport):
 * register the queues. */
void ring_transport_start(void *ctx);

/* Stop: finish what the helpers hold, drain each queue's I/O, end the
 * queue threads and close their rings. */
void ring_transport_stop(struct ring_transport *rt);

/* Free it all, once nothing can answer a request any more (after
 * dio_destroy: a lane's completion thread may still be answering). */
void ring_transport_free(struct ring_transport *rt);

/* If unique names a request received on the ring (ctx: the ring
 * transport), take its answer (the iovecs libfuse would have written to
 * /dev/fuse), commit it and return true with *written set. */
bool ring_transport_reply(void *ctx, const struct iovec *iov, int count,
			  ssize_t *written);

#endif
