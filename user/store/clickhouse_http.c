// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libcurl requests to ClickHouse's HTTP interface.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include "store/clickhouse_http.h"

#define CONNECT_TIMEOUT_MS 3000
#define REQUEST_TIMEOUT_MS 15000
#define ANSWER_MAX (1 << 20)

struct clickhouse_http {
	CURL *curl;
	char base[CH_HOST_MAX + 32];
	char why[256];
	char *answer;
	size_t len;
};

static size_t collect(char *data, size_t size, size_t n, void *ctx)
{
	struct clickhouse_http *c = ctx;
	size_t add = size * n;
	char *grown;

	if (c->len + add > ANSWER_MAX)
		return 0; /* a wrong server: stop reading */
	grown = realloc(c->answer, c->len + add + 1);
	if (!grown)
		return 0;
	c->answer = grown;
	memcpy(c->answer + c->len, data, add);
	c->len += add;
	c->answer[c->len] = 0;
	return add;
}

struct clickhouse_http *clickhouse_http_new(const struct clickhouse_url *url, const char *password)
{
	static bool global_done;
	struct clickhouse_http *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	if (!global_done) { /* before any thread uses curl: at open */
		curl_global_init(CURL_GLOBAL_DEFAULT);
		global_done = true;
	}
	c->curl = curl_easy_init();
	if (!c->curl) {
		free(c);
		return NULL;
	}
	snprintf(c->base, sizeof(c->base),
		 strchr(url->host, ':') ? "http://[%s]:%u/" : "http://%s:%u/", url->host,
		 url->port);
	curl_easy_setopt(c->curl, CURLOPT_USERNAME, url->user);
	if (password)
		curl_easy_setopt(c->curl, CURLOPT_PASSWORD, password);
	curl_easy_setopt(c->curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_TIMEOUT_MS);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, (long)REQUEST_TIMEOUT_MS);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
	/* Nothing but plain HTTP to the address given: no redirects. */
	curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(c->curl, CURLOPT_FOLLOWLOCATION, 0L);
	return c;
}

void clickhouse_http_free(struct clickhouse_http *c)
{
	if (!c)
		return;
	curl_easy_cleanup(c->curl);
	free(c->answer);
	free(c);
}

const char *clickhouse_http_why(const struct clickhouse_http *c)
{
	return c->why;
}

int clickhouse_http_run(struct clickhouse_http *c, const char *query, const char *body,
			size_t body_len, char **out)
{
	char *esc = curl_easy_escape(c->curl, query, 0), *url;
	long status = 0;
	CURLcode rc;
	size_t n;

	free(c->answer);
	c->answer = NULL;
	c->len = 0;
	if (!esc)
		return -ENOMEM;
	n = strlen(c->base) + strlen(esc) + 16;
	url = malloc(n);
	if (!url) {
		curl_free(esc);
		return -ENOMEM;
	}
	snprintf(url, n, "%s?query=%s", c->base, esc);
	curl_free(esc);
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	curl_easy_setopt(c->curl, CURLOPT_POST, 1L);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body ? body : "");
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? body_len : 0));
	rc = curl_easy_perform(c->curl);
	free(url);
	if (rc != CURLE_OK) {
		snprintf(c->why, sizeof(c->why), "%s", curl_easy_strerror(rc));
		return -EIO;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) {
		/* ClickHouse's message: its first line is enough for a log. */
		snprintf(c->why, sizeof(c->why), "HTTP %ld: %.200s", status,
			 c->answer ? c->answer : "");
		c->why[strcspn(c->why, "\n")] = 0;
		return -EPROTO;
	}
	if (out) {
		*out = c->answer ? c->answer : strdup("");
		c->answer = NULL;
	}
	return 0;
}
