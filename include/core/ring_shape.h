/* How the FUSE ring's entries are shared out over queue threads. */
#ifndef BOUNCEFS_RING_SHAPE_H
#define BOUNCEFS_RING_SHAPE_H

#define RING_MAX_PER_QUEUE 32   /* entries a queue, at most */
#define RING_MAX_THREADS 64     /* queue threads in all, up to 64 CPUs (then one a queue) */
#define RING_PER_THREAD_SPREAD 8 /* entries a queue thread holds, at most */

struct ring_shape {
	unsigned threads_per_queue;
	unsigned entries_per_thread;
};

/* The shape for queue_depth entries over nq queues (one per possible CPU). */
struct ring_shape ring_shape_for(unsigned queue_depth, unsigned nq);

#endif
