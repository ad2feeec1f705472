/* Page-cache invalidations and the answers that follow them, on one
 * thread (see invalidator.h). */
#include "dio/invalidator.h"
#include "core/fusectl.h"
#include "core/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct invalidation {
	struct invalidation *next;
	fuse_req_t req;
	fuse_ino_t ino;
	uint64_t off, len;
	size_t written;
};

static void invalidate(struct fuse_session *se, const struct invalidation *w)
{
	fuse_lowlevel_notify_inval_inode(se, w->ino, (off_t)w->off,
					 (off_t)w->len);
}

static void *invalidator_main(void *arg)
{
	struct invalidator *v = arg;

	pthread_mutex_lock(&v->lock);
	for (;;) {
		struct invalidation *w;

		while (!v->head && !v->stopping)
			pthread_cond_wait(&v->cond, &v->lock);
		w = v->head;
		if (!w)
			break;
		v->head = w->next;
		if (!v->head)
			v->tail = NULL;
		v->busy = true;
		pthread_mutex_unlock(&v->lock);
		invalidate(v->se, w);
		fuse_reply_write(w->req, w->written);
		free(w);
		pthread_mutex_lock(&v->lock);
		v->busy = false;
		pthread_cond_broadcast(&v->cond);
	}
	pthread_mutex_unlock(&v->lock);
	return NULL;
}

int invalidator_start(struct invalidator *v, struct fuse_session *se,
		      dev_t mount_dev)
{
	int rc;

	memset(v, 0, sizeof(*v));
	v->se = se;
	v->mount_dev = mount_dev;
	pthread_mutex_init(&v->lock, NULL);
	pthread_cond_init(&v->cond, NULL);
	rc = pthread_create(&v->thread, NULL, invalidator_main, v);
	if (rc) {
		pthread_cond_destroy(&v->cond);
		pthread_mutex_destroy(&v->lock);
		return -rc;
	}
	v->running = true;
	return 0;
}

void invalidator_write_done(struct invalidator *v, fuse_req_t req,
			    fuse_ino_t ino, uint64_t off, uint64_t len,
			    size_t written)
{
	struct invalidation *w;
	bool queued = false;

	if (!v || !v->running) {
		fuse_reply_write(req, written);
		return;
	}
	w = malloc(sizeof(*w));
	if (!w) {
		/* No memory for the item: done here, as before there was a
		 * thread for it. */
		struct invalidation here = { .ino = ino, .off = off, .len = len };

		invalidate(v->se, &here);
		fuse_reply_write(req, written);
		return;
	}
	*w = (struct invalidation){ .req = req, .ino = ino, .off = off,
				    .len = len, .written = written };
	pthread_mutex_lock(&v->lock);
	if (!v->stopping) {
		if (v->tail)
			v->tail->next = w;
		else
			v->head = w;
		v->tail = w;
		pthread_cond_signal(&v->cond);
		queued = true;
	}
	pthread_mutex_unlock(&v->lock);
	if (!queued) {
		free(w);
		fuse_reply_write(req, written);
	}
}

/* Abort the mount's FUSE connection (fusectl names it by the kernel's
 * encoding of the device number). */
static void abort_mount(dev_t dev)
{
	int rc = fusectl_abort(dev);

	if (rc)
		bfs_log(LOG_ERR, "cannot abort the mount's FUSE connection: %s",
			strerror(-rc));
}

void invalidator_stop(struct invalidator *v)
{
	struct timespec until;
	bool stuck = false;

	if (!v->running || v->stopping)
		return;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 2;
	pthread_mutex_lock(&v->lock);
	v->stopping = true;
	pthread_cond_broadcast(&v->cond);
	while ((v->busy || v->head) && !stuck)
		stuck = pthread_cond_timedwait(&v->cond, &v->lock, &until) ==
			ETIMEDOUT;
	pthread_mutex_unlock(&v->lock);
	if (stuck && v->mount_dev) {
		bfs_log(LOG_WARNING, "a page-cache invalidation still waits "
			"after 2 s; aborting the connection");
		abort_mount(v->mount_dev);
	}
	pthread_join(v->thread, NULL);
	/* The lock stays: a FUSE ring helper may still answer a write
	 * through invalidator_write_done while the ring stops. */
}
