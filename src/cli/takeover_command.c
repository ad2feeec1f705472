/* bouncefs --takeover MOUNTPOINT (takeover_command.h). */
#include "cli/takeover_command.h"
#include "cli/supervisor.h"
#include "core/mountinfo.h"
#include "core/options.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int takeover_command(const char *mountpoint)
{
	char mp[PATH_MAX], exe[PATH_MAX], msg[PATH_MAX + 2];
	struct sockaddr_un sa;
	struct ucred cred = { .uid = (uid_t)-1 };
	socklen_t len, clen = sizeof(cred);
	struct pollfd p;
	dev_t dev;
	ssize_t n;
	int fd;

	if (geteuid() != 0) {
		fprintf(stderr, "bouncefs: --takeover: only root may hand a mount to a new daemon\n");
		return BFS_EXIT_FAILURE;
	}
	if (!realpath(mountpoint, mp))
		snprintf(mp, sizeof(mp), "%s", mountpoint);
	if (mountinfo_dev_at(mp, "fuse.bouncefs", &dev) != 0) {
		fprintf(stderr, "bouncefs: --takeover: '%s' is not a bouncefs mount\n",
			mountpoint);
		return BFS_EXIT_BAD_MOUNTPOINT;
	}
	len = supervisor_address(dev, &sa);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, len) != 0) {
		fprintf(stderr, "bouncefs: --takeover: '%s' has no supervisor (%s): it was mounted without -o restart=supervisor, or its kernel cannot resend requests (before 6.9)\n",
			mountpoint, strerror(errno));
		if (fd >= 0)
			close(fd);
		return BFS_EXIT_FAILURE;
	}
	/* Anyone may bind an abstract name first: only root's is the
	 * supervisor. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) != 0 ||
	    cred.uid != 0) {
		fprintf(stderr, "bouncefs: --takeover: the takeover socket of '%s' is not its supervisor's (it belongs to uid %u): not asked\n",
			mountpoint, (unsigned)cred.uid);
		close(fd);
		return BFS_EXIT_FAILURE;
	}
	supervisor_own_exe(exe, sizeof(exe));
	n = snprintf(msg, sizeof(msg), "%c%s", SUPERVISOR_TAKEOVER, exe);
	if (send(fd, msg, (size_t)n, MSG_NOSIGNAL) != n) {
		fprintf(stderr, "bouncefs: --takeover: cannot ask the supervisor of '%s': %s\n",
			mountpoint, strerror(errno));
		close(fd);
		return BFS_EXIT_FAILURE;
	}
	/* The supervisor answers once the new daemon serves, or gives up
	 * on it within its own bound. */
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	n = poll(&p, 1, (SUPERVISOR_SERVE_TIMEOUT_S + 20) * 1000) == 1 ?
		    recv(fd, msg, sizeof(msg) - 1, 0) : -1;
	close(fd);
	if (n < 1) {
		fprintf(stderr, "bouncefs: --takeover: no answer from the supervisor of '%s'\n",
			mountpoint);
		return BFS_EXIT_FAILURE;
	}
	msg[n] = '\0';
	if (msg[0] != SUPERVISOR_SERVING) {
		fprintf(stderr, "bouncefs: --takeover: '%s' was not handed over: %s\n",
			mountpoint, msg + 1);
		return BFS_EXIT_FAILURE;
	}
	printf("bouncefs: %s is served by a new daemon (pid %s, %s)\n", mp,
	       msg + 1, exe);
	return BFS_EXIT_OK;
}
