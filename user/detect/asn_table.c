/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Loading and longest-prefix lookup of a prefix-to-AS table.
 *
 * Why ranges rather than a trie: a full Routeviews table has about a
 * million IPv4 and a quarter million IPv6 prefixes, and the exporter may
 * look up two addresses per flow at a million flows a second. Nested
 * prefixes (a /24 inside its /16) are flattened once, at load, into
 * breakpoints: sorted starting addresses, each with the AS of the most
 * specific prefix covering the addresses from it to the next breakpoint
 * (0 where none does). A lookup is then one binary search over a compact
 * array, ~20 probes, instead of one search per prefix length or a
 * pointer-chasing walk down a trie. Both families use 128-bit arithmetic
 * (IPv4 addresses are numbers below 2^32) so there is one algorithm.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "detect/asn_table.h"
#include "lib/log.h"

typedef unsigned __int128 u128;

/* One prefix as read: its first and last address, its length, its origin. */
struct asn_prefix {
	u128 start;
	u128 end;
	uint32_t asn;
	uint8_t len;
	uint32_t line; /* later lines win over equal prefixes */
};

/* Addresses from start[i] up to start[i + 1] - 1 belong to asn[i]. */
struct asn_ranges {
	u128 *start;
	uint32_t *asn;
	size_t n;
	size_t cap;
};

struct asn_table {
	struct asn_ranges fam[2]; /* [0] IPv4, [1] IPv6 */
	size_t prefixes;
};

/* A growable array of parsed prefixes, one per family. */
struct prefix_list {
	struct asn_prefix *p;
	size_t n;
	size_t cap;
};

static u128 addr_to_u128(const uint8_t *addr, int bytes)
{
	u128 v = 0;

	for (int i = 0; i < bytes; i++)
		v = v << 8 | addr[i];
	return v;
}

/* The mask of the host bits of a /len in a family of `bits` bits. */
static u128 host_mask(int len, int bits)
{
	if (len >= bits)
		return 0;
	if (bits - len == 128)
		return ~(u128)0;
	return ((u128)1 << (bits - len)) - 1;
}

static int list_push(struct prefix_list *l, const struct asn_prefix *p)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4096;
		struct asn_prefix *np = realloc(l->p, cap * sizeof(*np));

		if (!np)
			return -ENOMEM;
		l->p = np;
		l->cap = cap;
	}
	l->p[l->n++] = *p;
	return 0;
}

/*
 * The origin field: "64500", "64500_64501" (multi-origin, as prefix2as
 * writes a prefix announced by several ASes: the first is kept, since
 * the file gives no way to prefer another) or "64500,64501" (an AS set
 * from aggregation: again the first). -1 when it is none of those.
 */
static int parse_asn(const char *s, uint32_t *out)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || v > UINT32_MAX)
		return -1;
	if (*end == '_' || *end == ',') {
		/* the rest must be more AS numbers with the same separator */
		char sep = *end;
		const char *q = end;

		while (*q == sep) {
			q++;
			if (*q < '0' || *q > '9')
				return -1;
			while (*q >= '0' && *q <= '9')
				q++;
		}
		if (*q)
			return -1;
	} else if (*end) {
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

/* A prefix length in decimal digits, at most max. -1 otherwise. */
static int parse_len(const char *s, int max)
{
	int v = 0;

	if (!*s || strlen(s) > 3)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v <= max ? v : -1;
}

/* Splits line into at most 4 blank-separated fields; returns the count. */
static int split_fields(char *line, char *field[4])
{
	int n = 0;
	char *save = NULL;

	for (char *tok = strtok_r(line, " \t\r\n", &save); tok;
	     tok = strtok_r(NULL, " \t\r\n", &save)) {
		if (n == 4)
			return 5;
		field[n++] = tok;
	}
	return n;
}

/*
 * One line. Returns 1 with *p and *family filled, 0 for a line to skip,
 * -1 after logging what is wrong with it.
 */
static int parse_line(char *line, const char *name, unsigned long lineno, struct asn_prefix *p,
		      int *family)
{
	char *field[4], *slash, *addr_text, *len_text, *asn_text;
	uint8_t addr[16] = { 0 };
	int n, bits, len;

	n = split_fields(line, field);
	if (n == 0 || field[0][0] == '#')
		return 0;
	addr_text = field[0];
	slash = strchr(addr_text, '/');
	if (slash && n == 2) {
		*slash = '\0';
		len_text = slash + 1;
		asn_text = field[1];
	} else if (!slash && n == 3) {
		len_text = field[1];
		asn_text = field[2];
	} else {
		log_error("%s line %lu: expected \"PREFIX<TAB>LENGTH<TAB>ASN\" or "
			  "\"PREFIX/LENGTH ASN\", found %d field%s",
			  name, lineno, n, n == 1 ? "" : "s");
		return -1;
	}
	if (inet_pton(AF_INET, addr_text, addr) == 1) {
		*family = 0;
		bits = 32;
	} else if (inet_pton(AF_INET6, addr_text, addr) == 1) {
		*family = 1;
		bits = 128;
	} else {
		log_error("%s line %lu: \"%s\" is not an IPv4 or IPv6 address", name, lineno,
			  addr_text);
		return -1;
	}
	len = parse_len(len_text, bits);
	if (len < 0) {
		log_error("%s line %lu: prefix length \"%s\" is not a number from 0 to %d", name,
			  lineno, len_text, bits);
		return -1;
	}
	if (parse_asn(asn_text, &p->asn) < 0) {
		log_error("%s line %lu: \"%s\" is not an AS number (64500, "
			  "64500_64501 or 64500,64501; at most 4294967295)",
			  name, lineno, asn_text);
		return -1;
	}
	p->len = (uint8_t)len;
	p->start = addr_to_u128(addr, bits / 8) & ~host_mask(len, bits);
	p->end = p->start | host_mask(len, bits);
	p->line = (uint32_t)lineno;
	return 1;
}

/* Containing prefixes before the prefixes inside them; equal ones by line. */
static int cmp_prefix(const void *a, const void *b)
{
	const struct asn_prefix *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return x->line < y->line ? -1 : x->line > y->line;
}

static int ranges_emit(struct asn_ranges *r, u128 start, uint32_t asn)
{
	if (r->n && r->start[r->n - 1] == start) {
		r->asn[r->n - 1] = asn; /* a later, more specific prefix */
		if (r->n >= 2 && r->asn[r->n - 2] == asn)
			r->n--; /* merged with the range before */
		return 0;
	}
	if (r->n && r->asn[r->n - 1] == asn)
		return 0;
	if (!r->n && asn == 0)
		return 0; /* below the first prefix: unknown anyway */
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 4096;
		u128 *ns = realloc(r->start, cap * sizeof(*ns));
		uint32_t *na;

		if (!ns)
			return -ENOMEM;
		r->start = ns;
		na = realloc(r->asn, cap * sizeof(*na));
		if (!na)
			return -ENOMEM;
		r->asn = na;
		r->cap = cap;
	}
	r->start[r->n] = start;
	r->asn[r->n] = asn;
	r->n++;
	return 0;
}

/*
 * The sweep: prefixes in address order, a stack of the ones still open
 * (each inside the one below it, since prefixes never partly overlap).
 * Opening a prefix starts its AS; closing one hands the addresses after
 * it back to the prefix below, or to no one.
 */
static int flatten(struct asn_ranges *r, struct prefix_list *l)
{
	struct asn_prefix **stack;
	size_t depth = 0;
	int err = 0;

	if (!l->n)
		return 0;
	qsort(l->p, l->n, sizeof(*l->p), cmp_prefix);
	stack = malloc(130 * sizeof(*stack)); /* one per length at most */
	if (!stack)
		return -ENOMEM;
	for (size_t i = 0; i <= l->n && !err; i++) {
		struct asn_prefix *p = i < l->n ? &l->p[i] : NULL;

		while (depth && (!p || stack[depth - 1]->end < p->start)) {
			struct asn_prefix *top = stack[--depth];

			if (top->end == ~(u128)0)
				continue; /* ends at the top of the space */
			if (depth && stack[depth - 1]->end == top->end)
				continue; /* the one below ends here too */
			err = ranges_emit(r, top->end + 1, depth ? stack[depth - 1]->asn : 0);
		}
		if (!p || err)
			break;
		if (depth && stack[depth - 1]->start == p->start && stack[depth - 1]->len == p->len)
			stack[depth - 1] = p; /* listed again: the later wins */
		else
			stack[depth++] = p;
		err = ranges_emit(r, p->start, p->asn);
	}
	free(stack);
	return err;
}

int asn_table_load_stream(struct asn_table **out, FILE *in, const char *name)
{
	struct prefix_list lists[2] = { 0 };
	struct asn_table *t = calloc(1, sizeof(*t));
	unsigned long lineno = 0;
	char *line = NULL;
	size_t cap = 0;
	int rc = 0;

	if (!t) {
		log_error("%s: out of memory", name);
		return -ENOMEM;
	}
	while (getline(&line, &cap, in) >= 0) {
		struct asn_prefix p;
		int family, r;

		lineno++;
		r = parse_line(line, name, lineno, &p, &family);
		if (r < 0) {
			rc = -EINVAL;
			goto cleanup;
		}
		if (r == 0)
			continue;
		if (list_push(&lists[family], &p) < 0) {
			log_error("%s line %lu: out of memory", name, lineno);
			rc = -ENOMEM;
			goto cleanup;
		}
	}
	if (ferror(in)) {
		log_error("%s: read error after line %lu", name, lineno);
		rc = -EINVAL;
		goto cleanup;
	}
	t->prefixes = lists[0].n + lists[1].n;
	for (int f = 0; f < 2; f++) {
		if (flatten(&t->fam[f], &lists[f]) < 0) {
			log_error("%s: out of memory", name);
			rc = -ENOMEM;
			goto cleanup;
		}
	}
cleanup:
	free(line);
	free(lists[0].p);
	free(lists[1].p);
	if (rc) {
		asn_table_free(t);
		t = NULL;
	}
	*out = t;
	return rc;
}

int asn_table_load(struct asn_table **out, const char *path)
{
	FILE *in = fopen(path, "r");
	int rc;

	if (!in) {
		log_error("--asn-table %s: %s", path, strerror(errno));
		*out = NULL;
		return -EINVAL;
	}
	rc = asn_table_load_stream(out, in, path);
	fclose(in);
	return rc;
}

void asn_table_free(struct asn_table *t)
{
	if (!t)
		return;
	for (int f = 0; f < 2; f++) {
		free(t->fam[f].start);
		free(t->fam[f].asn);
	}
	free(t);
}

size_t asn_table_prefixes(const struct asn_table *t)
{
	return t ? t->prefixes : 0;
}

uint32_t asn_table_lookup(const struct asn_table *t, uint8_t ip_version, const uint8_t addr[16])
{
	const struct asn_ranges *r;
	size_t lo = 0, hi;
	u128 a;

	if (!t || (ip_version != 4 && ip_version != 6))
		return 0;
	r = &t->fam[ip_version == 6];
	a = addr_to_u128(addr, ip_version == 4 ? 4 : 16);
	hi = r->n;
	/* the last breakpoint at or below a: lo ends as its index + 1 */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (r->start[mid] <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? r->asn[lo - 1] : 0;
}

void asn_table_annotate(const struct asn_table *t, struct flow_record *rec)
{
	rec->src_as = asn_table_lookup(t, rec->key.ip_version, rec->key.src);
	rec->dst_as = asn_table_lookup(t, rec->key.ip_version, rec->key.dst);
}
