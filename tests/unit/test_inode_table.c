/* Unit tests: the inode table's references, forget and growth. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "inode_table.h"

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1 || errno != EBADF;
}

static int open_path(const char *p)
{
	int fd = open(p, O_PATH | O_NOFOLLOW | O_CLOEXEC);

	assert_true(fd >= 0);
	return fd;
}

static int setup(void **state)
{
	struct inode_table *t = malloc(sizeof(*t));

	if (!t || itable_init(t, open_path("/")) != 0)
		return -1;
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	itable_destroy(*state);
	free(*state);
	return 0;
}

static void test_ref_and_forget(void **state)
{
	struct inode_table *t = *state;
	struct stat st;
	int fd1 = open_path("/tmp"), fd2 = open_path("/tmp");
	struct bfs_inode *a, *b;

	assert_int_equal(fstat(fd1, &st), 0);
	a = itable_ref(t, fd1, st.st_dev, st.st_ino, st.st_mode);
	assert_non_null(a);
	assert_int_equal(a->fd, fd1);
	assert_int_equal(a->nlookup, 1);
	assert_int_equal(a->type, S_IFDIR);
	assert_int_equal(itable_count(t), 1);

	/* The same inode again: same entry, the new fd is closed. */
	b = itable_ref(t, fd2, st.st_dev, st.st_ino, st.st_mode);
	assert_ptr_equal(a, b);
	assert_int_equal(a->nlookup, 2);
	assert_false(fd_open(fd2));
	assert_int_equal(itable_count(t), 1);

	itable_ref_again(t, a);
	assert_int_equal(itable_forget(t, a, 2), 1);
	assert_true(fd_open(fd1));
	assert_int_equal(itable_forget(t, a, 1), 0);
	assert_false(fd_open(fd1));
	assert_int_equal(itable_count(t), 0);
}

static void test_forget_more_than_held(void **state)
{
	struct inode_table *t = *state;
	struct stat st;
	int fd = open_path("/tmp");
	struct bfs_inode *a;

	assert_int_equal(fstat(fd, &st), 0);
	a = itable_ref(t, fd, st.st_dev, st.st_ino, st.st_mode);
	/* A forget_multi may carry the whole count at once. */
	assert_int_equal(itable_forget(t, a, 1000), 0);
	assert_false(fd_open(fd));
	assert_int_equal(itable_count(t), 0);
}

static void test_root_is_never_freed(void **state)
{
	struct inode_table *t = *state;
	struct stat st;
	int fd = open_path("/");
	struct bfs_inode *r;

	assert_int_equal(fstat(fd, &st), 0);
	r = itable_ref(t, fd, st.st_dev, st.st_ino, st.st_mode);
	assert_ptr_equal(r, &t->root);
	assert_false(fd_open(fd));
	itable_forget(t, r, 1000000);
	assert_true(fd_open(t->root.fd));
	assert_int_equal(itable_count(t), 0);
}

/* Many distinct keys: the table grows and finds every one again. */
static void test_growth(void **state)
{
	struct inode_table *t = *state;
	enum { N = 5000 };
	struct bfs_inode **e = calloc(N, sizeof(*e));
	int fd0 = open_path("/tmp");

	assert_non_null(e);
	for (int i = 0; i < N; i++) {
		int fd = dup(fd0);

		e[i] = itable_ref(t, fd, 77, (ino_t)i + 1, S_IFREG);
		assert_non_null(e[i]);
	}
	assert_int_equal(itable_count(t), N);
	assert_true(t->nbuckets >= N / 2);
	for (int i = 0; i < N; i++) {
		int fd = dup(fd0);

		assert_ptr_equal(itable_ref(t, fd, 77, (ino_t)i + 1, S_IFREG), e[i]);
		assert_int_equal(itable_forget(t, e[i], 2), 0);
	}
	assert_int_equal(itable_count(t), 0);
	close(fd0);
	free(e);
}

struct worker_arg {
	struct inode_table *t;
	int base_fd;
};

static void *hammer(void *p)
{
	struct worker_arg *a = p;

	for (int round = 0; round < 2000; round++) {
		ino_t ino = (ino_t)(round % 37) + 100;
		struct bfs_inode *n = itable_ref(a->t, dup(a->base_fd), 5, ino,
						 S_IFREG);

		if (!n)
			return (void *)1;
		itable_forget(a->t, n, 1);
	}
	return NULL;
}

/* Concurrent lookups and forgets of the same keys balance out. */
static void test_threads(void **state)
{
	struct inode_table *t = *state;
	struct worker_arg a = { t, open_path("/tmp") };
	pthread_t th[4];
	void *res;

	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, hammer, &a), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], &res), 0);
		assert_null(res);
	}
	assert_int_equal(itable_count(t), 0);
	close(a.base_fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ref_and_forget, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forget_more_than_held, setup, teardown),
		cmocka_unit_test_setup_teardown(test_root_is_never_freed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_growth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
	};

	return cmocka_run_group_tests_name("inode_table", tests, NULL, NULL);
}
