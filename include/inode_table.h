/*
 * The inode table: one entry per backing inode the kernel knows about,
 * keyed by (st_dev, st_ino), each holding an O_PATH fd and the kernel's
 * lookup count. The FUSE node id of an entry is its address.
 */
#ifndef BOUNCEFS_INODE_TABLE_H
#define BOUNCEFS_INODE_TABLE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct bfs_inode {
	int fd;                  /* O_PATH | O_NOFOLLOW, owned by the entry */
	dev_t dev;
	ino_t ino;
	mode_t type;             /* S_IFMT bits */
	uint64_t nlookup;        /* kernel references; guarded by the table lock */
	struct bfs_inode *next;  /* hash chain */
};

struct inode_table {
	pthread_mutex_t lock;
	struct bfs_inode **buckets;
	size_t nbuckets;
	size_t count;            /* entries, the root excluded */
	struct bfs_inode root;   /* never freed */
};

/* Set up the table with the backing root's O_PATH fd. Returns 0 or -errno. */
int itable_init(struct inode_table *t, int root_fd);

/* Close every fd and free every entry, the root's fd included. */
void itable_destroy(struct inode_table *t);

/*
 * Take one lookup reference on the inode (dev, ino). If the table already
 * has it, fd is closed and the existing entry returned. Otherwise a new
 * entry adopts fd. Returns NULL (fd closed) only when out of memory.
 */
struct bfs_inode *itable_ref(struct inode_table *t, int fd, dev_t dev,
			     ino_t ino, mode_t mode);

/* Take one more lookup reference on an entry the caller holds. */
void itable_ref_again(struct inode_table *t, struct bfs_inode *inode);

/*
 * Drop n lookup references. At zero the entry is removed, its fd closed
 * and its memory freed. The root is never removed. Returns the count left.
 */
uint64_t itable_forget(struct inode_table *t, struct bfs_inode *inode,
		       uint64_t n);

/* Entries in the table (the root excluded). */
size_t itable_count(struct inode_table *t);

#endif
