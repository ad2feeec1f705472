/*
 * Messages about failed file operations on the backing store: they name
 * the file (its path relative to the backing directory) and the offset,
 * with the errno in words, problem first and lower case, like
 *   cannot write 'images/vm.img' at offset 4096 (65536 bytes): input/output error
 * Each kind (operation and errno) is rate-limited, so that a failing disk
 * cannot flood syslog; what was held back is counted in the next message.
 * At -o log_level=debug nothing is held back: one line per failure.
 */
#ifndef BOUNCEFS_ERROR_LOG_H
#define BOUNCEFS_ERROR_LOG_H

#include <stddef.h>
#include <stdint.h>

/* Messages of one kind per window, and the window in seconds. */
#define ERROR_LOG_BURST 5
#define ERROR_LOG_WINDOW_S 60

/* The backing directory (canonical), to make paths relative to it. */
void error_log_init(const char *backing_root);

/* The path of the file open as fd, relative to the backing directory
 * ("?" if unknown). */
void error_log_path(int fd, char *out, size_t size);

/* Log that action ("read", "write", "fsync"...) on the file open as fd
 * failed with err. off < 0: no offset to name; len 0: no length. */
void error_log_file(const char *action, int fd, int64_t off, uint64_t len,
		    int err);

#endif
