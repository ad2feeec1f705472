/* bouncefs: parse the command line, mount, serve, unmount. */
#include "creds.h"
#include "error_log.h"
#include "fs.h"
#include "fuse_io.h"
#include "fuse_ring.h"
#include "invalidator.h"
#include "log.h"
#include "mountinfo.h"
#include "options.h"
#include "privileges.h"
#include "probe.h"
#include "seccomp_filter.h"
#include "session_loop.h"
#include "stats.h"
#include "stats_command.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/vfs.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

/* Raise the open-file limit as far as this process may. */
static void raise_nofile_limit(void)
{
	struct rlimit rl;
	FILE *f;
	unsigned long nr_open = 0;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return;
	f = fopen("/proc/sys/fs/nr_open", "r");
	if (f) {
		if (fscanf(f, "%lu", &nr_open) != 1)
			nr_open = 0;
		fclose(f);
	}
	if (nr_open > rl.rlim_max) {
		struct rlimit more = { nr_open, nr_open };

		if (setrlimit(RLIMIT_NOFILE, &more) == 0)
			return;
	}
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
}

/* A mountpoint of the form /dev/fd/N is a /dev/fuse fd that a
 * privileged parent opened and mounted for us (libfuse): keep N open. */
static int inherited_fuse_fd(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		unsigned n;
		char end;

		if (sscanf(argv[i], "/dev/fd/%u%c", &n, &end) == 1)
			return (int)n;
	}
	return -1;
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

/* Append src to dst for a -o list, escaping ',' and '\'. */
static void append_escaped(char *dst, size_t len, const char *src)
{
	size_t n = strlen(dst);

	for (; *src && n + 2 < len; src++) {
		if (*src == ',' || *src == '\\')
			dst[n++] = '\\';
		dst[n++] = *src;
	}
	dst[n] = '\0';
}

/* The -o list handed to libfuse. */
static void build_fuse_opts(const struct bfs_options *o, const char *backing,
			    char *out, size_t len)
{
	snprintf(out, len, "default_permissions,subtype=bouncefs");
	if (o->allow_other || geteuid() == 0)
		strncat(out, ",allow_other", len - strlen(out) - 1);
	if (!strstr(o->fuse_opts, "fsname=")) {
		strncat(out, ",fsname=", len - strlen(out) - 1);
		append_escaped(out, len, backing);
	}
	if (o->fuse_opts[0]) {
		strncat(out, ",", len - strlen(out) - 1);
		strncat(out, o->fuse_opts, len - strlen(out) - 1);
	}
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

int main(int argc, char **argv)
{
	static char fuse_opts[2 * BFS_FUSE_OPTS_MAX + 64];
	struct bfs_options opts;
	struct fuse_lowlevel_ops ops;
	struct fuse_session *se;
	struct bfs_fs fs;
	/* Static: its lock outlives main's teardown (see invalidator_stop). */
	static struct invalidator inval;
	char err[512];
	char backing[4096];
	static char mountpoint[4096];
	char *fargv[5];
	int fargc = 0, rc, root_fd;
	unsigned threads;
	bool ring_wanted;
	static struct bfs_probe probe;
	char probe_line[256] = "";

	if (argc >= 2 && strcmp(argv[1], "stat") == 0)
		return stats_command(argc, argv);
	privileges_close_inherited(inherited_fuse_fd(argc, argv));

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
	rc = options_check_paths(&opts, err, sizeof(err));
	if (rc == BFS_EXIT_OK)
		rc = check_not_mounted(opts.mountpoint, err, sizeof(err));
	if (rc != BFS_EXIT_OK) {
		bfs_log_startup("%s", err);
		return rc;
	}
	if (!realpath(opts.backing_dir, backing)) {
		bfs_log_startup("backing dir '%s': %s",
			opts.backing_dir, strerror(errno));
		return BFS_EXIT_BAD_BACKING;
	}

	raise_nofile_limit();
	umask(0);
	creds_setup();

	root_fd = open(backing, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0) {
		bfs_log_startup("backing dir '%s': %s", backing,
			strerror(errno));
		return BFS_EXIT_BAD_BACKING;
	}
	rc = fs_init(&fs, &opts, root_fd);
	if (rc) {
		bfs_log_startup("backing dir '%s': %s", backing,
			strerror(-rc));
		close(root_fd);
		return BFS_EXIT_FAILURE;
	}
	error_log_init(backing);
	/* Stage at least in the device's blocks, whatever statx says. */
	if (probe_path(backing, &probe) == 0) {
		fs.min_align = probe.staging_align;
		probe_summary(&probe, probe_line, sizeof(probe_line));
	}

	build_fuse_opts(&opts, backing, fuse_opts, sizeof(fuse_opts));
	fargv[fargc++] = argv[0];
	fargv[fargc++] = "-o";
	fargv[fargc++] = fuse_opts;
	if (opts.debug)
		fargv[fargc++] = "-d";
	fargv[fargc] = NULL;
	struct fuse_args args = FUSE_ARGS_INIT(fargc, fargv);

	/* Before the mount: the kernel offers FUSE over io_uring in INIT only
	 * if it is enabled when the mount is made. */
	ring_wanted = !opts.single_thread && fuse_ring_wanted(opts.uring);

	/* Resolved now: once mounted, the path leads into the mount. */
	if (!realpath(opts.mountpoint, mountpoint))
		mountpoint[0] = '\0';
	fs_fill_ops(&ops);
	se = fuse_session_new(&args, &ops, sizeof(ops), &fs);
	fuse_opt_free_args(&args);
	if (!se) {
		bfs_log_startup("cannot set up the FUSE session (options '%s')",
			fuse_opts);
		fs_destroy(&fs);
		return BFS_EXIT_FAILURE;
	}
	if (fuse_session_mount(se, opts.mountpoint) != 0) {
		bfs_log_startup("cannot mount at '%s'",
			opts.mountpoint);
		fuse_session_destroy(se);
		fs_destroy(&fs);
		return BFS_EXIT_FAILURE;
	}
	if (mountpoint[0])
		fs_note_self(&fs, mountpoint);
	/* Replies go through our hooks (the INIT reply asks for shared mmap
	 * of direct-I/O files). Without them the mount still works. */
	if (fuse_io_install(se) != 0)
		bfs_log(LOG_WARNING, "cannot hook the FUSE device; shared mmap of O_DIRECT opens stays off");
	/* The parent returns only now that the mount exists. */
	if (fuse_daemonize(opts.foreground) != 0) {
		fuse_session_unmount(se);
		fuse_session_destroy(se);
		fs_destroy(&fs);
		return BFS_EXIT_FAILURE;
	}
	if (!opts.foreground)
		log_use_syslog();

	threads = opts.single_thread ? 1 : opts.max_threads;
	rc = fs_open_proc(&fs);
	/* Before the first thread: they inherit what this one keeps. */
	if (rc == 0) {
		rc = privileges_drop(geteuid() == 0);
		if (rc)
			bfs_log(LOG_ERR, "cannot drop privileges: %s",
				strerror(-rc));
	}
	if (rc == 0) {
		rc = seccomp_filter_install(opts.seccomp);
		if (rc)
			bfs_log(LOG_ERR, "cannot install the seccomp filter: %s",
				strerror(-rc));
	}
	if (rc == 0)
		rc = session_loop_block_signals();
	/* Threads only now: after the fork of fuse_daemonize. */
	if (rc == 0) {
		unsigned ring_bufs = ring_wanted ?
			fuse_ring_buffers(opts.queue_depth) : 0;

		rc = dio_init(&fs.dio, opts.queue_depth, threads, fs.min_align,
			      ring_bufs);
		if (rc == 0) {
			rc = invalidator_start(&inval, se, fs.self_dev);
			fs.dio.inval = &inval;
		}
		if (rc == 0 && ring_bufs)
			fuse_ring_setup(se, &fs.dio, opts.queue_depth, threads);
		if (rc)
			bfs_log(LOG_ERR, "cannot set up direct I/O: %s",
				strerror(-rc));
	}
	if (rc == 0) {
		const struct session_buffers bufs = {
			.ctx = &fs.dio,
			.next = dio_recv_next,
			.done = dio_recv_done,
		};

		stats_start();
		bfs_log(LOG_INFO, "mounted %s at %s", backing, opts.mountpoint);
		if (probe_line[0])
			bfs_log(LOG_INFO, "%s", probe_line);
		rc = session_loop_run(se, threads, &bufs);
		/* Answer every I/O in flight before the mount goes: first the
		 * writes waiting for their invalidations (which the ring's
		 * queue threads may be waiting for). */
		invalidator_stop(&inval);
		fuse_ring_stop();
		dio_destroy(&fs.dio);
		fuse_ring_free();
	}
	if (rc)
		bfs_log(LOG_ERR, "stopped on an error: %s", strerror(-rc));

	fuse_session_unmount(se);
	fuse_session_destroy(se);
	fs_destroy(&fs);
	bfs_log(LOG_INFO, "unmounted %s", opts.mountpoint);
	return rc ? BFS_EXIT_FAILURE : BFS_EXIT_OK;
}
