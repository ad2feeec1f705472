/* Whether a FUSE ring queue thread keeps to its queue's CPU. */
#include "core/placement.h"

/*
 * Alone with its queue's CPU, a request and its answer need no wake-up of
 * another CPU (which, in a virtual machine, is most of the latency of one
 * request at a time); but under load the application and the thread would
 * share that one CPU. So the thread keeps to its CPU while requests come
 * one at a time, and is free while several are outstanding (load, an
 * average of the requests outstanding when the thread goes to wait).
 *
 * How long the backing file takes does not matter: a rule that freed the
 * thread while the backing file was slow (waits of 40 us or more) cost
 * 10-40 us a request on the throttled rig and gained nothing on the disk
 * rig (docs/architecture.md, "Placement").
 *
 * Not while the CPU is crowded (crowd_ns, how long the thread waited on
 * the run queue per wake-up): several synchronous callers on one CPU
 * (io_uring's workers serving buffered reads, a program's threads kept to
 * one CPU) each wait for one request at a time, so few are outstanding,
 * but a thread kept there waits behind them while another CPU may idle.
 * Free, the wait is short again (docs/architecture.md, "Placement"), so
 * after leaving a crowded CPU the thread stays free for HOLD_SAMPLES
 * samples before it tries again.
 */
#define PIN_BELOW (256 / 2)
#define UNPIN_ABOVE (256 * 2)
#define PIN_CROWD_BELOW_NS 5000
#define UNPIN_CROWD_ABOVE_NS 10000
#define HOLD_SAMPLES 16

void placement_note_sample(struct placement *p, uint64_t wait_ns,
			   uint64_t slices)
{
	uint64_t per = slices ? wait_ns / slices : 0;

	p->crowd_ns = per > UINT32_MAX ? UINT32_MAX : (unsigned)per;
	if (p->hold)
		p->hold--;
	if (p->pinned && p->crowd_ns > UNPIN_CROWD_ABOVE_NS)
		p->hold = HOLD_SAMPLES;
}

bool placement_want_pinned(struct placement *p, unsigned outstanding)
{
	uint64_t load = ((uint64_t)p->load * 7 + (uint64_t)outstanding * 256) / 8;

	p->load = load > UINT32_MAX ? UINT32_MAX : (unsigned)load;
	if (p->pinned)
		return p->load <= UNPIN_ABOVE &&
		       p->crowd_ns <= UNPIN_CROWD_ABOVE_NS;
	return p->load < PIN_BELOW &&
	       p->crowd_ns < PIN_CROWD_BELOW_NS && p->hold == 0;
}
