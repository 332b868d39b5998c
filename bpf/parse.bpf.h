/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Bounded packet parsing for the XDP datapath, cursor style (as xdp-tools'
 * parsing helpers): one always-inline function a header, each advancing the
 * cursor and returning the next protocol, or a negative `enum counter`
 * naming exactly why the packet could not be parsed further. Returning the
 * counter index as the error means every failure is counted, by construction,
 * in the slot that explains it. Every loop is bounded by a limit from
 * flowprobe_limits.h so the verifier can prove termination.
 */
#ifndef PARSE_BPF_H
#define PARSE_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include "flowprobe.h"

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88A8
#define ETH_P_PPP_DISC 0x8863
#define ETH_P_PPP_SES 0x8864
#define ETH_P_MPLS_UC 0x8847
#define ETH_P_MPLS_MC 0x8848
/* "An Ethernet frame follows": GRE's Transparent Ethernet Bridging
 * protocol type, which the parser also uses for VXLAN, Geneve, ERSPAN and
 * MPLS pseudowires. */
#define ETH_P_TEB 0x6558
#define ETH_P_ERSPAN 0x88BE
#define ETH_P_ERSPAN3 0x22EB

#define PPP_IP 0x0021
#define PPP_IPV6 0x0057

#define UDP_PORT_VXLAN 4789
#define UDP_PORT_GENEVE 6081
#define UDP_PORT_GTPU 2152
#define UDP_PORT_TEREDO 3544
#define UDP_PORT_GRE_IN_UDP 4754 /* RFC 8086 */

#define IPV4_MF 0x2000
#define IPV4_OFFSET_MASK 0x1fff
#define IPV6_FRAG_OFFSET_MASK 0xfff8
#define IPV6_FRAG_MF 0x0001

/* IP protocol numbers the parser looks at. */
enum {
	PROTO_HOPOPTS = 0,
	PROTO_ICMP = 1,
	PROTO_IPIP = 4,
	PROTO_TCP = 6,
	PROTO_UDP = 17,
	PROTO_DCCP = 33,
	PROTO_IPV6 = 41,
	PROTO_ROUTING = 43,
	PROTO_FRAGMENT = 44,
	PROTO_GRE = 47,
	PROTO_AH = 51,
	PROTO_ICMPV6 = 58,
	PROTO_DSTOPTS = 60,
	PROTO_MH = 135,
	PROTO_SCTP = 132,
	PROTO_UDPLITE = 136,
};

struct cursor {
	void *pos;
	void *end;
};

/* An 802.1Q/802.1ad tag as it follows the Ethernet addresses. */
struct vlan_tag {
	__be16 tci;
	__be16 encap_proto;
};

/* The common two bytes of IPv6 hop-by-hop, routing, destination options,
 * mobility and AH headers: next header and length (units differ for AH). */
struct ipv6_ext {
	__u8 nexthdr;
	__u8 hdrlen;
};

/* What the parser learns about one packet besides its flow key. */
struct packet_info {
	__u32 ip_bytes; /* IPv4 total length / IPv6 payload length + 40 */
	__u32 frag_id; /* IPv4 or IPv6 fragment identification */
	__u8 tcp_flags;
	__u8 tos;
	__u8 ttl;
	__u8 flags; /* enum flow_value_flags */
	__u8 is_fragment; /* 1: first fragment, 2: later fragment */
	/* The next header the fragment header (IPv6) or the IP header (IPv4)
	 * names: the same in every fragment of a datagram, unlike the IPv6
	 * upper-layer protocol, which the first fragment alone reaches when
	 * extension headers follow the fragment header (RFC 8200 4.5). */
	__u8 frag_nexthdr;
	__u8 tunnel; /* enum flow_tunnel: the outermost one taken off */
	__u8 encap; /* enum flow_encap */
	__u32 payload_len; /* L4 payload bytes per the IP length (TCP, UDP) */
	__u32 mpls_label; /* top label stack entry, host order */
	__u16 inner_vlan; /* second VLAN tag's VID */
	__u8 pad[2];
};

#define FRAG_FIRST 1
#define FRAG_LATER 2

/* A parse error: the counter that explains it, as a negative number. */
#define PARSE_ERR(counter) (-(int)(counter))

/*
 * Ethernet and up to MAX_VLAN_TAGS tags; returns the ethertype after them.
 * The link's own frame (outer) sets the key's VLAN (NetFlow's SRC_VLAN is
 * the outer tag: the one the link sees) and the inner VLAN of QinQ; a
 * frame inside a tunnel or pseudowire (outer false) sets nothing: its
 * tags belong to a network the probe is not on.
 */
static __always_inline int parse_ethernet(struct cursor *c, struct flow_key *key,
					  struct packet_info *pi, const bool outer)
{
	struct ethhdr *eth = c->pos;
	__be16 proto;

	if ((void *)(eth + 1) > c->end)
		return PARSE_ERR(CNT_ERR_ETH_TRUNCATED);
	c->pos = eth + 1;
	proto = eth->h_proto;

#pragma unroll
	for (int i = 0; i < MAX_VLAN_TAGS; i++) {
		struct vlan_tag *tag = c->pos;

		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		if ((void *)(tag + 1) > c->end)
			return PARSE_ERR(CNT_ERR_VLAN_TRUNCATED);
		if (outer && i == 0)
			key->vlan = bpf_ntohs(tag->tci) & 0x0fff;
		if (outer && i == 1)
			pi->inner_vlan = bpf_ntohs(tag->tci) & 0x0fff;
		proto = tag->encap_proto;
		c->pos = tag + 1;
	}
	if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD))
		return PARSE_ERR(CNT_ERR_VLAN_TOO_DEEP);
	return bpf_ntohs(proto);
}

static __always_inline int parse_ipv4(struct cursor *c, struct flow_key *key,
				      struct packet_info *pi)
{
	struct iphdr *ip = c->pos;
	__u32 hdr_len;
	__u16 frag;

	if ((void *)(ip + 1) > c->end)
		return PARSE_ERR(CNT_ERR_IPV4_TRUNCATED);
	if (ip->version != 4)
		return PARSE_ERR(CNT_ERR_IPV4_BAD_VERSION);
	hdr_len = ip->ihl * 4;
	if (hdr_len < sizeof(*ip))
		return PARSE_ERR(CNT_ERR_IPV4_BAD_IHL);
	/* Options are skipped, not parsed: only their length matters. */
	if (c->pos + hdr_len > c->end)
		return PARSE_ERR(CNT_ERR_IPV4_TRUNCATED);

	key->ip_version = 4;
	key->proto = ip->protocol;
	__builtin_memcpy(key->src, &ip->saddr, 4);
	__builtin_memcpy(key->dst, &ip->daddr, 4);
	pi->ip_bytes = bpf_ntohs(ip->tot_len);
	pi->tos = ip->tos;
	pi->ttl = ip->ttl;

	frag = bpf_ntohs(ip->frag_off);
	if (frag & (IPV4_MF | IPV4_OFFSET_MASK)) {
		pi->flags |= FLOW_F_FRAGMENTED;
		pi->frag_id = bpf_ntohs(ip->id);
		pi->frag_nexthdr = ip->protocol;
		pi->is_fragment = (frag & IPV4_OFFSET_MASK) ? FRAG_LATER : FRAG_FIRST;
	}
	c->pos += hdr_len;
	return ip->protocol;
}

/*
 * IPv6 header and a bounded walk of its extension headers. Returns the
 * upper-layer protocol. A chain longer than MAX_IPV6_EXT_HDRS is still
 * accounted (addresses are known) with the header the walk stopped at as
 * its protocol and ports 0, and counted in CNT_IPV6_EXT_TOO_LONG.
 */
static __always_inline int parse_ipv6(struct cursor *c, struct flow_key *key,
				      struct packet_info *pi)
{
	struct ipv6hdr *ip6 = c->pos;
	__u8 nexthdr;

	if ((void *)(ip6 + 1) > c->end)
		return PARSE_ERR(CNT_ERR_IPV6_TRUNCATED);
	if (ip6->version != 6)
		return PARSE_ERR(CNT_ERR_IPV6_BAD_VERSION);

	key->ip_version = 6;
	__builtin_memcpy(key->src, &ip6->saddr, 16);
	__builtin_memcpy(key->dst, &ip6->daddr, 16);
	pi->ip_bytes = bpf_ntohs(ip6->payload_len) + sizeof(*ip6);
	pi->tos = (ip6->priority << 4) | (ip6->flow_lbl[0] >> 4);
	pi->ttl = ip6->hop_limit;
	nexthdr = ip6->nexthdr;
	c->pos = ip6 + 1;

#pragma unroll
	for (int i = 0; i < MAX_IPV6_EXT_HDRS; i++) {
		struct ipv6_ext *ext = c->pos;
		struct frag_hdr *fh = c->pos;
		__u32 len;
		__u16 frag;

		switch (nexthdr) {
		case PROTO_HOPOPTS:
		case PROTO_ROUTING:
		case PROTO_DSTOPTS:
		case PROTO_MH:
			if ((void *)(ext + 1) > c->end)
				return PARSE_ERR(CNT_ERR_IPV6_TRUNCATED);
			len = (ext->hdrlen + 1) * 8;
			break;
		case PROTO_AH:
			if ((void *)(ext + 1) > c->end)
				return PARSE_ERR(CNT_ERR_IPV6_TRUNCATED);
			len = (ext->hdrlen + 2) * 4;
			break;
		case PROTO_FRAGMENT:
			if ((void *)(fh + 1) > c->end)
				return PARSE_ERR(CNT_ERR_IPV6_TRUNCATED);
			frag = bpf_ntohs(fh->frag_off);
			pi->flags |= FLOW_F_FRAGMENTED;
			pi->frag_id = bpf_ntohl(fh->identification);
			pi->frag_nexthdr = fh->nexthdr;
			if (frag & IPV6_FRAG_OFFSET_MASK) {
				/* Later fragment: no L4 header follows. */
				pi->is_fragment = FRAG_LATER;
				key->proto = fh->nexthdr;
				return fh->nexthdr;
			}
			pi->is_fragment = FRAG_FIRST;
			len = sizeof(*fh);
			ext = (struct ipv6_ext *)fh;
			break;
		default:
			key->proto = nexthdr;
			return nexthdr;
		}
		if (c->pos + len > c->end)
			return PARSE_ERR(CNT_ERR_IPV6_TRUNCATED);
		nexthdr = ext->nexthdr;
		c->pos += len;
	}

	switch (nexthdr) {
	case PROTO_HOPOPTS:
	case PROTO_ROUTING:
	case PROTO_DSTOPTS:
	case PROTO_MH:
	case PROTO_AH:
	case PROTO_FRAGMENT:
		pi->flags |= FLOW_F_EXT_CHAIN_TOO_LONG;
		key->proto = nexthdr;
		return PARSE_ERR(CNT_IPV6_EXT_TOO_LONG);
	}
	key->proto = nexthdr;
	return nexthdr;
}

/*
 * Ports (or ICMP type and code) for the flow key. Returns 0, or
 * PARSE_ERR(CNT_L4_TRUNCATED) when the header is cut short; the caller
 * still accounts the packet, with ports 0, because its addresses are known.
 * On success the cursor is left at the TCP or UDP payload (at the end for
 * other protocols, whose payload is never inspected).
 */
static __always_inline int parse_l4(struct cursor *c, __u8 proto, struct flow_key *key,
				    struct packet_info *pi)
{
	switch (proto) {
	case PROTO_TCP: {
		struct tcphdr *tcp = c->pos;

		if ((void *)(tcp + 1) > c->end)
			return PARSE_ERR(CNT_L4_TRUNCATED);
		key->sport = bpf_ntohs(tcp->source);
		key->dport = bpf_ntohs(tcp->dest);
		/* Byte 13 of the TCP header: CWR ECE URG ACK PSH RST SYN FIN. */
		pi->tcp_flags = ((__u8 *)tcp)[13];
		c->pos = (void *)tcp + tcp->doff * 4;
		if (tcp->doff < 5 || c->pos > c->end)
			c->pos = c->end; /* options cut short: no payload to see */
		return 0;
	}
	case PROTO_UDP:
	case PROTO_UDPLITE:
	case PROTO_SCTP:
	case PROTO_DCCP: {
		/* All four start with 16-bit source and destination ports. */
		__be16 *ports = c->pos;

		if ((void *)(ports + 2) > c->end)
			return PARSE_ERR(CNT_L4_TRUNCATED);
		key->sport = bpf_ntohs(ports[0]);
		key->dport = bpf_ntohs(ports[1]);
		c->pos = (void *)(ports + 4); /* the UDP header's 8 bytes */
		if (proto != PROTO_UDP || c->pos > c->end)
			c->pos = c->end;
		return 0;
	}
	case PROTO_ICMP:
	case PROTO_ICMPV6: {
		__u8 *icmp = c->pos;

		if ((void *)(icmp + 2) > c->end)
			return PARSE_ERR(CNT_L4_TRUNCATED);
		key->dport = (icmp[0] << 8) | icmp[1];
		c->pos = c->end;
		return 0;
	}
	}
	c->pos = c->end;
	return 0;
}

/*
 * Payload bytes as the IP header counts them: frames may carry Ethernet
 * padding after the IP packet, and the split-handshake and encrypted-
 * BitTorrent tests depend on exact lengths. Never more than is in the frame.
 */
static __always_inline __u32 payload_length(const struct cursor *c, void *l3,
					    const struct packet_info *pi)
{
	__u32 headers = c->pos - l3;
	__u32 in_frame = c->end - c->pos;
	__u32 by_ip = pi->ip_bytes > headers ? pi->ip_bytes - headers : 0;

	return by_ip < in_frame ? by_ip : in_frame;
}

#endif /* PARSE_BPF_H */
