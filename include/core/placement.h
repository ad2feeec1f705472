/* Whether a FUSE ring queue thread keeps to its queue's CPU. */
#ifndef BOUNCEFS_PLACEMENT_H
#define BOUNCEFS_PLACEMENT_H

#include <stdbool.h>
#include <stdint.h>

/* Wake-ups between two samples of the thread's run-queue wait. */
#define PLACEMENT_SAMPLE_EVERY 64

/* One queue thread's state; all zero to start (free, nothing known). */
struct placement {
	unsigned load;     /* requests outstanding at each wait, 1/256ths */
	unsigned crowd_ns; /* run-queue wait per time it ran, last sample */
	unsigned hold;     /* samples to stay free after a crowded CPU */
	bool pinned;       /* kept to its CPU now */
};

/* The thread waited wait_ns on run queues and ran slices times since the
 * last sample (/proc/thread-self/schedstat: run-queue wait and timeslices;
 * a thread that sleeps between requests runs once a wake-up). */
void placement_note_sample(struct placement *p, uint64_t wait_ns,
			   uint64_t slices);

/* The thread goes to wait with outstanding requests unanswered: whether
 * it should be kept to its CPU from now on. */
bool placement_want_pinned(struct placement *p, unsigned outstanding);

#endif
