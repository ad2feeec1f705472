/*
 * A mount's counters in the Prometheus text exposition format (0.0.4):
 * for bouncefs stat --prometheus, and the file -o metrics= keeps for
 * node_exporter's textfile collector. Every series carries the label
 * mountpoint.
 */
#ifndef BOUNCEFS_STATS_PROMETHEUS_H
#define BOUNCEFS_STATS_PROMETHEUS_H

#include "core/stats_sample.h"

#include <stdio.h>

void stats_prometheus(FILE *out, const char *mountpoint,
		      const struct stats_sample *s);

#endif
