/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Knee estimator: a bounded ring of (t, N, ρ) samples over a sliding
 * window, and a two-segment least-squares fit ρ = min(s·N, ρ_sat) on it.
 * The breakpoint is found by scanning every split of the samples sorted
 * by N, with prefix sums so one estimate costs a sort plus a linear pass.
 * A knee is only reported when the bent fit explains the data clearly
 * better than one line through the origin, both segments hold enough
 * samples, and the saturated level really lies below the line: purely
 * proportional data must never look overloaded.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "curve/knee.h"

struct knee {
	size_t cap;
	size_t head; /* oldest sample */
	size_t count;
	uint64_t window_ms;
	struct knee_sample *ring;
	struct knee_sample *scratch; /* sorting space, cap entries */
};

struct knee *knee_create(size_t capacity, uint64_t window_ms)
{
	struct knee *k;

	if (!capacity)
		return NULL;
	k = calloc(1, sizeof(*k));
	if (!k)
		return NULL;
	k->ring = calloc(capacity, sizeof(*k->ring));
	k->scratch = calloc(capacity, sizeof(*k->scratch));
	if (!k->ring || !k->scratch) {
		knee_destroy(k);
		return NULL;
	}
	k->cap = capacity;
	k->window_ms = window_ms ? window_ms : KNEE_WINDOW_MS_DEFAULT;
	return k;
}

void knee_destroy(struct knee *k)
{
	if (!k)
		return;
	free(k->ring);
	free(k->scratch);
	free(k);
}

static const struct knee_sample *at(const struct knee *k, size_t i)
{
	return &k->ring[(k->head + i) % k->cap];
}

/* Rejects NaN and both infinities without libm: x − x is NaN for them. */
static bool finite_nonneg(double x)
{
	return x - x == 0 && x >= 0;
}

int knee_add(struct knee *k, const struct knee_sample *s)
{
	uint64_t newest;

	if (!finite_nonneg(s->n) || !finite_nonneg(s->rho))
		return -EINVAL;
	/* Eviction walks from the oldest end, so time must not go back. */
	if (k->count && s->t_ms < at(k, k->count - 1)->t_ms)
		return -EINVAL;
	if (k->count == k->cap) {
		k->ring[k->head] = *s;
		k->head = (k->head + 1) % k->cap;
	} else {
		k->ring[(k->head + k->count) % k->cap] = *s;
		k->count++;
	}
	newest = s->t_ms;
	while (k->count && newest - at(k, 0)->t_ms >= k->window_ms) {
		k->head = (k->head + 1) % k->cap;
		k->count--;
	}
	return 0;
}

size_t knee_count(const struct knee *k)
{
	return k->count;
}

const char *knee_status_name(enum knee_status status)
{
	switch (status) {
	case KNEE_TOO_FEW_SAMPLES:
		return "too_few_samples";
	case KNEE_NO_KNEE:
		return "no_knee";
	case KNEE_FOUND:
		return "knee";
	}
	return "?";
}

/* Newton's iteration: RMS needs one square root and libm is not linked. */
static double knee_sqrt(double x)
{
	double y;
	int i;

	if (!(x > 0))
		return 0;
	y = x > 1 ? x : 1;
	for (i = 0; i < 200; i++) {
		double next = 0.5 * (y + x / y);

		if (next >= y)
			break;
		y = next;
	}
	return y;
}

static int cmp_n(const void *a, const void *b)
{
	double x = ((const struct knee_sample *)a)->n;
	double y = ((const struct knee_sample *)b)->n;

	return (x > y) - (x < y);
}

static double nonneg(double x)
{
	return x > 0 ? x : 0;
}

/*
 * Fits the m samples in scratch (sorted here by N). Fills slope, rho_sat,
 * n_star, rms, counts and status KNEE_FOUND or KNEE_NO_KNEE.
 */
static void fit(struct knee_sample *v, size_t m, struct knee_result *res)
{
	double snn = 0, snr = 0, srr = 0, sn = 0, sr = 0;
	double lnn = 0, lnr = 0, lrr = 0, ln = 0, lr = 0;
	double sse1, best = -1, best_s = 0, best_sat = 0, best_mean_n = 0;
	size_t i, best_j = 0;

	qsort(v, m, sizeof(*v), cmp_n);
	for (i = 0; i < m; i++) {
		snn += v[i].n * v[i].n;
		snr += v[i].n * v[i].rho;
		srr += v[i].rho * v[i].rho;
		sn += v[i].n;
		sr += v[i].rho;
	}
	/* One line through the origin: the working area everywhere. */
	res->slope = snn > 0 ? snr / snn : 0;
	sse1 = nonneg(srr - (snn > 0 ? snr * snr / snn : 0));
	res->rms_line = knee_sqrt(sse1 / m);
	res->rms = res->rms_line;
	res->status = KNEE_NO_KNEE;

	/* Split before index j: [0, j) proportional, [j, m) constant. */
	for (i = 0; i + 1 < m; i++) {
		size_t j = i + 1, right = m - j;
		double rr, r, sse;

		lnn += v[i].n * v[i].n;
		lnr += v[i].n * v[i].rho;
		lrr += v[i].rho * v[i].rho;
		ln += v[i].n;
		lr += v[i].rho;
		/* Equal N on both sides would make the split arbitrary. */
		if (j < KNEE_MIN_SIDE || right < KNEE_MIN_SIDE || !(v[j - 1].n < v[j].n) ||
		    !(lnn > 0))
			continue;
		rr = srr - lrr;
		r = sr - lr;
		sse = nonneg(lrr - lnr * lnr / lnn) + nonneg(rr - r * r / right);
		if (best < 0 || sse < best) {
			best = sse;
			best_j = j;
			best_s = lnr / lnn;
			best_sat = r / right;
			best_mean_n = (sn - ln) / right;
		}
	}
	if (best < 0 || !(sse1 > 0) || best > KNEE_SSE_RATIO * sse1)
		return;
	if (!(best_s > 0) || !(best_sat > 0) || best_sat > KNEE_FLAT_RATIO * best_s * best_mean_n)
		return;
	res->status = KNEE_FOUND;
	res->slope = best_s;
	res->rho_sat = best_sat;
	res->rho_star = best_sat;
	res->n_star = best_sat / best_s;
	res->below = best_j;
	res->above = m - best_j;
	res->rms = knee_sqrt(best / m);
}

/*
 * The busy hour: of the hour-long windows inside the data that start at a
 * sample, plus the last hour, the one with the highest mean ρ (all data if
 * it spans less). Its p95 of N is what an operator compares with N*.
 */
static void busy_hour(struct knee *k, struct knee_result *res)
{
	uint64_t first = at(k, 0)->t_ms, last = at(k, k->count - 1)->t_ms;
	size_t i, j = 0, best_i = 0, best_len = k->count, rank;
	double sum = 0, best_mean = -1;

	if (last - first + 1 >= KNEE_BUSY_MS) {
		for (i = 0; i < k->count; i++) {
			uint64_t start = at(k, i)->t_ms;

			/* Later starts would give a short hour: see below. */
			if (start + KNEE_BUSY_MS > last + 1)
				break;
			while (j < k->count && at(k, j)->t_ms < start + KNEE_BUSY_MS)
				sum += at(k, j++)->rho;
			if (sum / (j - i) > best_mean) {
				best_mean = sum / (j - i);
				best_i = i;
				best_len = j - i;
			}
			sum -= at(k, i)->rho;
		}
		/* The hour that ends with the newest sample. */
		sum = 0;
		for (j = k->count; j > 0 && at(k, j - 1)->t_ms + KNEE_BUSY_MS > last; j--)
			sum += at(k, j - 1)->rho;
		if (sum / (k->count - j) > best_mean) {
			best_i = j;
			best_len = k->count - j;
		}
	}
	for (i = 0; i < best_len; i++)
		k->scratch[i] = *at(k, best_i + i);
	qsort(k->scratch, best_len, sizeof(*k->scratch), cmp_n);
	/* Nearest rank: the smallest N with at least 95% at or below it. */
	rank = (95 * best_len + 99) / 100;
	res->busy_start_ms = at(k, best_i)->t_ms;
	res->busy_samples = best_len;
	res->n_p95 = k->scratch[rank - 1].n;
}

static void format_time(uint64_t t_ms, char *buf, size_t len)
{
	time_t sec = t_ms / 1000;
	struct tm tm;
	char day[32];

	gmtime_r(&sec, &tm);
	strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03uZ", day, (unsigned int)(t_ms % 1000));
}

/* Time of the first sample of the run past N* that reaches the present. */
static void overload_run(const struct knee *k, struct knee_result *res)
{
	size_t i = k->count;

	while (i > 0 && at(k, i - 1)->n >= res->n_star)
		i--;
	if (i < k->count)
		res->overload_since_ms = at(k, i)->t_ms;
}

int knee_estimate(struct knee *k, struct knee_result *res)
{
	size_t i;
	unsigned int pct;
	char when[48];

	memset(res, 0, sizeof(*res));
	res->samples = k->count;
	res->status = KNEE_TOO_FEW_SAMPLES;
	if (k->count < KNEE_MIN_SAMPLES) {
		snprintf(res->verdict, sizeof(res->verdict), "too few samples: %zu of %d needed",
			 k->count, KNEE_MIN_SAMPLES);
		return 0;
	}
	for (i = 0; i < k->count; i++)
		k->scratch[i] = *at(k, i);
	fit(k->scratch, k->count, res);
	busy_hour(k, res);
	if (res->status != KNEE_FOUND) {
		snprintf(res->verdict, sizeof(res->verdict),
			 "working area: no overload point in %u samples", res->samples);
		return 0;
	}
	res->load = res->n_p95 / res->n_star;
	overload_run(k, res);
	pct = (unsigned int)(res->load * 100 + 0.5);
	if (res->overload_since_ms) {
		format_time(res->overload_since_ms, when, sizeof(when));
		snprintf(res->verdict, sizeof(res->verdict), "overloaded since %s", when);
	} else if (res->load >= 1) {
		snprintf(res->verdict, sizeof(res->verdict),
			 "overloaded in the busy hour: N at %u%% of N*", pct);
	} else if (res->load >= KNEE_APPROACH_RATIO) {
		snprintf(res->verdict, sizeof(res->verdict),
			 "approaching overload: N at %u%% of N*", pct);
	} else {
		snprintf(res->verdict, sizeof(res->verdict), "working area: N at %u%% of N*", pct);
	}
	return 0;
}
