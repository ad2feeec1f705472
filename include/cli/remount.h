/*
 * -o remount (mount -o remount,ro MOUNTPOINT): change the per-mount flags
 * of a running bouncefs mount: ro/rw, [no]suid, [no]dev, [no]exec, the
 * access-time family, sync/async, dirsync, [no]lazytime. The options a
 * remount names are applied on top of the mount's present flags. The
 * daemon's own options are fixed for the life of the mount: a remount
 * that asks for another value of one fails and says so; the same value
 * (mount(8) passes fstab's options along) is accepted.
 */
#ifndef BOUNCEFS_REMOUNT_H
#define BOUNCEFS_REMOUNT_H

#include "core/options.h"

#include <stddef.h>

/* Remount o->mountpoint with o's flags: BFS_EXIT_OK, or a BFS_EXIT_* with
 * a message in err. */
int remount_run(const struct bfs_options *o, char *err, size_t errlen);

#endif
