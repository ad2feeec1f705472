/* The probe's reports: text, JSON, and a one-line summary for the log. */
#include "probe/probe.h"
#include "core/json_write.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

static const char *role_name(enum block_role r)
{
	switch (r) {
	case BLOCK_PARTITION:
		return "partition";
	case BLOCK_STACKED:
		return "stacked";
	default:
		return "disk";
	}
}

static const char *yes_no(long v)
{
	return v < 0 ? "unknown" : v ? "yes" : "no";
}

static const char *pi_position(const struct nvme_format *f)
{
	return f->pi_first ? "first" : "last";
}

void probe_print_text(FILE *out, const struct bfs_probe *p)
{
	const struct block_dev *integ = block_chain_integrity(&p->chain);

	fprintf(out, "path:              %s\n", p->path);
	fprintf(out, "file system:       %s (%u:%u) from %s\n",
		p->fstype[0] ? p->fstype : "unknown", p->dev_major, p->dev_minor,
		p->source[0] ? p->source : "unknown");
	if (p->block_err) {
		fprintf(out, "block devices:     none (%s)\n",
			p->block_err == -ENODEV ? "not on a block device" :
			strerror(-p->block_err));
	} else {
		fprintf(out, "device chain:     ");
		for (unsigned i = 0; i < p->chain.count; i++)
			fprintf(out, "%s %s (%s)", i ? " ->" : "",
				p->chain.devs[i].name,
				role_name(p->chain.devs[i].role));
		fprintf(out, "%s\n", p->chain.truncated ? " ..." : "");
		for (unsigned i = 0; i < p->chain.count; i++) {
			const struct block_dev *d = &p->chain.devs[i];

			if (d->role == BLOCK_PARTITION)
				continue;
			fprintf(out, "  %s: logical block %ld, physical block %ld, stable_writes %s\n",
				d->name, d->logical_block_size,
				d->physical_block_size, yes_no(d->stable_writes));
			fprintf(out, "  %s: integrity %s", d->name, d->integrity_format);
			if (strcmp(d->integrity_format, "none"))
				fprintf(out, ", tag size %ld, interval %ld, read_verify %s, write_generate %s",
					d->tag_size, d->protection_interval,
					yes_no(d->read_verify),
					yes_no(d->write_generate));
			fprintf(out, "\n");
		}
	}
	if (p->dio_mem_align || p->dio_offset_align)
		fprintf(out, "direct-I/O align:  memory %u, offset %u (statx)\n",
			p->dio_mem_align, p->dio_offset_align);
	else
		fprintf(out, "direct-I/O align:  not reported (statx)\n");
	if (p->nvme) {
		const struct nvme_format *f = &p->nvme_fmt;

		fprintf(out, "NVMe namespace:    %s (nsid %u, %s, serial %s, firmware %s)\n",
			p->nvme_dev, f->nsid, f->model, f->serial, f->firmware);
		fprintf(out, "  format:          LBA format %u: %u+%u (%u data bytes, %u metadata bytes), %s metadata\n",
			f->lbaf, f->data_size, f->meta_size, f->data_size,
			f->meta_size,
			f->meta_size ? (f->extended_lba ? "extended-LBA (interleaved)" :
					"separate") : "no");
		if (f->pi_type)
			fprintf(out, "  protection:      PI type %u, %u-byte tuple in the %s bytes of the metadata, %u-bit guard (%s)\n",
				f->pi_type, f->pi_size, pi_position(f),
				nvme_guard_bits(f->guard), nvme_guard_name(f->guard));
		else
			fprintf(out, "  protection:      none\n");
	} else if (p->nvme_dev[0]) {
		fprintf(out, "NVMe namespace:    %s: cannot identify (%s)\n",
			p->nvme_dev, strerror(-p->nvme_err));
	}
	fprintf(out, "protection info:   %s\n",
		integ ? integ->integrity_format : "none seen by the kernel");
	fprintf(out, "staging alignment: %u\n", p->staging_align ? p->staging_align : 4096);
	fprintf(out, "kernel:            %s: %s\n", p->kernel,
		p->kernel_bounces ?
		"bounces direct I/O to stable-page devices by itself on this file system" :
		"does not bounce direct I/O by itself on this file system (7.0 and later do for XFS)");
	{
		char why[512];
		bool need = probe_needed(&p->chain, p->block_err, p->fstype,
					 p->kernel, p->kernel_bounces, why,
					 sizeof(why));

		fprintf(out, "bouncefs needed:   %s, because %s\n",
			need ? "yes" : "no", why);
	}
}

/* ,"name":v for a sysfs value: a number, or true/false for a flag, and
 * null where sysfs has no such attribute (v < 0). */
static void json_field(FILE *out, const char *name, long v, bool flag)
{
	fprintf(out, ",\"%s\":", name);
	if (v < 0)
		fputs("null", out);
	else if (flag)
		fputs(v ? "true" : "false", out);
	else
		fprintf(out, "%ld", v);
}

void probe_print_json(FILE *out, const struct bfs_probe *p)
{
	const struct block_dev *integ = block_chain_integrity(&p->chain);

	fputs("{\"path\":", out);
	json_write_string(out, p->path);
	fputs(",\"fstype\":", out);
	json_write_string(out, p->fstype);
	fputs(",\"source\":", out);
	json_write_string(out, p->source);
	fprintf(out, ",\"dev\":\"%u:%u\",\"devices\":[", p->dev_major, p->dev_minor);
	for (unsigned i = 0; !p->block_err && i < p->chain.count; i++) {
		const struct block_dev *d = &p->chain.devs[i];

		fputs(i ? ",{\"name\":" : "{\"name\":", out);
		json_write_string(out, d->name);
		fprintf(out, ",\"role\":\"%s\",\"depth\":%u", role_name(d->role), d->depth);
		json_field(out, "logical_block_size", d->logical_block_size, false);
		json_field(out, "physical_block_size", d->physical_block_size, false);
		json_field(out, "stable_writes", d->stable_writes, true);
		fputs(",\"integrity\":{\"format\":", out);
		json_write_string(out, d->integrity_format);
		json_field(out, "tag_size", d->tag_size, false);
		json_field(out, "protection_interval_bytes", d->protection_interval, false);
		json_field(out, "read_verify", d->read_verify, true);
		json_field(out, "write_generate", d->write_generate, true);
		fputs("}}", out);
	}
	fputs("],\"block_error\":", out);
	if (p->block_err)
		json_write_string(out, p->block_err == -ENODEV ? "not on a block device" :
			    strerror(-p->block_err));
	else
		fputs("null", out);
	/* statx's 0: not reported. */
	if (p->dio_mem_align || p->dio_offset_align)
		fprintf(out, ",\"dio_mem_align\":%u,\"dio_offset_align\":%u",
			p->dio_mem_align, p->dio_offset_align);
	else
		fputs(",\"dio_mem_align\":null,\"dio_offset_align\":null", out);
	fputs(",\"nvme\":", out);
	if (p->nvme) {
		const struct nvme_format *f = &p->nvme_fmt;

		fputs("{\"device\":", out);
		json_write_string(out, p->nvme_dev);
		fprintf(out, ",\"nsid\":%u,\"model\":", f->nsid);
		json_write_string(out, f->model);
		fputs(",\"serial\":", out);
		json_write_string(out, f->serial);
		fputs(",\"firmware\":", out);
		json_write_string(out, f->firmware);
		fprintf(out, ",\"lba_format\":%u,\"lba_data_size\":%u,\"metadata_size\":%u,"
			"\"extended_lba\":%s,\"pi_type\":%u,\"pi_position\":%s,"
			"\"pi_size\":%u,\"guard_bits\":%u,\"guard\":\"%s\","
			"\"extended_lba_formats\":%s,\"size_blocks\":%llu}",
			f->lbaf, f->data_size, f->meta_size,
			f->extended_lba ? "true" : "false", f->pi_type,
			f->pi_type ? (f->pi_first ? "\"first\"" : "\"last\"") : "null",
			f->pi_size, nvme_guard_bits(f->guard), nvme_guard_name(f->guard),
			f->elbas ? "true" : "false", (unsigned long long)f->nsze);
	} else if (p->nvme_dev[0]) {
		fputs("{\"device\":", out);
		json_write_string(out, p->nvme_dev);
		fputs(",\"error\":", out);
		json_write_string(out, strerror(-p->nvme_err));
		fputs("}", out);
	} else {
		fputs("null", out);
	}
	fputs(",\"integrity_format\":", out);
	json_write_string(out, integ ? integ->integrity_format : "none");
	fprintf(out, ",\"staging_align\":%u,\"kernel\":",
		p->staging_align ? p->staging_align : 4096);
	json_write_string(out, p->kernel);
	fprintf(out, ",\"kernel_bounces_direct_io\":%s",
		p->kernel_bounces ? "true" : "false");
	{
		char why[512];
		bool need = probe_needed(&p->chain, p->block_err, p->fstype,
					 p->kernel, p->kernel_bounces, why,
					 sizeof(why));

		fprintf(out, ",\"bouncefs_needed\":%s,\"because\":",
			need ? "true" : "false");
		json_write_string(out, why);
	}
	fputs("}\n", out);
}

void probe_summary(const struct bfs_probe *p, char *buf, size_t size)
{
	const struct block_dev *integ = block_chain_integrity(&p->chain);
	const char *dev = p->chain.count ? p->chain.devs[p->chain.count - 1].name : "no block device";
	int n;

	n = snprintf(buf, size, "%s on %s: staging alignment %u, integrity %s",
		     p->fstype[0] ? p->fstype : "unknown fs", dev,
		     p->staging_align ? p->staging_align : 4096,
		     integ ? integ->integrity_format : "none");
	if (n < 0 || (size_t)n >= size)
		return;
	if (p->nvme && p->nvme_fmt.pi_type)
		snprintf(buf + n, size - (size_t)n,
			 ", NVMe %u+%u PI type %u %u-bit guard%s",
			 p->nvme_fmt.data_size, p->nvme_fmt.meta_size,
			 p->nvme_fmt.pi_type, nvme_guard_bits(p->nvme_fmt.guard),
			 p->kernel_bounces ? ", kernel bounces too" : "");
	else if (p->nvme)
		snprintf(buf + n, size - (size_t)n, ", NVMe %u+%u no PI",
			 p->nvme_fmt.data_size, p->nvme_fmt.meta_size);
}
