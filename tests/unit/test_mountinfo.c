/* Unit tests: reading /proc/self/mountinfo's lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "core/mountinfo.h"

static const char INFO[] =
	"22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
	"garbage without the separator\n"
	"40 22 0:52 / /var/tmp/a\\040b rw,nosuid - fuse.bouncefs /srv/back\\040up rw,user_id=0\n"
	"41 40 0:53 / /var/tmp/a\\040b rw,nosuid - fuse.bouncefs /srv/other rw,user_id=0\n"
	"48 23 0:41 / /sys/fs/fuse/connections rw,relatime - fusectl none rw";

static void test_lines_and_escapes(void **state)
{
	struct mountinfo_entry e;
	const char *at = INFO;
	unsigned n = 0;

	(void)state;
	at = mountinfo_next(at, &e);
	assert_non_null(at);
	assert_int_equal(e.dev, makedev(254, 0));
	assert_string_equal(e.mountpoint, "/");
	assert_string_equal(e.fstype, "ext4");
	assert_string_equal(e.source, "/dev/vda");
	/* The malformed line is skipped. */
	at = mountinfo_next(at, &e);
	assert_string_equal(e.mountpoint, "/var/tmp/a b");
	assert_string_equal(e.source, "/srv/back up");
	assert_int_equal(e.dev, makedev(0, 52));
	for (at = INFO; (at = mountinfo_next(at, &e));)
		n++;
	assert_int_equal(n, 4);
	/* The last line has no newline. */
	assert_string_equal(e.fstype, "fusectl");
	assert_null(mountinfo_next("", &e));
}

static void test_dev_of_takes_the_mount_on_top(void **state)
{
	dev_t dev = 0;

	(void)state;
	assert_int_equal(mountinfo_dev_of(INFO, "/var/tmp/a b", "fuse.bouncefs",
					  &dev), 0);
	assert_int_equal(dev, makedev(0, 53));
	assert_int_equal(mountinfo_dev_of(INFO, "/var/tmp/a b", "ext4", &dev),
			 -ENOENT);
	assert_int_equal(mountinfo_dev_of(INFO, "/nowhere", "fuse.bouncefs",
					  &dev), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines_and_escapes),
		cmocka_unit_test(test_dev_of_takes_the_mount_on_top),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
