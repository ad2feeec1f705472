/* The inode table: (st_dev, st_ino) -> O_PATH fd with a lookup count. */
#include "inode_table.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define INITIAL_BUCKETS 1024u

static size_t bucket_of(const struct inode_table *t, dev_t dev, ino_t ino)
{
	uint64_t h = (uint64_t)ino * 0x9e3779b97f4a7c15ull ^ (uint64_t)dev;

	return (size_t)(h ^ (h >> 29)) & (t->nbuckets - 1);
}

int itable_init(struct inode_table *t, int root_fd)
{
	struct stat st;

	memset(t, 0, sizeof(*t));
	if (fstatat(root_fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
		return -errno;
	t->buckets = calloc(INITIAL_BUCKETS, sizeof(*t->buckets));
	if (!t->buckets)
		return -ENOMEM;
	t->nbuckets = INITIAL_BUCKETS;
	pthread_mutex_init(&t->lock, NULL);
	t->root.fd = root_fd;
	t->root.dev = st.st_dev;
	t->root.ino = st.st_ino;
	t->root.type = st.st_mode & S_IFMT;
	t->root.nlookup = 2; /* never reaches zero */
	return 0;
}

void itable_destroy(struct inode_table *t)
{
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct bfs_inode *n = t->buckets[i];

		while (n) {
			struct bfs_inode *next = n->next;

			close(n->fd);
			free(n);
			n = next;
		}
	}
	free(t->buckets);
	t->buckets = NULL;
	t->count = 0;
	if (t->root.fd >= 0)
		close(t->root.fd);
	t->root.fd = -1;
	pthread_mutex_destroy(&t->lock);
}

/* Double the buckets when the chains get long; keeps the old on failure. */
static void grow(struct inode_table *t)
{
	size_t nb = t->nbuckets * 2;
	struct bfs_inode **b = calloc(nb, sizeof(*b));
	struct inode_table tmp;

	if (!b)
		return;
	tmp.buckets = b;
	tmp.nbuckets = nb;
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct bfs_inode *n = t->buckets[i];

		while (n) {
			struct bfs_inode *next = n->next;
			size_t k = bucket_of(&tmp, n->dev, n->ino);

			n->next = b[k];
			b[k] = n;
			n = next;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = nb;
}

struct bfs_inode *itable_ref(struct inode_table *t, int fd, dev_t dev,
			     ino_t ino, mode_t mode)
{
	struct bfs_inode *n, *fresh;
	size_t k;

	if (dev == t->root.dev && ino == t->root.ino) {
		close(fd);
		itable_ref_again(t, &t->root);
		return &t->root;
	}
	/* Allocate outside the lock; freed again if the inode is known. */
	fresh = calloc(1, sizeof(*fresh));
	pthread_mutex_lock(&t->lock);
	k = bucket_of(t, dev, ino);
	for (n = t->buckets[k]; n; n = n->next) {
		if (n->dev == dev && n->ino == ino) {
			n->nlookup++;
			pthread_mutex_unlock(&t->lock);
			free(fresh);
			close(fd);
			return n;
		}
	}
	if (!fresh) {
		pthread_mutex_unlock(&t->lock);
		close(fd);
		return NULL;
	}
	fresh->fd = fd;
	fresh->dev = dev;
	fresh->ino = ino;
	fresh->type = mode & S_IFMT;
	fresh->nlookup = 1;
	fresh->next = t->buckets[k];
	t->buckets[k] = fresh;
	if (++t->count > t->nbuckets * 2)
		grow(t);
	pthread_mutex_unlock(&t->lock);
	return fresh;
}

void itable_ref_again(struct inode_table *t, struct bfs_inode *inode)
{
	pthread_mutex_lock(&t->lock);
	inode->nlookup++;
	pthread_mutex_unlock(&t->lock);
}

uint64_t itable_forget(struct inode_table *t, struct bfs_inode *inode,
		       uint64_t n)
{
	uint64_t left;
	struct bfs_inode **pp;

	pthread_mutex_lock(&t->lock);
	if (inode == &t->root) {
		/* The kernel's references to the root never free it. */
		left = inode->nlookup;
		pthread_mutex_unlock(&t->lock);
		return left;
	}
	inode->nlookup = n >= inode->nlookup ? 0 : inode->nlookup - n;
	left = inode->nlookup;
	if (left == 0) {
		pp = &t->buckets[bucket_of(t, inode->dev, inode->ino)];
		while (*pp && *pp != inode)
			pp = &(*pp)->next;
		if (*pp)
			*pp = inode->next;
		t->count--;
	}
	pthread_mutex_unlock(&t->lock);
	if (left == 0) {
		close(inode->fd);
		free(inode);
	}
	return left;
}

size_t itable_count(struct inode_table *t)
{
	size_t c;

	pthread_mutex_lock(&t->lock);
	c = t->count;
	pthread_mutex_unlock(&t->lock);
	return c;
}
