/*
 * Metadata operations: names, attributes, links and the file system as a
 * whole. Everything is relative to an inode's O_PATH fd.
 */
#include "privilege/creds.h"
#include "ops/fs.h"
#include "ops/ops.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	int err = fs_lookup_entry(fs_of(req), fs_inode(req, parent), name, &e);

	if (err)
		fs_reply_error(req, err);
	else
		fuse_reply_entry(req, &e);
}

/* After many forgets, give the freed entries' memory back. */
static void trim_if_shrunk(struct bfs_fs *fs)
{
	if (itable_shrunk(&fs->itab))
		malloc_trim(0);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct bfs_fs *fs = fs_of(req);

	itable_forget(&fs->itab, fs_inode(req, ino), nlookup);
	fuse_reply_none(req);
	trim_if_shrunk(fs);
}

static void op_forget_multi(fuse_req_t req, size_t count,
			    struct fuse_forget_data *forgets)
{
	struct bfs_fs *fs = fs_of(req);

	for (size_t i = 0; i < count; i++)
		itable_forget(&fs->itab, fs_inode(req, forgets[i].ino),
			      forgets[i].nlookup);
	fuse_reply_none(req);
	trim_if_shrunk(fs);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct stat st;
	int err;

	if (fi)
		err = fstat(fs_file_fd(fs_of(req), fi), &st) ? -errno : 0;
	else
		err = fs_stat(fs_of(req), fs_inode(req, ino), &st);
	if (err)
		fs_reply_error(req, err);
	else
		fuse_reply_attr(req, &st, fs_of(req)->attr_timeout);
}

/*
 * ftruncate(2) for an open file, truncate(2) by path otherwise, as the
 * application called them: truncate(2) to the size a file already has
 * moves no timestamp on XFS, ftruncate(2) always does (the kernel sends
 * the times it wants moved as their own attributes).
 */
static int set_size(struct bfs_fs *fs, struct bfs_inode *inode,
		    struct fuse_file_info *fi, off_t size)
{
	char path[40];
	int fd, err = 0;

	if (fi)
		return ftruncate(fs_file_fd(fs, fi), size) ? -errno : 0;
	if (inode->type != S_IFREG)
		return inode->type == S_IFDIR ? -EISDIR : -EINVAL;
	fd = fs_get_fd(fs, inode);
	if (fd < 0)
		return fd;
	fs_fd_path(path, fd);
	if (truncate(path, size))
		err = -errno;
	fs_put_fd(fs, inode);
	return err;
}

static int set_times(struct bfs_fs *fs, int fd, struct fuse_file_info *fi,
		     const struct stat *attr, int to_set)
{
	struct timespec tv[2] = {
		{ .tv_nsec = UTIME_OMIT }, { .tv_nsec = UTIME_OMIT } };

	if (to_set & FUSE_SET_ATTR_ATIME_NOW)
		tv[0].tv_nsec = UTIME_NOW;
	else if (to_set & FUSE_SET_ATTR_ATIME)
		tv[0] = attr->st_atim;
	if (to_set & FUSE_SET_ATTR_MTIME_NOW)
		tv[1].tv_nsec = UTIME_NOW;
	else if (to_set & FUSE_SET_ATTR_MTIME)
		tv[1] = attr->st_mtim;
	if (fi)
		return futimens(fs_file_fd(fs, fi), tv) ? -errno : 0;
	return utimensat(fd, "", tv,
			 AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) ? -errno : 0;
}

/*
 * Does a chown by this caller clear a set-group-ID bit that is not
 * group-executable? On a local file system it does when the caller has no
 * CAP_FSETID (here: is not root) and is not in the file's group; the
 * backing chown, made as root, keeps it. The kernel marks every chown
 * (FATTR_KILL_SUIDGID) and leaves the rest to the backing chown.
 */
static bool chown_drops_sgid(fuse_req_t req, int fd, int to_set)
{
	struct stat st;

	return (to_set & FUSE_SET_ATTR_KILL_SUID) && fuse_req_ctx(req)->uid != 0 &&
	       fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) == 0 &&
	       !S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode) &&
	       (st.st_mode & (S_ISGID | S_IXGRP)) == S_ISGID &&
	       !fs_caller_in_group(req, st.st_gid);
}

static int clear_sgid(struct bfs_fs *fs, int fd)
{
	struct stat st;

	if (fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
		return -errno;
	if (!(st.st_mode & S_ISGID))
		return 0;
	return fs_chmod_opath(fs, fd, st.st_mode & 07777 & ~(mode_t)S_ISGID);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	struct bfs_fs *fs = fs_of(req);
	struct bfs_inode *inode = fs_inode(req, ino);
	struct stat st;
	int err = 0;
	int fd = fs_get_fd(fs, inode);

	if (fd < 0) {
		fs_reply_error(req, fd);
		return;
	}
	/* Owner first: a chown may clear set-id bits that the mode restates. */
	if (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		uid_t uid = (to_set & FUSE_SET_ATTR_UID) ? attr->st_uid : (uid_t)-1;
		gid_t gid = (to_set & FUSE_SET_ATTR_GID) ? attr->st_gid : (gid_t)-1;
		bool drop_sgid = chown_drops_sgid(req, fd, to_set);

		if (fchownat(fd, "", uid, gid,
			     AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
			err = -errno;
		else if (drop_sgid)
			err = clear_sgid(fs, fd);
	}
	if (!err && (to_set & FUSE_SET_ATTR_MODE)) {
		if (fi) {
			err = fchmod(fs_file_fd(fs_of(req), fi), attr->st_mode) ? -errno : 0;
		} else if (inode->type == S_IFLNK) {
			err = -EOPNOTSUPP;
		} else {
			err = fs_chmod_opath(fs, fd, attr->st_mode);
		}
	}
	/* chown(f, -1, -1) reaches us with nothing to set; on the backing
	 * file system it moves ctime, and so it does here. */
	if (!(to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID |
			FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_SIZE |
			FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME |
			FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW |
			FUSE_SET_ATTR_KILL_SUID | FUSE_SET_ATTR_KILL_SGID)) &&
	    fchownat(fd, "", (uid_t)-1, (gid_t)-1,
		     AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
		err = -errno;
	/* A truncate by a caller without CAP_FSETID (the kernel's
	 * FATTR_KILL_SUIDGID, which libfuse calls FUSE_SET_ATTR_KILL_SUID).
	 * A chown carries it whoever the caller is; the backing chown above
	 * has cleared the bits as one by root does (set-user-ID always,
	 * set-group-ID if group-executable). */
	if (!err && (to_set & FUSE_SET_ATTR_KILL_SUID) &&
	    !(to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID |
			FUSE_SET_ATTR_GID)))
		err = fi ? fs_kill_suidgid(req, fs_file_fd(fs_of(req), fi), false) :
			   fs_kill_suidgid(req, fd, true);
	if (!err && (to_set & FUSE_SET_ATTR_SIZE)) {
		struct range_lock_entry lock;

		/* Not while a write is in flight on the blocks it cuts. */
		range_lock_acquire(&inode->writers, &lock, 0, RANGE_LOCK_EOF);
		err = set_size(fs, inode, fi, attr->st_size);
		range_lock_release(&inode->writers, &lock);
	}
	if (!err && (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME |
			       FUSE_SET_ATTR_ATIME_NOW |
			       FUSE_SET_ATTR_MTIME_NOW)))
		err = set_times(fs, fd, fi, attr, to_set);
	if (!err && fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
		err = -errno;
	fs_put_fd(fs, inode);
	if (err)
		fs_reply_error(req, err);
	else
		fuse_reply_attr(req, &st, fs->attr_timeout);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct bfs_fs *fs = fs_of(req);
	struct bfs_inode *inode = fs_inode(req, ino);
	char buf[PATH_MAX + 1];
	int fd = fs_get_fd(fs, inode), err;
	ssize_t n;

	if (fd < 0) {
		fs_reply_error(req, fd);
		return;
	}
	n = readlinkat(fd, "", buf, sizeof(buf));
	err = -errno;
	fs_put_fd(fs, inode);
	if (n < 0)
		fs_reply_error(req, err);
	else if (n >= (ssize_t)sizeof(buf))
		fs_reply_error(req, -ENAMETOOLONG);
	else {
		buf[n] = '\0';
		fuse_reply_readlink(req, buf);
	}
}

/* mknod, mkdir and symlink: made as the caller, in the parent's fd. */
static void make_node(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, dev_t rdev, const char *link)
{
	struct bfs_fs *fs = fs_of(req);
	struct bfs_inode *dir = fs_inode(req, parent);
	int dfd = fs_get_fd(fs, dir);
	int err, res;

	if (dfd < 0) {
		fs_reply_error(req, dfd);
		return;
	}
	err = creds_become(req, CREDS_OWNER);
	if (!err) {
		if (link)
			res = symlinkat(link, dfd, name);
		else if (S_ISDIR(mode))
			res = mkdirat(dfd, name, mode & 07777);
		else
			res = mknodat(dfd, name, mode, rdev);
		err = res ? -errno : 0;
		creds_restore();
	}
	if (!err) {
		struct fuse_entry_param e;

		err = fs_lookup_entry(fs, dir, name, &e);
		if (!err) {
			fs_put_fd(fs, dir);
			fuse_reply_entry(req, &e);
			return;
		}
		/* Made but not answerable (fds ran out): take it back. */
		unlinkat(dfd, name, S_ISDIR(mode) ? AT_REMOVEDIR : 0);
	}
	fs_put_fd(fs, dir);
	fs_reply_error(req, err);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	if (S_ISDIR(mode) || S_ISLNK(mode)) {
		fs_reply_error(req, -EINVAL);
		return;
	}
	make_node(req, parent, name, mode, rdev, NULL);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode)
{
	make_node(req, parent, name, S_IFDIR | (mode & 07777), 0, NULL);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		       const char *name)
{
	make_node(req, parent, name, S_IFLNK, 0, link);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		    const char *newname)
{
	struct bfs_fs *fs = fs_of(req);
	struct bfs_inode *inode = fs_inode(req, ino);
	struct bfs_inode *dir = fs_inode(req, newparent);
	struct fuse_entry_param e = { 0 };
	int fd, dfd, err = 0;

	fd = fs_get_fd(fs, inode);
	if (fd < 0) {
		fs_reply_error(req, fd);
		return;
	}
	dfd = fs_get_fd(fs, dir);
	if (dfd < 0)
		err = dfd;
	else if (linkat(fd, "", dfd, newname, AT_EMPTY_PATH))
		err = -errno;
	if (!err && fstatat(fd, "", &e.attr, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
		err = -errno;
	if (dfd >= 0)
		fs_put_fd(fs, dir);
	fs_put_fd(fs, inode);
	if (err) {
		fs_reply_error(req, err);
		return;
	}
	itable_ref_again(&fs->itab, inode);
	e.ino = ino;
	e.attr_timeout = fs->attr_timeout;
	e.entry_timeout = fs->entry_timeout;
	fuse_reply_entry(req, &e);
}

static void remove_name(fuse_req_t req, fuse_ino_t parent, const char *name,
			int flags)
{
	struct bfs_fs *fs = fs_of(req);
	struct bfs_inode *dir = fs_inode(req, parent);
	int dfd = fs_get_fd(fs, dir);
	int err;

	if (dfd < 0) {
		fs_reply_error(req, dfd);
		return;
	}
	err = unlinkat(dfd, name, flags) ? -errno : 0;
	fs_put_fd(fs, dir);
	fs_reply_error(req, err);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_name(req, parent, name, 0);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_name(req, parent, name, AT_REMOVEDIR);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname,
		      unsigned int flags)
{
	struct bfs_fs *fs = fs_of(req);
	struct bfs_inode *from = fs_inode(req, parent);
	struct bfs_inode *to = fs_inode(req, newparent);
	int ffd, tfd, err = 0;

	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) {
		fs_reply_error(req, -EINVAL);
		return;
	}
	ffd = fs_get_fd(fs, from);
	if (ffd < 0) {
		fs_reply_error(req, ffd);
		return;
	}
	tfd = fs_get_fd(fs, to);
	if (tfd < 0)
		err = tfd;
	else if (renameat2(ffd, name, tfd, newname, flags))
		err = -errno;
	if (tfd >= 0)
		fs_put_fd(fs, to);
	fs_put_fd(fs, from);
	fs_reply_error(req, err);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct bfs_fs *fs = fs_of(req);
	struct bfs_inode *inode = fs_inode(req, ino);
	struct statvfs sv;
	int fd = fs_get_fd(fs, inode), err;

	if (fd < 0) {
		fs_reply_error(req, fd);
		return;
	}
	err = fstatvfs(fd, &sv) ? -errno : 0;
	fs_put_fd(fs, inode);
	if (err)
		fs_reply_error(req, err);
	else
		fuse_reply_statfs(req, &sv);
}

static void op_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	struct bfs_fs *fs = fs_of(req);
	struct bfs_inode *inode = fs_inode(req, ino);
	char name[16];
	int fd = fs_get_fd(fs, inode), err;

	if (fd < 0) {
		fs_reply_error(req, fd);
		return;
	}
	fs_fd_name(name, fd);
	err = creds_become(req, CREDS_CALLER);
	if (!err) {
		err = faccessat(fs->proc_fd, name, mask, AT_EACCESS) ? -errno : 0;
		creds_restore();
	}
	fs_put_fd(fs, inode);
	fs_reply_error(req, err);
}

void ops_meta_fill(struct fuse_lowlevel_ops *ops)
{
	ops->lookup = op_lookup;
	ops->forget = op_forget;
	ops->forget_multi = op_forget_multi;
	ops->getattr = op_getattr;
	ops->setattr = op_setattr;
	ops->readlink = op_readlink;
	ops->mknod = op_mknod;
	ops->mkdir = op_mkdir;
	ops->symlink = op_symlink;
	ops->link = op_link;
	ops->unlink = op_unlink;
	ops->rmdir = op_rmdir;
	ops->rename = op_rename;
	ops->statfs = op_statfs;
	ops->access = op_access;
}
