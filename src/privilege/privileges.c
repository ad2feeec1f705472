/* Least privilege once the mount is up. */
#include "privilege/privileges.h"
#include "core/kernel_features.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <linux/capability.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#define CAP(n) (1ull << (n))

/* What the operations need; docs/architecture.md ("Least privilege")
 * has the reason for each. */
static const uint64_t kept =
	CAP(CAP_CHOWN) |            /* chown, on the caller's behalf */
	CAP(CAP_DAC_OVERRIDE) |     /* files the kernel has checked */
	CAP(CAP_DAC_READ_SEARCH) |  /* open_by_handle_at, directories */
	CAP(CAP_FOWNER) |           /* chmod, utimes, xattrs of others' files */
	CAP(CAP_FSETID) |           /* set-id bits kept where the caller may */
	CAP(CAP_SETUID) |           /* setfsuid: new inodes are the caller's */
	CAP(CAP_SETGID) |           /* setfsgid, the caller's groups */
	CAP(CAP_MKNOD) |            /* device nodes, when the caller may */
	CAP(CAP_SETFCAP) |          /* security.capability, set by root */
	CAP(CAP_SYS_ADMIN);         /* trusted.* xattrs; umount at the end */

/* close_range(2), or (before Linux 5.9) each open descriptor in range. */
static void close_from_to(unsigned first, unsigned last)
{
	struct rlimit rl;

	if (syscall(SYS_close_range, first, last, 0u) == 0 || errno != ENOSYS)
		return;
	kernel_feature_lacking(BFS_KF_CLOSE_RANGE);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur - 1 < last)
		last = (unsigned)rl.rlim_cur - 1;
	for (unsigned fd = first; fd <= last && fd < (1u << 20); fd++)
		close((int)fd);
}

void privileges_close_inherited(const int *keep, int nkeep)
{
	unsigned from = 3;

	/* In rising order, each kept fd skipped. */
	for (;;) {
		unsigned next = ~0u;

		for (int i = 0; i < nkeep; i++)
			if (keep[i] >= (int)from && (unsigned)keep[i] < next)
				next = (unsigned)keep[i];
		if (next == ~0u) {
			close_from_to(from, ~0u);
			return;
		}
		if (next > from)
			close_from_to(from, next - 1);
		from = next + 1;
	}
}

int privileges_drop(bool root)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {{0}};
	unsigned long last = CAP_LAST_CAP;

	if (!root)
		return 0;
	/* The running kernel may know more capabilities than our headers. */
	{
		char buf[16] = "";
		int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);

		if (fd >= 0) {
			ssize_t n = read(fd, buf, sizeof(buf) - 1);

			if (n > 0)
				last = strtoul(buf, NULL, 10);
			close(fd);
		}
	}
	for (unsigned long c = 0; c <= last && c < 64; c++)
		if (!(kept & CAP(c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) &&
		    errno != EINVAL)
			return -errno;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) &&
	    errno != EINVAL)
		return -errno;
	data[0].permitted = data[0].effective = (uint32_t)kept;
	data[1].permitted = data[1].effective = (uint32_t)(kept >> 32);
	if (syscall(SYS_capset, &hdr, data))
		return -errno;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -errno;
	return 0;
}
