/* Unit tests: the buffer pool's alignment, exhaustion and waiting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "core/buffer_pool.h"

static void test_alignment_and_layout(void **state)
{
	struct buffer_pool p;
	struct iovec *iov;

	(void)state;
	assert_int_equal(pool_init(&p, 4, 10000, 4096), 0);
	assert_int_equal(p.size, 12288);
	for (unsigned i = 0; i < 4; i++) {
		assert_int_equal((uintptr_t)pool_buf(&p, i) % 4096, 0);
		assert_int_equal(pool_index_of(&p, pool_buf(&p, i) + 100), i);
	}
	iov = pool_iovecs(&p);
	assert_non_null(iov);
	assert_ptr_equal(iov[3].iov_base, pool_buf(&p, 3));
	assert_int_equal(iov[3].iov_len, 12288);
	free(iov);
	pool_destroy(&p);
	assert_int_equal(pool_init(&p, 0, 4096, 4096), -22);
	assert_int_equal(pool_init(&p, 1, 4096, 3000), -22);
}

static void test_exhaustion(void **state)
{
	struct buffer_pool p;
	unsigned seen = 0, idx;

	(void)state;
	assert_int_equal(pool_init(&p, 3, 4096, 4096), 0);
	for (int i = 0; i < 3; i++) {
		assert_true(pool_try_take(&p, &idx));
		assert_true(idx < 3);
		assert_false(seen & (1u << idx));
		seen |= 1u << idx;
	}
	assert_false(pool_try_take(&p, &idx));
	assert_int_equal(pool_in_use(&p), 3);
	assert_int_equal(p.min_free, 0);
	pool_give(&p, 1);
	assert_true(pool_try_take(&p, &idx));
	assert_int_equal(idx, 1);
	for (unsigned i = 0; i < 3; i++)
		pool_give(&p, i);
	assert_int_equal(pool_in_use(&p), 0);
	pool_destroy(&p);
}

struct taker {
	struct buffer_pool *p;
	atomic_int done;
	unsigned idx;
};

static void *take_one(void *arg)
{
	struct taker *t = arg;

	t->idx = pool_take(t->p);
	atomic_store(&t->done, 1);
	return NULL;
}

static void test_take_waits_for_give(void **state)
{
	struct buffer_pool p;
	struct taker t = { .p = &p };
	const struct timespec ts = { 0, 100 * 1000 * 1000 };
	pthread_t th;
	unsigned a, b;

	(void)state;
	assert_int_equal(pool_init(&p, 2, 4096, 4096), 0);
	a = pool_take(&p);
	b = pool_take(&p);
	assert_int_equal(pthread_create(&th, NULL, take_one, &t), 0);
	nanosleep(&ts, NULL);
	assert_int_equal(atomic_load(&t.done), 0);
	pool_give(&p, b);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(t.idx, b);
	assert_int_equal(p.waits, 1);
	pool_give(&p, a);
	pool_give(&p, t.idx);
	pool_destroy(&p);
}

/* Memory stays bounded: many threads churning never see a buffer twice. */
struct churn {
	struct buffer_pool *p;
	atomic_int *owner;
	atomic_int bad;
};

static void *churn(void *arg)
{
	struct churn *c = arg;

	for (int i = 0; i < 20000; i++) {
		unsigned idx = pool_take(c->p);

		if (atomic_fetch_add(&c->owner[idx], 1) != 0)
			atomic_store(&c->bad, 1);
		atomic_fetch_sub(&c->owner[idx], 1);
		pool_give(c->p, idx);
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct buffer_pool p;
	atomic_int owner[3] = { 0 };
	struct churn c = { &p, owner, 0 };
	pthread_t th[6];

	(void)state;
	assert_int_equal(pool_init(&p, 3, 4096, 4096), 0);
	for (int i = 0; i < 6; i++)
		assert_int_equal(pthread_create(&th[i], NULL, churn, &c), 0);
	for (int i = 0; i < 6; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	assert_int_equal(atomic_load(&c.bad), 0);
	assert_int_equal(pool_in_use(&p), 0);
	pool_destroy(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alignment_and_layout),
		cmocka_unit_test(test_exhaustion),
		cmocka_unit_test(test_take_waits_for_give),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests_name("buffer_pool", tests, NULL, NULL);
}
