/* Unit tests: what the INIT reply adds to libfuse's flags, for what each
 * kernel offers (the fallback for kernels that offer less). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <linux/fuse.h>

#include "transport/device_io.h"

/* (Debian 12's linux/fuse.h is 7.38: the newer bits by number.) */
#define MMAP (1ULL << 36)      /* FUSE_DIRECT_IO_ALLOW_MMAP, 6.6 */
#define KILLPRIV_V2 (1ULL << 28) /* FUSE_HANDLE_KILLPRIV_V2, 5.11 */
#define RING (1ULL << 41)      /* FUSE_OVER_IO_URING, 6.14 */
#define EXT (1ULL << 30)       /* FUSE_INIT_EXT, 5.17 */

/* An old kernel (5.10: no flags2, none of the three): nothing is added,
 * and no FUSE_INIT_EXT, which it would not understand. */
static void test_old_kernel_gets_nothing(void **state)
{
	(void)state;
	assert_int_equal(device_io_init_additions(0, false, false), 0);
	assert_int_equal(device_io_init_additions(0, true, false), 0);
	assert_int_equal(device_io_init_additions(KILLPRIV_V2, true, false),
			 KILLPRIV_V2);
}

/* 6.1: killpriv_v2 and the extended flags, no mmap of direct-I/O files,
 * no ring. */
static void test_6_1(void **state)
{
	uint64_t offered = KILLPRIV_V2 | EXT;

	(void)state;
	assert_int_equal(device_io_init_additions(offered, true, false), KILLPRIV_V2);
}

/* 6.6 on: shared mmap of direct-I/O files, in flags2. */
static void test_mmap_needs_init_ext(void **state)
{
	uint64_t add = device_io_init_additions(MMAP | KILLPRIV_V2 | EXT, false, false);

	(void)state;
	assert_int_equal(add, MMAP | KILLPRIV_V2 | EXT);
}

/* 6.14 on: the ring is asked for only when the queues are set up (a mount
 * with uring=off, or whose queues could not be made, does not ask, and
 * the kernel serves it over /dev/fuse). */
static void test_ring_only_when_ready(void **state)
{
	uint64_t offered = MMAP | KILLPRIV_V2 | EXT | RING;

	(void)state;
	assert_true(device_io_init_additions(offered, true, false) & RING);
	assert_false(device_io_init_additions(offered, false, false) & RING);
	assert_false(device_io_init_additions(offered & ~RING, true, false) & RING);
	assert_true(device_io_init_additions(RING, true, false) & EXT);
}

/* An INIT as a kernel of protocol minor sends it: 5.10 (7.32) sends the
 * 16-byte fuse_init_in of old, 5.17 on (7.36) the 64-byte one with
 * flags2. Both are recognized; flags2 only counts with FUSE_INIT_EXT. */
static size_t make_init(unsigned char *buf, uint32_t minor, uint32_t flags,
			uint32_t flags2, uint32_t opcode)
{
	struct fuse_in_header h = { .opcode = opcode, .unique = 42 };
	struct fuse_init_in in = { .major = 7, .minor = minor, .flags = flags,
				   .flags2 = flags2 };
	size_t body = minor < 36 ? 16 : sizeof(in);

	h.len = (uint32_t)(sizeof(h) + body);
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), &in, body);
	return sizeof(h) + body;
}

/* Passthrough (6.9): asked for only when offered and wanted, in flags2. */
static void test_passthrough_when_wanted(void **state)
{
	uint64_t offered = MMAP | KILLPRIV_V2 | EXT | DEVICE_IO_PASSTHROUGH;

	(void)state;
	assert_int_equal(DEVICE_IO_PASSTHROUGH, 1ULL << 37);
	assert_true(device_io_init_additions(offered, false, true) &
		    DEVICE_IO_PASSTHROUGH);
	assert_true(device_io_init_additions(offered, false, true) & EXT);
	assert_false(device_io_init_additions(offered, false, false) &
		     DEVICE_IO_PASSTHROUGH);
	assert_false(device_io_init_additions(offered & ~DEVICE_IO_PASSTHROUGH,
					      true, true) &
		     DEVICE_IO_PASSTHROUGH);
}

static void test_parse_init(void **state)
{
	unsigned char buf[256];
	uint64_t unique = 0, flags = 0;
	size_t n;

	(void)state;
	/* 5.10: short, no flags2 */
	n = make_init(buf, 32, 0, 0, FUSE_INIT);
	assert_int_equal(n, sizeof(struct fuse_in_header) + 16);
	assert_true(device_io_parse_init(buf, n, &unique, &flags));
	assert_int_equal(unique, 42);
	assert_int_equal(flags, 0);
	/* 6.18: flags2 with FUSE_INIT_EXT */
	n = make_init(buf, 44, (uint32_t)(KILLPRIV_V2 | EXT), (uint32_t)((MMAP | RING) >> 32),
		      FUSE_INIT);
	assert_true(device_io_parse_init(buf, n, &unique, &flags));
	assert_int_equal(flags, KILLPRIV_V2 | EXT | MMAP | RING);
	/* flags2 without FUSE_INIT_EXT is not looked at */
	n = make_init(buf, 44, (uint32_t)KILLPRIV_V2, (uint32_t)(RING >> 32), FUSE_INIT);
	assert_true(device_io_parse_init(buf, n, &unique, &flags));
	assert_int_equal(flags, KILLPRIV_V2);
	/* not INIT, or cut short */
	n = make_init(buf, 44, 0, 0, FUSE_LOOKUP);
	assert_false(device_io_parse_init(buf, n, &unique, &flags));
	n = make_init(buf, 32, 0, 0, FUSE_INIT);
	assert_false(device_io_parse_init(buf, n - 1, &unique, &flags));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_old_kernel_gets_nothing),
		cmocka_unit_test(test_6_1),
		cmocka_unit_test(test_mmap_needs_init_ext),
		cmocka_unit_test(test_ring_only_when_ready),
		cmocka_unit_test(test_passthrough_when_wanted),
		cmocka_unit_test(test_parse_init),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
