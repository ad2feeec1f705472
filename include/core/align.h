/*
 * Alignment and read-modify-write planning for direct I/O. Pure
 * arithmetic: the caller does the I/O.
 */
#ifndef BOUNCEFS_ALIGN_H
#define BOUNCEFS_ALIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct io_plan {
	uint64_t start;      /* aligned start of the range */
	uint64_t len;        /* aligned length, a multiple of the alignment */
	uint32_t head;       /* request offset - start */
	uint64_t end;        /* request offset + length (unaligned) */
	bool aligned;        /* offset and length both aligned */
	/* Writes only, given the file size: */
	bool read_head;      /* fill the first block from the file */
	bool read_tail;      /* fill the last block from the file */
	uint64_t tail_start; /* offset of the last block */
	bool truncate_after; /* the aligned blocks reach past the file's
				final size: set it once they are written */
	uint64_t final_size; /* the size after the write: max(size, end) */
};

/* True if a is a power of two from 1 to 1 GiB. */
bool align_valid(uint32_t a);

/* Round down / up to a multiple of a (a power of two). */
static inline uint64_t align_down(uint64_t x, uint32_t a)
{
	return x & ~((uint64_t)a - 1);
}

static inline uint64_t align_up(uint64_t x, uint32_t a)
{
	return (x + a - 1) & ~((uint64_t)a - 1);
}

/* Plan a read of len bytes at off. Returns 0, or -EINVAL. */
int align_plan_read(uint64_t off, uint64_t len, uint32_t a, struct io_plan *p);

/*
 * Plan a write of len bytes at off to a file of file_size bytes: which
 * boundary blocks must be read first (those holding bytes of the file that
 * the write does not cover) and whether the size must be fixed afterwards.
 * Returns 0, or -EINVAL.
 */
int align_plan_write(uint64_t off, uint64_t len, uint64_t file_size,
		     uint32_t a, struct io_plan *p);

/*
 * Bytes to return for a read, given what the aligned read returned (n,
 * which is short at end of file).
 */
size_t align_read_result(const struct io_plan *p, uint64_t n, uint64_t len);

/*
 * Bytes of the request that a write of n bytes of the aligned range
 * covered: never more than was written.
 */
size_t align_write_result(const struct io_plan *p, uint64_t n, uint64_t len);

#endif
