/*
 * The inode table: one entry per backing inode the kernel knows about,
 * keyed by (st_dev, st_ino), with the kernel's lookup count. The FUSE
 * node id of an entry is a slot number (core/id_table.h), the root's
 * ITABLE_ROOT_ID, so that a successor daemon can give it again.
 *
 * An entry reaches its backing inode through a file handle
 * (name_to_handle_at), and keeps an O_PATH fd only while it is in use or
 * among the most recently used: the kernel may cache far more inodes than
 * a process may hold fds. Where the backing file system has no file
 * handles, the entry pins its O_PATH fd instead.
 */
#ifndef BOUNCEFS_INODE_TABLE_H
#define BOUNCEFS_INODE_TABLE_H

#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/id_table.h"
#include "core/range_lock.h"

struct restart_state;

/* The root's node id (FUSE_ROOT_ID); the others' ids come after it. */
#define ITABLE_ROOT_ID 1

struct bfs_inode {
	uint64_t id;              /* the node id */
	dev_t dev;
	ino_t ino;
	mode_t type;              /* S_IFMT bits */
	uint64_t nlookup;         /* kernel references */
	int fd;                   /* O_PATH fd, or -1 while closed */
	int mount_fd;             /* an fd on the same mount, for the handle */
	unsigned fd_users;        /* borrowers of fd right now */
	struct file_handle *handle; /* NULL: fd is pinned */
	struct bfs_inode *next;   /* hash chain */
	struct bfs_inode *lru_prev, *lru_next; /* idle fds, newest first */
	bool on_lru;
	struct range_lock writers; /* byte ranges being written */
	_Atomic unsigned cached_opens; /* opens using the kernel's page cache */
	_Atomic bool direct_seen; /* has had direct I/O: all I/O goes direct */
	/* How its opens are served (ops_file.c, under its open-mode lock;
	 * docs/architecture.md, "Buffered opens"): */
	unsigned opens;           /* answered and not released */
	unsigned pt_opens;        /* of them, with FOPEN_PASSTHROUGH */
	int backing_id;           /* the kernel's id of the backing file */
	bool backing_rw;          /* that file is open for writing too */
	/* Put back from a predecessor's state (itable_restore): whether its
	 * first reopen found the file still there. */
	_Atomic unsigned char restored; /* RESTORED_* */
};

enum { RESTORED_NOT, RESTORED_UNCHECKED, RESTORED_CHECKED, RESTORED_GONE };

struct itable_mount {
	int mount_id;
	int fd;
};

struct inode_table {
	pthread_mutex_t lock;     /* guards everything below */
	struct bfs_inode **buckets;
	size_t nbuckets;
	size_t count;             /* entries, the root excluded */
	size_t peak;              /* most entries since the last shrink */
	struct bfs_inode root;    /* never freed, fd pinned */
	struct bfs_inode stale;   /* what an unknown node id names: every
				     use of its fd answers ESTALE */
	struct bfs_inode lru;     /* list head of idle cached fds */
	size_t lru_len;
	size_t max_idle_fds;      /* at most this many idle fds stay open */
	bool no_handles;          /* handles cannot be reopened: pin fds */
	struct itable_mount *mounts;
	size_t nmounts;
	struct id_table ids;      /* node id -> entry (the root's is not in it) */
	struct restart_state *state; /* kept current for a successor, or NULL */
};

/* Set up the table with the backing root's O_PATH fd. Returns 0 or -errno. */
int itable_init(struct inode_table *t, int root_fd, size_t max_idle_fds);

/* Close every fd and free every entry, the root's fd included. */
void itable_destroy(struct inode_table *t);

/*
 * Take one lookup reference on the inode that fd (O_PATH) refers to. If
 * the table already has it, fd is closed and the existing entry returned.
 * Otherwise a new entry is made and fd becomes its cached fd. The entry
 * goes to *out. Returns 0, or -errno (fd closed).
 */
int itable_ref(struct inode_table *t, int fd, dev_t dev, ino_t ino,
	       mode_t mode, struct bfs_inode **out);

/* The entry of a node id, or NULL if no entry has it. */
struct bfs_inode *itable_find(struct inode_table *t, uint64_t id);

/* The same, or t->stale for an id no entry has (a successor's state that
 * lacked it, or a kernel that erred): answered ESTALE, never a crash. */
struct bfs_inode *itable_find_or_stale(struct inode_table *t, uint64_t id);

/* Take one more lookup reference on an entry the caller holds. */
void itable_ref_again(struct inode_table *t, struct bfs_inode *inode);

/*
 * Drop n lookup references. At zero the entry is removed, its fd closed
 * and its memory freed. The root is never removed. Returns the count left.
 */
uint64_t itable_forget(struct inode_table *t, struct bfs_inode *inode,
		       uint64_t n);

/*
 * Borrow the inode's O_PATH fd, reopening it from its handle if needed.
 * Returns the fd, or -errno (ESTALE if the inode is gone). Every success
 * must be paired with itable_put_fd.
 */
int itable_get_fd(struct inode_table *t, struct bfs_inode *inode);
void itable_put_fd(struct inode_table *t, struct bfs_inode *inode);

/*
 * True once the table has shrunk to half its peak (by thousands of
 * entries): a good moment to hand freed memory back to the system.
 */
bool itable_shrunk(struct inode_table *t);

/*
 * From now on, keep s current with every entry's node id, inode, handle
 * and lookup count (docs/restart.md); the entries there are now are
 * written first. s stays the caller's.
 */
void itable_keep_state(struct inode_table *t, struct restart_state *s);

/*
 * Put back the entries of a predecessor's state, each with its node id
 * and lookup count, into a table that has none yet. An entry whose handle
 * does not reopen here answers ESTALE when used. Returns the entries put
 * back, or -errno.
 */
long itable_restore(struct inode_table *t, const struct restart_state *s);

/* Entries in the table (the root excluded). */
size_t itable_count(struct inode_table *t);

/* Idle fds kept open right now. */
size_t itable_idle_fds(struct inode_table *t);

#endif
