/* How the FUSE ring's entries are shared out over queue threads. */
#ifndef BOUNCEFS_RING_SHAPE_H
#define BOUNCEFS_RING_SHAPE_H

#define RING_MAX_PER_QUEUE 32   /* entries a queue, at most */
/* Queue threads in all while each queue keeps two or more; past 32 CPUs
 * a queue has one, so N > 64 CPUs have N. */
#define RING_MAX_THREADS 64
#define RING_PER_THREAD_SPREAD 8 /* entries a queue thread holds, at most */

struct ring_shape {
	unsigned threads_per_queue;
	unsigned entries_per_thread;
};

/* The shape for queue_depth entries over nq queues (one per possible CPU). */
struct ring_shape ring_shape_for(unsigned queue_depth, unsigned nq);

#endif
