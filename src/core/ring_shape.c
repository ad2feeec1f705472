/* How the FUSE ring's entries are shared out over queue threads. */
#include "core/ring_shape.h"

/*
 * queue_depth is shared out over the queues, 2 to 32 entries a queue. A
 * single-threaded application's requests all go to its CPU's queue, and
 * the kernel copies a request into the entry of the thread that fetched
 * it, so a queue's work must spread over threads to use more than one CPU.
 * The kernel hands a new request to the entry made available last, so a
 * thread with many free entries takes nearly every request while the
 * others idle: a thread holds at most RING_PER_THREAD_SPREAD entries, and
 * a queue has as many threads as that takes (at least two), as long as
 * that keeps to RING_MAX_THREADS in all; past that, a queue has fewer
 * threads (one at least) and holds fewer entries rather than more a
 * thread. The measurements behind the numbers are in docs/architecture.md,
 * "Queues".
 */
struct ring_shape ring_shape_for(unsigned queue_depth, unsigned nq)
{
	struct ring_shape s;
	unsigned per_queue = nq ? queue_depth / nq : 0;
	unsigned most = nq ? RING_MAX_THREADS / nq : 1;

	if (per_queue > RING_MAX_PER_QUEUE)
		per_queue = RING_MAX_PER_QUEUE;
	s.threads_per_queue = (per_queue + RING_PER_THREAD_SPREAD - 1) /
			      RING_PER_THREAD_SPREAD;
	if (s.threads_per_queue < 2)
		s.threads_per_queue = 2;
	if (s.threads_per_queue > most)
		s.threads_per_queue = most ? most : 1;
	s.entries_per_thread = per_queue / s.threads_per_queue;
	/* Where the thread budget cut the threads, the queue holds fewer
	 * entries rather than threads more; a lone thread has none to
	 * spread over. */
	if (s.threads_per_queue > 1 &&
	    s.entries_per_thread > RING_PER_THREAD_SPREAD)
		s.entries_per_thread = RING_PER_THREAD_SPREAD;
	if (s.entries_per_thread < 2)
		s.entries_per_thread = 2;
	return s;
}
