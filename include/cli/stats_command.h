/*
 * `bouncefs stat [--json] [--watch N] MOUNTPOINT`: the counters of a
 * running mount (read from its user.bouncefs.stats xattr), for people or,
 * with --json, for scripts.
 */
#ifndef BOUNCEFS_STATS_COMMAND_H
#define BOUNCEFS_STATS_COMMAND_H

/* argv[0] is the program, argv[1] "stat". Returns an exit status. */
int stats_command(int argc, char **argv);

#endif
