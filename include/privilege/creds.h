/*
 * Per-thread switch to the calling process's credentials. Only a daemon
 * running as root switches; otherwise these are no-ops.
 */
#ifndef BOUNCEFS_CREDS_H
#define BOUNCEFS_CREDS_H

#include <stdbool.h>
#include <fuse_lowlevel.h>

/* Decide once, at start-up, whether credentials are switched at all. */
void creds_setup(void);

enum creds_mode {
	/*
	 * Who owns what is made: fsuid/fsgid become the caller's and the
	 * file-system capabilities stay effective. Only for making a new
	 * inode whose permission the kernel has already checked
	 * (default_permissions); the caller's umask applies (creds_apply_umask).
	 */
	CREDS_OWNER,
	/*
	 * The caller exactly: fsuid/fsgid and supplementary groups, no
	 * capability raised (a caller other than root has none). The backing
	 * file system then checks what follows as it would for the caller:
	 * mode bits, groups, ACLs. For anything the kernel did not check.
	 */
	CREDS_CALLER,
};

/* Become the caller of req for the current thread. 0 or -errno. */
int creds_become(fuse_req_t req, enum creds_mode mode);

/*
 * CAP_FSETID out of (off) or back into this thread's effective set: what
 * the kernel records of a thread's credentials without it will clear
 * set-id bits on a write, as for any caller. 0 or -errno.
 */
int creds_fsetid(bool on);

/* Back to root for the current thread (groups and umask included). */
void creds_restore(void);

/*
 * Whether the daemon applies the caller's umask itself (the mount asks
 * the kernel not to, FUSE_CAP_DONT_MASK, so that a directory's default
 * ACL can replace it as on a local file system). Set at INIT.
 */
void creds_apply_umask(bool on);

#endif
