/*
 * NVMe format decoding, on Identify data captured from QEMU 7.2's emulated
 * controller (tests/fixtures/nvme). libnvme's entry points that reach
 * the ioctl (nvme_get_nsid, nvme_identify) are wrapped at link time to
 * answer from the captured files, so the probe's own code path runs.
 */
#include "probe/nvme_format.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <nvme/ioctl.h>
#include <nvme/types.h>

static char fixture_dir[4096];   /* the folder being answered from */
static unsigned identify_calls[8];

static void load(const char *name, void *buf, size_t len)
{
	char path[4600];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", fixture_dir, name);
	f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open fixture %s", path);
	assert_int_equal(fread(buf, 1, len, f), len);
	fclose(f);
}

int __wrap_nvme_get_nsid(int fd, __u32 *nsid);
int __wrap_nvme_get_nsid(int fd, __u32 *nsid)
{
	(void)fd;
	*nsid = 1;
	return 0;
}

int __wrap_nvme_identify(struct nvme_identify_args *args);
int __wrap_nvme_identify(struct nvme_identify_args *args)
{
	switch (args->cns) {
	case NVME_IDENTIFY_CNS_CTRL:
		identify_calls[0]++;
		load("id-ctrl.bin", args->data, NVME_IDENTIFY_DATA_SIZE);
		return 0;
	case NVME_IDENTIFY_CNS_NS:
		identify_calls[1]++;
		assert_int_equal(args->nsid, 1);
		load("id-ns.bin", args->data, NVME_IDENTIFY_DATA_SIZE);
		return 0;
	case NVME_IDENTIFY_CNS_CSI_NS:
		identify_calls[2]++;
		assert_int_equal(args->nsid, 1);
		assert_int_equal(args->csi, NVME_CSI_NVM);
		load("nvm-id-ns.bin", args->data, NVME_IDENTIFY_DATA_SIZE);
		return 0;
	default:
		errno = EINVAL;
		return -1;
	}
}

static void read_folder(const char *folder, struct nvme_format *f)
{
	const char *root = getenv("BOUNCEFS_NVME_FIXTURES");

	if (!root)
		root = "tests/fixtures/nvme";
	snprintf(fixture_dir, sizeof(fixture_dir), "%s/%s", root, folder);
	memset(identify_calls, 0, sizeof(identify_calls));
	assert_int_equal(nvme_format_read(-1, f), 0);
	assert_int_equal(identify_calls[0], 1);
	assert_int_equal(identify_calls[1], 1);
}

/* What every folder shares (README: "Facts common to all folders"). */
static void assert_common(const struct nvme_format *f)
{
	assert_int_equal(f->nsid, 1);
	assert_string_equal(f->model, "QEMU NVMe Ctrl");
	assert_string_equal(f->firmware, "7.2.22");
	assert_true(f->elbas);
	/* ELBAS is set although VER is 1.4: the NVM data was still read. */
	assert_int_equal(identify_calls[2], 1);
}

static void test_4096_8_pi1_g16(void **state)
{
	struct nvme_format f;

	(void)state;
	read_folder("4096+8-pi1-g16", &f);
	assert_common(&f);
	assert_string_equal(f.serial, "labpi0");
	assert_int_equal(f.lbaf, 5);
	assert_int_equal(f.data_size, 4096);
	assert_int_equal(f.meta_size, 8);
	assert_false(f.extended_lba);
	assert_int_equal(f.pi_type, 1);
	assert_false(f.pi_first);
	assert_int_equal(f.guard, NVME_GUARD_CRC16);
	assert_int_equal(nvme_guard_bits(f.guard), 16);
	assert_int_equal(f.pi_size, 8);
	assert_int_equal(f.nsze, 0xff803);
}

static void test_512_8_pi3_g16(void **state)
{
	struct nvme_format f;

	(void)state;
	read_folder("512+8-pi3-g16", &f);
	assert_common(&f);
	assert_int_equal(f.lbaf, 1);
	assert_int_equal(f.data_size, 512);
	assert_int_equal(f.meta_size, 8);
	assert_int_equal(f.pi_type, 3);
	assert_int_equal(f.guard, NVME_GUARD_CRC16);
	assert_int_equal(f.pi_size, 8);
	assert_int_equal(f.nsze, 0x7e07e0);
}

static void test_4096_16_pi1_g64(void **state)
{
	struct nvme_format f;

	(void)state;
	read_folder("4096+16-pi1-g64", &f);
	assert_common(&f);
	assert_int_equal(f.lbaf, 6);
	assert_int_equal(f.data_size, 4096);
	assert_int_equal(f.meta_size, 16);
	assert_int_equal(f.pi_type, 1);
	assert_false(f.pi_first);
	assert_int_equal(f.guard, NVME_GUARD_CRC64);
	assert_int_equal(nvme_guard_bits(f.guard), 64);
	assert_string_equal(nvme_guard_name(f.guard), "CRC64-NVMe");
	assert_int_equal(f.pi_size, 16);
	assert_int_equal(f.nsze, 0xff00f);
}

static void test_4096_0_nopi(void **state)
{
	struct nvme_format f;

	(void)state;
	read_folder("4096+0-nopi", &f);
	assert_common(&f);
	assert_int_equal(f.lbaf, 4);
	assert_int_equal(f.data_size, 4096);
	assert_int_equal(f.meta_size, 0);
	assert_int_equal(f.pi_type, 0);
	assert_int_equal(f.guard, NVME_GUARD_NONE);
	assert_int_equal(f.pi_size, 0);
	assert_int_equal(f.nsze, 0x100000);
}

static void test_4096_8_pi2_g16(void **state)
{
	struct nvme_format f;

	(void)state;
	read_folder("4096+8-pi2-g16", &f);
	assert_common(&f);
	assert_int_equal(f.lbaf, 5);
	assert_int_equal(f.pi_type, 2);
	assert_int_equal(f.guard, NVME_GUARD_CRC16);
	assert_int_equal(f.pi_size, 8);
}

static void test_4096_16_pi1_g16_pifirst(void **state)
{
	struct nvme_format f;

	(void)state;
	read_folder("4096+16-pi1-g16-pifirst", &f);
	assert_common(&f);
	assert_int_equal(f.lbaf, 6);
	assert_int_equal(f.meta_size, 16);
	assert_int_equal(f.pi_type, 1);
	assert_true(f.pi_first);
	assert_int_equal(f.guard, NVME_GUARD_CRC16);
	assert_int_equal(f.pi_size, 8);
}

static void test_4096_8_pi1_g16_extlba(void **state)
{
	struct nvme_format f;

	(void)state;
	read_folder("4096+8-pi1-g16-extlba", &f);
	assert_common(&f);
	assert_string_equal(f.serial, "labext");
	assert_int_equal(f.lbaf, 5);
	assert_int_equal(f.meta_size, 8);
	assert_true(f.extended_lba);
	assert_int_equal(f.pi_type, 1);
	assert_int_equal(f.guard, NVME_GUARD_CRC16);
}

/* The decoder straight on the captured bytes: without the NVM data a
 * controller that has extended LBA formats leaves the guard unknown, and
 * an index past NLBAF is refused. */
static void test_decode_edges(void **state)
{
	struct nvme_id_ctrl ctrl;
	struct nvme_id_ns ns;
	struct nvme_format f;

	(void)state;
	snprintf(fixture_dir, sizeof(fixture_dir), "%s/4096+16-pi1-g64",
		 getenv("BOUNCEFS_NVME_FIXTURES") ? getenv("BOUNCEFS_NVME_FIXTURES") :
		 "tests/fixtures/nvme");
	load("id-ctrl.bin", &ctrl, sizeof(ctrl));
	load("id-ns.bin", &ns, sizeof(ns));
	assert_int_equal(nvme_format_decode(&ctrl, &ns, NULL, &f), 0);
	assert_int_equal(f.guard, NVME_GUARD_UNKNOWN);
	assert_int_equal(f.pi_size, 0);
	ns.nlbaf = 3; /* format 6 is now out of range */
	assert_int_equal(nvme_format_decode(&ctrl, &ns, NULL, &f), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_4096_8_pi1_g16),
		cmocka_unit_test(test_512_8_pi3_g16),
		cmocka_unit_test(test_4096_16_pi1_g64),
		cmocka_unit_test(test_4096_0_nopi),
		cmocka_unit_test(test_4096_8_pi2_g16),
		cmocka_unit_test(test_4096_16_pi1_g16_pifirst),
		cmocka_unit_test(test_4096_8_pi1_g16_extlba),
		cmocka_unit_test(test_decode_edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
