/* Unit tests: the state a successor daemon reads (core/restart_state.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/restart_state.h"

static void test_slots_read_back_through_another_mapping(void **state)
{
	struct restart_state w, r;
	const struct restart_inode_slot *in;
	const struct restart_open_slot *op;
	const unsigned char handle[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

	(void)state;
	assert_int_equal(restart_state_create(&w, 1000, 100), 0);
	restart_state_put_inode(&w, 2, 0x801, 77, S_IFREG, 1, 40, 0x81,
				handle, sizeof(handle));
	restart_state_put_inode(&w, 5, 0x801, 78, S_IFDIR, 3, -1, 0, NULL, 0);
	restart_state_set_nlookup(&w, 2, 4);
	restart_state_put_open(&w, RESTART_FILE, 1,
			       &(struct restart_open){ .node_id = 2, .flags = 0x4002,
						       .served = RESTART_SERVED_PASSTHROUGH,
						       .backing_id = 17 });
	restart_state_put_open(&w, RESTART_DIR, 1,
			       &(struct restart_open){ .node_id = 5 });
	assert_int_equal(restart_state_set_init(&w, "in", 2, "outs", 4), 0);

	/* The successor's view: the same memfd, mapped again. */
	assert_int_equal(restart_state_attach(&r, w.fd), 0);
	assert_int_equal(r.h->inode_end, 6);
	in = restart_state_inode(&r, 2);
	assert_non_null(in);
	assert_int_equal(in->dev, 0x801);
	assert_int_equal(in->ino, 77);
	assert_int_equal(in->type, S_IFREG);
	assert_int_equal(in->nlookup, 4);
	assert_int_equal(in->mount_id, 40);
	assert_int_equal(in->handle_type, 0x81);
	assert_int_equal(in->handle_bytes, 8);
	assert_memory_equal(in->handle, handle, 8);
	in = restart_state_inode(&r, 5);
	assert_non_null(in);
	assert_int_equal(in->mount_id, -1);
	assert_int_equal(in->handle_bytes, 0);
	assert_null(restart_state_inode(&r, 3));
	assert_null(restart_state_inode(&r, 999999));
	op = restart_state_open(&r, RESTART_FILE, 1);
	assert_non_null(op);
	assert_int_equal(op->node_id, 2);
	assert_int_equal(op->flags, 0x4002);
	assert_int_equal(op->served, RESTART_SERVED_PASSTHROUGH);
	assert_int_equal(op->backing_id, 17);
	op = restart_state_open(&r, RESTART_DIR, 1);
	assert_non_null(op);
	assert_int_equal(op->node_id, 5);
	assert_int_equal(r.h->init_in_len, 2);
	assert_memory_equal(r.h->init_out, "outs", 4);
	assert_true(restart_state_complete(&r));

	/* What the writer drops, the reader no longer sees. */
	restart_state_drop_inode(&w, 2);
	restart_state_drop_open(&w, RESTART_FILE, 1);
	assert_null(restart_state_inode(&r, 2));
	assert_null(restart_state_open(&r, RESTART_FILE, 1));
	assert_non_null(restart_state_open(&r, RESTART_DIR, 1));
	restart_state_close(&r);
	restart_state_close(&w);
}

static void test_ids_beyond_capacity_make_it_incomplete(void **state)
{
	struct restart_state s;
	char big[RESTART_INIT_MAX + 1] = { 0 };

	(void)state;
	assert_int_equal(restart_state_create(&s, 10, 10), 0);
	assert_true(restart_state_complete(&s));
	restart_state_put_open(&s, RESTART_FILE, 9,
			       &(struct restart_open){ .node_id = 2 });
	assert_true(restart_state_complete(&s));
	restart_state_put_open(&s, RESTART_FILE, 10,
			       &(struct restart_open){ .node_id = 2 });
	assert_false(restart_state_complete(&s));
	restart_state_close(&s);

	assert_int_equal(restart_state_create(&s, 10, 10), 0);
	/* (inode slots come in groups of 64: 10 asked is 64 kept) */
	restart_state_put_inode(&s, 63, 1, 1, S_IFREG, 1, -1, 0, NULL, 0);
	assert_true(restart_state_complete(&s));
	restart_state_put_inode(&s, 64, 1, 1, S_IFREG, 1, -1, 0, NULL, 0);
	assert_false(restart_state_complete(&s));
	assert_int_equal(restart_state_set_init(&s, big, sizeof(big), "", 0),
			 -E2BIG);
	restart_state_close(&s);
}

static void test_attach_refuses_what_is_not_a_state(void **state)
{
	struct restart_state s, r;
	int fd = memfd_create("not-a-state", MFD_CLOEXEC);
	uint32_t version;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(restart_state_attach(&r, fd), -EPROTO); /* empty */
	assert_int_equal(ftruncate(fd, 1 << 20), 0);
	assert_int_equal(restart_state_attach(&r, fd), -EPROTO); /* zeros */
	close(fd);

	/* Another version of the format, or a file cut short. */
	assert_int_equal(restart_state_create(&s, 10, 10), 0);
	version = RESTART_STATE_VERSION + 1;
	assert_int_equal(pwrite(s.fd, &version, sizeof(version), 4),
			 sizeof(version));
	assert_int_equal(restart_state_attach(&r, s.fd), -EPROTO);
	version = RESTART_STATE_VERSION;
	assert_int_equal(pwrite(s.fd, &version, sizeof(version), 4),
			 sizeof(version));
	assert_int_equal(restart_state_attach(&r, s.fd), 0);
	restart_state_close(&r);
	assert_int_equal(ftruncate(s.fd, 4096), 0);
	assert_int_equal(restart_state_attach(&r, s.fd), -EPROTO);
	restart_state_close(&s);
}

/* Capacities as a daemon would ask (millions of ids) cost no memory
 * until slots are used: the file is sparse. */
static void test_the_file_is_sparse(void **state)
{
	struct restart_state s;
	struct stat st;

	(void)state;
	assert_int_equal(restart_state_create(&s, 1u << 22, 1u << 20), 0);
	for (uint64_t id = 2; id < 1000; id++)
		restart_state_put_inode(&s, id, 1, id, S_IFREG, 1, -1, 0, NULL,
					0);
	assert_int_equal(fstat(s.fd, &st), 0);
	assert_true(st.st_size > (off_t)(1u << 22) * 192);
	assert_true(st.st_blocks * 512 < 4 << 20);
	assert_true(st.st_blocks * 512 >= 998 * 192);
	/* Slots no longer used give their pages back; used ones stay. */
	for (uint64_t id = 2; id < 1000; id++)
		if (id != 500)
			restart_state_drop_inode(&s, id);
	restart_state_trim_inodes(&s);
	assert_int_equal(fstat(s.fd, &st), 0);
	assert_true(st.st_blocks * 512 <= 3 * 4096 + 4096);
	assert_non_null(restart_state_inode(&s, 500));
	assert_int_equal(restart_state_inode(&s, 500)->ino, 500);
	assert_null(restart_state_inode(&s, 501));
	restart_state_close(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slots_read_back_through_another_mapping),
		cmocka_unit_test(test_ids_beyond_capacity_make_it_incomplete),
		cmocka_unit_test(test_attach_refuses_what_is_not_a_state),
		cmocka_unit_test(test_the_file_is_sparse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
