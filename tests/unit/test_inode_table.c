/* Unit tests: the inode table's references, forget, growth and its
 * bounded cache of O_PATH fds reopened from file handles. */
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
#include <string.h>
#include <sys/stat.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/inode_table.h"
#include "core/restart_state.h"

#define NFILES 10

/* itable_ref's entry, or NULL if it failed. */
static struct bfs_inode *ref_or_null(struct inode_table *t, int fd, dev_t dev,
				     ino_t ino, mode_t mode)
{
	struct bfs_inode *n = NULL;

	return itable_ref(t, fd, dev, ino, mode, &n) == 0 ? n : NULL;
}

static char dir[64];

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

static int open_file(int i)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/f%d", dir, i);
	return open_path(p);
}

/* Reference file i; returns its entry. */
static struct bfs_inode *ref_file(struct inode_table *t, int i)
{
	int fd = open_file(i);
	struct stat st;

	assert_int_equal(fstat(fd, &st), 0);
	return ref_or_null(t, fd, st.st_dev, st.st_ino, st.st_mode);
}

static int setup(void **state)
{
	struct inode_table *t = malloc(sizeof(*t));

	strcpy(dir, "/var/tmp/bfs-itab-XXXXXX");
	if (!t || !mkdtemp(dir))
		return -1;
	for (int i = 0; i < NFILES; i++) {
		char p[128];
		FILE *f;

		snprintf(p, sizeof(p), "%s/f%d", dir, i);
		f = fopen(p, "w");
		if (!f)
			return -1;
		fclose(f);
	}
	if (itable_init(t, open_path(dir), 4) != 0)
		return -1;
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	itable_destroy(*state);
	free(*state);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_ref_and_forget(void **state)
{
	struct inode_table *t = *state;
	int fd1 = open_file(0), fd2 = open_file(0);
	struct stat st;
	struct bfs_inode *a, *b;

	assert_int_equal(fstat(fd1, &st), 0);
	a = ref_or_null(t, fd1, st.st_dev, st.st_ino, st.st_mode);
	assert_non_null(a);
	assert_int_equal(a->fd, fd1);
	assert_int_equal(a->nlookup, 1);
	assert_int_equal(a->type, S_IFREG);
	assert_non_null(a->handle);
	assert_int_equal(itable_count(t), 1);

	/* The same inode again: same entry, the new fd is closed. */
	b = ref_or_null(t, fd2, st.st_dev, st.st_ino, st.st_mode);
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
	assert_int_equal(itable_idle_fds(t), 0);
}

static void test_forget_more_than_held(void **state)
{
	struct inode_table *t = *state;
	struct bfs_inode *a = ref_file(t, 1);
	int fd = a->fd;

	/* A forget_multi may carry the whole count at once. */
	assert_int_equal(itable_forget(t, a, 1000), 0);
	assert_false(fd_open(fd));
	assert_int_equal(itable_count(t), 0);
}

static void test_root_is_never_freed(void **state)
{
	struct inode_table *t = *state;
	int fd = open_path(dir);
	struct stat st;
	struct bfs_inode *r;

	assert_int_equal(fstat(fd, &st), 0);
	r = ref_or_null(t, fd, st.st_dev, st.st_ino, st.st_mode);
	assert_ptr_equal(r, &t->root);
	assert_false(fd_open(fd));
	itable_forget(t, r, 1000000);
	assert_true(fd_open(t->root.fd));
	assert_int_equal(itable_get_fd(t, r), t->root.fd);
	itable_put_fd(t, r);
	assert_int_equal(itable_count(t), 0);
}

/* At most 4 idle fds stay open; the others are reopened on demand. */
static void test_idle_fds_are_bounded(void **state)
{
	struct inode_table *t = *state;
	struct bfs_inode *e[NFILES];
	int open_now = 0;

	for (int i = 0; i < NFILES; i++)
		e[i] = ref_file(t, i);
	assert_int_equal(itable_idle_fds(t), 4);
	for (int i = 0; i < NFILES; i++)
		open_now += e[i]->fd >= 0;
	assert_int_equal(open_now, 4);
	/* The newest are kept, the oldest closed. */
	assert_int_equal(e[0]->fd, -1);
	assert_true(e[NFILES - 1]->fd >= 0);

	/* Borrowing reopens from the handle: same inode. */
	for (int i = 0; i < NFILES; i++) {
		struct stat a, b;
		int fd = itable_get_fd(t, e[i]);
		int ref = open_file(i);

		assert_true(fd >= 0);
		assert_int_equal(fstatat(fd, "", &a, AT_EMPTY_PATH), 0);
		assert_int_equal(fstat(ref, &b), 0);
		assert_int_equal(a.st_ino, b.st_ino);
		close(ref);
	}
	/* Borrowed fds are never closed, whatever the cap. */
	assert_int_equal(itable_idle_fds(t), 0);
	for (int i = 0; i < NFILES; i++)
		assert_true(e[i]->fd >= 0 && fd_open(e[i]->fd));
	for (int i = 0; i < NFILES; i++)
		itable_put_fd(t, e[i]);
	assert_int_equal(itable_idle_fds(t), 4);

	/* Two borrowers of one entry share its fd. */
	int f1 = itable_get_fd(t, e[0]);
	int f2 = itable_get_fd(t, e[0]);

	assert_int_equal(f1, f2);
	itable_put_fd(t, e[0]);
	assert_true(fd_open(f1));
	itable_put_fd(t, e[0]);
	for (int i = 0; i < NFILES; i++)
		assert_int_equal(itable_forget(t, e[i], 1), 0);
	assert_int_equal(itable_idle_fds(t), 0);
	assert_int_equal(itable_count(t), 0);
}

/* A deleted inode whose fd was closed is reported stale, not crashed on. */
static void test_stale_handle(void **state)
{
	struct inode_table *t = *state;
	struct bfs_inode *e[NFILES];
	char p[128];
	int fd;

	for (int i = 0; i < NFILES; i++)
		e[i] = ref_file(t, i);
	assert_int_equal(e[0]->fd, -1);
	snprintf(p, sizeof(p), "%s/f0", dir);
	assert_int_equal(unlink(p), 0);
	fd = itable_get_fd(t, e[0]);
	if (fd >= 0)  /* some file systems still find it in cache */
		itable_put_fd(t, e[0]);
	else
		assert_int_equal(fd, -ESTALE);
	for (int i = 0; i < NFILES; i++)
		itable_forget(t, e[i], 1);
}

/* Many distinct keys: the table grows and finds every one again. */
static void test_growth(void **state)
{
	struct inode_table *t = *state;
	enum { N = 5000 };
	struct bfs_inode **e = calloc(N, sizeof(*e));
	int fd0 = open_file(0);

	assert_non_null(e);
	for (int i = 0; i < N; i++) {
		e[i] = ref_or_null(t, dup(fd0), 77, (ino_t)i + 1, S_IFREG);
		assert_non_null(e[i]);
	}
	assert_int_equal(itable_count(t), N);
	assert_true(t->nbuckets >= N / 2);
	assert_int_equal(itable_idle_fds(t), 4);
	for (int i = 0; i < N; i++) {
		assert_ptr_equal(ref_or_null(t, dup(fd0), 77, (ino_t)i + 1, S_IFREG),
				 e[i]);
		assert_int_equal(itable_forget(t, e[i], 2), 0);
	}
	assert_int_equal(itable_count(t), 0);
	close(fd0);
	free(e);
}

struct worker_arg {
	struct inode_table *t;
	int base_fd;
	int seed;
};

static void *hammer(void *p)
{
	struct worker_arg *a = p;

	for (int round = 0; round < 3000; round++) {
		ino_t ino = (ino_t)((round * 7 + a->seed) % 37) + 100;
		struct bfs_inode *n = ref_or_null(a->t, dup(a->base_fd), 5, ino,
						 S_IFREG);
		int fd;

		if (!n)
			return (void *)1;
		fd = itable_get_fd(a->t, n);
		if (fd < 0 || !fd_open(fd))
			return (void *)2;
		itable_put_fd(a->t, n);
		itable_forget(a->t, n, 1);
	}
	return NULL;
}

/* Concurrent lookups, borrows and forgets of the same keys balance out. */
static void test_threads(void **state)
{
	struct inode_table *t = *state;
	struct worker_arg a[4];
	pthread_t th[4];
	void *res;

	for (int i = 0; i < 4; i++) {
		a[i] = (struct worker_arg){ t, open_file(1), i };
		assert_int_equal(pthread_create(&th[i], NULL, hammer, &a[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], &res), 0);
		assert_null(res);
		close(a[i].base_fd);
	}
	assert_int_equal(itable_count(t), 0);
	assert_int_equal(itable_idle_fds(t), 0);
}

/* Without CAP_DAC_READ_SEARCH (a daemon run by a user) handles cannot be
 * reopened: entries must pin their fds, and every borrow must work. */
static void test_without_handle_capability(void **state)
{
	pid_t pid;
	int status;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct __user_cap_header_struct hdr = {
			_LINUX_CAPABILITY_VERSION_3, 0 };
		struct __user_cap_data_struct data[2];
		struct inode_table t;
		struct bfs_inode *e[NFILES];
		int ok = 1;

		if (syscall(SYS_capget, &hdr, data))
			_exit(2);
		data[CAP_TO_INDEX(CAP_DAC_READ_SEARCH)].effective &=
			~CAP_TO_MASK(CAP_DAC_READ_SEARCH);
		if (syscall(SYS_capset, &hdr, data))
			_exit(3);
		if (itable_init(&t, open_path(dir), 4) != 0)
			_exit(4);
		ok &= t.no_handles;
		for (int i = 0; i < NFILES; i++) {
			e[i] = ref_file(&t, i);
			ok &= e[i] && !e[i]->handle && e[i]->fd >= 0;
		}
		for (int i = 0; i < NFILES; i++) {
			int fd = itable_get_fd(&t, e[i]);

			ok &= fd >= 0;
			if (fd >= 0)
				itable_put_fd(&t, e[i]);
		}
		itable_destroy(&t);
		_exit(ok ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* Node ids are small slot numbers that find their entries, the root's is
 * ITABLE_ROOT_ID, and a forgotten entry's id finds nothing until another
 * entry is given it. */
static void test_node_ids(void **state)
{
	struct inode_table *t = *state;
	struct bfs_inode *a = ref_file(t, 0), *b = ref_file(t, 1), *c;
	uint64_t aid;

	assert_ptr_equal(itable_find(t, ITABLE_ROOT_ID), &t->root);
	assert_int_equal(t->root.id, ITABLE_ROOT_ID);
	assert_non_null(a);
	assert_non_null(b);
	assert_true(a->id > ITABLE_ROOT_ID && a->id < 100);
	assert_true(b->id > ITABLE_ROOT_ID && b->id < 100);
	assert_int_not_equal(a->id, b->id);
	assert_ptr_equal(itable_find(t, a->id), a);
	assert_ptr_equal(itable_find(t, b->id), b);
	assert_null(itable_find(t, 0));
	assert_null(itable_find(t, 100000));
	/* An id no entry has names the stale entry: ESTALE, never a crash,
	 * and forgetting it changes nothing. */
	assert_ptr_equal(itable_find_or_stale(t, 100000), &t->stale);
	assert_ptr_equal(itable_find_or_stale(t, a->id), a);
	assert_int_equal(itable_get_fd(t, &t->stale), -ESTALE);
	assert_int_equal(itable_forget(t, &t->stale, 5), 1);
	assert_int_equal(itable_get_fd(t, itable_find_or_stale(t, 0)), -ESTALE);
	aid = a->id;
	assert_int_equal(itable_forget(t, a, 1), 0);
	assert_null(itable_find(t, aid));
	assert_ptr_equal(itable_find(t, b->id), b);
	c = ref_file(t, 2);
	assert_non_null(c);
	assert_int_equal(c->id, aid);
	assert_ptr_equal(itable_find(t, aid), c);
	itable_forget(t, b, 1);
	itable_forget(t, c, 1);
}

/*
 * A successor's table, put back from the state its predecessor kept: the
 * same node ids name the same inodes with the same lookup counts, their
 * fds reopen from the handles, a forgotten one is not back, a file
 * deleted meanwhile answers ESTALE, and new entries get ids of their own.
 */
static void test_restore_from_a_predecessors_state(void **state)
{
	struct inode_table *t = *state, next;
	struct restart_state s, r;
	struct bfs_inode *e[4], *back, *fresh;
	uint64_t id[4];
	char path[128];
	struct stat st, st2;

	(void)state;
	assert_int_equal(restart_state_create(&s, 1000, 100), 0);
	e[0] = ref_file(t, 0);
	itable_keep_state(t, &s); /* an entry made before is written too */
	for (int i = 1; i < 4; i++)
		e[i] = ref_file(t, i);
	for (int i = 0; i < 4; i++)
		id[i] = e[i]->id;
	itable_ref_again(t, e[1]);
	assert_int_equal(itable_forget(t, e[2], 1), 0);
	snprintf(path, sizeof(path), "%s/f3", dir);
	assert_int_equal(unlink(path), 0);

	/* The predecessor dies: its fds close (the deleted file's inode goes
	 * with them). Its state stays, in the memfd. */
	itable_destroy(t);
	assert_int_equal(itable_init(t, open_path(dir), 4), 0);

	/* The successor: another table, the state through another mapping. */
	assert_int_equal(restart_state_attach(&r, s.fd), 0);
	assert_int_equal(itable_init(&next, open_path(dir), 4), 0);
	assert_int_equal(itable_restore(&next, &r), 3);
	assert_int_equal(itable_count(&next), 3);
	for (int i = 0; i < 2; i++) {
		int fd;

		back = itable_find(&next, id[i]);
		assert_non_null(back);
		assert_int_equal(back->nlookup, i == 1 ? 2 : 1);
		fd = itable_get_fd(&next, back);
		assert_true(fd >= 0);
		assert_int_equal(fstat(fd, &st), 0);
		snprintf(path, sizeof(path), "%s/f%d", dir, i);
		assert_int_equal(stat(path, &st2), 0);
		assert_int_equal(st.st_ino, st2.st_ino);
		itable_put_fd(&next, back);
	}
	assert_null(itable_find(&next, id[2]));
	/* The deleted file: gone, even where its inode could still be opened
	 * by its handle (one being freed), and gone for good. */
	back = itable_find(&next, id[3]);
	assert_non_null(back);
	assert_int_equal(itable_get_fd(&next, back), -ESTALE);
	/* A lookup of an inode it has gives the same entry; a new one a new
	 * id, not one the kernel still holds. */
	assert_ptr_equal(ref_file(&next, 0), itable_find(&next, id[0]));
	fresh = ref_file(&next, 4);
	assert_non_null(fresh);
	for (int i = 0; i < 4; i++)
		if (i != 2)
			assert_int_not_equal(fresh->id, id[i]);
	/* A table that has entries is not restored over. */
	assert_int_equal(itable_restore(&next, &r), -EBUSY);
	itable_destroy(&next);
	restart_state_close(&r);
	restart_state_close(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ref_and_forget, setup, teardown),
		cmocka_unit_test_setup_teardown(test_node_ids, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_from_a_predecessors_state,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_forget_more_than_held, setup, teardown),
		cmocka_unit_test_setup_teardown(test_root_is_never_freed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_fds_are_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_handle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_growth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_without_handle_capability,
						setup, teardown),
	};

	return cmocka_run_group_tests_name("inode_table", tests, NULL, NULL);
}
