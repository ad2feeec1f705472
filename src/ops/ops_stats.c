/*
 * The mount root's virtual xattrs that bouncefs stat reads: the counters
 * (user.bouncefs.stats, anyone who may read the root), the files' figures
 * (user.bouncefs.files: they name files, so root only) and the reset
 * (setting user.bouncefs.reset: root only). None is stored on the backing
 * directory; the others' names cannot be set or removed there.
 */
#include "ops/ops_stats.h"
#include "ops/fs.h"
#include "core/error_log.h"
#include "core/file_stats.h"
#include "core/stats.h"
#include "dio/open_file.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

bool ops_stats_is_ours(fuse_ino_t ino, const char *name)
{
	return ino == FUSE_ROOT_ID &&
	       (strcmp(name, BFS_STATS_XATTR) == 0 ||
		strcmp(name, BFS_FILES_XATTR) == 0 ||
		strcmp(name, BFS_RESET_XATTR) == 0);
}

static bool caller_is_root(fuse_req_t req)
{
	return fuse_req_ctx(req)->uid == 0;
}

/* The open files' rows, grown as found. */
struct open_rows {
	struct file_stats_row *rows;
	size_t n, cap;
};

static void add_open(struct open_handle *h, void *arg)
{
	struct open_rows *o = arg;
	struct bfs_file *f = (struct bfs_file *)h;
	char path[PATH_MAX];

	if (!file_counters_any(&f->counters))
		return;
	if (o->n == o->cap) {
		size_t cap = o->cap ? 2 * o->cap : 16;
		struct file_stats_row *r = realloc(o->rows, cap * sizeof(*r));

		if (!r)
			return;
		o->rows = r;
		o->cap = cap;
	}
	error_log_path(f->fd, path, sizeof(path));
	file_stats_row_of(&f->counters, f->inode->dev, f->inode->ino, path,
			  &o->rows[o->n++]);
}

static void reset_open(struct open_handle *h, void *arg)
{
	(void)arg;
	file_counters_reset(&((struct bfs_file *)h)->counters);
}

static void reply_text(fuse_req_t req, const char *text, size_t len,
		       size_t size)
{
	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		fs_reply_error(req, -ERANGE);
	else
		fuse_reply_buf(req, text, len);
}

bool ops_stats_get(fuse_req_t req, fuse_ino_t ino, const char *name,
		   size_t size)
{
	if (ino != FUSE_ROOT_ID)
		return false;
	if (strcmp(name, BFS_STATS_XATTR) == 0) {
		char text[8192];
		size_t len = stats_format(text, sizeof(text));

		reply_text(req, text, len < sizeof(text) ? len : sizeof(text) - 1,
			   size);
		return true;
	}
	if (strcmp(name, BFS_FILES_XATTR) == 0) {
		struct open_rows o = { NULL, 0, 0 };
		char *text;
		size_t len;

		if (!caller_is_root(req)) {
			fs_reply_error(req, -EPERM);
			return true;
		}
		text = malloc(XATTR_SIZE_MAX);
		if (!text) {
			fs_reply_error(req, -ENOMEM);
			return true;
		}
		open_handles_each(&fs_of(req)->files, add_open, &o);
		len = file_stats_format(o.rows, o.n, text, XATTR_SIZE_MAX);
		free(o.rows);
		reply_text(req, text, len < XATTR_SIZE_MAX ? len : 0, size);
		free(text);
		return true;
	}
	if (strcmp(name, BFS_RESET_XATTR) == 0) {
		fs_reply_error(req, -ENODATA);
		return true;
	}
	return false;
}

int ops_stats_set(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	(void)ino;
	if (strcmp(name, BFS_RESET_XATTR) != 0 || !caller_is_root(req))
		return -EPERM;
	stats_reset();
	file_stats_reset();
	open_handles_each(&fs_of(req)->files, reset_open, NULL);
	return 0;
}

void ops_stats_closed(const struct bfs_file *f)
{
	struct file_stats_row r;
	char path[PATH_MAX];

	if (!file_counters_any(&f->counters))
		return;
	error_log_path(f->fd, path, sizeof(path));
	file_stats_row_of(&f->counters, f->inode->dev, f->inode->ino, path, &r);
	file_stats_fold(&r);
}
