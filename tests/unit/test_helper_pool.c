/* Unit tests: the helper pool runs what it is given, in order, grows while
 * every helper waits, finishes its queue when stopped, and refuses after. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "core/helper_pool.h"

struct item {
	struct helper_work w;
	int id;
	int *log;
	_Atomic int *n;
};

static void record(struct helper_work *w)
{
	struct item *it = (struct item *)w;

	it->log[atomic_fetch_add(it->n, 1)] = it->id;
}

/* count items that record their ids, through a pool of at most max
 * threads, which never has more meanwhile; stopping runs them all, and
 * then the pool refuses more. With one thread they run in order. */
static void run_records(unsigned max, int count)
{
	struct helper_pool p;
	struct item items[64];
	int log[64];
	_Atomic int n = 0;

	assert_int_equal(helper_pool_init(&p, max), 0);
	for (int i = 0; i < count; i++) {
		items[i] = (struct item){ .w.run = record, .id = i, .log = log, .n = &n };
		assert_int_equal(helper_pool_push(&p, &items[i].w), 0);
		assert_true(p.count <= max);
	}
	helper_pool_stop(&p);
	assert_int_equal(atomic_load(&n), count);
	for (int i = 0; i < count && max == 1; i++)
		assert_int_equal(log[i], i);
	assert_int_equal(helper_pool_push(&p, &items[0].w), -ESHUTDOWN);
	assert_int_equal(atomic_load(&n), count);
	helper_pool_destroy(&p);
}

static void test_one_thread_keeps_order(void **state)
{
	(void)state;
	run_records(1, 64);
}

static void test_limit(void **state)
{
	(void)state;
	run_records(2, 64);
}

/* The first item waits until the second has run: only a second thread,
 * started because none was idle, lets it finish. */
struct gate {
	struct helper_work w;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool open;
	bool timed_out;
};

static struct gate gate = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
};

static void wait_for_gate(struct helper_work *w)
{
	struct timespec until;

	(void)w;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	pthread_mutex_lock(&gate.lock);
	while (!gate.open && !gate.timed_out)
		if (pthread_cond_timedwait(&gate.cond, &gate.lock, &until) == ETIMEDOUT)
			gate.timed_out = true;
	pthread_mutex_unlock(&gate.lock);
}

static void open_gate(struct helper_work *w)
{
	(void)w;
	pthread_mutex_lock(&gate.lock);
	gate.open = true;
	pthread_cond_broadcast(&gate.cond);
	pthread_mutex_unlock(&gate.lock);
}

static void test_grows_while_all_wait(void **state)
{
	struct helper_pool p;
	struct helper_work waiter = { .run = wait_for_gate };
	struct helper_work opener = { .run = open_gate };

	(void)state;
	assert_int_equal(helper_pool_init(&p, 4), 0);
	assert_int_equal(helper_pool_push(&p, &waiter), 0);
	/* Let the first helper take the waiter and block. */
	for (int i = 0; i < 200 && p.idle == 0; i++)
		usleep(1000);
	usleep(20000);
	assert_int_equal(helper_pool_push(&p, &opener), 0);
	helper_pool_stop(&p);
	assert_true(gate.open);
	assert_false(gate.timed_out);
	helper_pool_destroy(&p);
}

static void wake_noop(int sig)
{
	(void)sig;
}

int main(void)
{
	/* As the daemon: helper_pool_stop may interrupt a busy helper. */
	struct sigaction sa = { .sa_handler = wake_noop };
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_thread_keeps_order),
		cmocka_unit_test(test_grows_while_all_wait),
		cmocka_unit_test(test_limit),
	};

	sigaction(SIGUSR2, &sa, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
