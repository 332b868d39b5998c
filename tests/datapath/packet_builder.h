/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A small header-only packet builder for the datapath tests: Ethernet with
 * 0..4 VLAN tags, IPv4 (any IHL, options, flags and fragment offset, IP ID,
 * any version nibble), IPv6 with extension header chains (hop-by-hop,
 * routing, destination options, mobility, fragment, AH), TCP, UDP, SCTP,
 * ICMP/ICMPv6, payload of any length (filler or given bytes), Ethernet
 * padding, and cutting the frame at any byte; the IP packet may be
 * encapsulated (PPPoE, MPLS, GRE with options, ERSPAN II/III, IP-in-IP,
 * VXLAN, Geneve, GTP-U, Teredo: pb_encap). Two layers: push-style
 * primitives (pb_eth, pb_ipv4, pb_tcp, ... then pb_finish) and a
 * declarative `struct pb_spec` that the tests' tables are written in
 * (pb_build). Header-only because only tests/unit/test_*.c files are
 * compiled.
 */
#ifndef PACKET_BUILDER_H
#define PACKET_BUILDER_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PB_MAX_FRAME 2048
#define PB_MAX_VLANS 4
#define PB_MAX_EXT 10

#define PB_ETH_IPV4 0x0800
#define PB_ETH_ARP 0x0806
#define PB_ETH_IPV6 0x86DD
#define PB_ETH_LLDP 0x88CC
#define PB_TPID_8021Q 0x8100
#define PB_TPID_8021AD 0x88A8
#define PB_ETH_PPPOE_DISC 0x8863
#define PB_ETH_PPPOE 0x8864
#define PB_ETH_MPLS 0x8847
#define PB_ETH_TEB 0x6558
#define PB_ETH_ERSPAN2 0x88BE
#define PB_ETH_ERSPAN3 0x22EB

#define PB_IPV4_DF 0x4000
#define PB_IPV4_MF 0x2000

/* IP protocol / IPv6 next header numbers. */
enum {
	PB_HOPOPTS = 0,
	PB_ICMP = 1,
	PB_IPIP = 4,
	PB_TCP = 6,
	PB_UDP = 17,
	PB_DCCP = 33,
	PB_IPV6 = 41,
	PB_ROUTING = 43,
	PB_FRAGMENT = 44,
	PB_GRE = 47,
	PB_AH = 51,
	PB_ICMPV6 = 58,
	PB_NONXT = 59,
	PB_DSTOPTS = 60,
	PB_SCTP = 132,
	PB_MH = 135,
	PB_UDPLITE = 136,
};

/* TCP flags, byte 13 of the header. */
enum {
	PB_FIN = 0x01,
	PB_SYN = 0x02,
	PB_RST = 0x04,
	PB_PSH = 0x08,
	PB_ACK = 0x10,
	PB_URG = 0x20,
	PB_ECE = 0x40,
	PB_CWR = 0x80,
};

/* Spec fields where 0 means "the sensible default" take PB_SET(n) to mean
 * "exactly n, even 0" (IHL 0, version 0). */
#define PB_SET(n) (0x100 | (n))
#define PB_IS_SET(f) ((f)&0x100)
/* A TCP window of exactly n, even 0. */
#define PB_WIN(n) (0x10000 | (n))
#define PB_VALUE(f) ((f)&0xff)

#define PB_V4_SRC "10.0.0.1"
#define PB_V4_DST "10.0.0.2"
#define PB_V6_SRC "2001:db8::1"
#define PB_V6_DST "2001:db8::2"
#define PB_TTL 64

/* ---- push-style primitives --------------------------------------------- */

struct pkt {
	uint8_t b[PB_MAX_FRAME];
	size_t len;
	size_t l3; /* offset of the IP header */
	size_t l4; /* offset of the L4 header (for the UDP length) */
	size_t nh; /* offset of the byte naming the next protocol, 0: none */
	int ip; /* 4 or 6 once an IP header is pushed */
	uint8_t l4_proto;
	bool bare_ip; /* the next IP header follows without an ethertype */
	/* Where pb_encap_finish fixes lengths (0: nothing there). */
	size_t outer_l3, outer_udp, pppoe, gtp;
	int outer_ip;
};

static inline void pb_init(struct pkt *p)
{
	memset(p, 0, sizeof(*p));
}

static inline uint8_t *pb_put(struct pkt *p, const void *data, size_t n)
{
	uint8_t *at = &p->b[p->len];

	if (p->len + n > sizeof(p->b))
		abort(); /* a test asked for an absurd frame */
	if (data)
		memcpy(at, data, n);
	else
		memset(at, 0, n);
	p->len += n;
	return at;
}

static inline void pb_put8(struct pkt *p, uint8_t v)
{
	pb_put(p, &v, 1);
}

static inline void pb_put16(struct pkt *p, uint16_t v)
{
	v = htons(v);
	pb_put(p, &v, 2);
}

static inline void pb_put32(struct pkt *p, uint32_t v)
{
	v = htonl(v);
	pb_put(p, &v, 4);
}

static inline void pb_set16(struct pkt *p, size_t off, uint16_t v)
{
	p->b[off] = v >> 8;
	p->b[off + 1] = v & 0xff;
}

/* Names the protocol that comes next in the previous header's field. */
static inline void pb_next_proto(struct pkt *p, uint8_t proto)
{
	if (p->nh)
		p->b[p->nh] = proto;
	p->l4_proto = proto;
}

/* Destination and source MAC; the tags and ethertype follow. */
static inline void pb_eth(struct pkt *p)
{
	static const uint8_t macs[12] = { 0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01 };

	pb_put(p, macs, sizeof(macs));
}

/* One tag: TPID where the ethertype would be, then the TCI. */
static inline void pb_vlan(struct pkt *p, uint16_t tpid, uint16_t tci)
{
	pb_put16(p, tpid);
	pb_put16(p, tci);
}

static inline void pb_ethertype(struct pkt *p, uint16_t type)
{
	pb_put16(p, type);
}

struct pb_ip4 {
	const char *src, *dst; /* NULL: PB_V4_SRC / PB_V4_DST */
	uint16_t version; /* 0: 4; PB_SET(n): n */
	uint16_t ihl; /* 0: 5; PB_SET(n): n (options fill to n * 4) */
	uint8_t tos, ttl; /* ttl 0: PB_TTL */
	uint16_t id;
	uint16_t frag; /* flags and offset as on the wire */
};

/* Ethertype, then the IPv4 header; total length and checksum are set by
 * pb_finish. IHL below 5 still writes a 20-byte header. */
static inline void pb_ipv4(struct pkt *p, const struct pb_ip4 *o)
{
	uint8_t version = PB_IS_SET(o->version) ? PB_VALUE(o->version) : 4;
	uint8_t ihl = PB_IS_SET(o->ihl) ? PB_VALUE(o->ihl) : 5;
	size_t hlen = ihl > 5 ? ihl * 4u : 20;
	struct in_addr a;
	uint8_t *h;

	if (!p->bare_ip)
		pb_ethertype(p, PB_ETH_IPV4);
	p->bare_ip = false;
	p->ip = 4;
	p->l3 = p->len;
	h = pb_put(p, NULL, hlen);
	h[0] = (version << 4) | (ihl & 0x0f);
	h[1] = o->tos;
	pb_set16(p, p->l3 + 4, o->id);
	pb_set16(p, p->l3 + 6, o->frag);
	h[8] = o->ttl ? o->ttl : PB_TTL;
	inet_pton(AF_INET, o->src ? o->src : PB_V4_SRC, &a);
	memcpy(h + 12, &a, 4);
	inet_pton(AF_INET, o->dst ? o->dst : PB_V4_DST, &a);
	memcpy(h + 16, &a, 4);
	/* Options: NOPs, then an end-of-list byte. */
	for (size_t i = 20; i < hlen; i++)
		h[i] = i + 1 == hlen ? 0 : 1;
	p->nh = p->l3 + 9;
}

struct pb_ip6 {
	const char *src, *dst; /* NULL: PB_V6_SRC / PB_V6_DST */
	uint16_t version; /* 0: 6; PB_SET(n): n */
	uint8_t tclass, hlim; /* hlim 0: PB_TTL */
	uint32_t flow_label;
};

static inline void pb_ipv6(struct pkt *p, const struct pb_ip6 *o)
{
	uint8_t version = PB_IS_SET(o->version) ? PB_VALUE(o->version) : 6;
	uint32_t w0 = (uint32_t)version << 28 | (uint32_t)o->tclass << 20 |
		      (o->flow_label & 0xfffff);
	struct in6_addr a;
	uint8_t *h;

	if (!p->bare_ip)
		pb_ethertype(p, PB_ETH_IPV6);
	p->bare_ip = false;
	p->ip = 6;
	p->l3 = p->len;
	h = pb_put(p, NULL, 40);
	w0 = htonl(w0);
	memcpy(h, &w0, 4);
	h[7] = o->hlim ? o->hlim : PB_TTL;
	inet_pton(AF_INET6, o->src ? o->src : PB_V6_SRC, &a);
	memcpy(h + 8, &a, 16);
	inet_pton(AF_INET6, o->dst ? o->dst : PB_V6_DST, &a);
	memcpy(h + 24, &a, 16);
	p->nh = p->l3 + 6;
}

/*
 * A hop-by-hop, routing, destination options, mobility or AH header of len
 * bytes (a multiple of 8; AH: of 4, at least 12). The length field is set
 * in the header's own units; the body is zeros (Pad1 options).
 */
static inline void pb_ext6(struct pkt *p, uint8_t type, size_t len)
{
	size_t at = p->len;
	uint8_t *h;

	pb_next_proto(p, type);
	h = pb_put(p, NULL, len);
	h[1] = type == PB_AH ? len / 4 - 2 : len / 8 - 1;
	p->nh = at;
}

/* IPv6 fragment header; offset in 8-byte units. */
static inline void pb_frag6(struct pkt *p, uint16_t offset, bool more, uint32_t id)
{
	size_t at = p->len;

	pb_next_proto(p, PB_FRAGMENT);
	pb_put8(p, 0);
	pb_put8(p, 0);
	pb_put16(p, (uint16_t)(offset << 3) | (more ? 1 : 0));
	pb_put32(p, id);
	p->nh = at;
}

/* Names the upper-layer protocol without writing its header (a later
 * fragment, or a protocol the builder does not know). */
static inline void pb_proto(struct pkt *p, uint8_t proto)
{
	pb_next_proto(p, proto);
	p->nh = 0;
	p->l4 = p->len;
}

/* TCP with every field a reset is judged by. */
struct pb_tcp_hdr {
	uint16_t sport, dport;
	uint8_t flags;
	uint32_t seq, ack;
	uint16_t window;
	bool ts; /* append NOP NOP TIMESTAMP(tsval, tsecr 0) */
	uint32_t tsval;
};

static inline void pb_tcp_full(struct pkt *p, const struct pb_tcp_hdr *t)
{
	uint8_t *h;
	int hlen = t->ts ? 32 : 20;

	pb_proto(p, PB_TCP);
	h = pb_put(p, NULL, hlen);
	pb_set16(p, p->l4, t->sport);
	pb_set16(p, p->l4 + 2, t->dport);
	pb_set16(p, p->l4 + 4, t->seq >> 16);
	pb_set16(p, p->l4 + 6, t->seq & 0xffff);
	pb_set16(p, p->l4 + 8, t->ack >> 16);
	pb_set16(p, p->l4 + 10, t->ack & 0xffff);
	h[12] = (hlen / 4) << 4;
	h[13] = t->flags;
	pb_set16(p, p->l4 + 14, t->window);
	if (t->ts) {
		h[20] = 1;
		h[21] = 1;
		h[22] = 8;
		h[23] = 10;
		pb_set16(p, p->l4 + 24, t->tsval >> 16);
		pb_set16(p, p->l4 + 26, t->tsval & 0xffff);
	}
}

static inline void pb_tcp(struct pkt *p, uint16_t sport, uint16_t dport, uint8_t flags)
{
	struct pb_tcp_hdr t = { .sport = sport, .dport = dport, .flags = flags, .window = 65535 };

	pb_tcp_full(p, &t);
}

/* UDP, UDP-Lite and DCCP-like: 8 bytes starting with the two ports. */
static inline void pb_udp_like(struct pkt *p, uint8_t proto, uint16_t sport, uint16_t dport)
{
	pb_proto(p, proto);
	pb_put16(p, sport);
	pb_put16(p, dport);
	pb_put32(p, 0); /* length (UDP: set by pb_finish) and checksum */
}

static inline void pb_udp(struct pkt *p, uint16_t sport, uint16_t dport)
{
	pb_udp_like(p, PB_UDP, sport, dport);
}

/* SCTP common header: ports, verification tag, checksum. */
static inline void pb_sctp(struct pkt *p, uint16_t sport, uint16_t dport)
{
	pb_proto(p, PB_SCTP);
	pb_put16(p, sport);
	pb_put16(p, dport);
	pb_put32(p, 0x01020304);
	pb_put32(p, 0);
}

/* ICMP on IPv4, ICMPv6 on IPv6: type, code, checksum, 4 bytes of rest. */
static inline void pb_icmp(struct pkt *p, uint8_t type, uint8_t code)
{
	pb_proto(p, p->ip == 6 ? PB_ICMPV6 : PB_ICMP);
	pb_put8(p, type);
	pb_put8(p, code);
	pb_put16(p, 0);
	pb_put32(p, 0);
}

static inline void pb_payload(struct pkt *p, size_t n)
{
	memset(pb_put(p, NULL, n), 0xa5, n);
}

/* A payload of given bytes (signature tests: real protocol bytes). */
static inline void pb_payload_bytes(struct pkt *p, const void *data, size_t n)
{
	pb_put(p, data, n);
}

static inline uint16_t pb_csum(const uint8_t *d, size_t n)
{
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)d[i] << 8 | d[i + 1];
	if (n & 1)
		s += (uint32_t)d[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return ~s;
}

/* Sets the IP (and UDP) lengths and the IPv4 header checksum from what was
 * pushed; call before padding or cutting. */
static inline void pb_finish(struct pkt *p)
{
	if (p->ip == 4) {
		size_t hlen = (p->b[p->l3] & 0x0f) * 4u;

		pb_set16(p, p->l3 + 2, p->len - p->l3);
		if (hlen >= 20) {
			pb_set16(p, p->l3 + 10, 0);
			pb_set16(p, p->l3 + 10, pb_csum(&p->b[p->l3], hlen));
		}
	} else if (p->ip == 6) {
		pb_set16(p, p->l3 + 4, p->len - p->l3 - 40);
	}
	if (p->l4_proto == PB_UDP && p->l4 && p->len >= p->l4 + 8)
		pb_set16(p, p->l4 + 4, p->len - p->l4);
}

/* Ethernet padding up to len bytes (the IP lengths do not change). */
static inline void pb_pad_to(struct pkt *p, size_t len)
{
	if (p->len < len)
		pb_put(p, NULL, len - p->len);
}

/* Keeps only the first len bytes, as a truncated capture or a short frame. */
static inline void pb_cut(struct pkt *p, size_t len)
{
	if (len < p->len)
		p->len = len;
}

/* ---- encapsulations ----------------------------------------------------- */

enum pb_encap_kind {
	PB_ENC_NONE = 0,
	PB_ENC_PPPOE, /* PPPoE session, PPP protocol from the inner IP */
	PB_ENC_MPLS, /* a label stack of n_labels entries */
	PB_ENC_MPLS_PW, /* labels, control word, Ethernet (pseudowire) */
	PB_ENC_IPIP, /* outer IPv4/IPv6, protocol 4 or 41 */
	PB_ENC_GRE, /* outer IP, GRE (flags: C K S), inner IP */
	PB_ENC_GRE_TEB, /* GRE carrying Ethernet */
	PB_ENC_ERSPAN2, /* GRE (S set) + ERSPAN type II + Ethernet */
	PB_ENC_ERSPAN3, /* GRE (S set) + ERSPAN type III + Ethernet */
	PB_ENC_VXLAN, /* outer IP, UDP 4789, VXLAN, Ethernet */
	PB_ENC_GENEVE, /* outer IP, UDP 6081, Geneve (8 bytes of options) */
	PB_ENC_GTPU, /* outer IP, UDP 2152, GTP-U with sequence number */
	PB_ENC_GRE_UDP, /* outer IP, UDP 4754, GRE (flags: C K S), inner IP */
	PB_ENC_TEREDO, /* outer IPv4, UDP 3544, origin indication, IPv6 */
};

#define PB_OUTER_V4_SRC "192.0.2.1"
#define PB_OUTER_V4_DST "192.0.2.2"
#define PB_OUTER_V6_SRC "2001:db8:ff::1"
#define PB_OUTER_V6_DST "2001:db8:ff::2"

struct pb_encap_spec {
	uint8_t kind; /* enum pb_encap_kind */
	uint8_t outer_ip; /* tunnels: 4 (default) or 6 */
	uint8_t n_labels; /* MPLS: entries (0: 1) */
	uint32_t label; /* MPLS: the top label (20 bits) */
	uint16_t gre_flags; /* GRE: C 0x8000, K 0x2000, S 0x1000 */
	uint16_t ppp_proto; /* PPPoE: 0 from the inner IP, else this */
	bool inner_vlan; /* tunnels carrying Ethernet: tag it (VID 7) */
};

static inline void pb_outer_ip(struct pkt *p, int ver, uint8_t proto)
{
	const char *src = ver == 6 ? PB_OUTER_V6_SRC : PB_OUTER_V4_SRC;
	const char *dst = ver == 6 ? PB_OUTER_V6_DST : PB_OUTER_V4_DST;
	uint8_t a[16];
	uint8_t *h;

	pb_ethertype(p, ver == 6 ? PB_ETH_IPV6 : PB_ETH_IPV4);
	p->outer_l3 = p->len;
	p->outer_ip = ver;
	if (ver == 6) {
		h = pb_put(p, NULL, 40);
		h[0] = 0x60;
		h[6] = proto;
		h[7] = 33;
		inet_pton(AF_INET6, src, a);
		memcpy(h + 8, a, 16);
		inet_pton(AF_INET6, dst, a);
		memcpy(h + 24, a, 16);
	} else {
		h = pb_put(p, NULL, 20);
		h[0] = 0x45;
		h[8] = 33;
		h[9] = proto;
		inet_pton(AF_INET, src, a);
		memcpy(h + 12, a, 4);
		inet_pton(AF_INET, dst, a);
		memcpy(h + 16, a, 4);
	}
}

static inline void pb_inner_eth(struct pkt *p, bool tagged)
{
	pb_eth(p);
	if (tagged)
		pb_vlan(p, PB_TPID_8021Q, 7);
}

static inline void pb_outer_udp(struct pkt *p, uint16_t sport, uint16_t dport)
{
	p->outer_udp = p->len;
	pb_put16(p, sport);
	pb_put16(p, dport);
	pb_put32(p, 0);
}

/* Everything between the link's tags and the inner IP header; the inner
 * IP header's ethertype is written by pb_ipv4/pb_ipv6 where one is due. */
static inline void pb_encap(struct pkt *p, const struct pb_encap_spec *e, int inner_ip)
{
	int ov = e->outer_ip ? e->outer_ip : 4;
	int labels = e->n_labels ? e->n_labels : 1;

	switch (e->kind) {
	case PB_ENC_PPPOE:
		pb_ethertype(p, PB_ETH_PPPOE);
		pb_put8(p, 0x11);
		pb_put8(p, 0);
		pb_put16(p, 0x1234);
		p->pppoe = p->len;
		pb_put16(p, 0);
		pb_put16(p, e->ppp_proto ? e->ppp_proto : inner_ip == 6 ? 0x0057 : 0x0021);
		p->bare_ip = true;
		break;
	case PB_ENC_MPLS:
	case PB_ENC_MPLS_PW:
		pb_ethertype(p, PB_ETH_MPLS);
		for (int i = 0; i < labels; i++)
			pb_put32(p, (i ? 16u + i : e->label) << 12 | (i + 1 == labels ? 0x100 : 0) |
					    64);
		if (e->kind == PB_ENC_MPLS_PW) {
			pb_put32(p, 0); /* control word */
			pb_inner_eth(p, e->inner_vlan);
		} else {
			p->bare_ip = true;
		}
		break;
	case PB_ENC_IPIP:
		pb_outer_ip(p, ov, inner_ip == 6 ? PB_IPV6 : PB_IPIP);
		p->bare_ip = true;
		break;
	case PB_ENC_GRE:
	case PB_ENC_GRE_UDP:
	case PB_ENC_GRE_TEB:
	case PB_ENC_ERSPAN2:
	case PB_ENC_ERSPAN3: {
		bool bare = e->kind == PB_ENC_GRE || e->kind == PB_ENC_GRE_UDP;
		uint16_t flags = e->gre_flags;
		uint16_t proto = bare ? (inner_ip == 6 ? PB_ETH_IPV6 : PB_ETH_IPV4) :
				 e->kind == PB_ENC_GRE_TEB ? PB_ETH_TEB :
				 e->kind == PB_ENC_ERSPAN2 ? PB_ETH_ERSPAN2 :
							     PB_ETH_ERSPAN3;

		if (e->kind == PB_ENC_ERSPAN2 || e->kind == PB_ENC_ERSPAN3)
			flags |= 0x1000;
		if (e->kind == PB_ENC_GRE_UDP) {
			pb_outer_ip(p, ov, PB_UDP);
			pb_outer_udp(p, 50000, 4754);
		} else {
			pb_outer_ip(p, ov, PB_GRE);
		}
		pb_put16(p, flags);
		pb_put16(p, proto);
		if (flags & 0x8000)
			pb_put32(p, 0);
		if (flags & 0x2000)
			pb_put32(p, 0xabcd);
		if (flags & 0x1000)
			pb_put32(p, 42);
		if (e->kind == PB_ENC_ERSPAN2) {
			pb_put32(p, 0x10000000 | 5); /* version 1, session 5 */
			pb_put32(p, 0);
		} else if (e->kind == PB_ENC_ERSPAN3) {
			pb_put32(p, 0x20000000 | 5); /* version 2 */
			pb_put32(p, 0x12345678); /* timestamp */
			pb_put32(p, 0); /* no O flag */
		}
		if (bare)
			p->bare_ip = true;
		else
			pb_inner_eth(p, e->inner_vlan);
		break;
	}
	case PB_ENC_VXLAN:
		pb_outer_ip(p, ov, PB_UDP);
		pb_outer_udp(p, 50000, 4789);
		pb_put32(p, 0x08000000);
		pb_put32(p, 0x00123400); /* VNI 0x1234 */
		pb_inner_eth(p, e->inner_vlan);
		break;
	case PB_ENC_GENEVE:
		pb_outer_ip(p, ov, PB_UDP);
		pb_outer_udp(p, 50000, 6081);
		pb_put8(p, 2); /* version 0, 2 words of options */
		pb_put8(p, 0);
		pb_put16(p, PB_ETH_TEB);
		pb_put32(p, 0x00123400);
		pb_put32(p, 0x01020304); /* an option: class, type, length 0 */
		pb_put32(p, 0);
		pb_inner_eth(p, e->inner_vlan);
		break;
	case PB_ENC_GTPU:
		pb_outer_ip(p, ov, PB_UDP);
		pb_outer_udp(p, 2152, 2152);
		pb_put8(p, 0x32); /* version 1, PT, S */
		pb_put8(p, 0xff); /* G-PDU */
		p->gtp = p->len;
		pb_put16(p, 0);
		pb_put32(p, 0x11223344); /* TEID */
		pb_put32(p, 0x00070000); /* sequence 7, N-PDU 0, no extension */
		p->bare_ip = true;
		break;
	case PB_ENC_TEREDO:
		pb_outer_ip(p, 4, PB_UDP);
		pb_outer_udp(p, 3544, 40000);
		pb_put16(p, 0); /* origin indication */
		pb_put16(p, 0x1234);
		pb_put32(p, 0xc0000201);
		p->bare_ip = true;
		break;
	}
}

/* The outer lengths, once the inner packet is complete. */
static inline void pb_encap_finish(struct pkt *p)
{
	if (p->pppoe)
		pb_set16(p, p->pppoe, p->len - p->pppoe - 2);
	if (p->gtp)
		pb_set16(p, p->gtp, p->len - p->gtp - 6);
	if (p->outer_udp)
		pb_set16(p, p->outer_udp + 4, p->len - p->outer_udp);
	if (p->outer_ip == 4) {
		pb_set16(p, p->outer_l3 + 2, p->len - p->outer_l3);
		pb_set16(p, p->outer_l3 + 10, 0);
		pb_set16(p, p->outer_l3 + 10, pb_csum(&p->b[p->outer_l3], 20));
	} else if (p->outer_ip == 6) {
		pb_set16(p, p->outer_l3 + 4, p->len - p->outer_l3 - 40);
	}
}

/* ---- declarative frames ------------------------------------------------- */

struct pb_ext {
	uint8_t type; /* PB_HOPOPTS, PB_ROUTING, PB_DSTOPTS, PB_MH, PB_AH,
			      * PB_FRAGMENT */
	uint16_t len; /* bytes; 0: 8 (AH: 12); ignored for fragments */
	uint16_t frag_offset; /* fragment: offset in 8-byte units */
	bool more; /* fragment: M flag */
	uint32_t id; /* fragment: identification */
};

/* Zero means default for every field: an untagged IPv4 (or IPv6 if ip is
 * 6) packet between the PB_V4/PB_V6 addresses with TTL PB_TTL. */
struct pb_spec {
	uint8_t n_vlans;
	uint16_t tpid[PB_MAX_VLANS]; /* 0: 802.1Q */
	uint16_t tci[PB_MAX_VLANS]; /* PCP, DEI and VID */
	uint16_t ethertype; /* non-IP: this ethertype and payload only */
	uint8_t ip; /* 4 or 6 */
	uint16_t version, ihl; /* see struct pb_ip4 / pb_ip6 */
	uint8_t tos, ttl; /* IPv6: traffic class, hop limit */
	uint16_t ip_id, frag; /* IPv4 identification, flags|offset */
	const char *src, *dst;
	uint8_t n_ext;
	struct pb_ext ext[PB_MAX_EXT];
	uint8_t proto; /* upper layer: PB_TCP, PB_UDP, ... */
	bool no_l4; /* name proto but write no L4 header */
	uint16_t sport, dport;
	uint8_t tcp_flags;
	uint32_t seq, ack; /* TCP */
	uint32_t win; /* TCP window; 0: 65535, PB_WIN(n): n */
	bool ts; /* TCP timestamp option with tsval */
	uint32_t tsval;
	uint8_t icmp_type, icmp_code;
	uint16_t payload; /* payload bytes */
	const void *data; /* their content; NULL: 0xa5 filler */
	uint16_t pad_to; /* Ethernet padding to this frame length */
	uint16_t cut; /* >0: keep only the first cut bytes */
	uint16_t ip_len_lie; /* >0: IPv4 total / IPv6 payload length */
	struct pb_encap_spec encap; /* what carries the IP packet */
};

static inline bool pb_spec_present(const struct pb_spec *s)
{
	return s->ip || s->ethertype;
}

static inline void pb_build(struct pkt *p, const struct pb_spec *s)
{
	pb_init(p);
	pb_eth(p);
	for (int i = 0; i < s->n_vlans && i < PB_MAX_VLANS; i++)
		pb_vlan(p, s->tpid[i] ? s->tpid[i] : PB_TPID_8021Q, s->tci[i]);

	if (s->ethertype) {
		pb_ethertype(p, s->ethertype);
		pb_payload(p, s->payload);
	} else {
		pb_encap(p, &s->encap, s->ip);
		if (s->ip == 6) {
			struct pb_ip6 o = { .src = s->src,
					    .dst = s->dst,
					    .version = s->version,
					    .tclass = s->tos,
					    .hlim = s->ttl };

			pb_ipv6(p, &o);
			for (int i = 0; i < s->n_ext && i < PB_MAX_EXT; i++) {
				const struct pb_ext *e = &s->ext[i];

				if (e->type == PB_FRAGMENT)
					pb_frag6(p, e->frag_offset, e->more, e->id);
				else
					pb_ext6(p, e->type,
						e->len		 ? e->len :
						e->type == PB_AH ? 12 :
								   8);
			}
		} else {
			struct pb_ip4 o = { .src = s->src,
					    .dst = s->dst,
					    .version = s->version,
					    .ihl = s->ihl,
					    .tos = s->tos,
					    .ttl = s->ttl,
					    .id = s->ip_id,
					    .frag = s->frag };

			pb_ipv4(p, &o);
		}
		if (s->no_l4) {
			pb_proto(p, s->proto);
		} else {
			switch (s->proto) {
			case PB_TCP:
				pb_tcp_full(p,
					    &(struct pb_tcp_hdr){
						    .sport = s->sport,
						    .dport = s->dport,
						    .flags = s->tcp_flags,
						    .seq = s->seq,
						    .ack = s->ack,
						    .ts = s->ts,
						    .tsval = s->tsval,
						    .window = s->win ? (uint16_t)s->win : 65535 });
				break;
			case PB_UDP:
			case PB_UDPLITE:
			case PB_DCCP:
				pb_udp_like(p, s->proto, s->sport, s->dport);
				break;
			case PB_SCTP:
				pb_sctp(p, s->sport, s->dport);
				break;
			case PB_ICMP:
			case PB_ICMPV6:
				pb_icmp(p, s->icmp_type, s->icmp_code);
				break;
			default:
				pb_proto(p, s->proto);
			}
		}
		if (s->data)
			pb_payload_bytes(p, s->data, s->payload);
		else
			pb_payload(p, s->payload);
		pb_finish(p);
		pb_encap_finish(p);
		if (s->ip_len_lie)
			pb_set16(p, p->l3 + (s->ip == 6 ? 4 : 2), s->ip_len_lie);
	}
	pb_pad_to(p, s->pad_to);
	if (s->cut)
		pb_cut(p, s->cut);
}

#endif /* PACKET_BUILDER_H */
