/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Sets of IPv4 and IPv6 prefixes, such as the "local" networks of
 * `--local 10.0.0.0/8,2001:db8::/32`: which end of a flow is the ISP's
 * customer. Addresses use the flow key's layout (16 bytes, IPv4 in the
 * first 4) together with an IP version, and a prefix only ever matches
 * addresses of its own version, so an IPv4 prefix never matches an IPv6
 * address whose bytes happen to agree (or an IPv4-mapped one).
 * The set is a fixed array: parsing allocates nothing.
 */
#ifndef PREFIXES_H
#define PREFIXES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef PREFIX_SET_MAX
#define PREFIX_SET_MAX 64
#endif

/* Where an ISP's customers sit: RFC 1918, CGNAT (RFC 6598), ULA. */
#define PREFIX_SET_DEFAULT \
	"10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10,fc00::/7"

struct prefix {
	uint8_t ip_version;	/* 4 or 6 */
	uint8_t len;		/* bits: 0..32 or 0..128 */
	uint8_t addr[16];	/* host bits already cleared */
};

struct prefix_set {
	size_t n;
	struct prefix p[PREFIX_SET_MAX];
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
int prefix_set_parse(struct prefix_set *set, const char *list,
		     const char *what);

/* Whether addr (flow key layout) lies in one of the set's prefixes. */
bool prefix_set_match(const struct prefix_set *set, uint8_t ip_version,
		      const uint8_t addr[16]);

/*
 * The longest of the set's prefixes holding addr, as an index into
 * set->p, or -1 when none does (the same ends prefix_set_match accepts).
 */
int prefix_set_find(const struct prefix_set *set, uint8_t ip_version,
		    const uint8_t addr[16]);

/* Writes the set back as a list ("10.0.0.0/8,fc00::/7") for the log. */
void prefix_set_format(const struct prefix_set *set, char *buf, size_t len);

#endif /* PREFIXES_H */
