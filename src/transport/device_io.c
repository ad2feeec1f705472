/* FUSE device I/O hooks: pass-through, plus flags in the INIT reply. */
#include "transport/device_io.h"
#include "core/kernel_features.h"
#include "core/tsan_annotations.h"

#define RESTART_INIT_BUF 256

#include <errno.h>
#include <linux/fuse.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef FUSE_DIRECT_IO_ALLOW_MMAP
#define FUSE_DIRECT_IO_ALLOW_MMAP (1ULL << 36)
#endif
#ifndef FUSE_HANDLE_KILLPRIV_V2
#define FUSE_HANDLE_KILLPRIV_V2 (1U << 28)
#endif
#ifndef FUSE_OVER_IO_URING
#define FUSE_OVER_IO_URING (1ULL << 41)
#endif

/* The INIT request: its unique id, and the flags the kernel offered
 * (with flags2 in the upper half; older kernels offer fewer). */
static _Atomic uint64_t init_unique;
static _Atomic uint64_t init_offered;
/* The INIT request's bytes, from its fuse_in_header on (read before any
 * other request, written once). */
static unsigned char init_in[256];
static size_t init_in_len;
/* What main hooked in (device_io_install): libfuse's hooks get the file
 * system's userdata, so this is where they find it. */
static struct device_io_hooks hooks;
/* A successor is feeding libfuse its predecessor's INIT: the answer is
 * not written (the kernel took it long ago). */
static _Atomic bool replaying;

static ssize_t io_read(int fd, void *buf, size_t len, void *userdata)
{
	ssize_t n = read(fd, buf, len);

	(void)userdata;
	if (n > 0)
		TSAN_FUSE_RECEIVED();
	if (n > 0) {
		uint64_t unique, flags;

		if (device_io_parse_init(buf, (size_t)n, &unique, &flags)) {
			init_in_len = (size_t)n < sizeof(init_in) ?
					      (size_t)n : sizeof(init_in);
			memcpy(init_in, buf, init_in_len);
			atomic_store(&init_offered, flags);
			atomic_store(&init_unique, unique);
		}
	}
	return n;
}

/* The part of fuse_init_in that every kernel sends (protocol 7.6 on):
 * major, minor, max_readahead, flags. Kernels before 5.17 (7.36) send no
 * more; flags2 is there only with FUSE_INIT_EXT. */
#define INIT_IN_BASE (4 * sizeof(uint32_t))

bool device_io_parse_init(const void *buf, size_t n, uint64_t *unique,
			  uint64_t *flags)
{
	const struct fuse_in_header *h = buf;
	const unsigned char *body = (const unsigned char *)buf + sizeof(*h);
	struct fuse_init_in in;

	if (n < sizeof(*h) + INIT_IN_BASE || h->opcode != FUSE_INIT)
		return false;
	memset(&in, 0, sizeof(in));
	n -= sizeof(*h);
	memcpy(&in, body, n < sizeof(in) ? n : sizeof(in));
	*unique = h->unique;
	*flags = in.flags;
	if ((in.flags & FUSE_INIT_EXT) &&
	    n >= offsetof(struct fuse_init_in, flags2) + sizeof(in.flags2))
		*flags |= (uint64_t)in.flags2 << 32;
	return true;
}

uint64_t device_io_init_additions(uint64_t offered, bool ring_ready,
				  bool passthrough)
{
	uint64_t add = 0;

	if (offered & FUSE_DIRECT_IO_ALLOW_MMAP)
		add |= FUSE_DIRECT_IO_ALLOW_MMAP;
	/* With it, the kernel marks an inode as having no set-id bits and no
	 * security.capability once it has checked (SB_NOSEC), instead of a
	 * GETXATTR before every write, which made each cached write two
	 * requests (docs/performance.md). */
	if (offered & FUSE_HANDLE_KILLPRIV_V2)
		add |= FUSE_HANDLE_KILLPRIV_V2;
	/* Linux 6.14-6.18 let the queues register whatever the reply said;
	 * later kernels only if it says FUSE_OVER_IO_URING back ("fuse-io-uring
	 * not enabled on this connection"). Said only when the queues are
	 * there to register: the kernel then waits for them. */
	if ((offered & FUSE_OVER_IO_URING) && ring_ready)
		add |= FUSE_OVER_IO_URING;
	/* (The kernel grants it only without FUSE_WRITEBACK_CACHE, which
	 * this file system never asks for.) */
	if ((offered & DEVICE_IO_PASSTHROUGH) && passthrough)
		add |= DEVICE_IO_PASSTHROUGH;
	if (add >> 32)
		add |= FUSE_INIT_EXT;
	return add;
}

static ssize_t io_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	bool init_reply = false, ring_on = false;
	uint64_t added = 0;
	ssize_t n;

	(void)userdata;
	if (hooks.reply && hooks.reply(hooks.ctx, iov, count, &n))
		return n;
	TSAN_FUSE_ANSWERING(); /* (the reply hook says so for its answers) */
	if (count >= 2 && iov[0].iov_len >= sizeof(struct fuse_out_header) &&
	    ((const struct fuse_out_header *)iov[0].iov_base)->unique ==
		    atomic_load(&init_unique))
		init_reply = true;
	if (init_reply &&
	    ((const struct fuse_out_header *)iov[0].iov_base)->error == 0 &&
	    iov[1].iov_len >= offsetof(struct fuse_init_out, flags2) +
			      sizeof(uint32_t)) {
		struct fuse_init_out *out = iov[1].iov_base;
		uint64_t offered = atomic_load(&init_offered);
		uint64_t add = device_io_init_additions(
			offered, hooks.ring_ready && hooks.ring_ready(hooks.ctx),
			hooks.passthrough);
		/* max_stack_depth follows flags2 (protocol 7.40): in the
		 * unused words of older headers. */
		size_t depth_at = offsetof(struct fuse_init_out, flags2) +
				  sizeof(uint32_t);

		if ((add & DEVICE_IO_PASSTHROUGH) &&
		    iov[1].iov_len < depth_at + sizeof(uint32_t))
			add &= ~DEVICE_IO_PASSTHROUGH;
		if (add & DEVICE_IO_PASSTHROUGH) {
			uint32_t depth = DEVICE_IO_STACK_DEPTH;

			memcpy((char *)out + depth_at, &depth, sizeof(depth));
		}
		out->flags |= (uint32_t)add;
		out->flags2 |= (uint32_t)(add >> 32);
		ring_on = (add & FUSE_OVER_IO_URING) != 0;
		added = add;
		if (!(offered & DEVICE_IO_PASSTHROUGH))
			kernel_feature_lacking(BFS_KF_FUSE_PASSTHROUGH);
		if (!(offered & FUSE_DIRECT_IO_ALLOW_MMAP))
			kernel_feature_lacking(BFS_KF_FUSE_DIO_MMAP);
		if (!(offered & FUSE_HANDLE_KILLPRIV_V2))
			kernel_feature_lacking(BFS_KF_FUSE_KILLPRIV_V2);
	}
	if (init_reply && hooks.init_adding)
		hooks.init_adding(hooks.ctx, added);
	if (init_reply && atomic_load(&replaying)) {
		n = 0;
		for (int i = 0; i < count; i++)
			n += (ssize_t)iov[i].iov_len;
		if (hooks.init_done)
			hooks.init_done(hooks.ctx,
					((const struct fuse_out_header *)iov[0].iov_base)->error == 0);
		return n;
	}
	n = writev(fd, iov, count);
	/* The kernel has taken INIT: the ring's queues may register now. */
	if (init_reply && n > 0 && ring_on && hooks.ring_offered)
		hooks.ring_offered(hooks.ctx);
	if (init_reply && n > 0 && hooks.init_taken &&
	    ((const struct fuse_out_header *)iov[0].iov_base)->error == 0) {
		unsigned char out[256];
		size_t len = 0;

		for (int i = 0; i < count && len < sizeof(out); i++) {
			size_t take = iov[i].iov_len < sizeof(out) - len ?
					      iov[i].iov_len : sizeof(out) - len;

			memcpy(out + len, iov[i].iov_base, take);
			len += take;
		}
		hooks.init_taken(hooks.ctx, init_in, init_in_len, out, len);
	}
	if (init_reply && hooks.init_done)
		hooks.init_done(hooks.ctx, n > 0 &&
				((const struct fuse_out_header *)iov[0].iov_base)->error == 0);
	return n;
}

int device_io_install(struct fuse_session *se,
		      const struct device_io_hooks *h)
{
	static const struct fuse_custom_io io = {
		.read = io_read,
		.writev = io_writev,
	};

	if (h)
		hooks = *h;
	return fuse_session_custom_io(se, &io, fuse_session_fd(se));
}

int device_io_replay_init(struct fuse_session *se, const void *in, size_t len)
{
	static unsigned char buf[RESTART_INIT_BUF] __attribute__((aligned(64)));
	struct fuse_buf fb = { .mem = buf, .size = len };
	uint64_t unique, flags;

	/* (copied first: in may lie at any alignment, a state's bytes) */
	if (len > sizeof(buf) || len > sizeof(init_in))
		return -EPROTO;
	memcpy(buf, in, len);
	if (!device_io_parse_init(buf, len, &unique, &flags))
		return -EPROTO;
	memcpy(init_in, in, len);
	init_in_len = len;
	atomic_store(&init_offered, flags);
	atomic_store(&init_unique, unique);
	atomic_store(&replaying, true);
	fuse_session_process_buf(se, &fb);
	atomic_store(&replaying, false);
	return 0;
}

int device_io_resend(struct fuse_session *se)
{
	struct fuse_out_header oh = { .len = sizeof(oh),
				      .error = DEVICE_IO_NOTIFY_RESEND };

	return write(fuse_session_fd(se), &oh, sizeof(oh)) == (ssize_t)sizeof(oh) ?
		       0 : -errno;
}

void device_io_answer_error(struct fuse_session *se, const void *in, int err)
{
	struct fuse_in_header h;
	struct fuse_out_header oh = { .len = sizeof(oh), .error = err };

	memcpy(&h, in, sizeof(h));
	if (h.opcode == FUSE_FORGET || h.opcode == FUSE_BATCH_FORGET)
		return;
	oh.unique = h.unique;
	TSAN_FUSE_ANSWERING();
	if (write(fuse_session_fd(se), &oh, sizeof(oh)) < 0) {
		/* The connection is gone: nothing to answer. */
	}
}
