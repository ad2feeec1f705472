/* Per-file counters and the table of closed files (file_stats.h). */
#include "core/file_stats.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const op_names[] = STATS_OP_NAMES;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct file_stats_row table[FILE_STATS_TABLE];
static size_t used;

void file_counters_done(struct file_counters *c, enum stats_op op,
			uint64_t bytes, int err)
{
	atomic_fetch_add_explicit(&c->requests[op], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&c->bytes[op], bytes, memory_order_relaxed);
	if (!err)
		return;
	atomic_fetch_add_explicit(&c->errors, 1, memory_order_relaxed);
	atomic_store_explicit(&c->last_error_s, (uint64_t)time(NULL),
			      memory_order_relaxed);
	atomic_store_explicit(&c->last_error_op, (int)op, memory_order_relaxed);
	for (int i = 0; i < FILE_STATS_ERRNOS; i++) {
		int have = atomic_load_explicit(&c->errnos[i], memory_order_relaxed);

		if (have == 0 &&
		    atomic_compare_exchange_strong(&c->errnos[i], &have, err))
			have = err;
		if (have == err) {
			atomic_fetch_add_explicit(&c->errno_count[i], 1,
						  memory_order_relaxed);
			return;
		}
	}
	atomic_fetch_add_explicit(&c->errno_count[FILE_STATS_ERRNOS], 1,
				  memory_order_relaxed);
}

bool file_counters_any(const struct file_counters *c)
{
	for (int op = 0; op < STATS_OPS; op++)
		if (atomic_load(&c->requests[op]))
			return true;
	return atomic_load(&c->errors) != 0;
}

void file_counters_reset(struct file_counters *c)
{
	for (int op = 0; op < STATS_OPS; op++) {
		atomic_store(&c->requests[op], 0);
		atomic_store(&c->bytes[op], 0);
	}
	atomic_store(&c->errors, 0);
	for (int i = 0; i <= FILE_STATS_ERRNOS; i++)
		atomic_store(&c->errno_count[i], 0);
	for (int i = 0; i < FILE_STATS_ERRNOS; i++)
		atomic_store(&c->errnos[i], 0);
	atomic_store(&c->last_error_s, 0);
}

void file_stats_row_of(const struct file_counters *c, dev_t dev, ino_t ino,
		       const char *path, struct file_stats_row *r)
{
	memset(r, 0, sizeof(*r));
	r->dev = dev;
	r->ino = ino;
	snprintf(r->path, sizeof(r->path), "%s", path);
	for (int op = 0; op < STATS_OPS; op++) {
		r->requests[op] = atomic_load(&c->requests[op]);
		r->bytes[op] = atomic_load(&c->bytes[op]);
	}
	r->errors = atomic_load(&c->errors);
	for (int i = 0; i < FILE_STATS_ERRNOS; i++)
		r->errnos[i] = atomic_load(&c->errnos[i]);
	for (int i = 0; i <= FILE_STATS_ERRNOS; i++)
		r->errno_count[i] = atomic_load(&c->errno_count[i]);
	r->last_error_s = atomic_load(&c->last_error_s);
	r->last_error_op = atomic_load(&c->last_error_op);
}

static uint64_t total_bytes(const struct file_stats_row *r)
{
	uint64_t n = 0;

	for (int op = 0; op < STATS_OPS; op++)
		n += r->bytes[op];
	return n;
}

/* Is a kept before b: more errors, then more bytes? */
static bool ranks_before(const struct file_stats_row *a,
			 const struct file_stats_row *b)
{
	if (a->errors != b->errors)
		return a->errors > b->errors;
	return total_bytes(a) > total_bytes(b);
}

/* Add src's figures to dst (the same file). */
static void merge(struct file_stats_row *dst, const struct file_stats_row *src)
{
	for (int op = 0; op < STATS_OPS; op++) {
		dst->requests[op] += src->requests[op];
		dst->bytes[op] += src->bytes[op];
	}
	dst->errors += src->errors;
	for (int i = 0; i < FILE_STATS_ERRNOS; i++) {
		int j;

		if (!src->errnos[i])
			continue;
		for (j = 0; j < FILE_STATS_ERRNOS; j++)
			if (dst->errnos[j] == src->errnos[i] || !dst->errnos[j])
				break;
		if (j == FILE_STATS_ERRNOS) {
			dst->errno_count[FILE_STATS_ERRNOS] += src->errno_count[i];
			continue;
		}
		dst->errnos[j] = src->errnos[i];
		dst->errno_count[j] += src->errno_count[i];
	}
	dst->errno_count[FILE_STATS_ERRNOS] += src->errno_count[FILE_STATS_ERRNOS];
	if (src->last_error_s >= dst->last_error_s && src->errors) {
		dst->last_error_s = src->last_error_s;
		dst->last_error_op = src->last_error_op;
	}
	if (src->path[0])
		snprintf(dst->path, sizeof(dst->path), "%s", src->path);
}

static struct file_stats_row *find(struct file_stats_row *rows, size_t n,
				   dev_t dev, ino_t ino)
{
	for (size_t i = 0; i < n; i++)
		if (rows[i].dev == dev && rows[i].ino == ino)
			return &rows[i];
	return NULL;
}

void file_stats_fold(const struct file_stats_row *r)
{
	struct file_stats_row *slot;

	pthread_mutex_lock(&lock);
	slot = find(table, used, r->dev, r->ino);
	if (slot) {
		merge(slot, r);
	} else if (used < FILE_STATS_TABLE) {
		table[used++] = *r;
	} else {
		/* Full: the new one replaces the least, if it ranks above. */
		size_t least = 0;

		for (size_t i = 1; i < used; i++)
			if (ranks_before(&table[least], &table[i]))
				least = i;
		if (ranks_before(r, &table[least]))
			table[least] = *r;
	}
	pthread_mutex_unlock(&lock);
}

void file_stats_reset(void)
{
	pthread_mutex_lock(&lock);
	used = 0;
	pthread_mutex_unlock(&lock);
}

static int by_errors(const void *a, const void *b)
{
	const struct file_stats_row *x = a, *y = b;

	if (x->errors != y->errors)
		return x->errors > y->errors ? -1 : 1;
	return total_bytes(x) > total_bytes(y) ? -1 : total_bytes(x) < total_bytes(y);
}

static int by_bytes(const void *a, const void *b)
{
	const struct file_stats_row *x = a, *y = b;

	if (total_bytes(x) != total_bytes(y))
		return total_bytes(x) > total_bytes(y) ? -1 : 1;
	return x->errors > y->errors ? -1 : x->errors < y->errors;
}

#define OUT(...) do { \
		int w_ = n < size ? snprintf(buf + n, size - n, __VA_ARGS__) : \
				    snprintf(NULL, 0, __VA_ARGS__); \
		if (w_ > 0) n += (size_t)w_; \
	} while (0)

static size_t format_row(const struct file_stats_row *r, char *buf,
			 size_t size, size_t n)
{
	OUT("file ");
	for (const char *p = r->path; *p; p++) {
		if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\\')
			OUT("\\%03o", (unsigned char)*p);
		else
			OUT("%c", *p);
	}
	for (int op = 0; op < STATS_OPS; op++)
		OUT(" %s_requests %llu %s_bytes %llu", op_names[op],
		    (unsigned long long)r->requests[op], op_names[op],
		    (unsigned long long)r->bytes[op]);
	OUT(" errors %llu", (unsigned long long)r->errors);
	if (r->errors)
		OUT(" last_error_s %llu last_error_op %s",
		    (unsigned long long)r->last_error_s,
		    r->last_error_op >= 0 && r->last_error_op < STATS_OPS ?
		    op_names[r->last_error_op] : "?");
	for (int i = 0; i < FILE_STATS_ERRNOS; i++) {
		const char *name = r->errnos[i] ? strerrorname_np(r->errnos[i]) : NULL;

		if (name && r->errno_count[i])
			OUT(" errno_%s %llu", name,
			    (unsigned long long)r->errno_count[i]);
	}
	if (r->errno_count[FILE_STATS_ERRNOS])
		OUT(" errno_other %llu",
		    (unsigned long long)r->errno_count[FILE_STATS_ERRNOS]);
	OUT("\n");
	return n;
}

size_t file_stats_format(const struct file_stats_row *open, size_t nopen,
			 char *buf, size_t size)
{
	struct file_stats_row *rows;
	size_t nrows = 0, n = 0, shown = 0;

	rows = calloc(FILE_STATS_TABLE + nopen + 1, sizeof(*rows));
	if (!rows)
		return 0;
	pthread_mutex_lock(&lock);
	memcpy(rows, table, used * sizeof(*rows));
	nrows = used;
	pthread_mutex_unlock(&lock);
	for (size_t i = 0; i < nopen; i++) {
		struct file_stats_row *same = find(rows, nrows, open[i].dev,
						   open[i].ino);

		if (same)
			merge(same, &open[i]);
		else
			rows[nrows++] = open[i];
	}
	/* The most errors first; then the busiest of the rest. */
	qsort(rows, nrows, sizeof(*rows), by_errors);
	for (; shown < nrows && shown < FILE_STATS_SHOWN && rows[shown].errors;
	     shown++)
		n = format_row(&rows[shown], buf, size, n);
	qsort(rows + shown, nrows - shown, sizeof(*rows), by_bytes);
	for (size_t i = shown; i < nrows && i < shown + FILE_STATS_SHOWN; i++)
		n = format_row(&rows[i], buf, size, n);
	free(rows);
	return n;
}
