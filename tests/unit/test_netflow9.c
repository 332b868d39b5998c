/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Unit tests of the NetFlow v9 encoder. Packets are captured by a fake emit
 * and checked against bytes written out by hand from RFC 3954 (RFC 6759 for
 * APPLICATION_ID), and against a small independent parser, so a mistake in
 * the encoder's own tables or helpers cannot cancel itself out. Time comes
 * from a fake clock.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "export/flow_fields.h"
#include "export/netflow9.h"

/*
 * Fixed clock: 2023-11-14T22:13:20.123Z, exporter up for 5 s. Headers are
 * stamped at the next whole second, 22:13:21.000, when it is up 5877 ms.
 */
#define NOW_MS 1700000000123ULL
#define BASE_MS (NOW_MS - 5000)

/* Lengths derived by hand from the field lists in the brief. */
#define HDR_LEN 20
#define V4_REC_LEN 77 /* 72 + 5 APPLICATION_ID */
#define V6_REC_LEN 101 /* 96 + 5 APPLICATION_ID */
#define STATS_REC_LEN 81 /* 4 scope + 4 + 1 + 9 * 8 */
#define APP_REC_LEN 65 /* 4 scope + 5 id + 24 name + 32 description */
/*
 * Template FlowSet 196 (4 + 2 * (4 + 23 * 4)), options template FlowSets
 * 60 (4 + 6 + 4 + 11 * 4, padded) and 28 (4 + 6 + 4 + 3 * 4, padded),
 * application names 72 (4 + 65, padded).
 */
#define TEMPLATES_LEN 356
#define TEMPLATE_SETS 3 /* FlowSets with id 0 or 1 in such a packet */
#define TEMPLATE_RECORDS 5 /* 2 templates, 2 options templates, 1 app */
/* A FlowSet of n records of len bytes, padded to 4. */
#define SET_LEN(n, len) ((4 + (n) * (len) + 3) / 4 * 4)
#define MIN_PAYLOAD (HDR_LEN + TEMPLATES_LEN + SET_LEN(1, V6_REC_LEN))
/* The encapsulation templates' fields after the others: 3 + 2 + 1 + 1. */
#define ENCAP_REC_EXTRA 7
/* Their template FlowSet: 4 + 2 * (4 + 27 * 4). */
#define ENCAP_TPL_SET_LEN 228

#define MAX_PKTS 128

struct capture {
	int n;
	int fail; /* emit returns -EIO while set */
	size_t len[MAX_PKTS];
	uint8_t pkt[MAX_PKTS][NF9_PAYLOAD_LIMIT];
};

struct fixture {
	struct capture cap;
	struct capture cap2;
	struct nf9_stream s;
	struct nf9_stream s2;
};

static int capture_emit(void *ctx, const uint8_t *pkt, size_t len)
{
	struct capture *c = ctx;

	if (c->fail)
		return -EIO;
	assert_true(c->n < MAX_PKTS);
	assert_true(len <= NF9_PAYLOAD_LIMIT);
	memcpy(c->pkt[c->n], pkt, len);
	c->len[c->n] = len;
	c->n++;
	return 0;
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)be16(p) << 16 | be16(p + 2);
}

static uint64_t be64(const uint8_t *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

static struct nf9_clock clock_at(uint64_t now_ms)
{
	return (struct nf9_clock){ .now_ms = now_ms, .uptime_base_ms = BASE_MS };
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct nf9_config cfg = { .source_id = 0x01020304 };

	assert_non_null(f);
	assert_int_equal(nf9_stream_init(&f->s, &cfg, capture_emit, &f->cap), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

/* TCP 192.0.2.1:40000 -> 198.51.100.7:443 on ifindex 3, VLAN 100. */
static struct flow_record ipv4_flow(void)
{
	struct flow_record r = {
		.key = {
			.ifindex = 3, .vlan = 100, .ip_version = 4, .proto = 6,
			.src = { 192, 0, 2, 1 }, .dst = { 198, 51, 100, 7 },
			.sport = 40000, .dport = 443,
		},
		.packets = 1000, .bytes = 0x123456789ULL,
		.first_ms = BASE_MS + 1000, .last_ms = BASE_MS + 4000,
		.tcp_flags = 0x1b, .tos = 0x10, .ttl_min = 60, .ttl_max = 64,
		.end_reason = END_OF_FLOW, .direction = 0,
	};
	return r;
}

/* BitTorrent DHT: UDP [2001:db8::1]:6881 -> [2001:db8:0:1::2]:51413, ifindex 7. */
static struct flow_record ipv6_flow(void)
{
	struct flow_record r = {
		.key = {
			.ifindex = 7, .vlan = 0, .ip_version = 6, .proto = 17,
			.src = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 },
			.dst = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, [15] = 2 },
			.sport = 6881, .dport = 51413,
		},
		.packets = 2, .bytes = 180,
		.first_ms = BASE_MS + 250, .last_ms = BASE_MS + 4750,
		.tcp_flags = 0, .tos = 0, .ttl_min = 64, .ttl_max = 255,
		.app = APP_BITTORRENT, .end_reason = END_IDLE, .direction = 1,
	};
	return r;
}

static struct probe_stats some_stats(void)
{
	struct probe_stats st = {
		.packets_seen = 0x1111,
		.bytes_seen = 0x22222222,
		.flows_evicted = 0x33,
		.packets_uncounted = 4,
		.bytes_uncounted = 0x500,
		.sampling_interval = 100,
		.sampling_algorithm = 1,
	};
	return st;
}

/* What the independent parser found in one packet. */
struct parsed {
	int records; /* every record, as the header should count */
	int template_sets;
	int v4, v6, stats, apps; /* data records per template */
	int encap; /* records of 262 and 263 */
	const uint8_t *first_app;
	const uint8_t *first_v4, *first_v6;
};

static int data_record_len(uint16_t set_id)
{
	switch (set_id) {
	case NF9_TEMPLATE_FLOW_V4:
		return V4_REC_LEN;
	case NF9_TEMPLATE_FLOW_V6:
		return V6_REC_LEN;
	case NF9_TEMPLATE_STATS:
		return STATS_REC_LEN;
	case NF9_TEMPLATE_APPS:
		return APP_REC_LEN;
	case NF9_TEMPLATE_ENCAP_V4:
		return V4_REC_LEN + ENCAP_REC_EXTRA;
	case NF9_TEMPLATE_ENCAP_V6:
		return V6_REC_LEN + ENCAP_REC_EXTRA;
	}
	fail_msg("unknown FlowSet id %u", set_id);
	return 0;
}

static void assert_zero_padding(const uint8_t *p, size_t len)
{
	assert_true(len < 4);
	for (size_t i = 0; i < len; i++)
		assert_int_equal(p[i], 0);
}

/* Template records: id, field count, 4 bytes per field; then padding. */
static int count_templates(const uint8_t *body, size_t len, int options)
{
	size_t off = 0;
	int n = 0;

	while (len - off >= 4) {
		size_t rec = options ? 6 + (size_t)be16(body + off + 2) + be16(body + off + 4) :
				       4 + 4 * (size_t)be16(body + off + 2);
		assert_true(off + rec <= len);
		off += rec;
		n++;
	}
	assert_zero_padding(body + off, len - off);
	return n;
}

static void parse_data_set(struct parsed *out, uint16_t id, const uint8_t *body, size_t len)
{
	int rec = data_record_len(id);
	int n = len / rec;

	assert_zero_padding(body + n * rec, len - n * rec);
	out->records += n;
	if (id == NF9_TEMPLATE_FLOW_V4) {
		if (!out->first_v4)
			out->first_v4 = body;
		out->v4 += n;
	} else if (id == NF9_TEMPLATE_FLOW_V6) {
		if (!out->first_v6)
			out->first_v6 = body;
		out->v6 += n;
	} else if (id == NF9_TEMPLATE_ENCAP_V4 || id == NF9_TEMPLATE_ENCAP_V6) {
		out->encap += n;
	} else if (id == NF9_TEMPLATE_APPS) {
		if (!out->first_app)
			out->first_app = body;
		out->apps += n;
	} else {
		out->stats += n;
	}
}

/* Walks the FlowSets; they must tile the packet exactly, 4-byte aligned. */
static struct parsed parse_packet(const uint8_t *pkt, size_t len)
{
	struct parsed out = { 0 };
	size_t off = HDR_LEN;

	assert_int_equal(be16(pkt), 9);
	while (off < len) {
		uint16_t id = be16(pkt + off);
		uint16_t slen = be16(pkt + off + 2);

		assert_true(slen >= 4);
		assert_int_equal(slen % 4, 0);
		assert_true(off + slen <= len);
		if (id <= 1) {
			int n = count_templates(pkt + off + 4, slen - 4, id);

			/* nfdump 1.7.1 reads one template per options FlowSet */
			if (id == 1)
				assert_int_equal(n, 1);
			out.records += n;
			out.template_sets++;
		} else {
			parse_data_set(&out, id, pkt + off + 4, slen - 4);
		}
		off += slen;
	}
	assert_int_equal(off, len);
	assert_int_equal(be16(pkt + 2), out.records);
	return out;
}

static const uint8_t expected_templates_packet[] = {
	/* header */
	0x00, 0x09, /* version 9 */
	0x00, 0x05, /* count: 2 templates, 2 options templates, 1 app */
	0x00, 0x00, 0x16, 0xf5, /* sysUptime 5877 ms */
	0x65, 0x53, 0xf1, 0x01, /* unix_secs 1700000001 */
	0x00, 0x00, 0x00, 0x00, /* sequence 0 */
	0x01, 0x02, 0x03, 0x04, /* source id */
	/* template FlowSet */
	0x00, 0x00, /* FlowSet id 0 */
	0x00, 0xc4, /* length 196 */
	0x01, 0x00, /* template 256, IPv4 */
	0x00, 0x17, /* 23 fields */
	0x00, 0x01, 0x00, 0x08, /* IN_BYTES */
	0x00, 0x02, 0x00, 0x08, /* IN_PKTS */
	0x00, 0x04, 0x00, 0x01, /* PROTOCOL */
	0x00, 0x05, 0x00, 0x01, /* SRC_TOS */
	0x00, 0x06, 0x00, 0x01, /* TCP_FLAGS */
	0x00, 0x07, 0x00, 0x02, /* L4_SRC_PORT */
	0x00, 0x08, 0x00, 0x04, /* IPV4_SRC_ADDR */
	0x00, 0x0a, 0x00, 0x04, /* INPUT_SNMP */
	0x00, 0x0b, 0x00, 0x02, /* L4_DST_PORT */
	0x00, 0x0c, 0x00, 0x04, /* IPV4_DST_ADDR */
	0x00, 0x0e, 0x00, 0x04, /* OUTPUT_SNMP */
	0x00, 0x15, 0x00, 0x04, /* LAST_SWITCHED */
	0x00, 0x16, 0x00, 0x04, /* FIRST_SWITCHED */
	0x00, 0x20, 0x00, 0x02, /* ICMP_TYPE */
	0x00, 0x34, 0x00, 0x01, /* MIN_TTL */
	0x00, 0x35, 0x00, 0x01, /* MAX_TTL */
	0x00, 0x3a, 0x00, 0x02, /* SRC_VLAN */
	0x00, 0x3c, 0x00, 0x01, /* IP_PROTOCOL_VERSION */
	0x00, 0x3d, 0x00, 0x01, /* DIRECTION */
	0x00, 0x88, 0x00, 0x01, /* flowEndReason */
	0x00, 0x98, 0x00, 0x08, /* flowStartMilliseconds */
	0x00, 0x99, 0x00, 0x08, /* flowEndMilliseconds */
	0x00, 0x5f, 0x00, 0x05, /* APPLICATION_ID */
	0x01, 0x01, /* template 257, IPv6 */
	0x00, 0x17, /* 23 fields */
	0x00, 0x01, 0x00, 0x08, /* IN_BYTES */
	0x00, 0x02, 0x00, 0x08, /* IN_PKTS */
	0x00, 0x04, 0x00, 0x01, /* PROTOCOL */
	0x00, 0x05, 0x00, 0x01, /* SRC_TOS */
	0x00, 0x06, 0x00, 0x01, /* TCP_FLAGS */
	0x00, 0x07, 0x00, 0x02, /* L4_SRC_PORT */
	0x00, 0x1b, 0x00, 0x10, /* IPV6_SRC_ADDR */
	0x00, 0x0a, 0x00, 0x04, /* INPUT_SNMP */
	0x00, 0x0b, 0x00, 0x02, /* L4_DST_PORT */
	0x00, 0x1c, 0x00, 0x10, /* IPV6_DST_ADDR */
	0x00, 0x0e, 0x00, 0x04, /* OUTPUT_SNMP */
	0x00, 0x15, 0x00, 0x04, /* LAST_SWITCHED */
	0x00, 0x16, 0x00, 0x04, /* FIRST_SWITCHED */
	0x00, 0x20, 0x00, 0x02, /* ICMP_TYPE */
	0x00, 0x34, 0x00, 0x01, /* MIN_TTL */
	0x00, 0x35, 0x00, 0x01, /* MAX_TTL */
	0x00, 0x3a, 0x00, 0x02, /* SRC_VLAN */
	0x00, 0x3c, 0x00, 0x01, /* IP_PROTOCOL_VERSION */
	0x00, 0x3d, 0x00, 0x01, /* DIRECTION */
	0x00, 0x88, 0x00, 0x01, /* flowEndReason */
	0x00, 0x98, 0x00, 0x08, /* flowStartMilliseconds */
	0x00, 0x99, 0x00, 0x08, /* flowEndMilliseconds */
	0x00, 0x5f, 0x00, 0x05, /* APPLICATION_ID */
	/* options template FlowSet: statistics */
	0x00, 0x01, /* FlowSet id 1 */
	0x00, 0x3c, /* length 60, padding included */
	0x01, 0x02, /* template 258 */
	0x00, 0x04, /* scope length: 1 field */
	0x00, 0x2c, /* options length: 11 fields */
	0x00, 0x01, 0x00, 0x04, /* scope System */
	0x00, 0x22, 0x00, 0x04, /* SAMPLING_INTERVAL */
	0x00, 0x23, 0x00, 0x01, /* SAMPLING_ALGORITHM */
	0x00, 0x28, 0x00, 0x08, /* TOTAL_BYTES_EXP: export bytes sent */
	0x00, 0x29, 0x00, 0x08, /* TOTAL_PKTS_EXP: export packets sent */
	0x00, 0x2a, 0x00, 0x08, /* TOTAL_FLOWS_EXP: flow records sent */
	0x00, 0xa6, 0x00, 0x08, /* notSentFlowTotalCount */
	0x00, 0xa4, 0x00, 0x08, /* ignoredPacketTotalCount */
	0x00, 0xa5, 0x00, 0x08, /* ignoredOctetTotalCount */
	0x52, 0x54, 0x00, 0x08, /* 21076 private: packets seen */
	0x52, 0x55, 0x00, 0x08, /* 21077 private: bytes seen */
	0x52, 0x56, 0x00, 0x08, /* 21078 private: flows evicted early */
	0x00, 0x00, /* padding */
	/* options template FlowSet: application names, a FlowSet of its own */
	0x00, 0x01, /* FlowSet id 1 */
	0x00, 0x1c, /* length 28, padding included */
	0x01, 0x03, /* template 259 */
	0x00, 0x04, /* scope length: 1 field */
	0x00, 0x0c, /* options length: 3 fields */
	0x00, 0x01, 0x00, 0x04, /* scope System */
	0x00, 0x5f, 0x00, 0x05, /* APPLICATION_ID */
	0x00, 0x60, 0x00, 0x18, /* APPLICATION_NAME, 24 bytes */
	0x00, 0x5e, 0x00, 0x20, /* APPLICATION_DESCRIPTION, 32 bytes */
	0x00, 0x00, /* padding */
	/* options data FlowSet: one record per named application */
	0x01, 0x03, /* FlowSet id 259 */
	0x00, 0x48, /* length 72: 4 + 65, padding included */
	0x01, 0x02, 0x03, 0x04, /* scope System: the source id */
	0x16, /* APPLICATION_ID: engine 22, ntop nDPI */
	0x00, 0x00, 0x00, 0x25, /*  selector 37, BitTorrent */
	'B', 'i', 't', 'T', 'o', 'r', 'r', 'e', /* APPLICATION_NAME */
	'n', 't', 0, 0, 0, 0, 0, 0, /*  NUL padded */
	0, 0, 0, 0, 0, 0, 0, 0, 'P', 'e', 'e', 'r', '-', 't', 'o',
	'-', /* APPLICATION_DESCRIPTION */
	'p', 'e', 'e', 'r', ' ', 'f', 'i', 'l', 'e', ' ', 's', 'h', 'a', 'r', 'i', 'n', 'g', 0, 0,
	0, 0, 0, 0, 0, /*  NUL padded */
	0x00, 0x00, 0x00, /* padding: 3 < 65 */
};

static void test_template_packet_bytes(void **state)
{
	struct fixture *f = *state;
	struct nf9_clock clk = clock_at(NOW_MS);

	assert_int_equal(sizeof(expected_templates_packet), HDR_LEN + TEMPLATES_LEN);
	assert_int_equal(nf9_send_templates(&f->s, &clk), 0);
	assert_int_equal(f->cap.n, 1);
	assert_int_equal(f->cap.len[0], sizeof(expected_templates_packet));
	assert_memory_equal(f->cap.pkt[0], expected_templates_packet,
			    sizeof(expected_templates_packet));
	assert_int_equal(f->s.packets_sent, 1);
	assert_int_equal(f->s.records_sent, TEMPLATE_RECORDS);
}

static const uint8_t expected_ipv4_set[] = {
	0x01, 0x00, /* FlowSet id 256 */
	0x00, 0x54, /* length 84: 4 + 77, padding included */
	0x00, 0x00, 0x00, 0x01, 0x23, 0x45, 0x67, 0x89, /* IN_BYTES */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xe8, /* IN_PKTS 1000 */
	0x06, /* PROTOCOL TCP */
	0x10, /* SRC_TOS */
	0x1b, /* TCP_FLAGS FIN SYN PSH ACK */
	0x9c, 0x40, /* L4_SRC_PORT 40000 */
	0xc0, 0x00, 0x02, 0x01, /* IPV4_SRC_ADDR 192.0.2.1 */
	0x00, 0x00, 0x00, 0x03, /* INPUT_SNMP 3 */
	0x01, 0xbb, /* L4_DST_PORT 443 */
	0xc6, 0x33, 0x64, 0x07, /* IPV4_DST_ADDR 198.51.100.7 */
	0x00, 0x00, 0x00, 0x00, /* OUTPUT_SNMP */
	0x00, 0x00, 0x0f, 0xa0, /* LAST_SWITCHED 4000 */
	0x00, 0x00, 0x03, 0xe8, /* FIRST_SWITCHED 1000 */
	0x00, 0x00, /* ICMP_TYPE: not ICMP */
	0x3c, /* MIN_TTL 60 */
	0x40, /* MAX_TTL 64 */
	0x00, 0x64, /* SRC_VLAN 100 */
	0x04, /* IP_PROTOCOL_VERSION */
	0x00, /* DIRECTION ingress */
	0x03, /* flowEndReason end of flow */
	0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x58, 0xdb, /* flowStartMs */
	0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x64, 0x93, /* flowEndMs */
	0x00, 0x00, 0x00, 0x00, 0x00, /* APPLICATION_ID: unclassified */
	0x00, 0x00, 0x00, /* padding */
};

static void test_ipv4_record_bytes(void **state)
{
	struct fixture *f = *state;
	struct nf9_clock clk = clock_at(NOW_MS);
	struct flow_record r = ipv4_flow();
	const uint8_t *pkt = f->cap.pkt[0];

	assert_int_equal(nf9_add_flow(&f->s, &r, &clk), 0);
	assert_int_equal(f->cap.n, 0);
	assert_int_equal(nf9_flush(&f->s, &clk), 0);
	assert_int_equal(f->cap.n, 1);
	assert_int_equal(f->cap.len[0], HDR_LEN + TEMPLATES_LEN + sizeof(expected_ipv4_set));
	assert_int_equal(be16(pkt + 2), TEMPLATE_RECORDS + 1);
	assert_memory_equal(pkt + HDR_LEN, expected_templates_packet + HDR_LEN, TEMPLATES_LEN);
	assert_memory_equal(pkt + HDR_LEN + TEMPLATES_LEN, expected_ipv4_set,
			    sizeof(expected_ipv4_set));
	assert_int_equal(f->s.flows_sent, 1);
}

static const uint8_t expected_ipv6_set[] = {
	0x01, 0x01, /* FlowSet id 257 */
	0x00, 0x6c, /* length 108: 4 + 101, padding included */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xb4, /* IN_BYTES 180 */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, /* IN_PKTS 2 */
	0x11, /* PROTOCOL UDP */
	0x00, /* SRC_TOS */
	0x00, /* TCP_FLAGS */
	0x1a, 0xe1, /* L4_SRC_PORT 6881 */
	0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, /* IPV6_SRC_ADDR */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, /*  2001:db8::1 */
	0x00, 0x00, 0x00, 0x07, /* INPUT_SNMP 7 */
	0xc8, 0xd5, /* L4_DST_PORT 51413 */
	0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x01, /* IPV6_DST_ADDR */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, /*  2001:db8:0:1::2 */
	0x00, 0x00, 0x00, 0x00, /* OUTPUT_SNMP */
	0x00, 0x00, 0x12, 0x8e, /* LAST_SWITCHED 4750 */
	0x00, 0x00, 0x00, 0xfa, /* FIRST_SWITCHED 250 */
	0x00, 0x00, /* ICMP_TYPE: not ICMP */
	0x40, /* MIN_TTL 64 */
	0xff, /* MAX_TTL 255 */
	0x00, 0x00, /* SRC_VLAN untagged */
	0x06, /* IP_PROTOCOL_VERSION */
	0x01, /* DIRECTION egress */
	0x01, /* flowEndReason idle */
	0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x55, 0xed, /* flowStartMs */
	0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x67, 0x81, /* flowEndMs */
	0x16, /* APPLICATION_ID: engine 22, ntop nDPI */
	0x00, 0x00, 0x00, 0x25, /*  selector 37, BitTorrent */
	0x00, 0x00, 0x00, /* padding */
};

static void test_ipv6_record_bytes(void **state)
{
	struct fixture *f = *state;
	struct nf9_clock clk = clock_at(NOW_MS);
	struct flow_record r = ipv6_flow();
	const uint8_t *pkt = f->cap.pkt[0];

	assert_int_equal(nf9_add_flow(&f->s, &r, &clk), 0);
	assert_int_equal(nf9_flush(&f->s, &clk), 0);
	assert_int_equal(f->cap.n, 1);
	assert_int_equal(f->cap.len[0], HDR_LEN + TEMPLATES_LEN + sizeof(expected_ipv6_set));
	assert_int_equal(be16(pkt + 2), TEMPLATE_RECORDS + 1);
	assert_memory_equal(pkt + HDR_LEN + TEMPLATES_LEN, expected_ipv6_set,
			    sizeof(expected_ipv6_set));
}

/* After one packet of two flows (568 bytes) sent and one of one flow lost. */
static const uint8_t expected_stats_set[] = {
	0x01, 0x02, /* FlowSet id 258 */
	0x00, 0x58, /* length 88: 4 + 81, padding included */
	0x01, 0x02, 0x03, 0x04, /* scope System: the source id */
	0x00, 0x00, 0x00, 0x64, /* SAMPLING_INTERVAL 100 */
	0x01, /* SAMPLING_ALGORITHM deterministic */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x38, /* 40: 568 bytes sent */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, /* 41: 1 packet sent */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, /* 42: 2 flows sent */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, /* 166: 1 flow lost */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, /* 164: packets uncounted */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x00, /* 165: bytes uncounted */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x11, 0x11, /* 21076: packets seen */
	0x00, 0x00, 0x00, 0x00, 0x22, 0x22, 0x22, 0x22, /* 21077: bytes seen */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x33, /* 21078: flows evicted */
	0x00, 0x00, 0x00, /* padding: 3 < 81 */
};

/*
 * Fields 40/41/42 count what went to this collector (RFC 3954, IANA's
 * exportedOctetTotalCount and friends), not what the probe saw, which has
 * private fields of its own; a lost packet's flows are not sent (166).
 */
static void test_stats_record_padded(void **state)
{
	struct fixture *f = *state;
	struct nf9_clock clk = clock_at(NOW_MS);
	struct probe_stats st = some_stats();
	struct flow_record v4 = ipv4_flow(), v6 = ipv6_flow();
	const uint8_t *set = f->cap.pkt[1] + HDR_LEN;

	assert_int_equal(nf9_add_flow(&f->s, &v4, &clk), 0);
	assert_int_equal(nf9_add_flow(&f->s, &v6, &clk), 0);
	assert_int_equal(nf9_flush(&f->s, &clk), 0);
	assert_int_equal(f->cap.len[0], 568);
	f->cap.fail = 1;
	assert_int_equal(nf9_add_flow(&f->s, &v4, &clk), 0);
	assert_int_equal(nf9_flush(&f->s, &clk), -EIO);
	f->cap.fail = 0;
	memset(f->s.pkt, 0xee, sizeof(f->s.pkt)); /* padding must be written */
	assert_int_equal(nf9_add_stats(&f->s, &st, &clk), 0);
	assert_int_equal(nf9_flush(&f->s, &clk), 0);
	assert_int_equal(f->cap.n, 2);
	assert_int_equal(f->cap.len[1], HDR_LEN + 88);
	assert_int_equal(be16(f->cap.pkt[1] + 2), 1);
	assert_memory_equal(set, expected_stats_set, sizeof(expected_stats_set));
	assert_true(be16(set + 2) - 4 - STATS_REC_LEN < STATS_REC_LEN);
}

/* Alternating families: every FlowSet padded, lengths tile the packet. */
static void test_padding_between_sets(void **state)
{
	struct fixture *f = *state;
	struct nf9_clock clk = clock_at(NOW_MS);
	struct flow_record v4 = ipv4_flow(), v6 = ipv6_flow();
	struct probe_stats st = some_stats();
	struct parsed p;

	assert_int_equal(nf9_add_stats(&f->s, &st, &clk), 0);
	assert_int_equal(nf9_add_flow(&f->s, &v4, &clk), 0);
	assert_int_equal(nf9_add_stats(&f->s, &st, &clk), 0);
	assert_int_equal(nf9_add_stats(&f->s, &st, &clk), 0);
	assert_int_equal(nf9_add_flow(&f->s, &v6, &clk), 0);
	assert_int_equal(nf9_flush(&f->s, &clk), 0);
	assert_int_equal(f->cap.n, 1);
	assert_int_equal(f->cap.len[0], HDR_LEN + TEMPLATES_LEN + SET_LEN(1, STATS_REC_LEN) +
						SET_LEN(1, V4_REC_LEN) + SET_LEN(2, STATS_REC_LEN) +
						SET_LEN(1, V6_REC_LEN));
	assert_int_equal(SET_LEN(2, STATS_REC_LEN), 4 + 162 + 2);
	p = parse_packet(f->cap.pkt[0], f->cap.len[0]);
	assert_int_equal(p.stats, 3);
	assert_int_equal(p.v4, 1);
	assert_int_equal(p.v6, 1);
	assert_memory_equal(p.first_v4 - 4, expected_ipv4_set, sizeof(expected_ipv4_set));
	assert_memory_equal(p.first_v6 - 4, expected_ipv6_set, sizeof(expected_ipv6_set));
}

static void test_sequence_per_packet(void **state)
{
	struct fixture *f = *state;
	struct nf9_clock clk = clock_at(NOW_MS);
	struct flow_record r = ipv4_flow();

	assert_int_equal(nf9_send_templates(&f->s, &clk), 0);
	assert_int_equal(nf9_add_flow(&f->s, &r, &clk), 0);
	assert_int_equal(nf9_flush(&f->s, &clk), 0);
	assert_int_equal(nf9_flush(&f->s, &clk), 0); /* nothing pending */
	assert_int_equal(nf9_send_templates(&f->s, &clk), 0);
	assert_int_equal(nf9_add_flow(&f->s, &r, &clk), 0);
	assert_int_equal(nf9_flush(&f->s, &clk), 0);
	assert_int_equal(f->cap.n, 4);
	for (int i = 0; i < f->cap.n; i++)
		assert_int_equal(be32(f->cap.pkt[i] + 12), i);
	assert_int_equal(be16(f->cap.pkt[0] + 2), TEMPLATE_RECORDS); /* template-only */
	assert_int_equal(be16(f->cap.pkt[1] + 2), 1);
	assert_int_equal(f->s.packets_sent, 4);
	assert_int_equal(f->s.records_sent, 2 * TEMPLATE_RECORDS + 2);
}

static void test_sequence_per_stream(void **state)
{
	struct fixture *f = *state;
	struct nf9_config cfg = { .source_id = 99 };
	struct nf9_clock clk = clock_at(NOW_MS);
	struct flow_record r = ipv4_flow();

	assert_int_equal(nf9_stream_init(&f->s2, &cfg, capture_emit, &f->cap2), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(nf9_add_flow(&f->s, &r, &clk), 0);
		assert_int_equal(nf9_flush(&f->s, &clk), 0);
		if (i == 1)
			continue;
		assert_int_equal(nf9_add_flow(&f->s2, &r, &clk), 0);
		assert_int_equal(nf9_flush(&f->s2, &clk), 0);
	}
	assert_int_equal(f->cap.n, 3);
	assert_int_equal(f->cap2.n, 2);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(be32(f->cap.pkt[i] + 12), i);
		assert_int_equal(be32(f->cap.pkt[i] + 16), 0x01020304);
	}
	for (int i = 0; i < 2; i++) {
		assert_int_equal(be32(f->cap2.pkt[i] + 12), i);
		assert_int_equal(be32(f->cap2.pkt[i] + 16), 99);
	}
	/* each stream opens with its own templates */
	assert_int_equal(parse_packet(f->cap2.pkt[0], f->cap2.len[0]).template_sets, TEMPLATE_SETS);
	assert_int_equal(parse_packet(f->cap2.pkt[1], f->cap2.len[1]).template_sets, 0);
}

static int one_flow_packet(struct fixture *f, uint64_t now_ms)
{
	struct nf9_clock clk = clock_at(now_ms);
	struct flow_record r = ipv4_flow();
	int n = f->cap.n;

	assert_int_equal(nf9_add_flow(&f->s, &r, &clk), 0);
	assert_int_equal(nf9_flush(&f->s, &clk), 0);
	assert_int_equal(f->cap.n, n + 1);
	return parse_packet(f->cap.pkt[n], f->cap.len[n]).template_sets;
}

static void test_refresh_by_count(void **state)
{
	struct fixture *f = *state;

	/* packets 1 and 21 (indexes 0 and 20) carry the templates */
	for (int i = 0; i < 42; i++)
		assert_int_equal(one_flow_packet(f, NOW_MS + i),
				 i == 0 || i == 20 || i == 40 ? TEMPLATE_SETS : 0);
}

static void test_refresh_by_count_configured(void **state)
{
	struct fixture *f = *state;
	struct nf9_config cfg = { .refresh_packets = 3 };

	assert_int_equal(nf9_stream_init(&f->s, &cfg, capture_emit, &f->cap), 0);
	for (int i = 0; i < 7; i++)
		assert_int_equal(one_flow_packet(f, NOW_MS), i % 3 == 0 ? TEMPLATE_SETS : 0);
}

static void test_refresh_by_time(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(one_flow_packet(f, NOW_MS), TEMPLATE_SETS);
	assert_int_equal(one_flow_packet(f, NOW_MS + 30000), 0);
	assert_int_equal(one_flow_packet(f, NOW_MS + 59999), 0);
	assert_int_equal(one_flow_packet(f, NOW_MS + 61000), TEMPLATE_SETS);
	assert_int_equal(one_flow_packet(f, NOW_MS + 62000), 0);
	assert_int_equal(one_flow_packet(f, NOW_MS + 120999), 0);
	assert_int_equal(one_flow_packet(f, NOW_MS + 121000), TEMPLATE_SETS);
	/* a wall clock stepped back: resend rather than trust the age */
	assert_int_equal(one_flow_packet(f, NOW_MS), TEMPLATE_SETS);
}

/* Many records: every packet within the limit, counted right, none lost. */
static void check_split(struct fixture *f, uint32_t max_payload)
{
	struct nf9_config cfg = { .max_payload = max_payload };
	struct nf9_clock clk = clock_at(NOW_MS);
	struct probe_stats st = some_stats();
	int v4 = 0, v6 = 0, stats = 0, records = 0;
	uint8_t seen[200] = { 0 };

	assert_int_equal(nf9_stream_init(&f->s, &cfg, capture_emit, &f->cap), 0);
	for (int i = 0; i < 200; i++) {
		struct flow_record r = i % 3 ? ipv4_flow() : ipv6_flow();

		r.packets = i;
		assert_int_equal(nf9_add_flow(&f->s, &r, &clk), 0);
		if (i % 40 == 0)
			assert_int_equal(nf9_add_stats(&f->s, &st, &clk), 0);
	}
	assert_int_equal(nf9_flush(&f->s, &clk), 0);
	assert_true(f->cap.n > 1);
	for (int i = 0; i < f->cap.n; i++) {
		const uint8_t *pkt = f->cap.pkt[i];
		struct parsed p = parse_packet(pkt, f->cap.len[i]);
		size_t off = HDR_LEN;

		assert_true(f->cap.len[i] <= f->s.cfg.max_payload);
		assert_int_equal(be32(pkt + 12), i);
		v4 += p.v4;
		v6 += p.v6;
		stats += p.stats;
		records += p.records;
		/* mark each flow's IN_PKTS (its index) as seen */
		while (off < f->cap.len[i]) {
			uint16_t id = be16(pkt + off), slen = be16(pkt + off + 2);

			if (id == NF9_TEMPLATE_FLOW_V4 || id == NF9_TEMPLATE_FLOW_V6) {
				int rl = data_record_len(id);

				for (int o = 4; o + rl <= slen; o += rl) {
					uint64_t idx = be64(pkt + off + o + 8);

					assert_true(idx < 200);
					seen[idx]++;
				}
			}
			off += slen;
		}
	}
	assert_int_equal(v4 + v6, 200);
	assert_int_equal(v6, 67);
	assert_int_equal(stats, 5);
	assert_int_equal(records, f->s.records_sent);
	for (int i = 0; i < 200; i++)
		assert_int_equal(seen[i], 1);
}

static void test_mtu_split_default(void **state)
{
	check_split(*state, 0 /* default */);
	assert_int_equal(((struct fixture *)*state)->s.cfg.max_payload, 1400);
}

static void test_mtu_split_small(void **state)
{
	check_split(*state, 600);
}

static void test_mtu_split_minimum(void **state)
{
	check_split(*state, MIN_PAYLOAD);
}

/*
 * Exactly three IPv4 records fill the first packet; a fourth opens another.
 * The FlowSet's padding counts: one byte less and the third does not fit.
 */
static void test_mtu_exact_fit(void **state)
{
	struct fixture *f = *state;
	struct nf9_config cfg = { .max_payload = HDR_LEN + TEMPLATES_LEN + SET_LEN(3, V4_REC_LEN) };
	struct nf9_clock clk = clock_at(NOW_MS);
	struct flow_record r = ipv4_flow();

	assert_int_equal(nf9_stream_init(&f->s, &cfg, capture_emit, &f->cap), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(nf9_add_flow(&f->s, &r, &clk), 0);
	assert_int_equal(f->cap.n, 0);
	assert_int_equal(nf9_add_flow(&f->s, &r, &clk), 0);
	assert_int_equal(f->cap.n, 1);
	assert_int_equal(f->cap.len[0], cfg.max_payload);
	assert_int_equal(be16(f->cap.pkt[0] + 2), TEMPLATE_RECORDS + 3);
	assert_int_equal(nf9_flush(&f->s, &clk), 0);
	assert_int_equal(f->cap.len[1], HDR_LEN + SET_LEN(1, V4_REC_LEN));
	assert_int_equal(be16(f->cap.pkt[1] + 2), 1);

	cfg.max_payload--;
	f->cap.n = 0;
	assert_int_equal(nf9_stream_init(&f->s, &cfg, capture_emit, &f->cap), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(nf9_add_flow(&f->s, &r, &clk), 0);
	assert_int_equal(f->cap.n, 1);
	assert_int_equal(f->cap.len[0], HDR_LEN + TEMPLATES_LEN + SET_LEN(2, V4_REC_LEN));
}

/*
 * Leaving a FlowSet that needs padding (stats: 85 -> 88 bytes) costs that
 * padding too: the next set fits exactly, and not in one byte less.
 */
static void test_mtu_counts_padding_of_left_set(void **state)
{
	struct fixture *f = *state;
	struct nf9_clock clk = clock_at(NOW_MS);
	struct probe_stats st = some_stats();
	struct flow_record r = ipv4_flow();
	uint32_t exact = HDR_LEN + TEMPLATES_LEN + 88 + SET_LEN(1, V4_REC_LEN);
	struct nf9_config cfg = { .max_payload = exact };

	assert_int_equal(nf9_stream_init(&f->s, &cfg, capture_emit, &f->cap), 0);
	assert_int_equal(nf9_add_stats(&f->s, &st, &clk), 0);
	assert_int_equal(nf9_add_flow(&f->s, &r, &clk), 0);
	assert_int_equal(nf9_flush(&f->s, &clk), 0);
	assert_int_equal(f->cap.n, 1);
	assert_int_equal(f->cap.len[0], exact);

	cfg.max_payload = exact - 1;
	f->cap.n = 0;
	assert_int_equal(nf9_stream_init(&f->s, &cfg, capture_emit, &f->cap), 0);
	assert_int_equal(nf9_add_stats(&f->s, &st, &clk), 0);
	assert_int_equal(nf9_add_flow(&f->s, &r, &clk), 0);
	assert_int_equal(nf9_flush(&f->s, &clk), 0);
	assert_int_equal(f->cap.n, 2);
	assert_int_equal(f->cap.len[0], HDR_LEN + TEMPLATES_LEN + 88);
	assert_int_equal(parse_packet(f->cap.pkt[1], f->cap.len[1]).v4, 1);
}

/* Offsets of fields inside an IPv4 record (see expected_ipv4_set). */
#define V4_LAST_SWITCHED 39
#define V4_FIRST_SWITCHED 43
#define V4_ICMP_TYPE 47
#define V4_APPLICATION_ID 72

static const uint8_t *flush_one_v4(struct fixture *f, struct flow_record *r,
				   const struct nf9_clock *clk)
{
	int n = f->cap.n;

	assert_int_equal(nf9_add_flow(&f->s, r, clk), 0);
	assert_int_equal(nf9_flush(&f->s, clk), 0);
	assert_int_equal(f->cap.n, n + 1);
	return parse_packet(f->cap.pkt[n], f->cap.len[n]).first_v4;
}

static void test_uptime_from_clock(void **state)
{
	struct fixture *f = *state;
	struct nf9_clock clk = { .now_ms = 1800000000999ULL,
				 .uptime_base_ms = 1800000000999ULL - 86400000 };
	struct flow_record r = ipv4_flow();
	const uint8_t *rec;

	r.first_ms = clk.uptime_base_ms + 123456;
	r.last_ms = clk.uptime_base_ms + 7654321;
	rec = flush_one_v4(f, &r, &clk);
	/* stamped at the next whole second: 1800000001.000 */
	assert_int_equal(be32(f->cap.pkt[0] + 4), 86400001); /* sysUptime */
	assert_int_equal(be32(f->cap.pkt[0] + 8), 1800000001); /* unix_secs */
	assert_int_equal(be32(rec + V4_FIRST_SWITCHED), 123456);
	assert_int_equal(be32(rec + V4_LAST_SWITCHED), 7654321);

	/* a flow older than the exporter is clamped to its start */
	r.first_ms = clk.uptime_base_ms - 5;
	r.last_ms = clk.uptime_base_ms;
	rec = flush_one_v4(f, &r, &clk);
	assert_int_equal(be32(rec + V4_FIRST_SWITCHED), 0);
	assert_int_equal(be32(rec + V4_LAST_SWITCHED), 0);
}

/* Past 2^32 ms, uptimes wrap and their differences stay right. */
static void test_uptime_wrap(void **state)
{
	struct fixture *f = *state;
	struct nf9_clock clk = { .now_ms = NOW_MS, .uptime_base_ms = NOW_MS - (1ULL << 32) - 5000 };
	struct flow_record r = ipv4_flow();
	const uint8_t *rec;
	uint32_t up;

	r.first_ms = NOW_MS - 10000; /* before the wrap */
	r.last_ms = NOW_MS - 1000; /* after it */
	rec = flush_one_v4(f, &r, &clk);
	up = be32(f->cap.pkt[0] + 4);
	assert_int_equal(up, 5877); /* stamped at NOW_MS + 877 */
	assert_int_equal(be32(rec + V4_FIRST_SWITCHED), 0xffffec78); /* 2^32 - 5000 */
	assert_int_equal(be32(rec + V4_LAST_SWITCHED), 4000);
	assert_int_equal((uint32_t)(up - be32(rec + V4_FIRST_SWITCHED)), 10877);
	assert_int_equal((uint32_t)(up - be32(rec + V4_LAST_SWITCHED)), 1877);
}

/*
 * Whatever the millisecond, unix_secs * 1000 - sysUptime is the exporter's
 * start, so collectors date records exactly, and the stamp is never
 * earlier than now, so no record is later than sysUptime.
 */
static void test_header_stamp_whole_second(void **state)
{
	static const uint64_t offsets[] = { 0, 1, 500, 999, 1000, 1001 };
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++) {
		uint64_t now = 1700000000000ULL + offsets[i];
		struct nf9_clock clk = { .now_ms = now, .uptime_base_ms = BASE_MS };
		const uint8_t *pkt = f->cap.pkt[i];
		uint64_t stamp;

		assert_int_equal(nf9_send_templates(&f->s, &clk), 0);
		stamp = (uint64_t)be32(pkt + 8) * 1000;
		assert_int_equal(stamp - be32(pkt + 4), BASE_MS);
		assert_true(stamp >= now && stamp - now < 1000);
	}
}

/*
 * A new uptime base closes the open packet under the old one (its header
 * must match its records) and opens the next with templates, because to
 * collectors the exporter restarted.
 */
static void test_new_uptime_base(void **state)
{
	struct fixture *f = *state;
	struct nf9_clock clk = clock_at(NOW_MS);
	struct nf9_clock moved = { .now_ms = NOW_MS + 1000, .uptime_base_ms = NOW_MS - 500 };
	struct flow_record r = ipv4_flow();
	const uint8_t *rec;

	assert_int_equal(nf9_send_templates(&f->s, &clk), 0);
	r.first_ms = r.last_ms = NOW_MS;
	assert_int_equal(nf9_add_flow(&f->s, &r, &clk), 0);
	assert_int_equal(nf9_add_flow(&f->s, &r, &moved), 0);
	assert_int_equal(f->cap.n, 2);
	/* old base, stamped at 22:13:22.000: up 6877 */
	assert_int_equal(be32(f->cap.pkt[1] + 4), 6877);
	rec = parse_packet(f->cap.pkt[1], f->cap.len[1]).first_v4;
	assert_int_equal(be32(rec + V4_FIRST_SWITCHED), 5000);
	assert_int_equal(nf9_flush(&f->s, &moved), 0);
	assert_int_equal(f->cap.n, 3);
	assert_int_equal(parse_packet(f->cap.pkt[2], f->cap.len[2]).template_sets, TEMPLATE_SETS);
	assert_int_equal(be32(f->cap.pkt[2] + 4), 2377); /* new base, same stamp */
	rec = parse_packet(f->cap.pkt[2], f->cap.len[2]).first_v4;
	assert_int_equal(be32(rec + V4_FIRST_SWITCHED), 500);
	assert_int_equal(one_flow_packet(f, NOW_MS + 2000), TEMPLATE_SETS); /* back to BASE_MS */
}

static void test_next_uptime_base(void **state)
{
	const uint64_t base = 1000000, age = 3600000;

	(void)state;
	assert_int_equal(nf9_next_uptime_base(base, base, age), base);
	assert_int_equal(nf9_next_uptime_base(base, base + (1ULL << 31) - 1, age), base);
	assert_int_equal(nf9_next_uptime_base(base, base + (1ULL << 31), age),
			 base + (1ULL << 31) - age);
	/* a clock stepped back before the base keeps it */
	assert_int_equal(nf9_next_uptime_base(base, base - 1, age), base);
	assert_int_equal(nf9_next_uptime_base(0, 5000, 1ULL << 40), 0);
}

static void test_icmp_type_only_for_icmp(void **state)
{
	static const struct {
		uint8_t proto;
		uint16_t dport, want;
	} cases[] = {
		{ 1, 0x0800, 0x0800 }, /* ICMP echo request */
		{ 58, 0x8100, 0x8100 }, /* ICMPv6 echo reply */
		{ 6, 0x0800, 0 },	{ 17, 0x0303, 0 }, { 132, 0x0001, 0 },
	};
	struct fixture *f = *state;
	struct nf9_clock clk = clock_at(NOW_MS);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct flow_record r = ipv4_flow();
		const uint8_t *rec;

		r.key.proto = cases[i].proto;
		r.key.sport = 0;
		r.key.dport = cases[i].dport;
		rec = flush_one_v4(f, &r, &clk);
		assert_int_equal(be16(rec + V4_ICMP_TYPE), cases[i].want);
		assert_int_equal(be16(rec + 29), cases[i].dport); /* L4_DST_PORT */
	}
}

static void test_icmpv6_in_ipv6_record(void **state)
{
	struct fixture *f = *state;
	struct nf9_clock clk = clock_at(NOW_MS);
	struct flow_record r = ipv6_flow();
	const uint8_t *rec;

	r.key.proto = 58;
	r.key.sport = 0;
	r.key.dport = 0x8700; /* neighbour solicitation */
	assert_int_equal(nf9_add_flow(&f->s, &r, &clk), 0);
	assert_int_equal(nf9_flush(&f->s, &clk), 0);
	rec = parse_packet(f->cap.pkt[0], f->cap.len[0]).first_v6;
	assert_int_equal(be16(rec + 71), 0x8700); /* ICMP_TYPE */
}

/* A lost packet keeps its sequence number; lost templates are resent. */
static void test_emit_failure(void **state)
{
	struct fixture *f = *state;
	struct nf9_clock clk = clock_at(NOW_MS);
	struct flow_record r = ipv4_flow();

	f->cap.fail = 1;
	assert_int_equal(nf9_add_flow(&f->s, &r, &clk), 0);
	assert_int_equal(nf9_flush(&f->s, &clk), -EIO);
	assert_int_equal(f->s.emit_errors, 1);
	assert_int_equal(f->s.records_lost, TEMPLATE_RECORDS + 1);
	assert_int_equal(f->s.packets_sent, 0);
	f->cap.fail = 0;
	assert_int_equal(one_flow_packet(f, NOW_MS), TEMPLATE_SETS);
	assert_int_equal(be32(f->cap.pkt[0] + 12), 1);
	assert_int_equal(one_flow_packet(f, NOW_MS), 0);

	/* a failed data-only packet does not force templates */
	f->cap.fail = 1;
	assert_int_equal(nf9_add_flow(&f->s, &r, &clk), 0);
	assert_int_equal(nf9_flush(&f->s, &clk), -EIO);
	f->cap.fail = 0;
	assert_int_equal(one_flow_packet(f, NOW_MS), 0);
	assert_int_equal(be32(f->cap.pkt[2] + 12), 4);
	assert_int_equal(f->s.emit_errors, 2);
	assert_int_equal(f->s.packets_sent, 3);
}

/* A refresh that fails is retried in the very next packet. */
static void test_emit_failure_of_refresh(void **state)
{
	struct fixture *f = *state;
	struct nf9_clock clk = clock_at(NOW_MS);
	struct flow_record r = ipv4_flow();

	for (int i = 0; i < 20; i++)
		one_flow_packet(f, NOW_MS);
	f->cap.fail = 1;
	assert_int_equal(nf9_add_flow(&f->s, &r, &clk), 0);
	assert_int_equal(nf9_flush(&f->s, &clk), -EIO);
	f->cap.fail = 0;
	assert_int_equal(one_flow_packet(f, NOW_MS), TEMPLATE_SETS);
	assert_int_equal(be32(f->cap.pkt[20] + 12), 21);
	assert_int_equal(one_flow_packet(f, NOW_MS), 0);

	/* templates sent on request, though not due, and lost */
	f->cap.fail = 1;
	assert_int_equal(nf9_send_templates(&f->s, &clk), -EIO);
	f->cap.fail = 0;
	assert_int_equal(one_flow_packet(f, NOW_MS), TEMPLATE_SETS);
}

/* The error of a packet pushed out by a new record reaches the caller. */
static void test_emit_failure_on_add(void **state)
{
	struct fixture *f = *state;
	struct nf9_config cfg = { .max_payload = MIN_PAYLOAD };
	struct nf9_clock clk = clock_at(NOW_MS);
	struct flow_record r = ipv6_flow();

	assert_int_equal(nf9_stream_init(&f->s, &cfg, capture_emit, &f->cap), 0);
	assert_int_equal(nf9_add_flow(&f->s, &r, &clk), 0);
	f->cap.fail = 1;
	assert_int_equal(nf9_add_flow(&f->s, &r, &clk), -EIO);
	f->cap.fail = 0;
	assert_int_equal(nf9_flush(&f->s, &clk), 0);
	assert_int_equal(f->cap.n, 1);
	assert_int_equal(be32(f->cap.pkt[0] + 12), 1);
	assert_int_equal(parse_packet(f->cap.pkt[0], f->cap.len[0]).v6, 1);
}

static void test_flush_empty_sends_nothing(void **state)
{
	struct fixture *f = *state;
	struct nf9_clock clk = clock_at(NOW_MS);

	assert_int_equal(nf9_flush(&f->s, &clk), 0);
	assert_int_equal(f->cap.n, 0);
	assert_int_equal(f->s.sequence, 0);
}

static void test_init_checks_payload(void **state)
{
	struct fixture *f = *state;
	struct nf9_config cfg = { 0 };

	cfg.max_payload = MIN_PAYLOAD - 1;
	assert_int_equal(nf9_stream_init(&f->s, &cfg, capture_emit, &f->cap), -EINVAL);
	cfg.max_payload = MIN_PAYLOAD;
	assert_int_equal(nf9_stream_init(&f->s, &cfg, capture_emit, &f->cap), 0);
	cfg.max_payload = NF9_PAYLOAD_LIMIT + 1;
	assert_int_equal(nf9_stream_init(&f->s, &cfg, capture_emit, &f->cap), -EINVAL);
	cfg.max_payload = NF9_PAYLOAD_LIMIT;
	assert_int_equal(nf9_stream_init(&f->s, &cfg, capture_emit, &f->cap), 0);
	assert_int_equal(nf9_stream_init(&f->s, NULL, capture_emit, &f->cap), 0);
	assert_int_equal(f->s.cfg.max_payload, NF9_DEFAULT_MAX_PAYLOAD);
	assert_int_equal(f->s.cfg.refresh_packets, NF9_DEFAULT_REFRESH_PACKETS);
	assert_int_equal(f->s.cfg.refresh_ms, NF9_DEFAULT_REFRESH_MS);
}

/* Field 95 of a flow: engine 22 (nDPI), selector 37 for BitTorrent, else 0. */
static void test_application_id_of_flows(void **state)
{
	static const uint8_t bittorrent[5] = { 0x16, 0x00, 0x00, 0x00, 0x25 };
	static const uint8_t unclassified[5] = { 0 };
	static const struct {
		uint8_t app;
		const uint8_t *want;
	} cases[] = {
		{ APP_BITTORRENT, bittorrent },
		{ APP_UNKNOWN, unclassified },
		{ 200, unclassified }, /* an app the encoder cannot name */
	};
	struct fixture *f = *state;
	struct nf9_clock clk = clock_at(NOW_MS);

	assert_int_equal(nf9_application_id(APP_BITTORRENT), 0x1600000025ULL);
	assert_int_equal(nf9_application_id(APP_UNKNOWN), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct flow_record r = ipv4_flow();
		const uint8_t *rec;

		r.app = cases[i].app;
		rec = flush_one_v4(f, &r, &clk);
		assert_memory_equal(rec + V4_APPLICATION_ID, cases[i].want, 5);
		/* the field before it is untouched: flowEndMilliseconds */
		assert_int_equal(be64(rec + V4_APPLICATION_ID - 8), r.last_ms);
	}
}

/* Where the application names start in expected_templates_packet. */
#define APPS_SET_OFFSET (HDR_LEN + TEMPLATES_LEN - SET_LEN(1, APP_REC_LEN))

/*
 * The names travel with every set of templates (start, refresh by count
 * and by time, a new uptime base) and never without them, each time after
 * the options template that describes them, with the stream's source id
 * as their System scope.
 */
static void test_app_names_with_every_template(void **state)
{
	struct fixture *f = *state;
	struct nf9_config cfg = { .source_id = 99 };
	int with = 0, at[4] = { 0 };

	assert_int_equal(nf9_stream_init(&f->s, &cfg, capture_emit, &f->cap), 0);
	for (int i = 0; i < 55; i++)
		one_flow_packet(f, NOW_MS + (i >= 30 ? 70000 : 0));
	for (int i = 0; i < f->cap.n; i++) {
		const uint8_t *pkt = f->cap.pkt[i];
		struct parsed p = parse_packet(pkt, f->cap.len[i]);
		size_t off = HDR_LEN, tpl_at = 0, data_at = 0;

		if (!p.template_sets) {
			assert_int_equal(p.apps, 0);
			continue;
		}
		assert_true(with < 4);
		at[with++] = i;
		assert_int_equal(p.apps, 1);
		assert_int_equal(be32(p.first_app), 99); /* scope System */
		assert_memory_equal(p.first_app + 4,
				    expected_templates_packet + APPS_SET_OFFSET + 8,
				    APP_REC_LEN - 4);
		while (off < f->cap.len[i]) {
			uint16_t id = be16(pkt + off);

			if (id == 1 && be16(pkt + off + 4) == NF9_TEMPLATE_APPS)
				tpl_at = off;
			if (id == NF9_TEMPLATE_APPS)
				data_at = off;
			off += be16(pkt + off + 2);
		}
		assert_true(tpl_at && data_at > tpl_at);
	}
	/* packets 1, 21 (by count), 31 (by time: 70 s later), 51 (count) */
	assert_int_equal(with, 4);
	assert_int_equal(at[0], 0);
	assert_int_equal(at[1], 20);
	assert_int_equal(at[2], 30);
	assert_int_equal(at[3], 50);
}

/* The application names set alone, as the first packet carries it. */
static void test_app_names_bytes(void **state)
{
	struct fixture *f = *state;
	struct nf9_clock clk = clock_at(NOW_MS);
	struct parsed p;

	assert_int_equal(nf9_send_templates(&f->s, &clk), 0);
	p = parse_packet(f->cap.pkt[0], f->cap.len[0]);
	assert_int_equal(p.apps, 1);
	assert_ptr_equal(p.first_app - 4, f->cap.pkt[0] + APPS_SET_OFFSET);
	assert_memory_equal(f->cap.pkt[0] + APPS_SET_OFFSET,
			    expected_templates_packet + APPS_SET_OFFSET, SET_LEN(1, APP_REC_LEN));
	/* name and description are NUL terminated inside their fields */
	assert_string_equal((const char *)p.first_app + 9, "BitTorrent");
	assert_string_equal((const char *)p.first_app + 9 + 24, "Peer-to-peer file sharing");
}

static void test_rejects_unknown_ip_version(void **state)
{
	struct fixture *f = *state;
	struct nf9_clock clk = clock_at(NOW_MS);
	struct flow_record r = ipv4_flow();

	r.key.ip_version = 5;
	assert_int_equal(nf9_add_flow(&f->s, &r, &clk), -EINVAL);
	assert_int_equal(nf9_flush(&f->s, &clk), 0);
	assert_int_equal(f->cap.n, 0);
}

/* ---- AS numbers and the reset templates (260/261) ---------------------- */

static const struct nf9_config features_cfg = {
	.source_id = 0x01020304,
	.as_numbers = true,
	.reset_verdicts = true,
};

/* Where the IPv4/IPv6 template records sit in expected_templates_packet. */
#define TPL_V4_OFFSET (HDR_LEN + 4)
#define TPL_V6_OFFSET (TPL_V4_OFFSET + 4 + 23 * 4)
#define TPL_FIELDS_LEN (23 * 4)

/*
 * The template FlowSet with both features: 256 and 257 grow SRC_AS and
 * DST_AS at the end; 260 and 261 are those plus the private verdict
 * field 21075 (0x5253), 1 byte. Byte for byte: the 23 fields before come
 * from expected_templates_packet.
 */
static void test_feature_templates_bytes(void **state)
{
	static const uint8_t as_fields[] = {
		0x00, 0x10, 0x00, 0x04, /* SRC_AS, 4 bytes */
		0x00, 0x11, 0x00, 0x04, /* DST_AS, 4 bytes */
	};
	static const uint8_t verdict_field[] = {
		0x52, 0x53, 0x00, 0x01, /* 21075: reset verdict, 1 byte */
	};
	static const struct {
		uint16_t id, fields;
		int v6, verdict;
	} tpl[] = {
		{ 256, 25, 0, 0 },
		{ 257, 25, 1, 0 },
		{ 260, 26, 0, 1 },
		{ 261, 26, 1, 1 },
	};
	struct fixture *f = *state;
	struct nf9_clock clk = clock_at(NOW_MS);
	const uint8_t *pkt, *p;
	size_t set_len = 4 + 2 * (4 + 25 * 4) + 2 * (4 + 26 * 4);

	assert_int_equal(nf9_stream_init(&f->s, &features_cfg, capture_emit, &f->cap), 0);
	assert_int_equal(nf9_send_templates(&f->s, &clk), 0);
	pkt = f->cap.pkt[0];
	assert_int_equal(be16(pkt + 2), TEMPLATE_RECORDS + 2);
	assert_int_equal(be16(pkt + HDR_LEN), 0);
	assert_int_equal(be16(pkt + HDR_LEN + 2), set_len); /* 428: no padding */
	p = pkt + HDR_LEN + 4;
	for (size_t i = 0; i < 4; i++) {
		const uint8_t *base =
			expected_templates_packet + (tpl[i].v6 ? TPL_V6_OFFSET : TPL_V4_OFFSET) + 4;

		assert_int_equal(be16(p), tpl[i].id);
		assert_int_equal(be16(p + 2), tpl[i].fields);
		assert_memory_equal(p + 4, base, TPL_FIELDS_LEN);
		assert_memory_equal(p + 4 + TPL_FIELDS_LEN, as_fields, sizeof(as_fields));
		p += 4 + TPL_FIELDS_LEN + sizeof(as_fields);
		if (tpl[i].verdict) {
			assert_memory_equal(p, verdict_field, sizeof(verdict_field));
			p += sizeof(verdict_field);
		}
	}
	/* the options templates and names follow, unchanged */
	assert_memory_equal(p, expected_templates_packet + TPL_V6_OFFSET + 4 + TPL_FIELDS_LEN,
			    TEMPLATES_LEN - 196);
	assert_int_equal(f->cap.len[0], HDR_LEN + set_len + TEMPLATES_LEN - 196);
}

/* Only the reset templates, without AS numbers: 24 fields each. */
static void test_reset_templates_without_as(void **state)
{
	struct fixture *f = *state;
	struct nf9_config cfg = { .source_id = 1, .reset_verdicts = true };
	struct nf9_clock clk = clock_at(NOW_MS);
	const uint8_t *p;

	assert_int_equal(nf9_stream_init(&f->s, &cfg, capture_emit, &f->cap), 0);
	assert_int_equal(nf9_send_templates(&f->s, &clk), 0);
	p = f->cap.pkt[0] + HDR_LEN;
	assert_int_equal(be16(p + 2), 4 + 2 * (4 + 23 * 4) + 2 * (4 + 24 * 4));
	p += 4 + 2 * (4 + 23 * 4);
	assert_int_equal(be16(p), 260);
	assert_int_equal(be16(p + 2), 24);
	assert_int_equal(be16(p + 4 + 23 * 4), 21075);
}

/*
 * Inline (next_hops): 256 and 257 end with IPV4_NEXT_HOP (15, 4 bytes) and
 * IPV6_NEXT_HOP (62, 16 bytes); each record carries its egress ifindex in
 * OUTPUT_SNMP (offset 35 in IPv4 records, 59 in IPv6 ones) and its next
 * hop after APPLICATION_ID. Without next_hops (tap) neither template has
 * a next hop (test_templates_bytes) and OUTPUT_SNMP is the record's 0.
 */
static void test_next_hop_templates_and_records(void **state)
{
	static const uint8_t v4_nh[] = { 10, 0, 2, 1 };
	static const uint8_t v6_nh[] = { 0xfd, 0, 0, 2, [15] = 1 };
	struct fixture *f = *state;
	struct nf9_config cfg = { .source_id = 1, .next_hops = true };
	struct nf9_clock clk = clock_at(NOW_MS);
	struct flow_record v4 = ipv4_flow(), v6 = ipv6_flow();
	const uint8_t *p, *set;

	v4.out_ifindex = 0x0a0b0c0d;
	memcpy(v4.next_hop, v4_nh, sizeof(v4_nh));
	v6.out_ifindex = 3;
	memcpy(v6.next_hop, v6_nh, sizeof(v6_nh));
	assert_int_equal(nf9_stream_init(&f->s, &cfg, capture_emit, &f->cap), 0);
	assert_int_equal(nf9_add_flow(&f->s, &v4, &clk), 0);
	assert_int_equal(nf9_add_flow(&f->s, &v6, &clk), 0);
	assert_int_equal(nf9_flush(&f->s, &clk), 0);
	p = f->cap.pkt[0] + HDR_LEN + 4;
	assert_int_equal(be16(p), 256);
	assert_int_equal(be16(p + 2), 24);
	assert_int_equal(be16(p + 4 + 23 * 4), 15);
	assert_int_equal(be16(p + 4 + 23 * 4 + 2), 4);
	p += 4 + 24 * 4;
	assert_int_equal(be16(p), 257);
	assert_int_equal(be16(p + 2), 24);
	assert_int_equal(be16(p + 4 + 23 * 4), 62);
	assert_int_equal(be16(p + 4 + 23 * 4 + 2), 16);
	/* the data FlowSets follow the templates that precede them */
	set = f->cap.pkt[0] + f->cap.len[0] - (4 + V6_REC_LEN + 16 + 3) - (4 + V4_REC_LEN + 4 + 3);
	assert_int_equal(be16(set), 256);
	assert_int_equal(be16(set + 2), 88); /* 4 + 81, padded by 3 */
	assert_int_equal(be32(set + 4 + 35), 0x0a0b0c0d);
	assert_memory_equal(set + 4 + V4_REC_LEN, v4_nh, sizeof(v4_nh));
	set += 88;
	assert_int_equal(be16(set), 257);
	assert_int_equal(be16(set + 2), 124); /* 4 + 117, padded by 3 */
	assert_int_equal(be32(set + 4 + 59), 3);
	assert_memory_equal(set + 4 + V6_REC_LEN, v6_nh, sizeof(v6_nh));
}

/* IPv4 record of a forged connection: 77 + 4 + 4 + 1 bytes, 2 padding. */
static void test_reset_record_bytes(void **state)
{
	struct fixture *f = *state;
	struct nf9_clock clk = clock_at(NOW_MS);
	struct flow_record r = ipv4_flow();
	const uint8_t *set;
	size_t tpl_len;

	r.src_as = 64500;
	r.dst_as = 0x01020304;
	r.reset_verdict = FLOW_RESET_FORGED;
	assert_int_equal(nf9_stream_init(&f->s, &features_cfg, capture_emit, &f->cap), 0);
	assert_int_equal(nf9_add_flow(&f->s, &r, &clk), 0);
	assert_int_equal(nf9_flush(&f->s, &clk), 0);
	tpl_len = 428 + TEMPLATES_LEN - 196;
	set = f->cap.pkt[0] + HDR_LEN + tpl_len;
	assert_int_equal(f->cap.len[0], HDR_LEN + tpl_len + 92);
	assert_int_equal(be16(f->cap.pkt[0] + 2), TEMPLATE_RECORDS + 2 + 1);
	assert_int_equal(be16(set), NF9_TEMPLATE_RESET_V4);
	assert_int_equal(be16(set + 2), 92); /* 4 + 86, padded by 2 */
	assert_memory_equal(set + 4, expected_ipv4_set + 4, V4_REC_LEN);
	assert_int_equal(be32(set + 4 + V4_REC_LEN), 64500); /* SRC_AS */
	assert_int_equal(be32(set + 4 + V4_REC_LEN + 4), 0x01020304); /* DST_AS */
	assert_int_equal(set[4 + V4_REC_LEN + 8], 3); /* forged */
	assert_int_equal(set[4 + V4_REC_LEN + 9], 0); /* padding */
	assert_int_equal(set[4 + V4_REC_LEN + 10], 0);
}

/*
 * Records with and without verdicts, both families: each goes to its own
 * FlowSet, every FlowSet padded by less than one record, the lengths
 * tile the packet, and a record without a verdict (or a stream with the
 * templates off) carries none.
 */
static void test_reset_sets_and_padding(void **state)
{
	static const struct {
		uint16_t id;
		size_t rec;
		int n;
	} want[] = {
		{ 260, 86, 3 }, /* 4 + 258 -> 264 */
		{ 256, 85, 1 }, /* 4 + 85 -> 92 */
		{ 261, 110, 2 }, /* 4 + 220 -> 224 */
		{ 257, 109, 1 }, /* 4 + 109 -> 116 */
	};
	struct fixture *f = *state;
	struct nf9_clock clk = clock_at(NOW_MS);
	struct flow_record v4 = ipv4_flow(), v6 = ipv6_flow();
	const uint8_t *pkt;
	size_t off;

	assert_int_equal(nf9_stream_init(&f->s, &features_cfg, capture_emit, &f->cap), 0);
	assert_int_equal(nf9_send_templates(&f->s, &clk), 0);
	v4.reset_verdict = FLOW_RESET_SUSPECT;
	v6.reset_verdict = FLOW_RESET_GENUINE;
	for (int i = 0; i < 3; i++)
		assert_int_equal(nf9_add_flow(&f->s, &v4, &clk), 0);
	v4.reset_verdict = FLOW_RESET_NONE;
	assert_int_equal(nf9_add_flow(&f->s, &v4, &clk), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(nf9_add_flow(&f->s, &v6, &clk), 0);
	v6.reset_verdict = FLOW_RESET_NONE;
	assert_int_equal(nf9_add_flow(&f->s, &v6, &clk), 0);
	assert_int_equal(nf9_flush(&f->s, &clk), 0);
	assert_int_equal(f->cap.n, 2);
	pkt = f->cap.pkt[1];
	assert_int_equal(be16(pkt + 2), 7);
	off = HDR_LEN;
	for (size_t i = 0; i < 4; i++) {
		size_t body = want[i].n * want[i].rec;
		size_t len = be16(pkt + off + 2);

		assert_int_equal(be16(pkt + off), want[i].id);
		assert_int_equal(len % 4, 0);
		assert_true(len - 4 >= body && len - 4 - body < 4);
		assert_true(len - 4 - body < want[i].rec);
		for (size_t b = 4 + body; b < len; b++)
			assert_int_equal(pkt[off + b], 0);
		if (want[i].id >= 260) /* the verdict closes each record */
			assert_int_equal(pkt[off + 4 + want[i].rec - 1], want[i].id == 260 ? 2 : 1);
		off += len;
	}
	assert_int_equal(off, f->cap.len[1]);

	/* switched off: the verdict record goes out in 256, without it */
	{
		struct nf9_config off_cfg = features_cfg;

		off_cfg.reset_verdicts = false;
		assert_int_equal(nf9_stream_init(&f->s, &off_cfg, capture_emit, &f->cap), 0);
		f->cap.n = 0;
		v4.reset_verdict = FLOW_RESET_FORGED;
		assert_int_equal(nf9_add_flow(&f->s, &v4, &clk), 0);
		assert_int_equal(nf9_flush(&f->s, &clk), 0);
		pkt = f->cap.pkt[0];
		off = HDR_LEN + 4 + 2 * (4 + 25 * 4) + TEMPLATES_LEN - 196;
		assert_int_equal(be16(pkt + 2), TEMPLATE_RECORDS + 1);
		assert_int_equal(be16(pkt + off), 256);
		assert_int_equal(be16(pkt + off + 2), 92); /* 4 + 85 + 3 */
	}
}

/* The smallest payload grows with the templates and the longest record. */
static void test_feature_min_payload(void **state)
{
	struct fixture *f = *state;
	struct nf9_config cfg = features_cfg;
	size_t min = HDR_LEN + 428 + TEMPLATES_LEN - 196 + SET_LEN(1, 110);

	cfg.max_payload = min - 1;
	assert_int_equal(nf9_stream_init(&f->s, &cfg, capture_emit, &f->cap), -EINVAL);
	cfg.max_payload = min;
	assert_int_equal(nf9_stream_init(&f->s, &cfg, capture_emit, &f->cap), 0);
}

/*
 * Wireshark's cflow dissector reads the new templates and records: a
 * pcap of the two export packets (templates, then flows of both
 * families with and without verdicts) decodes with no malformed packet
 * or expert warning, shows SRC_AS/DST_AS and the verdict field. Skipped
 * when tshark is not installed.
 */
static void write_pcap(FILE *out, struct capture *cap)
{
	static const uint8_t udp_eth_ip[] = {
		0, 0, 0, 0,    0, 2,  0,  0, 0, 0,   0, 1, 0x08, 0x00, 0x45, 0, 0,
		0, 0, 0, 0x40, 0, 64, 17, 0, 0, 127, 0, 0, 1,	 127,  0,    0, 1,
	};
	uint32_t ghdr[6] = { 0xa1b2c3d4, 0x00040002, 0, 0, 65535, 1 };

	fwrite(ghdr, 4, 6, out);
	for (int i = 0; i < cap->n; i++) {
		uint8_t frame[14 + 20 + 8 + NF9_PAYLOAD_LIMIT];
		size_t ip_len = 20 + 8 + cap->len[i], len = 14 + ip_len;
		uint32_t rec[4] = { 1700000000 + i, 0, len, len };
		uint32_t sum = 0;

		memcpy(frame, udp_eth_ip, sizeof(udp_eth_ip));
		frame[16] = ip_len >> 8;
		frame[17] = ip_len & 0xff;
		for (int w = 0; w < 10; w++)
			sum += be16(frame + 14 + 2 * w);
		sum = (sum & 0xffff) + (sum >> 16);
		sum = ~((sum & 0xffff) + (sum >> 16)) & 0xffff;
		frame[24] = sum >> 8;
		frame[25] = sum & 0xff;
		frame[34] = 40000 >> 8;
		frame[35] = 40000 & 0xff; /* sport */
		frame[36] = 2055 >> 8;
		frame[37] = 2055 & 0xff; /* dport */
		frame[38] = (8 + cap->len[i]) >> 8;
		frame[39] = (8 + cap->len[i]) & 0xff;
		frame[40] = frame[41] = 0; /* no checksum */
		memcpy(frame + 42, cap->pkt[i], cap->len[i]);
		fwrite(rec, 4, 4, out);
		fwrite(frame, 1, len, out);
	}
}

static void skip_without_tshark(void)
{
	if (system("command -v tshark >/dev/null 2>&1") != 0)
		skip();
}

/* The captured export packets as a pcap file at path (a mkstemp template). */
static void save_pcap(struct capture *cap, char *path)
{
	int fd = mkstemp(path);
	FILE *out = fd >= 0 ? fdopen(fd, "w") : NULL;

	assert_non_null(out);
	write_pcap(out, cap);
	fclose(out);
}

static void test_tshark_decodes_new_templates(void **state)
{
	struct fixture *f = *state;
	struct nf9_clock clk = clock_at(NOW_MS);
	struct flow_record v4 = ipv4_flow(), v6 = ipv6_flow();
	char path[] = "/tmp/test_netflow9_XXXXXX", cmd[512], line[512];
	int unknown = 0, malformed = 0, src_as = 0, verdicts = 0;
	FILE *p;

	skip_without_tshark();
	assert_int_equal(nf9_stream_init(&f->s, &features_cfg, capture_emit, &f->cap), 0);
	assert_int_equal(nf9_send_templates(&f->s, &clk), 0);
	v4.src_as = 64500;
	v4.reset_verdict = FLOW_RESET_FORGED;
	v6.dst_as = 64501;
	v6.reset_verdict = FLOW_RESET_SUSPECT;
	assert_int_equal(nf9_add_flow(&f->s, &v4, &clk), 0);
	assert_int_equal(nf9_add_flow(&f->s, &v6, &clk), 0);
	v4.reset_verdict = v6.reset_verdict = FLOW_RESET_NONE;
	assert_int_equal(nf9_add_flow(&f->s, &v4, &clk), 0);
	assert_int_equal(nf9_add_flow(&f->s, &v6, &clk), 0);
	assert_int_equal(nf9_flush(&f->s, &clk), 0);
	save_pcap(&f->cap, path);

	snprintf(cmd, sizeof(cmd), "tshark -n -r %s -d udp.port==2055,cflow -V 2>&1", path);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p)) {
		if (strstr(line, "Malformed") || strstr(line, "Expert Info"))
			malformed++;
		if (strstr(line, "21075"))
			unknown++;
		if (strstr(line, "SrcAS: 64500"))
			src_as++;
		if (strstr(line, "Type 21075: Value (hex bytes): 03") ||
		    strstr(line, "Type 21075: Value (hex bytes): 02"))
			verdicts++;
	}
	pclose(p);
	if (!getenv("KEEP_PCAP"))
		unlink(path);
	if (malformed)
		fail_msg("tshark found %d malformed or expert lines (%s)", malformed, cmd);
	/* named in each reset template, and in each of their records */
	assert_true(unknown >= 4);
	assert_int_equal(verdicts, 2); /* forged (3) in 260, suspect (2) in 261 */
	assert_int_equal(src_as, 2); /* the IPv4 flow, in 260 and in 256 */
}


/* ---- the encapsulation templates (262/263) ----------------------------- */

static const uint8_t encap_field_specs[] = {
	0x00, 0x46, 0x00, 0x03, /* MPLS_LABEL_1, 3 bytes */
	0x00, 0xf5, 0x00, 0x02, /* 245 dot1qCustomerVlanId, 2 bytes */
	0x52, 0x57, 0x00, 0x01, /* 21079: tunnel type, 1 byte */
	0x52, 0x58, 0x00, 0x01, /* 21080: encapsulation bits, 1 byte */
};

/* The flow, come by a GRE tunnel with MPLS label 100 (TC 5, bottom of
 * stack, TTL 64) under it, in QinQ with inner VLAN 20. */
static struct flow_record encapsulated(struct flow_record r)
{
	r.mpls_label = 100 << 12 | 5 << 9 | 1 << 8 | 64;
	r.inner_vlan = 20;
	r.tunnel = TUN_GRE;
	r.encap = ENCAP_MPLS;
	return r;
}

/* Template 262 or 263 at p: 256's or 257's fields, then the four. */
static void assert_encap_template(const uint8_t *p, uint16_t id, size_t base_offset)
{
	assert_int_equal(be16(p), id);
	assert_int_equal(be16(p + 2), 23 + 4);
	assert_memory_equal(p + 4, expected_templates_packet + base_offset + 4, TPL_FIELDS_LEN);
	assert_memory_equal(p + 4 + TPL_FIELDS_LEN, encap_field_specs, sizeof(encap_field_specs));
}

/*
 * Plain flows never bring the encapsulation templates; the first
 * encapsulated flow does, in a template FlowSet of its own before its
 * record, and every refresh of the templates after it carries them.
 * Byte for byte: the record is 256's, then 00 06 4b (label 100 << 4 |
 * TC 5 << 1 | S), 00 14 (VLAN 20), 02 (GRE), 02 (MPLS).
 */
static void test_encap_templates_bytes(void **state)
{
	static const uint8_t encap_tail[] = { 0x00, 0x06, 0x4b, 0x00, 0x14, 0x02, 0x02 };
	struct fixture *f = *state;
	struct nf9_clock clk = clock_at(NOW_MS);
	struct flow_record plain = ipv4_flow(), enc = encapsulated(ipv4_flow());
	struct parsed got;
	const uint8_t *pkt, *set;

	assert_int_equal(nf9_add_flow(&f->s, &plain, &clk), 0);
	assert_int_equal(nf9_flush(&f->s, &clk), 0);
	got = parse_packet(f->cap.pkt[0], f->cap.len[0]);
	assert_int_equal(got.template_sets, TEMPLATE_SETS);
	assert_int_equal(f->cap.len[0], HDR_LEN + TEMPLATES_LEN + SET_LEN(1, V4_REC_LEN));

	assert_int_equal(nf9_add_flow(&f->s, &enc, &clk), 0);
	assert_int_equal(nf9_add_flow(&f->s, &plain, &clk), 0);
	assert_int_equal(nf9_flush(&f->s, &clk), 0);
	pkt = f->cap.pkt[1];
	got = parse_packet(pkt, f->cap.len[1]);
	assert_int_equal(got.template_sets, 1);
	assert_int_equal(got.encap, 1);
	assert_int_equal(got.v4, 1);
	assert_int_equal(be16(pkt + 2), 2 + 2);
	assert_int_equal(f->cap.len[1], HDR_LEN + ENCAP_TPL_SET_LEN +
						SET_LEN(1, V4_REC_LEN + ENCAP_REC_EXTRA) +
						SET_LEN(1, V4_REC_LEN));
	set = pkt + HDR_LEN;
	assert_int_equal(be16(set), 0);
	assert_int_equal(be16(set + 2), ENCAP_TPL_SET_LEN);
	assert_encap_template(set + 4, NF9_TEMPLATE_ENCAP_V4, TPL_V4_OFFSET);
	assert_encap_template(set + 4 + 4 + 27 * 4, NF9_TEMPLATE_ENCAP_V6, TPL_V6_OFFSET);
	set += ENCAP_TPL_SET_LEN;
	assert_int_equal(be16(set), NF9_TEMPLATE_ENCAP_V4);
	assert_int_equal(be16(set + 2), SET_LEN(1, V4_REC_LEN + ENCAP_REC_EXTRA));
	assert_memory_equal(set + 4, expected_ipv4_set + 4, V4_REC_LEN);
	assert_memory_equal(set + 4 + V4_REC_LEN, encap_tail, sizeof(encap_tail));
	set += SET_LEN(1, V4_REC_LEN + ENCAP_REC_EXTRA);
	assert_memory_equal(set, expected_ipv4_set, sizeof(expected_ipv4_set));

	/* a refresh: every template, the encapsulation ones last */
	assert_int_equal(nf9_send_templates(&f->s, &clk), 0);
	pkt = f->cap.pkt[2];
	got = parse_packet(pkt, f->cap.len[2]);
	assert_int_equal(got.template_sets, TEMPLATE_SETS + 1);
	assert_int_equal(be16(pkt + 2), TEMPLATE_RECORDS + 2);
	assert_int_equal(f->cap.len[2], HDR_LEN + TEMPLATES_LEN + ENCAP_TPL_SET_LEN);
	assert_memory_equal(pkt + HDR_LEN + TEMPLATES_LEN, f->cap.pkt[1] + HDR_LEN,
			    ENCAP_TPL_SET_LEN);
}

/* With the reset templates on, 262/263 hold the verdict too (0: none). */
static void test_encap_templates_with_verdicts(void **state)
{
	struct fixture *f = *state;
	struct nf9_clock clk = clock_at(NOW_MS);
	struct flow_record enc = encapsulated(ipv6_flow());
	const uint8_t *set;
	size_t rec = V6_REC_LEN + 8 + 1 + ENCAP_REC_EXTRA; /* AS, verdict */

	assert_int_equal(nf9_stream_init(&f->s, &features_cfg, capture_emit, &f->cap), 0);
	assert_int_equal(nf9_add_flow(&f->s, &enc, &clk), 0);
	enc.reset_verdict = FLOW_RESET_FORGED;
	assert_int_equal(nf9_add_flow(&f->s, &enc, &clk), 0);
	assert_int_equal(nf9_flush(&f->s, &clk), 0);
	assert_int_equal(f->cap.n, 1);
	set = f->cap.pkt[0] + f->cap.len[0] - SET_LEN(2, rec);
	assert_int_equal(be16(set), NF9_TEMPLATE_ENCAP_V6);
	assert_int_equal(be16(set + 2), SET_LEN(2, rec));
	assert_int_equal(set[4 + V6_REC_LEN + 8], 0); /* no verdict */
	assert_int_equal(set[4 + rec + V6_REC_LEN + 8], 3); /* forged */
	assert_int_equal(be16(set + 4 + rec + V6_REC_LEN + 9 + 3), 20); /* inner VLAN */
}

/*
 * In the smallest packets the templates and the encapsulation templates
 * do not fit together: the latter go at the head of the next packet. Fed
 * a mix of everything, every data FlowSet comes after its template (in
 * the same packet or an earlier one), every refresh of the templates is
 * followed by the encapsulation ones in the same or the next packet, and
 * every record arrives.
 */
static void test_encap_templates_in_small_packets(void **state)
{
	struct fixture *f = *state;
	struct nf9_config cfg = { .max_payload = MIN_PAYLOAD };
	struct nf9_clock clk = clock_at(NOW_MS);
	struct probe_stats st = some_stats();
	bool known[300] = { false };
	int flows = 0, encap = 0, refresh_pending = 0, apart = 0;

	assert_int_equal(nf9_stream_init(&f->s, &cfg, capture_emit, &f->cap), 0);
	for (int i = 0; i < 120; i++) {
		struct flow_record r = i % 2 ? ipv4_flow() : ipv6_flow();

		if (i % 3 == 1)
			r = encapsulated(r);
		assert_int_equal(nf9_add_flow(&f->s, &r, &clk), 0);
		if (i % 50 == 0)
			assert_int_equal(nf9_add_stats(&f->s, &st, &clk), 0);
	}
	assert_int_equal(nf9_flush(&f->s, &clk), 0);
	for (int i = 0; i < f->cap.n; i++) {
		const uint8_t *pkt = f->cap.pkt[i];
		struct parsed p = parse_packet(pkt, f->cap.len[i]);
		bool main_tpl = false, encap_tpl = false;

		assert_true(f->cap.len[i] <= MIN_PAYLOAD);
		for (size_t off = HDR_LEN; off < f->cap.len[i]; off += be16(pkt + off + 2)) {
			uint16_t id = be16(pkt + off);

			if (id == 0) {
				uint16_t first = be16(pkt + off + 4);

				main_tpl |= first == NF9_TEMPLATE_FLOW_V4;
				encap_tpl |= first == NF9_TEMPLATE_ENCAP_V4;
				known[first] = known[first + 1] = true;
			} else if (id == 1) {
				known[be16(pkt + off + 4)] = true;
			} else {
				assert_true(known[id]);
			}
		}
		if (refresh_pending)
			assert_true(encap_tpl || main_tpl);
		if (main_tpl && !encap_tpl && known[NF9_TEMPLATE_ENCAP_V4])
			apart++;
		refresh_pending = main_tpl && !encap_tpl && known[NF9_TEMPLATE_ENCAP_V4];
		flows += p.v4 + p.v6 + p.encap;
		encap += p.encap;
	}
	assert_int_equal(flows, 120);
	assert_int_equal(encap, 40);
	assert_true(apart > 0); /* the case under test happened */
	assert_int_equal(refresh_pending, 0);
}

/* A packet with the encapsulation templates lost: the next has them again. */
static void test_encap_templates_after_emit_failure(void **state)
{
	struct fixture *f = *state;
	struct nf9_clock clk = clock_at(NOW_MS);
	struct flow_record plain = ipv4_flow(), enc = encapsulated(ipv4_flow());

	assert_int_equal(nf9_add_flow(&f->s, &plain, &clk), 0);
	assert_int_equal(nf9_flush(&f->s, &clk), 0);
	assert_int_equal(nf9_add_flow(&f->s, &enc, &clk), 0);
	f->cap.fail = 1;
	assert_int_equal(nf9_flush(&f->s, &clk), -EIO);
	f->cap.fail = 0;
	assert_int_equal(nf9_add_flow(&f->s, &enc, &clk), 0);
	assert_int_equal(nf9_flush(&f->s, &clk), 0);
	assert_int_equal(f->cap.n, 2);
	assert_int_equal(parse_packet(f->cap.pkt[1], f->cap.len[1]).template_sets, 1);
	assert_int_equal(be16(f->cap.pkt[1] + HDR_LEN + 4), NF9_TEMPLATE_ENCAP_V4);
}

/*
 * Wireshark decodes the encapsulation templates and records with no
 * malformed packet or expert warning, and reads the MPLS label and the
 * customer VLAN as such. Skipped when tshark is not installed.
 */
static void test_tshark_decodes_encap_templates(void **state)
{
	struct fixture *f = *state;
	struct nf9_clock clk = clock_at(NOW_MS);
	struct flow_record v4 = encapsulated(ipv4_flow()), v6 = encapsulated(ipv6_flow());
	char path[] = "/tmp/test_netflow9_XXXXXX", cmd[512], line[512];
	int bad = 0, labels = 0, vlans = 0, lines = 0;
	FILE *p;

	skip_without_tshark();
	assert_int_equal(nf9_add_flow(&f->s, &v4, &clk), 0);
	assert_int_equal(nf9_add_flow(&f->s, &v6, &clk), 0);
	assert_int_equal(nf9_flush(&f->s, &clk), 0);
	save_pcap(&f->cap, path);
	snprintf(cmd, sizeof(cmd),
		 "tshark -n -r %s -d udp.port==2055,cflow -T fields -E occurrence=a "
		 "-E aggregator=, -e _ws.expert -e _ws.malformed -e cflow.mpls_label "
		 "-e cflow.mpls_exp -e cflow.mpls_bos -e cflow.dot1q_customer_vlan_id 2>/dev/null",
		 path);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p)) {
		/* expert, malformed, label, exp, bos, vlan; empty when absent */
		char *col[6] = { 0 }, *rest = line;

		line[strcspn(line, "\n")] = 0;
		for (int c = 0; c < 6; c++)
			col[c] = strsep(&rest, "\t");
		if (!col[5]) {
			bad++;
			continue;
		}
		lines++;
		if (col[0][0] || col[1][0])
			bad++;
		labels += strcmp(col[2], "100,100") == 0 && strcmp(col[3], "5,5") == 0 &&
			  strcmp(col[4], "1,1") == 0;
		vlans += strcmp(col[5], "20,20") == 0;
	}
	pclose(p);
	if (!getenv("KEEP_PCAP"))
		unlink(path);
	if (bad)
		fail_msg("tshark: %d lines with an expert item or not decoded (%s)", bad, cmd);
	assert_int_equal(lines, f->cap.n); /* one packet, both records */
	assert_int_equal(labels, 1);
	assert_int_equal(vlans, 1);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

/* The lower bound both encoders size their queues by, worked by hand:
 * templates together with records; templates apart when they do not fit
 * with a record; never less than one. */
static void test_min_flows_per_message(void **state)
{
	(void)state;
	/* 20 + 100 + 50 = 170 used, (1400 - 170) / 60 = 20 */
	assert_int_equal(ff_min_flows_per_message(20, 100, 50, 60, 1400), 20);
	/* 170 + 60 > 200: the larger set alone, 20 + 100, (200 - 120) / 60 = 1 */
	assert_int_equal(ff_min_flows_per_message(20, 100, 50, 60, 200), 1);
	/* 20 + 100 + 0 = 120, (300 - 120) / 60 = 3 */
	assert_int_equal(ff_min_flows_per_message(20, 100, 0, 60, 300), 3);
	/* nothing fits beside the templates: still one */
	assert_int_equal(ff_min_flows_per_message(20, 100, 50, 60, 100), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_template_packet_bytes),
		T(test_min_flows_per_message),
		T(test_ipv4_record_bytes),
		T(test_ipv6_record_bytes),
		T(test_stats_record_padded),
		T(test_padding_between_sets),
		T(test_sequence_per_packet),
		T(test_sequence_per_stream),
		T(test_refresh_by_count),
		T(test_refresh_by_count_configured),
		T(test_refresh_by_time),
		T(test_mtu_split_default),
		T(test_mtu_split_small),
		T(test_mtu_split_minimum),
		T(test_mtu_exact_fit),
		T(test_mtu_counts_padding_of_left_set),
		T(test_uptime_from_clock),
		T(test_uptime_wrap),
		T(test_header_stamp_whole_second),
		T(test_new_uptime_base),
		T(test_next_uptime_base),
		T(test_icmp_type_only_for_icmp),
		T(test_icmpv6_in_ipv6_record),
		T(test_emit_failure),
		T(test_emit_failure_of_refresh),
		T(test_emit_failure_on_add),
		T(test_flush_empty_sends_nothing),
		T(test_init_checks_payload),
		T(test_rejects_unknown_ip_version),
		T(test_application_id_of_flows),
		T(test_app_names_with_every_template),
		T(test_app_names_bytes),
		T(test_feature_templates_bytes),
		T(test_reset_templates_without_as),
		T(test_next_hop_templates_and_records),
		T(test_reset_record_bytes),
		T(test_reset_sets_and_padding),
		T(test_feature_min_payload),
		T(test_tshark_decodes_new_templates),
		T(test_encap_templates_bytes),
		T(test_encap_templates_with_verdicts),
		T(test_encap_templates_in_small_packets),
		T(test_encap_templates_after_emit_failure),
		T(test_tshark_decodes_encap_templates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
