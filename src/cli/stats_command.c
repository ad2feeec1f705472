/* bouncefs stat: the counters of a running mount, for people and scripts. */
#include "cli/stats_command.h"
#include "core/json_write.h"
#include "core/mountinfo.h"
#include "core/options.h"
#include "core/stats.h"
#include "core/stats_prometheus.h"
#include "core/stats_sample.h"

#include <ctype.h>
#include <limits.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <linux/limits.h>
#include <time.h>
#include <unistd.h>

#define counters stats_sample
static const char *const ops[] = STATS_OP_NAMES;

/* The plain totals, as stats.h lists them. */
static const char *const totals[] = {
#define STATS_NAME(name, what) #name,
	STATS_TOTALS(STATS_NAME)
#undef STATS_NAME
	"eilseq_errors",
};

/* Read and parse the counters; 0 or -errno. */
static int fetch(const char *mnt, struct counters *c)
{
	char buf[16384];
	ssize_t n = getxattr(mnt, BFS_STATS_XATTR, buf, sizeof(buf) - 1);

	if (n < 0)
		return -errno;
	buf[n] = '\0';
	stats_sample_parse(buf, c);
	return 0;
}

static unsigned long long get(const struct counters *c, const char *name)
{
	return stats_sample_get(c, name);
}

static unsigned long long get_op(const struct counters *c, const char *op,
				 const char *what)
{
	return stats_sample_get_op(c, op, what);
}

/* Seconds the counts cover: since the mount or the last reset (a daemon
 * from before resets existed: since the mount). */
static double counted_s(const struct counters *c)
{
	return (stats_sample_has(c, "counted_us") ? get(c, "counted_us") :
		get(c, "uptime_us")) / 1e6;
}

/* Rate of a counter per second: since the last sample, else since the
 * mount started. */
static double rate(const struct counters *c, const struct counters *prev,
		   const char *op, const char *what)
{
	double secs;
	unsigned long long now = get_op(c, op, what), before = 0;

	if (prev) {
		secs = c->taken - prev->taken;
		before = get_op(prev, op, what);
	} else {
		secs = counted_s(c);
	}
	return secs > 0 && now >= before ? (double)(now - before) / secs : 0;
}

static void print_human(const char *mnt, const struct counters *c,
			const struct counters *prev)
{
	bool any = false;

	bool reset = stats_sample_has(c, "counted_us") &&
		     get(c, "counted_us") + 1000000 < get(c, "uptime_us");

	printf("bouncefs %s: up %.0f s; counts since the %s (%.0f s), rates (req/s, MiB/s) %s\n",
	       mnt, get(c, "uptime_us") / 1e6, reset ? "last reset" : "mount",
	       counted_s(c), prev ? "over the last interval" :
	       reset ? "since the last reset" : "since the mount started");
	printf("  %-6s %12s %10s %12s %8s %9s %9s %9s %7s\n", "op",
	       "requests", "req/s", "bytes", "MiB/s", "p50 us", "p99 us",
	       "max us", "errors");
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		printf("  %-6s %12llu %10.0f %12llu %8.1f %9llu %9llu %9llu %7llu\n",
		       ops[i], get_op(c, ops[i], "requests"),
		       rate(c, prev, ops[i], "requests"), get_op(c, ops[i], "bytes"),
		       rate(c, prev, ops[i], "bytes") / (1 << 20),
		       get_op(c, ops[i], "p50_us"), get_op(c, ops[i], "p99_us"),
		       get_op(c, ops[i], "max_us"), get_op(c, ops[i], "errors"));
	printf("  direct requests %llu, buffered requests %llu\n",
	       get(c, "direct_requests"), get(c, "buffered_requests"));
	printf("  requests received over FUSE io_uring %llu (%llu served by helper threads)\n",
	       get(c, "ring_requests"), get(c, "ring_helped"));
	printf("  opens served by FUSE passthrough %llu (the kernel reads and writes\n"
	       "    their backing files; none of it is counted above)\n",
	       get(c, "passthrough_opens"));
	printf("  read-modify-write cycles %llu\n", get(c, "rmw_cycles"));
	if (get(c, "resent_requests") || get(c, "reopened_opens"))
		printf("  taken over from a dead daemon: %llu opens reopened, %llu requests\n"
		       "    resent by the kernel and served again\n",
		       get(c, "reopened_opens"), get(c, "resent_requests"));
	printf("  bytes copied by the daemon %llu (0 for aligned direct writes; the\n"
	       "    kernel's copy of each request into the staging buffers is the bounce)\n",
	       get(c, "copied_bytes"));
	printf("  bytes of read replies moved within FUSE ring buffers %llu (reads that\n"
	       "    start inside a block; over /dev/fuse they are sent from where they lie)\n",
	       get(c, "ring_moved_bytes"));
	printf("  in flight %llu, high-water mark %llu\n", get(c, "inflight"),
	       get(c, "inflight_max"));
	printf("  errors by errno:");
	for (unsigned i = 0; i < c->n; i++) {
		if (strncmp(c->name[i], "errno_", 6))
			continue;
		printf(" %s %llu", c->name[i] + 6, c->value[i]);
		any = true;
	}
	printf("%s\n", any ? "" : " none");
	printf("  EILSEQ (protection information check failed) %llu%s\n",
	       get(c, "eilseq_errors"),
	       get(c, "eilseq_errors") ? "  <-- the device rejected a PI guard or tag" : "");
}

/* The running mount's settings, from its config_ counters. */
static void print_json_config(const struct counters *c)
{
	unsigned long long um = get(c, "config_uring_mode");
	unsigned long long sm = get(c, "config_seccomp_mode");
	unsigned long long rm = get(c, "config_restart");

	if (!stats_sample_has(c, "config_queue_depth")) {
		printf("null");
		return;
	}
	printf("{\"queue_depth\":%llu,\"max_write\":%llu,\"max_threads\":%llu,"
	       "\"uring\":\"%s\",\"seccomp\":\"%s\",\"passthrough\":\"%s\","
	       "\"staging_align\":%llu,"
	       "\"attr_timeout_s\":%.3f,\"entry_timeout_s\":%.3f,"
	       "\"restart\":\"%s\"}",
	       get(c, "config_queue_depth"), get(c, "config_max_write"),
	       get(c, "config_max_threads"), um < BFS_URING_MODES ? bfs_uring_names[um] : "?",
	       sm < BFS_SECCOMP_MODES ? bfs_seccomp_names[sm] : "?",
	       get(c, "config_passthrough") ? "on" : "off",
	       get(c, "config_staging_align"),
	       get(c, "config_attr_timeout_ms") / 1e3,
	       get(c, "config_entry_timeout_ms") / 1e3,
	       rm < BFS_RESTART_MODES ? bfs_restart_names[rm] : "?");
}

static void print_json(const char *mnt, const struct counters *c,
		       const struct counters *prev)
{
	bool first = true;
	char stamp[64];
	time_t secs = (time_t)c->taken_real;
	struct tm tm;

	gmtime_r(&secs, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	printf("{\"mountpoint\":");
	json_write_string(stdout, mnt);
	printf(",\"timestamp\":\"%s.%03dZ\",\"unix_time\":%.3f", stamp,
	       (int)((c->taken_real - (double)secs) * 1000), c->taken_real);
	/* The rates' interval: since the last sample, or null when they are
	 * since counting began (counted_s). */
	if (prev)
		printf(",\"interval_s\":%.3f", c->taken - prev->taken);
	else
		printf(",\"interval_s\":null");
	printf(",\"version\":");
	json_write_string(stdout, c->version[0] ? c->version : "unknown");
	printf(",\"command_version\":\"%s\",\"config\":", BOUNCEFS_VERSION);
	print_json_config(c);
	printf(",\"uptime_s\":%.3f,\"counted_s\":%.3f,\"ops\":{",
	       get(c, "uptime_us") / 1e6, counted_s(c));
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		printf("%s\"%s\":{\"requests\":%llu,\"bytes\":%llu,\"errors\":%llu,"
		       "\"p50_us\":%llu,\"p99_us\":%llu,\"max_us\":%llu,"
		       "\"requests_per_s\":%.1f,\"bytes_per_s\":%.0f}",
		       i ? "," : "", ops[i], get_op(c, ops[i], "requests"),
		       get_op(c, ops[i], "bytes"), get_op(c, ops[i], "errors"),
		       get_op(c, ops[i], "p50_us"), get_op(c, ops[i], "p99_us"),
		       get_op(c, ops[i], "max_us"), rate(c, prev, ops[i], "requests"),
		       rate(c, prev, ops[i], "bytes"));
	printf("}");
	for (size_t i = 0; i < sizeof(totals) / sizeof(totals[0]); i++)
		printf(",\"%s\":%llu", totals[i], get(c, totals[i]));
	printf(",\"errors_by_errno\":{");
	for (unsigned i = 0; i < c->n; i++) {
		if (strncmp(c->name[i], "errno_", 6))
			continue;
		if (!first)
			putchar(',');
		json_write_string(stdout, c->name[i] + 6);
		printf(":%llu", c->value[i]);
		first = false;
	}
	printf("}}\n");
}

/* Is mnt the root of a bouncefs mount (the mount on top there)? The
 * counters are an xattr, which any file could carry. */
static bool is_bouncefs_mount(const char *mnt)
{
	static struct mountinfo_entry e;
	char real[PATH_MAX];
	char *info;
	const char *at;
	bool top_is_ours = false;

	if (!realpath(mnt, real) || !(info = mountinfo_read()))
		return false;
	for (at = info; (at = mountinfo_next(at, &e));)
		if (strcmp(e.mountpoint, real) == 0)
			top_is_ours = strcmp(e.fstype, "fuse.bouncefs") == 0;
	free(info);
	return top_is_ours;
}

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
	(void)sig;
	interrupted = 1;
}

#define STAT_USAGE \
	"bouncefs stat [--json | --prometheus | --files [--json] | --reset] [--watch N] MOUNTPOINT"

static int usage(const char *why)
{
	fprintf(stderr, "bouncefs: %s (usage: " STAT_USAGE ")\n", why);
	return BFS_EXIT_USAGE;
}

/* One "file PATH name value ..." line of the files xattr, printed. */
static void print_file_line(char *line, bool json, bool first)
{
	char *save = NULL, *tok, *path;
	unsigned long long v[2 * STATS_OPS] = { 0 }, errors = 0, last = 0;
	char errnos[256] = "", last_op[16] = "";
	static const char *const names[] = STATS_OP_NAMES;

	if (strncmp(line, "file ", 5))
		return;
	path = strtok_r(line + 5, " ", &save);
	if (!path)
		return;
	mountinfo_unescape(path);
	while ((tok = strtok_r(NULL, " ", &save))) {
		char *val = strtok_r(NULL, " ", &save);

		if (!val)
			break;
		for (int op = 0; op < STATS_OPS; op++) {
			char n1[32], n2[32];

			snprintf(n1, sizeof(n1), "%s_requests", names[op]);
			snprintf(n2, sizeof(n2), "%s_bytes", names[op]);
			if (strcmp(tok, n1) == 0)
				v[2 * op] = strtoull(val, NULL, 10);
			if (strcmp(tok, n2) == 0)
				v[2 * op + 1] = strtoull(val, NULL, 10);
		}
		if (strcmp(tok, "errors") == 0)
			errors = strtoull(val, NULL, 10);
		else if (strcmp(tok, "last_error_s") == 0)
			last = strtoull(val, NULL, 10);
		else if (strcmp(tok, "last_error_op") == 0)
			snprintf(last_op, sizeof(last_op), "%s", val);
		else if (strncmp(tok, "errno_", 6) == 0) {
			size_t n = strlen(errnos);

			/* errno names are letters and digits: no escaping. */
			snprintf(errnos + n, sizeof(errnos) - n,
				 json ? "%s\"%s\":%s" : "%s%s:%s", n ? "," : "",
				 tok + 6, val);
		}
	}
	if (json) {
		printf("%s{\"path\":", first ? "" : ",");
		json_write_string(stdout, path);
		for (int op = 0; op < STATS_OPS; op++)
			printf(",\"%s_requests\":%llu,\"%s_bytes\":%llu", names[op],
			       v[2 * op], names[op], v[2 * op + 1]);
		printf(",\"errors\":%llu,\"errors_by_errno\":{%s}", errors, errnos);
		if (errors)
			printf(",\"last_error_unix\":%llu,\"last_error_op\":\"%s\"",
			       last, last_op);
		printf("}");
		return;
	}
	printf("  %-32s %9llu %9.1f %9llu %9.1f %7llu %6llu  %s", path,
	       v[0], v[1] / 1048576.0, v[2], v[3] / 1048576.0, v[4], errors,
	       errnos[0] ? errnos : "-");
	if (errors) {
		char when[32];
		time_t t = (time_t)last;
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		printf("  (last: %s %s)", last_op, when);
	}
	printf("\n");
}

/* bouncefs stat --files: the files with the most errors, then the most
 * I/O, since counting began. */
static int files_command(const char *mnt, bool json)
{
	char *buf = malloc(XATTR_SIZE_MAX + 1), *line, *save = NULL;
	ssize_t n;
	bool first = true;

	if (!buf)
		return BFS_EXIT_FAILURE;
	n = getxattr(mnt, BFS_FILES_XATTR, buf, XATTR_SIZE_MAX);
	if (n < 0) {
		fprintf(stderr, "bouncefs: cannot read the files' counters of '%s': %s\n",
			mnt, errno == EPERM ? "only root may (they name files)" :
			strerror(errno));
		free(buf);
		return BFS_EXIT_FAILURE;
	}
	buf[n] = '\0';
	if (json) {
		printf("{\"mountpoint\":");
		json_write_string(stdout, mnt);
		printf(",\"files\":[");
	} else {
		printf("bouncefs %s: files with the most errors, then the most direct I/O,\n"
		       "since counting began (paths relative to the backing directory)\n", mnt);
		printf("  %-32s %9s %9s %9s %9s %7s %6s  %s\n", "path", "reads",
		       "read MiB", "writes", "write MiB", "fsyncs", "errors", "by errno");
	}
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		print_file_line(line, json, first);
		first = false;
	}
	if (json)
		printf("]}\n");
	else if (first)
		printf("  (none yet)\n");
	free(buf);
	return fflush(stdout) == 0 ? BFS_EXIT_OK : BFS_EXIT_FAILURE;
}

int stats_command(int argc, char **argv)
{
	static struct counters cur, prev;
	static char real_mnt[PATH_MAX];
	const char *mnt = NULL;
	bool json = false, prometheus = false, files = false, reset = false;
	long watch = 0;
	int err;

	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (strcmp(argv[i], "--prometheus") == 0) {
			prometheus = true;
		} else if (strcmp(argv[i], "--files") == 0) {
			files = true;
		} else if (strcmp(argv[i], "--reset") == 0) {
			reset = true;
		} else if (strcmp(argv[i], "--watch") == 0) {
			char *end;

			if (++i >= argc)
				return usage("--watch needs a number of seconds");
			errno = 0;
			watch = strtol(argv[i], &end, 10);
			if (errno || *end || end == argv[i] || watch < 1 || watch > 86400)
				return usage("--watch takes whole seconds from 1 to 86400");
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			printf("usage: " STAT_USAGE "\n"
			       "Print the data-path counters of a bouncefs mount.\n"
			       "    --json        one JSON object per sample\n"
			       "    --prometheus  the Prometheus text exposition format\n"
			       "    --files       the files with the most errors, then the most\n"
			       "                  direct I/O (root only: they name files)\n"
			       "    --reset       count from zero again (root only)\n"
			       "    --watch N     print a sample every N seconds until interrupted\n");
			return BFS_EXIT_OK;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			char why[300];

			snprintf(why, sizeof(why), "unknown option '%.200s'", argv[i]);
			return usage(why);
		} else if (!mnt) {
			mnt = argv[i];
		} else {
			return usage("too many arguments");
		}
	}
	if (!mnt)
		return usage("missing MOUNTPOINT");
	if (realpath(mnt, real_mnt))
		mnt = real_mnt;
	if (prometheus + files + reset > 1 || (prometheus && json))
		return usage("--json, --prometheus, --files and --reset go one at a time (--json with --files)");
	if (reset && watch)
		return usage("--reset takes no --watch");
	if (!is_bouncefs_mount(mnt)) {
		fprintf(stderr, "bouncefs: '%s' is not a bouncefs mount (give its mountpoint)\n",
			mnt);
		return BFS_EXIT_FAILURE;
	}
	if (reset) {
		if (setxattr(mnt, BFS_RESET_XATTR, "1", 1, 0) != 0) {
			fprintf(stderr, "bouncefs: cannot reset the counters of '%s': %s\n",
				mnt, errno == EPERM || errno == EACCES ?
				"only root may" : strerror(errno));
			return BFS_EXIT_FAILURE;
		}
		printf("bouncefs %s: counters reset\n", mnt);
		return BFS_EXIT_OK;
	}
	if (files && !watch)
		return files_command(mnt, json);
	err = fetch(mnt, &cur);
	if (err) {
		fprintf(stderr, "bouncefs: cannot read the counters of '%s': %s\n",
			mnt, err == -ENODATA || err == -ENOTSUP || err == -EOPNOTSUPP ?
			"not a bouncefs mount" : strerror(-err));
		return BFS_EXIT_FAILURE;
	}
	if (watch) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_interrupt;
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
	}
	for (bool first = true;; first = false) {
		if (files) {
			if (files_command(mnt, json) != BFS_EXIT_OK)
				return BFS_EXIT_FAILURE;
		} else if (prometheus)
			stats_prometheus(stdout, mnt, &cur);
		else if (json)
			print_json(mnt, &cur, first ? NULL : &prev);
		else
			print_human(mnt, &cur, first ? NULL : &prev);
		if (fflush(stdout))
			return BFS_EXIT_FAILURE;
		if (!watch)
			return BFS_EXIT_OK;
		prev = cur;
		for (long s = 0; s < watch && !interrupted; s++)
			sleep(1);
		if (interrupted)
			return BFS_EXIT_OK;
		err = fetch(mnt, &cur);
		if (err) {
			fprintf(stderr, "bouncefs: cannot read the counters of '%s': %s\n",
				mnt, strerror(-err));
			return BFS_EXIT_FAILURE;
		}
		if (!json && !prometheus)
			printf("\n");
	}
}
