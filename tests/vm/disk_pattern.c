/*
 * Writes or checks a known pattern on a disk (or an image file), the way a
 * VM guest would: O_DIRECT at 512-byte and at 4096-byte granularity, and
 * buffered writes of odd sizes followed by fsync.
 *
 *   disk_pattern write|verify PATH SEED
 *
 * Layout: [0, 1 MiB) 512-byte O_DIRECT writes in a shuffled order;
 * [1 MiB, 3 MiB) 4096-byte O_DIRECT writes; [3 MiB, 4 MiB) buffered
 * writes of 1000..9999 bytes, then fsync. verify reads all 4 MiB and
 * compares. Prints "pattern write|verify ok" or what differs; exits 0 only
 * if everything matched.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TOTAL (4u << 20)

static unsigned char expected(uint64_t seed, uint64_t off)
{
	uint64_t x = (off + 1) * 0x9e3779b97f4a7c15ull ^ seed * 0xbf58476d1ce4e5b9ull;

	x ^= x >> 31;
	return (unsigned char)(x ^ (x >> 17));
}

static void fill(unsigned char *b, uint64_t seed, uint64_t off, size_t len)
{
	for (size_t i = 0; i < len; i++)
		b[i] = expected(seed, off + i);
}

static int write_direct(const char *path, uint64_t seed, uint64_t start,
			uint64_t end, size_t bs)
{
	int fd = open(path, O_WRONLY | O_DIRECT);
	unsigned char *b;
	size_t n = (end - start) / bs;
	unsigned *order = malloc(n * sizeof(*order));

	if (fd < 0 || !order || posix_memalign((void **)&b, 4096, bs)) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return 1;
	}
	for (size_t i = 0; i < n; i++)
		order[i] = (unsigned)i;
	srand((unsigned)seed);
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = (size_t)rand() % (i + 1);
		unsigned t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t off = start + (uint64_t)order[i] * bs;

		fill(b, seed, off, bs);
		if (pwrite(fd, b, bs, (off_t)off) != (ssize_t)bs) {
			fprintf(stderr, "O_DIRECT write of %zu at %llu: %s\n", bs,
				(unsigned long long)off, strerror(errno));
			return 1;
		}
	}
	close(fd);
	free(b);
	free(order);
	return 0;
}

static int write_buffered(const char *path, uint64_t seed, uint64_t start,
			  uint64_t end)
{
	int fd = open(path, O_WRONLY);
	unsigned char b[10000];
	uint64_t off = start;

	if (fd < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return 1;
	}
	srand((unsigned)seed + 1);
	while (off < end) {
		size_t len = 1000 + (size_t)rand() % 9000;

		if (len > end - off)
			len = (size_t)(end - off);
		fill(b, seed, off, len);
		if (pwrite(fd, b, len, (off_t)off) != (ssize_t)len) {
			fprintf(stderr, "buffered write at %llu: %s\n",
				(unsigned long long)off, strerror(errno));
			return 1;
		}
		off += len;
	}
	if (fsync(fd)) {
		fprintf(stderr, "fsync: %s\n", strerror(errno));
		return 1;
	}
	close(fd);
	return 0;
}

static int verify(const char *path, uint64_t seed)
{
	int fd = open(path, O_RDONLY);
	unsigned char *b = malloc(TOTAL);
	size_t got = 0;
	unsigned long bad = 0;
	long first = -1;

	if (fd < 0 || !b) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return 1;
	}
	while (got < TOTAL) {
		ssize_t n = pread(fd, b + got, TOTAL - got, (off_t)got);

		if (n <= 0) {
			fprintf(stderr, "read at %zu: %s\n", got,
				n ? strerror(errno) : "end of file");
			return 1;
		}
		got += (size_t)n;
	}
	for (size_t i = 0; i < TOTAL; i++)
		if (b[i] != expected(seed, i)) {
			if (first < 0)
				first = (long)i;
			bad++;
		}
	close(fd);
	free(b);
	if (bad) {
		printf("pattern verify FAILED: %lu bytes differ, first at %ld\n",
		       bad, first);
		return 1;
	}
	printf("pattern verify ok\n");
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t seed;

	if (argc != 4) {
		fprintf(stderr, "usage: %s write|verify PATH SEED\n", argv[0]);
		return 2;
	}
	seed = strtoull(argv[3], NULL, 0);
	if (strcmp(argv[1], "verify") == 0)
		return verify(argv[2], seed);
	if (strcmp(argv[1], "write"))
		return 2;
	if (write_direct(argv[2], seed, 0, 1u << 20, 512) ||
	    write_direct(argv[2], seed, 1u << 20, 3u << 20, 4096) ||
	    write_buffered(argv[2], seed, 3u << 20, TOTAL))
		return 1;
	printf("pattern write ok\n");
	return 0;
}
