/*
 * A clean stop (SIGTERM, SIGINT, SIGHUP) drains before it unmounts: the
 * requests the daemon holds are finished and answered; those that arrive
 * from then on are answered ENOTCONN by the transports at once (but for
 * the ones that finish what is open: FLUSH, RELEASE, FSYNC and the
 * forgets, which are served). The stop goes on when nothing is held and
 * nothing has arrived for CLOSING_QUIET_MS, or after CLOSING_MAX_MS
 * whatever a client does. After that the kernel answers ENOTCONN itself.
 */
#ifndef BOUNCEFS_CLOSING_H
#define BOUNCEFS_CLOSING_H

#include <stdbool.h>
#include <stddef.h>

#define CLOSING_QUIET_MS 100
#define CLOSING_MAX_MS 5000

/* A request received at in (len bytes, from its fuse_in_header on): true
 * if the stop has begun and it is to be answered ENOTCONN, not served. */
bool closing_refuses(const void *in, size_t len);

/* Around the serving of a request taken (what the stop waits for). */
void closing_hold(void);
void closing_release(void);

/* Begin the stop and wait until drained (see above). */
void closing_drain(void);

#endif
