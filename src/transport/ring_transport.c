/* FUSE over io_uring: queue threads, ring entries, helpers. */
#include "transport/ring_transport.h"
#include "core/kernel_features.h"
#include "transport/closing.h"
#include "dio/dio.h"
#include "dio/request.h"
#include "core/helper_pool.h"
#include "core/log.h"
#include "core/placement.h"
#include "core/ring_shape.h"
#include "core/stats.h"
#include "core/tsan_annotations.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <liburing.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* The kernel's ABI (7.42); Debian 12's <linux/fuse.h> predates it. */
#define RING_HEADER_SZ 128
#define RING_OP_SZ 128
#define RING_CMD_REGISTER 1
#define RING_CMD_COMMIT_AND_FETCH 2

struct ring_ent_in_out {
	uint64_t flags;
	uint64_t commit_id;
	uint32_t payload_sz;
	uint32_t padding;
	uint64_t reserved;
};

struct ring_req_header {
	char in_out[RING_HEADER_SZ];   /* fuse_in_header / fuse_out_header */
	char op_in[RING_OP_SZ];        /* the request's first argument */
	struct ring_ent_in_out ent;
};

struct ring_cmd_req {
	uint64_t flags;
	uint64_t commit_id;
	uint16_t qid;
	uint8_t padding[6];
};

#define ENABLE_PARAM "/sys/module/fuse/parameters/enable_uring"
#define POSSIBLE_CPUS "/sys/devices/system/cpu/possible"
#define TAG_ENTRY 1ull          /* user_data low bit: a FUSE command */
#define TAG_WAKE 2ull           /* user_data: the queue's eventfd read */
#define SLOT_SIZE REQUEST_DEFER_MAX

struct ring_queue;

struct ring_entry {
	struct ring_req_header *hdr;
	struct ring_queue *q;
	unsigned buf_idx;
	char *payload;
	size_t payload_len;
	_Atomic uint64_t unique;       /* request being served, 0 if none */
	char *req;                     /* the rebuilt request */
	uint32_t req_len;
	bool dead;
	/* Helper work: the item, and a deferred function and its argument. */
	struct helper_work hw;
	void (*fn)(void *arg);
	_Alignas(16) char slot[SLOT_SIZE];
	struct ring_entry *next;       /* commit list */
	struct iovec reg[2];           /* header and payload, for REGISTER */
};

struct ring_queue {
	struct ring_transport *rt;
	unsigned qid;
	struct io_uring ring;
	bool ring_ok;
	pthread_t thread;
	bool started;
	int efd;
	uint64_t efd_val;
	pthread_mutex_t commit_lock;
	struct ring_entry *commits;    /* answered by other threads */
	struct ring_entry *entries;
	unsigned nentries;
	unsigned live;
	unsigned own_inflight;         /* backing I/Os on this ring */
	unsigned batch;                /* requests in this wake-up */
	_Atomic unsigned busy;         /* requests received, not answered */
	struct placement pl;           /* see place() */
	int sched_fd;                  /* its /proc/thread-self/schedstat */
	unsigned wakeups;
	uint64_t wait0, slices0;       /* schedstat at the last sample */
	bool placeable;                /* may keep to its CPU */
	bool no_iowait;                /* its waits may be kept out of iowait */
	cpu_set_t allowed;             /* where the thread may run unpinned */
	bool fixed;
};

struct ring_transport {
	struct fuse_session *se;
	struct bfs_dio *dio;
	unsigned nq;
	unsigned tpq, nthreads, per_thread; /* threads per queue, in all, entries each */
	struct ring_queue *queues;
	/* Queues [0, ready) are set up, published with release order:
	 * answers from other threads look for their entry among them. */
	_Atomic unsigned ready;
	_Atomic bool active, stopping, started;
	_Atomic bool refused; /* a registration failed before any request */
	struct helper_pool helpers;
	unsigned max_helpers;
};

/* A queue's ring: 128-byte SQEs for the FUSE commands; only its thread
 * submits, and the kernel's work for it waits until that thread asks. */
#define RING_SETUP_FLAGS (IORING_SETUP_SQE128 | IORING_SETUP_CQSIZE | \
			  IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN)

static const struct request_transport ring_hooks;

static unsigned possible_cpus(void)
{
	FILE *f = fopen(POSSIBLE_CPUS, "r");
	unsigned n = 0, a, b;
	char sep;

	if (!f)
		return 0;
	while (fscanf(f, "%u", &a) == 1) {
		b = a;
		if (fscanf(f, "%c", &sep) == 1 && sep == '-') {
			if (fscanf(f, "%u", &b) != 1)
				break;
			if (fscanf(f, "%c", &sep) != 1)
				sep = '\n';
		}
		n += b >= a ? b - a + 1 : 1;
		if (sep != ',')
			break;
	}
	fclose(f);
	return n;
}

static int param_enabled(void)
{
	char c = 0;
	int fd = open(ENABLE_PARAM, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;  /* no FUSE over io_uring in this kernel */
	if (read(fd, &c, 1) != 1)
		c = 0;
	close(fd);
	return c == 'Y' || c == 'y' || c == '1';
}

bool ring_transport_wanted(enum bfs_uring_mode mode)
{
	int on;

	if (mode == BFS_URING_OFF || possible_cpus() == 0)
		return false;
	on = param_enabled();
	if (on < 0) {
		kernel_feature_lacking(BFS_KF_FUSE_OVER_IO_URING);
		return false;
	}
	if (!on && mode == BFS_URING_ON) {
		int fd = open(ENABLE_PARAM, O_WRONLY | O_CLOEXEC);

		if (fd >= 0) {
			if (write(fd, "Y", 1) == 1)
				bfs_log(LOG_INFO, "turned on FUSE over io_uring (fuse.enable_uring=Y)");
			close(fd);
		}
		on = param_enabled() == 1;
		if (!on)
			bfs_log(LOG_INFO, "cannot turn on FUSE over io_uring; using /dev/fuse");
	}
	return on;
}

unsigned ring_transport_buffers(unsigned queue_depth)
{
	unsigned nq = possible_cpus();
	struct ring_shape sh = ring_shape_for(queue_depth, nq);

	return nq * sh.threads_per_queue * sh.entries_per_thread;
}

/* The queues' rings are made after INIT, in their threads; what the kernel
 * lacks for them is found now, on a small ring of the same kind, so that
 * the line that says what lacked (at INIT) has it. */
static void probe_ring_features(void)
{
	struct io_uring_params p;
	struct io_uring ring;

	memset(&p, 0, sizeof(p));
	p.flags = RING_SETUP_FLAGS;
	p.cq_entries = 8;
	if (uring_setup(4, &ring, &p, IORING_SETUP_SQE128) < 0)
		return;
	if (!(p.features & ENGINE_FEAT_NO_IOWAIT))
		kernel_feature_lacking(BFS_KF_ENTER_NO_IOWAIT);
	io_uring_queue_exit(&ring);
}

struct ring_transport *ring_transport_setup(struct fuse_session *se,
					    struct bfs_dio *dio,
					    unsigned queue_depth,
					    unsigned max_helpers)
{
	struct ring_transport *rt = calloc(1, sizeof(*rt));
	struct ring_shape sh;

	if (!rt)
		return NULL;

	rt->se = se;
	rt->dio = dio;
	rt->nq = possible_cpus();
	sh = ring_shape_for(queue_depth, rt->nq);
	rt->tpq = sh.threads_per_queue;
	rt->per_thread = sh.entries_per_thread;
	rt->nthreads = rt->nq * rt->tpq;
	rt->max_helpers = max_helpers;
	probe_ring_features();
	return rt;
}

/* ---- helpers ---------------------------------------------------------- */

#define ENTRY_OF(w) ((struct ring_entry *)((char *)(w) - offsetof(struct ring_entry, hw)))

/* Queue e for a helper: 0, or the -errno to answer with (-ENOTCONN once the
 * daemon is stopping, EAGAIN if no helper thread could be started). */
static int to_helper(struct ring_entry *e, void (*run)(struct helper_work *))
{
	int rc;

	e->hw.run = run;
	rc = helper_pool_push(&e->q->rt->helpers, &e->hw);
	if (rc == -EAGAIN)
		bfs_log(LOG_ERR, "cannot start a helper thread");
	if (rc)
		return rc == -ESHUTDOWN ? -ENOTCONN : rc;
	stats_add(&bfs_stats.ring_helped, 1);
	return 0;
}

/* A helper thread serves e's request now: it was received into e's
 * buffer. */
static void use_entry(struct ring_entry *e)
{
	struct bfs_request *r = bfs_request_self();

	r->buf_idx = e->buf_idx;
	r->buf_taken = false;
}

static void run_deferred(struct helper_work *w)
{
	struct ring_entry *e = ENTRY_OF(w);

	use_entry(e);
	e->fn(e->slot);
}

/* The request context's hooks (request.h) on a queue thread. */
static int hook_defer(struct bfs_request *r, void (*fn)(void *arg),
		      const void *arg, size_t len)
{
	struct ring_entry *e = r->entry;

	if (!e || len > SLOT_SIZE)
		return -EINVAL;
	memcpy(e->slot, arg, len);
	e->fn = fn;
	return to_helper(e, run_deferred);
}

/* The only request of its queue thread now, with no I/O of its own in
 * flight: served synchronously, without a round trip through the ring. */
static bool hook_alone(const struct bfs_request *r)
{
	const struct ring_queue *q = r->thread_state;

	return !r->entry || (q->batch == 1 && q->own_inflight == 0);
}

static const struct request_transport ring_hooks = {
	.defer = hook_defer,
	.alone = hook_alone,
};

/* ---- the queue thread ------------------------------------------------- */

static void prep_cmd(struct ring_queue *q, struct ring_entry *e, unsigned op)
{
	struct io_uring_sqe *sqe = engine_get_sqe(&q->ring);
	struct ring_cmd_req *cmd;

	if (!sqe) {
		/* Cannot happen: the SQ holds every entry twice over. */
		bfs_log(LOG_ERR, "FUSE ring %u: no room to submit", q->qid);
		e->dead = true;
		q->live--;
		return;
	}
	memset(sqe, 0, 128);
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = fuse_session_fd(q->rt->se);
	sqe->cmd_op = op;
	if (op == RING_CMD_REGISTER) {
		sqe->addr = (uint64_t)(uintptr_t)e->reg;
		sqe->len = 2;
	}
	cmd = (struct ring_cmd_req *)sqe->cmd;
	cmd->qid = (uint16_t)q->qid;
	cmd->commit_id = op == RING_CMD_COMMIT_AND_FETCH ?
		atomic_load(&e->unique) : 0;
	if (op == RING_CMD_COMMIT_AND_FETCH) {
		atomic_store(&e->unique, 0);
		atomic_fetch_sub(&q->busy, 1);
	}
	io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)e | TAG_ENTRY);
}

static void prep_wake(struct ring_queue *q)
{
	struct io_uring_sqe *sqe = engine_get_sqe(&q->ring);

	if (!sqe)
		return;
	io_uring_prep_read(sqe, q->efd, &q->efd_val, sizeof(q->efd_val), 0);
	io_uring_sqe_set_data64(sqe, TAG_WAKE);
}

static void answer_err(struct ring_entry *e, int rc)
{
	struct fuse_out_header oh = {
		.len = sizeof(oh), .error = rc,
		.unique = atomic_load(&e->unique),
	};
	struct iovec iov = { &oh, sizeof(oh) };
	ssize_t n;

	ring_transport_reply(e->q->rt, &iov, 1, &n);
}

static void process(struct ring_entry *e)
{
	struct fuse_buf fb = { .mem = e->req, .size = e->req_len };

	bfs_request_begin(e->req, e->req_len);
	fuse_session_process_buf(e->q->rt->se, &fb);
	bfs_request_end();
}

static void run_process(struct helper_work *w)
{
	struct ring_entry *e = ENTRY_OF(w);

	use_entry(e);
	process(e);
}

/* A request arrived in e: rebuild the /dev/fuse layout in front of the
 * payload and serve it here (bfs_request_served_in_place) or in a
 * helper. */
static void serve(struct ring_queue *q, struct ring_entry *e)
{
	struct fuse_in_header ih;
	uint32_t psz = e->hdr->ent.payload_sz;
	size_t arg0;
	int rc;
	char *start;

	TSAN_FUSE_RECEIVED();
	memcpy(&ih, e->hdr->in_out, sizeof(ih));
	stats_add(&bfs_stats.ring_requests, 1);
	atomic_store(&e->unique, ih.unique);
	atomic_fetch_add(&q->busy, 1);
	if (ih.len < sizeof(ih) + psz || psz > e->payload_len ||
	    (arg0 = ih.len - sizeof(ih) - psz) > RING_OP_SZ) {
		bfs_log(LOG_WARNING, "FUSE ring %u: malformed request (opcode %u)",
			q->qid, ih.opcode);
		answer_err(e, -EIO);
		return;
	}
	start = e->payload - arg0 - sizeof(ih);
	memcpy(start, &ih, sizeof(ih));
	memcpy(start + sizeof(ih), e->hdr->op_in, arg0);
	e->req = start;
	e->req_len = ih.len;
	if (closing_refuses(start, ih.len)) {
		answer_err(e, -ENOTCONN);
		return;
	}
	if (bfs_request_served_in_place(ih.opcode)) {
		struct bfs_request *r = bfs_request_self();

		use_entry(e);
		r->entry = e;
		process(e);
		r->entry = NULL;
		return;
	}
	rc = to_helper(e, run_process);
	if (rc)
		answer_err(e, rc);
}

/* Commits staged by other threads. */
static void take_commits(struct ring_queue *q)
{
	struct ring_entry *list;

	pthread_mutex_lock(&q->commit_lock);
	list = q->commits;
	q->commits = NULL;
	pthread_mutex_unlock(&q->commit_lock);
	while (list) {
		struct ring_entry *next = list->next;

		prep_cmd(q, list, RING_CMD_COMMIT_AND_FETCH);
		list = next;
	}
}

static bool queue_done(struct ring_queue *q)
{
	return q->own_inflight == 0 && atomic_load(&q->busy) == 0 &&
	       (q->live == 0 || atomic_load(&q->rt->stopping));
}

/* In the queue thread: its ring is tied to the thread that made it. */
static int ring_init(struct ring_queue *q)
{
	struct ring_transport *rt = q->rt;
	struct io_uring_params p;
	struct iovec *iov;
	unsigned sq = 1;
	int rc;

	while (sq < 2 * rt->per_thread + 4)
		sq <<= 1;
	memset(&p, 0, sizeof(p));
	/* Only this thread submits, and the kernel's work for the ring (a
	 * request's copy into an entry, completions) waits until it asks. */
	p.flags = RING_SETUP_FLAGS;
	p.cq_entries = sq * 2;
	/* (a kernel with FUSE over io_uring has them all, unless configured
	 * without; the SQE128 entries carry the FUSE commands) */
	rc = uring_setup(sq, &q->ring, &p, IORING_SETUP_SQE128);
	if (rc < 0)
		return rc;
	q->ring_ok = true;
	q->no_iowait = (p.features & ENGINE_FEAT_NO_IOWAIT) != 0;
	iov = pool_iovecs(&rt->dio->pool);
	if (iov) {
		q->fixed = io_uring_register_buffers(&q->ring, iov,
						     rt->dio->pool.count) == 0;
		free(iov);
	}
	return 0;
}

/* Every PLACEMENT_SAMPLE_EVERY wake-ups, how long the thread waited on
 * run queues since the last sample. */
static void sample_crowd(struct ring_queue *q)
{
	unsigned long long run, wait, slices;
	char buf[96];
	ssize_t n;

	if (q->sched_fd < 0 || ++q->wakeups % PLACEMENT_SAMPLE_EVERY)
		return;
	n = pread(q->sched_fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return;
	buf[n] = '\0';
	if (sscanf(buf, "%llu %llu %llu", &run, &wait, &slices) != 3)
		return;
	if (q->slices0 && slices > q->slices0 && wait >= q->wait0)
		placement_note_sample(&q->pl, wait - q->wait0, slices - q->slices0);
	q->wait0 = wait;
	q->slices0 = slices;
}

static void place(struct ring_queue *q, unsigned outstanding)
{
	cpu_set_t set;

	if (!q->placeable)
		return;
	sample_crowd(q);
	if (placement_want_pinned(&q->pl, outstanding) == q->pl.pinned)
		return;
	if (q->pl.pinned) {
		set = q->allowed;
	} else {
		CPU_ZERO(&set);
		CPU_SET(q->qid, &set);
	}
	if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) == 0)
		q->pl.pinned = !q->pl.pinned;
	else if (!q->pl.pinned)
		q->placeable = false; /* e.g. an offline CPU: stay free */
}

/* A ring entry's command ended with res < 0. A registration the kernel
 * refuses before it has sent any request on the ring (a kernel that wants
 * something this build does not give it) is said once, for all queues:
 * the mount goes on over /dev/fuse. */
static void ring_entry_failed(struct ring_queue *q, int res)
{
	struct ring_transport *rt = q->rt;

	if (res == -ENOTCONN || res == -ECANCELED || res == -ECONNABORTED)
		return;
	if (!atomic_load(&rt->active)) {
		if (!atomic_exchange(&rt->refused, true))
			bfs_log(LOG_WARNING, "FUSE over io_uring: the kernel refused "
				"the ring (%s); requests stay on /dev/fuse",
				strerror(-res));
		return;
	}
	bfs_log(LOG_WARNING, "FUSE ring %u: %s", q->qid, strerror(-res));
}

static void *queue_main(void *arg)
{
	struct ring_queue *q = arg;
	struct ring_transport *rt = q->rt;
	struct bfs_request *r = bfs_request_self();
	int rc;

	/* Unpinned is as the daemon was started (a cpuset, taskset); a CPU
	 * outside that is never kept to. */
	q->placeable = pthread_getaffinity_np(pthread_self(), sizeof(q->allowed),
					      &q->allowed) == 0 &&
		       q->qid < CPU_SETSIZE && CPU_ISSET(q->qid, &q->allowed);
	/* Read only for placement, which a thread that may not keep to its
	 * CPU never does. */
	if (q->placeable)
		q->sched_fd = open("/proc/thread-self/schedstat",
				   O_RDONLY | O_CLOEXEC);
	rc = ring_init(q);
	if (rc) {
		bfs_log(LOG_WARNING, "FUSE over io_uring: queue %u: %s; "
			"requests stay on /dev/fuse", q->qid, strerror(-rc));
		return NULL;
	}
	/* What this thread serves itself must not wait for another request
	 * (see ring_transport.h); what may, it defers. */
	r->transport = &ring_hooks;
	r->thread_state = q;
	r->may_block = false;
	engine_own_ring(&q->ring, q->fixed, &q->own_inflight);

	for (unsigned i = 0; i < q->nentries; i++)
		prep_cmd(q, &q->entries[i], RING_CMD_REGISTER);
	prep_wake(q);

	for (;;) {
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;
		int rc;

		if (queue_done(q))
			break;
		place(q, atomic_load(&q->busy));
		rc = engine_wait_own(&q->ring, q->no_iowait);
		if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
			bfs_log(LOG_ERR, "FUSE ring %u: %s", q->qid, strerror(-rc));
			engine_drain_own(&rt->dio->engine, &q->ring, &q->own_inflight);
			break;
		}
		q->batch = 0;
		io_uring_for_each_cqe(&q->ring, head, cqe)
			if ((io_uring_cqe_get_data64(cqe) & TAG_ENTRY) && cqe->res == 0)
				q->batch++;
		io_uring_for_each_cqe(&q->ring, head, cqe) {
			uint64_t ud = io_uring_cqe_get_data64(cqe);
			int res = cqe->res;

			seen++;
			if (ud == TAG_WAKE) {
				take_commits(q);
				if (res >= 0 || res == -EINTR || res == -EAGAIN)
					prep_wake(q);
			} else if (ud & TAG_ENTRY) {
				struct ring_entry *e = (void *)(uintptr_t)(ud & ~TAG_ENTRY);

				if (res == 0) {
					/* Answers are looked for on the ring from
					 * the first request on. */
					if (!atomic_load_explicit(&rt->active, memory_order_relaxed))
						atomic_store(&rt->active, true);
					serve(q, e);
				} else if (!e->dead) {
					e->dead = true;
					q->live--;
					ring_entry_failed(q, res);
				}
			} else {
				q->own_inflight--;
				engine_complete(&q->rt->dio->engine,
						(struct uring_io *)(uintptr_t)ud, res);
			}
		}
		io_uring_cq_advance(&q->ring, seen);
	}
	engine_own_ring(NULL, false, NULL);
	r->transport = NULL;
	r->thread_state = NULL;
	return NULL;
}

static int queue_init(struct ring_transport *rt, struct ring_queue *q,
		      unsigned qid)
{
	memset(q, 0, sizeof(*q));
	q->rt = rt;
	q->qid = qid;
	q->efd = -1;
	q->sched_fd = -1;
	pthread_mutex_init(&q->commit_lock, NULL);
	q->efd = eventfd(0, EFD_CLOEXEC);
	if (q->efd < 0)
		return -errno;
	q->entries = calloc(rt->per_thread, sizeof(*q->entries));
	if (!q->entries)
		return -ENOMEM;
	for (unsigned i = 0; i < rt->per_thread; i++) {
		struct ring_entry *e = &q->entries[i];

		if (posix_memalign((void **)&e->hdr, 64, sizeof(*e->hdr)))
			return -ENOMEM;
		memset(e->hdr, 0, sizeof(*e->hdr));
		e->q = q;
		e->buf_idx = pool_take(&rt->dio->pool);
		dio_keep_buffer(rt->dio, e->buf_idx);
		e->payload = pool_buf(&rt->dio->pool, e->buf_idx) + rt->dio->header_room;
		e->payload_len = rt->dio->pool.size - 2 * rt->dio->header_room;
		e->reg[0].iov_base = e->hdr;
		e->reg[0].iov_len = sizeof(*e->hdr);
		e->reg[1].iov_base = e->payload;
		e->reg[1].iov_len = e->payload_len;
		q->nentries++;
		q->live++;
	}
	return 0;
}

/* Once its thread has ended: the kernel no longer writes to its entries
 * (it copies a request in the thread's own context). */
static void queue_close(struct ring_queue *q)
{
	if (q->efd >= 0)
		close(q->efd);
	q->efd = -1;
	if (q->sched_fd >= 0)
		close(q->sched_fd);
	q->sched_fd = -1;
	if (q->ring_ok)
		io_uring_queue_exit(&q->ring);
	q->ring_ok = false;
}

static void queue_free(struct ring_queue *q)
{
	for (unsigned i = 0; i < q->nentries; i++)
		free(q->entries[i].hdr);
	/* The entries' buffers stay kept: the pool goes with dio_destroy. */
	free(q->entries);
	pthread_mutex_destroy(&q->commit_lock);
}

void ring_transport_start(void *ctx)
{
	struct ring_transport *rt = ctx;
	unsigned started = 0;
	bool expected = false;

	if (!rt->se || !rt->nq ||
	    !atomic_compare_exchange_strong(&rt->started, &expected, true))
		return;
	rt->queues = calloc(rt->nthreads, sizeof(*rt->queues));
	if (!rt->queues) {
		bfs_log(LOG_WARNING, "FUSE over io_uring: out of memory; using /dev/fuse");
		return;
	}
	/* Queues past a failed start are closed too: nothing to close (a
	 * zeroed queue would close fd 0). */
	for (unsigned i = 0; i < rt->nthreads; i++) {
		rt->queues[i].efd = -1;
		rt->queues[i].sched_fd = -1;
	}
	if (helper_pool_init(&rt->helpers, rt->max_helpers)) {
		bfs_log(LOG_WARNING, "FUSE over io_uring: out of memory; using /dev/fuse");
		return;
	}
	for (unsigned i = 0; i < rt->nthreads; i++) {
		struct ring_queue *q = &rt->queues[i];
		int rc = queue_init(rt, q, i / rt->tpq);

		if (rc == 0)
			atomic_store_explicit(&rt->ready, i + 1, memory_order_release);
		if (rc == 0)
			rc = -pthread_create(&q->thread, NULL, queue_main, q);
		if (rc) {
			bfs_log(LOG_WARNING, "FUSE over io_uring: queue %u: %s; "
				"requests stay on /dev/fuse", i, strerror(-rc));
			break;
		}
		q->started = true;
		started++;
	}
	if (started == rt->nthreads)
		bfs_log(LOG_INFO, "FUSE over io_uring: %u queues, %u threads of %u entries",
			rt->nq, rt->nthreads, rt->per_thread);
}

void ring_transport_stop(struct ring_transport *rt)
{
	if (!rt || !rt->queues)
		return;
	atomic_store(&rt->stopping, true);
	/* Helpers finish what they hold, then end. */
	helper_pool_stop(&rt->helpers);
	for (unsigned i = 0; i < rt->nthreads; i++) {
		struct ring_queue *q = &rt->queues[i];
		uint64_t one = 1;

		if (q->started) {
			if (write(q->efd, &one, sizeof(one)) < 0)
				bfs_log(LOG_WARNING, "cannot wake FUSE ring %u", i);
			pthread_join(q->thread, NULL);
		}
		queue_close(q);
	}
	atomic_store(&rt->active, false);
}

void ring_transport_free(struct ring_transport *rt)
{
	if (!rt)
		return;
	if (!rt->queues) {
		free(rt);
		return;
	}
	atomic_store(&rt->ready, 0);
	for (unsigned i = 0; i < rt->nthreads; i++)
		queue_free(&rt->queues[i]);
	free(rt->queues);
	helper_pool_destroy(&rt->helpers);
	free(rt);
}

/* ---- answers ---------------------------------------------------------- */

static struct ring_entry *find_entry(struct ring_transport *rt, uint64_t unique)
{
	unsigned ready = atomic_load_explicit(&rt->ready, memory_order_acquire);
	struct ring_entry *mine = bfs_request_self()->entry;

	if (mine && atomic_load(&mine->unique) == unique)
		return mine;
	for (unsigned i = 0; i < ready; i++) {
		struct ring_queue *q = &rt->queues[i];

		for (unsigned j = 0; j < q->nentries; j++)
			if (atomic_load(&q->entries[j].unique) == unique)
				return &q->entries[j];
	}
	return NULL;
}

bool ring_transport_reply(void *ctx, const struct iovec *iov, int count,
			  ssize_t *written)
{
	struct ring_transport *rt = ctx;
	const struct fuse_out_header *oh;
	struct ring_entry *e;
	struct ring_queue *q;
	size_t total = 0, n = 0;

	if (!rt || !atomic_load(&rt->active) || count < 1 ||
	    iov[0].iov_len < sizeof(*oh))
		return false;
	oh = iov[0].iov_base;
	if (oh->unique == 0 || !(e = find_entry(rt, oh->unique)))
		return false;
	TSAN_FUSE_ANSWERING();
	q = e->q;
	for (int i = 1; i < count; i++)
		total += iov[i].iov_len;
	memcpy(e->hdr->in_out, oh, sizeof(*oh));
	if (total > e->payload_len) {
		total = 0;
		((struct fuse_out_header *)e->hdr->in_out)->error = -EIO;
	}
	/* Data already at the payload's start (a READ answered from where it
	 * was read) stays; anything else moves there. A move within the
	 * buffer (a read that did not start on a block) is the ring's own
	 * cost, counted apart from the bounce: over /dev/fuse the same reply
	 * is written from where it lies. */
	for (int i = 1; i < count && total; i++) {
		if (iov[i].iov_base != e->payload + n) {
			memmove(e->payload + n, iov[i].iov_base, iov[i].iov_len);
			if ((char *)iov[i].iov_base > e->payload &&
			    (char *)iov[i].iov_base < e->payload + e->payload_len)
				stats_add(&bfs_stats.ring_moved_bytes, iov[i].iov_len);
		}
		n += iov[i].iov_len;
	}
	e->hdr->ent.payload_sz = (uint32_t)total;
	*written = (ssize_t)(sizeof(*oh) + total);
	if (bfs_request_self()->thread_state == q) {
		prep_cmd(q, e, RING_CMD_COMMIT_AND_FETCH);
	} else {
		uint64_t one = 1;

		pthread_mutex_lock(&q->commit_lock);
		e->next = q->commits;
		q->commits = e;
		pthread_mutex_unlock(&q->commit_lock);
		if (write(q->efd, &one, sizeof(one)) < 0)
			bfs_log(LOG_WARNING, "cannot wake FUSE ring %u", q->qid);
	}
	return true;
}
