/*
 * The direct-I/O data path. Requests are received straight into buffers of
 * a fixed pool, so an aligned WRITE payload already sits aligned and goes
 * to the backing file (opened O_DIRECT) from where it landed, through
 * io_uring. Reads go to the same buffers and are answered from there by
 * the completion thread. Unaligned writes are read-modify-write under the
 * inode's range lock, in the worker.
 *
 * Buffer layout (H = header room, a multiple of the largest alignment):
 *   [0, H)         the I/O's context; the FUSE headers end at H
 *   [H, ...)       payload / aligned image (RMW images start at H - A)
 *   [size - H, size) scratch block for read-modify-write
 */
#ifndef BOUNCEFS_DIO_H
#define BOUNCEFS_DIO_H

#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/buffer_pool.h"
#include "dio/open_file.h"
#include "dio/uring_engine.h"

struct bfs_dio {
	struct buffer_pool pool;
	struct uring_engine engine;
	size_t header_room;   /* H */
	bool running;
	struct invalidator *inval; /* for page-cache invalidations (or NULL) */
	bool *kept;           /* per buffer: a FUSE ring entry's for good */
	_Atomic unsigned sync_busy; /* requests served synchronously now */
};

/* A write to serve, as deferred to a thread that may block (request.h). */
struct dio_write_args {
	struct bfs_dio *dio;
	fuse_req_t req;
	struct bfs_file *f;
	const char *buf;
	size_t size;
	off_t off;
	int flags;            /* the open's O_DSYNC, O_SYNC */
	bool writeback;       /* the kernel writes back its cached pages */
};

/* The most a single request carries (libfuse 3.14's limit). */
#define DIO_MAX_REQUEST (1u << 20)

/* Pool of max(queue_depth, ring_buffers) + max_threads buffers and the
 * engine's rings. 0 or -errno. */
int dio_init(struct bfs_dio *d, unsigned queue_depth, unsigned max_threads,
	     uint32_t min_align, unsigned ring_buffers);

/* What dio_init would take: *count buffers of *each bytes; returns the
 * total. */
size_t dio_pool_bytes(unsigned queue_depth, unsigned max_threads,
		      uint32_t min_align, unsigned ring_buffers,
		      unsigned *count, size_t *each);

/* Wait for all I/O in flight, stop the completion thread, free all. */
void dio_destroy(struct bfs_dio *d);

/* Receive buffers for the worker loop (see session_loop.h): the
 * calling thread's request context (request.h) says which it holds. */
void *dio_recv_next(void *ctx, void *prev);
void dio_recv_done(void *ctx, void *mem);

/* Where a request is received into pool buffer idx (its FUSE headers end
 * at H), and how much may be received there. */
void *dio_recv_at(struct bfs_dio *d, unsigned idx);
size_t dio_recv_len(const struct bfs_dio *d);

/* Pool buffer idx belongs to a ring entry for good (never given back to
 * the pool when an I/O ends). */
void dio_keep_buffer(struct bfs_dio *d, unsigned idx);

/* Where the answer to the request this thread serves may be put, so that
 * it goes out from there without a copy (the part of its receive buffer
 * after the request: a ring entry's payload), and *len, how much fits;
 * NULL if this thread serves no request from the pool. */
char *dio_recv_space(struct bfs_dio *d, size_t *len);

/* The largest alignment the pool's layout serves. */
uint32_t dio_max_align(const struct bfs_dio *d);

/* Serve a read or write whose file has an O_DIRECT backing fd. flags are
 * the request's open flags (O_DSYNC, O_SYNC). writeback: the kernel is
 * writing back its own cached pages (the request's pages are held until
 * we answer, so they must not be invalidated meanwhile). */
void dio_read(struct bfs_dio *d, fuse_req_t req, struct bfs_file *f,
	      size_t size, off_t off);
void dio_write(struct bfs_dio *d, fuse_req_t req, struct bfs_file *f,
	       const char *buf, size_t size, off_t off, int flags,
	       bool writeback);

/* Serve a read of a file without direct I/O from the backing page cache
 * (f->fd) into the request's receive buffer, which must hold size bytes
 * (dio_recv_space): here when nothing else is in flight, else through the
 * ring, so that a page-cache miss waits there and not in this thread. */
void dio_read_cached(struct bfs_dio *d, fuse_req_t req, struct bfs_file *f,
		     size_t size, off_t off);

/*
 * The one answer to a write: n bytes of it reached the file at
 * [off, off + reached) (n may be less than reached: an image's padding),
 * or, if none did, the -errno err. A direct write to a file with cached
 * opens drops their pages first, through the invalidator, so that this
 * thread never waits for a page (reached 0: nothing to drop). Call with
 * no range lock held (a cached writer holding those pages may be waiting
 * for one). d may be NULL for a write that never needs that.
 */
void dio_answer_write(struct bfs_dio *d, fuse_req_t req, struct bfs_file *f,
		      uint64_t off, size_t reached, size_t n, int err,
		      bool writeback);

#endif
