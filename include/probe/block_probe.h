/*
 * The block devices under a file system, from sysfs: the chain from the
 * device holding it down to the disks (partition → disk, dm/md → their
 * slaves), and each device's block size, stable-pages and integrity
 * attributes.
 */
#ifndef BOUNCEFS_BLOCK_PROBE_H
#define BOUNCEFS_BLOCK_PROBE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define BLOCK_PROBE_MAX_DEVS 16

enum block_role {
	BLOCK_DISK,       /* a whole disk: the end of the chain */
	BLOCK_PARTITION,  /* a partition of the next device */
	BLOCK_STACKED,    /* dm or md: stacked on its slaves */
};

struct block_dev {
	char name[64];          /* sysfs name: nvme0n1, sda2, dm-0 */
	unsigned depth;         /* 0 for the file system's own device */
	enum block_role role;
	/* -1 where sysfs has no such attribute. */
	long logical_block_size;
	long physical_block_size;
	long stable_writes;
	/* Integrity (the disk's, also shown for dm/md that have it). */
	char integrity_format[40];  /* "none" if absent */
	long tag_size;
	long protection_interval;
	long read_verify;
	long write_generate;
};

struct block_chain {
	unsigned count;
	struct block_dev devs[BLOCK_PROBE_MAX_DEVS];
	bool truncated;         /* more devices than fit */
};

/*
 * Walk the chain for device dev. sysfs is the sysfs mount ("/sys", or a
 * copy of one in tests). Returns 0, or -ENODEV if dev has no block device
 * in sysfs, or another -errno.
 */
int block_probe(const char *sysfs, dev_t dev, struct block_chain *chain);

/* Largest logical block size in the chain (the PI interval), or 0. */
uint32_t block_chain_logical_block_size(const struct block_chain *chain);

/* The first device in the chain with an integrity profile, or NULL. */
const struct block_dev *block_chain_integrity(const struct block_chain *chain);

#endif
