/* Unit tests: the range lock's overlap rules, order and wake-ups. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/range_lock.h"

static void test_overlap_rules(void **state)
{
	struct range_lock rl;
	struct range_lock_entry a, b, c, d;

	(void)state;
	range_lock_init(&rl);
	range_lock_acquire(&rl, &a, 0, 4096);
	/* Adjacent ranges do not overlap. */
	assert_true(range_lock_try(&rl, &b, 4096, 8192));
	assert_false(range_lock_try(&rl, &c, 4095, 4097));
	assert_false(range_lock_try(&rl, &c, 0, RANGE_LOCK_EOF));
	assert_true(range_lock_try(&rl, &c, 8192, RANGE_LOCK_EOF));
	assert_false(range_lock_try(&rl, &d, 1 << 30, (1 << 30) + 1));
	range_lock_release(&rl, &c);
	assert_true(range_lock_try(&rl, &d, 1 << 30, (1 << 30) + 1));
	range_lock_release(&rl, &a);
	range_lock_release(&rl, &b);
	range_lock_release(&rl, &d);
	assert_null(rl.head);
	assert_null(rl.tail);
	range_lock_destroy(&rl);
}

struct waiter {
	struct range_lock *rl;
	struct range_lock_entry e;
	uint64_t start, end;
	atomic_int *order;
	int got;
	pthread_t t;
};

static void *wait_for(void *p)
{
	struct waiter *w = p;

	range_lock_acquire(w->rl, &w->e, w->start, w->end);
	w->got = atomic_fetch_add(w->order, 1);
	return NULL;
}

static void settle(void)
{
	const struct timespec ts = { 0, 50 * 1000 * 1000 };

	nanosleep(&ts, NULL);
}

/* A waiter is woken when the range it waits for is released, and later
 * overlapping requests queue behind it instead of overtaking. */
static void test_fifo_and_wakeups(void **state)
{
	struct range_lock rl;
	struct range_lock_entry holder, late;
	struct waiter w = { 0 };
	atomic_int order = 0;

	(void)state;
	range_lock_init(&rl);
	range_lock_acquire(&rl, &holder, 0, 8192);
	w.rl = &rl;
	w.start = 4096;
	w.end = 12288;
	w.order = &order;
	assert_int_equal(pthread_create(&w.t, NULL, wait_for, &w), 0);
	settle();
	assert_int_equal(atomic_load(&order), 0);
	/* [8192, 12288) is free of the holder but the waiter came first. */
	assert_false(range_lock_try(&rl, &late, 8192, 12288));
	range_lock_release(&rl, &holder);
	assert_int_equal(pthread_join(w.t, NULL), 0);
	assert_int_equal(w.got, 0);
	range_lock_release(&rl, &w.e);
	assert_true(range_lock_try(&rl, &late, 8192, 12288));
	range_lock_release(&rl, &late);
	range_lock_destroy(&rl);
}

/* Released from another thread than the taker, as the completion thread
 * does. */
static void test_release_elsewhere(void **state)
{
	struct range_lock rl;
	struct waiter w[3];
	atomic_int order = 0;

	(void)state;
	range_lock_init(&rl);
	for (int i = 0; i < 3; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].rl = &rl;
		w[i].start = 0;
		w[i].end = 100;
		w[i].order = &order;
		assert_int_equal(pthread_create(&w[i].t, NULL, wait_for, &w[i]), 0);
		settle();
	}
	/* The first holds; the others wait, in order. */
	assert_int_equal(atomic_load(&order), 1);
	assert_int_equal(pthread_join(w[0].t, NULL), 0);
	range_lock_release(&rl, &w[0].e);
	assert_int_equal(pthread_join(w[1].t, NULL), 0);
	assert_int_equal(w[1].got, 1);
	range_lock_release(&rl, &w[1].e);
	assert_int_equal(pthread_join(w[2].t, NULL), 0);
	assert_int_equal(w[2].got, 2);
	range_lock_release(&rl, &w[2].e);
	range_lock_destroy(&rl);
}

/* Many threads increment shared counters under overlapping ranges: a lost
 * update or a lost wake-up shows as a wrong sum or a hang (the test's
 * time bound). */
struct hammer {
	struct range_lock *rl;
	long *cells;
	unsigned seed;
};

#define CELLS 64
#define ROUNDS 20000

static void *hammer(void *p)
{
	struct hammer *h = p;
	unsigned s = h->seed;

	for (int i = 0; i < ROUNDS; i++) {
		struct range_lock_entry e;
		uint64_t a = (s = s * 1103515245 + 12345) % CELLS;
		uint64_t len = 1 + (s >> 8) % 8;
		uint64_t end = a + len > CELLS ? CELLS : a + len;

		range_lock_acquire(h->rl, &e, a, end);
		for (uint64_t c = a; c < end; c++) {
			long v = h->cells[c];

			sched_yield();
			h->cells[c] = v + 1;
		}
		range_lock_release(h->rl, &e);
	}
	return NULL;
}

static void test_threads_no_lost_updates(void **state)
{
	struct range_lock rl;
	long cells[CELLS] = { 0 };
	long want[CELLS] = { 0 };
	struct hammer h[6];
	pthread_t t[6];

	(void)state;
	range_lock_init(&rl);
	for (int i = 0; i < 6; i++) {
		h[i] = (struct hammer){ &rl, cells, (unsigned)i * 7919u + 1 };
		assert_int_equal(pthread_create(&t[i], NULL, hammer, &h[i]), 0);
	}
	for (int i = 0; i < 6; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	/* Replay the same sequences to know the expected counts. */
	for (int i = 0; i < 6; i++) {
		unsigned s = h[i].seed;

		for (int r = 0; r < ROUNDS; r++) {
			uint64_t a = (s = s * 1103515245 + 12345) % CELLS;
			uint64_t len = 1 + (s >> 8) % 8;
			uint64_t end = a + len > CELLS ? CELLS : a + len;

			for (uint64_t c = a; c < end; c++)
				want[c]++;
		}
	}
	assert_memory_equal(cells, want, sizeof(cells));
	assert_null(rl.head);
	range_lock_destroy(&rl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_overlap_rules),
		cmocka_unit_test(test_fifo_and_wakeups),
		cmocka_unit_test(test_release_elsewhere),
		cmocka_unit_test(test_threads_no_lost_updates),
	};

	return cmocka_run_group_tests_name("range_lock", tests, NULL, NULL);
}
