/*
 * Per-file counters, for bouncefs stat --files: the files with the most
 * errors and the most direct I/O since the mount (or the last reset).
 * An open file counts in its own struct file_counters, with relaxed
 * atomics and no lock; when it is closed, what it counted is folded into
 * a table of FILE_STATS_TABLE files, which keeps the ones with the most
 * errors, then the most bytes: bounded memory, however many files.
 */
#ifndef BOUNCEFS_FILE_STATS_H
#define BOUNCEFS_FILE_STATS_H

#include "core/stats.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define FILE_STATS_ERRNOS 4     /* distinct errnos kept a file */
#define FILE_STATS_TABLE 128    /* closed files kept */
#define FILE_STATS_SHOWN 32     /* files shown for errors, and for I/O */
#define FILE_STATS_PATH 256

struct file_counters {
	atomic_uint_fast64_t requests[STATS_OPS];
	atomic_uint_fast64_t bytes[STATS_OPS];
	atomic_uint_fast64_t errors;
	atomic_int errnos[FILE_STATS_ERRNOS];          /* 0: free slot */
	atomic_uint_fast64_t errno_count[FILE_STATS_ERRNOS + 1]; /* last: others */
	atomic_uint_fast64_t last_error_s;             /* Unix time */
	atomic_int last_error_op;                      /* enum stats_op */
};

/* One file's figures, plain. */
struct file_stats_row {
	dev_t dev;
	ino_t ino;
	char path[FILE_STATS_PATH];   /* relative to the backing directory */
	uint64_t requests[STATS_OPS];
	uint64_t bytes[STATS_OPS];
	uint64_t errors;
	int errnos[FILE_STATS_ERRNOS];
	uint64_t errno_count[FILE_STATS_ERRNOS + 1];
	uint64_t last_error_s;
	int last_error_op;
};

/* Count one finished request of op on the file: bytes, errno (positive,
 * 0 if none). */
void file_counters_done(struct file_counters *c, enum stats_op op,
			uint64_t bytes, int err);

/* Did the file count anything? */
bool file_counters_any(const struct file_counters *c);

void file_counters_reset(struct file_counters *c);

/* The figures of an open file, with its identity and path. */
void file_stats_row_of(const struct file_counters *c, dev_t dev, ino_t ino,
		       const char *path, struct file_stats_row *r);

/* A file was closed: add its figures to the table. */
void file_stats_fold(const struct file_stats_row *r);

/* Forget the table (bouncefs stat --reset). */
void file_stats_reset(void);

/*
 * The table with the open files' rows (open, n of them) merged in, by
 * file: the FILE_STATS_SHOWN with the most errors, then the
 * FILE_STATS_SHOWN with the most bytes, as lines
 *   file PATH read_requests N read_bytes N ... errors N last_error_s N
 *        last_error_op NAME errno_NAME N ...
 * (one line each, PATH with space, tab, newline and backslash as \ooo).
 * Returns the length, as snprintf does.
 */
size_t file_stats_format(const struct file_stats_row *open, size_t n,
			 char *buf, size_t size);

#endif
