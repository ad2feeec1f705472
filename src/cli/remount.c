/* Remounting a running bouncefs mount (remount.h). */
#include "cli/remount.h"
#include "core/mountinfo.h"
#include "core/stats.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>

/* One config_<name> value of the running mount's counters; false if it
 * does not say. */
static bool running_config(const char *text, const char *name, uint64_t *v)
{
	char key[64];
	const char *p;
	size_t n = (size_t)snprintf(key, sizeof(key), "\nconfig_%s ", name);

	p = strstr(text, key);
	if (!p)
		return false;
	*v = strtoull(p + n, NULL, 10);
	return true;
}

/* The daemon options this remount names, each against the value the
 * mount runs with. */
static int check_fixed(const struct bfs_options *o, const char *mnt,
		       char *err, size_t errlen)
{
	static const char *const onoff[] = { "off", "on" };
	char text[16384];
	ssize_t n = getxattr(mnt, BFS_STATS_XATTR, text + 1, sizeof(text) - 2);
	const struct {
		unsigned bit;
		const char *option, *config;
		uint64_t want;
		const char *const *words;   /* a mode's names, or NULL */
		uint64_t nwords;
	} fixed[] = {
		{ BFS_GIVEN_QUEUE_DEPTH, "queue_depth", "queue_depth", o->queue_depth, NULL, 0 },
		{ BFS_GIVEN_MAX_WRITE, "max_write", "max_write", o->max_write, NULL, 0 },
		{ BFS_GIVEN_MAX_THREADS, "max_threads", "max_threads", o->max_threads, NULL, 0 },
		{ BFS_GIVEN_URING, "uring", "uring_mode", o->uring, bfs_uring_names, BFS_URING_MODES },
		{ BFS_GIVEN_SECCOMP, "seccomp", "seccomp_mode", o->seccomp, bfs_seccomp_names, BFS_SECCOMP_MODES },
		{ BFS_GIVEN_PASSTHROUGH, "passthrough", "passthrough", o->passthrough, onoff, 2 },
		{ BFS_GIVEN_RESTART, "restart", "restart", o->restart, bfs_restart_names, BFS_RESTART_MODES },
		{ BFS_GIVEN_ATTR_TIMEOUT, "attr_timeout", "attr_timeout_ms",
		  (uint64_t)(o->attr_timeout * 1000 + 0.5), NULL, 0 },
		{ BFS_GIVEN_ENTRY_TIMEOUT, "entry_timeout", "entry_timeout_ms",
		  (uint64_t)(o->entry_timeout * 1000 + 0.5), NULL, 0 },
	};

	if (n < 0)
		return options_fail(err, errlen, BFS_EXIT_FAILURE,
			    "cannot read the running mount's configuration at '%s': %s",
			    mnt, strerror(errno));
	text[0] = '\n';
	text[n + 1] = '\0';
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		uint64_t have;

		if (!(o->given & fixed[i].bit) ||
		    !running_config(text, fixed[i].config, &have) ||
		    have == fixed[i].want)
			continue;
		if (fixed[i].words && have < fixed[i].nwords)
			return options_fail(err, errlen, BFS_EXIT_BAD_VALUE,
				    "a remount cannot change %s (the mount runs with %s=%s): unmount and mount again",
				    fixed[i].option, fixed[i].option,
				    fixed[i].words[have]);
		if (fixed[i].bit & (BFS_GIVEN_ATTR_TIMEOUT | BFS_GIVEN_ENTRY_TIMEOUT))
			return options_fail(err, errlen, BFS_EXIT_BAD_VALUE,
				    "a remount cannot change %s (the mount runs with %s=%g): unmount and mount again",
				    fixed[i].option, fixed[i].option, (double)have / 1000);
		return options_fail(err, errlen, BFS_EXIT_BAD_VALUE,
			    "a remount cannot change %s (the mount runs with %s=%llu): unmount and mount again",
			    fixed[i].option, fixed[i].option,
			    (unsigned long long)have);
	}
	return BFS_EXIT_OK;
}

/* The mount's present per-mount flags, as mount(2) takes them. */
static unsigned long present_flags(const struct statvfs *sv, bool atime)
{
	static const struct { unsigned long st, ms; bool atime; } map[] = {
		{ ST_RDONLY, MS_RDONLY, false },
		{ ST_NOSUID, MS_NOSUID, false },
		{ ST_NODEV, MS_NODEV, false },
		{ ST_NOEXEC, MS_NOEXEC, false },
		{ ST_SYNCHRONOUS, MS_SYNCHRONOUS, false },
		{ ST_NOATIME, MS_NOATIME, true },
		{ ST_NODIRATIME, MS_NODIRATIME, true },
		{ ST_RELATIME, MS_RELATIME, true },
	};
	unsigned long flags = 0;

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if ((sv->f_flag & map[i].st) && (atime || !map[i].atime))
			flags |= map[i].ms;
	/* Neither noatime nor relatime: strictatime. */
	if (atime && !(sv->f_flag & (ST_NOATIME | ST_RELATIME)))
		flags |= MS_STRICTATIME;
	return flags;
}

int remount_run(const struct bfs_options *o, char *err, size_t errlen)
{
	char mnt[PATH_MAX];
	struct statvfs sv;
	unsigned long flags;
	dev_t dev;
	int rc;

	if (!realpath(o->mountpoint, mnt))
		return options_fail(err, errlen, BFS_EXIT_BAD_MOUNTPOINT,
			    "mountpoint '%s': %s", o->mountpoint, strerror(errno));
	if (mountinfo_dev_at(mnt, "fuse.bouncefs", &dev) != 0)
		return options_fail(err, errlen, BFS_EXIT_BAD_MOUNTPOINT,
			    "cannot remount '%s': it is not a bouncefs mount",
			    mnt);
	if (statvfs(mnt, &sv) != 0)
		return options_fail(err, errlen, BFS_EXIT_FAILURE,
			    "cannot remount '%s': %s%s", mnt, strerror(errno),
			    errno == ENOTCONN ? " (its daemon is gone: umount it)" : "");
	rc = check_fixed(o, mnt, err, errlen);
	if (rc != BFS_EXIT_OK)
		return rc;
	/* Unnamed access-time flags are left out: the kernel keeps them. */
	flags = present_flags(&sv, o->mnt_atime_named);
	flags = (flags & ~o->mnt_clear) | o->mnt_set;
	if (mount(NULL, mnt, NULL, MS_REMOUNT | flags, NULL) != 0)
		return options_fail(err, errlen, BFS_EXIT_FAILURE,
			    "cannot remount '%s': %s", mnt, strerror(errno));
	return BFS_EXIT_OK;
}
