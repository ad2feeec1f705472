/* Unit tests: per-file counters, the bounded table of closed files, and
 * the files' lines (file_stats.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/file_stats.h"

static char text[1 << 16];

static void row(struct file_stats_row *r, ino_t ino, const char *path,
		uint64_t bytes, unsigned errors, int err)
{
	struct file_counters c;

	memset(&c, 0, sizeof(c));
	if (bytes)
		file_counters_done(&c, STATS_READ, bytes, 0);
	for (unsigned i = 0; i < errors; i++)
		file_counters_done(&c, STATS_WRITE, 0, err);
	file_stats_row_of(&c, 1, ino, path, r);
}

static int reset(void **state)
{
	(void)state;
	file_stats_reset();
	return 0;
}

/* Up to FILE_STATS_ERRNOS distinct errnos a file, the rest as "other". */
static void test_errnos_of_a_file(void **state)
{
	static const int errs[] = { EIO, ENOSPC, EILSEQ, EDQUOT, EFBIG, EIO };
	struct file_counters c;
	struct file_stats_row r;

	(void)state;
	memset(&c, 0, sizeof(c));
	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++)
		file_counters_done(&c, STATS_WRITE, 0, errs[i]);
	file_counters_done(&c, STATS_READ, 4096, 0);
	assert_true(file_counters_any(&c));
	file_stats_row_of(&c, 1, 2, "a", &r);
	assert_int_equal(r.errors, 6);
	assert_int_equal(r.requests[STATS_WRITE], 6);
	assert_int_equal(r.bytes[STATS_READ], 4096);
	assert_int_equal(r.errnos[0], EIO);
	assert_int_equal(r.errno_count[0], 2);
	assert_int_equal(r.errno_count[FILE_STATS_ERRNOS], 1);  /* EFBIG */
	assert_int_equal(r.last_error_op, STATS_WRITE);
	assert_true(r.last_error_s > 0);
	file_counters_reset(&c);
	assert_false(file_counters_any(&c));
}

/* The same file closed twice is one line; an open file merges with its
 * closed figures. */
static void test_fold_merges_by_file(void **state)
{
	struct file_stats_row a, b, open;

	(void)state;
	row(&a, 7, "vm.img", 1000, 1, EIO);
	row(&b, 7, "vm.img", 500, 2, ENOSPC);
	file_stats_fold(&a);
	file_stats_fold(&b);
	row(&open, 7, "vm.img", 10, 0, 0);
	static const char want[] =
		"file vm.img read_requests 3 read_bytes 1510 write_requests 3"
		" write_bytes 0 fsync_requests 0 fsync_bytes 0 errors 3"
		" last_error_s ";

	file_stats_format(&open, 1, text, sizeof(text));
	assert_true(strncmp(text, want, sizeof(want) - 1) == 0);
	assert_non_null(strstr(text, " last_error_op write errno_EIO 1 errno_ENOSPC 2\n"));
	assert_null(strchr(text, '\n') + 1 == NULL ? NULL : strchr(strchr(text, '\n') + 1, '\n'));
}

/* The table keeps FILE_STATS_TABLE files: those with the most errors,
 * then bytes; the output shows FILE_STATS_SHOWN of each kind. */
static void test_table_is_bounded(void **state)
{
	struct file_stats_row r;
	char path[32];
	unsigned lines = 0;
	char *p;

	(void)state;
	for (unsigned i = 0; i < 10 * FILE_STATS_TABLE; i++) {
		snprintf(path, sizeof(path), "f%u", i);
		row(&r, 100 + i, path, i + 1, 0, 0);
		file_stats_fold(&r);
	}
	row(&r, 5, "bad", 1, 3, EIO);
	file_stats_fold(&r);
	row(&r, 6, "tiny", 0, 0, 0);
	r.requests[STATS_READ] = 1;
	file_stats_fold(&r);   /* ranks below all: not kept */
	file_stats_format(NULL, 0, text, sizeof(text));
	for (p = text; (p = strchr(p, '\n')); p++)
		lines++;
	assert_int_equal(lines, 1 + FILE_STATS_SHOWN);
	assert_true(strncmp(text, "file bad ", 9) == 0);
	/* The busiest next: the last ones folded, most bytes first. */
	snprintf(path, sizeof(path), "\nfile f%u ", 10 * FILE_STATS_TABLE - 1);
	assert_non_null(strstr(text, path));
	assert_null(strstr(text, "file tiny "));
	assert_null(strstr(text, "file f0 "));
}

/* A path's space, tab, newline and backslash are written as \ooo. */
static void test_paths_are_escaped(void **state)
{
	struct file_stats_row r;

	(void)state;
	row(&r, 9, "a b\tc\nd\\e", 1, 0, 0);
	file_stats_format(&r, 1, text, sizeof(text));
	assert_true(strncmp(text, "file a\\040b\\011c\\012d\\134e read_requests 1 ",
			    42) == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_errnos_of_a_file, reset),
		cmocka_unit_test_setup(test_fold_merges_by_file, reset),
		cmocka_unit_test_setup(test_table_is_bounded, reset),
		cmocka_unit_test_setup(test_paths_are_escaped, reset),
	};

	return cmocka_run_group_tests_name("file_stats", tests, NULL, NULL);
}
