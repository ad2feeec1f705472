/* Ids for pointers: a two-level array of slots read without a lock, and a
 * stack of freed ids. */
#include "core/id_table.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_SLOTS (1u << ID_TABLE_CHUNK_BITS)

int id_table_init(struct id_table *t, uint64_t first)
{
	memset(t, 0, sizeof(*t));
	if (first >= ID_TABLE_LIMIT)
		return -ERANGE;
	/* 512 KiB of address space; the pages of unused chunks stay untouched. */
	t->chunks = calloc(ID_TABLE_CHUNKS, sizeof(*t->chunks));
	if (!t->chunks)
		return -ENOMEM;
	t->first = t->next = first;
	pthread_mutex_init(&t->lock, NULL);
	return 0;
}

void id_table_destroy(struct id_table *t)
{
	if (!t->chunks)
		return;
	for (size_t i = 0; i < ID_TABLE_CHUNKS; i++)
		free((void *)atomic_load_explicit(&t->chunks[i],
						  memory_order_relaxed));
	free(t->chunks);
	free(t->free);
	pthread_mutex_destroy(&t->lock);
	memset(t, 0, sizeof(*t));
}

/* The slot of id, its chunk made if need be (lock held). NULL: ENOMEM. */
static _Atomic(void *) *slot_locked(struct id_table *t, uint64_t id)
{
	_Atomic(void *) *c = atomic_load_explicit(
		&t->chunks[id >> ID_TABLE_CHUNK_BITS], memory_order_relaxed);

	if (!c) {
		c = calloc(CHUNK_SLOTS, sizeof(*c));
		if (!c)
			return NULL;
		atomic_store_explicit(&t->chunks[id >> ID_TABLE_CHUNK_BITS], c,
				      memory_order_release);
	}
	return &c[id & (CHUNK_SLOTS - 1)];
}

static int push_free_locked(struct id_table *t, uint64_t id)
{
	if (t->nfree == t->free_cap) {
		size_t cap = t->free_cap ? t->free_cap * 2 : 64;
		uint64_t *f = realloc(t->free, cap * sizeof(*f));

		if (!f)
			return -ENOMEM;
		t->free = f;
		t->free_cap = cap;
	}
	t->free[t->nfree++] = id;
	return 0;
}

uint64_t id_table_add(struct id_table *t, void *obj)
{
	_Atomic(void *) *s;
	uint64_t id;
	bool from_free;

	pthread_mutex_lock(&t->lock);
	from_free = t->nfree > 0;
	if (from_free) {
		id = t->free[t->nfree - 1];
	} else if (t->next < ID_TABLE_LIMIT) {
		id = t->next;
	} else {
		pthread_mutex_unlock(&t->lock);
		errno = ENOSPC;
		return 0;
	}
	s = slot_locked(t, id);
	if (!s) {
		pthread_mutex_unlock(&t->lock);
		errno = ENOMEM;
		return 0;
	}
	if (from_free)
		t->nfree--;
	else
		t->next++;
	atomic_store_explicit(s, obj, memory_order_release);
	t->count++;
	pthread_mutex_unlock(&t->lock);
	return id;
}

int id_table_put(struct id_table *t, uint64_t id, void *obj)
{
	_Atomic(void *) *s;
	int rc = 0;

	if (id < t->first || id >= ID_TABLE_LIMIT)
		return -ERANGE;
	pthread_mutex_lock(&t->lock);
	s = slot_locked(t, id);
	if (!s) {
		rc = -ENOMEM;
	} else if (atomic_load_explicit(s, memory_order_relaxed)) {
		rc = -EEXIST;
	} else if (id >= t->next) {
		/* The ids skipped over become free, highest first so that
		 * the lowest is given first. */
		uint64_t skip = id;

		while (skip > t->next && rc == 0)
			rc = push_free_locked(t, --skip);
		if (rc == 0)
			t->next = id + 1;
		else
			t->nfree -= id - 1 - skip; /* undo */
	} else {
		/* A free id below next: take it off the stack. */
		for (size_t i = 0; i < t->nfree; i++)
			if (t->free[i] == id) {
				t->free[i] = t->free[--t->nfree];
				break;
			}
	}
	if (rc == 0) {
		atomic_store_explicit(s, obj, memory_order_release);
		t->count++;
	}
	pthread_mutex_unlock(&t->lock);
	return rc;
}

void *id_table_get(struct id_table *t, uint64_t id)
{
	_Atomic(void *) *c;

	if (id >= ID_TABLE_LIMIT)
		return NULL;
	c = atomic_load_explicit(&t->chunks[id >> ID_TABLE_CHUNK_BITS],
				 memory_order_acquire);
	if (!c)
		return NULL;
	return atomic_load_explicit(&c[id & (CHUNK_SLOTS - 1)],
				    memory_order_acquire);
}

void id_table_del(struct id_table *t, uint64_t id)
{
	_Atomic(void *) *s;

	pthread_mutex_lock(&t->lock);
	s = slot_locked(t, id); /* its chunk exists: the id is in use */
	if (s && atomic_load_explicit(s, memory_order_relaxed)) {
		atomic_store_explicit(s, NULL, memory_order_release);
		t->count--;
		/* With no memory for the stack, the id is lost, not reused. */
		if (id + 1 == t->next)
			t->next--;
		else
			(void)push_free_locked(t, id);
	}
	pthread_mutex_unlock(&t->lock);
}

size_t id_table_count(struct id_table *t)
{
	size_t n;

	pthread_mutex_lock(&t->lock);
	n = t->count;
	pthread_mutex_unlock(&t->lock);
	return n;
}
