/* Unit tests: the fallbacks for what an older kernel lacks, and the line
 * that says what was lacking. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <linux/io_uring.h>

#include "core/kernel_features.h"

#define ALL (IORING_SETUP_SQE128 | IORING_SETUP_CQSIZE | \
	     IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN)

/* An EINVAL from io_uring_setup drops the newest flag first, one at a
 * time, never one the caller must have; then gives up. */
static void test_uring_fallback_order(void **state)
{
	unsigned flags = ALL;

	(void)state;
	/* 6.0: no DEFER_TASKRUN */
	assert_int_equal(uring_setup_fallback(&flags, IORING_SETUP_SQE128, -EINVAL),
			 BFS_KF_RING_DEFER_TASKRUN);
	assert_int_equal(flags, ALL & ~IORING_SETUP_DEFER_TASKRUN);
	/* 5.19: no SINGLE_ISSUER either */
	assert_int_equal(uring_setup_fallback(&flags, IORING_SETUP_SQE128, -EINVAL),
			 BFS_KF_RING_SINGLE_ISSUER);
	assert_int_equal(flags, IORING_SETUP_SQE128 | IORING_SETUP_CQSIZE);
	assert_int_equal(uring_setup_fallback(&flags, IORING_SETUP_SQE128, -EINVAL),
			 BFS_KF_RING_CQSIZE);
	assert_int_equal(flags, IORING_SETUP_SQE128);
	/* SQE128 is needed (the FUSE commands): nothing more to drop. */
	assert_int_equal(uring_setup_fallback(&flags, IORING_SETUP_SQE128, -EINVAL), -1);
	assert_int_equal(flags, IORING_SETUP_SQE128);
}

/* Other errors are not a missing flag: nothing is dropped. */
static void test_uring_fallback_other_errors(void **state)
{
	unsigned flags = ALL;

	(void)state;
	assert_int_equal(uring_setup_fallback(&flags, 0, -ENOMEM), -1);
	assert_int_equal(uring_setup_fallback(&flags, 0, -EPERM), -1);
	assert_int_equal(uring_setup_fallback(&flags, 0, -ENOSYS), -1);
	assert_int_equal(flags, ALL);
	/* The engine's rings: CQSIZE only, dropped on 5.4. */
	flags = IORING_SETUP_CQSIZE;
	assert_int_equal(uring_setup_fallback(&flags, 0, -EINVAL), BFS_KF_RING_CQSIZE);
	assert_int_equal(flags, 0);
	assert_int_equal(uring_setup_fallback(&flags, 0, -EINVAL), -1);
}

/* Without STATX_DIOALIGN (before 6.1, or a file system that has not it),
 * 4096; with it, the larger of the two; never below the device's block. */
static void test_dio_alignment(void **state)
{
	(void)state;
	assert_int_equal(dio_alignment_for(false, 0, 0, 0), 4096);
	assert_int_equal(dio_alignment_for(false, 512, 512, 0), 4096);
	assert_int_equal(dio_alignment_for(true, 512, 512, 0), 512);
	assert_int_equal(dio_alignment_for(true, 4, 512, 0), 512);
	assert_int_equal(dio_alignment_for(true, 512, 512, 4096), 4096);
	assert_int_equal(dio_alignment_for(false, 0, 0, 8192), 8192);
	/* nonsense from statx: 4096 */
	assert_int_equal(dio_alignment_for(true, 0, 0, 0), 4096);
	assert_int_equal(dio_alignment_for(true, 3, 3, 0), 4096);
	assert_int_equal(dio_alignment_for(true, 512, 512, 3), 512);
}

/* What lacked is gathered and said in one line. */
static void test_lacking_and_describe(void **state)
{
	char buf[512];
	size_t n;

	(void)state;
	assert_int_equal(kernel_features_describe(0, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	kernel_feature_lacking(BFS_KF_FUSE_OVER_IO_URING);
	kernel_feature_lacking(BFS_KF_STATX_DIOALIGN);
	kernel_feature_lacking(BFS_KF_FUSE_OVER_IO_URING);
	kernel_feature_lacking(BFS_KF_COUNT); /* ignored */
	assert_int_equal(kernel_features_lacking(),
			 (1u << BFS_KF_FUSE_OVER_IO_URING) | (1u << BFS_KF_STATX_DIOALIGN));
	n = kernel_features_describe(kernel_features_lacking(), buf, sizeof(buf));
	assert_int_equal(n, strlen(buf));
	assert_non_null(strstr(buf, "STATX_DIOALIGN (6.1: "));
	assert_non_null(strstr(buf, "; FUSE over io_uring (6.14: requests come over /dev/fuse)"));
	/* a short buffer is cut, terminated */
	n = kernel_features_describe(kernel_features_lacking(), buf, 10);
	assert_int_equal(n, 9);
	assert_int_equal(strlen(buf), 9);
	assert_int_equal(kernel_features_describe(kernel_features_lacking(), buf, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uring_fallback_order),
		cmocka_unit_test(test_uring_fallback_other_errors),
		cmocka_unit_test(test_dio_alignment),
		cmocka_unit_test(test_lacking_and_describe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
