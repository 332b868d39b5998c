// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Curve and knee objects with jansson, one per line.
 */
#include <errno.h>
#include <jansson.h>
#include "curve/curve_json.h"
#include "lib/json_output.h"
#include "lib/time_format.h"

/* Samples come a few a second and people tail them: flushed at once. */
static int write_line(FILE *out, json_t *obj)
{
	int err = json_write_line(out, obj);

	return err ? err : (fflush(out) ? -EIO : 0);
}

int curve_json_sample(FILE *out, const struct curve_sample *s, uint64_t wall_ms)
{
	char when[40];

	json_format_time(when, sizeof(when), wall_ms);
	return write_line(
		out, json_pack("{s:s, s:s, s:f, s:f, s:f, s:s, s:i, s:I, s:f, s:I, s:I, s:b}",
			       "type", "curve", "time", when, "active_flows", s->active_flows,
			       "utilisation", s->utilisation, "rate_per_flow", s->rate_per_flow_bps,
			       "interface", s->name, "ifindex", s->ifindex, "duration_ms",
			       (json_int_t)(s->duration_ns / 1000000), "bytes", s->bytes,
			       "flows_with_packets", (json_int_t)s->flows_with_packets,
			       "capacity_bps", (json_int_t)s->capacity_bps, "warmup", s->warmup));
}

int curve_json_knee(FILE *out, const char *iface, int ifindex, uint64_t capacity_bps,
		    const struct knee_result *k, uint64_t wall_ms, bool final)
{
	char when[40], since[40];
	json_t *obj;

	json_format_time(when, sizeof(when), wall_ms);
	obj = json_pack("{s:s, s:s, s:s, s:i, s:s, s:s, s:b, s:I, s:I}", "type", "knee", "time",
			when, "interface", iface, "ifindex", ifindex, "status",
			knee_status_name(k->status), "verdict", k->verdict, "final", final,
			"samples", (json_int_t)k->samples, "capacity_bps",
			(json_int_t)capacity_bps);
	if (!obj || k->status == KNEE_TOO_FEW_SAMPLES)
		return write_line(out, obj);
	/* The rate per flow in bits/s: the estimator works in fractions of C. */
	json_object_set_new(obj, "rate_per_flow", json_real(k->slope * capacity_bps));
	json_object_set_new(obj, "rms", json_real(k->rms));
	json_object_set_new(obj, "rms_line", json_real(k->rms_line));
	json_object_set_new(obj, "n_p95_busy_hour", json_real(k->n_p95));
	if (k->status == KNEE_FOUND) {
		json_object_set_new(obj, "n_star", json_real(k->n_star));
		json_object_set_new(obj, "rho_star", json_real(k->rho_star));
		json_object_set_new(obj, "below", json_integer(k->below));
		json_object_set_new(obj, "above", json_integer(k->above));
		json_object_set_new(obj, "load", json_real(k->load));
		if (k->overload_since_ms) {
			json_format_time(since, sizeof(since), k->overload_since_ms);
			json_object_set_new(obj, "overloaded_since", json_string(since));
		}
	}
	return write_line(out, obj);
}
