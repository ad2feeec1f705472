/*
 * The FUSE device's reads and writes, through libfuse's custom-I/O hooks.
 * They pass everything through, except that the INIT reply also asks the
 * kernel for what libfuse 3.14 cannot express: shared mmap of files opened
 * with FOPEN_DIRECT_IO (FUSE_DIRECT_IO_ALLOW_MMAP, Linux 6.6 and later),
 * so that an O_DIRECT open can be mapped as on a local file system; and
 * FUSE_HANDLE_KILLPRIV_V2 (Linux 5.11): writes and truncates that must
 * clear set-id bits say so (fs_kill_suidgid), and the kernel stops asking
 * for security.capability before every write.
 * Also: what an OPEN says beyond what libfuse 3.14 hands to the op.
 */
#ifndef BOUNCEFS_FUSE_IO_H
#define BOUNCEFS_FUSE_IO_H

#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Install the hooks on a mounted session. 0, or -1 if libfuse refused
 * them (the session then works as before, without the extra flag). */
int fuse_io_install(struct fuse_session *se);

/*
 * The request the calling thread hands to libfuse now, from its
 * fuse_in_header on (NULL when done): fuse_session_process_buf's callers
 * say so, for the fields libfuse 3.14 does not pass on to the operations.
 */
void fuse_io_processing(const void *req, size_t len);

/* The first argument (fuse_open_in, fuse_write_in...) of the request the
 * calling thread is processing, if it is an opcode request of at least
 * size bytes there; else NULL. */
const void *fuse_io_arg(uint32_t opcode, size_t size);

#endif
