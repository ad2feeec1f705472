/*
 * -o metrics=FILE: a thread of the daemon that writes the counters in the
 * Prometheus text format to FILE every metrics_interval seconds (to
 * FILE.tmp, then renamed over FILE, so that node_exporter's textfile
 * collector never reads half a file), and removes FILE at the end (no
 * stale figures for a mount that is gone).
 */
#ifndef BOUNCEFS_METRICS_FILE_H
#define BOUNCEFS_METRICS_FILE_H

/* Write FILE once now and start the thread: 0, or -errno (FILE cannot be
 * written: the mount fails with the reason). */
int metrics_file_start(const char *file, unsigned interval_s,
		       const char *mountpoint);

/* Stop the thread and remove FILE (no-op if not started). */
void metrics_file_stop(void);

#endif
