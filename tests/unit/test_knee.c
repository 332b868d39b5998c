/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Knee estimator on synthetic samples with a known answer: the working
 * area alone (ρ = s·N, must give no knee), a working area that bends at a
 * known N* into processor-sharing overload (utilisation pinned at ρ*, N
 * following k·a/(1−a) in the offered load a), recovered within 10%, with
 * and without noise and in any time order; refusal on few samples; the
 * sliding window and ring; and the plain-language verdicts. Noise comes
 * from a seeded LCG so every run sees the same numbers.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "curve/knee.h"

/* 2026-11-23T00:00:00Z: a real epoch, so 0 never means "a time". */
#define T0_MS 1795392000000ULL
#define SEC 1000ULL
#define HOUR (3600 * SEC)

static double uniform(uint64_t *state)
{
	*state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double)(*state >> 11) / 9007199254740992.0;
}

/* Symmetric noise in [−a, a). */
static double noise(uint64_t *state, double a)
{
	return a * (2 * uniform(state) - 1);
}

struct model {
	double slope; /* r/C: ρ per flow in the working area */
	double n_star; /* true knee */
	size_t work, over; /* samples below and past the knee */
	double rho_noise; /* absolute, on ρ */
	double n_noise; /* relative, on N past the knee */
	double work_max; /* largest working-area N, share of N* */
};

static double clamp0(double x)
{
	return x > 0 ? x : 0;
}

/*
 * Working area: N uniform in [10, work_max·N*], ρ = s·N. Past the knee
 * the link is a processor-sharing queue at ρ* = s·N*: the offered load
 * a runs from ρ* to 0.97, the carried utilisation stays at ρ* (every
 * flow just slows down) and E[N] = k·a/(1−a), with k set so N = N* at
 * a = ρ*. Writes work + over samples into v, working area first.
 */
static size_t generate(const struct model *m, uint64_t seed, struct knee_sample *v)
{
	double rho_star = m->slope * m->n_star;
	double k = m->n_star * (1 - rho_star) / rho_star;
	double top = m->work_max > 0 ? m->work_max : 1;
	uint64_t st = seed;
	size_t i;

	for (i = 0; i < m->work; i++) {
		double n = 10 + uniform(&st) * (top * m->n_star - 10);

		v[i].n = n;
		v[i].rho = clamp0(m->slope * n + noise(&st, m->rho_noise));
	}
	for (i = 0; i < m->over; i++) {
		double a = rho_star + uniform(&st) * (0.97 - rho_star);
		double n = k * a / (1 - a);

		v[m->work + i].n = n * (1 + noise(&st, m->n_noise));
		v[m->work + i].rho = clamp0(rho_star + noise(&st, m->rho_noise));
	}
	for (i = 0; i < m->work + m->over; i++)
		v[i].t_ms = T0_MS + i * SEC;
	return m->work + m->over;
}

/* Fisher–Yates on the (N, ρ) pairs; times stay increasing. */
static void shuffle(struct knee_sample *v, size_t count, uint64_t seed)
{
	uint64_t st = seed;
	size_t i;

	for (i = count; i > 1; i--) {
		size_t j = (size_t)(uniform(&st) * i);
		double n = v[i - 1].n, rho = v[i - 1].rho;

		v[i - 1].n = v[j].n;
		v[i - 1].rho = v[j].rho;
		v[j].n = n;
		v[j].rho = rho;
	}
}

static struct knee *load(const struct knee_sample *v, size_t count)
{
	struct knee *k = knee_create(count + 16, 0);
	size_t i;

	assert_non_null(k);
	for (i = 0; i < count; i++)
		assert_int_equal(knee_add(k, &v[i]), 0);
	return k;
}

static void assert_within(double got, double want, double tol)
{
	if (got < want * (1 - tol) || got > want * (1 + tol))
		fail_msg("got %g, want %g within %.0f%%", got, want, tol * 100);
}

static void linear_only_no_knee(void **state)
{
	static struct knee_sample v[400];
	/* work_max 1.25 with N* = 400: N in [10, 500], as on a quiet link. */
	const struct model m = { .slope = 0.0016,
				 .n_star = 400,
				 .work = 400,
				 .rho_noise = 0.02,
				 .work_max = 1.25 };
	struct knee_result r;
	struct knee *k;
	uint64_t seed;

	(void)state;
	for (seed = 1; seed <= 20; seed++) {
		generate(&m, seed, v);
		shuffle(v, m.work, seed * 7);
		k = load(v, m.work);
		assert_int_equal(knee_estimate(k, &r), 0);
		if (r.status != KNEE_NO_KNEE)
			fail_msg("seed %llu: %s at N*=%g", (unsigned long long)seed,
				 knee_status_name(r.status), r.n_star);
		assert_int_equal(r.samples, m.work);
		/* The line itself is still measured: r/C of the data. */
		assert_within(r.slope, m.slope, 0.05);
		assert_string_equal(r.verdict, "working area: "
					       "no overload point in 400 samples");
		knee_destroy(k);
	}
}

static void linear_exact_no_knee(void **state)
{
	static struct knee_sample v[100];
	const struct model m = { .slope = 0.002, .n_star = 500, .work = 100 };
	struct knee_result r;
	struct knee *k;

	(void)state;
	generate(&m, 3, v);
	k = load(v, m.work);
	knee_estimate(k, &r);
	assert_int_equal(r.status, KNEE_NO_KNEE);
	assert_within(r.slope, 0.002, 1e-9);
	knee_destroy(k);
}

static void check_knee(const struct model *m, uint64_t seed, bool mix)
{
	static struct knee_sample v[1000];
	struct knee_result r;
	struct knee *k;
	size_t count;

	count = generate(m, seed, v);
	if (mix)
		shuffle(v, count, seed ^ 0x5eed);
	k = load(v, count);
	knee_estimate(k, &r);
	if (r.status != KNEE_FOUND)
		fail_msg("seed %llu: %s", (unsigned long long)seed, knee_status_name(r.status));
	assert_within(r.n_star, m->n_star, 0.10);
	assert_within(r.rho_star, m->slope * m->n_star, 0.10);
	assert_within(r.slope, m->slope, 0.10);
	assert_int_equal(r.samples, count);
	assert_int_equal(r.below + r.above, count);
	/*
	 * Roughly the samples generated past the knee; noisy working-area
	 * bins right at N* may land on either side.
	 */
	if (r.above < m->over * 0.8 || r.above > m->over + m->work / 20)
		fail_msg("seed %llu: %u past the knee, %zu generated", (unsigned long long)seed,
			 r.above, m->over);
	assert_true(r.rms < r.rms_line);
	knee_destroy(k);
}

static void knee_exact_rising_load(void **state)
{
	const struct model m = { .slope = 0.002, .n_star = 400, .work = 300, .over = 100 };
	struct knee_sample v[400];
	uint64_t st = 1;
	size_t i, j;

	(void)state;
	check_knee(&m, 1, false);
	/* And in order of rising N, as a stepped load test would give. */
	generate(&m, 2, v);
	for (i = 1; i < 400; i++)
		for (j = i; j > 0 && v[j - 1].n > v[j].n; j--) {
			struct knee_sample t = v[j];

			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	for (i = 0; i < 400; i++)
		v[i].t_ms = T0_MS + i * SEC + (uint64_t)(uniform(&st) * 10);
	{
		struct knee *k = load(v, 400);
		struct knee_result r;

		knee_estimate(k, &r);
		assert_int_equal(r.status, KNEE_FOUND);
		assert_within(r.n_star, 400, 0.10);
		knee_destroy(k);
	}
}

static void knee_noisy_any_order(void **state)
{
	struct model a = { .slope = 0.002,
			   .n_star = 400,
			   .work = 300,
			   .over = 100,
			   .rho_noise = 0.03,
			   .n_noise = 0.2 };
	/* Another link: knee at N* = 150, ρ* = 0.6, fewer overload bins. */
	struct model b = { .slope = 0.004,
			   .n_star = 150,
			   .work = 500,
			   .over = 40,
			   .rho_noise = 0.03,
			   .n_noise = 0.2 };
	uint64_t seed;

	(void)state;
	for (seed = 1; seed <= 20; seed++) {
		check_knee(&a, seed, true);
		check_knee(&b, seed, true);
	}
}

static void few_samples_refused(void **state)
{
	static struct knee_sample v[400];
	const struct model m = { .slope = 0.002, .n_star = 400, .work = 300, .over = 100 };
	struct knee_result r;
	struct knee *k;

	(void)state;
	generate(&m, 4, v);
	shuffle(v, 400, 4);
	k = load(v, 10);
	knee_estimate(k, &r);
	assert_int_equal(r.status, KNEE_TOO_FEW_SAMPLES);
	assert_int_equal(r.samples, 10);
	assert_string_equal(r.verdict, "too few samples: 10 of 30 needed");
	knee_destroy(k);

	/* The threshold itself: 29 refused, 30 fitted. */
	k = load(v, KNEE_MIN_SAMPLES - 1);
	knee_estimate(k, &r);
	assert_int_equal(r.status, KNEE_TOO_FEW_SAMPLES);
	assert_int_equal(knee_add(k, &v[KNEE_MIN_SAMPLES - 1]), 0);
	knee_estimate(k, &r);
	assert_int_not_equal(r.status, KNEE_TOO_FEW_SAMPLES);
	knee_destroy(k);

	/* An empty estimator refuses too. */
	k = knee_create(8, 0);
	knee_estimate(k, &r);
	assert_int_equal(r.status, KNEE_TOO_FEW_SAMPLES);
	assert_int_equal(r.samples, 0);
	knee_destroy(k);
}

static void window_drops_old_samples(void **state)
{
	static struct knee_sample v[400], w[300];
	const struct model over = { .slope = 0.002, .n_star = 400, .work = 300, .over = 100 };
	const struct model lin = { .slope = 0.002, .n_star = 400, .work = 300, .rho_noise = 0.01 };
	struct knee_sample bad;
	struct knee_result r;
	struct knee *k;
	size_t i;

	(void)state;
	generate(&over, 5, v);
	generate(&lin, 6, w);
	k = knee_create(1000, 24 * HOUR);
	assert_non_null(k);
	for (i = 0; i < 400; i++)
		assert_int_equal(knee_add(k, &v[i]), 0);
	knee_estimate(k, &r);
	assert_int_equal(r.status, KNEE_FOUND);
	/* A day later the overloaded samples have left the window. */
	for (i = 0; i < 300; i++) {
		w[i].t_ms = T0_MS + 24 * HOUR + 400 * SEC + i * SEC;
		assert_int_equal(knee_add(k, &w[i]), 0);
	}
	knee_estimate(k, &r);
	assert_int_equal(knee_count(k), 300);
	assert_int_equal(r.samples, 300);
	assert_int_equal(r.status, KNEE_NO_KNEE);
	/* A sample exactly one window older than the newest is gone too. */
	bad = w[299];
	bad.t_ms = w[0].t_ms + 24 * HOUR;
	assert_int_equal(knee_add(k, &bad), 0);
	assert_int_equal(knee_count(k), 300);

	/* Time going back, NaN, infinity and negatives are refused. */
	bad.t_ms -= 1;
	assert_int_equal(knee_add(k, &bad), -EINVAL);
	bad.t_ms += 1;
	bad.n = 0.0 / 0.0;
	assert_int_equal(knee_add(k, &bad), -EINVAL);
	bad.n = 1.0 / 0.0;
	assert_int_equal(knee_add(k, &bad), -EINVAL);
	bad.n = 5;
	bad.rho = -0.1;
	assert_int_equal(knee_add(k, &bad), -EINVAL);
	assert_int_equal(knee_count(k), 300);
	knee_destroy(k);

	/* The ring keeps the newest samples when it fills. */
	k = knee_create(64, 0);
	for (i = 0; i < 400; i++)
		assert_int_equal(knee_add(k, &v[i]), 0);
	assert_int_equal(knee_count(k), 64);
	knee_estimate(k, &r);
	assert_int_equal(r.samples, 64);
	assert_true(r.busy_start_ms == v[400 - 64].t_ms);
	knee_destroy(k);
	assert_null(knee_create(0, 0));
}

/* Adds count samples of s from t on, step apart; returns the next time. */
static uint64_t add_run(struct knee *k, uint64_t t, uint64_t step, const struct knee_sample *s,
			size_t count)
{
	size_t i;

	for (i = 0; i < count; i++, t += step) {
		struct knee_sample x = s[i];

		x.t_ms = t;
		assert_int_equal(knee_add(k, &x), 0);
	}
	return t;
}

/*
 * Verdicts: the knee is learnt from 10 overload bins (fewer than 5% of
 * the busy hour, so they do not move its p95), and the working-area bins
 * reach up to a chosen share of N*.
 */
static struct knee *verdict_case(double work_max, uint64_t *next)
{
	static struct knee_sample v[310];
	const struct model m = { .slope = 0.002,
				 .n_star = 400,
				 .work = 300,
				 .over = 10,
				 .work_max = work_max };
	struct knee *k = knee_create(10000, 0);
	uint64_t t;

	generate(&m, 9, v);
	/* Overload first, then the working-area bins. */
	t = add_run(k, T0_MS + 10 * HOUR, SEC, v + 300, 10);
	t = add_run(k, t, SEC, v, 300);
	*next = t;
	return k;
}

static void verdicts(void **state)
{
	static struct knee_sample low[200], over[20];
	const struct model quiet = { .slope = 0.002, .n_star = 400, .work = 200, .work_max = 0.2 };
	struct knee_result r;
	struct knee *k;
	uint64_t t;
	size_t i;

	(void)state;
	/* Well past the knee: N from 600 up, ρ pinned at ρ*. */
	for (i = 0; i < 20; i++) {
		over[i].n = 600 + 50 * i;
		over[i].rho = 0.8;
	}
	/* Busy hour p95 ≈ 0.6·N*: working area. */
	k = verdict_case(0.6, &t);
	knee_estimate(k, &r);
	assert_int_equal(r.status, KNEE_FOUND);
	assert_true(r.load > 0.5 && r.load < KNEE_APPROACH_RATIO);
	assert_int_equal(strncmp(r.verdict, "working area: N at ", 19), 0);
	assert_true(r.overload_since_ms == 0);
	knee_destroy(k);

	/* Busy hour p95 ≈ 0.92·N*: approaching overload. */
	k = verdict_case(0.95, &t);
	knee_estimate(k, &r);
	assert_int_equal(r.status, KNEE_FOUND);
	assert_true(r.load >= KNEE_APPROACH_RATIO && r.load < 1);
	{
		char want[128];

		snprintf(want, sizeof(want), "approaching overload: N at %u%% of N*",
			 (unsigned int)(r.load * 100 + 0.5));
		assert_string_equal(r.verdict, want);
	}
	/*
	 * A quieter hour before it (lower mean ρ) must not dilute the busy
	 * hour's p95: the verdict stays the same.
	 */
	knee_destroy(k);
	generate(&quiet, 10, low);
	k = knee_create(10000, 0);
	t = add_run(k, T0_MS, 10 * SEC, low, 200);
	{
		static struct knee_sample v[310];
		const struct model m = { .slope = 0.002,
					 .n_star = 400,
					 .work = 300,
					 .over = 10,
					 .work_max = 0.95 };
		uint64_t busy;

		generate(&m, 9, v);
		busy = T0_MS + 2 * HOUR;
		t = add_run(k, busy, SEC, v + 300, 10);
		t = add_run(k, t, SEC, v, 300);
		knee_estimate(k, &r);
		assert_int_equal(r.status, KNEE_FOUND);
		assert_int_equal(strncmp(r.verdict, "approaching overload", 20), 0);
		assert_true(r.busy_start_ms >= busy - HOUR);
		assert_true(r.busy_start_ms <= busy);
	}
	knee_destroy(k);

	/* The last 20 bins are past N*: overloaded since the first of them. */
	k = verdict_case(0.6, &t);
	add_run(k, t, SEC, over, 20);
	knee_estimate(k, &r);
	assert_int_equal(r.status, KNEE_FOUND);
	assert_true(r.overload_since_ms == t);
	/* T0 + 10 h + 310 s, in RFC 3339. */
	assert_string_equal(r.verdict, "overloaded since 2026-11-23T10:05:10.000Z");
	/* One bin back under N* ends the run. */
	{
		struct knee_sample calm = { .t_ms = t + 20 * SEC, .n = 100, .rho = 0.2 };

		assert_int_equal(knee_add(k, &calm), 0);
		knee_estimate(k, &r);
		assert_true(r.overload_since_ms == 0);
		assert_int_not_equal(strncmp(r.verdict, "overloaded since", 16), 0);
	}
	knee_destroy(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(linear_only_no_knee),
		cmocka_unit_test(linear_exact_no_knee),
		cmocka_unit_test(knee_exact_rising_load),
		cmocka_unit_test(knee_noisy_any_order),
		cmocka_unit_test(few_samples_refused),
		cmocka_unit_test(window_drops_old_samples),
		cmocka_unit_test(verdicts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
