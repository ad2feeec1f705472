/*
 * Open files: open, create, read, write, flush, release, fsync,
 * fallocate, lseek, copy_file_range and flock. The backing file is opened
 * by reopening the inode's O_PATH fd through /proc/self/fd.
 */
#include "creds.h"
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* Flags that the kernel has already acted on, or that we handle ourselves. */
static int backing_flags(int flags)
{
	/* O_APPEND: the kernel sends the offset to write at (its i_size).
	 * O_DIRECT: staged by the daemon, never applied to app pages. */
	flags &= ~(O_CREAT | O_EXCL | O_NOCTTY | O_APPEND | O_DIRECT);
	return flags | O_CLOEXEC;
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct bfs_fs *fs = fs_of(req);
	struct bfs_inode *inode = fs_inode(req, ino);
	char name[16];
	int fd, err;

	fd = fs_get_fd(fs, inode);
	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	fs_fd_name(name, fd);
	fd = openat(fs->proc_fd, name, backing_flags(fi->flags));
	err = errno;
	fs_put_fd(fs, inode);
	if (fd < 0) {
		fuse_reply_err(req, err);
		return;
	}
	fi->fh = (uint64_t)fd;
	if (fuse_reply_open(req, fi) == -ENOENT)
		close(fd);
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	struct bfs_fs *fs = fs_of(req);
	struct bfs_inode *dir = fs_inode(req, parent);
	struct fuse_entry_param e;
	int flags = backing_flags(fi->flags) | O_CREAT | O_NOFOLLOW;
	bool created;
	int fd, dfd, err;

	dfd = fs_get_fd(fs, dir);
	if (dfd < 0) {
		fuse_reply_err(req, -dfd);
		return;
	}
	err = creds_become(fuse_req_ctx(req), true);
	if (err) {
		fs_put_fd(fs, dir);
		fuse_reply_err(req, err);
		return;
	}
	/* Know whether we made the file, to take it back on failure. */
	fd = openat(dfd, name, flags | O_EXCL, mode);
	created = fd >= 0;
	if (fd < 0 && errno == EEXIST && !(fi->flags & O_EXCL))
		fd = openat(dfd, name, flags, mode);
	err = fd < 0 ? errno : 0;
	creds_restore();
	if (!err)
		err = fs_lookup_entry(fs, dir, name, &e);
	if (err) {
		if (fd >= 0) {
			close(fd);
			if (created)
				unlinkat(dfd, name, 0);
		}
		fs_put_fd(fs, dir);
		fuse_reply_err(req, err);
		return;
	}
	fs_put_fd(fs, dir);
	fi->fh = (uint64_t)fd;
	if (fuse_reply_create(req, &e, fi) == -ENOENT) {
		close(fd);
		itable_forget(&fs->itab, fs_inode(req, e.ino), 1);
	}
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct fuse_bufvec bv = FUSE_BUFVEC_INIT(size);

	(void)ino;
	bv.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	bv.buf[0].fd = fs_file_fd(fi);
	bv.buf[0].pos = off;
	fuse_reply_data(req, &bv, FUSE_BUF_SPLICE_MOVE);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		     size_t size, off_t off, struct fuse_file_info *fi)
{
	size_t done = 0;

	(void)ino;
	while (done < size) {
		ssize_t n = pwrite(fs_file_fd(fi), buf + done, size - done,
				   off + (off_t)done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* Report what reached the file, or the error. */
			if (done == 0) {
				fuse_reply_err(req, errno);
				return;
			}
			break;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	fuse_reply_write(req, done);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	/* Like close(2) on a local file: report delayed write errors. */
	int fd = dup(fs_file_fd(fi));
	int err = 0;

	(void)ino;
	if (fd < 0)
		err = errno;
	else if (close(fd))
		err = errno;
	fuse_reply_err(req, err);
}

static void op_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	(void)ino;
	close(fs_file_fd(fi));
	fuse_reply_err(req, 0);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	int fd = fs_file_fd(fi);
	int err;

	(void)ino;
	err = (datasync ? fdatasync(fd) : fsync(fd)) ? errno : 0;
	fuse_reply_err(req, err);
}

static void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode,
			 off_t offset, off_t length, struct fuse_file_info *fi)
{
	int err;

	(void)ino;
	err = fallocate(fs_file_fd(fi), mode, offset, length) ? errno : 0;
	fuse_reply_err(req, err);
}

static void op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		     struct fuse_file_info *fi)
{
	off_t res = lseek(fs_file_fd(fi), off, whence);

	(void)ino;
	if (res < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_lseek(req, res);
}

static void op_copy_file_range(fuse_req_t req, fuse_ino_t ino_in,
			       off_t off_in, struct fuse_file_info *fi_in,
			       fuse_ino_t ino_out, off_t off_out,
			       struct fuse_file_info *fi_out, size_t len,
			       int flags)
{
	loff_t in = off_in, out = off_out;
	ssize_t n;

	(void)ino_in;
	(void)ino_out;
	n = copy_file_range(fs_file_fd(fi_in), &in, fs_file_fd(fi_out), &out, len,
			    (unsigned)flags);
	if (n < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_write(req, (size_t)n);
}

static void op_flock(fuse_req_t req, fuse_ino_t ino,
		     struct fuse_file_info *fi, int op)
{
	int err;

	(void)ino;
	err = flock(fs_file_fd(fi), op) ? errno : 0;
	fuse_reply_err(req, err);
}

void ops_file_fill(struct fuse_lowlevel_ops *ops)
{
	ops->open = op_open;
	ops->create = op_create;
	ops->read = op_read;
	ops->write = op_write;
	ops->flush = op_flush;
	ops->release = op_release;
	ops->fsync = op_fsync;
	ops->fallocate = op_fallocate;
	ops->lseek = op_lseek;
	ops->copy_file_range = op_copy_file_range;
	ops->flock = op_flock;
}
