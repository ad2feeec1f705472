/*
 * bouncefs run by mount(8) as its helper, mount.bouncefs (type bouncefs)
 * or mount.fuse.bouncefs (type fuse.bouncefs): mount(8)'s command line
 * in, mount(8)'s exit statuses out, and the mountpoint named in every
 * message (mount -a mounts many).
 */
#ifndef BOUNCEFS_MOUNT_HELPER_H
#define BOUNCEFS_MOUNT_HELPER_H

#include <stdbool.h>
#include <stddef.h>

/* mount(8)'s exit statuses (mount(8), "EXIT STATUS"). */
enum mount_exit {
	MOUNT_EX_SUCCESS = 0,
	MOUNT_EX_USAGE = 1,   /* incorrect invocation or permissions */
	MOUNT_EX_SYSERR = 2,  /* system error (out of memory, cannot fork) */
	MOUNT_EX_FAIL = 32,   /* mount failure */
};

/* What mount(8) passed: SPEC DIR [-sfnv] [-N NS] [-o OPTS] [-t TYPE]. */
struct mount_helper_args {
	const char *spec;
	const char *dir;
	const char *opts;   /* NULL if none */
	bool fake;          /* -f: check everything, mount nothing */
	bool sloppy;        /* -s: tolerate unknown options */
	bool verbose;       /* -v: the start-up's info messages on stderr */
};

/* Was the program run under a helper's name (argv[0])? */
bool mount_helper_invoked(const char *argv0);

/* Parse mount(8)'s arguments: 0, or a BFS_EXIT_* with a message. */
int mount_helper_parse(int argc, char **argv, struct mount_helper_args *a,
		       char *err, size_t errlen);

/* From now on, exit statuses are mount(8)'s (mount_helper_status). */
void mount_helper_begin(void);

/* The status to exit with for a BFS_EXIT_* status: itself, or mount(8)'s
 * once mount_helper_begin was called. */
int mount_helper_status(int bfs_status);

#endif
