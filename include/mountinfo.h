/* Reading /proc/self/mountinfo. */
#ifndef BOUNCEFS_MOUNTINFO_H
#define BOUNCEFS_MOUNTINFO_H

/* mountinfo writes space, tab, newline and backslash in paths as \ooo:
 * decode them in place. */
void mountinfo_unescape(char *s);

#endif
