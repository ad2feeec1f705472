/* Unit tests: how the FUSE ring's entries are shared out over threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/ring_shape.h"

static const struct {
	unsigned queue_depth, nq, tpq, per_thread;
} cases[] = {
	/* Defaults (queue_depth 64) on few CPUs: 32 a queue, threads of 8. */
	{ 64, 1, 4, 8 }, { 64, 2, 4, 8 }, { 64, 4, 2, 8 },
	/* Small depths: still two threads a queue, at least two entries. */
	{ 16, 2, 2, 4 }, { 8, 2, 2, 2 }, { 1, 2, 2, 2 }, { 0, 2, 2, 2 },
	{ 64, 16, 2, 2 }, { 100, 2, 4, 8 }, { 40, 2, 3, 6 }, { 4096, 1, 4, 8 },
	/* Many CPUs: 64 threads in all; one a queue past 32 CPUs, which has
	 * nobody to spread over. */
	{ 4096, 16, 4, 8 }, { 4096, 32, 2, 8 }, { 4096, 33, 1, 32 },
	{ 64, 64, 1, 2 }, { 64, 128, 1, 2 },
};

static void test_shapes(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ring_shape s = ring_shape_for(cases[i].queue_depth,
						     cases[i].nq);

		assert_int_equal(s.threads_per_queue, cases[i].tpq);
		assert_int_equal(s.entries_per_thread, cases[i].per_thread);
	}
}

/* Up to 32 CPUs: no thread holds more than 8 entries, every queue has two
 * threads or more, and a queue holds at most what it was given (32 at
 * most, 4 at least). */
static void test_spread_and_queue_limit(void **state)
{
	(void)state;
	for (unsigned qd = 0; qd <= 4096; qd++)
		for (unsigned nq = 1; nq <= 32; nq++) {
			struct ring_shape s = ring_shape_for(qd, nq);
			unsigned given = qd / nq;

			if (given > RING_MAX_PER_QUEUE)
				given = RING_MAX_PER_QUEUE;
			if (given < 4)
				given = 4;
			assert_true(s.entries_per_thread <= RING_PER_THREAD_SPREAD);
			assert_true(s.entries_per_thread >= 2);
			assert_true(s.threads_per_queue >= 2);
			assert_true(s.threads_per_queue * s.entries_per_thread <= given);
			assert_true(s.threads_per_queue * nq <= RING_MAX_THREADS);
		}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shapes),
		cmocka_unit_test(test_spread_and_queue_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
