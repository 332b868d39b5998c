/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * For the tests of the JSON Lines writers: a memory stream to write into,
 * and the check that what came out is exactly one newline-terminated line
 * holding one JSON object (the JSON Lines contract, docs/export.md), parsed
 * back with jansson so that the tests check fields, not text.
 */
#ifndef JSON_LINE_SINK_H
#define JSON_LINE_SINK_H

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

#endif /* JSON_LINE_SINK_H */
