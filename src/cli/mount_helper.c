/* bouncefs as mount(8)'s helper (mount_helper.h). */
#include "cli/mount_helper.h"
#include "core/options.h"

#include <stdio.h>
#include <string.h>

static bool as_helper;

bool mount_helper_invoked(const char *argv0)
{
	const char *base = strrchr(argv0, '/');

	base = base ? base + 1 : argv0;
	return strcmp(base, "mount.bouncefs") == 0 ||
	       strcmp(base, "mount.fuse.bouncefs") == 0;
}

int mount_helper_parse(int argc, char **argv, struct mount_helper_args *a,
		       char *err, size_t errlen)
{
	int npos = 0;

	memset(a, 0, sizeof(*a));
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];

		if (arg[0] != '-' || arg[1] == '\0') {
			if (npos == 0)
				a->spec = arg;
			else if (npos == 1)
				a->dir = arg;
			else
				return options_fail(err, errlen, BFS_EXIT_USAGE, "too many arguments: '%s'", arg);
			npos++;
			continue;
		}
		for (const char *c = arg + 1; *c; c++) {
			const char **value;

			switch (*c) {
			case 'f': a->fake = true; continue;
			case 's': a->sloppy = true; continue;
			case 'v': a->verbose = true; continue;
			case 'n': continue;  /* no mtab: there is none */
			case 'o': value = &a->opts; break;
			case 't': value = NULL; break;
			case 'N':
				return options_fail(err, errlen, BFS_EXIT_USAGE,
					    "-N (another mount namespace) is not supported");
			default:
				return options_fail(err, errlen, BFS_EXIT_USAGE, "unknown option '-%c'", *c);
			}
			/* -oVALUE or -o VALUE */
			const char *v = c[1] ? c + 1 : (i + 1 < argc ? argv[++i] : NULL);

			if (!v)
				return options_fail(err, errlen, BFS_EXIT_USAGE, "option -%c needs an argument", *c);
			if (value) {
				*value = v;
			} else if (strcmp(v, "bouncefs") != 0 &&
				   strcmp(v, "fuse.bouncefs") != 0) {
				return options_fail(err, errlen, BFS_EXIT_USAGE,
					    "file system type '%s' is not bouncefs", v);
			}
			break;
		}
	}
	if (npos != 2)
		return options_fail(err, errlen, BFS_EXIT_USAGE,
			    "usage: mount.bouncefs BACKING_DIR MOUNTPOINT [-sfnv] [-o OPTIONS]");
	return BFS_EXIT_OK;
}

void mount_helper_begin(void)
{
	as_helper = true;
}

int mount_helper_status(int bfs_status)
{
	if (!as_helper)
		return bfs_status;
	switch (bfs_status) {
	case BFS_EXIT_OK:
		return MOUNT_EX_SUCCESS;
	case BFS_EXIT_USAGE:
		return MOUNT_EX_USAGE;
	default:
		/* Bad options or paths, already mounted, the mount or the
		 * daemon failed: mount(8) says "mount failure" for each. */
		return MOUNT_EX_FAIL;
	}
}
