/* Per-thread credential switching for requests that create inodes. */
#include "creds.h"

#include <errno.h>
#include <linux/capability.h>
#include <stdbool.h>
#include <sys/fsuid.h>
#include <sys/syscall.h>
#include <unistd.h>

static bool switching;

void creds_setup(void)
{
	switching = geteuid() == 0;
}

/* The effective set becomes the permitted set again, for this thread only. */
static int raise_caps(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &hdr, data))
		return errno;
	for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
		data[i].effective = data[i].permitted;
	if (syscall(SYS_capset, &hdr, data))
		return errno;
	return 0;
}

int creds_become(const struct fuse_ctx *ctx, bool keep_caps)
{
	if (!switching)
		return 0;
	/* setfsuid/setfsgid act on the calling thread only. */
	setfsgid(ctx->gid);
	setfsuid(ctx->uid);
	if ((uid_t)setfsuid((uid_t)-1) != ctx->uid ||
	    (gid_t)setfsgid((gid_t)-1) != ctx->gid) {
		creds_restore();
		return EPERM;
	}
	if (keep_caps && ctx->uid != 0) {
		int err = raise_caps();

		if (err) {
			creds_restore();
			return err;
		}
	}
	return 0;
}

void creds_restore(void)
{
	if (!switching)
		return;
	/* Going back to fsuid 0 restores the file-system capabilities. */
	setfsuid(0);
	setfsgid(0);
}
