/* Fixed pool of aligned buffers. */
#include "core/buffer_pool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Transparent huge pages: the pool starts on one. */
#define HUGE_ALIGN ((size_t)2 << 20)

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

/* Fault every page of [mem, mem + len) in, writable. 0 or -1. */
static int populate(char *mem, size_t len)
{
	long page = sysconf(_SC_PAGESIZE);

	if (madvise(mem, len, MADV_POPULATE_WRITE) == 0)
		return 0;
	if (errno != EINVAL)
		return -1;
	for (size_t off = 0; off < len; off += (size_t)page)
		((volatile char *)mem)[off] = 0;
	return 0;
}

int pool_init(struct buffer_pool *p, unsigned count, size_t size,
	      size_t align)
{
	memset(p, 0, sizeof(*p));
	if (count == 0 || size == 0 || align == 0 || (align & (align - 1)))
		return -EINVAL;
	size = (size + align - 1) & ~(align - 1);
	if (posix_memalign((void **)&p->mem, align < HUGE_ALIGN ? HUGE_ALIGN : align,
			   (size_t)count * size))
		return -ENOMEM;
	/* The kernel pins a buffer a page at a time for every FUSE copy into
	 * or out of it, and copies into it from the backing device: on huge
	 * pages both cost less (docs/performance.md). */
	madvise(p->mem, (size_t)count * size, MADV_HUGEPAGE);
	/* In memory now, whether or not io_uring may pin it (RLIMIT_MEMLOCK):
	 * a pool that does not fit fails the start, not a write later. */
	if (populate(p->mem, (size_t)count * size)) {
		free(p->mem);
		p->mem = NULL;
		return -ENOMEM;
	}
	p->free_list = malloc(count * sizeof(*p->free_list));
	if (!p->free_list) {
		free(p->mem);
		p->mem = NULL;
		return -ENOMEM;
	}
	p->size = size;
	p->count = count;
	for (unsigned i = 0; i < count; i++)
		p->free_list[i] = count - 1 - i;
	p->nfree = p->min_free = count;
	pthread_mutex_init(&p->mutex, NULL);
	pthread_cond_init(&p->cond, NULL);
	return 0;
}

void pool_destroy(struct buffer_pool *p)
{
	if (!p->mem)
		return;
	free(p->mem);
	free(p->free_list);
	pthread_mutex_destroy(&p->mutex);
	pthread_cond_destroy(&p->cond);
	memset(p, 0, sizeof(*p));
}

static unsigned take_locked(struct buffer_pool *p)
{
	unsigned idx = p->free_list[--p->nfree];

	if (p->nfree < p->min_free)
		p->min_free = p->nfree;
	return idx;
}

unsigned pool_take(struct buffer_pool *p)
{
	unsigned idx;

	pthread_mutex_lock(&p->mutex);
	if (p->nfree == 0) {
		p->waits++;
		while (p->nfree == 0)
			pthread_cond_wait(&p->cond, &p->mutex);
	}
	idx = take_locked(p);
	pthread_mutex_unlock(&p->mutex);
	return idx;
}

bool pool_try_take(struct buffer_pool *p, unsigned *idx)
{
	bool ok;

	pthread_mutex_lock(&p->mutex);
	ok = p->nfree > 0;
	if (ok)
		*idx = take_locked(p);
	pthread_mutex_unlock(&p->mutex);
	return ok;
}

void pool_give(struct buffer_pool *p, unsigned idx)
{
	pthread_mutex_lock(&p->mutex);
	p->free_list[p->nfree++] = idx;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->mutex);
}

unsigned pool_in_use(struct buffer_pool *p)
{
	unsigned n;

	pthread_mutex_lock(&p->mutex);
	n = p->count - p->nfree;
	pthread_mutex_unlock(&p->mutex);
	return n;
}

struct iovec *pool_iovecs(const struct buffer_pool *p)
{
	struct iovec *iov = calloc(p->count, sizeof(*iov));

	if (!iov)
		return NULL;
	for (unsigned i = 0; i < p->count; i++) {
		iov[i].iov_base = pool_buf(p, i);
		iov[i].iov_len = p->size;
	}
	return iov;
}
