// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * From drained entries to curve samples, outputs and knee verdicts. The
 * knee is re-estimated as samples arrive (each one while the window is
 * small, then every thousandth of the window: an estimate sorts it).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "curve/curve.h"
#include "curve/curve_csv.h"
#include "curve/curve_json.h"
#include "curve/knee.h"
#include "lib/errors.h"
#include "lib/log.h"
#include "lib/units.h"
#include "curve/sampler.h"

/* Samples a knee window holds at most: 24 h of 100 ms bins, 200 MB. */
#define KNEE_MAX_SAMPLES (1u << 20)
/* Up to this many samples, every sample is followed by an estimate. */
#define ESTIMATE_EVERY_BELOW 2000

struct curve_link_state {
	struct knee *knee;
	struct knee_result last;
	char category[64]; /* of the last verdict logged */
	uint64_t last_t_ms; /* knee times never go back */
	size_t since_estimate;
};

struct curve {
	struct sampler *sampler;
	struct sampler_iface ifaces[SAMPLER_MAX_IFACES];
	struct curve_link_state st[SAMPLER_MAX_IFACES];
	size_t n;
	uint64_t bin_ns;
	int64_t wall_offset_ns;
	FILE *json;
	FILE *csv;
	const char *csv_path;
	uint64_t output_errors;
};

/* The speed the kernel reports, in bits/s; 0 when it reports none (veth,
 * tun, a link that is down: "-1" or an error reading it). */
static uint64_t link_speed_bps(const char *name)
{
	char path[128];
	long mbps = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/net/%s/speed", name);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%ld", &mbps) != 1)
		mbps = -1;
	fclose(f);
	return mbps > 0 ? (uint64_t)mbps * 1000000 : 0;
}

/* The part of a verdict that names the state, not the numbers: a new
 * one is logged, the same one with another percentage is not. */
static void category_of(const struct knee_result *k, char *buf, size_t len)
{
	size_t n = strcspn(k->verdict, ":");

	snprintf(buf, len, "%s %.*s", knee_status_name(k->status), (int)n, k->verdict);
}

static void format_rate(char *buf, size_t len, double bps)
{
	if (bps >= 1e9)
		snprintf(buf, len, "%.2f Gbit/s", bps / 1e9);
	else if (bps >= 1e6)
		snprintf(buf, len, "%.2f Mbit/s", bps / 1e6);
	else
		snprintf(buf, len, "%.1f kbit/s", bps / 1e3);
}

static void log_knee(const struct curve *c, size_t i, const char *prefix)
{
	const struct knee_result *k = &c->st[i].last;
	char r[32];

	if (k->status != KNEE_FOUND) {
		log_info("%scurve %s: %s", prefix, c->ifaces[i].name, k->verdict);
		return;
	}
	format_rate(r, sizeof(r), k->slope * c->ifaces[i].capacity_bps);
	log_info("%scurve %s: %s; knee N* = %.1f flows at utilisation %.0f%%, "
		 "r = %s per flow; busy-hour p95 of N %.1f; %u samples (%u below, "
		 "%u above the knee), fit RMS %.3f against %.3f for one line",
		 prefix, c->ifaces[i].name, k->verdict, k->n_star, 100 * k->rho_star, r, k->n_p95,
		 k->samples, k->below, k->above, k->rms, k->rms_line);
}

static void write_knee(struct curve *c, size_t i, uint64_t t_ms, bool final)
{
	if (c->json && curve_json_knee(c->json, c->ifaces[i].name, c->ifaces[i].ifindex,
				       c->ifaces[i].capacity_bps, &c->st[i].last, t_ms, final) != 0)
		c->output_errors++;
}

static void estimate(struct curve *c, size_t i, uint64_t t_ms)
{
	struct curve_link_state *st = &c->st[i];
	char cat[sizeof(st->category)];

	st->since_estimate = 0;
	knee_estimate(st->knee, &st->last);
	category_of(&st->last, cat, sizeof(cat));
	if (!strcmp(cat, st->category))
		return;
	snprintf(st->category, sizeof(st->category), "%s", cat);
	/* "Too few samples" at the start is no news. */
	if (st->last.status == KNEE_TOO_FEW_SAMPLES)
		return;
	log_knee(c, i, "");
	write_knee(c, i, t_ms, false);
}

static void on_sample(void *ctx, const struct curve_sample *s)
{
	struct curve *c = ctx;
	struct curve_link_state *st = &c->st[s->iface];
	uint64_t wall_ms = (uint64_t)((int64_t)s->start_ns + c->wall_offset_ns) / NS_PER_MS;
	struct knee_sample ks = {
		.t_ms = wall_ms > st->last_t_ms ? wall_ms : st->last_t_ms,
		.n = s->active_flows,
		.rho = s->utilisation,
	};
	size_t count;

	if (c->json && curve_json_sample(c->json, s, wall_ms) != 0)
		c->output_errors++;
	if (c->csv && curve_csv_write(c->csv, s, wall_ms) != 0)
		c->output_errors++;
	st->last_t_ms = ks.t_ms;
	/* Flows running before the start are not all seen yet: a ramp of N
	 * at steady ρ would look like an overload. */
	if (s->warmup || knee_add(st->knee, &ks) != 0)
		return;
	count = knee_count(st->knee);
	if (count <= ESTIMATE_EVERY_BELOW || ++st->since_estimate >= count / 1000)
		estimate(c, s->iface, ks.t_ms);
}

/* Each interface's capacity; false (after saying why) for none. */
static bool resolve_capacity(const struct curve_options *o, const char *name, uint64_t *bps)
{
	*bps = o->capacity_bps ? o->capacity_bps : link_speed_bps(name);
	if (*bps)
		return true;
	if (o->asked)
		log_warn("curve: %s reports no link speed (veth, tun, or down): "
			 "no utilisation samples for it without --capacity BPS "
			 "(e.g. --capacity 100M)",
			 name);
	else
		log_info("curve: %s reports no link speed: utilisation samples need "
			 "--capacity BPS (e.g. --capacity 100M)",
			 name);
	return false;
}

int curve_setup(struct curve **out, const struct curve_options *o, const struct curve_link *links,
		size_t n, uint64_t gap_ns, FILE *json)
{
	struct curve *c;
	struct sampler_config cfg;
	size_t window = o->window_ms * NS_PER_MS / o->sample_ns + 1;

	*out = NULL;
	if (!n && !o->capacity_bps) {
		/* A replay: the capture says nothing about the link. */
		if (!o->asked)
			return 0;
		log_error("curve samples of a capture need the link's capacity: "
			  "give --capacity BPS (e.g. --capacity 100M)");
		return -EINVAL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	if (!n) {
		snprintf(c->ifaces[0].name, sizeof(c->ifaces[0].name), "capture");
		c->ifaces[0].capacity_bps = o->capacity_bps;
		c->n = 1;
	}
	for (size_t i = 0; i < n && c->n < SAMPLER_MAX_IFACES; i++) {
		struct sampler_iface *ifc = &c->ifaces[c->n];

		if (!resolve_capacity(o, links[i].name, &ifc->capacity_bps))
			continue;
		snprintf(ifc->name, sizeof(ifc->name), "%s", links[i].name);
		ifc->ifindex = links[i].ifindex;
		c->n++;
	}
	if (!c->n) {
		free(c);
		if (!o->asked)
			return 0;
		log_error("curve samples asked for (--sample, --curve-csv) but no "
			  "interface has a known capacity: give --capacity BPS");
		return -EINVAL;
	}
	if (window > KNEE_MAX_SAMPLES) {
		log_warn("curve: the knee window holds at most %u samples of %.3f s: "
			 "%.1f h, not the %.1f h asked for",
			 KNEE_MAX_SAMPLES, o->sample_ns / 1e9,
			 KNEE_MAX_SAMPLES * (o->sample_ns / 1e9) / 3600, o->window_ms / 3600e3);
		window = KNEE_MAX_SAMPLES;
	}
	for (size_t i = 0; i < c->n; i++) {
		c->st[i].knee = knee_create(window, o->window_ms);
		if (!c->st[i].knee) {
			log_error("curve: out of memory for the knee window");
			curve_free(c);
			return -ENOMEM;
		}
	}
	cfg = (struct sampler_config){
		.bin_ns = o->sample_ns,
		.gap_ns = gap_ns,
		.ifaces = c->ifaces,
		.n_ifaces = c->n,
		.on_sample = on_sample,
		.ctx = c,
	};
	c->sampler = sampler_new(&cfg);
	if (!c->sampler) {
		int err = -errno;

		log_error("curve: cannot set up the sampler: %s", strerror(-err));
		curve_free(c);
		return err_runtime(err);
	}
	c->bin_ns = o->sample_ns;
	c->json = json;
	if (o->csv_path) {
		c->csv_path = o->csv_path;
		c->csv = fopen(o->csv_path, "w");
		if (!c->csv || curve_csv_write_header(c->csv) != 0) {
			int err = -errno;

			log_error("--curve-csv: cannot write %s: %s", o->csv_path, strerror(-err));
			curve_free(c);
			return err_runtime(err);
		}
	}
	for (size_t i = 0; i < c->n; i++)
		log_info("curve: %s at %.6g Mbit/s, a sample every %.3g s", c->ifaces[i].name,
			 c->ifaces[i].capacity_bps / 1e6, o->sample_ns / 1e9);
	*out = c;
	return 0;
}

uint64_t curve_bin_ns(const struct curve *c)
{
	return c ? c->bin_ns : 0;
}

void curve_start(struct curve *c, uint64_t now_ns)
{
	if (c)
		sampler_start(c->sampler, now_ns);
}

void curve_observe(struct curve *c, const struct flow_key *key, const struct flow_value *val)
{
	if (c)
		sampler_observe(c->sampler, key, val->first_ns, val->last_ns, val->bytes);
}

void curve_tick(struct curve *c, uint64_t now_ns, int64_t wall_offset_ns)
{
	if (!c)
		return;
	c->wall_offset_ns = wall_offset_ns;
	sampler_advance(c->sampler, now_ns);
}

void curve_finish(struct curve *c, uint64_t now_ns, int64_t wall_offset_ns)
{
	if (!c)
		return;
	c->wall_offset_ns = wall_offset_ns;
	sampler_finish(c->sampler, now_ns);
	for (size_t i = 0; i < c->n; i++) {
		knee_estimate(c->st[i].knee, &c->st[i].last);
		log_knee(c, i, "summary: ");
		write_knee(c, i,
			   c->st[i].last_t_ms ?
				   c->st[i].last_t_ms :
				   (uint64_t)((int64_t)now_ns + wall_offset_ns) / NS_PER_MS,
			   true);
	}
	if (sampler_dropped(c->sampler))
		log_debug("curve: %llu observations outside the open bins",
			  (unsigned long long)sampler_dropped(c->sampler));
	if (c->output_errors)
		log_warn("curve: %llu samples could not be written (disk full, "
			 "closed pipe?)",
			 (unsigned long long)c->output_errors);
}

void curve_free(struct curve *c)
{
	if (!c)
		return;
	sampler_free(c->sampler);
	for (size_t i = 0; i < c->n; i++)
		knee_destroy(c->st[i].knee);
	if (c->csv)
		fclose(c->csv);
	free(c);
}
