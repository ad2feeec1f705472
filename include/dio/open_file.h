/*
 * An open file, as the direct-I/O path and the operations both see it:
 * its backing fds, its alignment and its inode (whose writers' range lock
 * orders read-modify-writes). The operations (ops/ops_file.c) make and
 * release it.
 */
#ifndef BOUNCEFS_OPEN_FILE_H
#define BOUNCEFS_OPEN_FILE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/file_stats.h"
#include "core/inode_table.h"
#include "core/open_handles.h"

struct bfs_file {
	struct open_handle link; /* in fs->files; first */
	int fd;              /* the backing file, without O_DIRECT */
	int dfd;             /* the backing file with O_DIRECT, or -1 */
	uint32_t align;      /* its direct-I/O alignment */
	struct bfs_inode *inode;
	bool cached;         /* opened through the kernel's page cache */
	bool joined;         /* counted in its inode's opens (ops_file.c) */
	bool passthrough;    /* FOPEN_PASSTHROUGH: holds the inode's backing */
	/* Its direct I/O and fsyncs, written by every request: on a cache
	 * line of their own, away from the fields every request reads. */
	struct file_counters counters __attribute__((aligned(64)));
	pthread_mutex_t lock; /* guards opening dfd (dfd and align are then
			       * published with a release store: readers
			       * load dfd with acquire and take no lock) */
};

#endif
