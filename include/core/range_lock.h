/*
 * A per-inode byte-range lock for writers. Exclusive ranges, granted in
 * arrival order: a request never overtakes an earlier one it overlaps, so
 * no writer starves. Non-overlapping ranges proceed in parallel. The lock
 * may be released by another thread than the one that took it (the
 * completion thread releases what a worker took).
 */
#ifndef BOUNCEFS_RANGE_LOCK_H
#define BOUNCEFS_RANGE_LOCK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define RANGE_LOCK_EOF UINT64_MAX

struct range_lock_entry {
	uint64_t start, end;   /* [start, end) */
	bool granted;
	pthread_cond_t cond;
	struct range_lock_entry *prev, *next;
};

struct range_lock {
	pthread_mutex_t mutex;  /* guards head, tail and every entry's links
				 * and granted; held only inside these calls */
	struct range_lock_entry *head, *tail; /* holders and waiters, in order */
};

void range_lock_init(struct range_lock *rl);
void range_lock_destroy(struct range_lock *rl);

/* Wait for [start, end) and hold it. e is the caller's until released. */
void range_lock_acquire(struct range_lock *rl, struct range_lock_entry *e,
			uint64_t start, uint64_t end);

/* Take [start, end) only if that needs no wait. Returns true if held. */
bool range_lock_try(struct range_lock *rl, struct range_lock_entry *e,
		    uint64_t start, uint64_t end);

void range_lock_release(struct range_lock *rl, struct range_lock_entry *e);

#endif
