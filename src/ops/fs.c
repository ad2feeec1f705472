/* The file system context and the helpers the operation modules share. */
#include "ops/fs.h"
#include "core/mountinfo.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

_Static_assert(ITABLE_ROOT_ID == FUSE_ROOT_ID, "the root's node id");

struct bfs_inode *fs_inode(fuse_req_t req, fuse_ino_t ino)
{
	return itable_find_or_stale(&fs_of(req)->itab, ino);
}

fuse_ino_t fs_node_id(struct bfs_fs *fs, struct bfs_inode *inode)
{
	(void)fs;
	return inode->id;
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
	return fchmodat(fs->proc_fd, name, mode, 0) ? -errno : 0;
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
		return -errno;
	mode = st.st_mode & 07777 & ~(mode_t)S_ISUID;
	if ((mode & S_ISGID) &&
	    ((mode & S_IXGRP) || !fs_caller_in_group(req, st.st_gid)))
		mode &= ~(mode_t)S_ISGID;
	if (!S_ISREG(st.st_mode) || mode == (st.st_mode & 07777))
		return 0;
	if (!path)
		return fchmod(fd, mode) ? -errno : 0;
	return fs_chmod_opath(fs_of(req), fd, mode);
}

int fs_stat(struct bfs_fs *fs, struct bfs_inode *inode, struct stat *st)
{
	int fd = fs_get_fd(fs, inode), err = 0;

	if (fd < 0)
		return fd;
	if (fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
		err = -errno;
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
		return dirfd;
	fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	err = -errno;
	fs_put_fd(fs, parent);
	if (fd < 0)
		return err;
	if (fstatat(fd, "", &e->attr, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)) {
		int err = -errno;

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
		return -ELOOP;
	}
	err = itable_ref(&fs->itab, fd, e->attr.st_dev, e->attr.st_ino,
			 e->attr.st_mode, &inode);
	if (err)
		return err;
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
	fs->fuse_fd = -1;
	fs->attr_timeout = opts->attr_timeout;
	fs->entry_timeout = opts->entry_timeout;
	if (open_handles_init(&fs->dirs) != 0)
		return -ENOMEM;
	if (open_handles_init(&fs->files) != 0) {
		open_handles_destroy(&fs->dirs);
		return -ENOMEM;
	}
	fs->bad_file.fd = -1;
	fs->bad_file.dfd = -1;
	fs->bad_file.align = 4096;
	fs->bad_file.inode = &fs->itab.stale;
	pthread_mutex_init(&fs->bad_file.lock, NULL);
	return itable_init(&fs->itab, root_fd, idle_fd_budget());
}

void fs_note_self(struct bfs_fs *fs, const char *mountpoint)
{
	if (mountinfo_dev_at(mountpoint, "fuse.bouncefs", &fs->self_dev) != 0)
		fs->self_dev = 0;
}

int fs_open_proc(struct bfs_fs *fs)
{
	fs->proc_fd = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
	return fs->proc_fd < 0 ? -errno : 0;
}

void fs_destroy(struct bfs_fs *fs)
{
	open_handles_destroy(&fs->dirs);
	open_handles_destroy(&fs->files);
	itable_destroy(&fs->itab);
	if (fs->proc_fd >= 0)
		close(fs->proc_fd);
	fs->proc_fd = -1;
}
