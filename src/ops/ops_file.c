/*
 * Open files: open, create, read, write, flush, release, fsync,
 * fallocate, lseek and copy_file_range. The backing file is opened
 * by reopening the inode's O_PATH fd through /proc/self/fd.
 */
#include "core/align.h"
#include "core/kernel_features.h"
#include "core/error_log.h"
#include "privilege/creds.h"
#include "ops/fs.h"
#include "ops/ops.h"
#include "ops/ops_stats.h"
#include "dio/request.h"
#include "dio/sys_io.h"
#include "core/stats.h"

#include <errno.h>
#include <linux/fuse.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

/* Flags that the kernel has already acted on, or that we handle ourselves. */
static int backing_flags(int flags)
{
	/* O_APPEND: the kernel sends the offset to write at (its i_size).
	 * O_DIRECT: staged by the daemon, never applied to app pages. */
	flags &= ~(O_CREAT | O_EXCL | O_NOCTTY | O_APPEND | O_DIRECT | O_TRUNC);
	return flags | O_CLOEXEC;
}

/* Direct-I/O alignment of an open backing file: statx, else 4096, and at
 * least the device's logical block (the PI interval) found at mount. */
static uint32_t dio_alignment(const struct bfs_fs *fs, int fd)
{
	struct statx stx;
	bool have = statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
		    (stx.stx_mask & STATX_DIOALIGN);

	return dio_alignment_for(have, have ? stx.stx_dio_mem_align : 0,
				 have ? stx.stx_dio_offset_align : 0,
				 fs->min_align);
}

/*
 * The O_DIRECT backing fd of f, opened on first use with the access the
 * open has: a read-only open gets a read-only fd (a read-write one would
 * keep the backing file system from being remounted read-only while a VM
 * image is open with cache=none); a write-only one reads too, for
 * read-modify-write (the kernel checked the caller's access; the reads
 * only fill the blocks the write covers in part). Returns 0 with *dfd set:
 * the fd, or -1 when the backing file system has no direct I/O (the data
 * is then served from the backing page cache, which keeps its pages
 * stable). Any other failure (EMFILE, ENOMEM) is returned and fails only
 * the request: the next one tries again.
 */
static int direct_fd(struct bfs_fs *fs, struct bfs_file *f, int *dfd)
{
	int fd = __atomic_load_n(&f->dfd, __ATOMIC_ACQUIRE), err = 0;

	/* Opened (or found impossible) once; every request after that
	 * needs no lock. */
	if (fd != -2) {
		*dfd = fd;
		return 0;
	}
	pthread_mutex_lock(&f->lock);
	if (f->dfd == -2) {
		int mode = fcntl(f->fd, F_GETFL) & O_ACCMODE;
		char name[16];

		fs_fd_name(name, f->fd);
		fd = openat(fs->proc_fd, name, (mode == O_RDONLY ? O_RDONLY : O_RDWR) |
			    O_DIRECT | O_CLOEXEC);
		if (fd < 0 && errno == EACCES && mode != O_RDONLY)
			fd = openat(fs->proc_fd, name, mode | O_DIRECT | O_CLOEXEC);
		if (fd < 0 && errno != EINVAL) {
			err = -errno;
		} else if (fd >= 0) {
			__atomic_store_n(&f->align, dio_alignment(fs, fd),
					 __ATOMIC_RELAXED);
			if (f->align > dio_max_align(fs->dio)) {
				close(fd);
				fd = -1;
			}
		}
		/* align is set first: the release store publishes it. */
		if (!err)
			__atomic_store_n(&f->dfd, fd >= 0 ? fd : -1, __ATOMIC_RELEASE);
		if (fd >= 0)
			atomic_store(&f->inode->direct_seen, true);
	}
	fd = f->dfd;
	pthread_mutex_unlock(&f->lock);
	*dfd = fd;
	return err;
}

static struct bfs_file *new_file(int fd, struct bfs_inode *inode)
{
	/* Aligned: its counters have a cache line of their own. */
	struct bfs_file *f = aligned_alloc(_Alignof(struct bfs_file), sizeof(*f));

	if (!f)
		return NULL;
	memset(f, 0, sizeof(*f));
	f->fd = fd;
	f->dfd = -2; /* not tried yet */
	f->align = 4096;
	f->inode = inode;
	pthread_mutex_init(&f->lock, NULL);
	return f;
}

/* ---- how an open is served ------------------------------------------ */

/* FUSE passthrough (Linux 6.9; Debian 12's headers predate it). */
#ifndef FOPEN_PASSTHROUGH
#define FOPEN_PASSTHROUGH (1u << 7)
#endif
#ifndef FOPEN_PARALLEL_DIRECT_WRITES
#define FOPEN_PARALLEL_DIRECT_WRITES (1u << 6)
#endif
struct backing_map {
	int32_t fd;
	uint32_t flags;
	uint64_t padding;
};
#define DEV_IOC_BACKING_OPEN _IOW(229, 1, struct backing_map)
#define DEV_IOC_BACKING_CLOSE _IOW(229, 2, uint32_t)

/*
 * An open is served one of three ways (docs/architecture.md, "Buffered
 * opens"):
 *   WAY_PLAIN        through us: staged when direct (FOPEN_DIRECT_IO),
 *                    else through the kernel's page cache;
 *   WAY_PASSTHROUGH  by the kernel from the backing file (FOPEN_PASSTHROUGH):
 *                    reads, writes and mmap at the backing file's speed,
 *                    coherent with every other opener of it;
 *   WAY_PT_DIRECT    FOPEN_PASSTHROUGH with FOPEN_DIRECT_IO: reads and
 *                    writes still come to us (a direct open stays staged:
 *                    never zero-copy), mmap is the backing file's. The
 *                    kernel takes only passthrough opens of an inode that
 *                    has one, so every open of such an inode is one of the
 *                    two.
 * Passthrough starts only for a buffered open of an inode with no other
 * open, never direct I/O since it came into the table and no set-id bit.
 */
enum open_way { WAY_PLAIN, WAY_PASSTHROUGH, WAY_PT_DIRECT };

/* Guards every inode's opens, pt_opens, backing_id and backing_rw. */
static pthread_mutex_t mode_lock = PTHREAD_MUTEX_INITIALIZER;

/* A set-id file: its writes clear the bits (we do, per caller), so they
 * come to us. */
static bool is_setid(int fd)
{
	struct stat st;

	return fstat(fd, &st) != 0 || (st.st_mode & S_ISUID) ||
	       ((st.st_mode & S_ISGID) && (st.st_mode & S_IXGRP));
}

/*
 * The backing file to register for f: a fresh open of it, without this
 * open's O_SYNC, O_NOATIME or O_APPEND (the kernel passes each I/O's own
 * flags on), read-write if the open writes. The fd, or -errno.
 */
static int backing_fd(struct bfs_fs *fs, struct bfs_file *f, bool rw)
{
	char name[16];
	int fd;

	fs_fd_name(name, f->fd);
	fd = openat(fs->proc_fd, name, (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* Register fd with the kernel. It keeps this thread's credentials for the
 * I/O, taken without CAP_FSETID so that a write clears set-id bits as it
 * would for the caller. The id (> 0) or -errno. */
static int backing_register(struct bfs_fs *fs, int fd)
{
	struct backing_map map;
	int id = -1, err = creds_fsetid(false);

	if (!err) {
		memset(&map, 0, sizeof(map));
		map.fd = fd;
		id = ioctl(fs->fuse_fd, DEV_IOC_BACKING_OPEN, &map);
		err = id < 0 ? -errno : id == 0 ? -EIO : 0;
		creds_fsetid(true);
	}
	return err ? err : id;
}

static void backing_close(struct bfs_fs *fs, int id)
{
	uint32_t u = (uint32_t)id;

	if (fs->fuse_fd < 0)   /* the session is gone, and its ids with it */
		return;
	if (ioctl(fs->fuse_fd, DEV_IOC_BACKING_CLOSE, &u) && errno != ENOTCONN)
		bfs_log(LOG_WARNING, "cannot release a passthrough backing file: %s",
			strerror(errno));
}

/* Count f among its inode's opens and choose how it is served. */
static enum open_way open_join(struct bfs_fs *fs, struct bfs_file *f,
			       int flags)
{
	struct bfs_inode *in = f->inode;
	bool direct = flags & O_DIRECT;
	bool writes = (flags & O_ACCMODE) != O_RDONLY;
	enum open_way way = WAY_PLAIN;
	static _Atomic bool told;
	/* Opened before the lock, in case this open starts passthrough: an
	 * open may wait (for a lease to be broken), and no other open may
	 * wait behind it. Closed below: the kernel holds what it registers. */
	bool may_start = atomic_load(&fs->passthrough) && !direct &&
			 !atomic_load(&in->direct_seen);
	int cand = may_start ? backing_fd(fs, f, writes) : -1;

	pthread_mutex_lock(&mode_lock);
	if (in->pt_opens > 0) {
		way = direct || atomic_load(&in->direct_seen) ||
		      (writes && !in->backing_rw) || is_setid(f->fd) ?
		      WAY_PT_DIRECT : WAY_PASSTHROUGH;
	} else if (may_start && in->opens == 0 &&
		   !atomic_load(&in->direct_seen) && !is_setid(f->fd)) {
		int id = cand >= 0 ? backing_register(fs, cand) : cand;

		if (id > 0) {
			in->backing_id = id;
			in->backing_rw = writes;
			way = WAY_PASSTHROUGH;
		} else if (!atomic_exchange(&told, true)) {
			/* (a backing file system that stacks: overlayfs) */
			bfs_log(LOG_WARNING, "cannot serve a buffered open by FUSE passthrough (%s); it goes through the page cache, and so may others",
				strerror(-id));
		}
	}
	in->opens++;
	if (way != WAY_PLAIN)
		in->pt_opens++;
	if (way == WAY_PASSTHROUGH)
		stats_add(&bfs_stats.passthrough_opens, 1);
	f->passthrough = way != WAY_PLAIN;
	f->joined = true;
	pthread_mutex_unlock(&mode_lock);
	if (cand >= 0)
		close(cand);
	return way;
}

/* f no longer counts among its inode's opens; the last passthrough open
 * lets the backing file go (the kernel holds it for its open files). */
static void open_leave(struct bfs_fs *fs, struct bfs_file *f)
{
	struct bfs_inode *in = f->inode;

	pthread_mutex_lock(&mode_lock);
	in->opens--;
	if (f->passthrough && --in->pt_opens == 0) {
		backing_close(fs, in->backing_id);
		in->backing_id = 0;
	}
	pthread_mutex_unlock(&mode_lock);
}

static void free_file(struct bfs_fs *fs, struct bfs_file *f)
{
	ops_stats_closed(f);
	if (f->joined)
		open_leave(fs, f);
	if (f->cached)
		atomic_fetch_sub(&f->inode->cached_opens, 1);
	if (f->dfd >= 0)
		close(f->dfd);
	if (f->fd >= 0)
		close(f->fd);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

static uint64_t timeout_sec(double t)
{
	return t <= 0 ? 0 : t >= (double)UINT64_MAX ? UINT64_MAX : (uint64_t)t;
}

static uint32_t timeout_nsec(double t)
{
	double frac = t - (double)timeout_sec(t);

	return frac <= 0 ? 0 : frac >= 0.999999999 ? 999999999 :
	       (uint32_t)(frac * 1e9);
}

static void fill_attr(struct fuse_attr *a, const struct stat *st)
{
	a->ino = st->st_ino;
	a->mode = st->st_mode;
	a->nlink = (uint32_t)st->st_nlink;
	a->uid = st->st_uid;
	a->gid = st->st_gid;
	a->rdev = (uint32_t)st->st_rdev;
	a->size = (uint64_t)st->st_size;
	a->blksize = (uint32_t)st->st_blksize;
	a->blocks = (uint64_t)st->st_blocks;
	a->atime = (uint64_t)st->st_atim.tv_sec;
	a->mtime = (uint64_t)st->st_mtim.tv_sec;
	a->ctime = (uint64_t)st->st_ctim.tv_sec;
	a->atimensec = (uint32_t)st->st_atim.tv_nsec;
	a->mtimensec = (uint32_t)st->st_mtim.tv_nsec;
	a->ctimensec = (uint32_t)st->st_ctim.tv_nsec;
}

/*
 * The OPEN or CREATE answer. libfuse 3.14 has no field for a backing id
 * or for FOPEN_PARALLEL_DIRECT_WRITES, so the answer of a passthrough or
 * direct open is made here, as libfuse makes it. Parallel direct writes:
 * the kernel no longer holds the inode's lock across a direct write that
 * does not extend the file, so the writes of many threads to one image
 * (qemu's aio=threads) reach us together; the range lock orders those
 * that share a block.
 */
static int send_open(fuse_req_t req, const struct fuse_file_info *fi,
		     const struct bfs_file *f, const struct fuse_entry_param *e)
{
	struct {
		struct fuse_entry_out entry;
		struct fuse_open_out open;
	} out;

	if (!f->passthrough && !fi->direct_io)
		return e ? fuse_reply_create(req, e, fi) : fuse_reply_open(req, fi);
	memset(&out, 0, sizeof(out));
	out.open.fh = fi->fh;
	out.open.open_flags = (f->passthrough ? FOPEN_PASSTHROUGH : 0) |
			      (fi->direct_io ? FOPEN_DIRECT_IO |
					       FOPEN_PARALLEL_DIRECT_WRITES : 0) |
			      (fi->keep_cache ? FOPEN_KEEP_CACHE : 0) |
			      (fi->nonseekable ? FOPEN_NONSEEKABLE : 0);
	/* (the backing id is where older headers have padding) */
	if (f->passthrough)
		memcpy(&out.open.open_flags + 1, &f->inode->backing_id,
		       sizeof(int32_t));
	if (!e)
		return fuse_reply_buf(req, (const char *)&out.open, sizeof(out.open));
	out.entry.nodeid = e->ino;
	out.entry.generation = e->generation;
	out.entry.entry_valid = timeout_sec(e->entry_timeout);
	out.entry.entry_valid_nsec = timeout_nsec(e->entry_timeout);
	out.entry.attr_valid = timeout_sec(e->attr_timeout);
	out.entry.attr_valid_nsec = timeout_nsec(e->attr_timeout);
	fill_attr(&out.entry.attr, &e->attr);
	return fuse_reply_buf(req, (const char *)&out, sizeof(out));
}

/* An open not answered after all: f goes, and for a create the lookup
 * reference its entry took. */
static void undo_open(fuse_req_t req, struct bfs_file *f,
		      const struct fuse_entry_param *e)
{
	struct bfs_fs *fs = fs_of(req);

	free_file(fs, f);
	if (e)
		itable_forget(&fs->itab, fs_inode(req, e->ino), 1);
}

/* Reply to an open or create with f; undo it if the opener is gone. */
static void reply_opened(fuse_req_t req, struct fuse_file_info *fi,
			 struct bfs_file *f, const struct fuse_entry_param *e)
{
	struct bfs_fs *fs = fs_of(req);
	bool direct = fi->flags & O_DIRECT;
	enum open_way way;
	uint32_t served;

	/* Direct opens bypass the kernel's page cache, and are staged. */
	if (direct) {
		int dfd, err = direct_fd(fs, f, &dfd);

		if (err) {
			undo_open(req, f, e);
			fs_reply_error(req, err);
			return;
		}
	}
	way = open_join(fs, f, fi->flags);
	fi->direct_io = direct || way == WAY_PT_DIRECT;
	if (way == WAY_PLAIN && !direct) {
		f->cached = true;
		atomic_fetch_add(&f->inode->cached_opens, 1);
	}
	served = (fi->direct_io ? RESTART_SERVED_DIRECT_IO : 0) |
		 (f->passthrough ? RESTART_SERVED_PASSTHROUGH : 0) |
		 (f->cached ? RESTART_SERVED_CACHED : 0);
	/* (the backing id is read under no lock: this open holds it) */
	if (open_handles_add(&fs->files, &f->link,
			     &(struct restart_open){
				     .node_id = f->inode->id,
				     .flags = (uint32_t)fi->flags,
				     .served = served,
				     .backing_id = f->passthrough ?
						   f->inode->backing_id : 0 })
	    != 0) {
		undo_open(req, f, e);
		fs_reply_error(req, -ENOMEM);
		return;
	}
	fi->fh = f->link.id;
	if (send_open(req, fi, f, e) == -ENOENT) {
		open_handles_del(&fs->files, &f->link);
		undo_open(req, f, e);
	}
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct bfs_fs *fs = fs_of(req);
	struct bfs_inode *inode = fs_inode(req, ino);
	struct bfs_file *f;
	struct range_lock_entry lock;
	bool trunc = fi->flags & O_TRUNC;
	const struct fuse_open_in *in;
	char name[16];
	int fd, err;

	fd = fs_get_fd(fs, inode);
	if (fd < 0) {
		fs_reply_error(req, fd);
		return;
	}
	fs_fd_name(name, fd);
	/* O_TRUNC comes here (atomic O_TRUNC): the backing open truncates
	 * and moves mtime and ctime even when the file is empty already,
	 * which a SETATTR of the size could not tell from truncate(2). Not
	 * while a write is in flight on the blocks it cuts. */
	if (trunc)
		range_lock_acquire(&inode->writers, &lock, 0, RANGE_LOCK_EOF);
	fd = openat(fs->proc_fd, name, backing_flags(fi->flags) |
		    (fi->flags & O_TRUNC));
	err = fd < 0 ? -errno : 0;
	/* By a caller without CAP_FSETID, as a truncate by it would. */
	if (!err && trunc && (in = bfs_request_arg(FUSE_OPEN, sizeof(*in))) &&
	    (in->open_flags & FUSE_OPEN_KILL_SUIDGID)) {
		err = fs_kill_suidgid(req, fd, false);
		if (err)
			close(fd);
	}
	if (trunc)
		range_lock_release(&inode->writers, &lock);
	fs_put_fd(fs, inode);
	if (err) {
		fs_reply_error(req, err);
		return;
	}
	f = new_file(fd, inode);
	if (!f) {
		close(fd);
		fs_reply_error(req, -ENOMEM);
		return;
	}
	reply_opened(req, fi, f, NULL);
}

/*
 * Open a file that is already there under a name a CREATE asked for: it
 * appeared after the kernel's LOOKUP (another mount of the backing
 * directory, or someone acting in it), so the kernel checked nothing.
 * Opened as the caller with no capability raised (CREDS_CALLER), so the
 * backing file system checks access exactly as for the caller: mode bits,
 * groups, ACLs. Only a regular file: opening a FIFO or a device would
 * block or act. Returns the fd, or -errno (-ENOENT: gone again).
 */
static int open_existing(fuse_req_t req, int dfd, const char *name, int flags)
{
	struct bfs_fs *fs = fs_of(req);
	struct stat st;
	char path[16];
	int pfd, fd = -1, err;

	err = creds_become(req, CREDS_CALLER);
	if (err)
		return err;
	pfd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (pfd < 0) {
		err = -errno;
	} else if (fstat(pfd, &st)) {
		err = -errno;
	} else if (!S_ISREG(st.st_mode)) {
		err = S_ISDIR(st.st_mode) ? -EISDIR : -EEXIST;
	} else {
		fs_fd_name(path, pfd);
		fd = openat(fs->proc_fd, path, flags & ~(O_CREAT | O_NOFOLLOW));
		err = fd < 0 ? -errno : 0;
	}
	creds_restore();
	if (pfd >= 0)
		close(pfd);
	return err ? err : fd;
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	struct bfs_fs *fs = fs_of(req);
	struct bfs_inode *dir = fs_inode(req, parent);
	struct fuse_entry_param e;
	struct bfs_file *f;
	int flags = backing_flags(fi->flags) | O_CREAT | O_NOFOLLOW |
		(fi->flags & O_TRUNC);
	bool created = false;
	int fd = -1, dfd, err;

	dfd = fs_get_fd(fs, dir);
	if (dfd < 0) {
		fs_reply_error(req, dfd);
		return;
	}
	/* Made here, with O_EXCL, as the owner-to-be (the kernel checked the
	 * directory); a name that is there already is opened as the caller
	 * (open_existing). A few tries, as the name may come and go. */
	for (int tries = 0; tries < 4; tries++) {
		err = creds_become(req, CREDS_OWNER);
		if (err)
			break;
		fd = openat(dfd, name, flags | O_EXCL, mode);
		err = fd < 0 ? -errno : 0;
		creds_restore();
		created = fd >= 0;
		if (err != -EEXIST || (fi->flags & O_EXCL))
			break;
		fd = open_existing(req, dfd, name, flags);
		err = fd < 0 ? fd : 0;
		if (err != -ENOENT)
			break;
	}
	if (!err)
		err = fs_lookup_entry(fs, dir, name, &e);
	f = NULL;
	if (!err && !(f = new_file(fd, fs_inode(req, e.ino)))) {
		itable_forget(&fs->itab, fs_inode(req, e.ino), 1);
		err = -ENOMEM;
	}
	if (err) {
		if (fd >= 0) {
			close(fd);
			if (created)
				unlinkat(dfd, name, 0);
		}
		fs_put_fd(fs, dir);
		fs_reply_error(req, err);
		return;
	}
	fs_put_fd(fs, dir);
	reply_opened(req, fi, f, &e);
}

/*
 * 1 if the request takes the direct path, 0 if not, or -errno (the direct
 * fd could not be opened just now). Requests of a direct open, or of one
 * made direct with F_SETFL, are staged in the daemon's buffers and sent
 * with O_DIRECT. Once a file has had direct I/O, its other opens' reads
 * and writes go the same way: the backing page cache must not fill
 * (readahead) while a direct write runs, or XFS reports a collision and
 * fails later I/O with EIO.
 */
static int wants_direct(fuse_req_t req, struct fuse_file_info *fi)
{
	struct bfs_file *f = fs_file(fs_of(req), fi);
	int dfd, err;

	if (!(fi->flags & O_DIRECT) && !atomic_load(&f->inode->direct_seen))
		return 0;
	err = direct_fd(fs_of(req), f, &dfd);
	return err ? err : dfd >= 0;
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct fuse_bufvec bv = FUSE_BUFVEC_INIT(size);
	size_t room;
	char *space;
	int direct;

	(void)ino;
	if (fs_file(fs_of(req), fi)->fd < 0) {   /* (no open: fs.h) */
		fs_reply_error(req, -EBADF);
		return;
	}
	direct = wants_direct(req, fi);
	if (direct < 0) {
		fs_reply_error(req, direct);
		return;
	}
	if (direct) {
		dio_read(fs_of(req)->dio, req, fs_file(fs_of(req), fi), size, off);
		return;
	}
	/* Read where the answer goes out from: no copy in the daemon (libfuse
	 * would read into a buffer of its own, and the ring copy from it). */
	space = dio_recv_space(fs_of(req)->dio, &room);
	if (space && size <= room) {
		dio_read_cached(fs_of(req)->dio, req, fs_file(fs_of(req), fi), size, off);
		return;
	}
	stats_add(&bfs_stats.buffered_requests, 1);
	bv.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	bv.buf[0].fd = fs_file_fd(fs_of(req), fi);
	bv.buf[0].pos = off;
	fuse_reply_data(req, &bv, FUSE_BUF_SPLICE_MOVE);
}

/* A write of a file never opened for direct I/O, into the backing file's
 * page cache; lock holds its blocks and is released here. */
static void write_cached(const struct dio_write_args *w,
			 struct range_lock_entry *lock)
{
	struct bfs_file *f = w->f;
	size_t done = 0;
	int err;

	stats_add(&bfs_stats.buffered_requests, 1);
	err = sys_pwrite_all(f->fd, w->buf, w->size, w->off, 0, &done);
	range_lock_release(&f->inode->writers, lock);
	if (err)
		error_log_file("write", f->fd, w->off + (off_t)done,
			       w->size - done, -err);
	/* (Nothing cached to drop: the write went through the cache.) */
	dio_answer_write(NULL, w->req, f, (uint64_t)w->off, done, done, err,
			 true);
}

/* In a thread that may block: wait for the range lock. */
static void run_deferred_write(void *arg)
{
	const struct dio_write_args *w = arg;
	struct range_lock_entry lock;

	range_lock_acquire(&w->f->inode->writers, &lock,
			   align_down((uint64_t)w->off, w->f->align),
			   align_up((uint64_t)w->off + w->size, w->f->align));
	write_cached(w, &lock);
}

/* A WRITE's data, to the direct path or the backing page cache (again in
 * a helper when a queue thread cannot take the range lock). */
static void write_data(fuse_req_t req, const char *buf, size_t size,
		       off_t off, struct fuse_file_info *fi)
{
	struct bfs_file *f = fs_file(fs_of(req), fi);
	struct range_lock_entry lock;
	/* (after wants_direct, which publishes the alignment of a first
	 * direct I/O; another request of the open may set it meanwhile) */
	int direct = wants_direct(req, fi);
	uint32_t align = __atomic_load_n(&f->align, __ATOMIC_RELAXED);
	uint64_t start = align_down((uint64_t)off, align);
	uint64_t end = align_up((uint64_t)off + size, align);
	const struct dio_write_args w = {
		.req = req, .f = f, .buf = buf, .size = size, .off = off,
		.flags = fi->flags,
	};

	if (direct < 0) {
		fs_reply_error(req, direct);
		return;
	}
	if (direct) {
		dio_write(fs_of(req)->dio, req, f, buf, size, off, fi->flags,
			  fi->writepage);
		return;
	}
	/* The range lock keeps out a direct read-modify-write of the same
	 * blocks. A FUSE ring's queue thread only tries it: held, the write
	 * goes to a helper, which waits. Got, the write into the backing
	 * file's page cache waits for nothing a request brings about, and is
	 * served here (with a helper, every small cached write was a
	 * hand-over to another thread and back). */
	if (bfs_request_self()->may_block) {
		range_lock_acquire(&f->inode->writers, &lock, start, end);
	} else if (!range_lock_try(&f->inode->writers, &lock, start, end)) {
		int err = bfs_request_defer(run_deferred_write, &w, sizeof(w));

		if (err)
			fs_reply_error(req, err);
		return;
	}
	write_cached(&w, &lock);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		     size_t size, off_t off, struct fuse_file_info *fi)
{
	/* A caller without CAP_FSETID: before the data, as write(2) does.
	 * (libfuse 3.14 does not pass the op the request's write_flags.) */
	const struct fuse_write_in *in = bfs_request_arg(FUSE_WRITE, sizeof(*in));

	if (fs_file(fs_of(req), fi)->fd < 0) {   /* (no open: fs.h) */
		fs_reply_error(req, -EBADF);
		return;
	}
	if (in && (in->write_flags & FUSE_WRITE_KILL_SUIDGID)) {
		int err = fs_kill_suidgid(req, fs_file_fd(fs_of(req), fi), false);

		if (err) {
			fs_reply_error(req, err);
			return;
		}
	}
	(void)ino;
	write_data(req, buf, size, off, fi);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	/* Like close(2) on a local file: report delayed write errors (those
	 * the backing file system reports at close). A daemon out of fds
	 * cannot look, and the application's close must not fail with the
	 * daemon's EMFILE. */
	int fd = dup(fs_file_fd(fs_of(req), fi));
	int err = 0;

	(void)ino;
	if (fd >= 0 && close(fd)) {
		err = -errno;
		error_log_file("flush", fs_file_fd(fs_of(req), fi), -1, 0, -err);
	}
	fs_reply_error(req, err);
}

static void op_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct bfs_fs *fs = fs_of(req);
	struct bfs_file *f = fs_file(fs, fi);

	(void)ino;
	if (f == &fs->bad_file) {
		fuse_reply_err(req, EBADF);
		return;
	}
	open_handles_del(&fs->files, &f->link);
	free_file(fs, f);
	fuse_reply_err(req, 0);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	int fd = fs_file_fd(fs_of(req), fi);
	uint64_t start_us = stats_now_us();
	int err;

	(void)ino;
	err = (datasync ? fdatasync(fd) : fsync(fd)) ? -errno : 0;
	if (err)
		error_log_file(datasync ? "fdatasync" : "fsync", fd, -1, 0, -err);
	stats_done(STATS_FSYNC, 0, -err, start_us);
	file_counters_done(&fs_file(fs_of(req), fi)->counters, STATS_FSYNC, 0, -err);
	fs_reply_error(req, err);
}

static void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode,
			 off_t offset, off_t length, struct fuse_file_info *fi)
{
	struct bfs_file *f = fs_file(fs_of(req), fi);
	struct range_lock_entry lock;
	int err;

	(void)ino;
	range_lock_acquire(&f->inode->writers, &lock, 0, RANGE_LOCK_EOF);
	err = fallocate(f->fd, mode, offset, length) ? -errno : 0;
	range_lock_release(&f->inode->writers, &lock);
	if (err && err != -EOPNOTSUPP)
		error_log_file("allocate", f->fd, offset, (uint64_t)length, -err);
	fs_reply_error(req, err);
}

static void op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		     struct fuse_file_info *fi)
{
	off_t res = lseek(fs_file_fd(fs_of(req), fi), off, whence);

	(void)ino;
	if (res < 0)
		fs_reply_error(req, -errno);
	else
		fuse_reply_lseek(req, res);
}

static void op_copy_file_range(fuse_req_t req, fuse_ino_t ino_in,
			       off_t off_in, struct fuse_file_info *fi_in,
			       fuse_ino_t ino_out, off_t off_out,
			       struct fuse_file_info *fi_out, size_t len,
			       int flags)
{
	struct bfs_file *in_file = fs_file(fs_of(req), fi_in);
	struct bfs_file *out_file = fs_file(fs_of(req), fi_out);
	loff_t in = off_in, out = off_out;
	struct range_lock_entry lock;
	ssize_t n;

	(void)ino_in;
	(void)ino_out;
	/* Files that have had direct I/O are copied by the kernel itself,
	 * through this mount's reads and writes (which take the direct path):
	 * the backing copy_file_range goes through the backing page cache
	 * (read-ahead, dirty pages) or clones blocks, and with either, XFS
	 * later failed direct I/O of the file with EIO ("Direct I/O collision
	 * with buffered writes"; the exerciser, seed 3468398628, with clones
	 * only: it passed once the daemon cloned nothing). EOPNOTSUPP, unlike
	 * ENOSYS, leaves copy_file_range on for other files. */
	if (atomic_load(&in_file->inode->direct_seen) ||
	    atomic_load(&out_file->inode->direct_seen)) {
		fs_reply_error(req, -EOPNOTSUPP);
		return;
	}
	range_lock_acquire(&out_file->inode->writers, &lock, 0, RANGE_LOCK_EOF);
	n = copy_file_range(in_file->fd, &in, out_file->fd, &out, len,
			    (unsigned)flags);
	if (n < 0)
		n = -errno;
	range_lock_release(&out_file->inode->writers, &lock);
	if (n < 0)
		fs_reply_error(req, (int)n);
	else
		fuse_reply_write(req, (size_t)n);
}

/* Count a predecessor's open f among its inode's opens, served as the
 * kernel was told (o->served), with the backing id the kernel holds. */
static void open_rejoin(struct bfs_file *f, const struct restart_open *o)
{
	struct bfs_inode *in = f->inode;

	pthread_mutex_lock(&mode_lock);
	in->opens++;
	if (o->served & RESTART_SERVED_PASSTHROUGH) {
		if (in->pt_opens++ == 0)
			in->backing_id = o->backing_id;
		if ((o->flags & O_ACCMODE) != O_RDONLY &&
		    !(o->served & RESTART_SERVED_DIRECT_IO))
			in->backing_rw = true;
		f->passthrough = true;
	}
	f->joined = true;
	pthread_mutex_unlock(&mode_lock);
	if (o->served & RESTART_SERVED_CACHED) {
		f->cached = true;
		atomic_fetch_add(&in->cached_opens, 1);
	}
	/* (its O_DIRECT fd is opened at its first direct I/O, as always) */
}

/* A predecessor's open, reopened: the fd, or -errno. */
static int reopen(struct bfs_fs *fs, struct bfs_inode *inode,
		  const struct restart_open *o)
{
	char name[16];
	int fd, rc;

	/* (A file deleted while open is found gone: itable_get_fd.) */
	if (!inode)
		return -ESTALE;
	fd = fs_get_fd(fs, inode);
	if (fd < 0)
		return fd;
	fs_fd_name(name, fd);
	/* With its flags, without those that acted at the open (O_CREAT,
	 * O_TRUNC, O_EXCL): the kernel checked the access then. */
	rc = openat(fs->proc_fd, name, backing_flags((int)o->flags));
	fs_put_fd(fs, inode);
	return rc < 0 ? -errno : rc;
}

int ops_file_restore(struct bfs_fs *fs, uint64_t fh, const struct restart_open *o)
{
	struct bfs_inode *inode = itable_find(&fs->itab, o->node_id);
	int fd = reopen(fs, inode, o), rc;
	struct bfs_file *f;

	/* One that cannot be reopened still holds its fh, with no fds (its
	 * I/O answers EBADF) until the kernel releases it: given to a new
	 * open meanwhile, the kernel's I/O and release of the old one would
	 * reach the new. */
	f = new_file(fd, fd >= 0 ? inode : &fs->itab.stale);
	if (!f) {
		if (fd >= 0)
			close(fd);
		return -ENOMEM;
	}
	if (fd >= 0) {
		open_rejoin(f, o);
	} else {
		f->dfd = -1;
	}
	rc = open_handles_put(&fs->files, &f->link, fh, o);
	if (rc) {
		free_file(fs, f);
		return rc;
	}
	/* A direct open gets its O_DIRECT fd now, as at an open (and its
	 * alignment before any I/O reads it); a failure is tried again at
	 * the first I/O. */
	if (fd >= 0 && (o->flags & O_DIRECT)) {
		int dfd;

		if (direct_fd(fs, f, &dfd) != 0) {
			/* (the first direct I/O tries again) */
		}
	}
	return fd < 0 ? fd : 0;
}

void ops_file_close_all(struct bfs_fs *fs)
{
	struct open_handle *h;

	while ((h = open_handles_pop(&fs->files)))
		free_file(fs, (struct bfs_file *)h);
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
}
