/*
 * One reading of a mount's counters: the "name value" lines of the
 * counters xattr (stats_format) parsed, for bouncefs stat and for the
 * daemon's metrics file alike.
 */
#ifndef BOUNCEFS_STATS_SAMPLE_H
#define BOUNCEFS_STATS_SAMPLE_H

#define STATS_SAMPLE_MAX 256

struct stats_sample {
	unsigned n;
	char name[STATS_SAMPLE_MAX][48];
	unsigned long long value[STATS_SAMPLE_MAX];
	char version[32];         /* the daemon's, "" if it did not say */
	double taken;             /* monotonic seconds */
	double taken_real;        /* Unix time */
};

/* Parse the text of the counters xattr (NUL-terminated) into s. */
void stats_sample_parse(const char *text, struct stats_sample *s);

/* A counter's value, 0 if absent; and whether it is there. */
unsigned long long stats_sample_get(const struct stats_sample *s,
				    const char *name);
int stats_sample_has(const struct stats_sample *s, const char *name);

/* The counter "<op>_<what>". */
unsigned long long stats_sample_get_op(const struct stats_sample *s,
				       const char *op, const char *what);

#endif
