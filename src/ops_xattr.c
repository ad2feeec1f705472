/*
 * Extended attributes. The xattr calls have no *at() form for O_PATH
 * fds, so they go through the fd's /proc path, which names the inode
 * itself. Symlinks carry no user xattrs and are refused.
 */
#include "fs.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/xattr.h>

static int inode_path(fuse_req_t req, fuse_ino_t ino, char path[40])
{
	struct bfs_inode *inode = fs_inode(req, ino);

	if (inode->type == S_IFLNK)
		return EPERM;
	fs_fd_path(path, inode->fd);
	return 0;
}

/* Reply to a get/list call: the size when asked for it, else the data. */
static void reply_sized(fuse_req_t req, size_t size, char *buf, ssize_t n)
{
	if (n < 0)
		fuse_reply_err(req, errno);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			size_t size)
{
	char path[40];
	char *buf = NULL;
	ssize_t n;
	int err = inode_path(req, ino, path);

	if (err) {
		fuse_reply_err(req, err == EPERM ? ENODATA : err);
		return;
	}
	if (size && !(buf = malloc(size))) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = getxattr(path, name, buf, size);
	reply_sized(req, size, buf, n);
	free(buf);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	char path[40];
	char *buf = NULL;
	ssize_t n;
	int err = inode_path(req, ino, path);

	if (err) {
		/* A symlink: nothing to list. */
		if (size == 0)
			fuse_reply_xattr(req, 0);
		else
			fuse_reply_buf(req, NULL, 0);
		return;
	}
	if (size && !(buf = malloc(size))) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = listxattr(path, buf, size);
	reply_sized(req, size, buf, n);
	free(buf);
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			const char *value, size_t size, int flags)
{
	char path[40];
	int err = inode_path(req, ino, path);

	if (!err)
		err = setxattr(path, name, value, size, flags) ? errno : 0;
	fuse_reply_err(req, err);
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	char path[40];
	int err = inode_path(req, ino, path);

	if (!err)
		err = removexattr(path, name) ? errno : 0;
	fuse_reply_err(req, err);
}

void ops_xattr_fill(struct fuse_lowlevel_ops *ops)
{
	ops->getxattr = op_getxattr;
	ops->listxattr = op_listxattr;
	ops->setxattr = op_setxattr;
	ops->removexattr = op_removexattr;
}
