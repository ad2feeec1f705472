/*
 * A clean stop (SIGTERM, SIGINT, SIGHUP) drains before it unmounts: the
 * requests that arrive from then on are answered ENOTCONN by the
 * transports at once (but for the ones that finish what is open: FLUSH,
 * RELEASE, FSYNC and the forgets, which are served), and the stop goes
 * on when no I/O is in flight and nothing has arrived for
 * CLOSING_QUIET_MS, or after CLOSING_MAX_MS whatever a client does. The
 * requests still being served then are finished by the teardown (the
 * workers and helpers end only after their request; daemon.c). After
 * that the kernel answers ENOTCONN itself. Nothing here costs a request
 * more than one relaxed load until the stop begins.
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

/* Begin the stop and wait until drained (see above). */
void closing_drain(void);

#endif
