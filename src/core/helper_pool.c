/* Helper threads that grow while all are busy. */
#include "core/helper_pool.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int helper_pool_init(struct helper_pool *p, unsigned max)
{
	memset(p, 0, sizeof(*p));
	p->max = max ? max : 1;
	p->threads = calloc(p->max, sizeof(*p->threads));
	if (!p->threads)
		return -ENOMEM;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	return 0;
}

static void *helper_main(void *arg)
{
	struct helper_pool *p = arg;
	sigset_t wake;

	/* helper_pool_stop interrupts a helper blocked in a system call (a
	 * flock that waits, say), as session_loop.c does its workers. */
	sigemptyset(&wake);
	sigaddset(&wake, WAKE_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &wake, NULL);
	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct helper_work *w;

		while (!p->head && !p->stopped) {
			p->idle++;
			pthread_cond_wait(&p->cond, &p->lock);
			p->idle--;
		}
		w = p->head;
		if (!w)
			break;
		p->head = w->next;
		if (!p->head)
			p->tail = NULL;
		pthread_mutex_unlock(&p->lock);
		w->run(w);
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int helper_pool_push(struct helper_pool *p, struct helper_work *w)
{
	pthread_mutex_lock(&p->lock);
	if (p->stopped) {
		pthread_mutex_unlock(&p->lock);
		return -ESHUTDOWN;
	}
	/* A busy helper may be waiting for this very work: one more. */
	if (p->idle == 0 && p->count < p->max &&
	    pthread_create(&p->threads[p->count], NULL, helper_main, p) == 0)
		p->count++;
	if (p->count == 0) {
		pthread_mutex_unlock(&p->lock);
		return -EAGAIN;
	}
	w->next = NULL;
	if (p->tail)
		p->tail->next = w;
	else
		p->head = w;
	p->tail = w;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

void helper_pool_stop(struct helper_pool *p)
{
	if (!p->threads)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopped = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->count; i++) {
		const struct timespec pause = { 0, 10 * 1000 * 1000 };
		unsigned waited = 0;

		/* A moment to finish, then an interruption every 10 ms. */
		while (pthread_tryjoin_np(p->threads[i], NULL) == EBUSY) {
			if (++waited > 10)
				pthread_kill(p->threads[i], WAKE_SIGNAL);
			nanosleep(&pause, NULL);
		}
	}
	p->count = 0;
}

void helper_pool_destroy(struct helper_pool *p)
{
	if (!p->threads)
		return;
	free(p->threads);
	p->threads = NULL;
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
}
