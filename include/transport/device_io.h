/*
 * The FUSE device's reads and writes, through libfuse's custom-I/O hooks.
 * They pass everything through, except that the INIT reply also asks the
 * kernel for what libfuse 3.14 cannot express: shared mmap of files opened
 * with FOPEN_DIRECT_IO (FUSE_DIRECT_IO_ALLOW_MMAP, Linux 6.6 and later),
 * so that an O_DIRECT open can be mapped as on a local file system; and
 * FUSE_HANDLE_KILLPRIV_V2 (Linux 5.11): writes and truncates that must
 * clear set-id bits say so (fs_kill_suidgid), and the kernel stops asking
 * for security.capability before every write. And FUSE_OVER_IO_URING when
 * the ring's queues are ready to register (Linux 7.0 and later accept
 * them only then). And FUSE passthrough (Linux 6.9) when the file system
 * wants it: opens without O_DIRECT can then be served from the backing
 * file (docs/architecture.md, "Buffered opens").
 */
#ifndef BOUNCEFS_DEVICE_IO_H
#define BOUNCEFS_DEVICE_IO_H

#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

/* Where answers may go instead of /dev/fuse, and what follows INIT. */
struct device_io_hooks {
	/* An answer about to be written (the iovecs libfuse would write to
	 * /dev/fuse): true if the hook took it, with *written set. */
	bool (*reply)(void *ctx, const struct iovec *iov, int count,
		      ssize_t *written);
	/* Whether the queues of FUSE over io_uring are set up (asked when
	 * the INIT reply is made; NULL: no). */
	bool (*ring_ready)(void *ctx);
	/* The kernel has taken an INIT reply that asked for FUSE over
	 * io_uring: the queues register now. */
	void (*ring_offered)(void *ctx);
	/* The INIT reply went out: ok if it accepted the connection (the
	 * mount serves from now on), false if it refused it. */
	void (*init_done)(void *ctx, bool ok);
	/* The flags the INIT reply adds (device_io_init_additions), just
	 * before it is written: requests may come as soon as the kernel has
	 * it, before init_done runs. */
	void (*init_adding)(void *ctx, uint64_t added);
	/* The kernel took this INIT reply (out, from its fuse_out_header
	 * on) to this INIT request (in, from its fuse_in_header on): what a
	 * successor needs, since no second INIT comes (docs/restart.md). */
	void (*init_taken)(void *ctx, const void *in, size_t in_len,
			   const void *out, size_t out_len);
	/* Ask for FUSE passthrough if the kernel offers it. */
	bool passthrough;
	void *ctx;
};

/* FUSE_PASSTHROUGH (Linux 6.9; this build's headers may predate it). */
#define DEVICE_IO_PASSTHROUGH (1ULL << 37)
/* The passthrough depth the INIT reply asks for: backing files on a file
 * system that stacks on nothing (no overlayfs, no FUSE below). */
#define DEVICE_IO_STACK_DEPTH 1

/* Install the device hooks on a mounted session, with ours (h, copied;
 * may be NULL). 0, or -1 if libfuse refused them (the session then works
 * as before, without the extra flags). */
/* The flags (flags2 in the upper half, FUSE_INIT_EXT when there are any)
 * that the INIT reply adds to libfuse's, given what the kernel offered,
 * whether the ring's queues are ready and whether passthrough is wanted. */
uint64_t device_io_init_additions(uint64_t offered, bool ring_ready,
				  bool passthrough);

/* A request read from /dev/fuse (n bytes): if it is INIT, true with its
 * unique id and the flags offered (flags2 in the upper half). Kernels
 * before 5.17 send a shorter INIT than this build's headers describe. */
bool device_io_parse_init(const void *buf, size_t n, uint64_t *unique,
			  uint64_t *flags);

int device_io_install(struct fuse_session *se,
		      const struct device_io_hooks *h);

/* FUSE_NOTIFY_RESEND (Linux 6.9; this build's headers may predate it). */
#define DEVICE_IO_NOTIFY_RESEND 7

/* In a successor (docs/restart.md): let libfuse take the INIT the kernel
 * sent the predecessor (in, len bytes from its fuse_in_header on), as if
 * it had come now; its answer goes nowhere, since the kernel took one
 * already, but the hooks see it as they would (init_adding, init_done).
 * 0, or -EPROTO if in is not an INIT. */
int device_io_replay_init(struct fuse_session *se, const void *in, size_t len);

/* Ask the kernel to send again every request that was read from this
 * connection and not answered (FUSE_NOTIFY_RESEND). 0 or -errno (EINVAL:
 * a kernel before 6.9). */
int device_io_resend(struct fuse_session *se);

/* Answer the request received at in (from its fuse_in_header on) with
 * -errno err on /dev/fuse, outside libfuse (the forgets get no answer).
 * A connection that is gone takes nothing: that is not an error here. */
void device_io_answer_error(struct fuse_session *se, const void *in, int err);

#endif
