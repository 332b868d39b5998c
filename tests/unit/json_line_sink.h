/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * For the tests of the JSON Lines writers: a memory stream to write into,
 * and the check that what came out is exactly one newline-terminated line
 * holding one JSON object (the JSON Lines contract, docs/export.md), parsed
 * back with jansson so that the tests check fields, not text; and checks
 * of one field each.
 */
#ifndef JSON_LINE_SINK_H
#define JSON_LINE_SINK_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

struct sink {
	char *buf;
	size_t len;
	FILE *f;
};

static inline void sink_open(struct sink *s)
{
	memset(s, 0, sizeof(*s));
	s->f = open_memstream(&s->buf, &s->len);
	assert_non_null(s->f);
}

/* Closes the stream; the text must be exactly one line ending in '\n'. */
static inline json_t *sink_parse(struct sink *s)
{
	json_error_t jerr;
	json_t *obj;

	assert_int_equal(fclose(s->f), 0);
	assert_true(s->len > 2);
	assert_int_equal(s->buf[s->len - 1], '\n');
	assert_null(memchr(s->buf, '\n', s->len - 1));
	obj = json_loadb(s->buf, s->len, 0, &jerr);
	if (!obj)
		fail_msg("not JSON: %s: %s", jerr.text, s->buf);
	assert_true(json_is_object(obj));
	free(s->buf);
	return obj;
}

/* Field checks: each fails naming the key that is missing or of the
 * wrong type. */
static inline const json_t *get(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);

	if (!v)
		fail_msg("\"%s\" missing", key);
	return v;
}

static inline void expect_str(const json_t *obj, const char *key, const char *want)
{
	const json_t *v = get(obj, key);

	if (!json_is_string(v))
		fail_msg("\"%s\" is not a string", key);
	assert_string_equal(json_string_value(v), want);
}

static inline void expect_int(const json_t *obj, const char *key, long long want)
{
	const json_t *v = get(obj, key);

	if (!json_is_integer(v))
		fail_msg("\"%s\" is not an integer", key);
	assert_int_equal(json_integer_value(v), want);
}

static inline void expect_bool(const json_t *obj, const char *key, bool want)
{
	const json_t *v = get(obj, key);

	if (!json_is_boolean(v))
		fail_msg("\"%s\" is not a boolean", key);
	assert_int_equal(json_is_true(v), want);
}

static inline void expect_null(const json_t *obj, const char *key)
{
	if (!json_is_null(get(obj, key)))
		fail_msg("\"%s\" is not null", key);
}

static inline void expect_real(const json_t *obj, const char *key, double want)
{
	const json_t *v = get(obj, key);
	double d;

	if (!json_is_number(v))
		fail_msg("\"%s\" is not a number", key);
	d = json_number_value(v) - want;
	if (d > 1e-9 || d < -1e-9)
		fail_msg("\"%s\" is %g, want %g", key, json_number_value(v), want);
}

/* The array of strings at key, joined with ',' ("" when empty). */
static inline void expect_list(const json_t *obj, const char *key, const char *want)
{
	const json_t *v = get(obj, key);
	char got[128] = "";
	size_t i;
	json_t *e;

	if (!json_is_array(v))
		fail_msg("\"%s\" is not an array", key);
	json_array_foreach (v, i, e) {
		assert_true(json_is_string(e));
		if (i)
			strcat(got, ",");
		strcat(got, json_string_value(e));
	}
	assert_string_equal(got, want);
}

static inline void expect_absent(const json_t *obj, const char *key)
{
	if (json_object_get(obj, key))
		fail_msg("\"%s\" should not be there", key);
}

#endif /* JSON_LINE_SINK_H */
