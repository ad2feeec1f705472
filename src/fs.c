/* The file system context and the helpers the operation modules share. */
#include "fs.h"
#include "creds.h"
#include "mountinfo.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <sys/stat.h>
#include <unistd.h>

struct bfs_inode *fs_inode(fuse_req_t req, fuse_ino_t ino)
{
	if (ino == FUSE_ROOT_ID)
		return &fs_of(req)->itab.root;
	return (struct bfs_inode *)(uintptr_t)ino;
}

fuse_ino_t fs_node_id(struct bfs_fs *fs, struct bfs_inode *inode)
{
	if (inode == &fs->itab.root)
		return FUSE_ROOT_ID;
	return (fuse_ino_t)(uintptr_t)inode;
}

void fs_fd_name(char buf[16], int fd)
{
	snprintf(buf, 16, "%d", fd);
}

void fs_fd_path(char buf[40], int fd)
{
	snprintf(buf, 40, "/proc/self/fd/%d", fd);
}

int fs_chmod_opath(struct bfs_fs *fs, int fd, mode_t mode)
{
	char name[16];

	fs_fd_name(name, fd);
	return fchmodat(fs->proc_fd, name, mode, 0) ? errno : 0;
}

bool fs_caller_in_group(fuse_req_t req, gid_t gid)
{
	gid_t groups[64];
	int n;

	if (fuse_req_ctx(req)->gid == gid)
		return true;
	n = fuse_req_getgroups(req, 64, groups);
	if (n > 64)
		n = 64;
	for (int i = 0; i < n; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

int fs_kill_suidgid(fuse_req_t req, int fd, bool path)
{
	struct stat st;
	mode_t mode;

	if (fstat(fd, &st))
		return errno;
	mode = st.st_mode & 07777 & ~(mode_t)S_ISUID;
	if ((mode & S_ISGID) &&
	    ((mode & S_IXGRP) || !fs_caller_in_group(req, st.st_gid)))
		mode &= ~(mode_t)S_ISGID;
	if (!S_ISREG(st.st_mode) || mode == (st.st_mode & 07777))
		return 0;
	if (!path)
		return fchmod(fd, mode) ? errno : 0;
	return fs_chmod_opath(fs_of(req), fd, mode);
}

int fs_pwrite_all(int fd, const void *buf, size_t len, off_t off,
		  int rw_flags, size_t *done)
{
	*done = 0;
	while (*done < len) {
		struct iovec iov = { (char *)buf + *done, len - *done };
		ssize_t n = pwritev2(fd, &iov, 1, off + (off_t)*done, rw_flags);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		if (n == 0)
			return EIO;
		*done += (size_t)n;
	}
	return 0;
}

int fs_pread_all(int fd, void *buf, size_t len, off_t off, uint32_t a,
		 size_t *done)
{
	*done = 0;
	while (*done < len) {
		ssize_t n = pread(fd, (char *)buf + *done, len - *done,
				  off + (off_t)*done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno;
		}
		if (n == 0)
			break;
		*done += (size_t)n;
		if (*done % a)
			break; /* end of file */
	}
	return 0;
}

int fs_stat(struct bfs_fs *fs, struct bfs_inode *inode, struct stat *st)
{
	int fd = fs_get_fd(fs, inode), err = 0;

	if (fd < 0)
		return -fd;
	if (fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
		err = errno;
	fs_put_fd(fs, inode);
	return err;
}

int fs_lookup_entry(struct bfs_fs *fs, struct bfs_inode *parent,
		    const char *name, struct fuse_entry_param *e)
{
	struct bfs_inode *inode;
	int fd, dirfd, err;

	/* ".." of the root would lead out of the tree: it is the root. */
	if (parent == &fs->itab.root && strcmp(name, "..") == 0)
		name = ".";
	memset(e, 0, sizeof(*e));
	dirfd = fs_get_fd(fs, parent);
	if (dirfd < 0)
		return -dirfd;
	fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	err = errno;
	fs_put_fd(fs, parent);
	if (fd < 0)
		return err;
	if (fstatat(fd, "", &e->attr, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)) {
		int err = errno;

		close(fd);
		return err;
	}
	/* The mount itself, seen inside its own backing tree: serving it
	 * would have the daemon call itself for ever. And the backing root
	 * under a name of its own tree (a bind mount's alias): node id 1 for
	 * a child would alias the mount's root directory. */
	if ((fs->self_dev && e->attr.st_dev == fs->self_dev) ||
	    (strcmp(name, ".") && strcmp(name, "..") &&
	     e->attr.st_dev == fs->itab.root.dev &&
	     e->attr.st_ino == fs->itab.root.ino)) {
		close(fd);
		return ELOOP;
	}
	inode = itable_ref(&fs->itab, fd, e->attr.st_dev, e->attr.st_ino,
			   e->attr.st_mode);
	if (!inode)
		return errno;
	e->ino = fs_node_id(fs, inode);
	e->attr_timeout = fs->attr_timeout;
	e->entry_timeout = fs->entry_timeout;
	return 0;
}

/* Idle O_PATH fds to keep: a quarter of the fd limit, within bounds. */
static size_t idle_fd_budget(void)
{
	struct rlimit rl;
	size_t n = 1024;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		n = rl.rlim_cur / 4;
	if (n < 16)
		n = 16;
	if (n > 4096)
		n = 4096;
	return n;
}

int fs_init(struct bfs_fs *fs, const struct bfs_options *opts, int root_fd)
{
	memset(fs, 0, sizeof(*fs));
	fs->opts = opts;
	fs->proc_fd = -1;
	fs->attr_timeout = opts->attr_timeout;
	fs->entry_timeout = opts->entry_timeout;
	open_handles_init(&fs->dirs);
	open_handles_init(&fs->files);
	return itable_init(&fs->itab, root_fd, idle_fd_budget());
}

void fs_note_self(struct bfs_fs *fs, const char *mountpoint)
{
	char *info = mountinfo_read();

	if (!info || mountinfo_dev_of(info, mountpoint, "fuse.bouncefs",
				      &fs->self_dev) != 0)
		fs->self_dev = 0;
	free(info);
}

int fs_open_proc(struct bfs_fs *fs)
{
	fs->proc_fd = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
	return fs->proc_fd < 0 ? -errno : 0;
}

void fs_destroy(struct bfs_fs *fs)
{
	ops_dir_close_all(fs);
	ops_file_close_all(fs);
	open_handles_destroy(&fs->dirs);
	open_handles_destroy(&fs->files);
	itable_destroy(&fs->itab);
	if (fs->proc_fd >= 0)
		close(fs->proc_fd);
	fs->proc_fd = -1;
}

static void fs_op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct bfs_fs *fs = userdata;
	unsigned qd = fs->opts->queue_depth;

	if (conn->max_write > fs->opts->max_write)
		conn->max_write = fs->opts->max_write;
	/* Async direct I/O travels as background requests. */
	conn->max_background = qd > 65535 ? 65535 : qd;
	conn->congestion_threshold = conn->max_background * 3 / 4;
	/* Without ACLs the kernel applies the umask. Set-id bits: not
	 * FUSE_HANDLE_KILLPRIV (v1), under which the kernel asks for
	 * security.capability before every write; fuse_io.c asks for v2
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
	 * is in the OPEN's open_flags (fuse_io_arg). */
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	/* Every answer goes through the device write hook (fuse_io.c), which
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

void fs_fill_ops(struct fuse_lowlevel_ops *ops)
{
	memset(ops, 0, sizeof(*ops));
	ops->init = fs_op_init;
	ops_meta_fill(ops);
	ops_dir_fill(ops);
	ops_file_fill(ops);
	ops_xattr_fill(ops);
}
