// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The sampler: a ring of open bins (per interface: bytes, active flow-time,
 * flows with a packet) and a table of recently seen flows, each with the
 * interval over which it is known to be active. An observation extends its
 * flow's interval; only the newly covered time is credited to the bins, so
 * the same flow seen on several CPUs, or across drains, is never counted
 * twice. Bins leave the ring, as samples, once no pause still open could be
 * bridged into them.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "curve/sampler.h"
#include "lib/hash.h"

struct bin_acc {
	double bytes;
	double active_ns; /* Σ over flows of overlap with the bin */
	uint64_t flows; /* flows with a packet in the bin */
};

struct flow_state {
	struct flow_key key;
	uint64_t first_ns, last_ns; /* the active interval known so far */
	uint64_t counted_top; /* newest bin this flow was counted in */
	uint64_t counted_mask; /* bit i: counted in bin counted_top - i */
	int iface;
};

#define NO_SLOT UINT32_MAX

struct sampler {
	struct sampler_config cfg;
	struct sampler_iface ifaces[SAMPLER_MAX_IFACES];
	bool started;
	uint64_t start_seq; /* first bin wholly after the start */
	uint64_t start_ns; /* when counting began */
	uint64_t emit_seq; /* oldest bin not yet reported */
	size_t ring_bins; /* bins the ring holds */
	struct bin_acc *ring; /* ring_bins × n_ifaces */
	struct flow_state *flows; /* dense */
	size_t n_flows, cap_flows;
	uint32_t *index; /* open addressing into flows, linear probing */
	size_t index_size; /* power of two, > 2 × n_flows */
	uint64_t dropped;
};

/* Keys are zero-padded (the datapath builds them that way), so comparing
 * the whole struct is well defined. */
static uint64_t key_hash(const struct flow_key *key)
{
	return hash_bytes(key, sizeof(*key));
}

static int rebuild_index(struct sampler *s, size_t size)
{
	uint32_t *idx = malloc(size * sizeof(*idx));

	if (!idx)
		return -ENOMEM;
	memset(idx, 0xff, size * sizeof(*idx));
	for (size_t i = 0; i < s->n_flows; i++) {
		size_t h = key_hash(&s->flows[i].key) & (size - 1);

		while (idx[h] != NO_SLOT)
			h = (h + 1) & (size - 1);
		idx[h] = i;
	}
	free(s->index);
	s->index = idx;
	s->index_size = size;
	return 0;
}

struct sampler *sampler_new(const struct sampler_config *cfg)
{
	struct sampler *s;

	if (!cfg->bin_ns || !cfg->n_ifaces || cfg->n_ifaces > SAMPLER_MAX_IFACES ||
	    !cfg->on_sample) {
		errno = EINVAL;
		return NULL;
	}
	for (size_t i = 0; i < cfg->n_ifaces; i++) {
		if (!cfg->ifaces[i].capacity_bps) {
			errno = EINVAL;
			return NULL;
		}
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->cfg = *cfg;
	memcpy(s->ifaces, cfg->ifaces, cfg->n_ifaces * sizeof(*cfg->ifaces));
	s->cfg.ifaces = s->ifaces;
	/* Open bins: the gap's worth waiting to be final, the current one,
	 * and slack for packets drained a little after "now" was read. */
	s->ring_bins = cfg->gap_ns / cfg->bin_ns + 4;
	s->ring = calloc(s->ring_bins * cfg->n_ifaces, sizeof(*s->ring));
	if (!s->ring || rebuild_index(s, 1024) != 0) {
		sampler_free(s);
		return NULL;
	}
	return s;
}

void sampler_free(struct sampler *s)
{
	if (!s)
		return;
	free(s->ring);
	free(s->flows);
	free(s->index);
	free(s);
}

uint64_t sampler_dropped(const struct sampler *s)
{
	return s->dropped;
}

void sampler_start(struct sampler *s, uint64_t now_ns)
{
	uint64_t bin = s->cfg.bin_ns;

	s->started = true;
	s->start_ns = now_ns;
	s->start_seq = (now_ns + bin - 1) / bin;
	s->emit_seq = s->start_seq;
}

/* The accumulator of bin seq for an interface; NULL when the bin is not
 * open (a partial first bin, silently; anything else counts as dropped). */
static struct bin_acc *bin_at(struct sampler *s, uint64_t seq, int iface)
{
	if (seq < s->start_seq)
		return NULL;
	if (seq < s->emit_seq || seq >= s->emit_seq + s->ring_bins) {
		s->dropped++;
		return NULL;
	}
	return &s->ring[(seq % s->ring_bins) * s->cfg.n_ifaces + iface];
}

/* Adds the flow-time of [a, b) to the bins it overlaps. */
static void credit_active(struct sampler *s, int iface, uint64_t a, uint64_t b)
{
	uint64_t bin = s->cfg.bin_ns;

	for (uint64_t seq = a / bin; a < b; seq++) {
		uint64_t end = (seq + 1) * bin;
		uint64_t upto = b < end ? b : end;
		struct bin_acc *acc = bin_at(s, seq, iface);

		if (acc)
			acc->active_ns += upto - a;
		a = upto;
	}
}

/* Spreads an entry's bytes over the bins its [first, last] overlaps, in
 * proportion to time. When drains fall on bin edges (the daemon arranges
 * it) every entry lies in one bin and this is exact. */
static void credit_bytes(struct sampler *s, int iface, uint64_t first, uint64_t last,
			 uint64_t bytes)
{
	uint64_t bin = s->cfg.bin_ns;
	struct bin_acc *acc;

	if (first / bin == last / bin) {
		acc = bin_at(s, first / bin, iface);
		if (acc)
			acc->bytes += bytes;
		return;
	}
	for (uint64_t seq = first / bin, a = first; a < last; seq++) {
		uint64_t end = (seq + 1) * bin;
		uint64_t upto = last < end ? last : end;

		acc = bin_at(s, seq, iface);
		if (acc)
			acc->bytes += (double)bytes * (upto - a) / (last - first);
		a = upto;
	}
}

/* Counts the flow once in each bin from first to last it was not yet
 * counted in (several CPUs' entries may cover the same bin). */
static void count_packets(struct sampler *s, struct flow_state *f, uint64_t first, uint64_t last)
{
	uint64_t bin = s->cfg.bin_ns;

	for (uint64_t seq = first / bin; seq <= last / bin; seq++) {
		struct bin_acc *acc;
		uint64_t bit;

		if (seq > f->counted_top) {
			uint64_t shift = seq - f->counted_top;

			f->counted_mask = shift >= 64 ? 0 : f->counted_mask << shift;
			f->counted_top = seq;
		} else if (f->counted_top - seq >= 64) {
			continue; /* long reported */
		}
		bit = 1ull << (f->counted_top - seq);
		if (f->counted_mask & bit)
			continue;
		f->counted_mask |= bit;
		acc = bin_at(s, seq, f->iface);
		if (acc)
			acc->flows++;
	}
}

static int iface_of(const struct sampler *s, int ifindex)
{
	for (size_t i = 0; i < s->cfg.n_ifaces; i++)
		if (!s->ifaces[i].ifindex || s->ifaces[i].ifindex == ifindex)
			return i;
	return -1;
}

/* The flow's state, created empty (first_ns = last_ns = 0, mask 0) when
 * new; NULL when out of memory. */
static struct flow_state *lookup(struct sampler *s, const struct flow_key *key, int iface,
				 bool *created)
{
	size_t h = key_hash(key) & (s->index_size - 1);
	struct flow_state *f;

	for (; s->index[h] != NO_SLOT; h = (h + 1) & (s->index_size - 1)) {
		f = &s->flows[s->index[h]];
		if (memcmp(&f->key, key, sizeof(*key)) == 0) {
			*created = false;
			return f;
		}
	}
	if (s->n_flows == s->cap_flows) {
		size_t cap = s->cap_flows ? 2 * s->cap_flows : 256;
		struct flow_state *n = realloc(s->flows, cap * sizeof(*n));

		if (!n)
			return NULL;
		s->flows = n;
		s->cap_flows = cap;
	}
	f = &s->flows[s->n_flows];
	memset(f, 0, sizeof(*f));
	f->key = *key;
	f->iface = iface;
	s->index[h] = s->n_flows++;
	*created = true;
	if (2 * s->n_flows >= s->index_size && rebuild_index(s, 2 * s->index_size) != 0)
		return NULL;
	return f;
}

void sampler_observe(struct sampler *s, const struct flow_key *key, uint64_t first_ns,
		     uint64_t last_ns, uint64_t bytes)
{
	struct flow_state *f;
	bool created;
	int iface;

	if (!s->started || last_ns < first_ns)
		return;
	iface = iface_of(s, key->ifindex);
	if (iface < 0)
		return;
	f = lookup(s, key, iface, &created);
	if (!f) {
		s->dropped++;
		return;
	}
	credit_bytes(s, iface, first_ns, last_ns, bytes);
	count_packets(s, f, first_ns, last_ns);
	if (created || first_ns > f->last_ns + s->cfg.gap_ns) {
		/* New, or back after a pause NetFlow would have ended it on. */
		credit_active(s, iface, first_ns, last_ns);
		f->first_ns = first_ns;
		f->last_ns = last_ns;
		return;
	}
	/* Overlapping or within the gap: only the time not yet covered. */
	if (first_ns < f->first_ns) {
		credit_active(s, iface, first_ns, f->first_ns);
		f->first_ns = first_ns;
	}
	if (last_ns > f->last_ns) {
		credit_active(s, iface, f->last_ns, last_ns);
		f->last_ns = last_ns;
	}
}

static void report_bin(struct sampler *s, uint64_t seq)
{
	double secs = s->cfg.bin_ns / 1e9;

	for (size_t i = 0; i < s->cfg.n_ifaces; i++) {
		struct bin_acc *acc = &s->ring[(seq % s->ring_bins) * s->cfg.n_ifaces + i];
		const struct sampler_iface *ifc = &s->ifaces[i];
		struct curve_sample smp = {
			.iface = i,
			.ifindex = ifc->ifindex,
			.name = ifc->name,
			.start_ns = seq * s->cfg.bin_ns,
			.duration_ns = s->cfg.bin_ns,
			.bytes = acc->bytes,
			.capacity_bps = ifc->capacity_bps,
			.utilisation = 8 * acc->bytes / (ifc->capacity_bps * secs),
			.active_flows = acc->active_ns / s->cfg.bin_ns,
			.flows_with_packets = acc->flows,
			.warmup = seq * s->cfg.bin_ns < s->start_ns + s->cfg.gap_ns,
		};

		if (smp.active_flows > 0)
			smp.rate_per_flow_bps =
				smp.utilisation * ifc->capacity_bps / smp.active_flows;
		s->cfg.on_sample(s->cfg.ctx, &smp);
		memset(acc, 0, sizeof(*acc));
	}
}

/* Forgets flows whose last bin is reported: nothing can bridge into an
 * open bin from them any more, and a packet after that is a new interval. */
static void forget_idle(struct sampler *s)
{
	size_t kept = 0;

	for (size_t i = 0; i < s->n_flows; i++) {
		if (s->flows[i].last_ns / s->cfg.bin_ns < s->emit_seq)
			continue;
		s->flows[kept++] = s->flows[i];
	}
	if (kept == s->n_flows)
		return;
	s->n_flows = kept;
	/* Out of memory for the new index: forget every flow rather than
	 * keep a stale index; that only loses the bridging of open pauses. */
	if (rebuild_index(s, s->index_size) != 0) {
		s->n_flows = 0;
		memset(s->index, 0xff, s->index_size * sizeof(*s->index));
	}
}

void sampler_advance(struct sampler *s, uint64_t now_ns)
{
	uint64_t bin = s->cfg.bin_ns;

	if (!s->started)
		return;
	while ((s->emit_seq + 1) * bin + s->cfg.gap_ns <= now_ns)
		report_bin(s, s->emit_seq++);
	forget_idle(s);
}

void sampler_finish(struct sampler *s, uint64_t now_ns)
{
	uint64_t bin = s->cfg.bin_ns;

	if (!s->started)
		return;
	while ((s->emit_seq + 1) * bin <= now_ns)
		report_bin(s, s->emit_seq++);
	s->n_flows = 0;
	memset(s->index, 0xff, s->index_size * sizeof(*s->index));
}
