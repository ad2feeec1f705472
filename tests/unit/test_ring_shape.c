/* Unit tests: how the FUSE ring's entries are shared out over threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ring_shape.h"

static void expect_shape(unsigned queue_depth, unsigned nq, unsigned tpq,
			 unsigned per_thread)
{
	struct ring_shape s = ring_shape_for(queue_depth, nq);

	assert_int_equal(s.threads_per_queue, tpq);
	assert_int_equal(s.entries_per_thread, per_thread);
}

/* Defaults (queue_depth 64) on 1 and 2 CPUs: 32 a queue, four threads of 8. */
static void test_defaults_on_few_cpus(void **state)
{
	(void)state;
	expect_shape(64, 1, 4, 8);
	expect_shape(64, 2, 4, 8);
	expect_shape(64, 4, 2, 8);
}

/* Small depths still get two threads a queue, at least two entries each. */
static void test_small_depths(void **state)
{
	(void)state;
	expect_shape(16, 2, 2, 4);
	expect_shape(8, 2, 2, 2);
	expect_shape(1, 2, 2, 2);
	expect_shape(0, 2, 2, 2);
	expect_shape(64, 16, 2, 2);
}

/* No thread holds more than 8 entries; a queue holds at most 32. */
static void test_spread_and_queue_limit(void **state)
{
	(void)state;
	for (unsigned qd = 1; qd <= 4096; qd++)
		for (unsigned nq = 1; nq <= 32; nq++) {
			struct ring_shape s = ring_shape_for(qd, nq);

			assert_true(s.entries_per_thread <= RING_PER_THREAD_SPREAD);
			assert_true(s.entries_per_thread >= 2);
			assert_true(s.threads_per_queue >= 2);
			assert_true(s.threads_per_queue * s.entries_per_thread <=
				    (qd / nq > RING_MAX_PER_QUEUE ? RING_MAX_PER_QUEUE :
				     qd / nq < 4 ? 4 : qd / nq));
			assert_true(s.threads_per_queue * nq <= RING_MAX_THREADS);
		}
	expect_shape(4096, 1, 4, 8);
	expect_shape(100, 2, 4, 8);
	expect_shape(40, 2, 3, 6);
}

/* Many CPUs: RING_MAX_THREADS threads in all, one a queue past 32 CPUs. */
static void test_many_cpus(void **state)
{
	(void)state;
	expect_shape(4096, 16, 4, 8);
	expect_shape(4096, 32, 2, 8);
	expect_shape(4096, 33, 1, 32);
	expect_shape(64, 64, 1, 2);
	expect_shape(64, 128, 1, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_on_few_cpus),
		cmocka_unit_test(test_small_depths),
		cmocka_unit_test(test_spread_and_queue_limit),
		cmocka_unit_test(test_many_cpus),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
