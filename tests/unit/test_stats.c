/* Unit tests: the latency buckets bound every latency from above and grow
 * with it, percentiles never exceed the slowest request, and the counters
 * text (the user.bouncefs.stats xattr) carries every counter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/stats.h"

static void test_buckets_bound_latencies(void **state)
{
	unsigned prev = 0;

	(void)state;
	for (uint64_t us = 0; us < 5000000; us += us < 4096 ? 1 : 997) {
		unsigned b = stats_bucket(us);

		assert_true(b < STATS_LAT_BUCKETS);
		assert_true(b >= prev);
		prev = b;
		/* A bucket stands for its upper bound: at least the latency,
		 * and within an eighth of it above 8 us. */
		assert_true(stats_bucket_value(b) >= us);
		if (us >= 8)
			assert_true(stats_bucket_value(b) - us <= us / 8);
		else
			assert_int_equal(stats_bucket_value(b), us);
	}
	/* Past the last bucket, everything lands in it. */
	assert_int_equal(stats_bucket(UINT64_MAX), STATS_LAT_BUCKETS - 1);
}

static void test_done_counts_and_percentiles(void **state)
{
	uint64_t now = stats_now_us();

	(void)state;
	memset(&bfs_stats, 0, sizeof(bfs_stats));
	for (int i = 0; i < 99; i++)
		stats_done(STATS_READ, 4096, 0, now);
	stats_done(STATS_READ, 0, EIO, now);
	stats_done(STATS_WRITE, 0, EILSEQ, now);
	assert_int_equal(atomic_load(&bfs_stats.op[STATS_READ].requests), 100);
	assert_int_equal(atomic_load(&bfs_stats.op[STATS_READ].bytes), 99 * 4096);
	assert_int_equal(atomic_load(&bfs_stats.op[STATS_READ].errors), 1);
	assert_int_equal(atomic_load(&bfs_stats.errno_count[EIO]), 1);
	assert_int_equal(atomic_load(&bfs_stats.errno_count[EILSEQ]), 1);
	/* No percentile above the slowest request seen, none without any. */
	assert_true(stats_percentile(STATS_READ, 0.99) <=
		    atomic_load(&bfs_stats.op[STATS_READ].max_us));
	assert_true(stats_percentile(STATS_READ, 0.50) <=
		    stats_percentile(STATS_READ, 0.99));
	assert_int_equal(stats_percentile(STATS_FSYNC, 0.5), 0);
	/* An errno out of range is counted as an error only. */
	stats_done(STATS_FSYNC, 0, STATS_ERRNO_MAX + 5, now);
	assert_int_equal(atomic_load(&bfs_stats.op[STATS_FSYNC].errors), 1);
}

static void test_inflight_high_water(void **state)
{
	(void)state;
	memset(&bfs_stats, 0, sizeof(bfs_stats));
	stats_inflight_inc();
	stats_inflight_inc();
	stats_inflight_dec();
	stats_inflight_inc();
	stats_inflight_dec();
	assert_int_equal(atomic_load(&bfs_stats.inflight), 1);
	assert_int_equal(atomic_load(&bfs_stats.inflight_max), 2);
}

static void test_format_carries_every_counter(void **state)
{
	static const char *const totals[] = {
#define NAME(name, what) #name,
		STATS_TOTALS(NAME)
#undef NAME
		"eilseq_errors", "uptime_us", "read_requests", "write_p99_us",
		"fsync_max_us",
	};
	char buf[16384], all[16385], small[64];
	uint64_t now = stats_now_us();
	size_t n;

	(void)state;
	memset(&bfs_stats, 0, sizeof(bfs_stats));
	stats_start();
	stats_done(STATS_WRITE, 512, ENOSPC, now);
	stats_add(&bfs_stats.rmw_cycles, 3);
	n = stats_format(buf, sizeof(buf));
	assert_int_equal(n, strlen(buf));
	/* One "name value" line each: look for "\nname " in "\n" + buf. */
	all[0] = '\n';
	memcpy(all + 1, buf, n + 1);
	for (size_t i = 0; i < sizeof(totals) / sizeof(totals[0]); i++) {
		char want[64];

		snprintf(want, sizeof(want), "\n%s ", totals[i]);
		assert_non_null(strstr(all, want));
	}
	assert_non_null(strstr(all, "\nrmw_cycles 3\n"));
	assert_non_null(strstr(all, "\nerrno_ENOSPC 1\n"));
	assert_null(strstr(all, "errno_EIO"));
	/* Too small a buffer: what fits, and the length it would take (the
	 * uptime may have gained a digit meanwhile). */
	assert_true(stats_format(small, sizeof(small)) >= n);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_memory_equal(small, buf, sizeof(small) - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buckets_bound_latencies),
		cmocka_unit_test(test_done_counts_and_percentiles),
		cmocka_unit_test(test_inflight_high_water),
		cmocka_unit_test(test_format_carries_every_counter),
	};

	return cmocka_run_group_tests_name("stats", tests, NULL, NULL);
}
