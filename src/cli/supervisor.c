/* The supervisor of a restartable mount (supervisor.h). */
#include "cli/supervisor.h"
#include "core/fusectl.h"
#include "core/log.h"
#include "core/mountinfo.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/sysmacros.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

bool supervisor_kernel_resends(void)
{
	struct utsname u;
	unsigned major = 0, minor = 0;

	if (uname(&u) || sscanf(u.release, "%u.%u", &major, &minor) != 2)
		return false;
	return major > 6 || (major == 6 && minor >= 9);
}

socklen_t supervisor_address(dev_t dev, struct sockaddr_un *sa)
{
	int n;

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	/* abstract: a leading NUL, no file */
	n = snprintf(sa->sun_path + 1, sizeof(sa->sun_path) - 1,
		     "bouncefs-takeover-%u:%u", major(dev), minor(dev));
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

void supervisor_own_exe(char *buf, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", buf, len - 1);
	const char *deleted = " (deleted)";
	size_t dl = strlen(deleted);

	buf[n > 0 ? n : 0] = '\0';
	if (n > (ssize_t)dl && strcmp(buf + n - dl, deleted) == 0)
		buf[n - dl] = '\0';
}

void supervisor_tell(int link, char what)
{
	if (link >= 0 && send(link, &what, 1, MSG_NOSIGNAL | MSG_DONTWAIT) != 1) {
		/* The supervisor is gone: the mount is no longer restartable,
		 * which the daemon serving it does not need to be. */
	}
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Is the mount still there, served by our connection? */
static bool mount_alive(const struct supervisor_args *a)
{
	dev_t dev;

	return mountinfo_dev_at(a->mountpoint, "fuse.bouncefs", &dev) == 0 &&
	       dev == a->mount_dev;
}

static void reap(void)
{
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

static bool keep_inherited(int fd)
{
	int fl = fcntl(fd, F_GETFD);

	return fl >= 0 && fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC) == 0;
}

/* A socket pair for a link, then fork (each side closes the end it does
 * not use): the child's pid (0 in the child), or -errno with no socket
 * left. */
static pid_t fork_with_link(int sv[2])
{
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return -errno;
	pid = fork();
	if (pid < 0) {
		int err = -errno;

		close(sv[0]);
		close(sv[1]);
		return err;
	}
	return pid;
}

/* The program successors run: the first daemon's, or the one a takeover
 * named. */
static char exe[PATH_MAX];

/* Start a successor; *link gets the supervisor's end of its link. The
 * successor's pid, or -errno. */
static pid_t start_successor(const struct supervisor_args *a, int *link)
{
	char fds[64];
	int sv[2];
	pid_t pid = fork_with_link(sv);

	if (pid < 0)
		return pid;
	if (pid == 0) {
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGINT, SIG_DFL);
		if (!keep_inherited(a->fuse_fd) || !keep_inherited(a->state_fd) ||
		    !keep_inherited(sv[1]))
			_exit(127);
		snprintf(fds, sizeof(fds), "--successor=%d,%d,%d", a->fuse_fd,
			 a->state_fd, sv[1]);
		a->argv[0] = exe;
		a->argv[1] = fds;
		execv(exe, a->argv);
		bfs_log(LOG_ERR, "supervisor: cannot start '%s': %s", exe,
			strerror(errno));
		_exit(127);
	}
	close(sv[1]);
	*link = sv[0];
	return pid;
}

/* A takeover's client, waiting for its answer; -1: none. */
static int client = -1;

static void answer_client(char what, const char *text)
{
	char msg[512];
	int n = snprintf(msg, sizeof(msg), "%c%s", what, text);

	if (client < 0)
		return;
	if (send(client, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		/* (the client is gone: nobody to tell) */
	}
	close(client);
	client = -1;
}

/* Give up: the applications get errors from now on, not an endless wait. */
static void __attribute__((noreturn)) give_up(const struct supervisor_args *a,
					      pid_t successor, const char *why)
{
	answer_client(SUPERVISOR_FAILED, why);
	bfs_log(LOG_ERR, "supervisor: %s; aborting the connection of %s (its files answer ENOTCONN until it is unmounted)",
		why, a->mountpoint);
	if (successor > 0)
		kill(successor, SIGKILL);
	fusectl_abort(a->mount_dev);
	reap();
	_exit(1);
}

static int listen_takeover(const struct supervisor_args *a)
{
	struct sockaddr_un sa;
	socklen_t len = supervisor_address(a->mount_dev, &sa);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd >= 0 && (bind(fd, (struct sockaddr *)&sa, len) || listen(fd, 4))) {
		bfs_log(LOG_WARNING, "supervisor: no takeover socket for %s: %s (bouncefs --takeover cannot reach it)",
			a->mountpoint, strerror(errno));
		close(fd);
		fd = -1;
	}
	return fd;
}

/* A takeover asked on the socket: true if the daemon is to go now (the
 * client waits in `client` for the answer). */
static bool take_request(int lfd, bool serving)
{
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	struct pollfd p;
	char msg[PATH_MAX + 1];
	ssize_t n;
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return false;
	if (client >= 0) {
		const char *busy = "Fa takeover is under way already";

		if (send(fd, busy, strlen(busy), MSG_NOSIGNAL) < 0) {
			/* (nobody to tell) */
		}
		close(fd);
		return false;
	}
	client = fd;
	/* Anyone else is answered at once, never waited for: a user cannot
	 * hold the supervisor up. (What it sent is read first: a socket
	 * closed with a request unread loses the answer to a reset.) */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) || cred.uid != 0) {
		if (recv(fd, msg, sizeof(msg), MSG_DONTWAIT) < 0) {
			/* (nothing sent yet) */
		}
		answer_client(SUPERVISOR_FAILED, "only root may hand a mount to a new daemon");
		return false;
	}
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	n = poll(&p, 1, 2000) == 1 ? recv(fd, msg, sizeof(msg) - 1, 0) : -1;
	if (n < 2 || msg[0] != SUPERVISOR_TAKEOVER) {
		answer_client(SUPERVISOR_FAILED, "not a takeover request");
		return false;
	}
	msg[n] = '\0';
	if (msg[1] != '/' || access(msg + 1, X_OK) != 0) {
		answer_client(SUPERVISOR_FAILED, "the new program is not an absolute path to an executable");
		return false;
	}
	if (!serving) {
		answer_client(SUPERVISOR_FAILED, "a new daemon is starting already");
		return false;
	}
	snprintf(exe, sizeof(exe), "%s", msg + 1);
	return true;
}

static void __attribute__((noreturn)) supervise(const struct supervisor_args *a,
						int link, pid_t daemon)
{
	int lfd = listen_takeover(a);
	bool taking_over = false;
	unsigned quick_deaths = 0;
	bool serving = true;   /* the first daemon serves already */
	double served_at = 0;  /* (the first daemon's is long ago) */
	double deadline = 0;
	pid_t successor = 0;

	snprintf(exe, sizeof(exe), "%s", a->exe);
	for (;;) {
		struct pollfd p[2] = { { .fd = link, .events = POLLIN },
				       { .fd = lfd, .events = POLLIN } };
		int wait_ms = -1, n;
		char what;

		if (!serving) {
			double left = deadline - now_s();

			if (left <= 0)
				give_up(a, successor, "the new daemon did not serve in time");
			wait_ms = (int)(left * 1000) + 1;
		}
		n = poll(p, lfd >= 0 ? 2 : 1, wait_ms);
		reap();
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			continue;
		if (lfd >= 0 && (p[1].revents & POLLIN) &&
		    take_request(lfd, serving)) {
			bfs_log(LOG_INFO, "supervisor: handing %s to a new daemon (%s)",
				a->mountpoint, exe);
			taking_over = true;
			kill(daemon, SIGKILL);
		}
		if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		n = (int)recv(link, &what, 1, 0);
		if (n == 1) {
			if (what == SUPERVISOR_ENDING) {
				answer_client(SUPERVISOR_FAILED, "the mount is being unmounted");
				_exit(0);
			}
			if (what == SUPERVISOR_SERVING && !serving) {
				char pid[32];

				serving = true;
				served_at = now_s();
				snprintf(pid, sizeof(pid), "%d", (int)daemon);
				answer_client(SUPERVISOR_SERVING, pid);
				bfs_log(LOG_INFO, "supervisor: the new daemon serves %s",
					a->mountpoint);
			}
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		/* The daemon is gone without saying it ends. */
		close(link);
		link = -1;
		if (!mount_alive(a)) {
			answer_client(SUPERVISOR_FAILED, "the mount is gone");
			_exit(0);
		}
		if (taking_over)
			quick_deaths = 0;
		else if (!serving || now_s() - served_at < SUPERVISOR_QUICK_DEATH_S)
			quick_deaths++;
		else
			quick_deaths = 0;
		if (quick_deaths >= SUPERVISOR_MAX_QUICK_DEATHS)
			give_up(a, 0, "every new daemon died at once");
		if (!taking_over)
			bfs_log(LOG_WARNING, "supervisor: the daemon of %s died; starting a new one",
				a->mountpoint);
		taking_over = false;
		successor = start_successor(a, &link);
		if (successor < 0)
			give_up(a, 0, "cannot start a new daemon");
		daemon = successor;
		serving = false;
		deadline = now_s() + SUPERVISOR_SERVE_TIMEOUT_S;
	}
}

int supervisor_start(const struct supervisor_args *a)
{
	int sv[2];
	pid_t pid = fork_with_link(sv);

	if (pid < 0)
		return pid;
	if (pid == 0) {
		pid_t daemon = getppid();
		int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		sigset_t none;

		close(sv[1]);
		for (int i = 0; i < a->nclose; i++)
			if (a->close_fds[i] >= 0)
				close(a->close_fds[i]);
		if (null_fd >= 0) {
			dup2(null_fd, 0);
			dup2(null_fd, 1);
			/* (the successors' messages go where the daemon's do) */
			if (strcmp(log_where(), "stderr") != 0)
				dup2(null_fd, 2);
			close(null_fd);
		}
		prctl(PR_SET_NAME, "bouncefs-sv", 0, 0, 0);
		/* A ^C in the foreground is for the daemon, which unmounts
		 * and says so. */
		signal(SIGINT, SIG_IGN);
		signal(SIGPIPE, SIG_IGN);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		supervise(a, sv[0], daemon);
	}
	close(sv[0]);
	return sv[1];
}
