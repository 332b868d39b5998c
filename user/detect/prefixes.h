/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Sets of IPv4 and IPv6 prefixes, such as the "local" networks of
 * `--local 10.0.0.0/8,2001:db8::/32`: which end of a flow is the ISP's
 * customer. Addresses use the flow key's layout (16 bytes, IPv4 in the
 * first 4) together with an IP version, and a prefix only ever matches
 * addresses of its own version, so an IPv4 prefix never matches an IPv6
 * address whose bytes happen to agree (or an IPv4-mapped one).
 * The set is a fixed array: parsing allocates nothing, and a set can be
 * copied by value. Lookups use an index built by every parse: one sorted
 * run per (version, length), searched longest first by binary search, so
 * a lookup costs a few binary searches (one per distinct length in use)
 * whether the set holds ten prefixes or ten thousand.
 */
#ifndef PREFIXES_H
#define PREFIXES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* About 20 bytes a prefix, in each copy (the options, the P2P hosts, the
 * history): 16,384 prefixes cost about 1 MB in all. */
#ifndef PREFIX_SET_MAX
#define PREFIX_SET_MAX 16384
#endif
/* Distinct (version, length) pairs: /0../32 and /0../128. */
#define PREFIX_SET_RUNS (33 + 129)

/* Where an ISP's customers sit: RFC 1918, CGNAT (RFC 6598), ULA. */
#define PREFIX_SET_DEFAULT "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10,fc00::/7"

struct prefix {
	uint8_t ip_version; /* 4 or 6 */
	uint8_t len; /* bits: 0..32 or 0..128 */
	uint8_t addr[16]; /* host bits already cleared */
};

/* Prefixes of one version and length, at order[start .. start+count). */
struct prefix_run {
	uint8_t ip_version;
	uint8_t len;
	uint16_t pad;
	uint32_t start, count;
};

struct prefix_set {
	size_t n;
	struct prefix p[PREFIX_SET_MAX];
	/* The index: p's positions sorted by version, length (longest
	 * first) and address; and the runs, in that order. */
	uint16_t order[PREFIX_SET_MAX];
	size_t nruns;
	struct prefix_run runs[PREFIX_SET_RUNS];
};

/* Fills the set with PREFIX_SET_DEFAULT. */
void prefix_set_default(struct prefix_set *set);

/*
 * Parses a comma-separated list of prefixes ("10.0.0.0/8,2001:db8::/32";
 * a bare address is a /32 or /128; host bits are cleared). `what` names
 * the option in the error ("--local"). Returns 0, or -EINVAL after one
 * log_error line naming the bad element; on error the set is
 * left as it was.
 */
int prefix_set_parse(struct prefix_set *set, const char *list, const char *what);

/* The same, adding the list's prefixes to those the set holds. */
int prefix_set_add(struct prefix_set *set, const char *list, const char *what);

/*
 * Reads prefixes from a file, one per line (blank lines and text after '#'
 * ignored), for thousands of customer prefixes (`--local-file`). Returns
 * 0, or -EINVAL after one log_error line naming the file and line; on
 * error the set is left as it was. The file's prefixes are added to the
 * set's (which may be empty).
 */
int prefix_set_parse_file(struct prefix_set *set, const char *path, const char *what);

/* Whether addr (flow key layout) lies in one of the set's prefixes. */
bool prefix_set_match(const struct prefix_set *set, uint8_t ip_version, const uint8_t addr[16]);

/*
 * The longest of the set's prefixes holding addr, as an index into
 * set->p, or -1 when none does (the same ends prefix_set_match accepts).
 */
int prefix_set_find(const struct prefix_set *set, uint8_t ip_version, const uint8_t addr[16]);

/* One prefix as text: "10.0.0.0/8". */
void prefix_format(const struct prefix *p, char *buf, size_t len);

/* Writes the set back as a list ("10.0.0.0/8,fc00::/7") for the log. */
void prefix_set_format(const struct prefix_set *set, char *buf, size_t len);

#endif /* PREFIXES_H */
