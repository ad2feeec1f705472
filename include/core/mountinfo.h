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

/* The device (maj:min) of the last mount at mountpoint of type fstype in
 * mountinfo's text: the one on top. 0, or -ENOENT if there is none. */
int mountinfo_dev_of(const char *mountinfo, const char *mountpoint,
		     const char *fstype, dev_t *dev);

#endif
