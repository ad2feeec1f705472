/* The mount root's virtual xattrs for bouncefs stat (src/ops/ops_stats.c). */
#ifndef BOUNCEFS_OPS_STATS_H
#define BOUNCEFS_OPS_STATS_H

#include "dio/open_file.h"

#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stddef.h>

/* Is name on ino one of ours (never set on, or removed from, the backing
 * directory)? */
bool ops_stats_is_ours(fuse_ino_t ino, const char *name);

/* A getxattr of one of ours: answered, true; false if not ours. */
bool ops_stats_get(fuse_req_t req, fuse_ino_t ino, const char *name,
		   size_t size);

/* A setxattr of one of ours: 0 (a reset, by root), or -EPERM. */
int ops_stats_set(fuse_req_t req, fuse_ino_t ino, const char *name);

/* f is being closed: keep what it counted (file_stats_fold). */
void ops_stats_closed(const struct bfs_file *f);

#endif
