/* Unit tests: systemd's protocol as the daemon speaks it (restart=systemd):
 * the fds handed back by name (sd_listen_fds(3): LISTEN_PID, LISTEN_FDS,
 * LISTEN_FDNAMES), and a notification with fds reaching a socket bound
 * where $NOTIFY_SOCKET says (a path, or @ for the abstract name space). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli/service_manager.h"

static void listen_env(long pid, const char *fds, const char *names)
{
	char p[32];

	snprintf(p, sizeof(p), "%ld", pid);
	setenv("LISTEN_PID", p, 1);
	setenv("LISTEN_FDS", fds, 1);
	if (names)
		setenv("LISTEN_FDNAMES", names, 1);
	else
		unsetenv("LISTEN_FDNAMES");
}

/* Each name at its place from fd 3 on. */
static void test_fds_are_found_by_name(void **state)
{
	(void)state;
	listen_env(getpid(), "3", "other:" SERVICE_FUSE_FD_NAME ":" SERVICE_STATE_FD_NAME);
	assert_int_equal(service_listen_fd(SERVICE_FUSE_FD_NAME), 4);
	assert_int_equal(service_listen_fd(SERVICE_STATE_FD_NAME), 5);
	assert_int_equal(service_listen_fd("other"), 3);
	assert_int_equal(service_listen_fd("bouncefs"), -1);
	service_listen_forget();
	assert_null(getenv("LISTEN_PID"));
	assert_null(getenv("LISTEN_FDS"));
	assert_null(getenv("LISTEN_FDNAMES"));
	assert_int_equal(service_listen_fd(SERVICE_FUSE_FD_NAME), -1);
}

/* Another process's fds (LISTEN_PID not ours: inherited from a parent
 * that got them), names beyond LISTEN_FDS, no names, or a bad count: none
 * is ours. */
static void test_fds_of_others_or_beyond_the_count_are_not_taken(void **state)
{
	(void)state;
	listen_env(getpid() + 1, "2", SERVICE_FUSE_FD_NAME ":" SERVICE_STATE_FD_NAME);
	assert_int_equal(service_listen_fd(SERVICE_FUSE_FD_NAME), -1);
	listen_env(getpid(), "1", SERVICE_FUSE_FD_NAME ":" SERVICE_STATE_FD_NAME);
	assert_int_equal(service_listen_fd(SERVICE_FUSE_FD_NAME), 3);
	assert_int_equal(service_listen_fd(SERVICE_STATE_FD_NAME), -1);
	listen_env(getpid(), "2", NULL);
	assert_int_equal(service_listen_fd(SERVICE_FUSE_FD_NAME), -1);
	listen_env(getpid(), "2x", SERVICE_FUSE_FD_NAME);
	assert_int_equal(service_listen_fd(SERVICE_FUSE_FD_NAME), -1);
	/* A name that only begins like ours. */
	listen_env(getpid(), "1", SERVICE_FUSE_FD_NAME "-old");
	assert_int_equal(service_listen_fd(SERVICE_FUSE_FD_NAME), -1);
	service_listen_forget();
}

static void test_no_or_a_bad_notify_socket_is_an_error(void **state)
{
	(void)state;
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(service_notify_open(), -ENOENT);
	setenv("NOTIFY_SOCKET", "", 1);
	assert_int_equal(service_notify_open(), -ENOENT);
	setenv("NOTIFY_SOCKET", "relative/path", 1);
	assert_int_equal(service_notify_open(), -EINVAL);
	setenv("NOTIFY_SOCKET", "/nonexistent/bouncefs-notify", 1);
	assert_int_equal(service_notify_open(), -ENOENT);
	/* sock < 0: nothing sent, no error. */
	assert_int_equal(service_notify(-1, "READY=1", NULL, 0), 0);
	unsetenv("NOTIFY_SOCKET");
}

/* The text arrives whole, with the fd (another descriptor of the same
 * file), at a socket bound where NOTIFY_SOCKET says. */
static void receives(int server, const char *text, int sent_fd)
{
	char buf[256];
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * 4)];
	} control;
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) - 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = control.b,
			      .msg_controllen = sizeof(control.b) };
	ssize_t n = recvmsg(server, &msg, MSG_DONTWAIT);
	struct cmsghdr *c;
	struct stat a, b;
	int got;

	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, text);
	c = CMSG_FIRSTHDR(&msg);
	if (sent_fd < 0) {
		assert_null(c);
		return;
	}
	assert_non_null(c);
	assert_int_equal(c->cmsg_type, SCM_RIGHTS);
	assert_int_equal(c->cmsg_len, CMSG_LEN(sizeof(int)));
	memcpy(&got, CMSG_DATA(c), sizeof(int));
	assert_int_not_equal(got, sent_fd);
	assert_int_equal(fstat(got, &a), 0);
	assert_int_equal(fstat(sent_fd, &b), 0);
	assert_true(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
	close(got);
}

static void notify_at(const char *env, const struct sockaddr_un *addr,
		      socklen_t len)
{
	int server = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int pipefd[2], sock;

	assert_true(server >= 0);
	assert_int_equal(bind(server, (const struct sockaddr *)addr, len), 0);
	assert_int_equal(pipe(pipefd), 0);
	setenv("NOTIFY_SOCKET", env, 1);
	sock = service_notify_open();
	assert_true(sock >= 0);
	assert_int_equal(service_notify(sock, "FDSTORE=1\nFDNAME=" SERVICE_FUSE_FD_NAME,
					&pipefd[0], 1), 0);
	receives(server, "FDSTORE=1\nFDNAME=" SERVICE_FUSE_FD_NAME, pipefd[0]);
	assert_int_equal(service_notify(sock, "READY=1", NULL, 0), 0);
	receives(server, "READY=1", -1);
	service_drop_stored(sock);
	receives(server, "FDSTOREREMOVE=1\nFDNAME=" SERVICE_FUSE_FD_NAME, -1);
	receives(server, "FDSTOREREMOVE=1\nFDNAME=" SERVICE_STATE_FD_NAME, -1);
	/* More fds than a message may carry. */
	{
		int many[9];

		for (int i = 0; i < 9; i++)
			many[i] = pipefd[1];
		assert_int_equal(service_notify(sock, "FDSTORE=1", many, 9), -EINVAL);
	}
	unsetenv("NOTIFY_SOCKET");
	close(sock);
	close(server);
	close(pipefd[0]);
	close(pipefd[1]);
}

static void test_a_notification_carries_its_fds_to_a_path(void **state)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char dir[] = "/tmp/bouncefs-notify-XXXXXX";

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/notify", dir);
	notify_at(addr.sun_path, &addr, sizeof(addr));
	unlink(addr.sun_path);
	rmdir(dir);
}

static void test_a_notification_carries_its_fds_to_an_abstract_name(void **state)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char name[64];
	size_t len;

	(void)state;
	len = (size_t)snprintf(name, sizeof(name), "@bouncefs-test-notify-%ld",
			       (long)getpid());
	memcpy(addr.sun_path, name, len);
	addr.sun_path[0] = '\0';
	notify_at(name, &addr,
		  (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fds_are_found_by_name),
		cmocka_unit_test(test_fds_of_others_or_beyond_the_count_are_not_taken),
		cmocka_unit_test(test_no_or_a_bad_notify_socket_is_an_error),
		cmocka_unit_test(test_a_notification_carries_its_fds_to_a_path),
		cmocka_unit_test(test_a_notification_carries_its_fds_to_an_abstract_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
