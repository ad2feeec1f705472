/* The daemon's system-call allow-list. */
#include "privilege/seccomp_filter.h"

#include <errno.h>
#include <seccomp.h>
#include <stddef.h>
#include <sys/socket.h>

/*
 * What the daemon calls once mounted: the operations on the backing file
 * system, io_uring, /dev/fuse, threads and memory, signals, credentials
 * (per thread), the log (syslog's socket), and the unmount at the end.
 * Everything else (execve, mount, ptrace, bpf, keyctl, sockets other than
 * AF_UNIX...) ends the daemon under the default mode.
 */
static const char *const allowed[] = {
	/* files and directories */
	"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv",
	"pwritev", "preadv2", "pwritev2", "lseek", "openat", "open", "close",
	"close_range", "dup", "dup2", "dup3", "fcntl", "ioctl", "fstat",
	"newfstatat", "stat", "lstat", "statx", "statfs", "fstatfs",
	"getdents64", "mkdirat", "mknodat", "symlinkat", "linkat", "unlinkat",
	"renameat", "renameat2", "readlinkat", "readlink", "fchmod",
	"fchmodat", "fchownat", "fchown", "utimensat", "faccessat",
	"faccessat2", "access", "truncate", "ftruncate", "fallocate", "fsync",
	"fdatasync", "sync_file_range", "copy_file_range", "flock",
	"name_to_handle_at", "open_by_handle_at", "getxattr", "lgetxattr",
	"fgetxattr", "setxattr", "lsetxattr", "fsetxattr", "listxattr",
	"llistxattr", "flistxattr", "removexattr", "lremovexattr",
	"fremovexattr", "splice", "pipe2", "getcwd", "umount2",
	/* io_uring, eventfd, polling */
	"io_uring_setup", "io_uring_enter", "io_uring_register", "eventfd2",
	"poll", "ppoll",
	/* memory and threads */
	"mmap", "munmap", "mprotect", "mremap", "madvise", "brk", "futex",
	"set_robust_list", "get_robust_list", "rseq", "clone", "clone3",
	"exit", "exit_group", "sched_getaffinity", "sched_setaffinity",
	"sched_yield", "getrandom", "membarrier",
	/* time */
	"nanosleep", "clock_nanosleep", "clock_gettime", "clock_getres",
	"gettimeofday", "time",
	/* signals */
	"rt_sigprocmask", "rt_sigaction", "rt_sigreturn", "rt_sigtimedwait",
	"sigaltstack", "tgkill", "tkill", "restart_syscall",
	/* identity and credentials (per thread) */
	"getpid", "gettid", "getppid", "getuid", "geteuid", "getgid",
	"getegid", "getgroups", "setgroups", "setfsuid", "setfsgid",
	"getresuid", "getresgid", "capget", "capset", "unshare", "umask",
	"prctl", "getrlimit", "prlimit64", "uname", "sysinfo",
	/* the log: syslog(3)'s socket (socket itself: AF_UNIX only, below) */
	"connect", "sendto", "send", "sendmsg",
};

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZER_RUNTIME 1
/* The sanitizers' runtime: LeakSanitizer stops the world at exit with a
 * tracer thread. Sanitized builds are for tests, never for deployment. */
static const char *const sanitizer_allowed[] = {
	"ptrace", "wait4", "waitid", "process_vm_readv", "sched_getparam",
	"getpriority", "getdents",
};
#endif

static int allow_all(scmp_filter_ctx ctx, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int nr = seccomp_syscall_resolve_name(names[i]);
		int rc;

		if (nr == __NR_SCMP_ERROR)
			continue; /* not a call on this architecture */
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		if (rc)
			return rc;
	}
	return 0;
}

int seccomp_filter_install(enum bfs_seccomp_mode mode)
{
	scmp_filter_ctx ctx;
	int rc;

	if (mode == BFS_SECCOMP_NONE)
		return 0;
	ctx = seccomp_init(mode == BFS_SECCOMP_LOG ? SCMP_ACT_LOG :
			   SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		return -ENOMEM;
	/* A binary tree of the calls instead of a list; kernels from 5.11 on
	 * also answer always-allowed calls from a bitmap. Not fatal where the
	 * library cannot. */
	(void)seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	rc = allow_all(ctx, allowed, sizeof(allowed) / sizeof(allowed[0]));
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
				      SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
#ifdef SANITIZER_RUNTIME
	if (!rc)
		rc = allow_all(ctx, sanitizer_allowed,
			       sizeof(sanitizer_allowed) / sizeof(sanitizer_allowed[0]));
#endif
	if (!rc)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	return rc;
}
