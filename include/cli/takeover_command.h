/*
 * bouncefs --takeover MOUNTPOINT: upgrade in place. Asks the supervisor
 * of a restartable mount (cli/supervisor.h) to hand it to a new daemon
 * run from this program, and waits until that daemon serves. The
 * applications on the mount see no error (docs/restart.md).
 */
#ifndef BOUNCEFS_TAKEOVER_COMMAND_H
#define BOUNCEFS_TAKEOVER_COMMAND_H

/* An exit status (BFS_EXIT_*), with a message on failure. */
int takeover_command(const char *mountpoint);

#endif
