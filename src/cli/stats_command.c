/* bouncefs stat: the counters of a running mount, for people and scripts. */
#include "cli/stats_command.h"
#include "core/json_write.h"
#include "core/mountinfo.h"
#include "core/options.h"
#include "core/stats.h"

#include <ctype.h>
#include <limits.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define MAX_COUNTERS 256

struct counters {
	unsigned n;
	char name[MAX_COUNTERS][48];
	unsigned long long value[MAX_COUNTERS];
	double taken;             /* monotonic seconds */
};

static const char *const ops[] = STATS_OP_NAMES;

/* The plain totals, as stats.h lists them. */
static const char *const totals[] = {
#define STATS_NAME(name, what) #name,
	STATS_TOTALS(STATS_NAME)
#undef STATS_NAME
	"eilseq_errors",
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Read and parse the counters; 0 or -errno. */
static int fetch(const char *mnt, struct counters *c)
{
	char buf[16384], *line, *save = NULL;
	ssize_t n = getxattr(mnt, BFS_STATS_XATTR, buf, sizeof(buf) - 1);

	if (n < 0)
		return -errno;
	buf[n] = '\0';
	c->n = 0;
	c->taken = now_s();
	for (line = strtok_r(buf, "\n", &save); line && c->n < MAX_COUNTERS;
	     line = strtok_r(NULL, "\n", &save)) {
		char name[48];
		unsigned long long v;

		if (sscanf(line, "%47s %llu", name, &v) != 2)
			continue;
		snprintf(c->name[c->n], sizeof(c->name[c->n]), "%s", name);
		c->value[c->n++] = v;
	}
	return 0;
}

static unsigned long long get(const struct counters *c, const char *name)
{
	for (unsigned i = 0; i < c->n; i++)
		if (strcmp(c->name[i], name) == 0)
			return c->value[i];
	return 0;
}

static unsigned long long get_op(const struct counters *c, const char *op,
				 const char *what)
{
	char name[48];

	snprintf(name, sizeof(name), "%s_%s", op, what);
	return get(c, name);
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
		secs = get(c, "uptime_us") / 1e6;
	}
	return secs > 0 && now >= before ? (double)(now - before) / secs : 0;
}

static void print_human(const char *mnt, const struct counters *c,
			const struct counters *prev)
{
	bool any = false;

	printf("bouncefs %s: up %.0f s; counts since the mount, rates (req/s, MiB/s) %s\n",
	       mnt, get(c, "uptime_us") / 1e6,
	       prev ? "over the last interval" : "since the mount started");
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
	printf("  read-modify-write cycles %llu\n", get(c, "rmw_cycles"));
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

static void print_json(const char *mnt, const struct counters *c,
		       const struct counters *prev)
{
	bool first = true;

	printf("{\"mountpoint\":");
	json_write_string(stdout, mnt);
	printf(",\"uptime_s\":%.3f,\"ops\":{", get(c, "uptime_us") / 1e6);
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

static int usage(const char *why)
{
	fprintf(stderr, "bouncefs: %s (usage: bouncefs stat [--json] [--watch N] MOUNTPOINT)\n",
		why);
	return BFS_EXIT_USAGE;
}

int stats_command(int argc, char **argv)
{
	static struct counters cur, prev;
	const char *mnt = NULL;
	bool json = false;
	long watch = 0;
	int err;

	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (strcmp(argv[i], "--watch") == 0) {
			char *end;

			if (++i >= argc)
				return usage("--watch needs a number of seconds");
			errno = 0;
			watch = strtol(argv[i], &end, 10);
			if (errno || *end || end == argv[i] || watch < 1 || watch > 86400)
				return usage("--watch takes whole seconds from 1 to 86400");
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			printf("usage: bouncefs stat [--json] [--watch N] MOUNTPOINT\n"
			       "Print the data-path counters of a bouncefs mount.\n"
			       "    --json      one JSON object per sample\n"
			       "    --watch N   print a sample every N seconds until interrupted\n");
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
	if (!is_bouncefs_mount(mnt)) {
		fprintf(stderr, "bouncefs: '%s' is not a bouncefs mount (give its mountpoint)\n",
			mnt);
		return BFS_EXIT_FAILURE;
	}
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
		if (json)
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
		if (!json)
			printf("\n");
	}
}
