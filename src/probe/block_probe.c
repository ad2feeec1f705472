/* Block devices under a file system, read from sysfs. */
#include "probe/block_probe.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* Read a sysfs attribute into buf without its newline; 0 or -errno. */
static int read_attr(const char *dir, const char *name, char *buf, size_t size)
{
	char path[PATH_MAX];
	FILE *f;
	size_t n;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	f = fopen(path, "re");
	if (!f)
		return -errno;
	n = fread(buf, 1, size - 1, f);
	fclose(f);
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return 0;
}

static long read_long(const char *dir, const char *name)
{
	char buf[64], *end;
	long v;

	if (read_attr(dir, name, buf, sizeof(buf)))
		return -1;
	errno = 0;
	v = strtol(buf, &end, 10);
	if (errno || end == buf || v < 0)
		return -1;
	return v;
}

static bool exists(const char *dir, const char *name)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return false;
	return access(path, F_OK) == 0;
}

static void read_queue_and_integrity(const char *dir, struct block_dev *d)
{
	d->logical_block_size = read_long(dir, "queue/logical_block_size");
	d->physical_block_size = read_long(dir, "queue/physical_block_size");
	d->stable_writes = read_long(dir, "queue/stable_writes");
	if (read_attr(dir, "integrity/format", d->integrity_format,
		      sizeof(d->integrity_format)) || !d->integrity_format[0])
		snprintf(d->integrity_format, sizeof(d->integrity_format), "none");
	d->tag_size = read_long(dir, "integrity/tag_size");
	d->protection_interval = read_long(dir, "integrity/protection_interval_bytes");
	d->read_verify = read_long(dir, "integrity/read_verify");
	d->write_generate = read_long(dir, "integrity/write_generate");
}

static void set_name(struct block_dev *d, const char *dir)
{
	const char *slash = strrchr(dir, '/');

	/* A longer name is cut: sysfs names are short. */
	if (snprintf(d->name, sizeof(d->name), "%s", slash ? slash + 1 : dir) >=
	    (int)sizeof(d->name))
		d->name[sizeof(d->name) - 1] = '\0';
}

/* Add the device whose sysfs directory is dir (a resolved path), then
 * what it sits on. */
static void walk(const char *dir, unsigned depth, struct block_chain *c)
{
	struct block_dev *d;
	char slaves[PATH_MAX];
	DIR *sd;
	struct dirent *e;

	if (c->count >= BLOCK_PROBE_MAX_DEVS || depth > 8) {
		c->truncated = true;
		return;
	}
	d = &c->devs[c->count++];
	memset(d, 0, sizeof(*d));
	set_name(d, dir);
	d->depth = depth;
	if (exists(dir, "partition")) {
		char parent[PATH_MAX], *slash;

		/* A partition's directory sits inside its disk's. */
		d->role = BLOCK_PARTITION;
		snprintf(parent, sizeof(parent), "%s", dir);
		slash = strrchr(parent, '/');
		if (slash)
			*slash = '\0';
		/* It has no queue of its own: report its disk's. */
		read_queue_and_integrity(parent, d);
		walk(parent, depth + 1, c);
		return;
	}
	read_queue_and_integrity(dir, d);
	d->role = BLOCK_DISK;
	if (snprintf(slaves, sizeof(slaves), "%s/slaves", dir) >= (int)sizeof(slaves))
		return;
	sd = opendir(slaves);
	if (!sd)
		return;
	while ((e = readdir(sd))) {
		char link[PATH_MAX + 256], real[PATH_MAX];

		if (e->d_name[0] == '.')
			continue;
		if (snprintf(link, sizeof(link), "%s/%s", slaves, e->d_name) >=
		    (int)sizeof(link) || !realpath(link, real))
			continue;
		d->role = BLOCK_STACKED;
		walk(real, depth + 1, c);
	}
	closedir(sd);
}

int block_probe(const char *sysfs, dev_t dev, struct block_chain *chain)
{
	char link[PATH_MAX], real[PATH_MAX];

	memset(chain, 0, sizeof(*chain));
	snprintf(link, sizeof(link), "%s/dev/block/%u:%u", sysfs, major(dev),
		 minor(dev));
	if (!realpath(link, real))
		return errno == ENOENT ? -ENODEV : -errno;
	walk(real, 0, chain);
	return 0;
}

uint32_t block_chain_logical_block_size(const struct block_chain *chain)
{
	long best = 0;

	for (unsigned i = 0; i < chain->count; i++)
		if (chain->devs[i].logical_block_size > best)
			best = chain->devs[i].logical_block_size;
	return best > 0 && best <= (1L << 20) ? (uint32_t)best : 0;
}

const struct block_dev *block_chain_integrity(const struct block_chain *chain)
{
	for (unsigned i = 0; i < chain->count; i++) {
		const char *f = chain->devs[i].integrity_format;

		if (strcmp(f, "none") && strcmp(f, "nop"))
			return &chain->devs[i];
	}
	return NULL;
}
