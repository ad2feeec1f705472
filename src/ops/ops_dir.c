/* Directory handles: opendir, readdir(plus), releasedir, fsyncdir. An fh
 * that names no open directory (a successor that could not reopen one)
 * answers EBADF. */
#include "ops/fs.h"
#include "ops/ops.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct bfs_dir {
	struct open_handle link; /* in fs->dirs; first */
	DIR *dp;
	off_t offset;          /* where dp stands */
	struct dirent *entry;  /* read but not yet returned */
};

static void free_dir(struct bfs_dir *d)
{
	if (d->dp)
		closedir(d->dp);
	free(d);
}

static void untrack_and_free(struct bfs_fs *fs, struct bfs_dir *d)
{
	open_handles_del(&fs->dirs, &d->link);
	free_dir(d);
}

void ops_dir_close_all(struct bfs_fs *fs)
{
	struct open_handle *h;

	while ((h = open_handles_pop(&fs->dirs)))
		free_dir((struct bfs_dir *)h);
}

static struct bfs_dir *dir_of(struct bfs_fs *fs, struct fuse_file_info *fi)
{
	return (struct bfs_dir *)open_handles_find(&fs->dirs, fi->fh);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct bfs_fs *fs = fs_of(req);
	struct bfs_inode *inode = fs_inode(req, ino);
	struct bfs_dir *d = calloc(1, sizeof(*d));
	int fd, ifd;

	if (!d) {
		fs_reply_error(req, -ENOMEM);
		return;
	}
	ifd = fs_get_fd(fs, inode);
	if (ifd < 0) {
		free(d);
		fs_reply_error(req, ifd);
		return;
	}
	fd = openat(ifd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fs_put_fd(fs, inode);
	if (fd < 0 || !(d->dp = fdopendir(fd))) {
		int err = -errno;

		if (fd >= 0)
			close(fd);
		free(d);
		fs_reply_error(req, err);
		return;
	}
	if (open_handles_add(&fs->dirs, &d->link,
			     &(struct restart_open){ .node_id = inode->id,
						     .flags = (uint32_t)fi->flags })
	    != 0) {
		free_dir(d);
		fs_reply_error(req, -ENOMEM);
		return;
	}
	fi->fh = d->link.id;
	if (fuse_reply_open(req, fi) == -ENOENT)
		/* The opener was interrupted: nobody will release this. */
		untrack_and_free(fs, d);
}

int ops_dir_restore(struct bfs_fs *fs, uint64_t fh, const struct restart_open *o)
{
	struct bfs_inode *inode = itable_find(&fs->itab, o->node_id);
	struct bfs_dir *d = calloc(1, sizeof(*d));
	int fd = -1, ifd = -1, rc = inode ? 0 : -ESTALE;

	if (!d)
		return -ENOMEM;
	/* At its start: the next READDIR's offset (a telldir cookie of the
	 * backing directory, valid in a new open of it) seeks. */
	if (rc == 0 && (ifd = fs_get_fd(fs, inode)) < 0)
		rc = ifd;
	if (rc == 0) {
		fd = openat(ifd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		fs_put_fd(fs, inode);
		if (fd < 0 || !(d->dp = fdopendir(fd)))
			rc = -errno;
	}
	if (rc && fd >= 0)
		close(fd);
	/* One that cannot be reopened holds its fh all the same, with no
	 * stream (EBADF), until released: see ops_file_restore. */
	if (open_handles_put(&fs->dirs, &d->link, fh, o) != 0) {
		free_dir(d);
		return rc ? rc : -ENOMEM;
	}
	return rc;
}

static bool is_dot_or_dotdot(const char *name)
{
	return name[0] == '.' &&
	       (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
		       off_t offset, struct fuse_file_info *fi, bool plus)
{
	struct bfs_fs *fs = fs_of(req);
	struct bfs_inode *dir = fs_inode(req, ino);
	struct bfs_dir *d = dir_of(fs_of(req), fi);
	char *buf = d && d->dp ? malloc(size) : NULL;
	size_t used = 0;
	int err = 0;

	if (!d || !d->dp) {
		fs_reply_error(req, -EBADF);
		return;
	}
	if (!buf) {
		fs_reply_error(req, -ENOMEM);
		return;
	}
	if (offset != d->offset) {
		seekdir(d->dp, offset);
		d->entry = NULL;
		d->offset = offset;
	}
	for (;;) {
		struct fuse_entry_param e;
		const char *name;
		size_t len;
		off_t next;

		if (!d->entry) {
			errno = 0;
			d->entry = readdir(d->dp);
			if (!d->entry) {
				err = -errno;
				break;
			}
		}
		name = d->entry->d_name;
		next = d->entry->d_off;
		if (plus) {
			err = is_dot_or_dotdot(name) ? -ELOOP :
			      fs_lookup_entry(fs, dir, name, &e);
			if (err == -ENOENT) {
				/* Gone since readdir saw it. */
				err = 0;
				d->entry = NULL;
				d->offset = next;
				continue;
			}
			if (err == -ELOOP) {
				/* Listed, never looked up, with no node id (the
				 * kernel makes no dentry): . and .., and the
				 * mount itself or the backing root seen inside
				 * the tree (fs_lookup_entry). */
				err = 0;
				memset(&e, 0, sizeof(e));
				e.attr.st_ino = d->entry->d_ino;
				e.attr.st_mode = (mode_t)d->entry->d_type << 12;
			}
			if (err)
				break;
			len = fuse_add_direntry_plus(req, buf + used,
						     size - used, name, &e, next);
			if (len > size - used) {
				if (e.ino)
					itable_forget(&fs->itab,
						      fs_inode(req, e.ino), 1);
				break;
			}
		} else {
			struct stat st = {
				.st_ino = d->entry->d_ino,
				.st_mode = (mode_t)d->entry->d_type << 12,
			};

			len = fuse_add_direntry(req, buf + used, size - used,
						name, &st, next);
			if (len > size - used)
				break;
		}
		used += len;
		d->entry = NULL;
		d->offset = next;
	}
	/* An error after some entries: return those; the error comes again. */
	if (err && used == 0)
		fs_reply_error(req, err);
	else
		fuse_reply_buf(req, buf, used);
	free(buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
		       off_t offset, struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, offset, fi, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t offset, struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, offset, fi, true);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	struct bfs_dir *d = dir_of(fs_of(req), fi);

	(void)ino;
	if (d)
		untrack_and_free(fs_of(req), d);
	fuse_reply_err(req, d ? 0 : EBADF);
}

static void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			struct fuse_file_info *fi)
{
	struct bfs_dir *d = dir_of(fs_of(req), fi);
	int fd = d && d->dp ? dirfd(d->dp) : -1;
	int err;

	(void)ino;
	err = (datasync ? fdatasync(fd) : fsync(fd)) ? -errno : 0;
	fs_reply_error(req, err);
}

void ops_dir_fill(struct fuse_lowlevel_ops *ops)
{
	ops->opendir = op_opendir;
	ops->readdir = op_readdir;
	ops->readdirplus = op_readdirplus;
	ops->releasedir = op_releasedir;
	ops->fsyncdir = op_fsyncdir;
}
