/*
 * The supervisor of a restartable mount (-o restart=supervisor,
 * docs/restart.md): a small process of our own that holds the mount's
 * /dev/fuse descriptor and the restart state's memfd, so that the
 * connection outlives the daemon; when the daemon dies without having
 * said it is ending, it starts a successor (the same command, with
 * --successor) that takes the mount over. It aborts the connection (the
 * applications then see errors, never an endless wait) when a successor
 * does not serve within SUPERVISOR_SERVE_TIMEOUT_S, or when
 * SUPERVISOR_MAX_QUICK_DEATHS successors in a row died before they served
 * or within SUPERVISOR_QUICK_DEATH_S of it (a crash at start-up, or on a
 * request that is resent to each of them). A daemon killed every few
 * seconds is restarted every time.
 *
 * The daemon and the supervisor talk over a socket pair, the link: the
 * daemon says SUPERVISOR_SERVING once it serves and SUPERVISOR_ENDING
 * before it ends on purpose (an unmount, SIGTERM); the link's end closing
 * without the latter is a death.
 */
#ifndef BOUNCEFS_SUPERVISOR_H
#define BOUNCEFS_SUPERVISOR_H

#include <stdbool.h>
#include <sys/types.h>

#define SUPERVISOR_SERVING 'S'
#define SUPERVISOR_ENDING 'E'
#define SUPERVISOR_SERVE_TIMEOUT_S 10
#define SUPERVISOR_MAX_QUICK_DEATHS 5
#define SUPERVISOR_QUICK_DEATH_S 0.5

struct supervisor_args {
	int fuse_fd, state_fd;     /* held; given to each successor */
	const char *mountpoint;    /* a real path */
	dev_t mount_dev;           /* the mount's st_dev */
	/* The successor's command: exe, and argv with the slot argv[1]
	 * free for its --successor=... (NULL-terminated). */
	const char *exe;
	char **argv;
	/* fds of the daemon's that the supervisor must not keep open */
	const int *close_fds;
	int nclose;
};

/* Upgrade in place (bouncefs --takeover): the supervisor listens on an
 * abstract unix socket named after the mount's device. A client (root
 * only: SO_PEERCRED) sends SUPERVISOR_TAKEOVER and the absolute path of
 * the program to run; the supervisor SIGKILLs the daemon, whose
 * successor (that program, from now on) takes over as after any death,
 * and answers SUPERVISOR_SERVING once it serves, or SUPERVISOR_FAILED
 * and why. */
#define SUPERVISOR_TAKEOVER 'T'
#define SUPERVISOR_FAILED 'F'

#include <sys/socket.h>
#include <sys/un.h>

/* The takeover socket's address for the mount whose st_dev is dev. */
socklen_t supervisor_address(dev_t dev, struct sockaddr_un *sa);

/* The path of the running program (a newer build installed over it is
 * what its successors run), into buf. */
void supervisor_own_exe(char *buf, size_t len);

/* Does this kernel resend what a dead daemon had read (FUSE_NOTIFY_RESEND,
 * Linux 6.9)? Without it a restart could leave requests waiting forever. */
bool supervisor_kernel_resends(void);

/* Fork the supervisor (call with no threads running). Returns the
 * daemon's end of the link, or -errno. */
int supervisor_start(const struct supervisor_args *a);

/* Tell the supervisor over the link (SUPERVISOR_*); -1 is no link. */
void supervisor_tell(int link, char what);

#endif
