/* Probe the storage under a path: mount, block chain, NVMe format, kernel. */
#include "probe/probe.h"
#include "core/mountinfo.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <unistd.h>

/* Find the mount whose device is maj:min: its type and source. */
static void take_mount(struct bfs_probe *p, const struct mountinfo_entry *e)
{
	snprintf(p->fstype, sizeof(p->fstype), "%.*s",
		 (int)sizeof(p->fstype) - 1, e->fstype);
	snprintf(p->source, sizeof(p->source), "%.*s",
		 (int)sizeof(p->source) - 1, e->source);
}

/* The mount of p's device; if none has it (btrfs: statx gives a
 * subvolume's own anonymous device, not the one mountinfo shows), the
 * deepest mount the path is under. */
static void find_mount(struct bfs_probe *p)
{
	char *info = mountinfo_read();
	const char *at = info;
	struct mountinfo_entry e;
	char real[PATH_MAX];
	size_t best = 0;
	bool found = false;

	while ((at = mountinfo_next(at, &e))) {
		/* The last match is the one on top. */
		if (major(e.dev) != p->dev_major || minor(e.dev) != p->dev_minor)
			continue;
		take_mount(p, &e);
		found = true;
	}
	if (!found && info && realpath(p->path, real)) {
		for (at = info; (at = mountinfo_next(at, &e));) {
			size_t n = strlen(e.mountpoint);

			if (n < best || strncmp(real, e.mountpoint, n) ||
			    (n > 1 && real[n] != '/' && real[n] != '\0'))
				continue;
			best = n;
			take_mount(p, &e);
		}
	}
	free(info);
}

static bool is_nvme_namespace(const char *name)
{
	unsigned c, n;
	char rest;

	return sscanf(name, "nvme%un%u%c", &c, &n, &rest) == 2;
}

static void probe_nvme(struct bfs_probe *p)
{
	for (unsigned i = 0; i < p->chain.count; i++) {
		const struct block_dev *d = &p->chain.devs[i];
		int fd;

		if (d->role != BLOCK_DISK || !is_nvme_namespace(d->name))
			continue;
		snprintf(p->nvme_dev, sizeof(p->nvme_dev), "/dev/%s", d->name);
		fd = open(p->nvme_dev, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0) {
			p->nvme_err = -errno;
			return;
		}
		p->nvme_err = nvme_format_read(fd, &p->nvme_fmt);
		close(fd);
		p->nvme = p->nvme_err == 0;
		return;
	}
}

static void probe_kernel(struct bfs_probe *p)
{
	struct utsname u;

	if (uname(&u))
		return;
	snprintf(p->kernel, sizeof(p->kernel), "%s", u.release);
	if (sscanf(u.release, "%u.%u", &p->kernel_major, &p->kernel_minor) != 2)
		p->kernel_major = p->kernel_minor = 0;
	p->kernel_bounces = probe_kernel_bounces(p->fstype, p->kernel_major,
						 p->kernel_minor);
}

/* As measured (docs/kernels.md): 7.0 and later bounce direct I/O on XFS;
 * btrfs sends O_DIRECT to checksummed files through the page cache from
 * 6.15 on, but a nodatasum file's direct I/O still fails the race on 7.3,
 * so btrfs counts as not bounced. */
bool probe_kernel_bounces(const char *fstype, unsigned major, unsigned minor)
{
	(void)minor;
	if (strcmp(fstype, "xfs") == 0)
		return major >= 7;
	return false;
}

bool probe_needed(const struct block_chain *chain, int block_err,
		  const char *fstype, const char *kernel, bool kernel_bounces,
		  char *why, size_t len)
{
	const struct block_dev *integ = block_err ? NULL :
		block_chain_integrity(chain);
	const struct block_dev *stable = NULL;

	for (unsigned i = 0; !block_err && i < chain->count; i++)
		if (chain->devs[i].stable_writes == 1) {
			stable = &chain->devs[i];
			break;
		}
	if (block_err) {
		snprintf(why, len, "not on a block device, so nothing checks the pages of a direct I/O in flight");
		return false;
	}
	if (!integ && !stable) {
		snprintf(why, len, "no device below has an integrity profile or stable pages: a page changed in flight is written as it is, as on any disk");
		return false;
	}
	/* Measured on 7.3 (docs/kernels.md): the kernel's bounce leaves a few
	 * writes unbounced (guard errors read back, a few in 30k I/Os of the
	 * race), so it is still needed, if far less. */
	if (kernel_bounces) {
		snprintf(why, len, "%s %s; Linux %s bounces most direct I/O on %s by itself, but not all: the stable-pages race still got guard errors on 7.3 (a few in 30000 I/Os)",
			 integ ? integ->name : stable->name,
			 integ ? "checks a guard per block (integrity profile)" :
				 "wants stable pages",
			 kernel, fstype[0] ? fstype : "this file system");
		return true;
	}
	snprintf(why, len, "%s %s, and Linux %s does not bounce direct I/O on %s by itself (7.0 and later do for XFS only): an application changing a buffer in flight gets EILSEQ",
		 integ ? integ->name : stable->name,
		 integ ? "checks a guard per block (integrity profile)" :
			 "wants stable pages",
		 kernel[0] ? kernel : "(unknown)", fstype[0] ? fstype : "this file system");
	return true;
}

/* Largest of the chain's logical block, the NVMe data size and statx's
 * direct-I/O alignment; 0 if none of them is known. */
static uint32_t staging_align(const struct bfs_probe *p)
{
	uint32_t a = block_chain_logical_block_size(&p->chain);

	if (p->nvme && p->nvme_fmt.data_size > a)
		a = p->nvme_fmt.data_size;
	if (p->dio_offset_align > a)
		a = p->dio_offset_align;
	if (p->dio_mem_align > a)
		a = p->dio_mem_align;
	return a;
}

int probe_path(const char *path, struct bfs_probe *p)
{
	struct statx stx;
	dev_t blk;

	memset(p, 0, sizeof(*p));
	snprintf(p->path, sizeof(p->path), "%s", path);
	if (statx(AT_FDCWD, path, 0, STATX_BASIC_STATS | STATX_DIOALIGN, &stx))
		return -errno;
	p->dev_major = stx.stx_dev_major;
	p->dev_minor = stx.stx_dev_minor;
	if (stx.stx_mask & STATX_DIOALIGN) {
		p->dio_mem_align = stx.stx_dio_mem_align;
		p->dio_offset_align = stx.stx_dio_offset_align;
	}
	find_mount(p);
	blk = makedev(p->dev_major, p->dev_minor);
	if (S_ISBLK(stx.stx_mode)) {
		/* A device node: probe that device itself. */
		blk = makedev(stx.stx_rdev_major, stx.stx_rdev_minor);
		p->dev_major = stx.stx_rdev_major;
		p->dev_minor = stx.stx_rdev_minor;
		snprintf(p->fstype, sizeof(p->fstype), "block device");
		snprintf(p->source, sizeof(p->source), "%s", path);
	}
	if (p->dev_major == 0) {
		/* An anonymous device (btrfs, overlayfs, tmpfs...): the
		 * mount's source may still be a block device. */
		struct stat st;

		if (p->source[0] == '/' && stat(p->source, &st) == 0 &&
		    S_ISBLK(st.st_mode))
			blk = st.st_rdev;
	}
	if (major(blk) == 0)
		p->block_err = -ENODEV;
	else
		p->block_err = block_probe("/sys", blk, &p->chain);
	probe_nvme(p);
	probe_kernel(p);
	p->staging_align = staging_align(p);
	return 0;
}
