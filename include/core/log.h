/*
 * Logging. Messages go to the target -o log= chose: syslog (the default
 * once detached), stderr, or a file; above -o log_level= nothing is
 * written. Until the command returns (start-up), warnings and errors go
 * to its stderr as well, and so does everything when stderr is a
 * terminal or mount -v asked.
 */
#ifndef BOUNCEFS_LOG_H
#define BOUNCEFS_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <syslog.h>

enum log_target {
	LOG_TARGET_DEFAULT,  /* stderr in the foreground, else syslog */
	LOG_TARGET_SYSLOG,
	LOG_TARGET_STDERR,
	LOG_TARGET_FILE,
};

/* Choose the target and the level (a syslog priority, LOG_ERR to
 * LOG_DEBUG); detached: whether the command leaves the daemon behind. A
 * FILE is opened (appended to) now: 0 or -errno. */
int log_configure(enum log_target target, const char *file, int level,
		  bool detached);

/* Start-up's info messages to stderr too (mount -v). */
void log_set_verbose(void);

/* Name the mountpoint in every message ("bouncefs: MNT: ..."), as a
 * mount(8) helper does under mount -a. */
void log_set_prefix(const char *mountpoint);

/* Where the messages go, in words ("syslog", "stderr", the file). */
const char *log_where(void);

/* Do they go to syslog on a host without one (no /dev/log)? */
bool log_lost(void);

/* Does the target keep the command's stderr (not to be closed)? */
bool log_keeps_stderr(void);

/* The start-up is over: messages go to the target only, libfuse's too. */
void log_started(void);

/* The -o log_level= word of a level: error, warn, info or debug. */
const char *log_level_name(int level);

/* Would a message of this priority be written? */
bool log_enabled(int priority);

void bfs_log(int priority, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A failure before the daemon detaches: to stderr, and to syslog as well
 * when stderr is not a terminal (a mount from fstab at boot). */
void bfs_log_startup(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

#endif
