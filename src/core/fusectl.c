/* The FUSE control file system's abort. */
#include "core/fusectl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/sysmacros.h>
#include <unistd.h>

int fusectl_abort(dev_t dev)
{
	char path[64];
	int fd, rc = 0;

	/* The directory is named by the kernel's encoding of the device. */
	snprintf(path, sizeof(path), "/sys/fs/fuse/connections/%u/abort",
		 (major(dev) << 20) | minor(dev));
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, "1", 1) != 1)
		rc = -errno;
	close(fd);
	return rc;
}
