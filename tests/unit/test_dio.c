/*
 * Unit tests: the direct-I/O path (dio.c) with no mount. The io_uring
 * engine is the fake (fake_uring_engine.c), the system calls go through
 * a table that injects faults (sys_io.h), the answers are caught by
 * wrapping libfuse's fuse_reply_* at link time, and the request context
 * (request.h) is set as a transport would: alone or not, allowed to block
 * or not. The backing file is a real temporary file; its alignment is
 * 4096.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/fuse.h>

#include "dio/dio.h"
#include "dio/request.h"
#include "dio/sys_io.h"
#include "fake_uring_engine.h"

#define A 4096u

/* ---- answers ------------------------------------------------------- */

enum reply_kind { R_NONE, R_ERR, R_BUF, R_WRITE };

static struct {
	enum reply_kind kind;
	int err;
	size_t count;
	char data[3 * A];
	unsigned n;           /* answers since reset */
} reply;

static void reply_reset(void)
{
	memset(&reply, 0, sizeof(reply));
}

int __wrap_fuse_reply_err(fuse_req_t req, int err);
int __wrap_fuse_reply_err(fuse_req_t req, int err)
{
	(void)req;
	reply.kind = R_ERR;
	reply.err = err;
	reply.n++;
	return 0;
}

int __wrap_fuse_reply_buf(fuse_req_t req, const char *buf, size_t size);
int __wrap_fuse_reply_buf(fuse_req_t req, const char *buf, size_t size)
{
	(void)req;
	reply.kind = R_BUF;
	reply.count = size;
	memcpy(reply.data, buf, size < sizeof(reply.data) ? size : sizeof(reply.data));
	reply.n++;
	return 0;
}

int __wrap_fuse_reply_write(fuse_req_t req, size_t count);
int __wrap_fuse_reply_write(fuse_req_t req, size_t count)
{
	(void)req;
	reply.kind = R_WRITE;
	reply.count = count;
	reply.n++;
	return 0;
}

/* ---- faults -------------------------------------------------------- */

enum call { C_PREAD, C_PWRITE, C_FSTAT, C_FTRUNCATE, C_KINDS };

struct fault {
	enum call call;
	unsigned nth;         /* the nth call of its kind (1 first); 0: every */
	int err;              /* fail with it, or */
	size_t cap;           /* transfer at most this much */
};

static struct fault faults[8];
static unsigned nfaults;
static unsigned calls[C_KINDS];

static void faults_reset(void)
{
	nfaults = 0;
	memset(calls, 0, sizeof(calls));
}

static void fault_add(enum call c, unsigned nth, int err, size_t cap)
{
	faults[nfaults++] = (struct fault){ c, nth, err, cap };
}

/* The fault for this call, if any: -1 with errno set to fail it. */
static int fault_for(enum call c, size_t *len)
{
	calls[c]++;
	for (unsigned i = 0; i < nfaults; i++) {
		const struct fault *f = &faults[i];

		if (f->call != c || (f->nth && f->nth != calls[c]))
			continue;
		if (f->err) {
			errno = f->err;
			return -1;
		}
		if (len && f->cap && *len > f->cap)
			*len = f->cap;
	}
	return 0;
}

static ssize_t faulty_pread(int fd, void *buf, size_t len, off_t off)
{
	if (fault_for(C_PREAD, &len))
		return -1;
	return pread(fd, buf, len, off);
}

static ssize_t faulty_pwritev2(int fd, const struct iovec *iov, int count,
			       off_t off, int flags)
{
	struct iovec one = iov[0];

	(void)count;
	if (fault_for(C_PWRITE, &one.iov_len))
		return -1;
	return pwritev2(fd, &one, 1, off, flags);
}

static int faulty_fstat(int fd, struct stat *st)
{
	if (fault_for(C_FSTAT, NULL))
		return -1;
	return fstat(fd, st);
}

static int faulty_ftruncate(int fd, off_t len)
{
	if (fault_for(C_FTRUNCATE, NULL))
		return -1;
	return ftruncate(fd, len);
}

static const struct sys_io faulty = {
	.pread = faulty_pread,
	.pwritev2 = faulty_pwritev2,
	.fstat = faulty_fstat,
	.ftruncate = faulty_ftruncate,
};

/* ---- a transport that is never alone and defers to the test -------- */

static void (*deferred_fn)(void *arg);
static _Alignas(16) char deferred_arg[REQUEST_DEFER_MAX];
static unsigned deferrals;

static int test_defer(struct bfs_request *r, void (*fn)(void *arg),
		      const void *arg, size_t len)
{
	(void)r;
	assert_true(len <= sizeof(deferred_arg));
	memcpy(deferred_arg, arg, len);
	deferred_fn = fn;
	deferrals++;
	return 0;
}

static bool never_alone(const struct bfs_request *r)
{
	(void)r;
	return false;
}

static const struct request_transport busy = {
	.defer = test_defer,
	.alone = never_alone,
};

/* ---- the fixture --------------------------------------------------- */

static struct bfs_dio d;
static struct bfs_inode inode;
static struct bfs_file file;
static const fuse_req_t REQ = (fuse_req_t)(uintptr_t)0x1000;

static int setup(void **state)
{
	char path[] = "/tmp/bouncefs-test-dio-XXXXXX";
	int fd = mkstemp(path);
	struct bfs_request *r = bfs_request_self();

	(void)state;
	assert_true(fd >= 0);
	unlink(path);
	memset(&inode, 0, sizeof(inode));
	range_lock_init(&inode.writers);
	memset(&file, 0, sizeof(file));
	file.fd = file.dfd = fd;
	file.align = A;
	file.inode = &inode;
	assert_int_equal(dio_init(&d, 4, 2, A, 0), 0);
	r->transport = NULL;
	r->may_block = true;
	r->buf_idx = pool_take(&d.pool);
	r->buf_taken = false;
	sys_io = &faulty;
	faults_reset();
	reply_reset();
	deferrals = 0;
	deferred_fn = NULL;
	return 0;
}

static int teardown(void **state)
{
	struct bfs_request *r = bfs_request_self();

	(void)state;
	sys_io = &sys_io_real;
	assert_int_equal(fake_engine_pending(), 0);
	if (!r->buf_taken)
		pool_give(&d.pool, r->buf_idx);
	/* Every buffer an I/O took came back. */
	assert_int_equal(pool_in_use(&d.pool), 0);
	r->buf_idx = REQUEST_NO_BUFFER;
	r->transport = NULL;
	r->may_block = true;
	dio_destroy(&d);
	close(file.fd);
	range_lock_destroy(&inode.writers);
	return 0;
}

/* A new receive buffer, if an I/O took the last one. */
static void next_request(void)
{
	struct bfs_request *r = bfs_request_self();

	if (r->buf_taken) {
		r->buf_idx = pool_take(&d.pool);
		r->buf_taken = false;
	}
	reply_reset();
}

/* The payload, where a WRITE's lands in its receive buffer. */
static char *payload_of(const char *data, size_t len)
{
	char *p = pool_buf(&d.pool, bfs_request_self()->buf_idx) + d.header_room;

	memcpy(p, data, len);
	return p;
}

static void fill(char *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)('a' + (i * 7 + seed) % 26);
}

/* The file: len bytes of pattern seed. */
static void file_reset(size_t len, unsigned seed)
{
	static char buf[4 * A];

	assert_true(len <= sizeof(buf));
	fill(buf, len, seed);
	assert_int_equal(ftruncate(file.fd, 0), 0);
	assert_int_equal(pwrite(file.fd, buf, len, 0), (ssize_t)len);
}

static size_t file_size(void)
{
	struct stat st;

	assert_int_equal(fstat(file.fd, &st), 0);
	return (size_t)st.st_size;
}

static void assert_file(const char *want, size_t len)
{
	static char got[4 * A];

	assert_int_equal(file_size(), len);
	assert_int_equal(pread(file.fd, got, len, 0), (ssize_t)len);
	assert_memory_equal(got, want, len);
}

/* No writer holds any range of the file. */
static void assert_unlocked(void)
{
	struct range_lock_entry e;

	assert_true(range_lock_try(&inode.writers, &e, 0, RANGE_LOCK_EOF));
	range_lock_release(&inode.writers, &e);
}

/* ---- writes -------------------------------------------------------- */

static void test_write_zero_bytes(void **state)
{
	(void)state;
	dio_write(&d, REQ, &file, payload_of("", 0), 0, 0, 0, false);
	assert_int_equal(reply.kind, R_WRITE);
	assert_int_equal(reply.count, 0);
	assert_int_equal(calls[C_PWRITE], 0);
}

static void test_aligned_write_alone_is_served_here(void **state)
{
	char want[3 * A], data[2 * A];

	(void)state;
	file_reset(3 * A, 1);
	assert_int_equal(pread(file.fd, want, 3 * A, 0), 3 * A);
	fill(data, sizeof(data), 9);
	memcpy(want + A, data, sizeof(data));
	dio_write(&d, REQ, &file, payload_of(data, sizeof(data)), sizeof(data),
		  A, 0, false);
	assert_int_equal(fake_engine_submitted(), 0);
	assert_int_equal(reply.kind, R_WRITE);
	assert_int_equal(reply.count, 2 * A);
	assert_file(want, 3 * A);
	assert_unlocked();
}

static void test_aligned_write_short_and_eintr_resumes(void **state)
{
	char data[3 * A];

	(void)state;
	file_reset(0, 0);
	fill(data, sizeof(data), 3);
	fault_add(C_PWRITE, 1, 0, 1000);     /* short */
	fault_add(C_PWRITE, 2, EINTR, 0);    /* interrupted */
	dio_write(&d, REQ, &file, payload_of(data, sizeof(data)), sizeof(data),
		  0, 0, false);
	assert_int_equal(reply.kind, R_WRITE);
	assert_int_equal(reply.count, 3 * A);
	assert_file(data, sizeof(data));
}

static void test_aligned_write_enospc_after_part_reports_part(void **state)
{
	char data[3 * A];

	(void)state;
	file_reset(0, 0);
	fill(data, sizeof(data), 4);
	fault_add(C_PWRITE, 1, 0, A);
	fault_add(C_PWRITE, 2, ENOSPC, 0);
	dio_write(&d, REQ, &file, payload_of(data, sizeof(data)), sizeof(data),
		  0, 0, false);
	/* What reached the file, as write(2) would say. */
	assert_int_equal(reply.kind, R_WRITE);
	assert_int_equal(reply.count, A);
	assert_file(data, A);
	next_request();
	fault_add(C_PWRITE, 0, ENOSPC, 0);
	dio_write(&d, REQ, &file, payload_of(data, sizeof(data)), sizeof(data),
		  A, 0, false);
	assert_int_equal(reply.kind, R_ERR);
	assert_int_equal(reply.err, ENOSPC);
	assert_file(data, A);
	assert_unlocked();
}

static void test_ring_write_short_eagain_resubmits(void **state)
{
	char data[3 * A];

	(void)state;
	bfs_request_self()->transport = &busy;
	file_reset(0, 0);
	fill(data, sizeof(data), 5);
	dio_write(&d, REQ, &file, payload_of(data, sizeof(data)), sizeof(data),
		  0, 0, false);
	/* Through the engine: not answered yet, the range held. */
	assert_int_equal(fake_engine_pending(), 1);
	assert_int_equal(reply.n, 0);
	assert_true(bfs_request_self()->buf_taken);
	fault_add(C_PWRITE, 1, 0, A);            /* the kernel wrote a block */
	assert_true(fake_engine_run_one(&d.engine));
	assert_int_equal(reply.n, 0);
	assert_int_equal(fake_engine_peek()->len, 2 * A);  /* the rest */
	assert_true(fake_engine_complete_one(&d.engine, -EAGAIN));
	assert_int_equal(fake_engine_pending(), 1);
	assert_int_equal(fake_engine_peek()->off, A);
	fake_engine_run_all(&d.engine);
	assert_int_equal(reply.kind, R_WRITE);
	assert_int_equal(reply.count, 3 * A);
	assert_file(data, sizeof(data));
	assert_unlocked();
}

static void test_ring_write_error_after_part_and_first(void **state)
{
	char data[2 * A];

	(void)state;
	bfs_request_self()->transport = &busy;
	file_reset(0, 0);
	fill(data, sizeof(data), 6);
	dio_write(&d, REQ, &file, payload_of(data, sizeof(data)), sizeof(data),
		  0, 0, false);
	assert_true(fake_engine_complete_one(&d.engine, (int)A));
	assert_true(fake_engine_complete_one(&d.engine, -ENOSPC));
	assert_int_equal(reply.kind, R_WRITE);
	assert_int_equal(reply.count, A);
	next_request();
	dio_write(&d, REQ, &file, payload_of(data, sizeof(data)), sizeof(data),
		  0, 0, false);
	assert_true(fake_engine_complete_one(&d.engine, -EIO));
	assert_int_equal(reply.kind, R_ERR);
	assert_int_equal(reply.err, EIO);
	assert_unlocked();
}

/* ---- read-modify-write --------------------------------------------- */

/* 100 bytes at 4000 of a 3-block file: a head and a tail block. */
static void test_rmw_head_and_tail(void **state)
{
	char want[3 * A], data[100];

	(void)state;
	file_reset(3 * A, 7);
	assert_int_equal(pread(file.fd, want, 3 * A, 0), 3 * A);
	fill(data, sizeof(data), 11);
	memcpy(want + 4000, data, sizeof(data));
	dio_write(&d, REQ, &file, payload_of(data, sizeof(data)), sizeof(data),
		  4000, 0, false);
	assert_int_equal(reply.kind, R_WRITE);
	assert_int_equal(reply.count, 100);
	assert_int_equal(calls[C_PREAD], 2);   /* head block, tail block */
	assert_file(want, 3 * A);
	assert_unlocked();
}

/* 100 bytes at 10 of an empty file: the image is padded with zeros and
 * cut back to where the write ends. */
static void test_rmw_extends_file_exactly(void **state)
{
	char want[110] = { 0 }, data[100];

	(void)state;
	file_reset(0, 0);
	fill(data, sizeof(data), 12);
	memcpy(want + 10, data, sizeof(data));
	dio_write(&d, REQ, &file, payload_of(data, sizeof(data)), sizeof(data),
		  10, 0, false);
	assert_int_equal(reply.kind, R_WRITE);
	assert_int_equal(reply.count, 100);
	assert_file(want, sizeof(want));
	assert_unlocked();
}

static void test_rmw_short_transfers_resume(void **state)
{
	char want[3 * A], data[A + 200];

	(void)state;
	file_reset(3 * A, 8);
	assert_int_equal(pread(file.fd, want, 3 * A, 0), 3 * A);
	fill(data, sizeof(data), 13);
	memcpy(want + 100, data, sizeof(data));
	fault_add(C_PWRITE, 0, 0, 512);       /* every write 512 bytes at most */
	dio_write(&d, REQ, &file, payload_of(data, sizeof(data)), sizeof(data),
		  100, 0, false);
	assert_int_equal(reply.kind, R_WRITE);
	assert_int_equal(reply.count, sizeof(data));
	assert_true(calls[C_PWRITE] >= 4);
	assert_file(want, 3 * A);
	assert_unlocked();
}

/* A fault at each step of a read-modify-write: the write fails with it,
 * the file is as before, no range stays locked, no buffer is lost. */
static void test_rmw_fault_at_every_step(void **state)
{
	static const struct { enum call call; unsigned nth; const char *step; } steps[] = {
		{ C_FSTAT, 1, "size before the lock" },
		{ C_FSTAT, 2, "size under the lock" },
		{ C_PREAD, 1, "head block" },
		{ C_PREAD, 2, "tail block" },
		{ C_PWRITE, 1, "image" },
	};
	static const int errs[] = { EIO, ENOSPC, EAGAIN };
	char before[3 * A], data[100];

	(void)state;
	fill(data, sizeof(data), 14);
	for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
		for (size_t e = 0; e < sizeof(errs) / sizeof(errs[0]); e++) {
			next_request();
			file_reset(3 * A, 9);
			assert_int_equal(pread(file.fd, before, 3 * A, 0), 3 * A);
			faults_reset();
			fault_add(steps[s].call, steps[s].nth, errs[e], 0);
			dio_write(&d, REQ, &file, payload_of(data, sizeof(data)),
				  sizeof(data), 4000, 0, false);
			if (reply.kind != R_ERR || reply.err != errs[e])
				fail_msg("fault at %s (%s): answer %d/%d",
					 steps[s].step, strerror(errs[e]),
					 reply.kind, reply.err);
			assert_file(before, 3 * A);
			assert_unlocked();
		}
	}
}

/* The cut back after an image past the end fails: the data is there and
 * the write is answered with it (the file keeps the image's padding). */
static void test_rmw_truncate_fault_keeps_data(void **state)
{
	char got[100], data[100];

	(void)state;
	file_reset(5000, 10);
	fill(data, sizeof(data), 15);
	fault_add(C_FTRUNCATE, 1, EIO, 0);
	dio_write(&d, REQ, &file, payload_of(data, sizeof(data)), sizeof(data),
		  5000, 0, false);
	assert_int_equal(reply.kind, R_WRITE);
	assert_int_equal(reply.count, 100);
	assert_int_equal(pread(file.fd, got, 100, 5000), 100);
	assert_memory_equal(got, data, 100);
	assert_unlocked();
}

/* ---- reads --------------------------------------------------------- */

static void test_read_unaligned_and_eof_tail(void **state)
{
	char want[5000];

	(void)state;
	file_reset(5000, 16);
	assert_int_equal(pread(file.fd, want, 5000, 0), 5000);
	dio_read(&d, REQ, &file, 100, 10);
	assert_int_equal(reply.kind, R_BUF);
	assert_int_equal(reply.count, 100);
	assert_memory_equal(reply.data, want + 10, 100);
	next_request();
	/* Up to the end of the file: 904 of the 8192 asked for. */
	dio_read(&d, REQ, &file, 2 * A, A);
	assert_int_equal(reply.kind, R_BUF);
	assert_int_equal(reply.count, 5000 - A);
	assert_memory_equal(reply.data, want + A, 5000 - A);
	next_request();
	dio_read(&d, REQ, &file, A, 2 * A);
	assert_int_equal(reply.kind, R_BUF);
	assert_int_equal(reply.count, 0);
}

static void test_read_error_here(void **state)
{
	(void)state;
	file_reset(2 * A, 17);
	fault_add(C_PREAD, 1, EIO, 0);
	dio_read(&d, REQ, &file, 2 * A, 0);
	assert_int_equal(reply.kind, R_ERR);
	assert_int_equal(reply.err, EIO);
}

static void test_ring_read_short_blocks_resume(void **state)
{
	char want[3 * A];

	(void)state;
	bfs_request_self()->transport = &busy;
	file_reset(3 * A, 18);
	assert_int_equal(pread(file.fd, want, 3 * A, 0), 3 * A);
	dio_read(&d, REQ, &file, 3 * A, 0);
	assert_int_equal(reply.n, 0);
	fault_add(C_PREAD, 0, 0, A);      /* a block per completion */
	assert_int_equal(fake_engine_run_all(&d.engine), 3);
	assert_int_equal(reply.kind, R_BUF);
	assert_int_equal(reply.count, 3 * A);
	assert_memory_equal(reply.data, want, 3 * A);
}

/* An error after part of a read: a direct read answers the error, a
 * cached one what it read (as read(2) does). */
static void test_ring_read_error_after_part(void **state)
{
	char want[2 * A];

	(void)state;
	bfs_request_self()->transport = &busy;
	file_reset(2 * A, 19);
	assert_int_equal(pread(file.fd, want, 2 * A, 0), 2 * A);
	fault_add(C_PREAD, 1, 0, A);
	dio_read(&d, REQ, &file, 2 * A, 0);
	assert_true(fake_engine_run_one(&d.engine));
	assert_true(fake_engine_complete_one(&d.engine, -EIO));
	assert_int_equal(reply.kind, R_ERR);
	assert_int_equal(reply.err, EIO);
	next_request();
	faults_reset();
	fault_add(C_PREAD, 1, 0, A);
	dio_read_cached(&d, REQ, &file, 2 * A, 0);
	assert_true(fake_engine_run_one(&d.engine));
	assert_true(fake_engine_complete_one(&d.engine, -EIO));
	assert_int_equal(reply.kind, R_BUF);
	assert_int_equal(reply.count, A);
	assert_memory_equal(reply.data, want, A);
}

/* ---- the range lock and threads that must not block ----------------- */

/* A thread that must not block (a ring's queue thread) defers what would
 * wait for the range lock; the deferred write, run where it may block,
 * waits for the lock and completes. */
static void test_locked_range_defers_then_completes(void **state)
{
	struct bfs_request *r = bfs_request_self();
	struct range_lock_entry held;
	char want[2 * A], data[A];

	(void)state;
	file_reset(2 * A, 20);
	assert_int_equal(pread(file.fd, want, 2 * A, 0), 2 * A);
	fill(data, sizeof(data), 21);
	memcpy(want, data, A);
	range_lock_acquire(&inode.writers, &held, 0, A);
	r->transport = &busy;
	r->may_block = false;
	/* Aligned: through the engine, but the range is held. */
	dio_write(&d, REQ, &file, payload_of(data, A), A, 0, 0, false);
	assert_int_equal(deferrals, 1);
	assert_int_equal(reply.n, 0);
	assert_int_equal(fake_engine_pending(), 0);
	range_lock_release(&inode.writers, &held);
	/* The helper: its request context may block, and the buffer is the
	 * same (a ring entry's). */
	r->may_block = true;
	r->buf_taken = false;
	deferred_fn(deferred_arg);
	fake_engine_run_all(&d.engine);
	assert_int_equal(reply.kind, R_WRITE);
	assert_int_equal(reply.count, A);
	assert_file(want, 2 * A);
	assert_unlocked();
}

/* An unaligned write is never served by a thread that must not block. */
static void test_rmw_is_deferred_from_a_nonblocking_thread(void **state)
{
	struct bfs_request *r = bfs_request_self();
	char want[2 * A], data[10];

	(void)state;
	file_reset(2 * A, 22);
	assert_int_equal(pread(file.fd, want, 2 * A, 0), 2 * A);
	fill(data, sizeof(data), 23);
	memcpy(want + 5, data, sizeof(data));
	r->transport = &busy;
	r->may_block = false;
	dio_write(&d, REQ, &file, payload_of(data, sizeof(data)), sizeof(data),
		  5, 0, false);
	assert_int_equal(deferrals, 1);
	assert_int_equal(reply.n, 0);
	assert_int_equal(calls[C_PREAD] + calls[C_PWRITE] + calls[C_FSTAT], 0);
	r->may_block = true;
	deferred_fn(deferred_arg);
	assert_int_equal(reply.kind, R_WRITE);
	assert_int_equal(reply.count, sizeof(data));
	assert_file(want, 2 * A);
}

/* Without a transport that can defer, the answer is the error. */
static void test_defer_without_transport_fails(void **state)
{
	struct bfs_request *r = bfs_request_self();
	char data[10] = "0123456789";

	(void)state;
	file_reset(A, 24);
	r->may_block = false;
	dio_write(&d, REQ, &file, payload_of(data, sizeof(data)), sizeof(data),
		  5, 0, false);
	assert_int_equal(reply.kind, R_ERR);
	assert_int_equal(reply.err, EINVAL);
	r->may_block = true;
}

/* ---- the request context itself --------------------------------- */

static void nothing(void *arg)
{
	(void)arg;
}

static void test_request_context(void **state)
{
	struct {
		struct fuse_in_header h;
		struct fuse_write_in w;
	} msg = { .h = { .opcode = FUSE_WRITE, .len = sizeof(msg) },
		  .w = { .write_flags = 7 } };
	const struct fuse_write_in *w;

	(void)state;
	/* Outside a request: nothing to read, defer fails, always alone. */
	assert_null(bfs_request_arg(FUSE_WRITE, sizeof(*w)));
	assert_int_equal(bfs_request_defer(NULL, NULL, 0), -EINVAL);
	assert_true(bfs_request_alone());
	bfs_request_begin(&msg, sizeof(msg));
	w = bfs_request_arg(FUSE_WRITE, sizeof(*w));
	assert_non_null(w);
	assert_int_equal(w->write_flags, 7);
	/* Another opcode, or more than the request holds. */
	assert_null(bfs_request_arg(FUSE_OPEN, sizeof(*w)));
	assert_null(bfs_request_arg(FUSE_WRITE, sizeof(*w) + 1));
	bfs_request_end();
	assert_null(bfs_request_arg(FUSE_WRITE, sizeof(*w)));
	/* A transport's hooks answer instead. */
	bfs_request_self()->transport = &busy;
	assert_false(bfs_request_alone());
	assert_int_equal(bfs_request_defer(nothing, "x", 2), 0);
	assert_ptr_equal(deferred_fn, nothing);
	assert_int_equal(deferrals, 1);
	assert_string_equal(deferred_arg, "x");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_write_zero_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aligned_write_alone_is_served_here, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aligned_write_short_and_eintr_resumes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aligned_write_enospc_after_part_reports_part, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ring_write_short_eagain_resubmits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ring_write_error_after_part_and_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rmw_head_and_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rmw_extends_file_exactly, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rmw_short_transfers_resume, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rmw_fault_at_every_step, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rmw_truncate_fault_keeps_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_unaligned_and_eof_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_error_here, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ring_read_short_blocks_resume, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ring_read_error_after_part, setup, teardown),
		cmocka_unit_test_setup_teardown(test_locked_range_defers_then_completes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rmw_is_deferred_from_a_nonblocking_thread, setup, teardown),
		cmocka_unit_test_setup_teardown(test_defer_without_transport_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_context, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
