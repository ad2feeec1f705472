/* Unit tests: alignment and read-modify-write planning, checked against a
 * byte-level model of the file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/align.h"

static void test_valid(void **state)
{
	(void)state;
	assert_true(align_valid(1));
	assert_true(align_valid(512));
	assert_true(align_valid(4096));
	assert_false(align_valid(0));
	assert_false(align_valid(3000));
	assert_int_equal(align_down(4097, 4096), 4096);
	assert_int_equal(align_up(4097, 4096), 8192);
	assert_int_equal(align_up(8192, 4096), 8192);
}

static void test_read_plans(void **state)
{
	struct io_plan p;

	(void)state;
	assert_int_equal(align_plan_read(0, 4096, 4096, &p), 0);
	assert_true(p.aligned);
	assert_int_equal(p.start, 0);
	assert_int_equal(p.len, 4096);
	assert_int_equal(align_plan_read(512, 512, 4096, &p), 0);
	assert_false(p.aligned);
	assert_int_equal(p.start, 0);
	assert_int_equal(p.len, 4096);
	assert_int_equal(p.head, 512);
	assert_int_equal(align_plan_read(4095, 2, 4096, &p), 0);
	assert_int_equal(p.start, 0);
	assert_int_equal(p.len, 8192);
	assert_int_equal(p.head, 4095);
	assert_int_equal(align_plan_read(1, 1, 3000, &p), -EINVAL);
	assert_int_equal(align_plan_read(UINT64_MAX - 1, 4, 512, &p), -EINVAL);
}

static void test_read_results_at_eof(void **state)
{
	struct io_plan p;

	(void)state;
	/* File of 100 bytes; read 50 at 80: the aligned read returns 100. */
	align_plan_read(80, 50, 4096, &p);
	assert_int_equal(align_read_result(&p, 100, 50), 20);
	/* Read wholly past the end. */
	align_plan_read(5000, 10, 4096, &p);
	assert_int_equal(align_read_result(&p, 0, 10), 0);
	/* Read starting past the end inside the last block. */
	align_plan_read(150, 10, 4096, &p);
	assert_int_equal(align_read_result(&p, 100, 10), 0);
	/* Full read. */
	align_plan_read(100, 10, 4096, &p);
	assert_int_equal(align_read_result(&p, 4096, 10), 10);
	/* A write that stopped inside the head reports nothing. */
	align_plan_write(1000, 10000, 0, 4096, &p);
	assert_int_equal(align_write_result(&p, 512, 10000), 0);
	assert_int_equal(align_write_result(&p, 4096, 10000), 3096);
	assert_int_equal(align_write_result(&p, p.len, 10000), 10000);
}

static void test_write_plans(void **state)
{
	struct io_plan p;

	(void)state;
	/* Aligned write: nothing to read, no size fix. */
	align_plan_write(8192, 4096, 100000, 4096, &p);
	assert_true(p.aligned);
	assert_false(p.read_head || p.read_tail || p.truncate_after);
	/* 512 bytes in the middle of an existing block: one read. */
	align_plan_write(512, 512, 100000, 4096, &p);
	assert_true(p.read_head);
	assert_false(p.read_tail);
	/* Spanning two blocks, both partial. */
	align_plan_write(4000, 200, 100000, 4096, &p);
	assert_true(p.read_head && p.read_tail);
	assert_int_equal(p.tail_start, 4096);
	/* Appending an odd size at the end of an aligned file. */
	align_plan_write(8192, 100, 8192, 4096, &p);
	assert_false(p.read_head || p.read_tail);
	assert_true(p.truncate_after);
	/* Appending to an unaligned file: the tail block has data. */
	align_plan_write(100, 100, 100, 4096, &p);
	assert_true(p.read_head);
	assert_true(p.truncate_after);
	assert_int_equal(p.final_size, 200);
	/* Inside a short file: the block reaches past the end, which stays. */
	align_plan_write(0, 1, 100, 512, &p);
	assert_true(p.read_tail);
	assert_true(p.truncate_after);
	assert_int_equal(p.final_size, 100);
}

/* A byte of a cheap pseudo-random stream (xorshift32): the model files
 * run to megabytes, and rand() per byte made this test the slowest. */
static unsigned char next_byte(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return (unsigned char)(*x >> 24);
}

/* Apply a planned write to a model file the way the daemon does, and
 * compare with the plain result of writing the bytes. */
static void check_model(uint64_t size, uint64_t off, uint64_t len, uint32_t a,
			unsigned seed)
{
	uint64_t cap = off + len + 2 * a + size;
	unsigned char *file = calloc(1, cap), *want = calloc(1, cap);
	unsigned char *payload = malloc(len), *img;
	uint64_t new_size, want_size;
	struct io_plan p;
	uint32_t x = seed * 2654435761u + 1;

	for (uint64_t i = 0; i < size; i++)
		file[i] = want[i] = next_byte(&x) | 1;
	for (uint64_t i = 0; i < len; i++)
		payload[i] = next_byte(&x) | 0x80;
	memcpy(want + off, payload, len);
	want_size = off + len > size ? off + len : size;

	assert_int_equal(align_plan_write(off, len, size, a, &p), 0);
	assert_int_equal(p.start % a, 0);
	assert_int_equal(p.len % a, 0);
	assert_true(p.start <= off && p.start + p.len >= off + len);
	assert_true(p.start + p.len - (off + len) < a);
	img = calloc(1, p.len);
	/* Boundary blocks: read what the file has there, zeros beyond. */
	if (p.read_head)
		for (uint64_t i = 0; i < a && p.start + i < size; i++)
			img[i] = file[p.start + i];
	if (p.read_tail)
		for (uint64_t i = 0; i < a && p.tail_start + i < size; i++)
			img[p.tail_start - p.start + i] = file[p.tail_start + i];
	memcpy(img + p.head, payload, len);
	memcpy(file + p.start, img, p.len);
	new_size = p.start + p.len > size ? p.start + p.len : size;
	if (p.truncate_after)
		new_size = p.final_size;
	assert_int_equal(p.final_size, want_size);
	assert_int_equal(new_size, want_size);
	assert_memory_equal(file, want, want_size);
	free(img);
	free(file);
	free(want);
	free(payload);
}

static void test_rmw_model(void **state)
{
	static const uint64_t lens[] = {
		1, 2, 100, 511, 512, 513, 1000, 4095, 4096, 4097, 8191, 8192,
		65535, 65536, 65537, 131072 + 77, 1048576 - 4096, 1048576,
	};
	static const uint64_t offs[] = { 0, 1, 511, 512, 513, 4095, 4096, 4097,
					 12345, 65536, 1048576 + 3 };
	static const uint64_t sizes[] = { 0, 1, 100, 4096, 5000, 70000, 2000000 };
	static const uint32_t aligns[] = { 512, 4096 };
	unsigned seed = 1;

	(void)state;
	for (size_t ai = 0; ai < 2; ai++)
		for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++)
			for (size_t oi = 0; oi < sizeof(offs) / sizeof(offs[0]); oi++)
				for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++)
					check_model(sizes[si], offs[oi], lens[li],
						    aligns[ai], seed++);
}

static void test_rmw_model_random(void **state)
{
	(void)state;
	srand(42);
	for (unsigned i = 0; i < 3000; i++) {
		uint32_t a = (rand() & 1) ? 512 : 4096;
		uint64_t size = (uint64_t)rand() % 70000;
		uint64_t off = (uint64_t)rand() % 70000;
		uint64_t len = 1 + (uint64_t)rand() % 20000;

		check_model(size, off, len, a, i + 7);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_read_plans),
		cmocka_unit_test(test_read_results_at_eof),
		cmocka_unit_test(test_write_plans),
		cmocka_unit_test(test_rmw_model),
		cmocka_unit_test(test_rmw_model_random),
	};

	return cmocka_run_group_tests_name("align", tests, NULL, NULL);
}
