/* Per-inode FIFO byte-range lock. */
#include "core/range_lock.h"

#include <stddef.h>

static bool overlaps(const struct range_lock_entry *a,
		     const struct range_lock_entry *b)
{
	return a->start < b->end && b->start < a->end;
}

/* Granted once no earlier entry (holder or waiter) overlaps it. */
static bool grantable(const struct range_lock_entry *e)
{
	for (const struct range_lock_entry *p = e->prev; p; p = p->prev)
		if (overlaps(p, e))
			return false;
	return true;
}

void range_lock_init(struct range_lock *rl)
{
	pthread_mutex_init(&rl->mutex, NULL);
	rl->head = rl->tail = NULL;
}

void range_lock_destroy(struct range_lock *rl)
{
	pthread_mutex_destroy(&rl->mutex);
}

static void append(struct range_lock *rl, struct range_lock_entry *e,
		   uint64_t start, uint64_t end)
{
	e->start = start;
	e->end = end > start ? end : start + 1;
	e->granted = false;
	e->next = NULL;
	e->prev = rl->tail;
	if (rl->tail)
		rl->tail->next = e;
	else
		rl->head = e;
	rl->tail = e;
}

static void unlink_entry(struct range_lock *rl, struct range_lock_entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		rl->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		rl->tail = e->prev;
}

void range_lock_acquire(struct range_lock *rl, struct range_lock_entry *e,
			uint64_t start, uint64_t end)
{
	pthread_mutex_lock(&rl->mutex);
	append(rl, e, start, end);
	if (!grantable(e)) {
		pthread_cond_init(&e->cond, NULL);
		while (!grantable(e))
			pthread_cond_wait(&e->cond, &rl->mutex);
		pthread_cond_destroy(&e->cond);
	}
	e->granted = true;
	pthread_mutex_unlock(&rl->mutex);
}

bool range_lock_try(struct range_lock *rl, struct range_lock_entry *e,
		    uint64_t start, uint64_t end)
{
	bool ok;

	pthread_mutex_lock(&rl->mutex);
	append(rl, e, start, end);
	ok = grantable(e);
	if (ok)
		e->granted = true;
	else
		unlink_entry(rl, e);
	pthread_mutex_unlock(&rl->mutex);
	return ok;
}

void range_lock_release(struct range_lock *rl, struct range_lock_entry *e)
{
	struct range_lock_entry *next;

	pthread_mutex_lock(&rl->mutex);
	next = e->next;
	unlink_entry(rl, e);
	/* Wake every later waiter this entry may have held back. */
	for (; next; next = next->next)
		if (!next->granted && overlaps(next, e) && grantable(next))
			pthread_cond_signal(&next->cond);
	pthread_mutex_unlock(&rl->mutex);
}
