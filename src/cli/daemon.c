/* The daemon object: mount, serve, tear down in reverse order. */
#include "cli/daemon.h"
#include "core/kernel_features.h"
#include "cli/detach.h"
#include "cli/metrics_file.h"
#include "cli/service_manager.h"
#include "cli/supervisor.h"
#include "core/fusectl.h"
#include "core/error_log.h"
#include "core/log.h"
#include "core/mountinfo.h"
#include "core/stats.h"
#include "ops/ops.h"
#include "privilege/creds.h"
#include "privilege/privileges.h"
#include "privilege/seccomp_filter.h"
#include "transport/dev_fuse_ring.h"
#include "transport/device_io.h"
#include "transport/ring_transport.h"
#include "transport/session_loop.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/mount.h>
#include <sys/stat.h>
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

/* The device hooks (device_io.h) hand ring answers and the start of the
 * queues to the ring transport, once there is one. */
static bool hook_reply(void *ctx, const struct iovec *iov, int count,
		       ssize_t *written)
{
	struct bfs_daemon *d = ctx;

	return ring_transport_reply(d->ring, iov, count, written);
}

static bool hook_ring_ready(void *ctx)
{
	struct bfs_daemon *d = ctx;

	return d->ring != NULL;
}

static void hook_ring_offered(void *ctx)
{
	struct bfs_daemon *d = ctx;

	if (d->ring)
		ring_transport_start(d->ring);
}

/* The INIT reply asks for passthrough: the opens that may follow at once
 * find it on. (Should the kernel refuse it after all, the first backing
 * registration fails, is logged, and opens go through the page cache.) */
static void hook_init_adding(void *ctx, uint64_t added)
{
	struct bfs_daemon *d = ctx;

	if (added & DEVICE_IO_PASSTHROUGH) {
		d->fs.fuse_fd = fuse_session_fd(d->se);
		atomic_store(&d->fs.passthrough, true);
	}
}

/* Tell the command how start-up ended (detached only), once. */
static void report_once(struct bfs_daemon *d, int status)
{
	int fd = atomic_exchange(&d->report_fd, -1);

	if (fd >= 0)
		detach_report(fd, status, d->null_fd);
}

/* The INIT reply went out: a mount that serves, the command may return
 * 0. (A refused INIT ends the session; the end of daemon_run reports.) */
static void hook_init_done(void *ctx, bool ok)
{
	struct bfs_daemon *d = ctx;

	if (ok && atomic_load(&d->fs.passthrough))
		bfs_log(LOG_INFO, "FUSE passthrough: opens without O_DIRECT are served from the backing files");
	if (ok) {
		kernel_features_log();
		report_once(ctx, BFS_EXIT_OK);
	}
}

/* Up to 4 Mi node ids and 1 Mi open files and directories are kept for a
 * successor: 768 MiB and 64 MiB of a sparse memfd, of which only the
 * pages of slots in use take memory. */
#define STATE_INODES (1u << 22)
#define STATE_OPENS (1u << 20)

/* The state a successor reads, kept current from the first lookup on.
 * Without it (no memfd), the mount serves as before. */
static void keep_state(struct bfs_daemon *d)
{
	int rc = restart_state_create(&d->state, STATE_INODES, STATE_OPENS);

	if (rc) {
		bfs_log(LOG_WARNING, "cannot make the restart state: %s",
			strerror(-rc));
		return;
	}
	d->state_made = true;
	itable_keep_state(&d->fs.itab, &d->state);
	open_handles_keep_state(&d->fs.files, &d->state, RESTART_FILE);
	open_handles_keep_state(&d->fs.dirs, &d->state, RESTART_DIR);
}

/* A successor's state: its predecessor's, in the memfd the supervisor
 * held; every node id the kernel holds is put back, and the state is
 * kept current from here on in the same memfd. */
static int take_state(struct bfs_daemon *d)
{
	int rc = restart_state_attach(&d->state, d->opts->successor_fds[1]);
	long n;

	if (rc == 0 && !restart_state_complete(&d->state))
		rc = -ERANGE;
	if (rc == 0 && d->state.h->init_in_len == 0)
		rc = -ENODATA;
	if (rc) {
		bfs_log_startup("cannot take over: the dead daemon's state %s",
				rc == -ERANGE ? "is incomplete (more node ids or opens than it could hold)" :
				rc == -ENODATA ? "has no INIT (it died before it served)" :
				rc == -EPROTO ? "is of another format" : strerror(-rc));
		if (d->state.h)
			restart_state_close(&d->state);
		return BFS_EXIT_FAILURE;
	}
	d->state_made = true;
	n = itable_restore(&d->fs.itab, &d->state);
	if (n < 0) {
		bfs_log_startup("cannot take over: the node ids of the dead daemon: %s",
				strerror((int)-n));
		return BFS_EXIT_FAILURE;
	}
	bfs_log(LOG_INFO, "taking over %s: %ld node ids put back", d->opts->mountpoint, n);
	itable_keep_state(&d->fs.itab, &d->state);
	open_handles_keep_state(&d->fs.files, &d->state, RESTART_FILE);
	open_handles_keep_state(&d->fs.dirs, &d->state, RESTART_DIR);
	return BFS_EXIT_OK;
}

/* The INIT the kernel took: a successor gets no second one. */
static void hook_init_taken(void *ctx, const void *in, size_t in_len,
			    const void *out, size_t out_len)
{
	struct bfs_daemon *d = ctx;

	if (d->state_made &&
	    restart_state_set_init(&d->state, in, in_len, out, out_len) != 0)
		bfs_log(LOG_WARNING, "INIT too long for the restart state");
}

/* The backing tree, the file system context and the probe. */
static int make_fs(struct bfs_daemon *d)
{
	int root_fd, rc;

	raise_nofile_limit();
	umask(0);
	creds_setup();
	root_fd = open(d->backing, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0) {
		bfs_log_startup("backing dir '%s': %s", d->backing,
				strerror(errno));
		return BFS_EXIT_BAD_BACKING;
	}
	rc = fs_init(&d->fs, d->opts, root_fd);
	if (rc) {
		bfs_log_startup("backing dir '%s': %s", d->backing,
				strerror(-rc));
		close(root_fd);
		return BFS_EXIT_FAILURE;
	}
	d->fs_made = true;
	d->fs.dio = &d->dio;
	if (d->successor) {
		rc = take_state(d);
		if (rc != BFS_EXIT_OK)
			return rc;
	} else {
		keep_state(d);
	}
	error_log_init(d->backing);
	/* Stage at least in the device's blocks, whatever statx says. */
	if (probe_path(d->backing, &d->probe) == 0) {
		d->fs.min_align = d->probe.staging_align;
		probe_summary(&d->probe, d->probe_line, sizeof(d->probe_line));
		if (d->probe.kernel_major && (d->probe.kernel_major < 6 ||
		    (d->probe.kernel_major == 6 && d->probe.kernel_minor < 1)))
			kernel_feature_lacking(BFS_KF_STATX_DIOALIGN);
	}
	return BFS_EXIT_OK;
}

/* The FUSE session, mounted, with our device hooks. */
static int make_mount(struct bfs_daemon *d, const char *argv0)
{
	static char fuse_opts[2 * BFS_FUSE_OPTS_MAX + 64];
	const struct device_io_hooks hooks = {
		.reply = hook_reply,
		.ring_ready = hook_ring_ready,
		.ring_offered = hook_ring_offered,
		.init_done = hook_init_done,
		.init_adding = hook_init_adding,
		.init_taken = hook_init_taken,
		.passthrough = d->opts->passthrough,
		.ctx = d,
	};
	struct fuse_lowlevel_ops ops;
	char held[32];
	char *fargv[5];
	int fargc = 0;

	build_fuse_opts(d->opts, d->backing, fuse_opts, sizeof(fuse_opts));
	fargv[fargc++] = (char *)argv0;
	fargv[fargc++] = "-o";
	fargv[fargc++] = fuse_opts;
	if (d->opts->debug)
		fargv[fargc++] = "-d";
	fargv[fargc] = NULL;
	struct fuse_args args = FUSE_ARGS_INIT(fargc, fargv);

	/* Resolved now: once mounted, the path leads into the mount. (A
	 * successor's is a real path already, and the mount has nobody to
	 * answer a stat of it until it serves.) */
	if (d->successor)
		snprintf(d->mountpoint, sizeof(d->mountpoint), "%s",
			 d->opts->mountpoint);
	else if (!realpath(d->opts->mountpoint, d->mountpoint))
		d->mountpoint[0] = '\0';
	ops_fill(&ops);
	d->se = fuse_session_new(&args, &ops, sizeof(ops), &d->fs);
	fuse_opt_free_args(&args);
	if (!d->se) {
		bfs_log_startup("cannot set up the FUSE session (options '%s')",
				fuse_opts);
		return BFS_EXIT_FAILURE;
	}
	/* A successor serves the connection the supervisor held (libfuse
	 * takes /dev/fd/N as a mounted descriptor). */
	snprintf(held, sizeof(held), "/dev/fd/%d", d->opts->successor_fds[0]);
	if (fuse_session_mount(d->se, d->successor ? held : d->opts->mountpoint) != 0) {
		bfs_log_startup("cannot mount at '%s'", d->opts->mountpoint);
		return BFS_EXIT_FAILURE;
	}
	d->mounted = true;
	if (d->mountpoint[0])
		fs_note_self(&d->fs, d->mountpoint);
	/* Replies go through our hooks (the INIT reply asks for shared mmap
	 * of direct-I/O files). Without them the mount still works. */
	if (device_io_install(d->se, &hooks) != 0) {
		if (d->successor) {
			bfs_log_startup("cannot take over: cannot hook the FUSE device");
			return BFS_EXIT_FAILURE;
		}
		bfs_log(LOG_WARNING, "cannot hook the FUSE device; shared mmap of O_DIRECT opens stays off");
	}
	/* No second INIT comes: libfuse takes the first one again. */
	if (d->successor &&
	    device_io_replay_init(d->se, d->state.h->init_in,
				  d->state.h->init_in_len) != 0) {
		bfs_log_startup("cannot take over: the dead daemon's INIT is not one");
		return BFS_EXIT_FAILURE;
	}
	return BFS_EXIT_OK;
}

/* Could a successor take this mount over (restart=holder)? Says why not. */
static bool can_restart(const struct bfs_daemon *d, const char *holder)
{
	if (!supervisor_kernel_resends()) {
		bfs_log(LOG_WARNING, "restart=%s needs Linux 6.9 or later (FUSE_NOTIFY_RESEND): without it a request in flight when the daemon dies would wait forever; this mount is not restartable",
			holder);
		return false;
	}
	if (!d->state_made || !d->fs.self_dev || !d->mountpoint[0]) {
		bfs_log(LOG_WARNING, "restart=%s: no restart state; this mount is not restartable",
			holder);
		return false;
	}
	return true;
}

/* Hand the mount to a supervisor (-o restart=supervisor): called after
 * the fork of the detach, with no thread running. The successor's
 * command is this one's, with --successor and the paths made absolute. */
static void start_supervisor(struct bfs_daemon *d, char **argv)
{
	static char exe[PATH_MAX];
	static char *sargv[256];
	const struct bfs_options *o = d->opts;
	int n = 0, rc;

	if (!can_restart(d, "supervisor"))
		return;
	supervisor_own_exe(exe, sizeof(exe));
	sargv[n++] = exe;
	sargv[n++] = NULL; /* --successor=..., the supervisor's */
	for (int i = 1; argv[i] && n < 250; i++)
		if (i != o->path_args[0] && i != o->path_args[1] &&
		    i != o->dashdash_arg)
			sargv[n++] = argv[i];
	sargv[n++] = "--";
	sargv[n++] = d->backing;
	sargv[n++] = d->mountpoint;
	sargv[n] = NULL;
	{
		const int close_fds[] = { d->report_fd, d->fs.itab.root.fd };
		const struct supervisor_args a = {
			.fuse_fd = fuse_session_fd(d->se),
			.state_fd = d->state.fd,
			.mountpoint = d->mountpoint,
			.mount_dev = d->fs.self_dev,
			.exe = exe,
			.argv = sargv,
			.close_fds = close_fds,
			.nclose = 2,
		};

		rc = supervisor_start(&a);
	}
	if (rc < 0) {
		bfs_log(LOG_WARNING, "restart=supervisor: cannot start the supervisor: %s; this mount is not restartable",
			strerror(-rc));
		return;
	}
	d->link = rc;
	d->holder = BFS_RESTART_SUPERVISOR;
}

/* Hand the mount to systemd's descriptor store (-o restart=systemd): the
 * /dev/fuse fd and the state's memfd, each under its name. The unit needs
 * FileDescriptorStoreMax=2 or more, else systemd drops them (and says so
 * in its log): then a restart mounts anew. */
static void store_in_service_manager(struct bfs_daemon *d)
{
	const int fuse_fd = fuse_session_fd(d->se);
	int rc;

	if (!can_restart(d, "systemd"))
		return;
	rc = service_notify(d->notify, "FDSTORE=1\nFDNAME=" SERVICE_STATE_FD_NAME,
			    &d->state.fd, 1);
	if (rc == 0)
		rc = service_notify(d->notify, "FDSTORE=1\nFDNAME=" SERVICE_FUSE_FD_NAME,
				    &fuse_fd, 1);
	if (rc) {
		bfs_log(LOG_WARNING, "restart=systemd: cannot store the mount's descriptors with systemd: %s; this mount is not restartable",
			strerror(-rc));
		return;
	}
	d->holder = BFS_RESTART_SYSTEMD;
}

/* In the process that serves (after the fork of fuse_daemonize), before
 * its first thread, which inherits what this one keeps. 0 or -errno. */
static int confine(struct bfs_daemon *d)
{
	int rc = fs_open_proc(&d->fs);

	if (rc == 0) {
		rc = privileges_drop(geteuid() == 0);
		if (rc)
			bfs_log(LOG_ERR, "cannot drop privileges: %s",
				strerror(-rc));
	}
	if (rc == 0) {
		rc = seccomp_filter_install(d->opts->seccomp);
		if (rc)
			bfs_log(LOG_ERR, "cannot install the seccomp filter: %s",
				strerror(-rc));
	}
	if (rc == 0)
		rc = session_loop_block_signals();
	return rc;
}

/* The direct-I/O path, the invalidator and the ring transport. 0 or
 * -errno. ring_wanted: asked before the mount (the kernel offers FUSE over
 * io_uring in INIT only if it is enabled when the mount is made). */
static int make_data_path(struct bfs_daemon *d, bool ring_wanted)
{
	unsigned qd = d->opts->queue_depth;
	unsigned ring_bufs = ring_wanted ? ring_transport_buffers(qd) : 0;
	int rc = dio_init(&d->dio, qd, d->threads, d->fs.min_align, ring_bufs);

	if (rc == 0)
		rc = invalidator_start(&d->inval, d->se, d->fs.self_dev);
	if (rc == 0) {
		d->dio.inval = &d->inval;
		if (ring_bufs) {
			d->ring = ring_transport_setup(d->se, &d->dio, qd,
						       d->threads);
			if (!d->ring)
				rc = -ENOMEM;
		} else if (!d->opts->single_thread) {
			/* Without FUSE over io_uring: workers with a ring of
			 * their own, or (if it cannot be made) blocking ones. */
			d->dev_ring = dev_fuse_ring_setup(d->se, &d->dio,
							  SESSION_IO_WORKERS,
							  d->threads);
		}
	}
	if (rc == -ENOMEM || rc == -EAGAIN) {
		unsigned count;
		size_t each, total = dio_pool_bytes(qd, d->threads,
						    d->fs.min_align, ring_bufs,
						    &count, &each);

		/* Pinned for io_uring: the address-space limit, a memory
		 * cgroup or (without CAP_IPC_LOCK) RLIMIT_MEMLOCK must allow
		 * it. */
		bfs_log(LOG_ERR, "cannot set up direct I/O: %s: the staging pool needs %zu MiB (%u buffers of %zu KiB; fewer with a smaller queue_depth or max_threads), pinned in memory: check ulimit -v and -l and the memory cgroup",
			strerror(-rc), total >> 20, count, each >> 10);
	} else if (rc) {
		bfs_log(LOG_ERR, "cannot set up direct I/O: %s", strerror(-rc));
	}
	return rc;
}

/* Is our mount still at the mountpoint? */
static bool still_mounted(const struct bfs_daemon *d)
{
	dev_t dev;

	return d->fs.self_dev && d->mountpoint[0] &&
	       mountinfo_dev_at(d->mountpoint, "fuse.bouncefs", &dev) == 0 &&
	       dev == d->fs.self_dev;
}

/* Undo what was made, in reverse order. Every I/O in flight is answered
 * before the mount goes: first the writes waiting for their invalidations
 * (which the ring's queue threads may be waiting for). Returns false if
 * the mount could not be undone (it is still there). */
static bool daemon_teardown(struct bfs_daemon *d)
{
	bool unmounted = true;

	/* On purpose: the supervisor starts no successor; systemd lets go of
	 * the descriptors, so that its next start mounts anew. */
	supervisor_tell(d->link, SUPERVISOR_ENDING);
	if (d->holder == BFS_RESTART_SYSTEMD) {
		service_notify(d->notify, "STOPPING=1", NULL, 0);
		service_drop_stored(d->notify);
	}
	metrics_file_stop();
	invalidator_stop(&d->inval);
	ring_transport_stop(d->ring);
	/* (its rings hold the pool's buffers registered) */
	dev_fuse_ring_free(d->dev_ring);
	d->dev_ring = NULL;
	dio_destroy(&d->dio);
	ring_transport_free(d->ring);
	d->ring = NULL;
	if (d->mounted) {
		/* (A successor's session knows no mountpoint: it was given
		 * the descriptor.) */
		fuse_session_unmount(d->se);
		if (d->successor && still_mounted(d))
			umount2(d->mountpoint, MNT_DETACH);
		unmounted = !still_mounted(d);
	}
	d->mounted = false;
	/* (The files still open let their backing files go with it.) */
	atomic_store(&d->fs.passthrough, false);
	d->fs.fuse_fd = -1;
	if (d->se)
		fuse_session_destroy(d->se);
	d->se = NULL;
	if (d->fs_made) {
		ops_close_all(&d->fs);
		fs_destroy(&d->fs);
	}
	d->fs_made = false;
	if (d->state_made)
		restart_state_close(&d->state);
	d->state_made = false;
	return unmounted;
}

/* A successor, before it serves: the opens the kernel holds reopened,
 * then every request the dead daemon had read and not answered sent
 * again. 0 or -errno. */
static int take_over(struct bfs_daemon *d)
{
	unsigned lost = ops_restore_opens(&d->fs, &d->state);
	int rc;

	if (lost)
		bfs_log(LOG_WARNING, "%u open files or directories of the dead daemon could not be reopened (deleted while open?): their I/O fails with EBADF",
			lost);
	rc = device_io_resend(d->se);
	if (rc) {
		/* Nothing could answer what was in flight: errors, not an
		 * endless wait. */
		bfs_log(LOG_ERR, "cannot take over %s: the kernel does not resend what the dead daemon had read (%s); aborting the connection",
			d->mountpoint, strerror(-rc));
		fusectl_abort(d->fs.self_dev);
		return rc;
	}
	bfs_log(LOG_INFO, "took over %s from a dead daemon", d->mountpoint);
	return 0;
}

int daemon_run(struct bfs_daemon *d, const struct bfs_options *opts,
	       const char *backing, char **argv)
{
	enum bfs_restart_mode restart;
	bool ring_wanted;
	int rc;

	d->opts = opts;
	d->report_fd = -1;
	d->null_fd = -1;
	d->successor = opts->successor_fds[0] >= 0;
	d->link = d->successor ? opts->successor_fds[2] : -1;
	d->notify = -1;
	d->holder = !d->successor ? BFS_RESTART_OFF :
		    d->link >= 0 ? BFS_RESTART_SUPERVISOR : BFS_RESTART_SYSTEMD;
	snprintf(d->backing, sizeof(d->backing), "%s", backing);
	rc = log_configure(opts->log_target, opts->log_file, opts->log_level,
			   !opts->foreground);
	if (rc) {
		bfs_log_startup("cannot open the log file '%s': %s",
				opts->log_file, strerror(-rc));
		return BFS_EXIT_BAD_VALUE;
	}
	/* (Connected now: the seccomp filter allows no such socket later.) */
	if (opts->restart == BFS_RESTART_SYSTEMD) {
		d->notify = service_notify_open();
		if (d->notify < 0) {
			bfs_log_startup("restart=systemd: %s",
					d->notify == -ENOENT ?
					"not started by systemd (no NOTIFY_SOCKET): run bouncefs -f as a Type=notify service with FileDescriptorStoreMax=2 (docs/restart.md), or use restart=supervisor" :
					strerror(-d->notify));
			return BFS_EXIT_BAD_VALUE;
		}
	}
	rc = make_fs(d);
	if (rc != BFS_EXIT_OK)
		return rc;
	/* A restartable mount serves over /dev/fuse: a dead daemon's ring
	 * requests are not resent (docs/restart.md). So a successor never
	 * serves by the ring (its predecessor did not), restart=auto is the
	 * supervisor only where no ring serves, and the other holders go
	 * without it. */
	restart = opts->restart;
	ring_wanted = !d->successor && !opts->single_thread &&
		      (restart == BFS_RESTART_OFF ||
		       restart == BFS_RESTART_AUTO) &&
		      ring_transport_wanted(opts->uring);
	if (restart == BFS_RESTART_AUTO)
		restart = ring_wanted || !supervisor_kernel_resends() ?
				  BFS_RESTART_OFF : BFS_RESTART_SUPERVISOR;
	rc = make_mount(d, argv[0]);
	if (rc != BFS_EXIT_OK)
		goto out;
	/* Detached, the command returns only once the mount serves (the
	 * first INIT answered), or has failed and is gone: what can fail
	 * after this (the staging buffers, their pinning, the rings) is
	 * reported back. */
	if (!opts->foreground && !d->successor) {
		d->null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		rc = detach_fork(opts->mountpoint, d->fs.self_dev);
		if (rc < 0) {
			bfs_log_startup("cannot detach: %s", strerror(-rc));
			rc = BFS_EXIT_FAILURE;
			goto out;
		}
		d->report_fd = rc;
	}
	d->threads = opts->single_thread ? 1 : opts->max_threads;
	if (restart == BFS_RESTART_SUPERVISOR && !d->successor)
		start_supervisor(d, argv);
	else if (restart == BFS_RESTART_SYSTEMD && !d->successor)
		store_in_service_manager(d);
	/* Threads only now: after the fork of fuse_daemonize. */
	rc = confine(d);
	if (rc == 0)
		rc = make_data_path(d, ring_wanted);
	if (rc == 0) {
		const struct stats_config config = {
			.queue_depth = opts->queue_depth,
			.max_write = opts->max_write,
			.max_threads = opts->max_threads,
			.uring_mode = opts->uring,
			.seccomp_mode = opts->seccomp,
			.passthrough = opts->passthrough,
			.staging_align = d->fs.min_align,
			.attr_timeout_ms = (uint64_t)(opts->attr_timeout * 1000 + 0.5),
			.entry_timeout_ms = (uint64_t)(opts->entry_timeout * 1000 + 0.5),
			/* (who holds it: off if this mount cannot restart) */
			.restart = d->holder,
		};

		stats_set_config(&config);
		stats_start();
		if (opts->metrics_file[0]) {
			rc = metrics_file_start(opts->metrics_file,
						opts->metrics_interval,
						opts->mountpoint);
			if (rc)
				bfs_log(LOG_ERR, "cannot write the metrics file '%s': %s",
					opts->metrics_file, strerror(-rc));
		}
	}
	if (rc == 0) {
		const struct session_buffers bufs = {
			.ctx = &d->dio,
			.next = dio_recv_next,
			.done = dio_recv_done,
		};

		bfs_log(LOG_INFO, "%s %s at %s; messages go to %s (level %s)",
			d->successor ? "serving" : "mounted", d->backing,
			opts->mountpoint, log_where(),
			log_level_name(opts->log_level));
		if (log_lost())
			bfs_log(LOG_WARNING, "no syslog here (no /dev/log): messages after the start-up are lost; use -o log=FILE or log=stderr");
		if (d->probe_line[0])
			bfs_log(LOG_INFO, "%s", d->probe_line);
		if (opts->foreground || d->successor)
			log_started();
		if (d->successor)
			rc = take_over(d);
		if (rc == 0) {
			supervisor_tell(d->link, SUPERVISOR_SERVING);
			service_notify(d->notify, "READY=1", NULL, 0);
			rc = session_loop_run(d->se, d->threads, &bufs, d->dev_ring);
		}
	}
	/* An unmount that ends the connection while a worker's read of
	 * /dev/fuse is taking a request fails that read with ECONNABORTED,
	 * as an abort through /sys/fs/fuse/connections does (fs/fuse/dev.c:
	 * the request was dequeued, then the processing queue disconnected).
	 * With the mount gone, it was an unmount, and no error. */
	if (rc == -ECONNABORTED && !still_mounted(d)) {
		bfs_log(LOG_INFO, "the connection ended while a request was being read: unmounted");
		rc = 0;
	}
	if (rc)
		bfs_log(LOG_ERR, "stopped on an error: %s", strerror(-rc));
	if (!daemon_teardown(d)) {
		bfs_log(LOG_ERR, "cannot unmount %s: it is still mounted (umount it)",
			opts->mountpoint);
		report_once(d, BFS_EXIT_FAILURE);
		return BFS_EXIT_FAILURE;
	}
	bfs_log(LOG_INFO, "unmounted %s", opts->mountpoint);
	/* Ended before it served: the command fails, with nothing mounted. */
	report_once(d, BFS_EXIT_FAILURE);
	return rc ? BFS_EXIT_FAILURE : BFS_EXIT_OK;
out:
	daemon_teardown(d);
	report_once(d, rc);
	return rc;
}
