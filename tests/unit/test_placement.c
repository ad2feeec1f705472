/* Unit tests: when a FUSE ring queue thread keeps to its queue's CPU. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/placement.h"

/* Ask as the ring does: the answer is applied (the affinity call works). */
static bool ask(struct placement *p, unsigned outstanding)
{
	p->pinned = placement_want_pinned(p, outstanding);
	return p->pinned;
}

static void test_one_at_a_time_keeps_to_the_cpu(void **state)
{
	struct placement p = { 0 };

	(void)state;
	assert_true(ask(&p, 0));
	for (int i = 0; i < 100; i++)
		assert_true(ask(&p, i % 2)); /* an average of 0.5: stays */
}

static void test_several_outstanding_free_it(void **state)
{
	struct placement p = { 0 };
	int i;

	(void)state;
	assert_true(ask(&p, 0));
	for (i = 0; i < 100 && ask(&p, 8); i++)
		;
	assert_false(p.pinned);
	assert_true(i < 10);
	/* Back to one at a time: kept again once the average has fallen. */
	for (i = 0; i < 100 && !ask(&p, 0); i++)
		;
	assert_true(p.pinned);
}

static void test_crowded_cpu_frees_it_for_a_while(void **state)
{
	struct placement p = { 0 };
	int i;

	(void)state;
	assert_true(ask(&p, 0));
	/* A short run-queue wait per wake-up: stays. */
	placement_note_sample(&p, 64 * 2000, 64);
	assert_true(ask(&p, 0));
	/* 20 us per wake-up: leaves the CPU. */
	placement_note_sample(&p, 64 * 20000, 64);
	assert_false(ask(&p, 0));
	/* Free, the waits are short, but it stays free for a while... */
	for (i = 0; i < 40; i++) {
		placement_note_sample(&p, 64 * 1000, 64);
		if (ask(&p, 0))
			break;
	}
	/* ...and then tries its CPU again. */
	assert_true(p.pinned);
	assert_true(i >= 10 && i < 40);
	/* A crowded sample while free keeps it free. */
	p = (struct placement){ 0 };
	placement_note_sample(&p, 64 * 20000, 64);
	assert_false(ask(&p, 0));
	/* No wake-ups in a sample: nothing is known, nothing crowded. */
	placement_note_sample(&p, 5000, 0);
	assert_true(ask(&p, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_at_a_time_keeps_to_the_cpu),
		cmocka_unit_test(test_several_outstanding_free_it),
		cmocka_unit_test(test_crowded_cpu_frees_it_for_a_while),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
