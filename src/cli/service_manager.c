/* systemd's notification socket and file-descriptor store, spoken
 * directly (sd_notify(3), sd_listen_fds(3)). */
#include "cli/service_manager.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define LISTEN_FDS_START 3
#define NOTIFY_FDS_MAX 8

int service_notify_open(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	size_t len;
	int fd;

	if (!path || !path[0])
		return -ENOENT;
	len = strlen(path);
	/* "@name": the abstract name space (a leading NUL). */
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof(addr.sun_path))
		return -EINVAL;
	memcpy(addr.sun_path, path, len);
	if (path[0] == '@')
		addr.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&addr,
		    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) != 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

int service_notify(int sock, const char *text, const int *fds, unsigned nfds)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * NOTIFY_FDS_MAX)];
	} control;
	struct iovec iov = { .iov_base = (void *)text, .iov_len = strlen(text) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (sock < 0)
		return 0;
	if (nfds > NOTIFY_FDS_MAX)
		return -EINVAL;
	if (nfds) {
		struct cmsghdr *c;

		memset(&control, 0, sizeof(control));
		msg.msg_control = control.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	for (;;) {
		if (sendmsg(sock, &msg, MSG_NOSIGNAL) >= 0)
			return 0;
		if (errno != EINTR)
			return -errno;
	}
}

/* LISTEN_FDS when LISTEN_PID is this process, else 0. */
static unsigned listen_count(void)
{
	const char *pid = getenv("LISTEN_PID");
	const char *fds = getenv("LISTEN_FDS");
	char *end;
	unsigned long p, n;

	if (!pid || !fds)
		return 0;
	errno = 0;
	p = strtoul(pid, &end, 10);
	if (errno || *end || p != (unsigned long)getpid())
		return 0;
	n = strtoul(fds, &end, 10);
	if (errno || *end || n > 1024)
		return 0;
	return (unsigned)n;
}

int service_listen_fd(const char *name)
{
	const char *names = getenv("LISTEN_FDNAMES");
	unsigned n = listen_count();
	size_t want = strlen(name);

	if (!names)
		return -1;
	for (unsigned i = 0; i < n && *names; i++) {
		const char *colon = strchr(names, ':');
		size_t len = colon ? (size_t)(colon - names) : strlen(names);

		if (len == want && memcmp(names, name, len) == 0)
			return LISTEN_FDS_START + (int)i;
		if (!colon)
			break;
		names = colon + 1;
	}
	return -1;
}

void service_drop_stored(int sock)
{
	service_notify(sock, "FDSTOREREMOVE=1\nFDNAME=" SERVICE_FUSE_FD_NAME, NULL, 0);
	service_notify(sock, "FDSTOREREMOVE=1\nFDNAME=" SERVICE_STATE_FD_NAME, NULL, 0);
}

void service_listen_forget(void)
{
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
}
