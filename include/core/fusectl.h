/* The FUSE control file system (/sys/fs/fuse/connections). */
#ifndef BOUNCEFS_FUSECTL_H
#define BOUNCEFS_FUSECTL_H

#include <sys/types.h>

/* Abort the FUSE connection of the mount whose st_dev is dev: every
 * request waiting on it ends (ENOTCONN, ECONNABORTED). 0 or -errno. */
int fusectl_abort(dev_t dev);

#endif
