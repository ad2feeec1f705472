/*
 * Small numbers for the things the kernel holds: the FUSE node ids of the
 * inode table and the file handles (fh) of open files and directories.
 * A number is a slot, not an address, so that a successor daemon can give
 * the same number to the same thing again (docs/restart.md).
 *
 * Lookups take no lock (a request's id is turned into its object on every
 * request); adding and removing take the table's mutex. Ids are given
 * from first on, a freed one again before a new one.
 */
#ifndef BOUNCEFS_ID_TABLE_H
#define BOUNCEFS_ID_TABLE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define ID_TABLE_CHUNK_BITS 12
#define ID_TABLE_CHUNKS 65536u
/* Ids are below this (2^28: 268 million things held at once). */
#define ID_TABLE_LIMIT ((uint64_t)ID_TABLE_CHUNKS << ID_TABLE_CHUNK_BITS)

struct id_table {
	pthread_mutex_t lock;     /* guards everything but the lookups */
	_Atomic(_Atomic(void *) *) *chunks; /* ID_TABLE_CHUNKS, made as needed */
	uint64_t first;           /* the lowest id given */
	uint64_t next;            /* every id from here on is free */
	uint64_t *free;           /* freed ids below next, a stack */
	size_t nfree, free_cap;
	size_t count;             /* ids in use */
};

/* Set up an empty table giving ids from first (>= 0) on. 0 or -ENOMEM. */
int id_table_init(struct id_table *t, uint64_t first);
void id_table_destroy(struct id_table *t);

/* Give obj (not NULL) an id. Returns it, or 0 with errno set (ENOMEM,
 * ENOSPC when every id is in use). */
uint64_t id_table_add(struct id_table *t, void *obj);

/*
 * Give obj the id it had in a predecessor. Returns 0, -EEXIST if the id is
 * in use, -ERANGE if it is below first or at ID_TABLE_LIMIT or above, or
 * -ENOMEM. Ids skipped over are free for id_table_add. Cheap in rising
 * order (a successor puts its predecessor's ids so); an id below the
 * highest given costs a search of the free ids.
 */
int id_table_put(struct id_table *t, uint64_t id, void *obj);

/* The object of an id, or NULL if it has none. No lock: the caller knows
 * that the id is not being removed meanwhile (the kernel uses no node id
 * it has forgotten and no handle it has released). */
void *id_table_get(struct id_table *t, uint64_t id);

/* Free an id (it must be in use). */
void id_table_del(struct id_table *t, uint64_t id);

/* Ids in use. */
size_t id_table_count(struct id_table *t);

#endif
