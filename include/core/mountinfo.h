/* Reading /proc/self/mountinfo. */
#ifndef BOUNCEFS_MOUNTINFO_H
#define BOUNCEFS_MOUNTINFO_H

#include <sys/types.h>

/* mountinfo writes space, tab, newline and backslash in paths as \ooo:
 * decode them in place. */
void mountinfo_unescape(char *s);

/* The whole of /proc/self/mountinfo, to free(); NULL if it cannot be
 * read. */
char *mountinfo_read(void);

/* One line of mountinfo: the fields we use, unescaped. */
struct mountinfo_entry {
	dev_t dev;               /* maj:min */
	char mountpoint[4096];
	char fstype[256];
	char source[4096];
};

/* The first well-formed line at or after line (mountinfo's text) into *e:
 * returns where the next line starts, or NULL when there is none. */
const char *mountinfo_next(const char *line, struct mountinfo_entry *e);

/* mountinfo_dev_of on /proc/self/mountinfo as it is now: 0, -ENOENT, or
 * -errno if it cannot be read. */
int mountinfo_dev_at(const char *mountpoint, const char *fstype, dev_t *dev);

/* The device (maj:min) of the last mount at mountpoint of type fstype in
 * mountinfo's text: the one on top. 0, or -ENOENT if there is none. */
int mountinfo_dev_of(const char *mountinfo, const char *mountpoint,
		     const char *fstype, dev_t *dev);

#endif
