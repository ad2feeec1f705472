/*
 * `bouncefs --probe PATH`: what storage holds PATH and how it protects
 * its blocks. The mount uses the same probe for its staging alignment.
 */
#ifndef BOUNCEFS_PROBE_H
#define BOUNCEFS_PROBE_H

#include "probe/block_probe.h"
#include "probe/nvme_format.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>

struct bfs_probe {
	char path[PATH_MAX];
	char fstype[64];        /* from mountinfo, "" if not found */
	char source[512];       /* the mount's source */
	unsigned dev_major, dev_minor;   /* st_dev of PATH */
	int block_err;          /* 0, or why there is no block chain */
	struct block_chain chain;
	uint32_t dio_mem_align;     /* statx, 0 if not reported */
	uint32_t dio_offset_align;
	uint32_t staging_align;     /* what bouncefs stages with, at least;
				     * 0 if the probe found nothing */
	bool nvme;                  /* an NVMe namespace was identified */
	char nvme_dev[72];          /* /dev/nvme0n1, if one was tried */
	int nvme_err;               /* 0, or -errno of the Identify */
	struct nvme_format nvme_fmt;
	char kernel[65];
	unsigned kernel_major, kernel_minor;
	bool kernel_bounces;        /* probe_kernel_bounces */
};

/* Does this kernel bounce direct I/O to stable-page devices by itself on
 * this file system? Linux 7.0 does for XFS, 7.3 for btrfs too. */
bool probe_kernel_bounces(const char *fstype, unsigned major, unsigned minor);

/*
 * The verdict: is bouncefs needed for direct I/O here? Yes where a device
 * of the chain checks pages in flight (an integrity profile, or stable
 * pages) and the kernel does not bounce direct I/O for the file system by
 * itself. why gets the reason, one sentence.
 */
bool probe_needed(const struct block_chain *chain, int block_err,
		  const char *fstype, const char *kernel, bool kernel_bounces,
		  char *why, size_t len);

/* Probe path (on a file system, or a block device node itself). Returns 0, or -errno if path itself cannot be examined
 * (everything below it is reported in the result, not as an error). */
int probe_path(const char *path, struct bfs_probe *p);

/* Reports. */
void probe_print_text(FILE *out, const struct bfs_probe *p);
void probe_print_json(FILE *out, const struct bfs_probe *p);
/* One line for the log: "xfs on nvme0n1: 4096+8, PI type 1, ..." */
void probe_summary(const struct bfs_probe *p, char *buf, size_t size);

#endif
