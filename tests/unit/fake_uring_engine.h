/* The fake io_uring engine's controls (see fake_uring_engine.c). */
#ifndef BOUNCEFS_FAKE_URING_ENGINE_H
#define BOUNCEFS_FAKE_URING_ENGINE_H

#include <stdbool.h>

#include "dio/sys_io.h"
#include "dio/uring_engine.h"

/* I/Os submitted and not yet completed; submitted since engine_init. */
unsigned fake_engine_pending(void);
unsigned fake_engine_submitted(void);

/* The oldest pending I/O, or NULL. */
const struct uring_io *fake_engine_peek(void);

/* Complete the oldest pending I/O with res (bytes, or -errno), as the
 * kernel would; false if none is pending. */
bool fake_engine_complete_one(struct uring_engine *e, int res);

/* Perform the oldest pending I/O through sys_io and complete it with what
 * that returned; false if none is pending. */
bool fake_engine_run_one(struct uring_engine *e);

/* Run until nothing is pending (resubmissions included); how many ran. */
unsigned fake_engine_run_all(struct uring_engine *e);

#endif
