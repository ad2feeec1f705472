/* Alignment and read-modify-write planning for direct I/O. */
#include "core/align.h"

#include <errno.h>

bool align_valid(uint32_t a)
{
	return a && (a & (a - 1)) == 0 && a <= (1u << 30);
}

int align_plan_read(uint64_t off, uint64_t len, uint32_t a, struct io_plan *p)
{
	if (!align_valid(a) || len > UINT64_MAX - off)
		return -EINVAL;
	p->start = align_down(off, a);
	p->end = off + len;
	p->len = align_up(p->end, a) - p->start;
	p->head = (uint32_t)(off - p->start);
	p->aligned = p->head == 0 && len % a == 0;
	p->tail_start = p->len ? p->start + p->len - a : p->start;
	p->read_head = p->read_tail = p->truncate_after = false;
	p->final_size = 0;
	return 0;
}

int align_plan_write(uint64_t off, uint64_t len, uint64_t file_size,
		     uint32_t a, struct io_plan *p)
{
	int rc = align_plan_read(off, len, a, p);

	if (rc || len == 0)
		return rc;
	/* A boundary block is read when the write leaves part of it
	 * uncovered and the file has data there; beyond the end it is 0. */
	p->read_head = p->head != 0 && p->start < file_size;
	p->read_tail = p->end % a != 0 && p->tail_start < file_size &&
		       !(p->read_head && p->tail_start == p->start);
	p->final_size = p->end > file_size ? p->end : file_size;
	p->truncate_after = p->start + p->len > p->final_size;
	return 0;
}

size_t align_read_result(const struct io_plan *p, uint64_t n, uint64_t len)
{
	if (n <= p->head)
		return 0;
	n -= p->head;
	return (size_t)(n < len ? n : len);
}

size_t align_write_result(const struct io_plan *p, uint64_t n, uint64_t len)
{
	return align_read_result(p, n, len);
}
