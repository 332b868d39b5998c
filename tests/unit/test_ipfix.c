/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The IPFIX encoder byte for byte, against RFC 7011 and IANA's registry
 * read by hand: the message header (version 10, length, export time,
 * sequence counting data records, observation domain), the template set
 * with enterprise elements (bit 15 set, then the PEN), the options
 * template with its scope count, an IPv4 record, the statistics record
 * with exported totals, and the sequence across lost messages.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "export/ipfix.h"

#define NOW_MS 1700000000123ULL
#define HDR_LEN 16
/*
 * Template set 212: 4 + 2 * (4 + 21 * 4 + 2 * 8), the data templates with
 * two enterprise elements (bittorrent, reset verdict); options template
 * set 64: 4 + 6 + 7 * 4 + 3 * 8 = 62, padded.
 */
#define TEMPLATES_LEN 276
#define V4_REC_LEN 72
#define V6_REC_LEN 96
#define STATS_REC_LEN 76 /* 4 scope + 9 * 8 */
#define MAX_MSGS 16

struct capture {
	int n, fail;
	size_t len[MAX_MSGS];
	uint8_t msg[MAX_MSGS][IPFIX_PAYLOAD_LIMIT];
};

struct fixture {
	struct capture cap;
	struct ipfix_stream s;
};

static int capture_emit(void *ctx, const uint8_t *msg, size_t len)
{
	struct capture *c = ctx;

	if (c->fail)
		return -EIO;
	assert_true(c->n < MAX_MSGS);
	memcpy(c->msg[c->n], msg, len);
	c->len[c->n++] = len;
	return 0;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct ipfix_config cfg = { .domain_id = 0x01020304, .reset_verdicts = true };

	assert_non_null(f);
	assert_int_equal(ipfix_stream_init(&f->s, &cfg, capture_emit, &f->cap), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

static struct flow_record ipv4_flow(void)
{
	struct flow_record r = {
		.key = {
			.ifindex = 3, .vlan = 100, .ip_version = 4, .proto = 6,
			.src = { 192, 0, 2, 1 }, .dst = { 198, 51, 100, 7 },
			.sport = 40000, .dport = 443,
		},
		.packets = 1000, .bytes = 0x123456789ULL,
		.first_ms = NOW_MS - 4000, .last_ms = NOW_MS - 1000,
		.tcp_flags = 0x1b, .tos = 0x10, .ttl_min = 60, .ttl_max = 64,
		.end_reason = END_OF_FLOW, .reset_verdict = FLOW_RESET_FORGED,
		.app = APP_BITTORRENT,
	};
	return r;
}

#define E(id, len) 0x80, (id), 0x00, (len), 0x00, 0x00, 0x7e, 0xd9 /* PEN 32473 */

static const uint8_t expected_templates[] = {
	0x00,	 0x0a, /* version 10 */
	0x01,	 0x24, /* length 292 */
	0x65,	 0x53, 0xf1, 0x00, /* export time 1700000000 */
	0x00,	 0x00, 0x00, 0x00, /* sequence: no data record yet */
	0x01,	 0x02, 0x03, 0x04, /* observation domain */
	0x00,	 0x02, 0x00, 0xd4, /* template set, 212 bytes */
	0x01,	 0x00, 0x00, 0x17, /* template 256, 23 fields */
	0x00,	 0x01, 0x00, 0x08, /* octetDeltaCount */
	0x00,	 0x02, 0x00, 0x08, /* packetDeltaCount */
	0x00,	 0x04, 0x00, 0x01, /* protocolIdentifier */
	0x00,	 0x05, 0x00, 0x01, /* ipClassOfService */
	0x00,	 0x06, 0x00, 0x02, /* tcpControlBits */
	0x00,	 0x07, 0x00, 0x02, /* sourceTransportPort */
	0x00,	 0x08, 0x00, 0x04, /* sourceIPv4Address */
	0x00,	 0x0b, 0x00, 0x02, /* destinationTransportPort */
	0x00,	 0x0c, 0x00, 0x04, /* destinationIPv4Address */
	0x00,	 0x0a, 0x00, 0x04, /* ingressInterface */
	0x00,	 0x0e, 0x00, 0x04, /* egressInterface */
	0x00,	 0x20, 0x00, 0x02, /* icmpTypeCodeIPv4 */
	0x00,	 0x34, 0x00, 0x01, /* minimumTTL */
	0x00,	 0x35, 0x00, 0x01, /* maximumTTL */
	0x00,	 0x3a, 0x00, 0x02, /* vlanId */
	0x00,	 0x3c, 0x00, 0x01, /* ipVersion */
	0x00,	 0x3d, 0x00, 0x01, /* flowDirection */
	0x00,	 0x88, 0x00, 0x01, /* flowEndReason */
	0x00,	 0x98, 0x00, 0x08, /* flowStartMilliseconds */
	0x00,	 0x99, 0x00, 0x08, /* flowEndMilliseconds */
	0x00,	 0x5f, 0x00, 0x05, /* applicationId */
	E(2, 1), /* enterprise 2: BitTorrent */
	E(1, 1), /* enterprise 1: reset verdict */
	0x01,	 0x01, 0x00, 0x17, /* template 257, 23 fields */
	0x00,	 0x01, 0x00, 0x08, 0x00, 0x02, 0x00, 0x08, 0x00, 0x04, 0x00,	0x01,	 0x00,
	0x05,	 0x00, 0x01, 0x00, 0x06, 0x00, 0x02, 0x00, 0x07, 0x00, 0x02,	0x00,	 0x1b,
	0x00,	 0x10, /* sourceIPv6Address */
	0x00,	 0x0b, 0x00, 0x02, 0x00, 0x1c, 0x00, 0x10, /* destinationIPv6Address */
	0x00,	 0x0a, 0x00, 0x04, 0x00, 0x0e, 0x00, 0x04, 0x00, 0x8b, 0x00,	0x02, /* icmpTypeCodeIPv6 */
	0x00,	 0x34, 0x00, 0x01, 0x00, 0x35, 0x00, 0x01, 0x00, 0x3a, 0x00,	0x02,	 0x00,
	0x3c,	 0x00, 0x01, 0x00, 0x3d, 0x00, 0x01, 0x00, 0x88, 0x00, 0x01,	0x00,	 0x98,
	0x00,	 0x08, 0x00, 0x99, 0x00, 0x08, 0x00, 0x5f, 0x00, 0x05, E(2, 1), E(1, 1), 0x00,
	0x03,	 0x00, 0x40, /* options template set, 64 bytes */
	0x01,	 0x02, /* template 258 */
	0x00,	 0x0a, /* 10 fields */
	0x00,	 0x01, /*  of which 1 scope */
	0x00,	 0x95, 0x00, 0x04, /* scope observationDomainId */
	0x00,	 0x28, 0x00, 0x08, /* exportedOctetTotalCount */
	0x00,	 0x29, 0x00, 0x08, /* exportedMessageTotalCount */
	0x00,	 0x2a, 0x00, 0x08, /* exportedFlowRecordTotalCount */
	0x00,	 0xa6, 0x00, 0x08, /* notSentFlowTotalCount */
	0x00,	 0xa4, 0x00, 0x08, /* ignoredPacketTotalCount */
	0x00,	 0xa5, 0x00, 0x08, /* ignoredOctetTotalCount */
	E(3, 8), /* enterprise 3: packets seen */
	E(4, 8), /* enterprise 4: bytes seen */
	E(5, 8), /* enterprise 5: flows evicted */
	0x00,	 0x00, /* padding */
};

static void test_template_message_bytes(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(sizeof(expected_templates), HDR_LEN + TEMPLATES_LEN);
	assert_int_equal(ipfix_send_templates(&f->s, NOW_MS), 0);
	assert_int_equal(f->cap.n, 1);
	assert_int_equal(f->cap.len[0], sizeof(expected_templates));
	assert_memory_equal(f->cap.msg[0], expected_templates, sizeof(expected_templates));
}

static const uint8_t expected_ipv4_set[] = {
	0x01, 0x00, 0x00, 0x4c, /* set 256, 76 bytes: 4 + 72 */
	0x00, 0x00, 0x00, 0x01, 0x23, 0x45, 0x67, 0x89, /* octets */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xe8, /* packets 1000 */
	0x06, /* TCP */
	0x10, /* ToS */
	0x00, 0x1b, /* tcpControlBits FIN SYN PSH ACK */
	0x9c, 0x40, /* 40000 */
	0xc0, 0x00, 0x02, 0x01, /* 192.0.2.1 */
	0x01, 0xbb, /* 443 */
	0xc6, 0x33, 0x64, 0x07, /* 198.51.100.7 */
	0x00, 0x00, 0x00, 0x03, /* ingressInterface 3 */
	0x00, 0x00, 0x00, 0x00, /* egressInterface unknown */
	0x00, 0x00, /* icmpTypeCodeIPv4: not ICMP */
	0x3c, 0x40, /* TTL 60..64 */
	0x00, 0x64, /* vlanId 100 */
	0x04, /* ipVersion */
	0x00, /* ingress */
	0x03, /* end of flow */
	0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x58, 0xdb, /* start: now - 4000 */
	0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x64, 0x93, /* end: now - 1000 */
	0x16, 0x00, 0x00, 0x00, 0x25, /* applicationId nDPI 37 */
	0x01, /* BitTorrent */
	0x03, /* reset verdict: forged */
};

static void test_ipv4_record_bytes(void **state)
{
	struct fixture *f = *state;
	struct flow_record r = ipv4_flow();

	assert_int_equal(ipfix_add_flow(&f->s, &r, NOW_MS), 0);
	assert_int_equal(ipfix_flush(&f->s, NOW_MS), 0);
	assert_int_equal(f->cap.n, 1);
	assert_int_equal(f->cap.len[0], HDR_LEN + TEMPLATES_LEN + 4 + V4_REC_LEN);
	/* the first message opens with the templates */
	assert_memory_equal(f->cap.msg[0] + HDR_LEN, expected_templates + HDR_LEN, TEMPLATES_LEN);
	assert_memory_equal(f->cap.msg[0] + HDR_LEN + TEMPLATES_LEN, expected_ipv4_set,
			    sizeof(expected_ipv4_set));
	assert_int_equal(be32(f->cap.msg[0] + 8), 0);
}

/*
 * Inline (next_hops): ipNextHopIPv4Address (15, 4 bytes) ends the IPv4
 * data template (no reset verdict here: it would come after); the record
 * carries the egress interface at offset 36 (after ingressInterface) and
 * the next hop last. Without next_hops the template is the one above.
 */
static void test_next_hop_template_and_record(void **state)
{
	struct fixture *f = *state;
	struct ipfix_config cfg = { .domain_id = 1, .next_hops = true };
	struct flow_record r = ipv4_flow();
	const uint8_t *p, *set;
	size_t tlen;

	r.out_ifindex = 7;
	r.next_hop[0] = 10;
	r.next_hop[3] = 9;
	assert_int_equal(ipfix_stream_init(&f->s, &cfg, capture_emit, &f->cap), 0);
	assert_int_equal(ipfix_add_flow(&f->s, &r, NOW_MS), 0);
	assert_int_equal(ipfix_flush(&f->s, NOW_MS), 0);
	p = f->cap.msg[0] + HDR_LEN + 4; /* the first template record */
	assert_int_equal(p[0] << 8 | p[1], 256);
	tlen = 4 + 4 * (p[2] << 8 | p[3]) + 4; /* one enterprise element: +4 */
	assert_int_equal(p[tlen - 4] << 8 | p[tlen - 3], 15);
	assert_int_equal(p[tlen - 2] << 8 | p[tlen - 1], 4);
	/* the data set: the sets tile the message */
	set = f->cap.msg[0] + HDR_LEN;
	while (set < f->cap.msg[0] + f->cap.len[0] && (set[0] << 8 | set[1]) != 256)
		set += set[2] << 8 | set[3];
	assert_true(set < f->cap.msg[0] + f->cap.len[0]);
	assert_int_equal(set[2] << 8 | set[3], 4 + V4_REC_LEN - 1 + 4 + 1); /* padded */
	assert_int_equal(be32(set + 4 + 36), 7);
	assert_int_equal(set[4 + V4_REC_LEN - 1], 10); /* no verdict byte here */
	assert_int_equal(set[4 + V4_REC_LEN - 1 + 3], 9);
}

/*
 * The withdrawal before a TCP close (RFC 7011 8.1): a Template Set with
 * template id 2 and an Options Template Set with template id 3, field
 * count 0 each; the sequence is the stream's (the records sent before it).
 */
static void test_withdrawal_message_bytes(void **state)
{
	static const uint8_t sets[] = {
		0x00, 0x02, 0x00, 0x08, 0x00, 0x02, 0x00, 0x00, /* all data templates */
		0x00, 0x03, 0x00, 0x0a, 0x00, 0x03, 0x00, 0x00, /* all options templates */
		0x00, 0x00, /* padding: see ipfix_withdrawal_message */
	};
	struct fixture *f = *state;
	struct flow_record r = ipv4_flow();
	uint8_t msg[IPFIX_WITHDRAWAL_LEN];

	assert_int_equal(ipfix_add_flow(&f->s, &r, NOW_MS), 0);
	assert_int_equal(ipfix_add_flow(&f->s, &r, NOW_MS), 0);
	assert_int_equal(ipfix_flush(&f->s, NOW_MS), 0);
	assert_int_equal(ipfix_withdrawal_message(&f->s, msg, NOW_MS), 34);
	assert_int_equal(msg[0] << 8 | msg[1], 10);
	assert_int_equal(msg[2] << 8 | msg[3], 34);
	assert_int_equal(be32(msg + 4), NOW_MS / 1000);
	assert_int_equal(be32(msg + 8), 2); /* two data records before it */
	assert_int_equal(be32(msg + 12), 0x01020304);
	assert_memory_equal(msg + 16, sets, sizeof(sets));
}

/*
 * The sequence counts data records sent before the message (RFC 7011
 * 3.1), lost messages' records too; the statistics record carries what
 * went to this collector (40/41/42), what was lost (166), and the probe's
 * own counts under the PEN.
 */
static void test_sequence_and_stats(void **state)
{
	struct fixture *f = *state;
	struct flow_record r = ipv4_flow();
	struct probe_stats st = {
		.packets_seen = 0x1111,
		.bytes_seen = 0x22222222,
		.flows_evicted = 0x33,
		.packets_uncounted = 4,
		.bytes_uncounted = 0x500,
	};
	static const uint8_t expected_stats_set[] = {
		0x01, 0x02, 0x00, 0x50, /* set 258, 80 bytes: 4 + 76 */
		0x01, 0x02, 0x03, 0x04, /* scope: observation domain */
		0,    0,    0,	  0,	0,    0,    0x01, 0xb8, /* 40: 440 bytes sent */
		0,    0,    0,	  0,	0,    0,    0,	  0x01, /* 41: 1 message */
		0,    0,    0,	  0,	0,    0,    0,	  0x02, /* 42: 2 flow records */
		0,    0,    0,	  0,	0,    0,    0,	  0x01, /* 166: 1 flow record lost */
		0,    0,    0,	  0,	0,    0,    0,	  0x04, /* 164: uncounted packets */
		0,    0,    0,	  0,	0,    0,    0x05, 0x00, /* 165: uncounted bytes */
		0,    0,    0,	  0,	0,    0,    0x11, 0x11, /* PEN 3: packets seen */
		0,    0,    0,	  0,	0x22, 0x22, 0x22, 0x22, /* PEN 4: bytes seen */
		0,    0,    0,	  0,	0,    0,    0,	  0x33, /* PEN 5: flows evicted */
	};

	assert_int_equal(ipfix_add_flow(&f->s, &r, NOW_MS), 0);
	assert_int_equal(ipfix_add_flow(&f->s, &r, NOW_MS), 0);
	assert_int_equal(ipfix_flush(&f->s, NOW_MS), 0); /* seq 0, 2 records */
	assert_int_equal(f->cap.len[0], HDR_LEN + TEMPLATES_LEN + 4 + 2 * V4_REC_LEN);
	f->cap.fail = 1;
	assert_int_equal(ipfix_add_flow(&f->s, &r, NOW_MS), 0);
	assert_int_equal(ipfix_flush(&f->s, NOW_MS), -EIO); /* seq 2, lost */
	f->cap.fail = 0;
	assert_int_equal(ipfix_add_stats(&f->s, &st, NOW_MS), 0);
	assert_int_equal(ipfix_flush(&f->s, NOW_MS), 0); /* seq 3 */
	assert_int_equal(f->cap.n, 2);
	assert_int_equal(be32(f->cap.msg[0] + 8), 0);
	assert_int_equal(be32(f->cap.msg[1] + 8), 3);
	assert_int_equal(f->cap.len[1], HDR_LEN + 4 + STATS_REC_LEN);
	assert_int_equal(f->cap.msg[1][2] << 8 | f->cap.msg[1][3], f->cap.len[1]);
	assert_memory_equal(f->cap.msg[1] + HDR_LEN, expected_stats_set,
			    sizeof(expected_stats_set));
	assert_int_equal(f->s.sequence, 4);
}

/* Full messages: each at most max_payload, sets tile it, records whole. */
static void test_split_at_max_payload(void **state)
{
	struct fixture *f = *state;
	struct flow_record r = ipv4_flow();
	size_t per_msg = (1400 - HDR_LEN - 4) / V4_REC_LEN;

	(void)state;
	for (size_t i = 0; i < per_msg + 1; i++)
		assert_int_equal(ipfix_add_flow(&f->s, &r, NOW_MS), 0);
	assert_int_equal(ipfix_flush(&f->s, NOW_MS), 0);
	/* first message: templates, then as many records as fit */
	assert_int_equal(f->cap.n, 2);
	for (int i = 0; i < f->cap.n; i++) {
		size_t len = f->cap.len[i];
		size_t off = HDR_LEN;

		assert_true(len <= 1400);
		while (off < len) {
			size_t slen = f->cap.msg[i][off + 2] << 8 | f->cap.msg[i][off + 3];

			assert_true(slen >= 4 && off + slen <= len);
			off += slen;
		}
		assert_int_equal(off, len);
	}
	assert_int_equal(be32(f->cap.msg[1] + 8),
			 (1400 - HDR_LEN - TEMPLATES_LEN - 4) / V4_REC_LEN);
	assert_true(ipfix_min_flows_per_packet(&f->s) >= 1);
	assert_true(ipfix_min_flows_per_packet(&f->s) <=
		    (1400 - HDR_LEN - TEMPLATES_LEN) / (4 + V6_REC_LEN));
}

/* ICMP echo: type·256+code in destinationTransportPort (where pmacct
 * reads it, as in v9) and in icmpTypeCodeIPv4; source port 0. */
static void test_icmp_fields(void **state)
{
	struct fixture *f = *state;
	struct flow_record r = ipv4_flow();
	const uint8_t *rec;

	r.key.proto = 1;
	r.key.sport = 0;
	r.key.dport = 8 << 8;
	assert_int_equal(ipfix_add_flow(&f->s, &r, NOW_MS), 0);
	assert_int_equal(ipfix_flush(&f->s, NOW_MS), 0);
	rec = f->cap.msg[0] + HDR_LEN + TEMPLATES_LEN + 4;
	assert_int_equal(rec[16], 1); /* protocol */
	assert_int_equal(rec[20] << 8 | rec[21], 0); /* source port */
	assert_int_equal(rec[26] << 8 | rec[27], 0x0800); /* destination port */
	assert_int_equal(rec[40] << 8 | rec[41], 0x0800); /* icmpTypeCodeIPv4 */
}

static void test_payload_bounds(void **state)
{
	struct ipfix_stream *s = malloc(sizeof(*s));
	/* the smallest: templates and one IPv6 record set (4 + 96) */
	struct ipfix_config cfg = { .max_payload = HDR_LEN + TEMPLATES_LEN + 99,
				    .reset_verdicts = true };

	(void)state;
	assert_non_null(s);
	assert_int_equal(ipfix_stream_init(s, &cfg, capture_emit, NULL), -EINVAL);
	cfg.max_payload = IPFIX_PAYLOAD_LIMIT + 1;
	assert_int_equal(ipfix_stream_init(s, &cfg, capture_emit, NULL), -EINVAL);
	cfg.max_payload = HDR_LEN + TEMPLATES_LEN + 100;
	assert_int_equal(ipfix_stream_init(s, &cfg, capture_emit, NULL), 0);
	assert_int_equal(s->cfg.pen, IPFIX_DEFAULT_PEN);
	free(s);
}


/* ---- the encapsulation templates (262/263) ----------------------------- */

#define BASE_SPECS_LEN 100 /* 21 standard and 2 enterprise field specifiers */
#define TPL_V4_AT (HDR_LEN + 4 + 4) /* 256's specifiers in expected_templates */
#define TPL_V6_AT (TPL_V4_AT + BASE_SPECS_LEN + 4)
#define ENCAP_SPECS_LEN 24 /* 2 standard, 2 enterprise */
#define ENCAP_SET_LEN (4 + 2 * (4 + BASE_SPECS_LEN + ENCAP_SPECS_LEN))
#define ENCAP_EXTRA 7 /* 3 + 2 + 1 + 1 */

static const uint8_t encap_specs[] = {
	0x00, 0x46, 0x00, 0x03, /* mplsTopLabelStackSection, 3 bytes */
	0x00, 0xf5, 0x00, 0x02, /* dot1qCustomerVlanId */
	E(6, 1), /* enterprise 6: tunnel type */
	E(7, 1), /* enterprise 7: encapsulation bits */
};

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Come by GRE, MPLS label 100 (TC 5, S, TTL 64) under it, inner VLAN 20. */
static struct flow_record encapsulated(struct flow_record r)
{
	r.mpls_label = 100 << 12 | 5 << 9 | 1 << 8 | 64;
	r.inner_vlan = 20;
	r.tunnel = TUN_GRE;
	r.encap = ENCAP_MPLS;
	return r;
}

static void assert_encap_template(const uint8_t *p, uint16_t id, size_t base_at)
{
	assert_int_equal(be16(p), id);
	assert_int_equal(be16(p + 2), 23 + 4);
	assert_memory_equal(p + 4, expected_templates + base_at, BASE_SPECS_LEN);
	assert_memory_equal(p + 4 + BASE_SPECS_LEN, encap_specs, sizeof(encap_specs));
}

/*
 * Plain flows never bring the encapsulation templates; the first
 * encapsulated flow does, in a set of their own before its record, and
 * so does every set of templates after it, the TCP session's preamble
 * among them. The record is 256's, then 00 06 4b (label 100 << 4 | TC 5
 * << 1 | S), 00 14 (VLAN 20), 02 (GRE), 02 (MPLS).
 */
static void test_encap_templates_bytes(void **state)
{
	static const uint8_t tail[] = { 0x00, 0x06, 0x4b, 0x00, 0x14, 0x02, 0x02, 0x00 };
	struct fixture *f = *state;
	struct flow_record plain = ipv4_flow(), enc = encapsulated(ipv4_flow());
	uint8_t *buf = malloc(IPFIX_PAYLOAD_LIMIT);
	const uint8_t *m, *set;

	assert_non_null(buf);
	assert_int_equal(ipfix_template_message(&f->s, buf, NOW_MS), HDR_LEN + TEMPLATES_LEN);
	assert_int_equal(ipfix_add_flow(&f->s, &plain, NOW_MS), 0);
	assert_int_equal(ipfix_flush(&f->s, NOW_MS), 0);
	assert_int_equal(f->cap.len[0], HDR_LEN + TEMPLATES_LEN + 4 + V4_REC_LEN);

	assert_int_equal(ipfix_add_flow(&f->s, &enc, NOW_MS), 0);
	assert_int_equal(ipfix_add_flow(&f->s, &plain, NOW_MS), 0);
	assert_int_equal(ipfix_flush(&f->s, NOW_MS), 0);
	m = f->cap.msg[1];
	assert_int_equal(f->cap.len[1], HDR_LEN + ENCAP_SET_LEN + 4 + V4_REC_LEN + ENCAP_EXTRA + 1 +
						4 + V4_REC_LEN);
	assert_int_equal(be16(m + 2), f->cap.len[1]);
	assert_int_equal(be32(m + 8), 1); /* one data record before */
	set = m + HDR_LEN;
	assert_int_equal(be16(set), 2);
	assert_int_equal(be16(set + 2), ENCAP_SET_LEN);
	assert_encap_template(set + 4, IPFIX_TEMPLATE_ENCAP_V4, TPL_V4_AT);
	assert_encap_template(set + 4 + 4 + BASE_SPECS_LEN + ENCAP_SPECS_LEN, IPFIX_TEMPLATE_ENCAP_V6,
			      TPL_V6_AT);
	set += ENCAP_SET_LEN;
	assert_int_equal(be16(set), IPFIX_TEMPLATE_ENCAP_V4);
	assert_int_equal(be16(set + 2), 4 + V4_REC_LEN + ENCAP_EXTRA + 1); /* padded */
	assert_memory_equal(set + 4, expected_ipv4_set + 4, V4_REC_LEN);
	assert_memory_equal(set + 4 + V4_REC_LEN, tail, sizeof(tail));
	set += 4 + V4_REC_LEN + ENCAP_EXTRA + 1;
	assert_memory_equal(set, expected_ipv4_set, sizeof(expected_ipv4_set));

	/* every set of templates from now on carries them, last */
	assert_int_equal(ipfix_template_message(&f->s, buf, NOW_MS),
			 HDR_LEN + TEMPLATES_LEN + ENCAP_SET_LEN);
	assert_memory_equal(buf + HDR_LEN + TEMPLATES_LEN, m + HDR_LEN, ENCAP_SET_LEN);
	assert_int_equal(ipfix_send_templates(&f->s, NOW_MS), 0);
	assert_int_equal(f->cap.len[2], HDR_LEN + TEMPLATES_LEN + ENCAP_SET_LEN);
	free(buf);
}

/*
 * In the smallest messages the two sets of templates do not fit with a
 * record: the encapsulation ones open the next message. Every data set
 * comes after its template, and every record arrives.
 */
static void test_encap_templates_in_small_messages(void **state)
{
	struct fixture *f = *state;
	struct ipfix_config cfg = { .max_payload = HDR_LEN + TEMPLATES_LEN + 100,
				    .reset_verdicts = true };
	bool known[300] = { false };
	int records = 0, encap = 0, apart = 0;

	assert_int_equal(ipfix_stream_init(&f->s, &cfg, capture_emit, &f->cap), 0);
	for (int i = 0; i < 12; i++) {
		struct flow_record r = i % 3 ? encapsulated(ipv4_flow()) : ipv4_flow();

		assert_int_equal(ipfix_add_flow(&f->s, &r, NOW_MS), 0);
		if (i == 6)
			assert_int_equal(ipfix_send_templates(&f->s, NOW_MS), 0);
	}
	assert_int_equal(ipfix_flush(&f->s, NOW_MS), 0);
	for (int i = 0; i < f->cap.n; i++) {
		const uint8_t *m = f->cap.msg[i];
		bool main_tpl = false;

		assert_true(f->cap.len[i] <= cfg.max_payload);
		for (size_t off = HDR_LEN; off < f->cap.len[i]; off += be16(m + off + 2)) {
			uint16_t id = be16(m + off), len = be16(m + off + 2);

			if (id == 2 || id == 3) {
				main_tpl |= be16(m + off + 4) == IPFIX_TEMPLATE_FLOW_V4;
				known[be16(m + off + 4)] = true;
				if (id == 2)
					known[be16(m + off + 4) + 1] = true;
				continue;
			}
			assert_true(known[id]);
			if (id == IPFIX_TEMPLATE_ENCAP_V4) {
				encap += (len - 4) / (V4_REC_LEN + ENCAP_EXTRA);
				records += (len - 4) / (V4_REC_LEN + ENCAP_EXTRA);
			} else {
				records += (len - 4) / V4_REC_LEN;
			}
		}
		apart += main_tpl && known[IPFIX_TEMPLATE_ENCAP_V4];
	}
	assert_int_equal(records, 12);
	assert_int_equal(encap, 8);
	assert_true(apart > 0); /* templates sent again after the first 262 */
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_template_message_bytes),
		T(test_ipv4_record_bytes),
		T(test_withdrawal_message_bytes),
		T(test_next_hop_template_and_record),
		T(test_sequence_and_stats),
		T(test_split_at_max_payload),
		T(test_icmp_fields),
		T(test_encap_templates_bytes),
		T(test_encap_templates_in_small_messages),
		cmocka_unit_test(test_payload_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
