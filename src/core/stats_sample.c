/* Parsing the counters xattr (stats_sample.h). */
#include "core/stats_sample.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

void stats_sample_parse(const char *text, struct stats_sample *s)
{
	struct timespec mono, real;
	const char *line = text;

	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_REALTIME, &real);
	s->n = 0;
	s->version[0] = '\0';
	s->taken = (double)mono.tv_sec + mono.tv_nsec / 1e9;
	s->taken_real = (double)real.tv_sec + real.tv_nsec / 1e9;
	while (*line && s->n < STATS_SAMPLE_MAX) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		char buf[128], name[48];
		unsigned long long v;

		if (len < sizeof(buf)) {
			memcpy(buf, line, len);
			buf[len] = '\0';
			if (strncmp(buf, "version ", 8) == 0) {
				snprintf(s->version, sizeof(s->version), "%.31s", buf + 8);
			} else if (sscanf(buf, "%47s %llu", name, &v) == 2) {
				snprintf(s->name[s->n], sizeof(s->name[s->n]), "%s", name);
				s->value[s->n++] = v;
			}
		}
		if (!end)
			break;
		line = end + 1;
	}
}

int stats_sample_has(const struct stats_sample *s, const char *name)
{
	for (unsigned i = 0; i < s->n; i++)
		if (strcmp(s->name[i], name) == 0)
			return 1;
	return 0;
}

unsigned long long stats_sample_get(const struct stats_sample *s,
				    const char *name)
{
	for (unsigned i = 0; i < s->n; i++)
		if (strcmp(s->name[i], name) == 0)
			return s->value[i];
	return 0;
}

unsigned long long stats_sample_get_op(const struct stats_sample *s,
				       const char *op, const char *what)
{
	char name[48];

	snprintf(name, sizeof(name), "%s_%s", op, what);
	return stats_sample_get(s, name);
}
