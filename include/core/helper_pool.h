/*
 * Helper threads for work that may wait: a FIFO of work items, served by
 * threads that are started as the work comes (one more whenever none is
 * idle, so a helper that waits for another request's work never waits in
 * vain while the limit allows), up to a maximum.
 */
#ifndef BOUNCEFS_HELPER_POOL_H
#define BOUNCEFS_HELPER_POOL_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>

struct helper_work {
	void (*run)(struct helper_work *w);
	struct helper_work *next;
};

struct helper_pool {
	pthread_mutex_t lock;   /* guards everything below; a leaf, dropped
				 * while a helper runs its work */
	pthread_cond_t cond;
	struct helper_work *head, *tail;
	unsigned idle, count, max;
	bool stopped;
	pthread_t *threads;
};

/* Up to max threads (at least 1); none runs yet. 0 or -ENOMEM. */
int helper_pool_init(struct helper_pool *p, unsigned max);

/* Queue w: 0, -ESHUTDOWN once the pool has stopped, -EAGAIN if no thread
 * could be started and none runs yet (w is then not run). */
int helper_pool_push(struct helper_pool *p, struct helper_work *w);

/* The signal that interrupts a daemon thread blocked in a system call
 * (helpers, /dev/fuse workers): session_loop.c handles it without
 * SA_RESTART, and every such thread unblocks it. */
#define WAKE_SIGNAL SIGUSR2

/* Run what is queued, then end the threads; a thread still busy after
 * 100 ms is interrupted with WAKE_SIGNAL every 10 ms until it ends. */
void helper_pool_stop(struct helper_pool *p);

void helper_pool_destroy(struct helper_pool *p);

#endif
