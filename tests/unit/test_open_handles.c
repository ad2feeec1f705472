/* Unit tests: the open files and directories the kernel holds, and their
 * file handles (core/open_handles.c). */
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
	assert_int_equal(open_handles_add(&s, &a), 0);
	assert_int_equal(open_handles_add(&s, &b), 0);
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
	assert_int_equal(open_handles_add(&s, &c), 0);
	assert_int_equal(c.id, a.id);
	assert_ptr_equal(open_handles_find(&s, c.id), &c);
	/* Popping at unmount takes the id too. */
	while (open_handles_pop(&s))
		;
	assert_null(open_handles_find(&s, b.id));
	assert_null(open_handles_find(&s, c.id));
	open_handles_destroy(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handles_get_ids_that_find_them),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
