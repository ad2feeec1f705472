/*
 * The open files and directories the kernel holds, so that the ones it
 * never releases (the daemon stopped first) are freed at unmount.
 */
#ifndef BOUNCEFS_OPEN_HANDLES_H
#define BOUNCEFS_OPEN_HANDLES_H

#include <pthread.h>

/* Embedded as the first member of each handle. */
struct open_handle {
	struct open_handle *prev, *next;
};

struct open_handles {
	pthread_mutex_t lock;
	struct open_handle *head;
};

void open_handles_init(struct open_handles *s);
void open_handles_destroy(struct open_handles *s);
void open_handles_add(struct open_handles *s, struct open_handle *h);
void open_handles_del(struct open_handles *s, struct open_handle *h);

/* fn(h, arg) for each handle in the set, under its lock (fn must not
 * add or remove any). */
void open_handles_each(struct open_handles *s,
		       void (*fn)(struct open_handle *h, void *arg), void *arg);

/* Take any handle out of the set; NULL when it is empty. */
struct open_handle *open_handles_pop(struct open_handles *s);

#endif
