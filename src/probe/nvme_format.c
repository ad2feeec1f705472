/* NVMe namespace format: Identify through libnvme, and its decoding. */
#include "probe/nvme_format.h"

#include <endian.h>
#include <errno.h>
#include <string.h>
#include <nvme/ioctl.h>
#include <nvme/types.h>
#include <nvme/util.h>

const char *nvme_guard_name(enum nvme_guard g)
{
	switch (g) {
	case NVME_GUARD_NONE:
		return "none";
	case NVME_GUARD_CRC16:
		return "CRC16 T10-DIF";
	case NVME_GUARD_CRC32:
		return "CRC32C";
	case NVME_GUARD_CRC64:
		return "CRC64-NVMe";
	default:
		return "unknown";
	}
}

unsigned nvme_guard_bits(enum nvme_guard g)
{
	switch (g) {
	case NVME_GUARD_CRC16:
		return 16;
	case NVME_GUARD_CRC32:
		return 32;
	case NVME_GUARD_CRC64:
		return 64;
	default:
		return 0;
	}
}

/* Copy a space-padded Identify string, without the padding. */
static void copy_trimmed(char *dst, size_t dst_size, const char *src,
			 size_t len)
{
	if (len >= dst_size)
		len = dst_size - 1;
	memcpy(dst, src, len);
	while (len > 0 && (dst[len - 1] == ' ' || dst[len - 1] == '\0'))
		len--;
	dst[len] = '\0';
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)dst[i] < 0x20 || (unsigned char)dst[i] > 0x7e)
			dst[i] = '?';
}

int nvme_format_decode(const struct nvme_id_ctrl *ctrl,
		       const struct nvme_id_ns *ns,
		       const struct nvme_nvm_id_ns *nvm, struct nvme_format *out)
{
	uint32_t nsid = out->nsid;
	__u8 idx;
	uint32_t lbaf;
	unsigned ds;

	memset(out, 0, sizeof(*out));
	out->nsid = nsid;
	nvme_id_ns_flbas_to_lbaf_inuse(ns->flbas, &idx);
	/* NLBAF is 0's based; 64 entries at most. */
	if (idx > ns->nlbaf || idx >= 64)
		return -EINVAL;
	lbaf = 0;
	memcpy(&lbaf, &ns->lbaf[idx], sizeof(lbaf));
	lbaf = le32toh(lbaf);
	ds = (lbaf >> 16) & 0xff;
	if (ds < 9 || ds > 31)
		return -EINVAL;
	out->lbaf = idx;
	out->nsze = le64toh(ns->nsze);
	out->data_size = 1u << ds;
	out->meta_size = (uint16_t)(lbaf & 0xffff);
	out->extended_lba = out->meta_size && (ns->flbas & NVME_NS_FLBAS_META_EXT);
	out->pi_type = ns->dps & NVME_NS_DPS_PI_MASK;
	if (out->pi_type > 3 || !out->meta_size)
		out->pi_type = 0;
	out->pi_first = out->pi_type && (ns->dps & NVME_NS_DPS_PI_FIRST);
	if (ctrl) {
		out->elbas = !!(le32toh(ctrl->ctratt) & NVME_CTRL_CTRATT_ELBAS);
		copy_trimmed(out->model, sizeof(out->model), ctrl->mn,
			     sizeof(ctrl->mn));
		copy_trimmed(out->serial, sizeof(out->serial), ctrl->sn,
			     sizeof(ctrl->sn));
		copy_trimmed(out->firmware, sizeof(out->firmware), ctrl->fr,
			     sizeof(ctrl->fr));
	}
	if (!out->pi_type) {
		out->guard = NVME_GUARD_NONE;
		return 0;
	}
	/* Without extended LBA formats the guard is always 16 bits. The NVM
	 * data holds the format only for the format in use (an all-zero
	 * page is valid: 16-bit guard, no storage tag). */
	out->guard = out->elbas && !nvm ? NVME_GUARD_UNKNOWN : NVME_GUARD_CRC16;
	if (out->elbas && nvm) {
		uint32_t elbaf = le32toh(nvm->elbaf[idx]);

		switch ((elbaf & NVME_NVM_ELBAF_PIF_MASK) >> 7) {
		case 0:
			out->guard = NVME_GUARD_CRC16;
			break;
		case 1:
			out->guard = NVME_GUARD_CRC32;
			break;
		case 2:
			out->guard = NVME_GUARD_CRC64;
			break;
		default:
			out->guard = NVME_GUARD_UNKNOWN;
			break;
		}
	}
	if (out->guard == NVME_GUARD_CRC16)
		out->pi_size = 8;
	else if (out->guard != NVME_GUARD_UNKNOWN)
		out->pi_size = 16;
	return 0;
}

static int status_to_errno(int rc)
{
	if (rc < 0)
		return errno ? -errno : -EIO;
	return rc ? -EIO : 0;
}

int nvme_format_read(int fd, struct nvme_format *out)
{
	struct nvme_id_ctrl ctrl;
	struct nvme_id_ns ns;
	struct nvme_nvm_id_ns nvm;
	bool have_nvm = false;
	__u32 nsid = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	errno = 0;
	rc = nvme_get_nsid(fd, &nsid);
	if (rc < 0)
		return errno ? -errno : -ENOTTY;
	rc = status_to_errno(nvme_identify_ctrl(fd, &ctrl));
	if (rc)
		return rc;
	rc = status_to_errno(nvme_identify_ns(fd, nsid, &ns));
	if (rc)
		return rc;
	/* Only meaningful when the controller has extended LBA formats; a
	 * controller may report them below NVMe 2.0 (QEMU 7.2 does). */
	if (le32toh(ctrl.ctratt) & NVME_CTRL_CTRATT_ELBAS) {
		memset(&nvm, 0, sizeof(nvm));
		have_nvm = status_to_errno(nvme_identify_ns_csi(fd, nsid, 0,
						NVME_CSI_NVM, &nvm)) == 0;
	}
	out->nsid = nsid;
	return nvme_format_decode(&ctrl, &ns, have_nvm ? &nvm : NULL, out);
}
