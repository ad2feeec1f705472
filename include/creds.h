/*
 * Per-thread switch to the calling process's uid and gid, so that what a
 * request creates belongs to the caller. Only a daemon running as root
 * switches; otherwise these are no-ops.
 */
#ifndef BOUNCEFS_CREDS_H
#define BOUNCEFS_CREDS_H

#include <stdbool.h>
#include <fuse_lowlevel.h>

/* Decide once, at start-up, whether credentials are switched at all. */
void creds_setup(void);

/*
 * Become the caller (fsuid/fsgid) for the current thread. With keep_caps,
 * the file-system capabilities stay effective: the kernel has already
 * checked the caller's permissions (default_permissions), and the switch
 * only decides who owns what is created. Returns 0 or an errno.
 */
int creds_become(const struct fuse_ctx *ctx, bool keep_caps);

/* Back to root for the current thread. */
void creds_restore(void);

#endif
