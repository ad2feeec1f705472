/*
 * The request context: what a thread knows about itself and about the
 * request it serves. The transport that received the request (the
 * /dev/fuse loop, FUSE over io_uring, see src/transport/) fills it in; the
 * direct-I/O path and the operations only read it, except that the
 * direct-I/O path marks the receive buffer taken when an I/O keeps it.
 *
 * One per thread (bfs_request_self). libfuse 3.14 dispatches a request
 * to an operation with nothing but its fuse_req_t, which has no room for
 * our own state, so this is where an operation finds it: the one
 * thread-local of the data path.
 */
#ifndef BOUNCEFS_REQUEST_H
#define BOUNCEFS_REQUEST_H

#include <liburing.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* No receive buffer / no lane picked yet. */
#define REQUEST_NO_BUFFER UINT32_MAX
#define REQUEST_NO_LANE UINT32_MAX

/* The most a deferred function's argument may hold. */
#define REQUEST_DEFER_MAX 128

struct bfs_request;

/* What the transport that received the request does for it. */
struct request_transport {
	/* Run fn(arg) in a thread that may block, instead of this one (arg,
	 * at most REQUEST_DEFER_MAX bytes, is copied). The request's buffer
	 * stays as it is until the answer. 0, or the -errno to answer with. */
	int (*defer)(struct bfs_request *r, void (*fn)(void *arg),
		     const void *arg, size_t len);
	/* Is the request the only one its thread has now? */
	bool (*alone)(const struct bfs_request *r);
};

struct bfs_request {
	/* The thread's, kept from request to request. */
	const struct request_transport *transport; /* NULL: defer nothing */
	void *thread_state;      /* the transport's, for its hooks */
	struct io_uring *own_ring; /* a ring this thread owns and reaps (a
				      ring transport's queue thread), or NULL */
	bool own_fixed;          /* the pool's buffers are registered there */
	unsigned *own_inflight;  /* its backing I/Os in flight */
	uint32_t lane;           /* engine lane it submits on otherwise */

	/* The request served now. */
	const void *in;          /* from its fuse_in_header on, or NULL */
	size_t in_len;
	void *entry;             /* the transport's handle of it, or NULL */
	uint32_t buf_idx;        /* pool buffer it was received into */
	bool buf_taken;          /* an I/O in flight keeps that buffer */
	bool may_block;          /* false: the thread must not wait for
				    anything another request brings about */
};

/* The calling thread's context (never NULL). A new thread's says: no
 * transport, no buffer, no lane, may block. */
struct bfs_request *bfs_request_self(void);

/* The thread starts serving a request received at in (len bytes, from
 * its fuse_in_header on), and is done with it (in NULL). */
void bfs_request_begin(const void *in, size_t len);
void bfs_request_end(void);

/* The first argument (fuse_open_in, fuse_write_in...) of the request the
 * calling thread serves, if it is an opcode request of at least size
 * bytes there; else NULL (for what libfuse 3.14 does not pass on). */
const void *bfs_request_arg(uint32_t opcode, size_t size);

/* The transport's hooks, or what a thread without one does: defer fails
 * with -EINVAL, a request is always alone. */
int bfs_request_defer(void (*fn)(void *arg), const void *arg, size_t len);
bool bfs_request_alone(void);

/*
 * Is opcode one that a thread which must not block (a queue thread that
 * owns a ring: the FUSE ring transport's, the /dev/fuse ring workers')
 * serves itself rather than through a helper? READ and WRITE, whose
 * handlers hand what may wait to a helper themselves, and the attribute
 * reads, one quick system call on the backing inode that waits for no
 * request. The kernel asks for attributes (GETATTR) at every stat, and
 * without FUSE_HANDLE_KILLPRIV_V2 (device_io.c) for security.capability
 * (GETXATTR) before every cached write: through a helper, each was a
 * hand-over to another thread and back.
 */
bool bfs_request_served_in_place(uint32_t opcode);

#endif
