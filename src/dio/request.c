/* The request context of each thread. */
#include "dio/request.h"
#include "core/stats.h"

#include <errno.h>
#include <linux/fuse.h>

static __thread struct bfs_request self = {
	.lane = REQUEST_NO_LANE,
	.buf_idx = REQUEST_NO_BUFFER,
	.may_block = true,
};

struct bfs_request *bfs_request_self(void)
{
	return &self;
}

/* FUSE_UNIQUE_RESEND: the kernel's mark on a request sent again. */
#define UNIQUE_RESEND (1ULL << 63)

void bfs_request_begin(const void *in, size_t len)
{
	const struct fuse_in_header *h = in;

	if (len >= sizeof(*h) && (h->unique & UNIQUE_RESEND))
		stats_add(&bfs_stats.resent_requests, 1);
	self.in = in;
	self.in_len = len;
}

void bfs_request_end(void)
{
	self.in = NULL;
	self.in_len = 0;
}

const void *bfs_request_arg(uint32_t opcode, size_t size)
{
	const struct fuse_in_header *h = self.in;

	if (!h || self.in_len < sizeof(*h) + size || h->opcode != opcode)
		return NULL;
	return h + 1;
}

int bfs_request_defer(void (*fn)(void *arg), const void *arg, size_t len)
{
	if (!self.transport || !self.transport->defer)
		return -EINVAL;
	return self.transport->defer(&self, fn, arg, len);
}

bool bfs_request_alone(void)
{
	return !self.transport || !self.transport->alone ||
	       self.transport->alone(&self);
}

bool bfs_request_served_in_place(uint32_t opcode)
{
	switch (opcode) {
	case FUSE_READ:
	case FUSE_WRITE:
	case FUSE_GETATTR:
	case FUSE_GETXATTR:
	case FUSE_LISTXATTR:
		return true;
	default:
		return false;
	}
}
