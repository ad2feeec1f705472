/*
 * What ThreadSanitizer cannot see: orderings the kernel makes.
 *
 * The FUSE connection orders an answer before every request the kernel
 * sends after it (a FORGET after the RELEASE of the inode's last open, a
 * GETXATTR after the CREATE that made the inode), and an io_uring
 * orders what a thread wrote before it submitted an I/O before that I/O's
 * completion. Each transport says so here: it releases the connection
 * before it answers and acquires it when a request arrives, and the
 * engine releases an I/O when it submits it and acquires it when it
 * completes. Requests in flight at the same time stay unordered, so races
 * between them are still reported. Without -fsanitize=thread, nothing.
 */
#ifndef BOUNCEFS_TSAN_ANNOTATIONS_H
#define BOUNCEFS_TSAN_ANNOTATIONS_H

#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>

/* The connection's stand-in: one object for all of the program (a weak
 * definition in each unit that includes this, merged by the linker). */
__attribute__((weak)) char tsan_fuse_connection;

#define TSAN_RELEASE(addr) __tsan_release((void *)(addr))
#define TSAN_ACQUIRE(addr) __tsan_acquire((void *)(addr))
#define TSAN_FUSE_ANSWERING() __tsan_release(&tsan_fuse_connection)
#define TSAN_FUSE_RECEIVED() __tsan_acquire(&tsan_fuse_connection)
#else
#define TSAN_RELEASE(addr) ((void)(addr))
#define TSAN_ACQUIRE(addr) ((void)(addr))
#define TSAN_FUSE_ANSWERING() ((void)0)
#define TSAN_FUSE_RECEIVED() ((void)0)
#endif

#endif
