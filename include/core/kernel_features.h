/*
 * What newer kernels have that bouncefs uses where it is there, and what it
 * does on a kernel without it (README: the oldest kernel, 5.10). Each
 * fallback is decided where the feature is tried; what was not available
 * is gathered here and said in one log line once the mount serves.
 */
#ifndef BOUNCEFS_KERNEL_FEATURES_H
#define BOUNCEFS_KERNEL_FEATURES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum bfs_kfeature {
	BFS_KF_RING_DEFER_TASKRUN,  /* IORING_SETUP_DEFER_TASKRUN, 6.1 */
	BFS_KF_RING_SINGLE_ISSUER,  /* IORING_SETUP_SINGLE_ISSUER, 6.0 */
	BFS_KF_RING_CQSIZE,         /* IORING_SETUP_CQSIZE, 5.5 */
	BFS_KF_ENTER_NO_IOWAIT,     /* IORING_ENTER_NO_IOWAIT, 6.15 */
	BFS_KF_STATX_DIOALIGN,      /* STATX_DIOALIGN, 6.1 (XFS, ext4) */
	BFS_KF_FUSE_OVER_IO_URING,  /* FUSE over io_uring, 6.14 */
	BFS_KF_FUSE_DIO_MMAP,       /* FUSE_DIRECT_IO_ALLOW_MMAP, 6.6 */
	BFS_KF_FUSE_KILLPRIV_V2,    /* FUSE_HANDLE_KILLPRIV_V2, 5.11 */
	BFS_KF_CLOSE_RANGE,         /* close_range(2), 5.9 */
	BFS_KF_FUSE_PASSTHROUGH,    /* FUSE passthrough, 6.9 */
	BFS_KF_COUNT
};

/* This kernel has not f (thread-safe; said once, by kernel_features_log). */
void kernel_feature_lacking(enum bfs_kfeature f);

/* The features found lacking so far, a bit per enum bfs_kfeature. */
uint32_t kernel_features_lacking(void);

/* "name (since L.x: what bouncefs does without it); ..." for the bits of
 * mask, into buf (cut to fit, terminated); its length (0 for none, or
 * when len is 0). */
size_t kernel_features_describe(uint32_t mask, char *buf, size_t len);

/*
 * io_uring_setup failed with err (-errno) for flags: the flags to try next
 * in *flags and the feature given up (>= 0), or -1 if there is nothing to
 * drop (not a flag this kernel lacks, which it says with EINVAL; or no
 * flag left but must, which the caller needs). The newest goes first:
 * DEFER_TASKRUN, then SINGLE_ISSUER (which DEFER_TASKRUN needs), then
 * CQSIZE (without it the completion queue is twice the submission queue,
 * which is what bouncefs asks for anyway).
 */
int uring_setup_fallback(unsigned *flags, unsigned must, int err);

/* Direct-I/O alignment of a file: statx's when it has STATX_DIOALIGN
 * (have), else 4096; at least min_align (the device's logical block). */
uint32_t dio_alignment_for(bool have, uint32_t mem_align,
			   uint32_t offset_align, uint32_t min_align);

/* The log line, once (info): "Linux R lacks ...; bouncefs works without
 * them". Nothing when nothing lacks. */
void kernel_features_log(void);

#endif
