/*
 * A fixed pool of equally sized, aligned buffers. Memory is allocated once;
 * when every buffer is taken, takers wait.
 */
#ifndef BOUNCEFS_BUFFER_POOL_H
#define BOUNCEFS_BUFFER_POOL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct buffer_pool {
	pthread_mutex_t mutex;
	pthread_cond_t cond;
	char *mem;            /* count * size bytes, aligned */
	size_t size;          /* bytes per buffer, a multiple of align */
	unsigned count;
	unsigned *free_list;  /* indexes of free buffers (a stack) */
	unsigned nfree;
	unsigned min_free;    /* low-water mark: count - most ever taken */
	uint64_t waits;       /* takes that had to wait */
};

/* count buffers of at least size bytes, aligned to align (a power of two,
 * at least the page size). Returns 0 or -errno. */
int pool_init(struct buffer_pool *p, unsigned count, size_t size,
	      size_t align);
void pool_destroy(struct buffer_pool *p);

/* Take a buffer, waiting while none is free. Returns its index. */
unsigned pool_take(struct buffer_pool *p);

/* Take a buffer if one is free. Returns true and sets *idx if so. */
bool pool_try_take(struct buffer_pool *p, unsigned *idx);

void pool_give(struct buffer_pool *p, unsigned idx);

static inline char *pool_buf(const struct buffer_pool *p, unsigned idx)
{
	return p->mem + (size_t)idx * p->size;
}

/* The buffer that addr lies in. */
static inline unsigned pool_index_of(const struct buffer_pool *p,
				     const void *addr)
{
	return (unsigned)(((const char *)addr - p->mem) / p->size);
}

/* Buffers taken right now. */
unsigned pool_in_use(struct buffer_pool *p);

/* iovecs describing every buffer, for io_uring_register_buffers; the
 * caller frees the array. */
struct iovec *pool_iovecs(const struct buffer_pool *p);

#endif
