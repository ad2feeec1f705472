/*
 * Detaching from the terminal, with the start-up's outcome told back: the
 * command returns only once the mount serves, or has failed and is gone.
 */
#ifndef BOUNCEFS_DETACH_H
#define BOUNCEFS_DETACH_H

#include <stdbool.h>
#include <sys/types.h>

/*
 * Fork. The parent waits until the child reports how start-up ended
 * (detach_report), then exits with that status. If the child ends without
 * a report (killed: out of memory, say), the parent aborts the connection
 * of the mount it left (mount_dev, 0 if unknown), unmounts mountpoint,
 * says so and exits with BFS_EXIT_FAILURE. The child continues in a
 * session of its own, in "/", with the terminal still its stdio, and gets
 * the fd to report through; or -errno if there is no child.
 */
int detach_fork(const char *mountpoint, dev_t mount_dev);

/*
 * In the child: tell the parent status (BFS_EXIT_*), then stdio becomes
 * null_fd (an fd on /dev/null opened before, or -1; stderr stays with
 * -o log=stderr) and messages go to their target (log_started). Call once.
 */
void detach_report(int fd, int status, int null_fd);

#endif
