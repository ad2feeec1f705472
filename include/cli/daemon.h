/*
 * The daemon: one object owns everything a mount is served with (the file
 * system context, the direct-I/O path, the invalidator, the FUSE session
 * and its transports), made in order by daemon_run and torn down in one
 * place, in reverse order.
 */
#ifndef BOUNCEFS_DAEMON_H
#define BOUNCEFS_DAEMON_H

#include <fuse_lowlevel.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "core/options.h"
#include "core/restart_state.h"
#include "dio/dio.h"
#include "dio/invalidator.h"
#include "ops/fs.h"
#include "probe/probe.h"

struct ring_transport;
struct dev_fuse_ring;

struct bfs_daemon {
	const struct bfs_options *opts;
	char backing[PATH_MAX];      /* the backing directory, a real path */
	char mountpoint[PATH_MAX];   /* the mountpoint, resolved before the
					mount (or "") */
	struct bfs_probe probe;
	char probe_line[256];
	/* Made in this order; daemon_teardown undoes what was made. */
	struct bfs_fs fs;
	bool fs_made;
	/* What a successor would need, kept current by the file system
	 * (docs/restart.md); made with fs, closed after it. */
	struct restart_state state;
	bool state_made;
	struct fuse_session *se;
	bool mounted;
	struct bfs_dio dio;
	struct invalidator inval;
	struct ring_transport *ring;
	struct dev_fuse_ring *dev_ring; /* /dev/fuse ring workers, or NULL */
	unsigned threads;
	/* Detached: where the start-up's outcome goes (detach.h), once. */
	_Atomic int report_fd;      /* -1: reported, or in the foreground */
	int null_fd;                /* /dev/null, for stdio once reported */
	/* Restartable mounts (docs/restart.md): started by the supervisor
	 * to take a dead daemon's mount over; the link to the supervisor
	 * (supervisor.h), or -1. */
	bool successor;
	int link;
	/* Who holds the mount for a successor (off: nobody, it dies with
	 * this daemon), and the socket to systemd for restart=systemd (its
	 * notifications and descriptor store, service_manager.h), or -1. */
	enum bfs_restart_mode holder;
	int notify;
};

/*
 * Mount opts->backing_dir (backing: its real path) at opts->mountpoint,
 * detach unless in the foreground, serve until unmounted or signalled,
 * unmount. (A successor takes the mount over instead of mounting, and
 * does not detach.) argv: the command line opts came from (argv[0] the
 * program), which the supervisor gives its successors. d must outlive every thread it starts (static storage: the
 * invalidator's lock is used until the last answer). Returns the exit
 * status (BFS_EXIT_*).
 */
int daemon_run(struct bfs_daemon *d, const struct bfs_options *opts,
	       const char *backing, char **argv);

#endif
