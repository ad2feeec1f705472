/* The operation table, the INIT that sets up the connection, and what
 * spans every module: closing all at unmount, reopening a predecessor's
 * opens. */
#include "ops/ops.h"
#include "ops/fs.h"
#include "core/log.h"
#include "core/restart_state.h"
#include "core/stats.h"
#include "privilege/creds.h"

#include <stdatomic.h>
#include <string.h>

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct bfs_fs *fs = userdata;
	unsigned qd = fs->opts->queue_depth;

	if (conn->max_write > fs->opts->max_write)
		conn->max_write = fs->opts->max_write;
	/* libfuse ends the session unless the INIT says again what the
	 * mount option max_read said (0: none given). */
	conn->max_read = fs->opts->max_read;
	/* Async direct I/O travels as background requests. */
	conn->max_background = qd > 65535 ? 65535 : qd;
	conn->congestion_threshold = conn->max_background * 3 / 4;
	/* Without ACLs the kernel applies the umask. Set-id bits: not
	 * FUSE_HANDLE_KILLPRIV (v1), under which the kernel asks for
	 * security.capability before every write; device_io.c asks for v2
	 * instead, and the writes and truncates that must clear them say so
	 * (fs_kill_suidgid). */
	conn->want &= ~(FUSE_CAP_DONT_MASK | FUSE_CAP_HANDLE_KILLPRIV);
	/* POSIX ACLs: the kernel enforces them itself (its permission check
	 * reads them through GETXATTR and caches them). A directory's
	 * default ACL replaces the umask on a local file system, so the
	 * kernel must not apply it: the daemon makes new inodes with the
	 * caller's umask (creds_become), and the backing file system applies
	 * the default ACL or that umask, as it would for the caller. */
	if (conn->capable & FUSE_CAP_POSIX_ACL) {
		conn->want |= FUSE_CAP_POSIX_ACL | FUSE_CAP_DONT_MASK;
		creds_apply_umask(true);
	}
	/* open(O_TRUNC) truncates in the OPEN: without atomic O_TRUNC the
	 * kernel sends a SETATTR of the size that truncate(2) also sends, and
	 * an empty file's times would not move. Whether to clear set-id bits
	 * is in the OPEN's open_flags (device_io_arg). */
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	/* Every answer goes through the device write hook (device_io.c), which
	 * routes the answers of FUSE ring requests: no splice to /dev/fuse. */
	conn->want &= ~FUSE_CAP_SPLICE_WRITE;
	/* flock(2), like fcntl locks, is the kernel's, on this mount's
	 * inodes: it waits in the caller, is interrupted by signals and
	 * handed on at close without the daemon. Served here, a lock that
	 * waits would hold a FUSE ring entry (the kernel gives each request
	 * one until it is answered): enough waiters of one user would stall
	 * every request of the queue. Not seen through other mounts of the
	 * backing directory, or on it. */
	conn->want &= ~FUSE_CAP_FLOCK_LOCKS;
}

void ops_fill(struct fuse_lowlevel_ops *ops)
{
	memset(ops, 0, sizeof(*ops));
	ops->init = op_init;
	ops_meta_fill(ops);
	ops_dir_fill(ops);
	ops_file_fill(ops);
	ops_xattr_fill(ops);
}

void ops_close_all(struct bfs_fs *fs)
{
	ops_dir_close_all(fs);
	ops_file_close_all(fs);
}

unsigned ops_restore_opens(struct bfs_fs *fs, const struct restart_state *s)
{
	unsigned lost = 0;

	for (int kind = 0; kind < RESTART_KINDS; kind++) {
		uint64_t end = atomic_load(&s->h->open_end[kind]);

		for (uint64_t fh = 1; fh < end; fh++) {
			const struct restart_open_slot *slot =
				restart_state_open(s, (enum restart_open_kind)kind, fh);
			struct restart_open o;
			int rc;

			if (!slot)
				continue;
			o = (struct restart_open){ .node_id = slot->node_id,
						   .flags = slot->flags,
						   .served = slot->served,
						   .backing_id = slot->backing_id };
			rc = kind == RESTART_FILE ? ops_file_restore(fs, fh, &o) :
						    ops_dir_restore(fs, fh, &o);
			if (rc == 0)
				stats_add(&bfs_stats.reopened_opens, 1);
			if (rc) {
				bfs_log(LOG_WARNING, "cannot reopen the %s of node %llu (fh %llu) for the kernel: %s; it answers EBADF",
					kind == RESTART_FILE ? "open file" : "open directory",
					(unsigned long long)o.node_id,
					(unsigned long long)fh, strerror(-rc));
				lost++;
			}
		}
	}
	return lost;
}
