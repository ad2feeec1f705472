/* Unit tests: command-line parsing and path validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "core/options.h"

static char err[512];

static int parse(struct bfs_options *o, int argc, const char **argv)
{
	options_init(o);
	err[0] = '\0';
	return options_parse(o, argc, (char **)argv, err, sizeof(err));
}

static void test_defaults(void **state)
{
	struct bfs_options o;
	const char *argv[] = { "bouncefs", "/src", "/mnt" };

	(void)state;
	assert_int_equal(parse(&o, 3, argv), BFS_EXIT_OK);
	assert_string_equal(o.backing_dir, "/src");
	assert_string_equal(o.mountpoint, "/mnt");
	assert_int_equal(o.max_write, 1u << 20);
	assert_int_equal(o.queue_depth, 64);
	assert_int_equal(o.max_threads, BFS_DEFAULT_MAX_THREADS);
	assert_int_equal(o.uring, BFS_URING_ON);
	assert_int_equal(o.restart, BFS_RESTART_AUTO);
	assert_false(o.foreground);
	assert_false(o.single_thread);
	assert_string_equal(o.fuse_opts, "");
}

static void test_flags_and_o_after_positionals(void **state)
{
	struct bfs_options o;
	const char *argv[] = { "bouncefs", "/src", "/mnt", "-o",
			       "allow_other,max_write=64k,queue_depth=8,ro",
			       "-f", "-s", "-ofsname=pi" };

	(void)state;
	assert_int_equal(parse(&o, 8, argv), BFS_EXIT_OK);
	assert_true(o.allow_other);
	assert_true(o.foreground);
	assert_true(o.single_thread);
	assert_true(o.ro);
	assert_int_equal(o.max_write, 65536);
	assert_int_equal(o.queue_depth, 8);
	assert_string_equal(o.fuse_opts, "ro,fsname=pi");
}

static void test_debug_implies_foreground(void **state)
{
	struct bfs_options o;
	const char *argv[] = { "bouncefs", "-d", "a", "b" };

	(void)state;
	assert_int_equal(parse(&o, 4, argv), BFS_EXIT_OK);
	assert_true(o.debug);
	assert_true(o.foreground);
}

static void test_timeouts(void **state)
{
	struct bfs_options o;
	const char *a1[] = { "bouncefs", "-o", "timeout=2.5", "a", "b" };
	const char *a2[] = { "bouncefs", "-o", "attr_timeout=0,entry_timeout=3", "a", "b" };
	const char *a3[] = { "bouncefs", "-o", "attr_timeout=-1", "a", "b" };
	const char *a4[] = { "bouncefs", "-o", "entry_timeout=abc", "a", "b" };

	(void)state;
	assert_int_equal(parse(&o, 5, a1), BFS_EXIT_OK);
	assert_true(o.attr_timeout == 2.5 && o.entry_timeout == 2.5);
	assert_int_equal(parse(&o, 5, a2), BFS_EXIT_OK);
	assert_true(o.attr_timeout == 0 && o.entry_timeout == 3);
	assert_int_equal(parse(&o, 5, a3), BFS_EXIT_BAD_VALUE);
	assert_non_null(strstr(err, "attr_timeout"));
	assert_int_equal(parse(&o, 5, a4), BFS_EXIT_BAD_VALUE);
}

static void test_ignored_mount_options(void **state)
{
	struct bfs_options o;
	const char *argv[] = { "bouncefs", "-o",
			       "defaults,_netdev,nofail,noauto,x-systemd.automount,x-foo=1",
			       "a", "b" };

	(void)state;
	assert_int_equal(parse(&o, 5, argv), BFS_EXIT_OK);
	assert_string_equal(o.fuse_opts, "");
}

/* mount(8)'s options: the access-time family that libfuse refuses is
 * accepted and not handed on; mount(8)'s "user=NAME" and comment= take a
 * value, the other ignored ones none. */
static void test_mount8_options(void **state)
{
	static const char *const bad[] = {
		"nofail=ON", "defaults=1", "nodiratime=0", "_netdev=yes",
	};
	struct bfs_options o;
	const char *argv[] = { "bouncefs", "-o",
			       "defaults,noatime,nodiratime,diratime,strictatime,"
			       "nostrictatime,norelatime,lazytime,nolazytime,"
			       "user=alice,nouser,comment=x-gvfs-show,group,owner",
			       "a", "b" };

	(void)state;
	assert_int_equal(parse(&o, 5, argv), BFS_EXIT_OK);
	assert_string_equal(o.fuse_opts, "noatime");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *a[] = { "bouncefs", "-o", bad[i], "a", "b" };

		assert_int_equal(parse(&o, 5, a), BFS_EXIT_BAD_VALUE);
		assert_non_null(strstr(err, "takes no value"));
	}
}

/* A remount's flags: what the options name, set and cleared, the last
 * word winning; the access-time family noted; the kernel's own FUSE
 * options (mountinfo's, handed back by mount(8)) only with remount. */
static void test_remount_flags(void **state)
{
	struct bfs_options o;
	const char *argv[] = { "bouncefs", "-o",
			       "rw,nosuid,nodev,relatime,user_id=0,group_id=0,"
			       "default_permissions,allow_other,remount,ro,exec",
			       "a", "b" };
	const char *plain[] = { "bouncefs", "-o", "remount,suid", "a", "b" };
	const char *kernel[] = { "bouncefs", "-o", "rootmode=040000", "a", "b" };
	const char *given[] = { "bouncefs", "-o", "remount,queue_depth=8,timeout=2",
				"a", "b" };

	(void)state;
	assert_int_equal(parse(&o, 5, argv), BFS_EXIT_OK);
	assert_true(o.remount);
	assert_int_equal(o.mnt_set, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_RELATIME);
	assert_int_equal(o.mnt_clear, MS_NOEXEC | MS_NOATIME | MS_STRICTATIME);
	assert_true(o.mnt_atime_named);
	assert_int_equal(parse(&o, 5, plain), BFS_EXIT_OK);
	assert_int_equal(o.mnt_set, 0);
	assert_int_equal(o.mnt_clear, MS_NOSUID);
	assert_false(o.mnt_atime_named);
	assert_int_equal(parse(&o, 5, kernel), BFS_EXIT_UNKNOWN_OPTION);
	assert_non_null(strstr(err, "'rootmode' is set by FUSE itself"));
	assert_int_equal(parse(&o, 5, given), BFS_EXIT_OK);
	assert_int_equal(o.given, BFS_GIVEN_QUEUE_DEPTH | BFS_GIVEN_ATTR_TIMEOUT |
			 BFS_GIVEN_ENTRY_TIMEOUT);
}

/* -o log= and log_level=, and mount -s's sloppiness. */
static void test_log_options(void **state)
{
	struct bfs_options o;
	const char *file[] = { "bouncefs", "-o", "log=/var/log/b.log,log_level=debug",
			       "a", "b" };
	const char *err_level[] = { "bouncefs", "-o", "log=stderr,log_level=error",
				    "a", "b" };
	static const char *const bad[] = {
		"log=b.log", "log=", "log", "log_level=", "log_level=notice",
		"log_level=7",
	};

	(void)state;
	assert_int_equal(parse(&o, 5, file), BFS_EXIT_OK);
	assert_int_equal(o.log_target, LOG_TARGET_FILE);
	assert_string_equal(o.log_file, "/var/log/b.log");
	assert_int_equal(o.log_level, LOG_DEBUG);
	assert_int_equal(parse(&o, 5, err_level), BFS_EXIT_OK);
	assert_int_equal(o.log_target, LOG_TARGET_STDERR);
	assert_int_equal(o.log_level, LOG_ERR);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *a[] = { "bouncefs", "-o", bad[i], "a", "b" };

		assert_int_equal(parse(&o, 5, a), BFS_EXIT_BAD_VALUE);
	}
	{
		const char *a[] = { "bouncefs", "-o", "frobnicate,queue_depth=8",
				    "a", "b" };

		options_init(&o);
		o.sloppy = true;
		assert_int_equal(options_parse(&o, 5, (char **)a, err, sizeof(err)),
				 BFS_EXIT_OK);
		assert_int_equal(o.queue_depth, 8);
	}
}

/* subtype would make the mount another type (and slip past the
 * already-mounted check); blksize is for fuseblk; max_read is kept, to be
 * said again at INIT. */
static void test_fuse_value_options(void **state)
{
	struct bfs_options o;
	const char *sub[] = { "bouncefs", "-o", "subtype=other", "a", "b" };
	const char *blk[] = { "bouncefs", "-o", "blksize=4096", "a", "b" };
	const char *mr[] = { "bouncefs", "-o", "max_read=128k", "a", "b" };

	(void)state;
	assert_int_equal(parse(&o, 5, sub), BFS_EXIT_BAD_VALUE);
	assert_non_null(strstr(err, "fuse.bouncefs"));
	assert_int_equal(parse(&o, 5, blk), BFS_EXIT_BAD_VALUE);
	assert_non_null(strstr(err, "fuseblk"));
	assert_int_equal(parse(&o, 5, mr), BFS_EXIT_OK);
	assert_int_equal(o.max_read, 128 * 1024);
	assert_string_equal(o.fuse_opts, "max_read=128k");
}

static void test_unknown_o_option(void **state)
{
	struct bfs_options o;
	const char *argv[] = { "bouncefs", "-o", "allow_other,bogus", "a", "b" };

	(void)state;
	assert_int_equal(parse(&o, 5, argv), BFS_EXIT_UNKNOWN_OPTION);
	assert_string_equal(err, "unknown mount option 'bogus'");
}

static void test_malformed_values(void **state)
{
	static const char *const bad[] = {
		"max_write=", "max_write=1000", "max_write=2M", "max_write=4k1",
		"max_write=-4096", "queue_depth=0", "queue_depth=x",
		"queue_depth=99999", "max_threads=0", "allow_other=1",
		"fsname=", "max_read=abc", "max_write", "uring", "uring=",
		"uring=yes", "uring=ON",
	};
	struct bfs_options o;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *argv[] = { "bouncefs", "-o", bad[i], "a", "b" };

		assert_int_equal(parse(&o, 5, argv), BFS_EXIT_BAD_VALUE);
		assert_true(strlen(err) > 0);
		assert_null(strchr(err, '\n'));
	}
}

static void test_size_suffixes(void **state)
{
	struct bfs_options o;

	(void)state;
	options_init(&o);
	assert_int_equal(options_parse_o(&o, "max_write=1M", err, sizeof(err)),
			 BFS_EXIT_OK);
	assert_int_equal(o.max_write, 1u << 20);
	assert_int_equal(options_parse_o(&o, "max_write=8192", err, sizeof(err)),
			 BFS_EXIT_OK);
	assert_int_equal(o.max_write, 8192);
	assert_int_equal(options_parse_o(&o, "max_write=4K", err, sizeof(err)),
			 BFS_EXIT_OK);
	assert_int_equal(o.max_write, 4096);
}

static void test_uring_modes(void **state)
{
	static const struct {
		const char *opt;
		enum bfs_uring_mode mode;
	} cases[] = {
		{ "uring=off", BFS_URING_OFF },
		{ "uring=auto", BFS_URING_AUTO },
		{ "uring=on", BFS_URING_ON },
		{ "uring=off,uring=auto", BFS_URING_AUTO },
	};
	struct bfs_options o;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		options_init(&o);
		assert_int_equal(options_parse_o(&o, cases[i].opt, err, sizeof(err)),
				 BFS_EXIT_OK);
		assert_int_equal(o.uring, cases[i].mode);
		/* Ours: not handed to libfuse. */
		assert_string_equal(o.fuse_opts, "");
	}
}

static void test_passthrough(void **state)
{
	struct bfs_options o;

	(void)state;
	options_init(&o);
	assert_true(o.passthrough);
	assert_int_equal(options_parse_o(&o, "passthrough=off", err, sizeof(err)),
			 BFS_EXIT_OK);
	assert_false(o.passthrough);
	assert_string_equal(o.fuse_opts, "");
	assert_int_equal(options_parse_o(&o, "passthrough=on", err, sizeof(err)),
			 BFS_EXIT_OK);
	assert_true(o.passthrough);
	assert_int_equal(options_parse_o(&o, "passthrough=yes", err, sizeof(err)),
			 BFS_EXIT_BAD_VALUE);
	assert_non_null(strstr(err, "want on or off"));
	assert_int_equal(options_parse_o(&o, "passthrough", err, sizeof(err)),
			 BFS_EXIT_BAD_VALUE);
}

static void test_seccomp_modes(void **state)
{
	static const struct {
		const char *opt;
		enum bfs_seccomp_mode mode;
	} cases[] = {
		{ "seccomp=kill", BFS_SECCOMP_KILL },
		{ "seccomp=log", BFS_SECCOMP_LOG },
		{ "seccomp=none", BFS_SECCOMP_NONE },
	};
	struct bfs_options o;

	(void)state;
	options_init(&o);
	assert_int_equal(o.seccomp, BFS_SECCOMP_KILL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		options_init(&o);
		assert_int_equal(options_parse_o(&o, cases[i].opt, err, sizeof(err)),
				 BFS_EXIT_OK);
		assert_int_equal(o.seccomp, cases[i].mode);
		assert_string_equal(o.fuse_opts, "");
	}
	options_init(&o);
	assert_int_equal(options_parse_o(&o, "seccomp=off", err, sizeof(err)),
			 BFS_EXIT_BAD_VALUE);
	assert_non_null(strstr(err, "kill, log or none"));
	assert_int_equal(options_parse_o(&o, "seccomp", err, sizeof(err)),
			 BFS_EXIT_BAD_VALUE);
}

static void test_usage_errors(void **state)
{
	struct bfs_options o;
	const char *none[] = { "bouncefs" };
	const char *one[] = { "bouncefs", "a" };
	const char *three[] = { "bouncefs", "a", "b", "c" };
	const char *flag[] = { "bouncefs", "--frobnicate", "a", "b" };
	const char *dangling[] = { "bouncefs", "a", "b", "-o" };

	(void)state;
	assert_int_equal(parse(&o, 1, none), BFS_EXIT_USAGE);
	assert_non_null(strstr(err, "missing BACKING_DIR"));
	assert_int_equal(parse(&o, 2, one), BFS_EXIT_USAGE);
	assert_non_null(strstr(err, "missing MOUNTPOINT"));
	assert_int_equal(parse(&o, 4, three), BFS_EXIT_USAGE);
	assert_int_equal(parse(&o, 4, flag), BFS_EXIT_USAGE);
	assert_non_null(strstr(err, "--frobnicate"));
	assert_int_equal(parse(&o, 4, dangling), BFS_EXIT_USAGE);
}

static void test_help_and_version_need_no_paths(void **state)
{
	struct bfs_options o;
	const char *h[] = { "bouncefs", "--help" };
	const char *v[] = { "bouncefs", "-V" };

	(void)state;
	assert_int_equal(parse(&o, 2, h), BFS_EXIT_OK);
	assert_true(o.show_help);
	assert_int_equal(parse(&o, 2, v), BFS_EXIT_OK);
	assert_true(o.show_version);
}

static void test_double_dash(void **state)
{
	struct bfs_options o;
	const char *argv[] = { "bouncefs", "--", "-odd", "-mnt" };

	(void)state;
	assert_int_equal(parse(&o, 4, argv), BFS_EXIT_OK);
	assert_string_equal(o.backing_dir, "-odd");
	assert_string_equal(o.mountpoint, "-mnt");
}

/* Path checks against a scratch tree:
 * top/back, top/mnt, top/file, top/back/inner, top/mnt/inner. */
static char top[64];

static int make_tree(void **state)
{
	char p[128];
	FILE *f;

	(void)state;
	strcpy(top, "/tmp/bfs-opt-XXXXXX");
	if (!mkdtemp(top))
		return -1;
	snprintf(p, sizeof(p), "%s/back", top); mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/back/inner", top); mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/mnt", top); mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/mnt/inner", top); mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/file", top);
	f = fopen(p, "w");
	if (!f)
		return -1;
	fclose(f);
	return 0;
}

static int remove_tree(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	return system(cmd) == 0 ? 0 : -1;
}

static int check(const char *back, const char *mnt)
{
	struct bfs_options o;
	char b[128], m[128];

	options_init(&o);
	snprintf(b, sizeof(b), "%s/%s", top, back);
	snprintf(m, sizeof(m), "%s/%s", top, mnt);
	o.backing_dir = b;
	o.mountpoint = m;
	err[0] = '\0';
	return options_check_paths(&o, err, sizeof(err));
}

static void test_paths(void **state)
{
	(void)state;
	assert_int_equal(check("back", "mnt"), BFS_EXIT_OK);
	assert_int_equal(check("nothere", "mnt"), BFS_EXIT_BAD_BACKING);
	assert_non_null(strstr(err, "No such file or directory"));
	assert_int_equal(check("file", "mnt"), BFS_EXIT_BAD_BACKING);
	assert_non_null(strstr(err, "not a directory"));
	assert_int_equal(check("back", "nothere"), BFS_EXIT_BAD_MOUNTPOINT);
	/* A regular file as the mountpoint: every access would fail. */
	assert_int_equal(check("back", "file"), BFS_EXIT_BAD_MOUNTPOINT);
	assert_non_null(strstr(err, "not a directory"));
	assert_int_equal(check("back", "back"), BFS_EXIT_OVERLAP);
	assert_int_equal(check("back", "back/../back/"), BFS_EXIT_OVERLAP);
	assert_int_equal(check("mnt/inner", "mnt"), BFS_EXIT_OVERLAP);
	assert_non_null(strstr(err, "inside the mountpoint"));
	assert_int_equal(check("back", "back/inner"), BFS_EXIT_OVERLAP);
	/* A name that merely starts the same is no overlap. */
	assert_int_equal(check("mnt/inner", "back/inner"), BFS_EXIT_OK);
}

static void test_already_mounted(void **state)
{
	const char *info =
		"22 1 0:21 / /proc rw,relatime shared:12 - proc proc rw\n"
		"90 29 0:50 / /mnt/a rw,nosuid,nodev shared:40 - fuse.bouncefs /srv/a rw,user_id=0\n"
		"91 29 0:51 / /mnt/b rw shared:41 - fuse.other /srv/b rw\n"
		"92 29 0:52 / /mnt/with\\040space rw - fuse.bouncefs /srv/c rw\n";

	(void)state;
	assert_int_equal(options_check_not_mounted("/mnt/a", info, err, sizeof(err)),
			 BFS_EXIT_BUSY);
	assert_string_equal(err, "mountpoint '/mnt/a' is already a bouncefs mount");
	assert_int_equal(options_check_not_mounted("/mnt/b", info, err, sizeof(err)),
			 BFS_EXIT_OK);
	assert_int_equal(options_check_not_mounted("/mnt", info, err, sizeof(err)),
			 BFS_EXIT_OK);
	assert_int_equal(options_check_not_mounted("/mnt/a", "", err, sizeof(err)),
			 BFS_EXIT_OK);
	assert_int_equal(options_check_not_mounted("/mnt/with space", info, err,
						   sizeof(err)), BFS_EXIT_BUSY);
	assert_int_equal(options_check_not_mounted("/mnt/with\\040space", info,
						   err, sizeof(err)), BFS_EXIT_OK);
}

/* -o restart= (supervisor, systemd, off), --successor= (the supervisor's) and --takeover MOUNTPOINT;
 * where the paths and "--" were, for the successor's command line. */
static void test_restart_options(void **state)
{
	struct bfs_options o;
	const char *plain[] = { "bouncefs", "-o", "restart=supervisor", "/src",
				"--", "/mnt" };
	const char *off[] = { "bouncefs", "-orestart=off", "/src", "/mnt" };
	const char *bad[] = { "bouncefs", "-orestart=yes", "/src", "/mnt" };
	const char *sd[] = { "bouncefs", "-f", "-orestart=systemd", "/src", "/mnt" };
	const char *autorestart[] = { "bouncefs", "-orestart=off,restart=auto", "/src", "/mnt" };
	const char *sd_detached[] = { "bouncefs", "-orestart=systemd", "/src", "/mnt" };
	const char *succ[] = { "bouncefs", "--successor=7,6,9", "/src", "/mnt" };
	const char *bad_succ[] = { "bouncefs", "--successor=7,2,9", "/src", "/mnt" };
	const char *bad_succ2[] = { "bouncefs", "--successor=7,6", "/src", "/mnt" };
	const char *take[] = { "bouncefs", "--takeover", "/mnt" };
	const char *take2[] = { "bouncefs", "--takeover", "/src", "/mnt" };

	(void)state;
	assert_int_equal(parse(&o, 6, plain), BFS_EXIT_OK);
	assert_int_equal(o.restart, BFS_RESTART_SUPERVISOR);
	assert_true(o.given & BFS_GIVEN_RESTART);
	assert_int_equal(o.path_args[0], 3);
	assert_int_equal(o.path_args[1], 5);
	assert_int_equal(o.dashdash_arg, 4);
	assert_int_equal(o.successor_fds[0], -1);
	assert_int_equal(parse(&o, 4, off), BFS_EXIT_OK);
	assert_int_equal(o.restart, BFS_RESTART_OFF);
	assert_int_equal(o.dashdash_arg, -1);
	assert_int_equal(parse(&o, 4, bad), BFS_EXIT_BAD_VALUE);
	assert_non_null(strstr(err, "auto, supervisor, systemd or off"));
	/* systemd's: its service runs in the foreground. */
	assert_int_equal(parse(&o, 5, sd), BFS_EXIT_OK);
	assert_int_equal(o.restart, BFS_RESTART_SYSTEMD);
	assert_true(o.given & BFS_GIVEN_RESTART);
	assert_string_equal(bfs_restart_names[o.restart], "systemd");
	/* auto (the default, or given last) names nothing a remount checks. */
	assert_int_equal(parse(&o, 4, autorestart), BFS_EXIT_OK);
	assert_int_equal(o.restart, BFS_RESTART_AUTO);
	assert_false(o.given & BFS_GIVEN_RESTART);
	assert_int_equal(parse(&o, 4, sd_detached), BFS_EXIT_USAGE);
	assert_non_null(strstr(err, "restart=systemd needs -f"));
	assert_int_equal(parse(&o, 4, succ), BFS_EXIT_OK);
	assert_int_equal(o.successor_fds[0], 7);
	assert_int_equal(o.successor_fds[1], 6);
	assert_int_equal(o.successor_fds[2], 9);
	assert_int_equal(parse(&o, 4, bad_succ), BFS_EXIT_USAGE);
	assert_int_equal(parse(&o, 4, bad_succ2), BFS_EXIT_USAGE);
	assert_int_equal(parse(&o, 3, take), BFS_EXIT_OK);
	assert_true(o.takeover);
	assert_string_equal(o.mountpoint, "/mnt");
	assert_int_equal(parse(&o, 4, take2), BFS_EXIT_USAGE);
	assert_non_null(strstr(err, "--takeover takes one MOUNTPOINT"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_flags_and_o_after_positionals),
		cmocka_unit_test(test_debug_implies_foreground),
		cmocka_unit_test(test_timeouts),
		cmocka_unit_test(test_ignored_mount_options),
		cmocka_unit_test(test_unknown_o_option),
		cmocka_unit_test(test_malformed_values),
		cmocka_unit_test(test_size_suffixes),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_help_and_version_need_no_paths),
		cmocka_unit_test(test_double_dash),
		cmocka_unit_test(test_uring_modes),
		cmocka_unit_test(test_passthrough),
		cmocka_unit_test(test_seccomp_modes),
		cmocka_unit_test(test_already_mounted),
		cmocka_unit_test(test_mount8_options),
		cmocka_unit_test(test_fuse_value_options),
		cmocka_unit_test(test_remount_flags),
		cmocka_unit_test(test_log_options),
		cmocka_unit_test(test_restart_options),
		cmocka_unit_test_setup_teardown(test_paths, make_tree, remove_tree),
	};

	return cmocka_run_group_tests_name("options", tests, NULL, NULL);
}
