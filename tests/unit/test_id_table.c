/* Unit tests: node ids and file handles as slots (core/id_table.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "core/id_table.h"

static int objs[10000];

static void test_ids_start_at_first_and_resolve(void **state)
{
	struct id_table t;

	(void)state;
	assert_int_equal(id_table_init(&t, 2), 0);
	assert_null(id_table_get(&t, 0));
	assert_null(id_table_get(&t, 2));
	assert_int_equal(id_table_add(&t, &objs[0]), 2);
	assert_int_equal(id_table_add(&t, &objs[1]), 3);
	assert_ptr_equal(id_table_get(&t, 2), &objs[0]);
	assert_ptr_equal(id_table_get(&t, 3), &objs[1]);
	assert_null(id_table_get(&t, 4));
	assert_null(id_table_get(&t, ID_TABLE_LIMIT));
	assert_null(id_table_get(&t, UINT64_MAX));
	assert_int_equal(id_table_count(&t), 2);
	id_table_destroy(&t);
}

static void test_a_freed_id_is_given_again(void **state)
{
	struct id_table t;
	uint64_t a, b, c;

	(void)state;
	assert_int_equal(id_table_init(&t, 1), 0);
	a = id_table_add(&t, &objs[0]);
	b = id_table_add(&t, &objs[1]);
	c = id_table_add(&t, &objs[2]);
	id_table_del(&t, b);
	assert_null(id_table_get(&t, b));
	assert_int_equal(id_table_count(&t), 2);
	assert_int_equal(id_table_add(&t, &objs[3]), b);
	assert_ptr_equal(id_table_get(&t, b), &objs[3]);
	/* The highest given, freed, is not a hole. */
	id_table_del(&t, c);
	assert_int_equal(id_table_add(&t, &objs[4]), c);
	assert_ptr_equal(id_table_get(&t, a), &objs[0]);
	id_table_destroy(&t);
}

/* Ids beyond one chunk, freed and given again: none is given twice. */
static void test_many_ids_across_chunks(void **state)
{
	struct id_table t;
	static uint64_t ids[10000];
	size_t n = sizeof(ids) / sizeof(ids[0]);

	(void)state;
	assert_int_equal(id_table_init(&t, 1), 0);
	for (size_t i = 0; i < n; i++) {
		ids[i] = id_table_add(&t, &objs[i]);
		assert_int_equal(ids[i], i + 1);
	}
	for (size_t i = 0; i < n; i += 3)
		id_table_del(&t, ids[i]);
	for (size_t i = 0; i < n; i += 3) {
		uint64_t id = id_table_add(&t, &objs[i]);

		assert_true(id >= 1 && id <= n);
		ids[i] = id;
	}
	assert_int_equal(id_table_count(&t), n);
	for (size_t i = 0; i < n; i++)
		assert_non_null(id_table_get(&t, ids[i]));
	/* Every id 1..n in use exactly once: the next is new. */
	assert_int_equal(id_table_add(&t, &objs[0]), n + 1);
	id_table_destroy(&t);
}

/* A successor puts its predecessor's ids: skipped ones are free after. */
static void test_put_restores_ids_and_frees_the_gaps(void **state)
{
	struct id_table t;
	uint64_t got[3];

	(void)state;
	assert_int_equal(id_table_init(&t, 2), 0);
	assert_int_equal(id_table_put(&t, 5, &objs[5]), 0);
	assert_int_equal(id_table_put(&t, 9000, &objs[9]), 0);
	assert_int_equal(id_table_put(&t, 5, &objs[1]), -EEXIST);
	assert_int_equal(id_table_put(&t, 1, &objs[1]), -ERANGE);
	assert_int_equal(id_table_put(&t, ID_TABLE_LIMIT, &objs[1]), -ERANGE);
	/* Below the highest, in a gap. */
	assert_int_equal(id_table_put(&t, 3, &objs[3]), 0);
	assert_ptr_equal(id_table_get(&t, 5), &objs[5]);
	assert_ptr_equal(id_table_get(&t, 9000), &objs[9]);
	assert_ptr_equal(id_table_get(&t, 3), &objs[3]);
	assert_int_equal(id_table_count(&t), 3);
	/* New ids come from the gaps first, never a used one. */
	for (int i = 0; i < 3; i++) {
		got[i] = id_table_add(&t, &objs[100 + i]);
		assert_true(got[i] == 2 || got[i] == 4 ||
			    (got[i] >= 6 && got[i] < 9000));
		for (int j = 0; j < i; j++)
			assert_int_not_equal(got[i], got[j]);
	}
	assert_ptr_equal(id_table_get(&t, 5), &objs[5]);
	id_table_destroy(&t);
}

struct race {
	struct id_table *t;
	int base;
};

static void *adder(void *arg)
{
	struct race *r = arg;

	for (int round = 0; round < 50; round++) {
		uint64_t ids[100];

		for (int i = 0; i < 100; i++) {
			ids[i] = id_table_add(r->t, &objs[r->base + i]);
			if (!ids[i])
				return (void *)1;
		}
		for (int i = 0; i < 100; i++) {
			if (id_table_get(r->t, ids[i]) != &objs[r->base + i])
				return (void *)1;
			id_table_del(r->t, ids[i]);
		}
	}
	return NULL;
}

/* Threads adding, reading and freeing at once each see only their own. */
static void test_threads_never_share_an_id(void **state)
{
	struct id_table t;
	pthread_t th[4];
	struct race r[4];
	void *res;

	(void)state;
	assert_int_equal(id_table_init(&t, 1), 0);
	for (int i = 0; i < 4; i++) {
		r[i] = (struct race){ &t, i * 100 };
		assert_int_equal(pthread_create(&th[i], NULL, adder, &r[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], &res), 0);
		assert_null(res);
	}
	assert_int_equal(id_table_count(&t), 0);
	id_table_destroy(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ids_start_at_first_and_resolve),
		cmocka_unit_test(test_a_freed_id_is_given_again),
		cmocka_unit_test(test_many_ids_across_chunks),
		cmocka_unit_test(test_put_restores_ids_and_frees_the_gaps),
		cmocka_unit_test(test_threads_never_share_an_id),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
