/*
 * What a successor daemon needs to serve its predecessor's mount, kept in
 * a memfd as the daemon goes, so that it is current when the daemon dies
 * without warning (docs/restart.md): the INIT that was negotiated, and a
 * slot per node id and per file handle the kernel holds, at the id's
 * place. Each slot is written whole before it is marked used, so a daemon
 * killed mid-write leaves it unused, never half written.
 *
 * Lookup counts are noted before the answer that gives the kernel its
 * reference: a daemon killed in between leaves a count one too high (an
 * entry never freed), never one too low (an entry freed that the kernel
 * still names).
 *
 * The file is sparse: only the pages of slots ever used take memory. Ids
 * at or beyond the capacities given at creation are not kept; the state
 * then says it is incomplete, and no successor may take over from it.
 */
#ifndef BOUNCEFS_RESTART_STATE_H
#define BOUNCEFS_RESTART_STATE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define RESTART_STATE_MAGIC 0x72736662u /* "bfsr" */
#define RESTART_STATE_VERSION 1u
#define RESTART_HANDLE_MAX 128 /* MAX_HANDLE_SZ */
#define RESTART_INIT_MAX 256   /* fuse_init_in, fuse_init_out and more */

/* The kinds of handle slot: open files and open directories have an id
 * space each (core/open_handles.h). */
enum restart_open_kind { RESTART_FILE, RESTART_DIR, RESTART_KINDS };

struct restart_inode_slot {
	_Atomic uint32_t used;    /* written last; 0: free */
	uint32_t type;            /* S_IFMT bits */
	uint64_t dev, ino;
	_Atomic uint64_t nlookup;
	int32_t mount_id;         /* of the handle; -1: no handle */
	int32_t handle_type;
	uint32_t handle_bytes;
	uint32_t pad;
	unsigned char handle[RESTART_HANDLE_MAX];
	unsigned char pad2[16];
};

/* How the kernel was told to serve an open (restart_open.served). */
#define RESTART_SERVED_DIRECT_IO 1u   /* FOPEN_DIRECT_IO: every I/O to us */
#define RESTART_SERVED_PASSTHROUGH 2u /* FOPEN_PASSTHROUGH: by the kernel */
#define RESTART_SERVED_CACHED 4u      /* through the kernel's page cache */

/* An open the kernel holds, as a successor must serve it again. */
struct restart_open {
	uint64_t node_id;
	uint32_t flags;           /* the open's flags (O_DIRECT, O_RDWR...) */
	uint32_t served;          /* RESTART_SERVED_* */
	int32_t backing_id;       /* the kernel's id of its backing file, for
				     a passthrough open; else 0 */
};

struct restart_open_slot {
	_Atomic uint32_t used;    /* written last; 0: free */
	uint32_t flags;
	uint64_t node_id;
	uint32_t served;
	int32_t backing_id;
	uint64_t pad;             /* (a READDIR carries its own offset) */
};

struct restart_header {
	uint32_t magic, version;
	uint64_t inode_cap, open_cap;  /* slots of each array */
	uint64_t inodes_at;            /* offsets in the file */
	uint64_t opens_at[RESTART_KINDS];
	_Atomic uint64_t inode_end;    /* above the highest id ever kept */
	_Atomic uint64_t open_end[RESTART_KINDS];
	_Atomic uint32_t incomplete;   /* an id was beyond its capacity */
	uint32_t init_in_len, init_out_len;
	unsigned char init_in[RESTART_INIT_MAX], init_out[RESTART_INIT_MAX];
};

struct restart_state {
	int fd;                        /* the memfd */
	size_t size;
	struct restart_header *h;      /* mapped, shared */
	struct restart_inode_slot *inodes;
	struct restart_open_slot *opens[RESTART_KINDS];
};

/* A new state in a new memfd, for ids below the capacities. 0 or -errno. */
int restart_state_create(struct restart_state *s, uint64_t inode_cap,
			 uint64_t open_cap);

/* A predecessor's state, from its memfd (fd is the caller's, not taken).
 * 0; -EPROTO if it is not a state of this version; -errno. */
int restart_state_attach(struct restart_state *s, int fd);

/* Unmap, and close the memfd if it was created here. */
void restart_state_close(struct restart_state *s);

/* The INIT request's and answer's bytes (each at most RESTART_INIT_MAX).
 * 0 or -E2BIG. */
int restart_state_set_init(struct restart_state *s, const void *in,
			   size_t in_len, const void *out, size_t out_len);

/* Node id id now names this inode, with nlookup references. handle may be
 * NULL (an entry that pins its fd: the successor cannot reopen it). */
void restart_state_put_inode(struct restart_state *s, uint64_t id, dev_t dev,
			     ino_t ino, uint32_t type, uint64_t nlookup,
			     int mount_id, int handle_type,
			     const void *handle, uint32_t handle_bytes);
void restart_state_set_nlookup(struct restart_state *s, uint64_t id,
			       uint64_t nlookup);
void restart_state_drop_inode(struct restart_state *s, uint64_t id);

/* The kernel holds handle fh of this kind: the open o. */
void restart_state_put_open(struct restart_state *s,
			    enum restart_open_kind kind, uint64_t fh,
			    const struct restart_open *o);
void restart_state_drop_open(struct restart_state *s,
			     enum restart_open_kind kind, uint64_t fh);

/* Give back the memory of inode slots no longer used, whole pages at a
 * time (after many forgets). The caller keeps every inode slot writer
 * out meanwhile (the inode table's lock). */
void restart_state_trim_inodes(struct restart_state *s);

/* Reading a state back: a slot in use, or NULL. Ids run below
 * h->inode_end and h->open_end[kind]. */
const struct restart_inode_slot *restart_state_inode(
	const struct restart_state *s, uint64_t id);
const struct restart_open_slot *restart_state_open(
	const struct restart_state *s, enum restart_open_kind kind,
	uint64_t fh);

/* May a successor take over from this state? */
bool restart_state_complete(const struct restart_state *s);

#endif
