/* Per-thread switch to the caller's credentials. */
#include "privilege/creds.h"

#include <errno.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdbool.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_GROUPS 256

static bool switching;
static bool apply_umask;
/* The daemon's own supplementary groups, to go back to. */
static gid_t own_groups[MAX_GROUPS];
static int own_ngroups;

/* Per thread: what creds_restore has to undo. */
static __thread bool groups_changed;
static __thread bool umask_changed;
static __thread bool fs_private;

void creds_setup(void)
{
	switching = geteuid() == 0;
	own_ngroups = getgroups(MAX_GROUPS, own_groups);
	if (own_ngroups < 0)
		own_ngroups = 0;
}

void creds_apply_umask(bool on)
{
	apply_umask = on;
}

/* This thread's effective set, for this thread only: the permitted set
 * but the capabilities in drop (only capabilities below 32). */
static int set_effective(uint32_t drop)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &hdr, data))
		return -errno;
	for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
		data[i].effective = data[i].permitted & (i ? ~0u : ~drop);
	if (syscall(SYS_capset, &hdr, data))
		return -errno;
	return 0;
}

/* The effective set becomes the permitted set again. */
static int raise_caps(void)
{
	return set_effective(0);
}

int creds_fsetid(bool on)
{
	if (!switching)
		return 0;
	return set_effective(on ? 0 : 1u << CAP_FSETID);
}

/* setgroups(2) for this thread alone: glibc's wrapper changes every
 * thread of the process, the system call only the caller. */
static int thread_setgroups(int n, const gid_t *list)
{
	return syscall(SYS_setgroups, (size_t)n, list) ? -errno : 0;
}

/* The umask lives in the fs_struct that threads share (CLONE_FS): a
 * thread gets its own before it sets one. */
static int thread_umask(mode_t mask)
{
	if (!fs_private) {
		if (unshare(CLONE_FS))
			return -errno;
		fs_private = true;
	}
	umask(mask);
	umask_changed = true;
	return 0;
}

int creds_become(fuse_req_t req, enum creds_mode mode)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	int err = 0;

	/* The umask too when the daemon is not root and makes everything
	 * its own: the kernel leaves it to us (creds_apply_umask). */
	if (mode == CREDS_OWNER && apply_umask) {
		err = thread_umask(ctx->umask);
		if (err)
			return err;
	}
	if (!switching)
		return 0;
	if (mode == CREDS_CALLER) {
		gid_t groups[MAX_GROUPS];
		int n = fuse_req_getgroups(req, MAX_GROUPS, groups);

		/* Without the list (the caller is gone, or /proc is not
		 * there) the caller has no supplementary group: never more
		 * access than it has. */
		if (n < 0)
			n = 0;
		if (n > MAX_GROUPS)
			n = MAX_GROUPS;
		err = thread_setgroups(n, groups);
		if (err) {
			creds_restore();
			return err;
		}
		groups_changed = true;
	}
	/* setfsuid/setfsgid act on the calling thread only. A fsuid other
	 * than 0 drops the file-system capabilities from the effective set. */
	setfsgid(ctx->gid);
	setfsuid(ctx->uid);
	if ((uid_t)setfsuid((uid_t)-1) != ctx->uid ||
	    (gid_t)setfsgid((gid_t)-1) != ctx->gid) {
		creds_restore();
		return -EPERM;
	}
	if (mode == CREDS_OWNER && ctx->uid != 0) {
		err = raise_caps();
		if (err) {
			creds_restore();
			return err;
		}
	}
	return 0;
}

void creds_restore(void)
{
	if (umask_changed) {
		umask(0);
		umask_changed = false;
	}
	if (!switching)
		return;
	/* Going back to fsuid 0 restores the file-system capabilities. */
	setfsuid(0);
	setfsgid(0);
	if (groups_changed) {
		thread_setgroups(own_ngroups, own_groups);
		groups_changed = false;
	}
}
