/* Reading /proc/self/mountinfo. */
#include "core/mountinfo.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

void mountinfo_unescape(char *s)
{
	char *out = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 +
					(s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

char *mountinfo_read(void)
{
	char *info = NULL;
	size_t cap = 0;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (!f)
		return NULL;
	if (getdelim(&info, &cap, '\0', f) < 0) {
		free(info);
		info = NULL;
	}
	fclose(f);
	return info;
}

const char *mountinfo_next(const char *line, struct mountinfo_entry *e)
{
	/* Fields: id parent maj:min root mountpoint opts ... - fstype src. */
	while (line && *line) {
		const char *end = strchr(line, '\n');
		const char *dash = strstr(line, " - ");
		const char *next = end ? end + 1 : NULL;
		unsigned maj, min;

		if (dash && (!end || dash < end) &&
		    sscanf(line, "%*s %*s %u:%u %*s %4095s", &maj, &min,
			   e->mountpoint) == 3 &&
		    sscanf(dash + 3, "%255s %4095s", e->fstype, e->source) == 2) {
			mountinfo_unescape(e->mountpoint);
			mountinfo_unescape(e->source);
			e->dev = makedev(maj, min);
			return next ? next : line + strlen(line);
		}
		line = next;
	}
	return NULL;
}

int mountinfo_dev_of(const char *mountinfo, const char *mountpoint,
		     const char *fstype, dev_t *dev)
{
	struct mountinfo_entry e;
	const char *at = mountinfo;
	int rc = -ENOENT;

	/* The last match is the one on top. */
	while ((at = mountinfo_next(at, &e))) {
		if (strcmp(e.fstype, fstype) == 0 &&
		    strcmp(e.mountpoint, mountpoint) == 0) {
			*dev = e.dev;
			rc = 0;
		}
	}
	return rc;
}

int mountinfo_dev_at(const char *mountpoint, const char *fstype, dev_t *dev)
{
	char *info = mountinfo_read();
	int rc;

	if (!info)
		return -errno;
	rc = mountinfo_dev_of(info, mountpoint, fstype, dev);
	free(info);
	return rc;
}
