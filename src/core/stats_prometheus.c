/* The Prometheus text exposition of a sample (stats_prometheus.h). */
#include "core/stats_prometheus.h"
#include "core/options.h"
#include "core/stats.h"

#include <string.h>

static const char *const ops[] = STATS_OP_NAMES;

/* A label value: backslash, double quote and newline escaped. */
static void label(FILE *out, const char *v)
{
	fputc('"', out);
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fprintf(out, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", out);
		else
			fputc(*v, out);
	}
	fputc('"', out);
}

static void family(FILE *out, const char *name, const char *type,
		   const char *help)
{
	fprintf(out, "# HELP bouncefs_%s %s\n# TYPE bouncefs_%s %s\n", name,
		help, name, type);
}

static void series(FILE *out, const char *name, const char *mnt,
		   const char *k, const char *v, const char *k2, const char *v2)
{
	fprintf(out, "bouncefs_%s{mountpoint=", name);
	label(out, mnt);
	if (k) {
		fprintf(out, ",%s=", k);
		label(out, v);
	}
	if (k2) {
		fprintf(out, ",%s=", k2);
		label(out, v2);
	}
	fputc('}', out);
}

/* The plain totals: counters, but for the two levels. */
static const struct {
	const char *counter, *metric, *type, *help;
} totals[] = {
	{ "direct_requests", "direct_requests_total", "counter", "Requests served by the direct path." },
	{ "buffered_requests", "buffered_requests_total", "counter", "Requests served by the page cache." },
	{ "rmw_cycles", "rmw_cycles_total", "counter", "Read-modify-write cycles of direct writes that do not cover whole blocks." },
	{ "copied_bytes", "copied_bytes_total", "counter", "Payload bytes the daemon copied to align direct writes." },
	{ "ring_moved_bytes", "ring_moved_bytes_total", "counter", "Bytes of read replies moved within FUSE ring buffers." },
	{ "ring_requests", "ring_requests_total", "counter", "Requests received over FUSE over io_uring." },
	{ "ring_helped", "ring_helped_total", "counter", "Requests received over the ring and served by helper threads." },
	{ "passthrough_opens", "passthrough_opens_total", "counter", "Opens served by FUSE passthrough: the kernel reads and writes the backing file." },
	{ "resent_requests", "resent_requests_total", "counter", "Requests the kernel sent again after the daemon before this one died." },
	{ "reopened_opens", "reopened_opens_total", "counter", "Open files and directories reopened from a dead daemon's state." },
	{ "eilseq_errors", "eilseq_errors_total", "counter", "Requests failed with EILSEQ: a PI guard or tag the device rejected." },
	{ "inflight", "inflight", "gauge", "Direct I/Os in flight now." },
	{ "inflight_max", "inflight_max", "gauge", "High-water mark of direct I/Os in flight since counting began." },
};

static const struct {
	const char *counter, *metric, *help;
} config[] = {
	{ "config_queue_depth", "config_queue_depth", "Direct-I/O requests in flight at most (-o queue_depth)." },
	{ "config_max_write", "config_max_write_bytes", "Largest request (-o max_write)." },
	{ "config_max_threads", "config_max_threads", "Worker threads at most (-o max_threads)." },
	{ "config_staging_align", "config_staging_align_bytes", "Staging alignment: the block direct I/O is staged in." },
};

void stats_prometheus(FILE *out, const char *mnt, const struct stats_sample *s)
{
	static const struct { const char *what, *metric, *help; } per_op[] = {
		{ "requests", "requests_total", "Direct requests finished, by operation." },
		{ "bytes", "bytes_total", "Bytes of direct requests, by operation." },
		{ "errors", "errors_total", "Direct requests that failed, by operation." },
	};
	unsigned long long um = stats_sample_get(s, "config_uring_mode");
	unsigned long long sm = stats_sample_get(s, "config_seccomp_mode");

	family(out, "info", "gauge", "The daemon: its version and modes (value 1).");
	fprintf(out, "bouncefs_info{mountpoint=");
	label(out, mnt);
	fprintf(out, ",version=");
	label(out, s->version[0] ? s->version : "unknown");
	fprintf(out, ",uring=");
	label(out, um < BFS_URING_MODES ? bfs_uring_names[um] : "?");
	fprintf(out, ",seccomp=");
	label(out, sm < BFS_SECCOMP_MODES ? bfs_seccomp_names[sm] : "?");
	fprintf(out, ",passthrough=");
	label(out, stats_sample_get(s, "config_passthrough") ? "on" : "off");
	fprintf(out, "} 1\n");
	for (size_t k = 0; k < sizeof(per_op) / sizeof(per_op[0]); k++) {
		family(out, per_op[k].metric, "counter", per_op[k].help);
		for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
			series(out, per_op[k].metric, mnt, "op", ops[i], NULL, NULL);
			fprintf(out, " %llu\n",
				stats_sample_get_op(s, ops[i], per_op[k].what));
		}
	}
	family(out, "latency_microseconds", "gauge",
	       "Latency of direct requests since counting began: quantile 0.5, 0.99 and 1 (the slowest).");
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		static const char *const q[] = { "0.5", "0.99", "1" };
		static const char *const what[] = { "p50_us", "p99_us", "max_us" };

		for (int j = 0; j < 3; j++) {
			series(out, "latency_microseconds", mnt, "op", ops[i],
			       "quantile", q[j]);
			fprintf(out, " %llu\n", stats_sample_get_op(s, ops[i], what[j]));
		}
	}
	for (size_t i = 0; i < sizeof(totals) / sizeof(totals[0]); i++) {
		family(out, totals[i].metric, totals[i].type, totals[i].help);
		series(out, totals[i].metric, mnt, NULL, NULL, NULL, NULL);
		fprintf(out, " %llu\n", stats_sample_get(s, totals[i].counter));
	}
	family(out, "errno_errors_total", "counter",
	       "Requests that failed, by errno.");
	for (unsigned i = 0; i < s->n; i++) {
		if (strncmp(s->name[i], "errno_", 6))
			continue;
		series(out, "errno_errors_total", mnt, "errno", s->name[i] + 6,
		       NULL, NULL);
		fprintf(out, " %llu\n", s->value[i]);
	}
	family(out, "uptime_seconds", "gauge", "Seconds since the mount started.");
	series(out, "uptime_seconds", mnt, NULL, NULL, NULL, NULL);
	fprintf(out, " %.3f\n", stats_sample_get(s, "uptime_us") / 1e6);
	family(out, "counted_seconds", "gauge",
	       "Seconds the counters have counted: since the mount, or the last reset.");
	series(out, "counted_seconds", mnt, NULL, NULL, NULL, NULL);
	fprintf(out, " %.3f\n", stats_sample_get(s, "counted_us") / 1e6);
	for (size_t i = 0; i < sizeof(config) / sizeof(config[0]); i++) {
		family(out, config[i].metric, "gauge", config[i].help);
		series(out, config[i].metric, mnt, NULL, NULL, NULL, NULL);
		fprintf(out, " %llu\n", stats_sample_get(s, config[i].counter));
	}
}
