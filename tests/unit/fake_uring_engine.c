/*
 * A fake io_uring engine (dio/uring_engine.h) for the direct-I/O unit
 * tests: engine_submit queues an I/O; fake_engine_run_one performs the
 * oldest one through the system-call table (dio/sys_io.h, where the test
 * injects faults), or completes it with a result the test chooses, and
 * calls its callback as a completion thread would.
 */
#include "fake_uring_engine.h"

#include <errno.h>
#include <string.h>

#define FAKE_MAX 64

static struct uring_io *queue[FAKE_MAX];
static unsigned head, tail;
static unsigned submitted;

int engine_init(struct uring_engine *e, unsigned lanes, unsigned entries,
		const struct iovec *bufs, unsigned nbufs)
{
	(void)lanes;
	(void)entries;
	(void)bufs;
	(void)nbufs;
	memset(e, 0, sizeof(*e));
	e->nlanes = 1;
	e->running = true;
	head = tail = submitted = 0;
	return 0;
}

struct io_uring_sqe *engine_get_sqe(struct io_uring *ring)
{
	(void)ring;
	return NULL;
}

void engine_submit(struct uring_engine *e, struct uring_io *io)
{
	if (tail - head >= FAKE_MAX) {
		io->done(io, -EBUSY);
		return;
	}
	atomic_fetch_add(&e->inflight, 1);
	queue[tail++ % FAKE_MAX] = io;
	submitted++;
}

void engine_own_ring(struct io_uring *ring, bool fixed, unsigned *inflight)
{
	(void)ring;
	(void)fixed;
	(void)inflight;
}

void engine_complete(struct uring_engine *e, struct uring_io *io, int res)
{
	io->done(io, res);
	atomic_fetch_sub(&e->inflight, 1);
}

void engine_stop(struct uring_engine *e)
{
	e->running = false;
}

unsigned fake_engine_pending(void)
{
	return tail - head;
}

unsigned fake_engine_submitted(void)
{
	return submitted;
}

const struct uring_io *fake_engine_peek(void)
{
	return head == tail ? NULL : queue[head % FAKE_MAX];
}

bool fake_engine_complete_one(struct uring_engine *e, int res)
{
	struct uring_io *io;

	if (head == tail)
		return false;
	io = queue[head++ % FAKE_MAX];
	engine_complete(e, io, res);
	return true;
}

bool fake_engine_run_one(struct uring_engine *e)
{
	const struct uring_io *io = fake_engine_peek();
	ssize_t n;

	if (!io)
		return false;
	if (io->write) {
		struct iovec iov = { io->addr, io->len };

		n = sys_io->pwritev2(io->fd, &iov, 1, (off_t)io->off,
				     io->rw_flags);
	} else {
		n = sys_io->pread(io->fd, io->addr, io->len, (off_t)io->off);
	}
	return fake_engine_complete_one(e, n < 0 ? -errno : (int)n);
}

unsigned fake_engine_run_all(struct uring_engine *e)
{
	unsigned n = 0;

	while (n < 10000 && fake_engine_run_one(e))
		n++;
	return n;
}
