/* The set of open handles, a locked doubly linked list, and their ids. */
#include "core/open_handles.h"

#include <errno.h>
#include <stddef.h>

int open_handles_init(struct open_handles *s)
{
	int rc = id_table_init(&s->ids, 1);

	if (rc)
		return rc;
	pthread_mutex_init(&s->lock, NULL);
	s->head = NULL;
	s->state = NULL;
	s->kind = RESTART_FILE;
	return 0;
}

void open_handles_destroy(struct open_handles *s)
{
	id_table_destroy(&s->ids);
	pthread_mutex_destroy(&s->lock);
}

struct open_handle *open_handles_find(struct open_handles *s, uint64_t id)
{
	return id_table_get(&s->ids, id);
}

void open_handles_keep_state(struct open_handles *s,
			     struct restart_state *state,
			     enum restart_open_kind kind)
{
	pthread_mutex_lock(&s->lock);
	s->state = state;
	s->kind = kind;
	pthread_mutex_unlock(&s->lock);
}

/* h has its id: into the state, then the list. */
static void link_in(struct open_handles *s, struct open_handle *h,
		    const struct restart_open *o)
{
	if (s->state)
		restart_state_put_open(s->state, s->kind, h->id, o);
	pthread_mutex_lock(&s->lock);
	h->prev = NULL;
	h->next = s->head;
	if (s->head)
		s->head->prev = h;
	s->head = h;
	pthread_mutex_unlock(&s->lock);
}

int open_handles_add(struct open_handles *s, struct open_handle *h,
		     const struct restart_open *o)
{
	h->id = id_table_add(&s->ids, h);
	if (!h->id)
		return -errno;
	link_in(s, h, o);
	return 0;
}

int open_handles_put(struct open_handles *s, struct open_handle *h,
		     uint64_t id, const struct restart_open *o)
{
	int rc = id_table_put(&s->ids, id, h);

	if (rc)
		return rc;
	h->id = id;
	link_in(s, h, o);
	return 0;
}

static void del_locked(struct open_handles *s, struct open_handle *h)
{
	if (s->state)
		restart_state_drop_open(s->state, s->kind, h->id);
	id_table_del(&s->ids, h->id);
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
