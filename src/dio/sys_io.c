/* The data path's system calls, and the loops that finish a transfer. */
#include "dio/sys_io.h"

#include <errno.h>
#include <unistd.h>

static ssize_t real_pread(int fd, void *buf, size_t len, off_t off)
{
	return pread(fd, buf, len, off);
}

static ssize_t real_pwritev2(int fd, const struct iovec *iov, int count,
			     off_t off, int flags)
{
	return pwritev2(fd, iov, count, off, flags);
}

const struct sys_io sys_io_real = {
	.pread = real_pread,
	.pwritev2 = real_pwritev2,
	.fstat = fstat,
	.ftruncate = ftruncate,
};

const struct sys_io *sys_io = &sys_io_real;

int sys_pwrite_all(int fd, const void *buf, size_t len, off_t off,
		   int rw_flags, size_t *done)
{
	*done = 0;
	while (*done < len) {
		struct iovec iov = { (char *)buf + *done, len - *done };
		ssize_t n = sys_io->pwritev2(fd, &iov, 1, off + (off_t)*done,
					     rw_flags);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		*done += (size_t)n;
	}
	return 0;
}

int sys_pread_all(int fd, void *buf, size_t len, off_t off, uint32_t a,
		  size_t *done)
{
	*done = 0;
	while (*done < len) {
		ssize_t n = sys_io->pread(fd, (char *)buf + *done, len - *done,
					  off + (off_t)*done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		*done += (size_t)n;
		if (*done % a)
			break; /* end of file */
	}
	return 0;
}

int sys_file_size(int fd, uint64_t *size)
{
	struct stat st;

	if (sys_io->fstat(fd, &st))
		return -errno;
	*size = (uint64_t)st.st_size;
	return 0;
}
