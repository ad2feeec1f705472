/* The inode table: (st_dev, st_ino) -> file handle, lookup count and a
 * bounded cache of O_PATH fds. */
#include "core/inode_table.h"
#include "core/restart_state.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define INITIAL_BUCKETS 1024u

static size_t bucket_of(size_t nbuckets, dev_t dev, ino_t ino)
{
	uint64_t h = (uint64_t)ino * 0x9e3779b97f4a7c15ull ^ (uint64_t)dev;

	return (size_t)(h ^ (h >> 29)) & (nbuckets - 1);
}

static struct file_handle *make_handle(int fd, int *mount_id);

/* The successor's copy of an entry (lock held). */
static void note_entry(struct inode_table *t, const struct bfs_inode *n,
		       int mount_id)
{
	const struct file_handle *fh = n->handle;

	if (!t->state || n == &t->root || n == &t->stale)
		return;
	/* (without a handle, the state keeps none and no mount id) */
	restart_state_put_inode(t->state, n->id, n->dev, n->ino, n->type,
				n->nlookup, mount_id, fh ? fh->handle_type : 0,
				fh ? fh->f_handle : NULL,
				fh ? fh->handle_bytes : 0);
}

static void note_nlookup(struct inode_table *t, const struct bfs_inode *n)
{
	if (t->state && n != &t->root && n != &t->stale)
		restart_state_set_nlookup(t->state, n->id, n->nlookup);
}

/* The mount id of an entry's handle: the one its mount fd was made for. */
static int mount_id_of(const struct inode_table *t, const struct bfs_inode *n)
{
	for (size_t i = 0; i < t->nmounts; i++)
		if (t->mounts[i].fd == n->mount_fd)
			return t->mounts[i].mount_id;
	return -1;
}
static int mount_fd_locked(struct inode_table *t, int mount_id, int fd,
			   mode_t mode);

static void lru_unlink(struct inode_table *t, struct bfs_inode *n)
{
	if (!n->on_lru)
		return;
	n->lru_prev->lru_next = n->lru_next;
	n->lru_next->lru_prev = n->lru_prev;
	n->on_lru = false;
	t->lru_len--;
}

static void lru_push_front(struct inode_table *t, struct bfs_inode *n)
{
	n->lru_next = t->lru.lru_next;
	n->lru_prev = &t->lru;
	t->lru.lru_next->lru_prev = n;
	t->lru.lru_next = n;
	n->on_lru = true;
	t->lru_len++;
}

/* Close idle fds beyond the cap, oldest first. Called with the lock held;
 * returns the fds to close once the lock is dropped, in *closing. */
static size_t lru_trim(struct inode_table *t, int *closing, size_t max)
{
	size_t n = 0;

	while (t->lru_len > t->max_idle_fds && n < max) {
		struct bfs_inode *old = t->lru.lru_prev;

		lru_unlink(t, old);
		closing[n++] = old->fd;
		old->fd = -1;
	}
	return n;
}

int itable_init(struct inode_table *t, int root_fd, size_t max_idle_fds)
{
	struct stat st;

	memset(t, 0, sizeof(*t));
	if (fstatat(root_fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
		return -errno;
	t->buckets = calloc(INITIAL_BUCKETS, sizeof(*t->buckets));
	if (!t->buckets)
		return -ENOMEM;
	if (id_table_init(&t->ids, ITABLE_ROOT_ID + 1) != 0) {
		free(t->buckets);
		t->buckets = NULL;
		return -ENOMEM;
	}
	t->nbuckets = INITIAL_BUCKETS;
	t->max_idle_fds = max_idle_fds ? max_idle_fds : 1;
	t->lru.lru_next = t->lru.lru_prev = &t->lru;
	pthread_mutex_init(&t->lock, NULL);
	range_lock_init(&t->root.writers);
	t->stale.fd = -1;
	t->stale.mount_fd = -1;
	t->stale.nlookup = 1; /* never reaches zero */
	range_lock_init(&t->stale.writers);
	t->root.id = ITABLE_ROOT_ID;
	t->root.fd = root_fd;
	t->root.mount_fd = -1;
	t->root.dev = st.st_dev;
	t->root.ino = st.st_ino;
	t->root.type = st.st_mode & S_IFMT;
	t->root.nlookup = 2; /* never reaches zero */
	/* The root's mount is the one nearly every handle is opened on.
	 * Reopening by handle needs CAP_DAC_READ_SEARCH: without it (a
	 * daemon run by a user), entries pin their fds instead. */
	{
		int mount_id, mfd, fd = -1;
		struct file_handle *fh = make_handle(root_fd, &mount_id);

		if (fh) {
			mfd = mount_fd_locked(t, mount_id, root_fd, st.st_mode);
			if (mfd >= 0)
				fd = open_by_handle_at(mfd, fh, O_PATH | O_CLOEXEC);
		}
		if (fd >= 0)
			close(fd);
		else
			t->no_handles = true;
		free(fh);
	}
	return 0;
}

static void free_inode(struct bfs_inode *n)
{
	range_lock_destroy(&n->writers);
	if (n->fd >= 0)
		close(n->fd);
	free(n->handle);
	free(n);
}

void itable_destroy(struct inode_table *t)
{
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct bfs_inode *n = t->buckets[i];

		while (n) {
			struct bfs_inode *next = n->next;

			free_inode(n);
			n = next;
		}
	}
	free(t->buckets);
	t->buckets = NULL;
	t->count = 0;
	id_table_destroy(&t->ids);
	for (size_t i = 0; i < t->nmounts; i++)
		close(t->mounts[i].fd);
	free(t->mounts);
	t->mounts = NULL;
	t->nmounts = 0;
	if (t->root.fd >= 0)
		close(t->root.fd);
	t->root.fd = -1;
	range_lock_destroy(&t->stale.writers);
	pthread_mutex_destroy(&t->lock);
}

/* Double the buckets when the chains get long; keeps the old on failure. */
static void grow(struct inode_table *t)
{
	size_t nb = t->nbuckets * 2;
	struct bfs_inode **b = calloc(nb, sizeof(*b));

	if (!b)
		return;
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct bfs_inode *n = t->buckets[i];

		while (n) {
			struct bfs_inode *next = n->next;
			size_t k = bucket_of(nb, n->dev, n->ino);

			n->next = b[k];
			b[k] = n;
			n = next;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = nb;
}

/* The file handle of fd, or NULL (with *mount_id unset) if there is none. */
static struct file_handle *make_handle(int fd, int *mount_id)
{
	struct file_handle probe = { .handle_bytes = 0 };
	struct file_handle *fh;

	if (name_to_handle_at(fd, "", &probe, mount_id, AT_EMPTY_PATH) == 0 ||
	    errno != EOVERFLOW || probe.handle_bytes == 0)
		return NULL;
	fh = malloc(sizeof(*fh) + probe.handle_bytes);
	if (!fh)
		return NULL;
	fh->handle_bytes = probe.handle_bytes;
	if (name_to_handle_at(fd, "", fh, mount_id, AT_EMPTY_PATH) != 0) {
		free(fh);
		return NULL;
	}
	return fh;
}

/*
 * An fd on mount mount_id to open handles with. open_by_handle_at wants a
 * real (not O_PATH) fd, so the first directory seen on a mount (its root,
 * as lookups go) is opened for reading. Called with the lock held.
 * Returns -1 if there is none.
 */
static int mount_fd_locked(struct inode_table *t, int mount_id, int fd,
			   mode_t mode)
{
	struct itable_mount *m;
	int copy;

	for (size_t i = 0; i < t->nmounts; i++)
		if (t->mounts[i].mount_id == mount_id)
			return t->mounts[i].fd;
	if (!S_ISDIR(mode))
		return -1;
	copy = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (copy < 0)
		return -1;
	m = realloc(t->mounts, (t->nmounts + 1) * sizeof(*m));
	if (!m) {
		close(copy);
		return -1;
	}
	t->mounts = m;
	m[t->nmounts].mount_id = mount_id;
	m[t->nmounts].fd = copy;
	t->nmounts++;
	return copy;
}

static struct bfs_inode *find_locked(struct inode_table *t, dev_t dev,
				     ino_t ino)
{
	struct bfs_inode *n = t->buckets[bucket_of(t->nbuckets, dev, ino)];

	while (n && !(n->dev == dev && n->ino == ino))
		n = n->next;
	return n;
}

static bool same_handle(const struct file_handle *a,
			const struct file_handle *b)
{
	return a->handle_type == b->handle_type &&
	       a->handle_bytes == b->handle_bytes &&
	       memcmp(a->f_handle, b->f_handle, a->handle_bytes) == 0;
}

/* Take n out of its hash chain: lookups no longer find it, the kernel's
 * references to it still hold. Called with the lock held. */
static void unhash_locked(struct inode_table *t, struct bfs_inode *n)
{
	struct bfs_inode **pp =
		&t->buckets[bucket_of(t->nbuckets, n->dev, n->ino)];

	while (*pp && *pp != n)
		pp = &(*pp)->next;
	if (*pp)
		*pp = n->next;
	n->next = NULL;
}

/* An entry whose fd is open (or pinned) keeps its inode alive, so the
 * inode's number cannot have been given to another. Lock held. */
static bool pins_inode(const struct bfs_inode *n)
{
	return n->fd >= 0 || !n->handle;
}

/*
 * Is n the inode that fd refers to (fh: fd's handle, or NULL)? One whose
 * fd was closed (the LRU) may have lost its inode, and its number may be
 * in use again: the handle tells (it carries the inode's generation).
 * Called with the lock held.
 */
static bool is_same_inode(const struct bfs_inode *n,
			  const struct file_handle *fh)
{
	return pins_inode(n) || !fh || same_handle(n->handle, fh);
}

int itable_ref(struct inode_table *t, int fd, dev_t dev, ino_t ino,
	       mode_t mode, struct bfs_inode **out)
{
	struct bfs_inode *n, *fresh;
	struct file_handle *fh;
	int mount_id = -1, closing[8];
	size_t nclose;

	if (dev == t->root.dev && ino == t->root.ino) {
		close(fd);
		itable_ref_again(t, &t->root);
		*out = &t->root;
		return 0;
	}
	pthread_mutex_lock(&t->lock);
	n = find_locked(t, dev, ino);
	if (n && pins_inode(n)) {
		n->nlookup++;
		note_nlookup(t, n);
		pthread_mutex_unlock(&t->lock);
		close(fd);
		*out = n;
		return 0;
	}
	pthread_mutex_unlock(&t->lock);

	/* New to us, or an entry to check: the handle, outside the lock. */
	fresh = calloc(1, sizeof(*fresh));
	if (!fresh) {
		close(fd);
		return -ENOMEM;
	}
	fh = t->no_handles ? NULL : make_handle(fd, &mount_id);

	pthread_mutex_lock(&t->lock);
	n = find_locked(t, dev, ino);
	if (n && is_same_inode(n, fh)) {
		/* Ours already (another thread may have added it meanwhile). */
		n->nlookup++;
		note_nlookup(t, n);
		pthread_mutex_unlock(&t->lock);
		free(fh);
		free(fresh);
		close(fd);
		*out = n;
		return 0;
	}
	/* A new inode with the number of one the kernel still knows: the old
	 * entry answers ESTALE from now on (its handle no longer opens), and
	 * the new inode gets a node id of its own. */
	fresh->id = id_table_add(&t->ids, fresh);
	if (!fresh->id) {
		int err = errno;

		pthread_mutex_unlock(&t->lock);
		free(fh);
		free(fresh);
		close(fd);
		return -err;
	}
	if (n)
		unhash_locked(t, n);
	fresh->mount_fd = fh ? mount_fd_locked(t, mount_id, fd, mode) : -1;
	if (fresh->mount_fd < 0) {
		free(fh);
		fh = NULL;
	}
	range_lock_init(&fresh->writers);
	fresh->fd = fd;
	fresh->dev = dev;
	fresh->ino = ino;
	fresh->type = mode & S_IFMT;
	fresh->nlookup = 1;
	fresh->handle = fh;
	fresh->next = t->buckets[bucket_of(t->nbuckets, dev, ino)];
	t->buckets[bucket_of(t->nbuckets, dev, ino)] = fresh;
	if (fh)
		lru_push_front(t, fresh);
	note_entry(t, fresh, fh ? mount_id : -1);
	if (++t->count > t->nbuckets * 2)
		grow(t);
	if (t->count > t->peak)
		t->peak = t->count;
	nclose = lru_trim(t, closing, 8);
	pthread_mutex_unlock(&t->lock);
	for (size_t i = 0; i < nclose; i++)
		close(closing[i]);
	*out = fresh;
	return 0;
}

struct bfs_inode *itable_find(struct inode_table *t, uint64_t id)
{
	if (id == ITABLE_ROOT_ID)
		return &t->root;
	return id_table_get(&t->ids, id);
}

struct bfs_inode *itable_find_or_stale(struct inode_table *t, uint64_t id)
{
	struct bfs_inode *n = itable_find(t, id);

	return n ? n : &t->stale;
}

void itable_ref_again(struct inode_table *t, struct bfs_inode *inode)
{
	pthread_mutex_lock(&t->lock);
	inode->nlookup++;
	note_nlookup(t, inode);
	pthread_mutex_unlock(&t->lock);
}

uint64_t itable_forget(struct inode_table *t, struct bfs_inode *inode,
		       uint64_t n)
{
	uint64_t left;

	pthread_mutex_lock(&t->lock);
	if (inode == &t->root || inode == &t->stale) {
		/* The kernel's references to the root never free it. */
		left = inode->nlookup;
		pthread_mutex_unlock(&t->lock);
		return left;
	}
	inode->nlookup = n >= inode->nlookup ? 0 : inode->nlookup - n;
	left = inode->nlookup;
	note_nlookup(t, inode);
	if (left == 0) {
		if (t->state)
			restart_state_drop_inode(t->state, inode->id);
		unhash_locked(t, inode);
		lru_unlink(t, inode);
		id_table_del(&t->ids, inode->id);
		t->count--;
	}
	pthread_mutex_unlock(&t->lock);
	/* The kernel forgets an inode only when no request uses it. */
	if (left == 0)
		free_inode(inode);
	return left;
}

int itable_get_fd(struct inode_table *t, struct bfs_inode *inode)
{
	int fd;

	pthread_mutex_lock(&t->lock);
	if (inode->fd >= 0) {
		lru_unlink(t, inode);
		inode->fd_users++;
		fd = inode->fd;
		pthread_mutex_unlock(&t->lock);
		return fd;
	}
	pthread_mutex_unlock(&t->lock);

	if (!inode->handle)
		return -ESTALE; /* a pinned fd is never closed: restored
				   (itable_restore) with no way to reopen it */
	if (atomic_load(&inode->restored) == RESTORED_GONE)
		return -ESTALE;
	fd = open_by_handle_at(inode->mount_fd, inode->handle,
			       O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* A predecessor's file that was deleted: the descriptors that kept
	 * it died with that daemon, and an inode being freed may still open
	 * by its handle, emptied. It is gone, for good. */
	if (atomic_load(&inode->restored) == RESTORED_UNCHECKED) {
		struct stat st;
		bool gone = fstat(fd, &st) != 0 ||
			    (st.st_nlink == 0 && !S_ISDIR(st.st_mode));

		atomic_store(&inode->restored, gone ? RESTORED_GONE :
						      RESTORED_CHECKED);
		if (gone) {
			close(fd);
			return -ESTALE;
		}
	}

	pthread_mutex_lock(&t->lock);
	if (inode->fd >= 0) {
		/* Another thread reopened it first: use that one. */
		lru_unlink(t, inode);
		close(fd);
		fd = inode->fd;
	} else {
		inode->fd = fd;
	}
	inode->fd_users++;
	pthread_mutex_unlock(&t->lock);
	return fd;
}

void itable_put_fd(struct inode_table *t, struct bfs_inode *inode)
{
	int closing[8];
	size_t nclose = 0;

	pthread_mutex_lock(&t->lock);
	if (--inode->fd_users == 0 && inode->handle) {
		lru_push_front(t, inode);
		nclose = lru_trim(t, closing, 8);
	}
	pthread_mutex_unlock(&t->lock);
	for (size_t i = 0; i < nclose; i++)
		close(closing[i]);
}

bool itable_shrunk(struct inode_table *t)
{
	bool shrunk;

	pthread_mutex_lock(&t->lock);
	shrunk = t->peak >= t->count + 4096 && t->count <= t->peak / 2;
	if (shrunk)
		t->peak = t->count;
	if (shrunk && t->state)
		restart_state_trim_inodes(t->state);
	pthread_mutex_unlock(&t->lock);
	return shrunk;
}

size_t itable_count(struct inode_table *t)
{
	size_t c;

	pthread_mutex_lock(&t->lock);
	c = t->count;
	pthread_mutex_unlock(&t->lock);
	return c;
}

size_t itable_idle_fds(struct inode_table *t)
{
	size_t c;

	pthread_mutex_lock(&t->lock);
	c = t->lru_len;
	pthread_mutex_unlock(&t->lock);
	return c;
}

void itable_keep_state(struct inode_table *t, struct restart_state *s)
{
	pthread_mutex_lock(&t->lock);
	t->state = s;
	for (size_t i = 0; s && i < t->nbuckets; i++)
		for (struct bfs_inode *n = t->buckets[i]; n; n = n->next)
			note_entry(t, n, mount_id_of(t, n));
	pthread_mutex_unlock(&t->lock);
}

/* A predecessor's entry, back at its node id (lock held). 0 or -errno. */
static int restore_locked(struct inode_table *t, uint64_t id,
			  const struct restart_inode_slot *slot)
{
	struct bfs_inode *n = calloc(1, sizeof(*n));
	size_t b;
	int rc;

	if (!n)
		return -ENOMEM;
	n->id = id;
	n->dev = (dev_t)slot->dev;
	n->ino = (ino_t)slot->ino;
	n->type = slot->type & S_IFMT;
	n->nlookup = atomic_load(&slot->nlookup);
	n->restored = RESTORED_UNCHECKED;
	n->fd = -1;
	n->mount_fd = -1;
	for (size_t i = 0; i < t->nmounts && slot->mount_id >= 0; i++)
		if (t->mounts[i].mount_id == slot->mount_id)
			n->mount_fd = t->mounts[i].fd;
	/* Without a mount to open it on, the entry keeps no handle, and
	 * itable_get_fd answers ESTALE. */
	if (n->mount_fd >= 0 && slot->handle_bytes <= RESTART_HANDLE_MAX) {
		n->handle = malloc(sizeof(*n->handle) + slot->handle_bytes);
		if (!n->handle) {
			free(n);
			return -ENOMEM;
		}
		n->handle->handle_bytes = slot->handle_bytes;
		n->handle->handle_type = slot->handle_type;
		memcpy(n->handle->f_handle, slot->handle, slot->handle_bytes);
	}
	rc = id_table_put(&t->ids, id, n);
	if (rc) {
		free(n->handle);
		free(n);
		return rc;
	}
	range_lock_init(&n->writers);
	/* One that cannot be reopened is not found by lookups either: a new
	 * lookup of its inode makes an entry that works. */
	if (n->handle) {
		b = bucket_of(t->nbuckets, n->dev, n->ino);
		n->next = t->buckets[b];
		t->buckets[b] = n;
	}
	if (++t->count > t->nbuckets * 2)
		grow(t);
	if (t->count > t->peak)
		t->peak = t->count;
	return 0;
}

long itable_restore(struct inode_table *t, const struct restart_state *s)
{
	uint64_t end = atomic_load(&s->h->inode_end);
	long restored = 0;
	int rc = 0;

	pthread_mutex_lock(&t->lock);
	if (t->count) {
		pthread_mutex_unlock(&t->lock);
		return -EBUSY;
	}
	for (uint64_t id = ITABLE_ROOT_ID + 1; id < end && rc == 0; id++) {
		const struct restart_inode_slot *slot = restart_state_inode(s, id);

		if (!slot || atomic_load(&slot->nlookup) == 0)
			continue;
		rc = restore_locked(t, id, slot);
		if (rc == 0)
			restored++;
	}
	pthread_mutex_unlock(&t->lock);
	return rc ? rc : restored;
}
