/*
 * How an NVMe namespace is formatted: data and metadata size, where the
 * metadata lives and what protection information it carries. Read through
 * libnvme's Identify commands, decoded from the Identify data alone.
 */
#ifndef BOUNCEFS_NVME_FORMAT_H
#define BOUNCEFS_NVME_FORMAT_H

#include <stdbool.h>
#include <stdint.h>

struct nvme_id_ctrl;
struct nvme_id_ns;
struct nvme_nvm_id_ns;

enum nvme_guard {
	NVME_GUARD_NONE,     /* no PI in use */
	NVME_GUARD_CRC16,    /* 16-bit CRC16 T10-DIF */
	NVME_GUARD_CRC32,    /* 32-bit CRC32C */
	NVME_GUARD_CRC64,    /* 64-bit CRC64-NVMe */
	NVME_GUARD_UNKNOWN,  /* a PIF value NVMe does not define */
};

struct nvme_format {
	uint32_t nsid;
	uint64_t nsze;           /* namespace size in logical blocks */
	unsigned lbaf;           /* format index in use */
	uint32_t data_size;      /* bytes of data per logical block */
	uint16_t meta_size;      /* bytes of metadata per logical block */
	bool extended_lba;       /* metadata interleaved after each block */
	unsigned pi_type;        /* 0 none, 1-3 */
	bool pi_first;           /* PI in the first bytes of the metadata */
	bool elbas;              /* controller reports extended LBA formats */
	enum nvme_guard guard;
	unsigned pi_size;        /* bytes of the PI tuple, 0 without PI */
	char model[41];
	char serial[21];
	char firmware[9];
};

/* Decode Identify Controller, Identify Namespace and (may be NULL) the NVM
 * command set's Identify Namespace. Returns 0, or -EINVAL if the data
 * makes no sense (a format index or data size out of range). */
int nvme_format_decode(const struct nvme_id_ctrl *ctrl,
		       const struct nvme_id_ns *ns,
		       const struct nvme_nvm_id_ns *nvm, struct nvme_format *out);

/* Ask the namespace behind fd (an open /dev/nvmeXnY) how it is formatted.
 * Returns 0 or -errno (a non-NVMe device gives -ENOTTY or -EINVAL; an
 * NVMe status is reported as -EIO). */
int nvme_format_read(int fd, struct nvme_format *out);

/* "CRC16 T10-DIF" and so on. */
const char *nvme_guard_name(enum nvme_guard g);
/* Guard size in bits: 16, 32, 64, or 0. */
unsigned nvme_guard_bits(enum nvme_guard g);

#endif
