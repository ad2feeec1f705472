/* The drain of a clean stop (closing.h). */
#include "transport/closing.h"
#include "core/log.h"
#include "core/stats.h"

#include <linux/fuse.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

static _Atomic bool closing;
static _Atomic uint64_t last_arrival_us;

/* What finishes what is open is served even while closing. */
static bool finishes_open(uint32_t opcode)
{
	switch (opcode) {
	case FUSE_FLUSH:
	case FUSE_RELEASE:
	case FUSE_RELEASEDIR:
	case FUSE_FSYNC:
	case FUSE_FSYNCDIR:
	case FUSE_FORGET:
	case FUSE_BATCH_FORGET:
	case FUSE_INTERRUPT:
	case FUSE_DESTROY:
	case FUSE_NOTIFY_REPLY:
		return true;
	default:
		return false;
	}
}

bool closing_refuses(const void *in, size_t len)
{
	struct fuse_in_header h;

	if (!atomic_load_explicit(&closing, memory_order_relaxed))
		return false;
	atomic_store(&last_arrival_us, stats_now_us());
	if (len < sizeof(h))
		return false;
	memcpy(&h, in, sizeof(h));
	return !finishes_open(h.opcode);
}

void closing_drain(void)
{
	const struct timespec tick = { 0, 10 * 1000 * 1000 };
	uint64_t start = stats_now_us();

	atomic_store(&last_arrival_us, start);
	atomic_store(&closing, true);
	for (;;) {
		uint64_t now = stats_now_us();
		unsigned busy = (unsigned)atomic_load(&bfs_stats.inflight);

		if (busy == 0 &&
		    now - atomic_load(&last_arrival_us) >= CLOSING_QUIET_MS * 1000)
			return;
		if (now - start >= CLOSING_MAX_MS * 1000) {
			if (busy)
				bfs_log(LOG_WARNING, "stopping with %u I/Os still in flight after %u ms",
					busy, CLOSING_MAX_MS);
			return;
		}
		nanosleep(&tick, NULL);
	}
}
