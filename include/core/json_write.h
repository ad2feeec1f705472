/* Writing JSON by hand: the one piece that needs care, strings. */
#ifndef BOUNCEFS_JSON_WRITE_H
#define BOUNCEFS_JSON_WRITE_H

#include <stdio.h>

/* s as a JSON string, quotes included: '"' and '\' escaped, control
 * characters as \u00XX. */
void json_write_string(FILE *out, const char *s);

#endif
