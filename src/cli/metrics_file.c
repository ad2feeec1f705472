/* The metrics file of -o metrics= (metrics_file.h). */
#include "cli/metrics_file.h"
#include "core/log.h"
#include "core/stats.h"
#include "core/stats_prometheus.h"
#include "core/stats_sample.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	bool started, stop;
	char file[1024], tmp[1040], mountpoint[4096];
	unsigned interval_s;
} m = { .lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER };

/* One rewrite: 0 or -errno. */
static int write_once(void)
{
	static char text[16384];
	static struct stats_sample s;
	FILE *out;
	int fd, err = 0;
	size_t len = stats_format(text, sizeof(text));

	text[len < sizeof(text) ? len : sizeof(text) - 1] = '\0';
	stats_sample_parse(text, &s);
	fd = open(m.tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		  0644);
	if (fd < 0)
		return -errno;
	out = fdopen(fd, "w");
	if (!out) {
		err = -errno;
		close(fd);
		unlinkat(AT_FDCWD, m.tmp, 0);
		return err;
	}
	stats_prometheus(out, m.mountpoint, &s);
	if (fflush(out) != 0)
		err = -errno;
	if (fclose(out) != 0 && !err)
		err = -errno;
	if (!err && renameat(AT_FDCWD, m.tmp, AT_FDCWD, m.file) != 0)
		err = -errno;
	if (err)
		unlinkat(AT_FDCWD, m.tmp, 0);
	return err;
}

static void *writer(void *arg)
{
	int last_err = 0;

	(void)arg;
	pthread_mutex_lock(&m.lock);
	while (!m.stop) {
		struct timespec until;
		int err;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += m.interval_s;
		while (!m.stop &&
		       pthread_cond_timedwait(&m.wake, &m.lock, &until) != ETIMEDOUT)
			;
		if (m.stop)
			break;
		pthread_mutex_unlock(&m.lock);
		err = write_once();
		/* Said once per change, not every interval. */
		if (err && err != last_err)
			bfs_log(LOG_WARNING, "cannot write the metrics file '%s': %s",
				m.file, strerror(-err));
		last_err = err;
		pthread_mutex_lock(&m.lock);
	}
	pthread_mutex_unlock(&m.lock);
	return NULL;
}

int metrics_file_start(const char *file, unsigned interval_s,
		       const char *mountpoint)
{
	int rc;

	snprintf(m.file, sizeof(m.file), "%s", file);
	snprintf(m.tmp, sizeof(m.tmp), "%s.tmp", file);
	snprintf(m.mountpoint, sizeof(m.mountpoint), "%s", mountpoint);
	m.interval_s = interval_s;
	m.stop = false;
	rc = write_once();
	if (rc)
		return rc;
	rc = -pthread_create(&m.thread, NULL, writer, NULL);
	if (rc) {
		unlinkat(AT_FDCWD, m.file, 0);
		return rc;
	}
	m.started = true;
	return 0;
}

void metrics_file_stop(void)
{
	if (!m.started)
		return;
	pthread_mutex_lock(&m.lock);
	m.stop = true;
	pthread_cond_signal(&m.wake);
	pthread_mutex_unlock(&m.lock);
	pthread_join(m.thread, NULL);
	m.started = false;
	unlinkat(AT_FDCWD, m.file, 0);
}
