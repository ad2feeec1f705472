/* The set of open handles, a locked doubly linked list. */
#include "core/open_handles.h"

#include <stddef.h>

void open_handles_init(struct open_handles *s)
{
	pthread_mutex_init(&s->lock, NULL);
	s->head = NULL;
}

void open_handles_destroy(struct open_handles *s)
{
	pthread_mutex_destroy(&s->lock);
}

void open_handles_add(struct open_handles *s, struct open_handle *h)
{
	pthread_mutex_lock(&s->lock);
	h->prev = NULL;
	h->next = s->head;
	if (s->head)
		s->head->prev = h;
	s->head = h;
	pthread_mutex_unlock(&s->lock);
}

static void del_locked(struct open_handles *s, struct open_handle *h)
{
	if (h->prev)
		h->prev->next = h->next;
	else
		s->head = h->next;
	if (h->next)
		h->next->prev = h->prev;
}

void open_handles_del(struct open_handles *s, struct open_handle *h)
{
	pthread_mutex_lock(&s->lock);
	del_locked(s, h);
	pthread_mutex_unlock(&s->lock);
}

struct open_handle *open_handles_pop(struct open_handles *s)
{
	struct open_handle *h;

	pthread_mutex_lock(&s->lock);
	h = s->head;
	if (h)
		del_locked(s, h);
	pthread_mutex_unlock(&s->lock);
	return h;
}

void open_handles_each(struct open_handles *s,
		       void (*fn)(struct open_handle *h, void *arg), void *arg)
{
	pthread_mutex_lock(&s->lock);
	for (struct open_handle *h = s->head; h; h = h->next)
		fn(h, arg);
	pthread_mutex_unlock(&s->lock);
}
