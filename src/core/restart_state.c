/* The state a successor daemon reads: a sparse memfd of fixed slots. */
#include "core/restart_state.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

_Static_assert(sizeof(struct restart_inode_slot) == 192, "inode slot size");
_Static_assert(sizeof(struct restart_open_slot) == 32, "open slot size");

#define PAGE 4096u
/* 64 inode slots are 3 pages: the unit of trimming. */
#define TRIM_SLOTS 64u
_Static_assert(TRIM_SLOTS * sizeof(struct restart_inode_slot) % PAGE == 0,
	       "whole pages");

static uint64_t round_up(uint64_t n)
{
	return (n + PAGE - 1) & ~(uint64_t)(PAGE - 1);
}

/* Where each array starts, from the capacities; the file's size. */
static uint64_t lay_out(struct restart_header *h)
{
	uint64_t at = round_up(sizeof(*h));

	h->inodes_at = at;
	at = round_up(at + h->inode_cap * sizeof(struct restart_inode_slot));
	for (int k = 0; k < RESTART_KINDS; k++) {
		h->opens_at[k] = at;
		at = round_up(at + h->open_cap * sizeof(struct restart_open_slot));
	}
	return at;
}

static int map(struct restart_state *s, size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);

	if (p == MAP_FAILED)
		return -errno;
	s->size = size;
	s->h = p;
	s->inodes = (void *)((char *)p + s->h->inodes_at);
	for (int k = 0; k < RESTART_KINDS; k++)
		s->opens[k] = (void *)((char *)p + s->h->opens_at[k]);
	return 0;
}

int restart_state_create(struct restart_state *s, uint64_t inode_cap,
			 uint64_t open_cap)
{
	/* (whole groups of TRIM_SLOTS inode slots) */
	struct restart_header h = { .magic = RESTART_STATE_MAGIC,
				    .version = RESTART_STATE_VERSION,
				    .inode_cap = (inode_cap + TRIM_SLOTS - 1) &
					     ~(uint64_t)(TRIM_SLOTS - 1),
				    .open_cap = open_cap };
	uint64_t size;
	int rc;

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	if (inode_cap > (1ull << 32) || open_cap > (1ull << 32))
		return -EINVAL;
	size = lay_out(&h);
	s->fd = memfd_create("bouncefs-state", MFD_CLOEXEC);
	if (s->fd < 0)
		return -errno;
	if (ftruncate(s->fd, (off_t)size) != 0 ||
	    pwrite(s->fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h)) {
		rc = -errno;
		close(s->fd);
		s->fd = -1;
		return rc;
	}
	rc = map(s, size);
	if (rc) {
		close(s->fd);
		s->fd = -1;
	}
	return rc;
}

int restart_state_attach(struct restart_state *s, int fd)
{
	struct restart_header h, want;
	struct stat st;
	int rc;

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	if (fstat(fd, &st) != 0)
		return -errno;
	if (pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
		return -EPROTO;
	if (h.magic != RESTART_STATE_MAGIC || h.version != RESTART_STATE_VERSION ||
	    h.inode_cap > (1ull << 32) || h.open_cap > (1ull << 32))
		return -EPROTO;
	want = (struct restart_header){ .inode_cap = h.inode_cap,
					.open_cap = h.open_cap };
	if (lay_out(&want) != (uint64_t)st.st_size ||
	    want.inodes_at != h.inodes_at ||
	    memcmp(want.opens_at, h.opens_at, sizeof(h.opens_at)) != 0 ||
	    h.init_in_len > RESTART_INIT_MAX || h.init_out_len > RESTART_INIT_MAX ||
	    h.inode_end > h.inode_cap || h.open_end[RESTART_FILE] > h.open_cap ||
	    h.open_end[RESTART_DIR] > h.open_cap)
		return -EPROTO;
	s->fd = fd;
	rc = map(s, (size_t)st.st_size);
	s->fd = -1; /* the caller's */
	return rc;
}

void restart_state_close(struct restart_state *s)
{
	if (s->h)
		munmap(s->h, s->size);
	if (s->fd >= 0)
		close(s->fd);
	memset(s, 0, sizeof(*s));
	s->fd = -1;
}

int restart_state_set_init(struct restart_state *s, const void *in,
			   size_t in_len, const void *out, size_t out_len)
{
	if (in_len > RESTART_INIT_MAX || out_len > RESTART_INIT_MAX)
		return -E2BIG;
	memcpy(s->h->init_in, in, in_len);
	memcpy(s->h->init_out, out, out_len);
	s->h->init_in_len = (uint32_t)in_len;
	s->h->init_out_len = (uint32_t)out_len;
	return 0;
}

/* Raise *end to above id (ids are kept by several threads at once). */
static void raise_end(_Atomic uint64_t *end, uint64_t id)
{
	uint64_t e = atomic_load_explicit(end, memory_order_relaxed);

	while (e <= id && !atomic_compare_exchange_weak(end, &e, id + 1))
		;
}

void restart_state_put_inode(struct restart_state *s, uint64_t id, dev_t dev,
			     ino_t ino, uint32_t type, uint64_t nlookup,
			     int mount_id, int handle_type,
			     const void *handle, uint32_t handle_bytes)
{
	struct restart_inode_slot *slot;

	if (id >= s->h->inode_cap || handle_bytes > RESTART_HANDLE_MAX) {
		atomic_store(&s->h->incomplete, 1);
		return;
	}
	slot = &s->inodes[id];
	atomic_store_explicit(&slot->used, 0, memory_order_release);
	slot->type = type;
	slot->dev = (uint64_t)dev;
	slot->ino = (uint64_t)ino;
	atomic_store_explicit(&slot->nlookup, nlookup, memory_order_relaxed);
	slot->mount_id = handle ? mount_id : -1;
	slot->handle_type = handle ? handle_type : 0;
	slot->handle_bytes = handle ? handle_bytes : 0;
	if (handle)
		memcpy(slot->handle, handle, handle_bytes);
	raise_end(&s->h->inode_end, id);
	atomic_store_explicit(&slot->used, 1, memory_order_release);
}

void restart_state_set_nlookup(struct restart_state *s, uint64_t id,
			       uint64_t nlookup)
{
	if (id < s->h->inode_cap)
		atomic_store_explicit(&s->inodes[id].nlookup, nlookup,
				      memory_order_release);
}

void restart_state_drop_inode(struct restart_state *s, uint64_t id)
{
	if (id < s->h->inode_cap)
		atomic_store_explicit(&s->inodes[id].used, 0,
				      memory_order_release);
}

void restart_state_put_open(struct restart_state *s,
			    enum restart_open_kind kind, uint64_t fh,
			    const struct restart_open *o)
{
	struct restart_open_slot *slot;

	if (fh >= s->h->open_cap) {
		atomic_store(&s->h->incomplete, 1);
		return;
	}
	slot = &s->opens[kind][fh];
	atomic_store_explicit(&slot->used, 0, memory_order_release);
	slot->flags = o->flags;
	slot->node_id = o->node_id;
	slot->served = o->served;
	slot->backing_id = o->backing_id;
	raise_end(&s->h->open_end[kind], fh);
	atomic_store_explicit(&slot->used, 1, memory_order_release);
}

void restart_state_drop_open(struct restart_state *s,
			     enum restart_open_kind kind, uint64_t fh)
{
	if (fh < s->h->open_cap)
		atomic_store_explicit(&s->opens[kind][fh].used, 0,
				      memory_order_release);
}

void restart_state_trim_inodes(struct restart_state *s)
{
	uint64_t end = atomic_load(&s->h->inode_end);
	size_t group = TRIM_SLOTS * sizeof(struct restart_inode_slot);

	for (uint64_t first = 0; first < end; first += TRIM_SLOTS) {
		bool used = false;

		for (uint64_t id = first; id < first + TRIM_SLOTS && !used; id++)
			used = atomic_load_explicit(&s->inodes[id].used,
						    memory_order_relaxed);
		if (!used)
			(void)fallocate(s->fd, FALLOC_FL_PUNCH_HOLE |
						FALLOC_FL_KEEP_SIZE,
					(off_t)(s->h->inodes_at +
						first / TRIM_SLOTS * group),
					(off_t)group);
	}
}

const struct restart_inode_slot *restart_state_inode(
	const struct restart_state *s, uint64_t id)
{
	if (id >= s->h->inode_cap ||
	    !atomic_load_explicit(&s->inodes[id].used, memory_order_acquire))
		return NULL;
	return &s->inodes[id];
}

const struct restart_open_slot *restart_state_open(
	const struct restart_state *s, enum restart_open_kind kind,
	uint64_t fh)
{
	if (fh >= s->h->open_cap ||
	    !atomic_load_explicit(&s->opens[kind][fh].used,
				  memory_order_acquire))
		return NULL;
	return &s->opens[kind][fh];
}

bool restart_state_complete(const struct restart_state *s)
{
	return !atomic_load(&s->h->incomplete);
}
