/*
 * systemd as the holder of a restartable mount (-o restart=systemd,
 * docs/restart.md): the daemon, run as a Type=notify service, stores the
 * mount's /dev/fuse descriptor and the restart state's memfd in the
 * service's file-descriptor store (FDSTORE=1, sd_notify(3)); when it dies,
 * systemd starts it again and hands them back (LISTEN_FDS, LISTEN_FDNAMES,
 * sd_listen_fds(3)), and the new daemon takes the mount over as the
 * supervisor's successor does.
 *
 * The protocol is spoken directly (a datagram on $NOTIFY_SOCKET, the fds
 * as SCM_RIGHTS): no libsystemd, and the socket is connected before the
 * seccomp filter, which allows no new socket of this kind later.
 */
#ifndef BOUNCEFS_SERVICE_MANAGER_H
#define BOUNCEFS_SERVICE_MANAGER_H

#include <stdbool.h>

/* The names the fds are stored under (FDNAME=). */
#define SERVICE_FUSE_FD_NAME "bouncefs-fuse"
#define SERVICE_STATE_FD_NAME "bouncefs-state"

/* A socket connected to $NOTIFY_SOCKET (a path, or @ for the abstract
 * name space): the fd, -ENOENT if it is not set (not started by a service
 * manager), or -errno. */
int service_notify_open(void);

/* Send text (e.g. "READY=1"), with fds[0..nfds) as SCM_RIGHTS. 0 or
 * -errno; sock < 0 sends nothing and returns 0. */
int service_notify(int sock, const char *text, const int *fds, unsigned nfds);

/* The fd passed under name (LISTEN_FDNAMES) to this process (LISTEN_PID),
 * or -1. Reads the environment only. */
int service_listen_fd(const char *name);

/* Ask systemd to drop both fds of ours it holds (FDSTOREREMOVE=1). */
void service_drop_stored(int sock);

/* The LISTEN_* variables go, so that nothing started later takes them. */
void service_listen_forget(void);

#endif
