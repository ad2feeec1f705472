/* Command-line parsing and validation. */
#include "core/options.h"
#include "core/mountinfo.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <syslog.h>

/* FUSE options that libfuse handles; handed through as they are. */
static const char *const fuse_flag_opts[] = {
	"allow_other", "allow_root", "auto_unmount", "default_permissions",
	"ro", "rw", "dev", "nodev", "suid", "nosuid", "exec", "noexec",
	"atime", "noatime", "relatime", "sync", "async", "dirsync", "debug",
	NULL,
};

/*
 * mount(8)'s file-system-independent access-time options that libfuse
 * refuses: accepted and left alone. Over FUSE the kernel updates no access
 * time itself (the backing file system keeps its own), so they would
 * change nothing; refusing them broke fstab lines such as
 * "defaults,noatime,nodiratime".
 */
static const char *const atime_opts[] = {
	"diratime", "nodiratime", "norelatime", "strictatime",
	"nostrictatime", "lazytime", "nolazytime", NULL,
};

/* FUSE options that take a value. */
static const char *const fuse_value_opts[] = {
	"fsname", "max_read", "context", "fscontext", "defcontext",
	"rootcontext", NULL,
};

/* Options of mount(8), fstab and systemd that do not concern the daemon,
 * and take no value. */
static const char *const ignored_opts[] = {
	"defaults", "auto", "noauto", "nofail", "_netdev", "nouser", "users",
	"owner", "group", NULL,
};

/* The kernel's FUSE options, which libfuse sets: mountinfo shows them,
 * and mount(8) passes them back on a remount. */
static const char *const kernel_opts[] = {
	"user_id", "group_id", "rootmode", "fd", NULL,
};

/* ... and those that may take one ("user=NAME" is what mount(8) hands a
 * helper for a user mount). */
static const char *const ignored_value_opts[] = {
	"user", "comment", NULL,
};

/* The per-mount flags each option sets and clears: what a remount
 * changes (remount.c). The others stay as the mount has them. */
static const struct {
	const char *name;
	unsigned long set, clear;
	bool atime;
} mnt_flag_opts[] = {
	{ "ro", MS_RDONLY, 0, false },
	{ "rw", 0, MS_RDONLY, false },
	{ "nosuid", MS_NOSUID, 0, false },
	{ "suid", 0, MS_NOSUID, false },
	{ "nodev", MS_NODEV, 0, false },
	{ "dev", 0, MS_NODEV, false },
	{ "noexec", MS_NOEXEC, 0, false },
	{ "exec", 0, MS_NOEXEC, false },
	{ "sync", MS_SYNCHRONOUS, 0, false },
	{ "async", 0, MS_SYNCHRONOUS, false },
	{ "dirsync", MS_DIRSYNC, 0, false },
	{ "lazytime", MS_LAZYTIME, 0, false },
	{ "nolazytime", 0, MS_LAZYTIME, false },
	{ "noatime", MS_NOATIME, MS_RELATIME | MS_STRICTATIME, true },
	{ "atime", 0, MS_NOATIME, true },
	{ "relatime", MS_RELATIME, MS_NOATIME | MS_STRICTATIME, true },
	{ "norelatime", 0, MS_RELATIME, true },
	{ "strictatime", MS_STRICTATIME, MS_NOATIME | MS_RELATIME, true },
	{ "nostrictatime", 0, MS_STRICTATIME, true },
	{ "nodiratime", MS_NODIRATIME, 0, true },
	{ "diratime", 0, MS_NODIRATIME, true },
};

static void note_mnt_flag(struct bfs_options *o, const char *name)
{
	for (size_t i = 0; i < sizeof(mnt_flag_opts) / sizeof(mnt_flag_opts[0]); i++) {
		if (strcmp(mnt_flag_opts[i].name, name) != 0)
			continue;
		o->mnt_set = (o->mnt_set & ~mnt_flag_opts[i].clear) |
			     mnt_flag_opts[i].set;
		o->mnt_clear = (o->mnt_clear & ~mnt_flag_opts[i].set) |
			       mnt_flag_opts[i].clear;
		o->mnt_atime_named |= mnt_flag_opts[i].atime;
	}
}

int options_fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return code;
}

const char *const bfs_uring_names[BFS_URING_MODES] = {
	[BFS_URING_OFF] = "off", [BFS_URING_AUTO] = "auto", [BFS_URING_ON] = "on",
};

const char *const bfs_restart_names[BFS_RESTART_MODES] = {
	[BFS_RESTART_OFF] = "off", [BFS_RESTART_SUPERVISOR] = "supervisor",
	[BFS_RESTART_SYSTEMD] = "systemd", [BFS_RESTART_AUTO] = "auto",
};

const char *const bfs_seccomp_names[BFS_SECCOMP_MODES] = {
	[BFS_SECCOMP_KILL] = "kill", [BFS_SECCOMP_LOG] = "log",
	[BFS_SECCOMP_NONE] = "none",
};

void options_init(struct bfs_options *o)
{
	memset(o, 0, sizeof(*o));
	o->max_write = BFS_DEFAULT_MAX_WRITE;
	o->queue_depth = BFS_DEFAULT_QUEUE_DEPTH;
	o->max_threads = BFS_DEFAULT_MAX_THREADS;
	o->uring = BFS_URING_ON;
	o->seccomp = BFS_SECCOMP_KILL;
	o->passthrough = true;
	o->restart = BFS_RESTART_AUTO;
	o->attr_timeout = BFS_DEFAULT_TIMEOUT;
	o->entry_timeout = BFS_DEFAULT_TIMEOUT;
	o->log_level = LOG_INFO;
	o->metrics_interval = BFS_DEFAULT_METRICS_INTERVAL;
	for (int i = 0; i < 3; i++)
		o->successor_fds[i] = -1;
	o->path_args[0] = o->path_args[1] = o->dashdash_arg = -1;
}

/* --successor=F,S,L: three fds above 2. */
static bool parse_successor(struct bfs_options *o, const char *val)
{
	int f, s, l, used = 0;

	if (sscanf(val, "%d,%d,%d%n", &f, &s, &l, &used) != 3 ||
	    val[used] != '\0' || f < 3 || s < 3 || l < 3)
		return false;
	o->successor_fds[0] = f;
	o->successor_fds[1] = s;
	o->successor_fds[2] = l;
	return true;
}

static bool in_list(const char *const *list, const char *name)
{
	for (; *list; list++)
		if (strcmp(*list, name) == 0)
			return true;
	return false;
}

/* A whole number with an optional binary suffix k, m or g. */
static bool parse_size(const char *s, unsigned long long *out)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return false;
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	default: break;
	}
	if (*end || v > UINT_MAX)
		return false;
	*out = v;
	return true;
}

static bool parse_seconds(const char *s, double *out)
{
	char *end;
	double v;

	if (!*s)
		return false;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v) || v < 0)
		return false;
	*out = v;
	return true;
}

static int append_fuse_opt(struct bfs_options *o, const char *opt,
			   char *err, size_t errlen)
{
	size_t used = strlen(o->fuse_opts);
	size_t need = strlen(opt) + (used ? 1 : 0);

	if (used + need + 1 > sizeof(o->fuse_opts))
		return options_fail(err, errlen, BFS_EXIT_BAD_VALUE,
			    "too many mount options");
	if (used)
		o->fuse_opts[used++] = ',';
	strcpy(o->fuse_opts + used, opt);
	return BFS_EXIT_OK;
}

/* The index of val among words (an option's keyword values; NULL ones
 * are gaps), or -1. */
static int keyword(const char *val, const char *const words[], size_t n)
{
	for (size_t i = 0; val && i < n; i++)
		if (words[i] && strcmp(val, words[i]) == 0)
			return (int)i;
	return -1;
}

static int parse_one(struct bfs_options *o, const char *opt,
		     char *err, size_t errlen)
{
	char name[64];
	const char *eq = strchr(opt, '=');
	const char *val = eq ? eq + 1 : NULL;
	size_t nlen = eq ? (size_t)(eq - opt) : strlen(opt);
	unsigned long long n;

	if (nlen == 0)
		return options_fail(err, errlen, BFS_EXIT_UNKNOWN_OPTION,
			    "unknown mount option '%s'", opt);
	if (nlen >= sizeof(name))
		return options_fail(err, errlen, BFS_EXIT_UNKNOWN_OPTION,
			    "unknown mount option '%.40s...'", opt);
	memcpy(name, opt, nlen);
	name[nlen] = '\0';

	if (strncmp(name, "x-", 2) == 0 || in_list(ignored_value_opts, name))
		return BFS_EXIT_OK;
	if (in_list(ignored_opts, name) || in_list(atime_opts, name) ||
	    strcmp(name, "remount") == 0) {
		if (val)
			return options_fail(err, errlen, BFS_EXIT_BAD_VALUE,
				    "mount option '%s' takes no value", name);
		note_mnt_flag(o, name);
		if (strcmp(name, "remount") == 0)
			o->remount = true;
		return BFS_EXIT_OK;
	}
	if (in_list(kernel_opts, name)) {
		if (!o->kernel_opt[0])
			snprintf(o->kernel_opt, sizeof(o->kernel_opt), "%.15s", name);
		return BFS_EXIT_OK;
	}
	if (strcmp(name, "log") == 0) {
		static const char *const targets[] = {
			[LOG_TARGET_SYSLOG] = "syslog",
			[LOG_TARGET_STDERR] = "stderr",
		};
		int k = keyword(val, targets, sizeof(targets) / sizeof(targets[0]));

		if (k > 0) {
			o->log_target = (enum log_target)k;
			return BFS_EXIT_OK;
		}
		if (!val || val[0] != '/' || strlen(val) >= sizeof(o->log_file))
			return options_fail(err, errlen, BFS_EXIT_BAD_VALUE,
				    "bad value for log: '%s' (want syslog, stderr or an absolute FILE)",
				    val ? val : "");
		o->log_target = LOG_TARGET_FILE;
		strcpy(o->log_file, val);
		return BFS_EXIT_OK;
	}
	if (strcmp(name, "metrics") == 0) {
		if (!val || val[0] != '/' || strlen(val) >= sizeof(o->metrics_file) - 8 ||
		    val[strlen(val) - 1] == '/')
			return options_fail(err, errlen, BFS_EXIT_BAD_VALUE,
				    "bad value for metrics: '%s' (want an absolute FILE)",
				    val ? val : "");
		strcpy(o->metrics_file, val);
		return BFS_EXIT_OK;
	}
	if (strcmp(name, "metrics_interval") == 0) {
		if (!val || !parse_size(val, &n) || n < 1 || n > 3600)
			return options_fail(err, errlen, BFS_EXIT_BAD_VALUE,
				    "bad value for metrics_interval: '%s' (want 1 to 3600 seconds)",
				    val ? val : "");
		o->metrics_interval = (unsigned)n;
		return BFS_EXIT_OK;
	}
	if (strcmp(name, "log_level") == 0) {
		static const char *const levels[] = {
			[LOG_ERR] = "error", [LOG_WARNING] = "warn",
			[LOG_INFO] = "info", [LOG_DEBUG] = "debug",
		};
		int k = keyword(val, levels, sizeof(levels) / sizeof(levels[0]));

		if (k < 0 || !levels[k])
			return options_fail(err, errlen, BFS_EXIT_BAD_VALUE,
				    "bad value for log_level: '%s' (want error, warn, info or debug)",
				    val ? val : "");
		o->log_level = k;
		return BFS_EXIT_OK;
	}
	if (strcmp(name, "subtype") == 0)
		return options_fail(err, errlen, BFS_EXIT_BAD_VALUE,
			    "mount option 'subtype' is not for bouncefs: its mounts are always of type fuse.bouncefs");
	if (strcmp(name, "blksize") == 0)
		return options_fail(err, errlen, BFS_EXIT_BAD_VALUE,
			    "mount option 'blksize' is for FUSE block-device mounts (fuseblk); bouncefs mounts a directory");

	if (strcmp(name, "max_write") == 0) {
		if (!val || !parse_size(val, &n) || n < 4096 || n > (1u << 20) ||
		    n % 4096)
			return options_fail(err, errlen, BFS_EXIT_BAD_VALUE,
				    "bad value for max_write: '%s' (want a multiple of 4096 from 4096 to 1M)",
				    val ? val : "");
		o->max_write = (unsigned)n;
		o->given |= BFS_GIVEN_MAX_WRITE;
		return BFS_EXIT_OK;
	}
	if (strcmp(name, "queue_depth") == 0) {
		if (!val || !parse_size(val, &n) || n < 1 || n > 4096)
			return options_fail(err, errlen, BFS_EXIT_BAD_VALUE,
				    "bad value for queue_depth: '%s' (want 1 to 4096)",
				    val ? val : "");
		o->queue_depth = (unsigned)n;
		o->given |= BFS_GIVEN_QUEUE_DEPTH;
		return BFS_EXIT_OK;
	}
	if (strcmp(name, "passthrough") == 0) {
		bool on = val && strcmp(val, "on") == 0;

		if (!val || (!on && strcmp(val, "off") != 0))
			return options_fail(err, errlen, BFS_EXIT_BAD_VALUE,
				    "bad value for passthrough: '%s' (want on or off)",
				    val ? val : "");
		o->passthrough = on;
		o->given |= BFS_GIVEN_PASSTHROUGH;
		return BFS_EXIT_OK;
	}
	if (strcmp(name, "restart") == 0) {
		int k = keyword(val, bfs_restart_names, BFS_RESTART_MODES);

		if (k < 0)
			return options_fail(err, errlen, BFS_EXIT_BAD_VALUE,
				    "bad value for restart: '%s' (want auto, supervisor, systemd or off)",
				    val ? val : "");
		o->restart = (enum bfs_restart_mode)k;
		/* (auto is whatever the mount made of it: nothing a remount
		 * could compare) */
		if (o->restart == BFS_RESTART_AUTO)
			o->given &= ~(unsigned)BFS_GIVEN_RESTART;
		else
			o->given |= BFS_GIVEN_RESTART;
		return BFS_EXIT_OK;
	}
	if (strcmp(name, "uring") == 0) {
		int k = keyword(val, bfs_uring_names, BFS_URING_MODES);

		if (k < 0)
			return options_fail(err, errlen, BFS_EXIT_BAD_VALUE,
				    "bad value for uring: '%s' (want on, auto or off)",
				    val ? val : "");
		o->uring = (enum bfs_uring_mode)k;
		o->given |= BFS_GIVEN_URING;
		return BFS_EXIT_OK;
	}
	if (strcmp(name, "seccomp") == 0) {
		int k = keyword(val, bfs_seccomp_names, BFS_SECCOMP_MODES);

		if (k < 0)
			return options_fail(err, errlen, BFS_EXIT_BAD_VALUE,
				    "bad value for seccomp: '%s' (want kill, log or none)",
				    val ? val : "");
		o->seccomp = (enum bfs_seccomp_mode)k;
		o->given |= BFS_GIVEN_SECCOMP;
		return BFS_EXIT_OK;
	}
	if (strcmp(name, "max_threads") == 0) {
		if (!val || !parse_size(val, &n) || n < 1 || n > 1024)
			return options_fail(err, errlen, BFS_EXIT_BAD_VALUE,
				    "bad value for max_threads: '%s' (want 1 to 1024)",
				    val ? val : "");
		o->max_threads = (unsigned)n;
		o->given |= BFS_GIVEN_MAX_THREADS;
		return BFS_EXIT_OK;
	}
	if (strcmp(name, "attr_timeout") == 0 ||
	    strcmp(name, "entry_timeout") == 0 || strcmp(name, "timeout") == 0) {
		double s;

		if (!val || !parse_seconds(val, &s))
			return options_fail(err, errlen, BFS_EXIT_BAD_VALUE,
				    "bad value for %s: '%s' (want seconds, 0 or more)",
				    name, val ? val : "");
		if (name[0] != 'e') {
			o->attr_timeout = s;
			o->given |= BFS_GIVEN_ATTR_TIMEOUT;
		}
		if (name[0] != 'a') {
			o->entry_timeout = s;
			o->given |= BFS_GIVEN_ENTRY_TIMEOUT;
		}
		return BFS_EXIT_OK;
	}

	if (in_list(fuse_flag_opts, name)) {
		if (val)
			return options_fail(err, errlen, BFS_EXIT_BAD_VALUE,
				    "mount option '%s' takes no value", name);
		note_mnt_flag(o, name);
		if (strcmp(name, "allow_other") == 0)
			o->allow_other = true;
		if (strcmp(name, "ro") == 0)
			o->ro = true;
		if (strcmp(name, "rw") == 0)
			o->ro = false;
		if (strcmp(name, "debug") == 0)
			o->debug = o->foreground = true;
		/* allow_other and default_permissions are added by the daemon. */
		if (strcmp(name, "allow_other") == 0 ||
		    strcmp(name, "default_permissions") == 0 ||
		    strcmp(name, "debug") == 0)
			return BFS_EXIT_OK;
		return append_fuse_opt(o, name, err, errlen);
	}
	if (in_list(fuse_value_opts, name)) {
		if (!val || !*val || strchr(val, ','))
			return options_fail(err, errlen, BFS_EXIT_BAD_VALUE,
				    "mount option '%s' needs a value", name);
		if (strcmp(name, "max_read") == 0) {
			if (!parse_size(val, &n) || n == 0)
				return options_fail(err, errlen, BFS_EXIT_BAD_VALUE,
					    "bad value for max_read: '%s' (want a positive number)",
					    val);
			/* Told to the kernel again at INIT (ops_table.c). */
			o->max_read = (unsigned)n;
		}
		return append_fuse_opt(o, opt, err, errlen);
	}
	if (o->sloppy)
		return BFS_EXIT_OK;   /* mount -s: tolerated */
	return options_fail(err, errlen, BFS_EXIT_UNKNOWN_OPTION,
		    "unknown mount option '%s'", name);
}

int options_parse_o(struct bfs_options *o, const char *list,
		    char *err, size_t errlen)
{
	char *copy = strdup(list);
	char *save = NULL, *tok;
	int rc = BFS_EXIT_OK;

	if (!copy)
		return options_fail(err, errlen, BFS_EXIT_FAILURE, "out of memory");
	for (tok = strtok_r(copy, ",", &save); tok && rc == BFS_EXIT_OK;
	     tok = strtok_r(NULL, ",", &save))
		rc = parse_one(o, tok, err, errlen);
	free(copy);
	return rc;
}

int options_parse(struct bfs_options *o, int argc, char **argv,
		  char *err, size_t errlen)
{
	int npos = 0;
	bool only_pos = false;
	int rc;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (only_pos || a[0] != '-' || a[1] == '\0') {
			if (npos < 2)
				o->path_args[npos] = i;
			if (npos == 0)
				o->backing_dir = a;
			else if (npos == 1)
				o->mountpoint = a;
			else
				return options_fail(err, errlen, BFS_EXIT_USAGE,
					    "too many arguments: '%s'", a);
			npos++;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			only_pos = true;
			o->dashdash_arg = i;
		} else if (strncmp(a, "--successor=", 12) == 0) {
			if (!parse_successor(o, a + 12))
				return options_fail(err, errlen, BFS_EXIT_USAGE,
					    "bad '%s' (--successor is given by bouncefs's supervisor: FUSE_FD,STATE_FD,LINK_FD)",
					    a);
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			o->show_help = true;
		} else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
			o->show_version = true;
		} else if (strcmp(a, "--probe") == 0) {
			o->probe = true;
		} else if (strcmp(a, "--takeover") == 0) {
			o->takeover = true;
		} else if (strcmp(a, "--json") == 0) {
			o->json = true;
		} else if (strcmp(a, "-f") == 0) {
			o->foreground = true;
		} else if (strcmp(a, "-d") == 0) {
			o->debug = o->foreground = true;
		} else if (strcmp(a, "-s") == 0) {
			o->single_thread = true;
		} else if (strncmp(a, "-o", 2) == 0) {
			const char *list = a + 2;

			if (!*list) {
				if (++i >= argc)
					return options_fail(err, errlen, BFS_EXIT_USAGE,
						    "option -o needs an argument");
				list = argv[i];
			}
			rc = options_parse_o(o, list, err, errlen);
			if (rc != BFS_EXIT_OK)
				return rc;
		} else {
			return options_fail(err, errlen, BFS_EXIT_USAGE,
				    "unknown option '%s' (try --help)", a);
		}
	}
	if (o->show_help || o->show_version)
		return BFS_EXIT_OK;
	if (o->kernel_opt[0] && !o->remount)
		return options_fail(err, errlen, BFS_EXIT_UNKNOWN_OPTION,
			    "mount option '%s' is set by FUSE itself (accepted only with remount)",
			    o->kernel_opt);
	if (o->json && !o->probe)
		return options_fail(err, errlen, BFS_EXIT_USAGE,
			    "--json goes with --probe (usage: bouncefs --probe [--json] PATH)");
	if (o->takeover) {
		if (npos != 1 || o->probe)
			return options_fail(err, errlen, BFS_EXIT_USAGE,
				    "--takeover takes one MOUNTPOINT (usage: bouncefs --takeover MOUNTPOINT)");
		o->mountpoint = o->backing_dir;
		o->backing_dir = NULL;
		return BFS_EXIT_OK;
	}
	if (o->probe) {
		if (npos != 1)
			return options_fail(err, errlen, BFS_EXIT_USAGE,
				    "--probe takes one PATH (usage: bouncefs --probe [--json] PATH)");
		return BFS_EXIT_OK;
	}
	if (npos < 2)
		return options_fail(err, errlen, BFS_EXIT_USAGE,
			    npos ? "missing MOUNTPOINT (usage: bouncefs [options] BACKING_DIR MOUNTPOINT)"
				 : "missing BACKING_DIR and MOUNTPOINT (usage: bouncefs [options] BACKING_DIR MOUNTPOINT)");
	/* systemd holds the descriptors of the process it started (its main
	 * PID): a detached daemon is another. */
	if (o->restart == BFS_RESTART_SYSTEMD && !o->foreground && !o->remount)
		return options_fail(err, errlen, BFS_EXIT_USAGE,
			    "restart=systemd needs -f (run bouncefs as a Type=notify service, in the foreground; docs/restart.md)");
	return BFS_EXIT_OK;
}

/* True if path is dir itself or lies below it; both are canonical. */
static bool path_within(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (strcmp(dir, "/") == 0)
		return true;
	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

int options_check_paths(const struct bfs_options *o, char *err, size_t errlen)
{
	char back[PATH_MAX], mnt[PATH_MAX];
	struct stat st;

	if (stat(o->backing_dir, &st) != 0)
		return options_fail(err, errlen, BFS_EXIT_BAD_BACKING,
			    "backing dir '%s': %s", o->backing_dir,
			    strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return options_fail(err, errlen, BFS_EXIT_BAD_BACKING,
			    "backing dir '%s' is not a directory",
			    o->backing_dir);
	/* ECONNABORTED: a dead mount's connection ended while we asked. */
	if (stat(o->mountpoint, &st) != 0 &&
	    (errno != ECONNABORTED || stat(o->mountpoint, &st) != 0))
		return options_fail(err, errlen, BFS_EXIT_BAD_MOUNTPOINT,
			    errno == ENOTCONN ?
			    "mountpoint '%s': %s (a dead mount is left there: umount it first)" :
			    "mountpoint '%s': %s", o->mountpoint,
			    strerror(errno));
	/* (A /dev/fd/N mountpoint is a /dev/fuse fd a parent mounted.) */
	if (!S_ISDIR(st.st_mode) &&
	    !(S_ISCHR(st.st_mode) && strncmp(o->mountpoint, "/dev/fd/", 8) == 0))
		return options_fail(err, errlen, BFS_EXIT_BAD_MOUNTPOINT,
			    "mountpoint '%s' is not a directory", o->mountpoint);
	if (!realpath(o->backing_dir, back))
		return options_fail(err, errlen, BFS_EXIT_BAD_BACKING,
			    "backing dir '%s': %s", o->backing_dir,
			    strerror(errno));
	if (!realpath(o->mountpoint, mnt))
		return options_fail(err, errlen, BFS_EXIT_BAD_MOUNTPOINT,
			    "mountpoint '%s': %s", o->mountpoint,
			    strerror(errno));
	if (strcmp(back, mnt) == 0)
		return options_fail(err, errlen, BFS_EXIT_OVERLAP,
			    "backing dir and mountpoint are the same directory '%s'",
			    back);
	if (path_within(back, mnt))
		return options_fail(err, errlen, BFS_EXIT_OVERLAP,
			    "backing dir '%s' lies inside the mountpoint '%s'",
			    back, mnt);
	if (path_within(mnt, back))
		return options_fail(err, errlen, BFS_EXIT_OVERLAP,
			    "mountpoint '%s' lies inside the backing dir '%s'; requests would loop back into the mount",
			    mnt, back);
	return BFS_EXIT_OK;
}

int options_check_not_mounted(const char *mountpoint, const char *mountinfo,
			      char *err, size_t errlen)
{
	dev_t dev;

	if (mountinfo_dev_of(mountinfo, mountpoint, "fuse.bouncefs", &dev) == 0)
		return options_fail(err, errlen, BFS_EXIT_BUSY,
			    "mountpoint '%s' is already a bouncefs mount",
			    mountpoint);
	return BFS_EXIT_OK;
}

void options_print_help(const char *prog)
{
	printf("usage: %s [options] BACKING_DIR MOUNTPOINT\n"
	       "       %s --probe [--json] PATH\n"
	       "       %s --takeover MOUNTPOINT\n"
	       "       %s stat [--json | --prometheus | --files | --reset] [--watch N]\n"
	       "            MOUNTPOINT\n"
	       "\n"
	       "Mount BACKING_DIR at MOUNTPOINT. Direct I/O is staged in the daemon's\n"
	       "own buffers, so the pages that reach a PI device never change in flight.\n"
	       "Linux 5.10 or later; FUSE over io_uring from 6.14 (older kernels lack\n"
	       "some features: the log says which, and what bouncefs does without).\n"
	       "\n"
	       "options:\n"
	       "    -h, --help             print this help and exit\n"
	       "    -V, --version          print the version and exit\n"
	       "    --probe PATH           report the storage under PATH: device chain,\n"
	       "                           block sizes, stable pages, integrity (PI),\n"
	       "                           the NVMe format, whether the kernel\n"
	       "                           bounces direct I/O by itself, and whether\n"
	       "                           bouncefs is needed there\n"
	       "    --json                 with --probe: one JSON object\n"
	       "    --takeover MOUNTPOINT  upgrade in place: the supervisor of a mount made\n"
	       "                           with restart=supervisor hands it to a new\n"
	       "                           daemon run from this program; applications\n"
	       "                           see no error\n"
	       "    --successor=<F,S,L>    (given by the supervisor only) take over a dead\n"
	       "                           daemon's mount from the descriptors F, S, L\n"
	       "    -f                     stay in the foreground\n"
	       "    -d                     debug output (implies -f)\n"
	       "    -s                     single-threaded\n"
	       "    -o opt[,opt...]        mount options:\n"
	       "\n"
	       "bouncefs options (-o):\n"
	       "    max_write=N            largest request in bytes, a multiple of 4096 (default 1M)\n"
	       "    queue_depth=N          direct-I/O requests in flight (default 64)\n"
	       "    max_threads=N          threads at most for requests that may wait\n"
	       "                           (default 16)\n"
	       "    uring=on|auto|off      FUSE over io_uring: on turns on the kernel's\n"
	       "                           fuse.enable_uring if needed (default on)\n"
	       "    passthrough=on|off     serve opens without O_DIRECT by FUSE passthrough\n"
	       "                           (Linux 6.9+): the backing file's own page cache,\n"
	       "                           at its speed (default on)\n"
	       "    restart=auto|supervisor|systemd|off\n"
	       "                           a supervisor process (or, run with -f as a\n"
	       "                           Type=notify service, systemd's descriptor\n"
	       "                           store) holds the mount, and a new daemon\n"
	       "                           takes it over when this one dies (Linux\n"
	       "                           6.9+; serves over /dev/fuse, not io_uring).\n"
	       "                           auto (the default): the supervisor unless\n"
	       "                           the mount serves by FUSE over io_uring\n"
	       "    seccomp=kill|log|none  system calls outside the daemon's allow-list:\n"
	       "                           kill the daemon, allow and log them, or no\n"
	       "                           filter at all (default kill)\n"
	       "    attr_timeout=S         seconds the kernel caches attributes (default 1)\n"
	       "    entry_timeout=S        seconds the kernel caches names (default 1)\n"
	       "    timeout=S              sets both timeouts\n"
	       "    log=syslog|stderr|FILE where messages go once started (default\n"
	       "                           syslog when detached, stderr with -f);\n"
	       "                           an absolute FILE is appended to\n"
	       "    metrics=FILE           keep the counters in FILE, in the Prometheus\n"
	       "                           text format (node_exporter's textfile\n"
	       "                           collector), rewritten every\n"
	       "    metrics_interval=N     N seconds (default 15)\n"
	       "    log_level=error|warn|info|debug\n"
	       "                           the least serious message written\n"
	       "                           (default info; debug: a line for every\n"
	       "                           failed request, none held back)\n"
	       "\n"
	       "FUSE and mount options (-o):\n"
	       "    allow_other            let other users in (default when run as root;\n"
	       "                           permissions are always checked by the kernel)\n"
	       "    default_permissions    accepted: always on (the kernel checks access)\n"
	       "    debug                  as -d\n"
	       "    context=, fscontext=, defcontext=, rootcontext=\n"
	       "                           SELinux labels, as for any mount\n"
	       "    allow_root, auto_unmount, ro, rw, [no]dev, [no]suid, [no]exec,\n"
	       "    [no]atime, relatime, sync, async, dirsync, fsname=, max_read=\n"
	       "                           as for any FUSE mount\n"
	       "    [no]diratime, [no]strictatime, norelatime, [no]lazytime\n"
	       "                           accepted and left alone: over FUSE the\n"
	       "                           backing file system keeps access times\n"
	       "    remount                change a running mount's flags: ro, rw,\n"
	       "                           [no]suid, [no]dev, [no]exec, access times,\n"
	       "                           sync, async, dirsync (mount -o remount);\n"
	       "                           bouncefs options cannot change\n"
	       "    user_id=, group_id=, rootmode=, fd=\n"
	       "                           the kernel's FUSE options, which FUSE sets:\n"
	       "                           accepted with remount only\n"
	       "    defaults, auto, noauto, nofail, _netdev, user, nouser, users,\n"
	       "    owner, group, comment=, x-*   ignored (fstab)\n"
	       "\n"
	       "stat options:\n"
	       "    --json                 one JSON object per sample\n"
	       "    --prometheus           the Prometheus text exposition format\n"
	       "    --files                the files with the most errors, then the\n"
	       "                           most direct I/O (root only)\n"
	       "    --reset                count from zero again (root only)\n"
	       "    --watch N              a sample every N seconds until interrupted\n"
	       "\n"
	       "exit status:\n"
	       "    0 success, 1 mount or runtime failure, 2 bad command line,\n"
	       "    3 unknown -o option, 4 malformed -o value,\n"
	       "    5 backing dir missing or not a directory, 6 mountpoint missing\n"
	       "    or not a directory,\n"
	       "    7 backing dir and mountpoint overlap,\n"
	       "    8 mountpoint already a bouncefs mount\n"
	       "    Run by mount(8) as mount.bouncefs or mount.fuse.bouncefs, its\n"
	       "    statuses instead: 0 success, 1 bad invocation, 32 mount failure.\n",
	       prog, prog, prog, prog);
}
