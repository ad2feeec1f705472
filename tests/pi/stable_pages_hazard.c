/*
 * The stable-pages hazard, on purpose: O_DIRECT I/O from buffers that
 * another thread keeps changing while the I/O is in flight.
 *
 *   stable_pages_hazard write|read|verify FILE SECONDS [BLOCK]
 *
 * write:  threads write BLOCK-byte blocks (default 64 KiB; a multiple of
 *         4096, at most 16 MiB) with O_DIRECT while a scribbler
 *         rewrites their buffers; then every block is read back (each
 *         read is checked by the device's PI).
 * read:   threads read with O_DIRECT while a scribbler rewrites the
 *         destination buffers.
 * verify: writes a known pattern without scribbling, reads it back and
 *         compares every byte.
 *
 * Prints one line: "mode=... ios=N errors=N eilseq=N eio=N other=N
 * mismatches=N" and exits 0 (the caller judges the counts), or 2 if the
 * test itself could not run.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define IO_THREADS 4

/* The block, and the file: 4096 blocks of it, 16 to 64 MiB. */
static size_t BS = 64 * 1024;
static off_t FILE_SIZE = 64 * 1024 * 1024;

static int fd;
static atomic_bool stop;
static atomic_ulong ios, eilseq, eio, other, mismatches;
static unsigned char *bufs[IO_THREADS];
static int mode_read;

static void count_error(int err)
{
	if (err == EILSEQ)
		atomic_fetch_add(&eilseq, 1);
	else if (err == EIO)
		atomic_fetch_add(&eio, 1);
	else
		atomic_fetch_add(&other, 1);
}

static void *scribbler(void *arg)
{
	unsigned char v = 0;

	(void)arg;
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		v++;
		for (int t = 0; t < IO_THREADS; t++) {
			volatile unsigned char *b = bufs[t];

			for (size_t i = 0; i < BS; i += 64)
				b[i] = (unsigned char)(v + i);
		}
	}
	return NULL;
}

static void *io_thread(void *arg)
{
	long t = (long)arg;
	unsigned seed = (unsigned)t * 7919u + 1;

	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		off_t off = (off_t)(rand_r(&seed) % (FILE_SIZE / BS)) * BS;
		ssize_t n = mode_read ? pread(fd, bufs[t], BS, off)
				      : pwrite(fd, bufs[t], BS, off);

		atomic_fetch_add(&ios, 1);
		if (n < 0)
			count_error(errno);
		else if (n != (ssize_t)BS)
			atomic_fetch_add(&other, 1);
	}
	return NULL;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void fill(unsigned char *b, off_t off)
{
	for (size_t i = 0; i < BS; i += 8) {
		uint64_t v = ((uint64_t)off + i) * 0x9e3779b97f4a7c15ull;

		memcpy(b + i, &v, 8);
	}
}

/* Read every block back (a PI device verifies each); with check, compare
 * against the pattern. */
static void read_all(unsigned char *b, int check)
{
	unsigned char *want = malloc(BS);

	for (off_t off = 0; off < FILE_SIZE; off += BS) {
		ssize_t n = pread(fd, b, BS, off);

		atomic_fetch_add(&ios, 1);
		if (n < 0) {
			count_error(errno);
			continue;
		}
		if (n != (ssize_t)BS) {
			atomic_fetch_add(&other, 1);
			continue;
		}
		if (check) {
			fill(want, off);
			if (memcmp(b, want, BS))
				atomic_fetch_add(&mismatches, 1);
		}
	}
	free(want);
}

int main(int argc, char **argv)
{
	pthread_t io[IO_THREADS], scr;
	const char *mode;
	double seconds, end;

	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: %s write|read|verify FILE SECONDS [BLOCK]\n", argv[0]);
		return 2;
	}
	if (argc == 5) {
		BS = strtoul(argv[4], NULL, 0);
		if (BS < 4096 || BS % 4096 || BS > (16u << 20)) {
			fprintf(stderr, "bad block size %s\n", argv[4]);
			return 2;
		}
		FILE_SIZE = (off_t)BS * 4096;
		if (FILE_SIZE < (16 << 20))
			FILE_SIZE = 16 << 20;
		if (FILE_SIZE > (64 << 20))
			FILE_SIZE = 64 << 20;
	}
	mode = argv[1];
	seconds = atof(argv[3]);
	fd = open(argv[2], O_RDWR | O_CREAT | O_DIRECT, 0644);
	if (fd < 0) {
		fprintf(stderr, "%s: %s\n", argv[2], strerror(errno));
		return 2;
	}
	for (int t = 0; t < IO_THREADS; t++)
		if (posix_memalign((void **)&bufs[t], 4096, BS))
			return 2;

	if (strcmp(mode, "verify") == 0) {
		for (off_t off = 0; off < FILE_SIZE; off += BS) {
			fill(bufs[0], off);
			atomic_fetch_add(&ios, 1);
			if (pwrite(fd, bufs[0], BS, off) != (ssize_t)BS)
				count_error(errno);
		}
		if (fsync(fd))
			count_error(errno);
		read_all(bufs[0], 1);
	} else {
		mode_read = strcmp(mode, "read") == 0;
		if (!mode_read && strcmp(mode, "write")) {
			fprintf(stderr, "unknown mode %s\n", mode);
			return 2;
		}
		if (mode_read) {
			/* Lay the file out with good blocks first. */
			for (off_t off = 0; off < FILE_SIZE; off += BS) {
				fill(bufs[0], off);
				if (pwrite(fd, bufs[0], BS, off) != (ssize_t)BS) {
					fprintf(stderr, "layout: %s\n", strerror(errno));
					return 2;
				}
			}
		} else if (ftruncate(fd, FILE_SIZE)) {
			return 2;
		}
		pthread_create(&scr, NULL, scribbler, NULL);
		for (long t = 0; t < IO_THREADS; t++)
			pthread_create(&io[t], NULL, io_thread, (void *)t);
		end = now() + seconds;
		while (now() < end)
			usleep(100 * 1000);
		atomic_store(&stop, true);
		for (int t = 0; t < IO_THREADS; t++)
			pthread_join(io[t], NULL);
		pthread_join(scr, NULL);
		if (!mode_read) {
			if (fsync(fd))
				count_error(errno);
			read_all(bufs[0], 0);
		}
	}
	printf("mode=%s bs=%zu ios=%lu errors=%lu eilseq=%lu eio=%lu other=%lu mismatches=%lu\n",
	       mode, BS, atomic_load(&ios),
	       atomic_load(&eilseq) + atomic_load(&eio) + atomic_load(&other),
	       atomic_load(&eilseq), atomic_load(&eio), atomic_load(&other),
	       atomic_load(&mismatches));
	close(fd);
	return 0;
}
