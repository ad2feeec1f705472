/*
 * The daemon's system-call allow-list (libseccomp), installed once the
 * mount is up and before the first thread starts, so every thread has it.
 */
#ifndef BOUNCEFS_SECCOMP_FILTER_H
#define BOUNCEFS_SECCOMP_FILTER_H

#include "core/options.h"

/* Install the filter for mode (nothing for BFS_SECCOMP_NONE). 0 or
 * -errno. */
int seccomp_filter_install(enum bfs_seccomp_mode mode);

#endif
