/*
 * Extended attributes. The xattr calls have no *at() form for O_PATH
 * fds, so they go through the fd's /proc path, which names the inode
 * itself. Symlinks carry no user xattrs and are refused.
 */
#include "ops/fs.h"
#include "ops/ops.h"
#include "ops/ops_stats.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

enum xattr_call { XA_GET, XA_LIST, XA_SET, XA_REMOVE };

struct xattr_args {
	enum xattr_call call;
	const char *name;
	const char *value;  /* XA_SET */
	char *buf;          /* XA_GET, XA_LIST */
	size_t size;
	int flags;          /* XA_SET */
};

/* Run one xattr call on the inode. Returns the result, or -errno. */
static ssize_t xattr_call(fuse_req_t req, fuse_ino_t ino,
			  const struct xattr_args *a)
{
	struct bfs_fs *fs = fs_of(req);
	struct bfs_inode *inode = fs_inode(req, ino);
	char path[40];
	ssize_t res;
	int fd;

	if (inode->type == S_IFLNK)
		return -EPERM;
	fd = fs_get_fd(fs, inode);
	if (fd < 0)
		return fd;
	fs_fd_path(path, fd);
	switch (a->call) {
	case XA_GET:
		res = getxattr(path, a->name, a->buf, a->size);
		break;
	case XA_LIST:
		res = listxattr(path, a->buf, a->size);
		break;
	case XA_SET:
		res = setxattr(path, a->name, a->value, a->size, a->flags);
		break;
	default:
		res = removexattr(path, a->name);
		break;
	}
	if (res < 0)
		res = -errno;
	fs_put_fd(fs, inode);
	return res;
}

/* get and list: the size when asked for it, else the data. */
static void get_or_list(fuse_req_t req, fuse_ino_t ino, enum xattr_call call,
			const char *name, size_t size)
{
	struct xattr_args a = { .call = call, .name = name, .size = size };
	ssize_t n;

	if (call == XA_GET && ops_stats_get(req, ino, name, size))
		return;
	if (size && !(a.buf = malloc(size))) {
		fs_reply_error(req, -ENOMEM);
		return;
	}
	n = xattr_call(req, ino, &a);
	if (n == -EPERM && fs_inode(req, ino)->type == S_IFLNK)
		n = call == XA_LIST ? 0 : -ENODATA; /* a symlink has none */
	if (n < 0)
		fs_reply_error(req, (int)n);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)n);
	else
		fuse_reply_buf(req, a.buf, (size_t)n);
	free(a.buf);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			size_t size)
{
	get_or_list(req, ino, XA_GET, name, size);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	get_or_list(req, ino, XA_LIST, NULL, size);
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			const char *value, size_t size, int flags)
{
	struct xattr_args a = { .call = XA_SET, .name = name, .value = value,
				.size = size, .flags = flags };
	/* The root's stats xattrs are ours, not the backing directory's:
	 * read, or a reset, never stored there. */
	ssize_t res = ops_stats_is_ours(ino, name) ? ops_stats_set(req, ino, name) :
		      xattr_call(req, ino, &a);

	fs_reply_error(req, res < 0 ? (int)res : 0);
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct xattr_args a = { .call = XA_REMOVE, .name = name };
	ssize_t res = ops_stats_is_ours(ino, name) ? -EPERM : xattr_call(req, ino, &a);

	fs_reply_error(req, res < 0 ? (int)res : 0);
}

void ops_xattr_fill(struct fuse_lowlevel_ops *ops)
{
	ops->getxattr = op_getxattr;
	ops->listxattr = op_listxattr;
	ops->setxattr = op_setxattr;
	ops->removexattr = op_removexattr;
}
