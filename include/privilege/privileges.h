/*
 * Least privilege once the mount is up: only the capabilities the
 * operations need (docs/architecture.md says why each), no new privileges
 * (no_new_privs), and none of the descriptors the daemon was started with.
 */
#ifndef BOUNCEFS_PRIVILEGES_H
#define BOUNCEFS_PRIVILEGES_H

#include <stdbool.h>

/* Close every descriptor above 2 except the nkeep in keep (-1s ignored):
 * call first in main. */
void privileges_close_inherited(const int *keep, int nkeep);

/*
 * Keep only the capabilities listed in privileges.c in the permitted, effective and bounding
 * sets, clear the inheritable and ambient ones, and set no_new_privs.
 * Call before the first thread starts: capabilities are per thread, and
 * threads inherit their creator's. A daemon that is not root has nothing
 * to drop, and keeps its right to run the set-user-ID fusermount3, which
 * unmounts for it at the end (no_new_privs would disarm it). 0 or -errno.
 */
int privileges_drop(bool root);

#endif
