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

int mountinfo_dev_of(const char *mountinfo, const char *mountpoint,
		     const char *fstype, dev_t *dev)
{
	const char *line = mountinfo;
	int rc = -ENOENT;

	/* Fields: id parent maj:min root mountpoint opts ... - fstype src. */
	while (line && *line) {
		const char *end = strchr(line, '\n');
		const char *dash = strstr(line, " - ");
		char mp[4096], type[256];
		unsigned maj, min;

		if (dash && (!end || dash < end) &&
		    sscanf(line, "%*s %*s %u:%u %*s %4095s", &maj, &min, mp) == 3 &&
		    sscanf(dash + 3, "%255s", type) == 1 &&
		    strcmp(type, fstype) == 0 &&
		    (mountinfo_unescape(mp), strcmp(mp, mountpoint) == 0)) {
			*dev = makedev(maj, min);
			rc = 0;
		}
		line = end ? end + 1 : NULL;
	}
	return rc;
}
