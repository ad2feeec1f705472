/*
 * The file system context shared by all operation modules, and the
 * helpers they have in common. Each ops_*.c file fills in its part of
 * struct fuse_lowlevel_ops.
 */
#ifndef BOUNCEFS_FS_H
#define BOUNCEFS_FS_H

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "dio/dio.h"
#include "dio/open_file.h"
#include "core/inode_table.h"
#include "core/open_handles.h"
#include "core/options.h"

struct bfs_dir;

/*
 * Locks, and the order in which they may be taken (a thread holding one
 * takes only those after it):
 *   1. an inode's writers range lock (range_lock.h): held across backing
 *      I/O, never across a wait for another request (a FUSE ring queue
 *      thread only tries it);
 *   2. bfs_file.lock: held while the O_DIRECT fd is opened, nothing else;
 *   3. the inode table's lock (inode_table.h), a leaf: no call that blocks
 *      and no other lock under it (fds are closed after it is dropped);
 *   4. leaves of their own modules, never held while calling out: the
 *      helper pool's (helper_pool.h), the invalidator's (invalidator.h),
 *      a ring queue's commit_lock (ring_transport.c), the loop's
 *      (session_loop.c), the engine's drain_lock (uring_engine.c), and
 *      libfuse's session and request locks, which every fuse_reply_*
 *      takes.
 * A range lock may be released by another thread than the one that took
 * it (the completion of its I/O). Answers go out with no lock of ours held
 * but, at most, a range lock.
 */

struct bfs_fs {
	struct inode_table itab;
	struct bfs_dio *dio;        /* the direct-I/O path (the daemon's) */
	struct open_handles dirs;   /* open directories */
	struct open_handles files;  /* open files */
	const struct bfs_options *opts;
	int proc_fd;       /* /proc/self/fd, to reopen O_PATH fds */
	double attr_timeout;
	double entry_timeout;
	uint32_t min_align;  /* from the probe: the device's logical block */
	dev_t self_dev;      /* the mount's own device, once mounted (or 0) */
	int fuse_fd;         /* the FUSE device, for the passthrough ioctls */
	/* The kernel took FUSE passthrough at INIT (ops_file.c). */
	_Atomic bool passthrough;
	/* What an fh no open has names: no fds, so that every I/O answers
	 * EBADF; its inode is the table's stale entry. (A predecessor's open
	 * that a successor could not reopen is such a file too, but its own,
	 * held at its fh until released: ops_file_restore.) */
	struct bfs_file bad_file;
};

static inline struct bfs_fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/*
 * Errors: every function of the operations returns 0 or -errno, and this
 * is where one becomes an answer (0: success with no data).
 */
static inline void fs_reply_error(fuse_req_t req, int rc)
{
	fuse_reply_err(req, -rc);
}

/* The inode behind a node id. */
struct bfs_inode *fs_inode(fuse_req_t req, fuse_ino_t ino);

/* The node id of an inode. */
fuse_ino_t fs_node_id(struct bfs_fs *fs, struct bfs_inode *inode);

/* "/proc/self/fd/N"-relative name of an inode's fd, for openat(proc_fd, ...). */
void fs_fd_name(char buf[16], int fd);

/* Full /proc path of an fd, for calls that have no *at() form (xattrs). */
void fs_fd_path(char buf[40], int fd);

/* chmod of the inode behind an O_PATH fd (which fchmod refuses), through
 * its /proc/self/fd entry. 0 or -errno. */
int fs_chmod_opath(struct bfs_fs *fs, int fd, mode_t mode);

/* Is the caller of req in group gid (primary or supplementary)? */
bool fs_caller_in_group(fuse_req_t req, gid_t gid);

/*
 * Clear a regular file's set-user-ID bit, and its set-group-ID bit if it is
 * group-executable or the caller is not in the file's group, as a write or
 * truncate by a caller without CAP_FSETID does on a local file system. The
 * kernel leaves this to us when it asks (FUSE_HANDLE_KILLPRIV_V2, see
 * device_io.c): the daemon writes as root, which keeps them. fd: the file
 * open, or its O_PATH fd (path true). 0 or -errno.
 */
int fs_kill_suidgid(fuse_req_t req, int fd, bool path);

/*
 * Borrow an inode's O_PATH fd: returns it, or -errno. Give it back with
 * fs_put_fd. The fd may be closed once given back.
 */
static inline int fs_get_fd(struct bfs_fs *fs, struct bfs_inode *inode)
{
	return itable_get_fd(&fs->itab, inode);
}

static inline void fs_put_fd(struct bfs_fs *fs, struct bfs_inode *inode)
{
	itable_put_fd(&fs->itab, inode);
}

/* The open file of a file handle (fi->fh, its id in fs->files), or
 * &fs->bad_file for an fh that names none. */
static inline struct bfs_file *fs_file(struct bfs_fs *fs,
				       const struct fuse_file_info *fi)
{
	struct bfs_file *f =
		(struct bfs_file *)open_handles_find(&fs->files, fi->fh);

	return f ? f : &fs->bad_file;
}

/* The (buffered) backing fd of an open file. */
static inline int fs_file_fd(struct bfs_fs *fs,
			     const struct fuse_file_info *fi)
{
	return fs_file(fs, fi)->fd;
}

/* stat an inode without following symlinks. Returns 0 or -errno. */
int fs_stat(struct bfs_fs *fs, struct bfs_inode *inode, struct stat *st);

/*
 * Look up name in parent, take a lookup reference and fill e.
 * Returns 0 or -errno. Never follows a symlink and never leaves the tree.
 */
int fs_lookup_entry(struct bfs_fs *fs, struct bfs_inode *parent,
		    const char *name, struct fuse_entry_param *e);

/* Set up the context; the backing root fd is adopted. Returns 0 or -errno. */
int fs_init(struct bfs_fs *fs, const struct bfs_options *opts, int root_fd);

/* Learn the mount's own device (mounted at mountpoint, a real path), so
 * that a lookup reaching the mount through the backing tree (a bind
 * mount's alias under shared propagation) fails instead of recursing. */
void fs_note_self(struct bfs_fs *fs, const char *mountpoint);

/* Open /proc/self/fd; call in the process that serves requests. */
int fs_open_proc(struct bfs_fs *fs);

void fs_destroy(struct bfs_fs *fs);

#endif
