/* Detaching, with the start-up's outcome reported back to the command. */
#include "cli/detach.h"
#include "cli/mount_helper.h"
#include "core/fusectl.h"
#include "core/log.h"
#include "core/mountinfo.h"
#include "core/options.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

/* The child ended before it said the mount serves: take down what it
 * left, so that no dead mount stays. */
static void undo_mount(const char *mountpoint, dev_t mount_dev)
{
	dev_t dev;
	int rc;

	if (mountinfo_dev_at(mountpoint, "fuse.bouncefs", &dev) != 0 ||
	    (mount_dev && dev != mount_dev))
		return;
	rc = fusectl_abort(dev);
	if (rc)
		bfs_log_startup("cannot abort the connection of '%s': %s",
				mountpoint, strerror(-rc));
	if (umount2(mountpoint, MNT_DETACH) != 0)
		bfs_log_startup("cannot unmount '%s': %s", mountpoint,
				strerror(errno));
}

int detach_fork(const char *mountpoint, dev_t mount_dev)
{
	int p[2];
	pid_t pid;
	unsigned char status;
	ssize_t n;

	if (pipe2(p, O_CLOEXEC))
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		int err = errno;

		close(p[0]);
		close(p[1]);
		return -err;
	}
	if (pid == 0) {
		close(p[0]);
		if (setsid() < 0 || chdir("/") != 0) {
			/* (Still a working daemon: say so, carry on.) */
			bfs_log(LOG_WARNING, "cannot detach fully: %s",
				strerror(errno));
		}
		return p[1];
	}
	close(p[1]);
	do
		n = read(p[0], &status, 1);
	while (n < 0 && errno == EINTR);
	close(p[0]);
	if (n == 1)
		_exit(mount_helper_status(status));
	/* No report: the child has ended (its status says how). */
	{
		int wstatus = 0;

		waitpid(pid, &wstatus, 0);
		if (WIFSIGNALED(wstatus))
			bfs_log_startup("the daemon was killed by signal %d (%s) while starting%s; nothing is mounted at '%s'",
					WTERMSIG(wstatus), strsignal(WTERMSIG(wstatus)),
					WTERMSIG(wstatus) == SIGKILL ?
					" (out of memory? the staging buffers are pinned: see queue_depth)" : "",
					mountpoint);
		else
			bfs_log_startup("the daemon ended while starting; nothing is mounted at '%s'",
					mountpoint);
	}
	undo_mount(mountpoint, mount_dev);
	_exit(mount_helper_status(BFS_EXIT_FAILURE));
}

void detach_report(int fd, int status, int null_fd)
{
	unsigned char b = (unsigned char)status;

	if (fd < 0)
		return;
	/* Messages to their target first: stderr is about to go. */
	log_started();
	if (write(fd, &b, 1) != 1)
		bfs_log(LOG_WARNING, "cannot report the start-up: %s",
			strerror(errno));
	close(fd);
	if (null_fd >= 0) {
		dup2(null_fd, STDIN_FILENO);
		dup2(null_fd, STDOUT_FILENO);
		if (!log_keeps_stderr())
			dup2(null_fd, STDERR_FILENO);
	}
}
