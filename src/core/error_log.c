/* Rate-limited messages about failed operations on backing files. */
#include "core/error_log.h"
#include "core/log.h"

#include <ctype.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define KINDS 32

struct kind {
	const char *action;    /* NULL: free slot */
	int err;
	time_t window_start;
	unsigned logged;       /* in this window */
	unsigned long held;    /* held back since the last message */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct kind kinds[KINDS];
static char root[PATH_MAX];
static size_t root_len;

void error_log_init(const char *backing_root)
{
	snprintf(root, sizeof(root), "%s", backing_root);
	root_len = strlen(root);
	while (root_len > 1 && root[root_len - 1] == '/')
		root[--root_len] = '\0';
}

void error_log_path(int fd, char *out, size_t size)
{
	char link[64], path[PATH_MAX];
	ssize_t n;
	const char *rel = path;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	if (n < 0) {
		snprintf(out, size, "?");
		return;
	}
	path[n] = '\0';
	if (root_len && strncmp(path, root, root_len) == 0 &&
	    (path[root_len] == '/' || path[root_len] == '\0')) {
		rel = path + root_len;
		while (*rel == '/')
			rel++;
		if (!*rel)
			rel = ".";
	}
	snprintf(out, size, "%s", rel);
}

/* May a message of this kind go out now? Sets *held to what was held back
 * before it. */
static int admit(const char *action, int err, unsigned long *held)
{
	time_t now = time(NULL);
	struct kind *k = NULL;
	int ok;

	pthread_mutex_lock(&lock);
	for (int i = 0; i < KINDS; i++) {
		if (kinds[i].action && strcmp(kinds[i].action, action) == 0 &&
		    kinds[i].err == err) {
			k = &kinds[i];
			break;
		}
		if (!kinds[i].action && !k)
			k = &kinds[i];
	}
	if (!k) {
		/* More kinds than slots: reuse the oldest window. */
		k = &kinds[0];
		for (int i = 1; i < KINDS; i++)
			if (kinds[i].window_start < k->window_start)
				k = &kinds[i];
		k->action = NULL;
	}
	if (!k->action || strcmp(k->action, action) || k->err != err) {
		k->action = action;
		k->err = err;
		k->window_start = now;
		k->logged = 0;
		k->held = 0;
	}
	if (now - k->window_start >= ERROR_LOG_WINDOW_S) {
		k->window_start = now;
		k->logged = 0;
	}
	ok = k->logged < ERROR_LOG_BURST;
	if (ok) {
		k->logged++;
		*held = k->held;
		k->held = 0;
	} else {
		k->held++;
	}
	pthread_mutex_unlock(&lock);
	return ok;
}

void error_log_file(const char *action, int fd, int64_t off, uint64_t len,
		    int err)
{
	char path[PATH_MAX], where[96] = "", why[128], more[96] = "";
	unsigned long held;

	/* At log_level=debug every failure has its line. */
	held = 0;
	if (!log_enabled(LOG_DEBUG) && !admit(action, err, &held))
		return;
	error_log_path(fd, path, sizeof(path));
	if (off >= 0 && len)
		snprintf(where, sizeof(where), " at offset %lld (%llu bytes)",
			 (long long)off, (unsigned long long)len);
	else if (off >= 0)
		snprintf(where, sizeof(where), " at offset %lld", (long long)off);
	snprintf(why, sizeof(why), "%s", strerror(err));
	why[0] = (char)tolower((unsigned char)why[0]);
	if (held)
		snprintf(more, sizeof(more), " (%lu more like it not logged)", held);
	bfs_log(LOG_ERR, "cannot %s '%s'%s: %s%s", action, path, where, why,
		more);
}
