/* Logging: stderr in the foreground, syslog once detached. */
#ifndef BOUNCEFS_LOG_H
#define BOUNCEFS_LOG_H

#include <syslog.h>

/* Route our messages and libfuse's to syslog from now on. */
void log_use_syslog(void);

void bfs_log(int priority, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A failure before the daemon detaches: to stderr, and to syslog as well
 * when stderr is not a terminal (a mount from fstab at boot). */
void bfs_log_startup(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

#endif
