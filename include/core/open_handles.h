/*
 * The open files and directories the kernel holds: each has the file
 * handle (fh) the kernel was given for it, a slot number (core/id_table.h)
 * rather than its address, so that a successor daemon can give the same
 * number again; and the ones it never releases (the daemon stopped first)
 * are freed at unmount.
 */
#ifndef BOUNCEFS_OPEN_HANDLES_H
#define BOUNCEFS_OPEN_HANDLES_H

#include <pthread.h>
#include <stdint.h>

#include "core/id_table.h"
#include "core/restart_state.h"

/* Embedded as the first member of each handle. */
struct open_handle {
	struct open_handle *prev, *next;
	uint64_t id;              /* the kernel's fh for it */
};

struct open_handles {
	pthread_mutex_t lock;
	struct open_handle *head;
	struct id_table ids;      /* fh -> handle */
	struct restart_state *state; /* kept current for a successor, or NULL */
	enum restart_open_kind kind; /* which of its id spaces is this set's */
};

/* 0, or -ENOMEM. */
int open_handles_init(struct open_handles *s);
void open_handles_destroy(struct open_handles *s);

/* From now on, keep state current with each handle's fh, node id and
 * flags, as handles of this kind (docs/restart.md). */
void open_handles_keep_state(struct open_handles *s,
			     struct restart_state *state,
			     enum restart_open_kind kind);

/* Add h, the open o, giving it an id (h->id, never 0), before the kernel
 * is told of it. 0, or -errno (ENOMEM, ENOSPC). */
int open_handles_add(struct open_handles *s, struct open_handle *h,
		     const struct restart_open *o);
/* The same with the id a predecessor gave it (a successor, putting back
 * what the kernel holds). 0, or -errno (EEXIST, ERANGE, ENOMEM). */
int open_handles_put(struct open_handles *s, struct open_handle *h,
		     uint64_t id, const struct restart_open *o);
void open_handles_del(struct open_handles *s, struct open_handle *h);

/* The handle of an id, or NULL; no lock (see id_table_get). */
struct open_handle *open_handles_find(struct open_handles *s, uint64_t id);

/* fn(h, arg) for each handle in the set, under its lock (fn must not
 * add or remove any). */
void open_handles_each(struct open_handles *s,
		       void (*fn)(struct open_handle *h, void *arg), void *arg);

/* Take any handle out of the set; NULL when it is empty. */
struct open_handle *open_handles_pop(struct open_handles *s);

#endif
