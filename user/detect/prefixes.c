/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Parsing and matching of prefix lists (`--local`). Parsing is strict and
 * names the element it rejects, because a typo here silently changes who
 * counts as a customer: "10.0.0.0/33" or "10.0.0.0/" must stop the probe
 * with a clear message rather than fall back to something.
 */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/log.h"
#include "detect/prefixes.h"

/* Longest text form of one prefix: an IPv6 address, "/", three digits. */
#define PREFIX_TEXT_MAX (INET6_ADDRSTRLEN + 4)

static void prefix_mask(struct prefix *p)
{
	unsigned int bytes = p->ip_version == 4 ? 4 : 16;
	unsigned int full = p->len / 8, rest = p->len % 8;

	if (full < bytes && rest) {
		p->addr[full] &= (uint8_t)(0xff << (8 - rest));
		full++;
	}
	if (full < 16)
		memset(p->addr + full, 0, 16 - full);
}

/* "8", "32", "128": digits only, no sign, no spaces. -1 when not a number. */
static int parse_len(const char *s, size_t n)
{
	int v = 0;

	if (n == 0 || n > 3)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* One element, already trimmed. Returns 0 or -1 after logging why. */
static int parse_one(struct prefix *p, const char *s, size_t n, const char *what)
{
	char text[PREFIX_TEXT_MAX + 1];
	const char *slash;
	size_t alen;
	int len, max;

	if (n > PREFIX_TEXT_MAX) {
		log_error("%s: \"%.*s\" is not an IPv4 or IPv6 prefix", what, (int)n, s);
		return -1;
	}
	memcpy(text, s, n);
	text[n] = '\0';
	slash = strchr(text, '/');
	alen = slash ? (size_t)(slash - text) : n;
	text[alen] = '\0';

	memset(p, 0, sizeof(*p));
	if (inet_pton(AF_INET, text, p->addr) == 1) {
		p->ip_version = 4;
		max = 32;
	} else if (inet_pton(AF_INET6, text, p->addr) == 1) {
		p->ip_version = 6;
		max = 128;
	} else if (slash) {
		log_error("%s: \"%.*s\": \"%s\" is not an IPv4 or IPv6 address", what, (int)n, s,
			  text);
		return -1;
	} else {
		log_error("%s: \"%.*s\" is not an IPv4 or IPv6 address or prefix", what, (int)n, s);
		return -1;
	}

	len = max;
	if (slash) {
		len = parse_len(slash + 1, n - alen - 1);
		if (len < 0) {
			log_error(
				"%s: \"%.*s\": the prefix length after '/' must be a number from 0 to %d",
				what, (int)n, s, max);
			return -1;
		}
		if (len > max) {
			log_error("%s: \"%.*s\": an IPv%u prefix length is at most %d", what,
				  (int)n, s, p->ip_version, max);
			return -1;
		}
	}
	p->len = (uint8_t)len;
	prefix_mask(p);
	return 0;
}

/* qsort_r order: version, length descending, address. */
static int index_cmp(const void *a, const void *b, void *ctx)
{
	const struct prefix *p = ctx, *x = &p[*(const uint16_t *)a], *y = &p[*(const uint16_t *)b];

	if (x->ip_version != y->ip_version)
		return x->ip_version - y->ip_version;
	if (x->len != y->len)
		return y->len - x->len;
	return memcmp(x->addr, y->addr, 16);
}

static void build_index(struct prefix_set *set)
{
	set->nruns = 0;
	for (size_t i = 0; i < set->n; i++)
		set->order[i] = (uint16_t)i;
	qsort_r(set->order, set->n, sizeof(set->order[0]), index_cmp, set->p);
	for (size_t i = 0; i < set->n; i++) {
		const struct prefix *p = &set->p[set->order[i]];
		struct prefix_run *r = set->nruns ? &set->runs[set->nruns - 1] : NULL;

		if (!r || r->ip_version != p->ip_version || r->len != p->len) {
			r = &set->runs[set->nruns++];
			*r = (struct prefix_run){ .ip_version = p->ip_version,
						  .len = p->len,
						  .start = (uint32_t)i };
		}
		r->count++;
	}
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* The list's prefixes, after the set's own (replace: instead of them),
 * into a copy; the set changes only when all of them parse. */
static int add_list(struct prefix_set *set, const char *list, const char *what, bool replace)
{
	static struct prefix_set tmp; /* large: off the stack; main thread only */
	const char *s = list;
	unsigned int pos = 0;

	if (replace)
		tmp.n = 0;
	else
		tmp = *set;
	for (;;) {
		const char *end = strchr(s, ',');
		size_t n = end ? (size_t)(end - s) : strlen(s);
		const char *b = s, *e = s + n;

		pos++;
		while (b < e && is_space(*b))
			b++;
		while (e > b && is_space(e[-1]))
			e--;
		if (b == e && !end && pos == 1) {
			log_error("%s: no prefix given; write them like 10.0.0.0/8,2001:db8::/32",
				  what);
			return -EINVAL;
		}
		if (b == e) {
			log_error("%s: element %u of \"%s\" is empty (a stray comma?)", what, pos,
				  list);
			return -EINVAL;
		}
		if (tmp.n == PREFIX_SET_MAX) {
			log_error("%s: more than %d prefixes; merge some into shorter ones", what,
				  PREFIX_SET_MAX);
			return -EINVAL;
		}
		if (parse_one(&tmp.p[tmp.n], b, (size_t)(e - b), what))
			return -EINVAL;
		tmp.n++;
		if (!end)
			break;
		s = end + 1;
	}
	build_index(&tmp);
	*set = tmp;
	return 0;
}

int prefix_set_parse(struct prefix_set *set, const char *list, const char *what)
{
	return add_list(set, list, what, true);
}

int prefix_set_add(struct prefix_set *set, const char *list, const char *what)
{
	return add_list(set, list, what, false);
}

int prefix_set_parse_file(struct prefix_set *set, const char *path, const char *what)
{
	static struct prefix_set tmp; /* large: off the stack; main thread only */
	char line[256];
	unsigned int lineno = 0;
	FILE *f = fopen(path, "r");
	int err = 0;

	if (!f) {
		log_error("%s %s: cannot open: %s", what, path, strerror(errno));
		return -EINVAL;
	}
	tmp = *set;
	while (!err && fgets(line, sizeof(line), f)) {
		char *b = line, *e;
		char where[64];

		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			log_error("%s %s:%u: line too long", what, path, lineno);
			err = -EINVAL;
			break;
		}
		line[strcspn(line, "#\r\n")] = '\0';
		while (is_space(*b))
			b++;
		e = b + strlen(b);
		while (e > b && is_space(e[-1]))
			e--;
		if (b == e)
			continue;
		if (tmp.n == PREFIX_SET_MAX) {
			log_error("%s %s:%u: more than %d prefixes; merge some into "
				  "shorter ones",
				  what, path, lineno, PREFIX_SET_MAX);
			err = -EINVAL;
			break;
		}
		snprintf(where, sizeof(where), "%s %.30s:%u", what, path, lineno);
		if (parse_one(&tmp.p[tmp.n], b, (size_t)(e - b), where))
			err = -EINVAL;
		else
			tmp.n++;
	}
	if (!err && ferror(f)) {
		log_error("%s %s: read error", what, path);
		err = -EINVAL;
	}
	fclose(f);
	if (err)
		return err;
	build_index(&tmp);
	*set = tmp;
	return 0;
}

void prefix_set_default(struct prefix_set *set)
{
	int err = prefix_set_parse(set, PREFIX_SET_DEFAULT, "default prefixes");

	assert(err == 0);
	(void)err;
}

bool prefix_set_match(const struct prefix_set *set, uint8_t ip_version, const uint8_t addr[16])
{
	return prefix_set_find(set, ip_version, addr) >= 0;
}

/* The run's prefix equal to addr cut to the run's length, or -1. */
static int search_run(const struct prefix_set *set, const struct prefix_run *r,
		      const uint8_t addr[16])
{
	struct prefix key = { .ip_version = r->ip_version, .len = r->len };
	uint32_t lo = r->start, hi = r->start + r->count;

	memcpy(key.addr, addr, 16);
	prefix_mask(&key);
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = memcmp(set->p[set->order[mid]].addr, key.addr, 16);

		if (c == 0)
			return set->order[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

int prefix_set_find(const struct prefix_set *set, uint8_t ip_version, const uint8_t addr[16])
{
	/* Runs are longest first: the first hit is the longest match. */
	for (size_t i = 0; i < set->nruns; i++) {
		int at;

		if (set->runs[i].ip_version != ip_version)
			continue;
		at = search_run(set, &set->runs[i], addr);
		if (at >= 0)
			return at;
	}
	return -1;
}

void prefix_format(const struct prefix *p, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(p->ip_version == 4 ? AF_INET : AF_INET6, p->addr, a, sizeof(a));
	snprintf(buf, len, "%s/%u", a, p->len);
}

void prefix_set_format(const struct prefix_set *set, char *buf, size_t len)
{
	size_t used = 0;

	if (len == 0)
		return;
	buf[0] = '\0';
	for (size_t i = 0; i < set->n && used < len; i++) {
		const struct prefix *p = &set->p[i];
		char a[INET6_ADDRSTRLEN];
		int w;

		inet_ntop(p->ip_version == 4 ? AF_INET : AF_INET6, p->addr, a, sizeof(a));
		w = snprintf(buf + used, len - used, "%s%s/%u", i ? "," : "", a, p->len);
		if (w < 0)
			break;
		used += (size_t)w;
	}
}
