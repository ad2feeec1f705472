/* What newer kernels have, what bouncefs does without it, one log line. */
#include "core/kernel_features.h"
#include "core/align.h"
#include "core/log.h"

#include <errno.h>
#include <linux/io_uring.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

static _Atomic uint32_t lacking;
static atomic_bool logged;

static const struct {
	const char *name, *since, *without;
} features[BFS_KF_COUNT] = {
	[BFS_KF_RING_DEFER_TASKRUN] = { "IORING_SETUP_DEFER_TASKRUN", "6.1",
		"the kernel runs a ring's completions when they come" },
	[BFS_KF_RING_SINGLE_ISSUER] = { "IORING_SETUP_SINGLE_ISSUER", "6.0",
		"rings are set up for any thread" },
	[BFS_KF_RING_CQSIZE] = { "IORING_SETUP_CQSIZE", "5.5",
		"the kernel sizes the completion queues (the same size)" },
	[BFS_KF_ENTER_NO_IOWAIT] = { "IORING_ENTER_NO_IOWAIT", "6.15",
		"idle FUSE ring threads count as I/O wait" },
	[BFS_KF_STATX_DIOALIGN] = { "STATX_DIOALIGN", "6.1",
		"direct I/O aligned to 4096 or the device's block" },
	[BFS_KF_FUSE_OVER_IO_URING] = { "FUSE over io_uring", "6.14",
		"requests come over /dev/fuse" },
	[BFS_KF_FUSE_DIO_MMAP] = { "FUSE_DIRECT_IO_ALLOW_MMAP", "6.6",
		"no shared mmap of a file opened with O_DIRECT" },
	[BFS_KF_FUSE_KILLPRIV_V2] = { "FUSE_HANDLE_KILLPRIV_V2", "5.11",
		"the kernel asks for security.capability before writes" },
	[BFS_KF_CLOSE_RANGE] = { "close_range", "5.9",
		"inherited descriptors closed one by one" },
	[BFS_KF_FUSE_PASSTHROUGH] = { "FUSE passthrough", "6.9",
		"opens without O_DIRECT go through the FUSE page cache" },
};

void kernel_feature_lacking(enum bfs_kfeature f)
{
	if ((unsigned)f < BFS_KF_COUNT)
		atomic_fetch_or(&lacking, 1u << f);
}

uint32_t kernel_features_lacking(void)
{
	return atomic_load(&lacking);
}

size_t kernel_features_describe(uint32_t mask, char *buf, size_t len)
{
	size_t n = 0;

	if (!len)
		return 0;
	buf[0] = '\0';
	/* (stops once the text fills buf: it is cut there, terminated) */
	for (unsigned f = 0; f < BFS_KF_COUNT && n < len; f++) {
		int k;

		if (!(mask & (1u << f)))
			continue;
		k = snprintf(buf + n, len - n, "%s%s (%s: %s)", n ? "; " : "",
			     features[f].name, features[f].since,
			     features[f].without);
		if (k > 0)
			n += (size_t)k;
	}
	return n < len ? n : len - 1;
}

int uring_setup_fallback(unsigned *flags, unsigned must, int err)
{
	static const struct {
		unsigned flag;
		enum bfs_kfeature f;
	} order[] = {
		{ IORING_SETUP_DEFER_TASKRUN, BFS_KF_RING_DEFER_TASKRUN },
		{ IORING_SETUP_SINGLE_ISSUER, BFS_KF_RING_SINGLE_ISSUER },
		{ IORING_SETUP_CQSIZE, BFS_KF_RING_CQSIZE },
	};

	if (err != -EINVAL)
		return -1;
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if ((*flags & order[i].flag) && !(must & order[i].flag)) {
			*flags &= ~order[i].flag;
			return (int)order[i].f;
		}
	}
	return -1;
}

uint32_t dio_alignment_for(bool have, uint32_t mem_align,
			   uint32_t offset_align, uint32_t min_align)
{
	uint32_t a = 0;

	if (have)
		a = mem_align > offset_align ? mem_align : offset_align;
	if (!align_valid(a))
		a = 4096;
	if (align_valid(min_align) && min_align > a)
		a = min_align;
	return a;
}

void kernel_features_log(void)
{
	char buf[1024];
	struct utsname u;

	if (!kernel_features_describe(kernel_features_lacking(), buf, sizeof(buf)) ||
	    atomic_exchange(&logged, true))
		return;
	if (uname(&u))
		snprintf(u.release, sizeof(u.release), "(unknown)");
	bfs_log(LOG_INFO, "Linux %s lacks %s; bouncefs works without them",
		u.release, buf);
}
