/* Unit tests: the open files and directories the kernel holds, and their
 * file handles (core/open_handles.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/open_handles.h"

static void count(struct open_handle *h, void *arg)
{
	(void)h;
	++*(int *)arg;
}

static void test_handles_get_ids_that_find_them(void **state)
{
	struct open_handles s;
	struct open_handle a, b, c;
	int n = 0;

	(void)state;
	assert_int_equal(open_handles_init(&s), 0);
	assert_int_equal(open_handles_add(&s, &a, &(struct restart_open){ .node_id = 2, .flags = 0 }), 0);
	assert_int_equal(open_handles_add(&s, &b, &(struct restart_open){ .node_id = 3, .flags = 0 }), 0);
	assert_int_not_equal(a.id, 0);
	assert_int_not_equal(b.id, 0);
	assert_int_not_equal(a.id, b.id);
	assert_ptr_equal(open_handles_find(&s, a.id), &a);
	assert_ptr_equal(open_handles_find(&s, b.id), &b);
	assert_null(open_handles_find(&s, 0));
	open_handles_each(&s, count, &n);
	assert_int_equal(n, 2);
	/* A released handle's id finds nothing until it is given again. */
	open_handles_del(&s, &a);
	assert_null(open_handles_find(&s, a.id));
	assert_int_equal(open_handles_add(&s, &c, &(struct restart_open){ .node_id = 4, .flags = 0 }), 0);
	assert_int_equal(c.id, a.id);
	assert_ptr_equal(open_handles_find(&s, c.id), &c);
	/* Popping at unmount takes the id too. */
	while (open_handles_pop(&s))
		;
	assert_null(open_handles_find(&s, b.id));
	assert_null(open_handles_find(&s, c.id));
	open_handles_destroy(&s);
}

/* With a state to keep, each handle is there (fh, node id, flags) from
 * before the kernel hears of it until it is released or popped. */
static void test_handles_are_kept_in_the_state(void **state)
{
	struct open_handles s;
	struct restart_state st;
	struct open_handle a, b;
	const struct restart_open_slot *slot;

	(void)state;
	assert_int_equal(open_handles_init(&s), 0);
	assert_int_equal(restart_state_create(&st, 100, 100), 0);
	open_handles_keep_state(&s, &st, RESTART_DIR);
	assert_int_equal(open_handles_add(&s, &a, &(struct restart_open){ .node_id = 7, .flags = 0x4000 }), 0);
	assert_int_equal(open_handles_add(&s, &b, &(struct restart_open){ .node_id = 9, .flags = 2 }), 0);
	slot = restart_state_open(&st, RESTART_DIR, a.id);
	assert_non_null(slot);
	assert_int_equal(slot->node_id, 7);
	assert_int_equal(slot->flags, 0x4000);
	assert_null(restart_state_open(&st, RESTART_FILE, a.id));
	open_handles_del(&s, &a);
	assert_null(restart_state_open(&st, RESTART_DIR, a.id));
	assert_non_null(restart_state_open(&st, RESTART_DIR, b.id));
	assert_non_null(open_handles_pop(&s));
	assert_null(restart_state_open(&st, RESTART_DIR, b.id));
	open_handles_destroy(&s);
	restart_state_close(&st);
}

/* A successor puts a predecessor's handle back at its fh: found there,
 * kept in the state, its id never given to another; a taken id refused. */
static void test_a_successor_puts_handles_back_at_their_ids(void **state)
{
	struct open_handles s;
	struct open_handle a, b, c;
	const struct restart_open o = { .node_id = 5, .flags = 2, .served = 1 };

	(void)state;
	assert_int_equal(open_handles_init(&s), 0);
	assert_int_equal(open_handles_put(&s, &a, 3, &o), 0);
	assert_int_equal(a.id, 3);
	assert_ptr_equal(open_handles_find(&s, 3), &a);
	assert_null(open_handles_find(&s, 1));
	assert_int_equal(open_handles_put(&s, &b, 3, &o), -EEXIST);
	assert_int_equal(open_handles_put(&s, &b, 0, &o), -ERANGE);
	/* New opens take the ids below and above, never 3. */
	assert_int_equal(open_handles_add(&s, &b, &o), 0);
	assert_int_equal(open_handles_add(&s, &c, &o), 0);
	assert_int_not_equal(b.id, 3);
	assert_int_not_equal(c.id, 3);
	assert_int_not_equal(b.id, c.id);
	open_handles_del(&s, &a);
	assert_null(open_handles_find(&s, 3));
	open_handles_del(&s, &b);
	open_handles_del(&s, &c);
	open_handles_destroy(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handles_get_ids_that_find_them),
		cmocka_unit_test(test_handles_are_kept_in_the_state),
		cmocka_unit_test(test_a_successor_puts_handles_back_at_their_ids),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
