/* Logging to stderr, or to syslog once the daemon has detached. */
#include "core/log.h"

#include <fuse_log.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>

/* Set once, by whichever thread reports the start-up (detach.c). */
static _Atomic bool to_syslog;

static void vlog(int priority, const char *fmt, va_list ap)
{
	if (to_syslog) {
		vsyslog(priority, fmt, ap);
	} else {
		fputs("bouncefs: ", stderr);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	}
}

void bfs_log(int priority, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(priority, fmt, ap);
	va_end(ap);
}

void bfs_log_startup(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("bouncefs: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	if (!isatty(STDERR_FILENO)) {
		va_start(ap, fmt);
		openlog("bouncefs", LOG_PID, LOG_DAEMON);
		vsyslog(LOG_ERR, fmt, ap);
		va_end(ap);
	}
}

/* libfuse's messages end in a newline already. */
static void fuse_to_syslog(enum fuse_log_level level, const char *fmt,
			   va_list ap)
{
	vsyslog((int)level, fmt, ap);
}

void log_use_syslog(void)
{
	openlog("bouncefs", LOG_PID, LOG_DAEMON);
	to_syslog = true;
	fuse_set_log_func(fuse_to_syslog);
}
