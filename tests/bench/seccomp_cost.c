/*
 * Benchmark (not a test): what the daemon's seccomp filter adds to one
 * system call. Times cheap calls the daemon makes on its hot paths (each
 * failing at once on a bad descriptor, so the kernel's own work is small
 * and the same before and after) without the filter, then installs the
 * daemon's filter exactly as the daemon does (seccomp_filter_install) and
 * times them again. Prints ns per call before, after and the difference.
 *
 *   build-test/tests/bench_seccomp_cost [calls]     (default 2,000,000)
 */
#include "privilege/seccomp_filter.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct call {
	const char *name;
	long nr;
	long a0, a1, a2, a3;
};

/* Bad descriptor -1: EBADF before any real work. */
static const struct call calls[] = {
	{ "getppid", SYS_getppid, 0, 0, 0, 0 },
	{ "read", SYS_read, -1, 0, 0, 0 },
	{ "pread64", SYS_pread64, -1, 0, 0, 0 },
	{ "writev", SYS_writev, -1, 0, 0, 0 },
	{ "pwritev2", SYS_pwritev2, -1, 0, 0, 0 },
	{ "io_uring_enter", SYS_io_uring_enter, -1, 0, 0, 0 },
	{ "setfsuid", SYS_setfsuid, -1, 0, 0, 0 },
};
#define NCALLS (sizeof(calls) / sizeof(calls[0]))

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Best of 5 runs of n calls: ns per call. */
static double time_call(const struct call *c, long n)
{
	double best = 0;

	for (int r = 0; r < 5; r++) {
		double t0 = now_ns();

		for (long i = 0; i < n; i++)
			syscall(c->nr, c->a0, c->a1, c->a2, c->a3);
		double per = (now_ns() - t0) / (double)n;

		if (r == 0 || per < best)
			best = per;
	}
	return best;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 2000000;
	double before[NCALLS];
	int rc;

	if (n <= 0) {
		fprintf(stderr, "usage: %s [calls]\n", argv[0]);
		return 2;
	}
	for (size_t i = 0; i < NCALLS; i++)
		before[i] = time_call(&calls[i], n);
	rc = seccomp_filter_install(BFS_SECCOMP_KILL);
	if (rc) {
		fprintf(stderr, "cannot install the filter: %d\n", rc);
		return 1;
	}
	printf("%-16s %10s %10s %10s\n", "call", "ns before", "ns after",
	       "added");
	for (size_t i = 0; i < NCALLS; i++) {
		double after = time_call(&calls[i], n);

		printf("%-16s %10.1f %10.1f %10.1f\n", calls[i].name, before[i],
		       after, after - before[i]);
	}
	return 0;
}
