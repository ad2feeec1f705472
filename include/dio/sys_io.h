/*
 * The system calls of the data path, through a table that a test may
 * replace (as SQLite's os_unix.c does with its aSyscall[]), so that short
 * transfers, EAGAIN, ENOSPC and EIO can be injected at every step of a
 * read-modify-write without a mount. The daemon never replaces it.
 */
#ifndef BOUNCEFS_SYS_IO_H
#define BOUNCEFS_SYS_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>

struct sys_io {
	ssize_t (*pread)(int fd, void *buf, size_t len, off_t off);
	ssize_t (*pwritev2)(int fd, const struct iovec *iov, int count,
			    off_t off, int flags);
	int (*fstat)(int fd, struct stat *st);
	int (*ftruncate)(int fd, off_t len);
};

/* The calls in use: the real ones unless a test set its own. */
extern const struct sys_io *sys_io;
extern const struct sys_io sys_io_real;

/*
 * Write len bytes at off, resuming after short writes and EINTR, with
 * pwritev2 flags. Sets *done to the bytes written; returns 0 or the
 * -errno that stopped it (-EIO if the file took no more).
 */
int sys_pwrite_all(int fd, const void *buf, size_t len, off_t off,
		   int rw_flags, size_t *done);

/* Read up to len bytes at off, resuming after short reads and EINTR, up
 * to the end of the file: a total that is not a multiple of a is the end
 * (for O_DIRECT, whose next read would be unaligned; a = 1 for none). Sets
 * *done to the bytes read; returns 0 or the -errno that stopped it. */
int sys_pread_all(int fd, void *buf, size_t len, off_t off, uint32_t a,
		  size_t *done);

/* The size of the file behind fd into *size: 0 or -errno. */
int sys_file_size(int fd, uint64_t *size);

#endif
