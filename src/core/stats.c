/* Data-path counters and latency histograms. */
#include "core/stats.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

struct bfs_stats bfs_stats;

static const char *const op_names[STATS_OPS] = STATS_OP_NAMES;

uint64_t stats_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

unsigned stats_bucket(uint64_t us)
{
	unsigned e, b;

	if (us < 8)
		return (unsigned)us;
	e = 63u - (unsigned)__builtin_clzll(us);      /* 2^e <= us */
	b = (e - 2) * 8 + (unsigned)((us >> (e - 3)) & 7);
	return b < STATS_LAT_BUCKETS ? b : STATS_LAT_BUCKETS - 1;
}

uint64_t stats_bucket_value(unsigned bucket)
{
	unsigned e, sub;

	if (bucket < 8)
		return bucket;
	e = bucket / 8 + 2;
	sub = bucket % 8;
	/* Upper bound of the bucket: values up to ((8 + sub + 1) << (e-3)) - 1. */
	return (((uint64_t)(8 + sub + 1)) << (e - 3)) - 1;
}

void stats_done(enum stats_op op, uint64_t bytes, int err, uint64_t start_us)
{
	struct stats_op_counters *c = &bfs_stats.op[op];
	uint64_t us = stats_now_us() - start_us;
	uint64_t max = atomic_load_explicit(&c->max_us, memory_order_relaxed);

	stats_add(&c->requests, 1);
	stats_add(&c->bytes, bytes);
	if (err) {
		stats_add(&c->errors, 1);
		if (err > 0 && err < STATS_ERRNO_MAX)
			stats_add(&bfs_stats.errno_count[err], 1);
	}
	stats_add(&c->lat[stats_bucket(us)], 1);
	while (us > max && !atomic_compare_exchange_weak(&c->max_us, &max, us))
		;
}

void stats_start(void)
{
	bfs_stats.started_us = stats_now_us();
	atomic_store(&bfs_stats.counted_from_us, bfs_stats.started_us);
}

void stats_reset(void)
{
	for (int op = 0; op < STATS_OPS; op++) {
		struct stats_op_counters *c = &bfs_stats.op[op];

		atomic_store(&c->requests, 0);
		atomic_store(&c->bytes, 0);
		atomic_store(&c->errors, 0);
		atomic_store(&c->max_us, 0);
		for (unsigned i = 0; i < STATS_LAT_BUCKETS; i++)
			atomic_store(&c->lat[i], 0);
	}
	/* inflight is a level, not a count: it stays, and the high-water
	 * mark starts from it. */
#define STATS_ZERO(name, what) \
	if (&bfs_stats.name != &bfs_stats.inflight) \
		atomic_store(&bfs_stats.name, 0);
	STATS_TOTALS(STATS_ZERO)
#undef STATS_ZERO
	for (int e = 0; e < STATS_ERRNO_MAX; e++)
		atomic_store(&bfs_stats.errno_count[e], 0);
	atomic_store(&bfs_stats.inflight_max, atomic_load(&bfs_stats.inflight));
	atomic_store(&bfs_stats.counted_from_us, stats_now_us());
}

void stats_inflight_inc(void)
{
	uint64_t now = atomic_fetch_add(&bfs_stats.inflight, 1) + 1;
	uint64_t max = atomic_load(&bfs_stats.inflight_max);

	while (now > max &&
	       !atomic_compare_exchange_weak(&bfs_stats.inflight_max, &max, now))
		;
}

void stats_inflight_dec(void)
{
	atomic_fetch_sub(&bfs_stats.inflight, 1);
}

/* The bucket that holds the want-th fastest request. */
static unsigned stats_bucket_max_index(const struct stats_op_counters *c,
				       uint64_t want)
{
	uint64_t seen = 0;

	for (unsigned i = 0; i < STATS_LAT_BUCKETS; i++) {
		seen += atomic_load(&c->lat[i]);
		if (seen >= want)
			return i;
	}
	return STATS_LAT_BUCKETS - 1;
}

uint64_t stats_percentile(enum stats_op op, double q)
{
	const struct stats_op_counters *c = &bfs_stats.op[op];
	uint64_t total = 0, want, v, max;

	for (unsigned i = 0; i < STATS_LAT_BUCKETS; i++)
		total += atomic_load(&c->lat[i]);
	if (total == 0)
		return 0;
	want = (uint64_t)(q * (double)total + 0.999999);
	if (want == 0)
		want = 1;
	/* A bucket stands for its upper bound: never report more than the
	 * slowest request seen. */
	v = stats_bucket_value(stats_bucket_max_index(c, want));
	max = atomic_load(&c->max_us);
	return v < max ? v : max;
}

/* The counters that are plain totals, in the order they are shown. */
static const struct {
	const char *name;
	atomic_uint_fast64_t *counter;
} totals[] = {
#define STATS_ENTRY(name, what) { #name, &bfs_stats.name },
	STATS_TOTALS(STATS_ENTRY)
#undef STATS_ENTRY
	{ "eilseq_errors", &bfs_stats.errno_count[EILSEQ] },
};

static struct stats_config config;

void stats_set_config(const struct stats_config *c)
{
	config = *c;
}

size_t stats_format(char *buf, size_t size)
{
	size_t n = 0;

#define OUT(...) do { \
		int w = n < size ? snprintf(buf + n, size - n, __VA_ARGS__) : \
				   snprintf(NULL, 0, __VA_ARGS__); \
		if (w > 0) n += (size_t)w; \
	} while (0)
	for (int op = 0; op < STATS_OPS; op++) {
		const struct stats_op_counters *c = &bfs_stats.op[op];

		OUT("%s_requests %llu\n", op_names[op],
		    (unsigned long long)atomic_load(&c->requests));
		OUT("%s_bytes %llu\n", op_names[op],
		    (unsigned long long)atomic_load(&c->bytes));
		OUT("%s_errors %llu\n", op_names[op],
		    (unsigned long long)atomic_load(&c->errors));
		OUT("%s_p50_us %llu\n", op_names[op],
		    (unsigned long long)stats_percentile(op, 0.50));
		OUT("%s_p99_us %llu\n", op_names[op],
		    (unsigned long long)stats_percentile(op, 0.99));
		OUT("%s_max_us %llu\n", op_names[op],
		    (unsigned long long)atomic_load(&c->max_us));
	}
	for (size_t i = 0; i < sizeof(totals) / sizeof(totals[0]); i++)
		OUT("%s %llu\n", totals[i].name,
		    (unsigned long long)atomic_load(totals[i].counter));
	OUT("uptime_us %llu\n",
	    (unsigned long long)(stats_now_us() - bfs_stats.started_us));
	OUT("counted_us %llu\n", (unsigned long long)(stats_now_us() -
						      atomic_load(&bfs_stats.counted_from_us)));
	OUT("version %s\n", BOUNCEFS_VERSION);
	for (int e = 1; e < STATS_ERRNO_MAX; e++) {
		uint64_t v = atomic_load(&bfs_stats.errno_count[e]);
		const char *name = strerrorname_np(e);

		if (v && name)
			OUT("errno_%s %llu\n", name, (unsigned long long)v);
	}
#define STATS_CONFIG_OUT(name) \
	OUT("config_" #name " %llu\n", (unsigned long long)config.name);
	STATS_CONFIG(STATS_CONFIG_OUT)
#undef STATS_CONFIG_OUT
#undef OUT
	return n;
}
