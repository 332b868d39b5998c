/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The overload point of a link, from samples of utilisation ρ against the
 * number of active flows N (Afanasiev, Daly, Petrov, Sukhov, 2003; Sukhov
 * et al., 2009). In the working area ρ grows in proportion to N; past the
 * knee the link acts as a processor-sharing queue, E[N] = ρ/(1−ρ), so N
 * keeps climbing while ρ flattens. The estimator keeps a sliding window of
 * samples and fits ρ = min(s·N, ρ_sat) by least squares; the knee is
 * N* = ρ_sat/s, ρ* = ρ_sat. It only calls a knee when the bent fit is
 * clearly better than one straight line, and never from few samples.
 *
 * Samples are fractions of capacity, so s is the rate per flow r/C: the
 * caller multiplies by C to get r. Everything is plain arithmetic (no
 * libm) and allocation happens only in knee_create().
 */
#ifndef KNEE_H
#define KNEE_H

#include <stddef.h>
#include <stdint.h>

#define KNEE_WINDOW_MS_DEFAULT (24ULL * 3600 * 1000)
/* Below this many samples in the window the estimate is refused. */
#define KNEE_MIN_SAMPLES 30
/* Each segment of the bent fit needs this many samples to count. */
#define KNEE_MIN_SIDE 5
/* The bent fit must leave at most this share of the line's squared error. */
#define KNEE_SSE_RATIO 0.5
/* ρ_sat must sit this far below the line's value at the saturated N. */
#define KNEE_FLAT_RATIO 0.9
/* Busy-hour p95 of N at or above this share of N* is "approaching". */
#define KNEE_APPROACH_RATIO 0.8
/* Length of the busy period whose p95 of N is compared with N*. */
#define KNEE_BUSY_MS (3600ULL * 1000)

struct knee_sample {
	uint64_t t_ms; /* sample time, Unix ms (UTC) */
	double n; /* time-averaged active flows in the bin */
	double rho; /* utilisation, fraction of capacity */
};

enum knee_status {
	KNEE_TOO_FEW_SAMPLES,
	KNEE_NO_KNEE,
	KNEE_FOUND,
};

struct knee_result {
	enum knee_status status;
	uint32_t samples; /* samples in the window, all used */
	uint32_t below; /* samples in the working-area segment */
	uint32_t above; /* samples in the saturated segment */
	/* KNEE_FOUND: slope of the working area; otherwise of one line. */
	double slope; /* ρ per flow = r/C */
	double rho_sat; /* level of the saturated segment */
	double n_star; /* ρ_sat / slope */
	double rho_star; /* ρ at the knee (= ρ_sat in this model) */
	double rms; /* residual RMS of the fit reported */
	double rms_line; /* residual RMS of one line through 0 */
	uint64_t busy_start_ms; /* busy hour: highest mean ρ */
	uint32_t busy_samples;
	double n_p95; /* 95th percentile of N in the busy hour */
	double load; /* n_p95 / n_star, 0 without a knee */
	uint64_t overload_since_ms; /* 0 unless the last samples are past N* */
	char verdict[128]; /* plain language, for people */
};

struct knee;

/* capacity: samples kept at most (oldest overwritten); window_ms: 0 for
 * the default. Returns NULL on allocation failure or capacity 0. */
struct knee *knee_create(size_t capacity, uint64_t window_ms);
void knee_destroy(struct knee *k);

/* Adds a sample and drops those older than the window. Samples must come
 * in time order and be finite with N, ρ >= 0: -EINVAL otherwise. */
int knee_add(struct knee *k, const struct knee_sample *s);

/* Samples now in the window. */
size_t knee_count(const struct knee *k);

/* Fits the window; fills res (status says how far it got). Returns 0. */
int knee_estimate(struct knee *k, struct knee_result *res);

const char *knee_status_name(enum knee_status status);

#endif /* KNEE_H */
