/* Logging to stderr, syslog or a file (log.h). */
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <fuse_log.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum sink { SINK_STDERR, SINK_SYSLOG, SINK_FILE };

/* Set before the threads start, except started: switched once, by
 * whichever thread reports the start-up (detach.c). */
static enum log_target target;
static enum sink sink = SINK_STDERR;  /* where messages go once started */
static int level = LOG_INFO;
static bool verbose;                  /* start-up info on stderr too */
static int file_fd = -1;
static char file_name[1024];
static char prefix[1100];
static _Atomic bool started;

int log_configure(enum log_target t, const char *file, int lvl, bool detached)
{
	target = t;
	level = lvl;
	verbose = verbose || isatty(STDERR_FILENO);
	switch (t) {
	case LOG_TARGET_SYSLOG:
		sink = SINK_SYSLOG;
		break;
	case LOG_TARGET_STDERR:
		sink = SINK_STDERR;
		break;
	case LOG_TARGET_DEFAULT:
		sink = detached ? SINK_SYSLOG : SINK_STDERR;
		break;
	case LOG_TARGET_FILE: {
		int fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
			      O_NOFOLLOW, 0640);

		if (fd < 0)
			return -errno;
		file_fd = fd;
		snprintf(file_name, sizeof(file_name), "%s", file);
		sink = SINK_FILE;
		break;
	}
	}
	if (sink == SINK_SYSLOG)
		openlog("bouncefs", LOG_PID, LOG_DAEMON);
	return 0;
}

void log_set_prefix(const char *mountpoint)
{
	snprintf(prefix, sizeof(prefix), "%s: ", mountpoint);
}

void log_set_verbose(void)
{
	verbose = true;
}

const char *log_where(void)
{
	return sink == SINK_FILE ? file_name :
	       sink == SINK_SYSLOG ? "syslog" : "stderr";
}

bool log_lost(void)
{
	return sink == SINK_SYSLOG && access("/dev/log", F_OK) != 0;
}

bool log_keeps_stderr(void)
{
	return target == LOG_TARGET_STDERR;
}

bool log_enabled(int priority)
{
	return priority <= level;
}

const char *log_level_name(int lvl)
{
	return lvl <= LOG_ERR ? "error" : lvl == LOG_WARNING ? "warn" :
	       lvl <= LOG_INFO ? "info" : "debug";
}

static const char *priority_name(int priority)
{
	switch (priority) {
	case LOG_EMERG: case LOG_ALERT: case LOG_CRIT: case LOG_ERR:
		return "error";
	case LOG_WARNING:
		return "warning";
	case LOG_NOTICE: case LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

/* One line to a file: time, pid, priority, the message. */
static void to_file(int priority, const char *fmt, va_list ap)
{
	char line[2048];
	struct timespec ts;
	struct tm tm;
	size_t n;
	int w;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%SZ", &tm);
	w = snprintf(line + n, sizeof(line) - n, " bouncefs[%d]: %s: %s",
		     (int)getpid(), priority_name(priority), prefix);
	if (w > 0 && (size_t)w < sizeof(line) - n)
		n += (size_t)w;
	w = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (w > 0)
		n = n + (size_t)w < sizeof(line) - 1 ? n + (size_t)w :
		    sizeof(line) - 2;
	while (n && line[n - 1] == '\n')
		n--;
	line[n++] = '\n';
	/* One write, appended whole (O_APPEND), even from many threads. */
	if (write(file_fd, line, n) < 0) {
		/* Nowhere else to say it. */
	}
}

static void to_stderr(const char *fmt, va_list ap)
{
	fprintf(stderr, "bouncefs: %s", prefix);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

static void to_syslog(int priority, const char *fmt, va_list ap)
{
	if (prefix[0]) {
		char msg[2048];

		vsnprintf(msg, sizeof(msg), fmt, ap);
		syslog(priority, "%s%s", prefix, msg);
	} else {
		vsyslog(priority, fmt, ap);
	}
}

static void to_sink(int priority, const char *fmt, va_list ap)
{
	switch (sink) {
	case SINK_SYSLOG:
		to_syslog(priority, fmt, ap);
		break;
	case SINK_FILE:
		to_file(priority, fmt, ap);
		break;
	case SINK_STDERR:
		to_stderr(fmt, ap);
		break;
	}
}

void bfs_log(int priority, const char *fmt, ...)
{
	va_list ap;

	if (!log_enabled(priority))
		return;
	/* Starting, warnings and errors are for the command's stderr too
	 * (and, interactive or mount -v, everything). */
	if (!atomic_load(&started) && sink != SINK_STDERR &&
	    (priority <= LOG_WARNING || verbose)) {
		va_start(ap, fmt);
		to_stderr(fmt, ap);
		va_end(ap);
	}
	va_start(ap, fmt);
	to_sink(priority, fmt, ap);
	va_end(ap);
}

void bfs_log_startup(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	to_stderr(fmt, ap);
	va_end(ap);
	if (file_fd >= 0) {
		va_start(ap, fmt);
		to_file(LOG_ERR, fmt, ap);
		va_end(ap);
	} else if (!isatty(STDERR_FILENO)) {
		va_start(ap, fmt);
		openlog("bouncefs", LOG_PID, LOG_DAEMON);
		to_syslog(LOG_ERR, fmt, ap);
		va_end(ap);
	}
}

/* libfuse's messages (they end in a newline already). */
static void fuse_message(enum fuse_log_level lvl, const char *fmt, va_list ap)
{
	char msg[2048];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	bfs_log((int)lvl, "%s", msg);
}

void log_started(void)
{
	atomic_store(&started, true);
	fuse_set_log_func(fuse_message);
}
