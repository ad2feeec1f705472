/*
 * Counters of the data path, readable while mounted. Updated with relaxed
 * atomics from any thread.
 */
#ifndef BOUNCEFS_STATS_H
#define BOUNCEFS_STATS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

enum stats_op { STATS_READ, STATS_WRITE, STATS_FSYNC, STATS_OPS };

/* The operations' names in the counters, indexed by enum stats_op. */
#define STATS_OP_NAMES { "read", "write", "fsync" }

/*
 * The counters that are plain totals, listed once: X(name, what it
 * counts). The struct below, the counters xattr (stats_format) and
 * `bouncefs stat --json` all take them from here; eilseq_errors, the
 * count of errno_count[EILSEQ], follows them everywhere.
 */
#define STATS_TOTALS(X) \
	X(direct_requests, "served by the direct path") \
	X(buffered_requests, "served by the page cache") \
	X(rmw_cycles, "read-modify-write cycles") \
	X(copied_bytes, "payload bytes the daemon copied to align a direct write") \
	X(ring_moved_bytes, "read replies moved to the start of a FUSE ring entry's buffer") \
	X(ring_requests, "received over FUSE io_uring") \
	X(ring_helped, "of those, served by helpers") \
	X(passthrough_opens, "opens served by FUSE passthrough (their reads and writes never come)") \
	X(resent_requests, "requests the kernel sent again after the daemon before this one died (FUSE_NOTIFY_RESEND)") \
	X(reopened_opens, "open files and directories reopened from a dead daemon's state") \
	X(inflight, "direct I/Os in flight now (through io_uring or served synchronously)") \
	X(inflight_max, "high-water mark of inflight")

/* Errors are counted per errno below this (Linux's go up to 133). */
#define STATS_ERRNO_MAX 160

/* Latency histogram: 8 buckets per power of two of microseconds. */
#define STATS_LAT_BUCKETS 256

struct stats_op_counters {
	atomic_uint_fast64_t requests;
	atomic_uint_fast64_t bytes;
	atomic_uint_fast64_t errors;
	atomic_uint_fast64_t max_us;
	atomic_uint_fast64_t lat[STATS_LAT_BUCKETS];
};

struct bfs_stats {
	struct stats_op_counters op[STATS_OPS];
#define STATS_FIELD(name, what) atomic_uint_fast64_t name;
	STATS_TOTALS(STATS_FIELD)
#undef STATS_FIELD
	atomic_uint_fast64_t errno_count[STATS_ERRNO_MAX]; /* failed requests by errno */
	uint64_t started_us;                    /* when the mount started */
	_Atomic uint64_t counted_from_us;       /* the mount's start, or the last reset */
};

extern struct bfs_stats bfs_stats;

/* The mount root's virtual xattr that carries the counters. */
#define BFS_STATS_XATTR "user.bouncefs.stats"

/* Monotonic microseconds. */
uint64_t stats_now_us(void);

/* Count one finished request of op: its bytes, its errno (positive; 0 if
 * none) and its start time. */
void stats_done(enum stats_op op, uint64_t bytes, int err, uint64_t start_us);

static inline void stats_add(atomic_uint_fast64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

void stats_inflight_inc(void);
void stats_inflight_dec(void);

/* Bucket of a latency, and the latency a bucket stands for (its upper
 * bound). Exposed for the tests. */
unsigned stats_bucket(uint64_t us);
uint64_t stats_bucket_value(unsigned bucket);

/* The latency below which fraction q of op's requests finished. */
uint64_t stats_percentile(enum stats_op op, double q);

/* Note the start of the mount (for the uptime in the counters). */
void stats_start(void);

/* Start counting again from zero (bouncefs stat --reset): every counter
 * but inflight, which is a level; the high-water mark starts from it.
 * counted_us in the counters says since when. */
void stats_reset(void);

/* The mount root's virtual xattrs: the files' figures (file_stats.h),
 * and the one a reset is asked through (set it, to any value). */
#define BFS_FILES_XATTR "user.bouncefs.files"
#define BFS_RESET_XATTR "user.bouncefs.reset"

/*
 * The running mount's configuration, shown with the counters as
 * config_<name> lines, so that bouncefs stat and a remount can read it.
 * The modes are the numbers of enum bfs_uring_mode and bfs_seccomp_mode;
 * passthrough is the option (0 off, 1 on); restart is the holder in
 * effect (enum bfs_restart_mode: off when the mount cannot restart).
 */
#define STATS_CONFIG(X) \
	X(queue_depth) \
	X(max_write) \
	X(max_threads) \
	X(uring_mode) \
	X(seccomp_mode) \
	X(passthrough) \
	X(staging_align) \
	X(attr_timeout_ms) \
	X(entry_timeout_ms) \
	X(restart)

struct stats_config {
#define STATS_CONFIG_FIELD(name) uint64_t name;
	STATS_CONFIG(STATS_CONFIG_FIELD)
#undef STATS_CONFIG_FIELD
};

/* Set once, before the threads start. */
void stats_set_config(const struct stats_config *config);

/* Render every counter as "name value" lines: per operation, the totals,
 * uptime_us, errno_<NAME> for each errno seen, and the config_ lines.
 * Returns the length. */
size_t stats_format(char *buf, size_t size);

#endif
