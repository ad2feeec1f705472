/*
 * Metadata operations: names, attributes, links and the file system as a
 * whole. Everything is relative to an inode's O_PATH fd.
 */
#include "creds.h"
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
		fuse_reply_err(req, err);
	else
		fuse_reply_entry(req, &e);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	itable_forget(&fs_of(req)->itab, fs_inode(req, ino), nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count,
			    struct fuse_forget_data *forgets)
{
	struct bfs_fs *fs = fs_of(req);

	for (size_t i = 0; i < count; i++)
		itable_forget(&fs->itab, fs_inode(req, forgets[i].ino),
			      forgets[i].nlookup);
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct stat st;
	int err;

	(void)fi;
	err = fs_stat(fs_inode(req, ino), &st);
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_attr(req, &st, fs_of(req)->attr_timeout);
}

static int set_size(struct bfs_fs *fs, struct bfs_inode *inode,
		    struct fuse_file_info *fi, off_t size)
{
	char name[16];
	int fd, err = 0;

	if (fi)
		return ftruncate((int)fi->fh, size) ? errno : 0;
	if (inode->type != S_IFREG)
		return inode->type == S_IFDIR ? EISDIR : EINVAL;
	fs_fd_name(name, inode->fd);
	fd = openat(fs->proc_fd, name, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	if (ftruncate(fd, size))
		err = errno;
	close(fd);
	return err;
}

static int set_times(struct bfs_inode *inode, struct fuse_file_info *fi,
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
		return futimens((int)fi->fh, tv) ? errno : 0;
	return utimensat(inode->fd, "", tv,
			 AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) ? errno : 0;
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	struct bfs_fs *fs = fs_of(req);
	struct bfs_inode *inode = fs_inode(req, ino);
	struct stat st;
	int err = 0;

	/* Owner first: a chown may clear set-id bits that the mode restates. */
	if (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		uid_t uid = (to_set & FUSE_SET_ATTR_UID) ? attr->st_uid : (uid_t)-1;
		gid_t gid = (to_set & FUSE_SET_ATTR_GID) ? attr->st_gid : (gid_t)-1;

		if (fchownat(inode->fd, "", uid, gid,
			     AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
			err = errno;
	}
	if (!err && (to_set & FUSE_SET_ATTR_MODE)) {
		if (fi) {
			err = fchmod((int)fi->fh, attr->st_mode) ? errno : 0;
		} else if (inode->type == S_IFLNK) {
			err = EOPNOTSUPP;
		} else {
			char name[16];

			fs_fd_name(name, inode->fd);
			err = fchmodat(fs->proc_fd, name, attr->st_mode, 0) ?
				errno : 0;
		}
	}
	if (!err && (to_set & FUSE_SET_ATTR_SIZE))
		err = set_size(fs, inode, fi, attr->st_size);
	if (!err && (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME |
			       FUSE_SET_ATTR_ATIME_NOW |
			       FUSE_SET_ATTR_MTIME_NOW)))
		err = set_times(inode, fi, attr, to_set);
	if (!err)
		err = fs_stat(inode, &st);
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_attr(req, &st, fs->attr_timeout);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char buf[PATH_MAX + 1];
	ssize_t n = readlinkat(fs_inode(req, ino)->fd, "", buf, sizeof(buf));

	if (n < 0)
		fuse_reply_err(req, errno);
	else if (n >= (ssize_t)sizeof(buf))
		fuse_reply_err(req, ENAMETOOLONG);
	else {
		buf[n] = '\0';
		fuse_reply_readlink(req, buf);
	}
}

/* After a creating call (err is its result): reply with the new entry. */
static void reply_created(fuse_req_t req, struct bfs_inode *parent,
			  const char *name, int err)
{
	struct fuse_entry_param e;

	if (!err)
		err = fs_lookup_entry(fs_of(req), parent, name, &e);
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_entry(req, &e);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	struct bfs_inode *dir = fs_inode(req, parent);
	int err = creds_become(fuse_req_ctx(req), true);

	if (!err) {
		err = mknodat(dir->fd, name, mode, rdev) ? errno : 0;
		creds_restore();
	}
	reply_created(req, dir, name, err);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode)
{
	struct bfs_inode *dir = fs_inode(req, parent);
	int err = creds_become(fuse_req_ctx(req), true);

	if (!err) {
		err = mkdirat(dir->fd, name, mode) ? errno : 0;
		creds_restore();
	}
	reply_created(req, dir, name, err);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		       const char *name)
{
	struct bfs_inode *dir = fs_inode(req, parent);
	int err = creds_become(fuse_req_ctx(req), true);

	if (!err) {
		err = symlinkat(link, dir->fd, name) ? errno : 0;
		creds_restore();
	}
	reply_created(req, dir, name, err);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		    const char *newname)
{
	struct bfs_fs *fs = fs_of(req);
	struct bfs_inode *inode = fs_inode(req, ino);
	struct fuse_entry_param e = { 0 };
	int err;

	if (linkat(inode->fd, "", fs_inode(req, newparent)->fd, newname,
		   AT_EMPTY_PATH)) {
		fuse_reply_err(req, errno);
		return;
	}
	err = fs_stat(inode, &e.attr);
	if (err) {
		fuse_reply_err(req, err);
		return;
	}
	itable_ref_again(&fs->itab, inode);
	e.ino = ino;
	e.attr_timeout = fs->attr_timeout;
	e.entry_timeout = fs->entry_timeout;
	fuse_reply_entry(req, &e);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	int err = unlinkat(fs_inode(req, parent)->fd, name, 0) ? errno : 0;

	fuse_reply_err(req, err);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	int err = unlinkat(fs_inode(req, parent)->fd, name, AT_REMOVEDIR) ?
		errno : 0;

	fuse_reply_err(req, err);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname,
		      unsigned int flags)
{
	int err;

	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	err = renameat2(fs_inode(req, parent)->fd, name,
			fs_inode(req, newparent)->fd, newname, flags) ?
		errno : 0;
	fuse_reply_err(req, err);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;

	if (fstatvfs(fs_inode(req, ino)->fd, &sv))
		fuse_reply_err(req, errno);
	else
		fuse_reply_statfs(req, &sv);
}

static void op_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	struct bfs_fs *fs = fs_of(req);
	char name[16];
	int err;

	fs_fd_name(name, fs_inode(req, ino)->fd);
	err = creds_become(fuse_req_ctx(req), false);
	if (!err) {
		err = faccessat(fs->proc_fd, name, mask, AT_EACCESS) ? errno : 0;
		creds_restore();
	}
	fuse_reply_err(req, err);
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
