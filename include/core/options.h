/* Command-line parsing and validation for bouncefs. Pure logic: no mounting. */
#ifndef BOUNCEFS_OPTIONS_H
#define BOUNCEFS_OPTIONS_H

#include "core/log.h"

#include <stdbool.h>
#include <stddef.h>

/* Exit statuses. Each kind of bad input has its own. */
enum bfs_exit {
	BFS_EXIT_OK = 0,
	BFS_EXIT_FAILURE = 1,        /* mount failed or a runtime error */
	BFS_EXIT_USAGE = 2,          /* bad command line: flags, argument count */
	BFS_EXIT_UNKNOWN_OPTION = 3, /* unknown -o option */
	BFS_EXIT_BAD_VALUE = 4,      /* malformed or out-of-range -o value */
	BFS_EXIT_BAD_BACKING = 5,    /* backing dir missing or not a directory */
	BFS_EXIT_BAD_MOUNTPOINT = 6, /* mountpoint missing */
	BFS_EXIT_OVERLAP = 7,        /* backing dir and mountpoint overlap */
	BFS_EXIT_BUSY = 8,           /* mountpoint already has a bouncefs mount */
};

#define BFS_DEFAULT_MAX_WRITE (1u << 20)
#define BFS_DEFAULT_QUEUE_DEPTH 64u
#define BFS_DEFAULT_MAX_THREADS 16u
#define BFS_DEFAULT_TIMEOUT 1.0
#define BFS_DEFAULT_METRICS_INTERVAL 15u

#define BFS_FUSE_OPTS_MAX 4096

/* FUSE over io_uring (-o uring=). */
enum bfs_uring_mode {
	BFS_URING_OFF,   /* /dev/fuse only */
	BFS_URING_AUTO,  /* when the kernel has it enabled */
	BFS_URING_ON,    /* enable it (fuse.enable_uring) when the kernel has it */
	BFS_URING_MODES
};

/* The daemon's options given on the command line, as bits of
 * bfs_options.given (a remount compares them with the running mount's;
 * restart=auto sets none). */
enum bfs_given {
	BFS_GIVEN_MAX_WRITE = 1u << 0,
	BFS_GIVEN_QUEUE_DEPTH = 1u << 1,
	BFS_GIVEN_MAX_THREADS = 1u << 2,
	BFS_GIVEN_URING = 1u << 3,
	BFS_GIVEN_SECCOMP = 1u << 4,
	BFS_GIVEN_ATTR_TIMEOUT = 1u << 5,
	BFS_GIVEN_ENTRY_TIMEOUT = 1u << 6,
	BFS_GIVEN_PASSTHROUGH = 1u << 7,
	BFS_GIVEN_RESTART = 1u << 8,
};

/* The system-call filter installed once mounted (-o seccomp=). */
enum bfs_seccomp_mode {
	BFS_SECCOMP_KILL,  /* a call outside the allow-list kills the daemon */
	BFS_SECCOMP_LOG,   /* it is allowed and logged by the kernel */
	BFS_SECCOMP_NONE,  /* no filter */
	BFS_SECCOMP_MODES
};

/* Who holds the mount so that a dead daemon's successor can serve it
 * (-o restart=, docs/restart.md). */
enum bfs_restart_mode {
	BFS_RESTART_OFF,         /* nobody: the mount dies with the daemon */
	BFS_RESTART_SUPERVISOR,  /* a supervisor process of ours */
	BFS_RESTART_SYSTEMD,     /* systemd's file-descriptor store (a
				    Type=notify service, FDSTORE=1) */
	BFS_RESTART_AUTO,        /* the default: the supervisor where the
				    mount serves over /dev/fuse anyway (no
				    FUSE over io_uring) and the kernel
				    resends (6.9+), else off */
	BFS_RESTART_MODES
};

/* The -o words of each mode, indexed by it (also how stat, remount and
 * the metrics name them). */
extern const char *const bfs_uring_names[BFS_URING_MODES];
extern const char *const bfs_seccomp_names[BFS_SECCOMP_MODES];
extern const char *const bfs_restart_names[BFS_RESTART_MODES];

struct bfs_options {
	const char *backing_dir;  /* as given */
	const char *mountpoint;   /* as given */
	bool foreground;
	bool debug;
	bool single_thread;
	bool show_help;
	bool show_version;
	bool probe;               /* --probe PATH */
	bool takeover;            /* --takeover MOUNTPOINT (in mountpoint) */
	bool json;                /* --json (with --probe) */
	bool allow_other;         /* explicitly asked for */
	bool ro;
	unsigned max_write;       /* bytes, multiple of 4096 */
	unsigned max_read;        /* bytes, or 0 for the kernel's default */
	unsigned queue_depth;     /* direct-I/O requests in flight */
	unsigned max_threads;     /* worker threads at most */
	enum bfs_uring_mode uring;
	enum bfs_seccomp_mode seccomp;
	bool passthrough;         /* buffered opens by FUSE passthrough */
	enum bfs_restart_mode restart;
	/* --successor=FUSE_FD,STATE_FD,LINK_FD: started by the supervisor to
	 * serve a dead daemon's mount (the fds inherited); -1 otherwise. */
	int successor_fds[3];
	/* Where argv held the two paths and "--" (-1: nowhere), so that the
	 * supervisor can give a successor the same options with the paths
	 * made absolute. */
	int path_args[2], dashdash_arg;
	double attr_timeout;      /* seconds */
	double entry_timeout;     /* seconds */
	unsigned given;           /* enum bfs_given bits */
	bool remount;             /* -o remount: change a running mount's flags */
	bool sloppy;              /* ignore unknown -o options (mount -s) */
	/* The per-mount flags (MS_*) the options name, set and cleared: what
	 * a remount applies to the mount's present flags. */
	unsigned long mnt_set, mnt_clear;
	bool mnt_atime_named;     /* an access-time option was given */
	/* The first of the kernel's own FUSE options (user_id=, group_id=,
	 * rootmode=, fd=) given: mount(8) hands them back on a remount,
	 * from mountinfo; refused otherwise. */
	char kernel_opt[16];
	enum log_target log_target; /* -o log= */
	char log_file[1024];      /* -o log=FILE: absolute */
	int log_level;            /* syslog priority: LOG_ERR .. LOG_DEBUG */
	char metrics_file[1024];  /* -o metrics=FILE: absolute, or "" */
	unsigned metrics_interval; /* seconds between its rewrites */
	/* Comma-separated FUSE options handed to libfuse (mount and session). */
	char fuse_opts[BFS_FUSE_OPTS_MAX];
};

/* Write a one-line message (printf's fmt) into err and return code: how
 * each check of the command line, here and in its other steps (remount,
 * the mount helper), fails. */
int options_fail(char *err, size_t errlen, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Fill in the defaults. */
void options_init(struct bfs_options *o);

/*
 * Parse argv (argv[0] is the program name). Returns BFS_EXIT_OK or one of
 * the bfs_exit codes, with a one-line message in err.
 */
int options_parse(struct bfs_options *o, int argc, char **argv,
		  char *err, size_t errlen);

/*
 * Parse one comma-separated -o list into o. Exposed for the tests.
 */
int options_parse_o(struct bfs_options *o, const char *list,
		    char *err, size_t errlen);

/*
 * Check the two directories on the file system: existence, type and
 * overlap. Returns BFS_EXIT_OK or a bfs_exit code with a message.
 */
int options_check_paths(const struct bfs_options *o, char *err, size_t errlen);

/*
 * Is the mountpoint already the root of a bouncefs mount? mountinfo is the
 * text of /proc/self/mountinfo. Returns BFS_EXIT_OK or BFS_EXIT_BUSY.
 */
int options_check_not_mounted(const char *mountpoint, const char *mountinfo,
			      char *err, size_t errlen);

/* The --help text. */
void options_print_help(const char *prog);

#endif
