/* bouncefs: parse the command line, then run the daemon (daemon.c). */
#include "cli/daemon.h"
#include "cli/mount_helper.h"
#include "cli/remount.h"
#include "cli/service_manager.h"
#include "cli/stats_command.h"
#include "cli/takeover_command.h"
#include "core/log.h"
#include "core/mountinfo.h"
#include "core/options.h"
#include "privilege/privileges.h"
#include "probe/probe.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/vfs.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

/* The descriptors the command was meant to inherit, into keep[5]: a
 * mountpoint of the form /dev/fd/N is a /dev/fuse fd that a privileged
 * parent opened and mounted for us (libfuse); --successor=F,S,L names the
 * three a supervisor hands its successor, and systemd's descriptor store
 * hands back two by name (docs/restart.md). The rest are closed. */
#define INHERITED_MAX 5
static void inherited_fds(int argc, char **argv, int keep[INHERITED_MAX])
{
	keep[0] = keep[1] = keep[2] = -1;
	keep[3] = service_listen_fd(SERVICE_FUSE_FD_NAME);
	keep[4] = service_listen_fd(SERVICE_STATE_FD_NAME);
	for (int i = 1; i < argc; i++) {
		unsigned n;
		char end;

		if (strcmp(argv[i], "--") == 0)
			continue;
		if (sscanf(argv[i], "/dev/fd/%u%c", &n, &end) == 1)
			keep[0] = (int)n;
		else if (strncmp(argv[i], "--successor=", 12) == 0 &&
			 sscanf(argv[i] + 12, "%d,%d,%d", &keep[0], &keep[1],
				&keep[2]) != 3)
			keep[0] = keep[1] = keep[2] = -1;
	}
}

/* Refuse to stack a second bouncefs on the same mountpoint. */
static int check_not_mounted(const char *mountpoint, char *err, size_t len)
{
	char mp[4096];
	char *info;
	int rc;

	if (!realpath(mountpoint, mp) || !(info = mountinfo_read()))
		return BFS_EXIT_OK;
	rc = options_check_not_mounted(mp, info, err, len);
	free(info);
	if (rc == BFS_EXIT_BUSY) {
		/* Its daemon may be gone: a killed daemon's FUSE ring ends a
		 * moment after the process, and the root's attributes stay
		 * cached meanwhile. statfs always asks the daemon. */
		struct statfs sf;
		int tries = 0;

		while (statfs(mp, &sf) != 0 && tries++ < 2) {
			if (errno == ECONNABORTED)
				continue;   /* ended while we asked */
			if (errno == ENOTCONN)
				snprintf(err, len, "mountpoint '%s': %s (a dead mount is left there: umount it first)",
					 mountpoint, strerror(errno));
			return errno == ENOTCONN ? BFS_EXIT_BAD_MOUNTPOINT : rc;
		}
	}
	return rc;
}

/* bouncefs --probe [--json] PATH */
static int probe_command(const char *path, bool json)
{
	struct bfs_probe p;
	int rc = probe_path(path, &p);

	if (rc) {
		fprintf(stderr, "bouncefs: cannot probe '%s': %s\n", path,
			strerror(-rc));
		return BFS_EXIT_BAD_BACKING;
	}
	if (json)
		probe_print_json(stdout, &p);
	else
		probe_print_text(stdout, &p);
	return fflush(stdout) == 0 ? BFS_EXIT_OK : BFS_EXIT_FAILURE;
}

/* The fd systemd holds for a mount that is still alive? (A connection
 * that has ended polls as an error; systemd drops such fds itself.) */
static bool connection_alive(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) >= 0 && !(p.revents & (POLLERR | POLLHUP | POLLNVAL));
}

/* path made absolute without a stat of it (a dead daemon's mountpoint has
 * nobody to answer one): its directory resolved, its name appended. */
static int absolute_unstatted(const char *path, char out[PATH_MAX])
{
	char dir[PATH_MAX], real[PATH_MAX];
	const char *base;
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	while (strlen(dir) > 1 && dir[strlen(dir) - 1] == '/')
		dir[strlen(dir) - 1] = '\0';
	slash = strrchr(dir, '/');
	if (!slash) {
		base = path;
		snprintf(dir, sizeof(dir), ".");
	} else {
		*slash = '\0';
		base = slash + 1;
		if (!dir[0])
			snprintf(dir, sizeof(dir), "/");
	}
	if (!base[0] || strcmp(base, ".") == 0 || strcmp(base, "..") == 0 ||
	    !realpath(dir, real))
		return -EINVAL;
	if (snprintf(out, PATH_MAX, "%s%s%s", real,
		     strcmp(real, "/") == 0 ? "" : "/", base) >= PATH_MAX)
		return -ENAMETOOLONG;
	return 0;
}

/* -o restart=systemd: a mount whose descriptors systemd's store hands
 * back is taken over (opts->successor_fds set, the paths made absolute
 * in backing and mountpoint); the store's fds of an ended mount are
 * dropped, and the mount is made anew. */
static int from_service_manager(struct bfs_options *opts,
				char backing[PATH_MAX],
				char mountpoint[PATH_MAX])
{
	int fuse_fd = service_listen_fd(SERVICE_FUSE_FD_NAME);
	int state_fd = service_listen_fd(SERVICE_STATE_FD_NAME);
	int sock;

	service_listen_forget();
	if (fuse_fd >= 0 && state_fd >= 0 && connection_alive(fuse_fd)) {
		if (!realpath(opts->backing_dir, backing)) {
			bfs_log_startup("backing dir '%s': %s",
					opts->backing_dir, strerror(errno));
			return BFS_EXIT_BAD_BACKING;
		}
		if (absolute_unstatted(opts->mountpoint, mountpoint) != 0) {
			bfs_log_startup("mountpoint '%s': cannot make it absolute (give an absolute path)",
					opts->mountpoint);
			return BFS_EXIT_BAD_MOUNTPOINT;
		}
		opts->backing_dir = backing;
		opts->mountpoint = mountpoint;
		opts->successor_fds[0] = fuse_fd;
		opts->successor_fds[1] = state_fd;
		return BFS_EXIT_OK;
	}
	if (fuse_fd < 0 && state_fd < 0)
		return BFS_EXIT_OK;
	/* A mount that ended (unmounted, or aborted): mounted anew. */
	bfs_log(LOG_INFO, "the descriptors systemd held are of a mount that has ended: mounting anew");
	sock = service_notify_open();
	if (sock >= 0) {
		service_drop_stored(sock);
		close(sock);
	}
	if (fuse_fd >= 0)
		close(fuse_fd);
	if (state_fd >= 0)
		close(state_fd);
	return BFS_EXIT_OK;
}

/* After the command line: remount, or check the paths and mount. fake:
 * check only (mount -f). */
static int mount_command(struct bfs_options *opts, bool fake,
			 char **argv)
{
	/* Static: its threads may answer until the end (daemon.h). */
	static struct bfs_daemon daemon;
	static char mountpoint[PATH_MAX];
	char err[512];
	char backing[PATH_MAX];
	int rc;

	if (opts->remount) {
		rc = fake ? BFS_EXIT_OK : remount_run(opts, err, sizeof(err));
		if (rc != BFS_EXIT_OK)
			bfs_log_startup("%s", err);
		return rc;
	}
	/* A successor's mountpoint is mounted, with nobody to answer a stat
	 * of it until the successor serves: its paths were checked by the
	 * first daemon and come absolute. */
	if (opts->successor_fds[0] >= 0)
		return daemon_run(&daemon, opts, opts->backing_dir, argv);
	if (opts->restart == BFS_RESTART_SYSTEMD && !fake) {
		rc = from_service_manager(opts, backing, mountpoint);
		if (rc != BFS_EXIT_OK)
			return rc;
		if (opts->successor_fds[0] >= 0)
			return daemon_run(&daemon, opts, backing, argv);
	}
	rc = options_check_paths(opts, err, sizeof(err));
	if (rc == BFS_EXIT_OK)
		rc = check_not_mounted(opts->mountpoint, err, sizeof(err));
	if (rc != BFS_EXIT_OK) {
		bfs_log_startup("%s", err);
		return rc;
	}
	if (!realpath(opts->backing_dir, backing)) {
		bfs_log_startup("backing dir '%s': %s",
			opts->backing_dir, strerror(errno));
		return BFS_EXIT_BAD_BACKING;
	}
	/* Both paths absolute from here on: the daemon leaves its working
	 * directory when it detaches, and a relative mountpoint could not be
	 * unmounted then. (Not a /dev/fd/N, whose fd is the mount.) */
	if (strncmp(opts->mountpoint, "/dev/fd/", 8) != 0) {
		if (!realpath(opts->mountpoint, mountpoint)) {
			bfs_log_startup("mountpoint '%s': %s", opts->mountpoint,
					strerror(errno));
			return BFS_EXIT_BAD_MOUNTPOINT;
		}
		opts->mountpoint = mountpoint;
	}
	if (fake)
		return BFS_EXIT_OK;
	return daemon_run(&daemon, opts, backing, argv);
}

/* Run by mount(8) as mount.bouncefs or mount.fuse.bouncefs. */
static int helper_main(int argc, char **argv)
{
	static struct bfs_options opts;
	struct mount_helper_args a;
	char err[512];
	char *args[7];
	int n = 0, rc;

	mount_helper_begin();
	rc = mount_helper_parse(argc, argv, &a, err, sizeof(err));
	if (rc != BFS_EXIT_OK) {
		bfs_log_startup("%s", err);
		return rc;
	}
	/* mount -a mounts many: every message names its mountpoint. */
	log_set_prefix(a.dir);
	if (a.verbose)
		log_set_verbose();
	options_init(&opts);
	opts.sloppy = a.sloppy;
	args[n++] = argv[0];
	if (a.opts) {
		args[n++] = "-o";
		args[n++] = (char *)a.opts;
	}
	args[n++] = "--";
	args[n++] = (char *)a.spec;
	args[n++] = (char *)a.dir;
	args[n] = NULL;
	rc = options_parse(&opts, n, args, err, sizeof(err));
	if (rc != BFS_EXIT_OK) {
		bfs_log_startup("%s", err);
		return rc;
	}
	return mount_command(&opts, a.fake, args);
}

int main(int argc, char **argv)
{
	static struct bfs_options opts;
	char err[512];
	int keep[INHERITED_MAX];
	int rc;

	if (argc >= 2 && strcmp(argv[1], "stat") == 0)
		return stats_command(argc, argv);
	inherited_fds(argc, argv, keep);
	privileges_close_inherited(keep, INHERITED_MAX);
	if (mount_helper_invoked(argv[0]))
		return mount_helper_status(helper_main(argc, argv));

	options_init(&opts);
	rc = options_parse(&opts, argc, argv, err, sizeof(err));
	if (rc != BFS_EXIT_OK) {
		bfs_log_startup("%s", err);
		return rc;
	}
	if (opts.show_help) {
		options_print_help("bouncefs");
		return BFS_EXIT_OK;
	}
	if (opts.show_version) {
		printf("bouncefs %s (libfuse %s)\n", BOUNCEFS_VERSION,
		       fuse_pkgversion());
		return BFS_EXIT_OK;
	}
	if (opts.probe)
		return probe_command(opts.backing_dir, opts.json);
	if (opts.takeover)
		return takeover_command(opts.mountpoint);
	return mount_command(&opts, false, argv);
}
