/*
 * Page-cache invalidations for direct writes, on a thread of their own.
 *
 * A direct write to a file that also has cached opens must drop the
 * mount's cached pages of its range before it is answered, as on a local
 * file system. The kernel's invalidation waits for each page's lock, and a
 * cached WRITE keeps its last, partly written page locked until it is
 * answered; that WRITE may still be queued, in the kernel or ours, behind
 * the very request that waits. Had the thread that served the direct
 * write waited, a bounded pool of them could all be waiting so (one
 * worker did, with max_threads=1), and the mount hung for every user.
 * So the worker hands the invalidation and the answer here and goes back
 * to serving requests: only this thread ever waits for a page, and what
 * it waits for is served by the others.
 */
#ifndef BOUNCEFS_INVALIDATOR_H
#define BOUNCEFS_INVALIDATOR_H

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct invalidation;

struct invalidator {
	pthread_mutex_t lock;      /* guards the fields up to stopping; a leaf */
	pthread_cond_t cond;
	struct invalidation *head, *tail;
	bool busy;                 /* the thread is inside an invalidation */
	bool stopping;
	bool running;              /* set by start, before any request */
	pthread_t thread;
	struct fuse_session *se;
	dev_t mount_dev;           /* the mount's st_dev, to abort it (or 0) */
};

/* Start the thread. 0 or -errno. */
int invalidator_start(struct invalidator *v, struct fuse_session *se,
		      dev_t mount_dev);

/* Drop the mount's cached pages of [off, off + len) of ino, then answer
 * req with fuse_reply_write(req, written). Returns at once. Without
 * memory for the item, it is done here; without an invalidator (v NULL or
 * not started), and once it has stopped, the answer goes without the
 * invalidation (there is no mount, or it and its cache are going). */
void invalidator_write_done(struct invalidator *v, fuse_req_t req,
			    fuse_ino_t ino, uint64_t off, uint64_t len,
			    size_t written);

/* Do what is queued, then end the thread. If an invalidation is still
 * waiting for a page after 2 s (the cached write that holds it will not
 * be served: the workers have stopped), the mount's FUSE connection is
 * aborted, which ends that write and the wait: shutdown stays bounded. */
void invalidator_stop(struct invalidator *v);

#endif
