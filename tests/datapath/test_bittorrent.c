/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Unit tests of the datapath's BitTorrent recognition (bpf/bittorrent.bpf.h)
 * through BPF_PROG_TEST_RUN. Why: a signature that matches too little
 * misses the customers the probe exists to find, one that matches too much
 * accuses ordinary traffic; both are only visible byte by byte. So each
 * signature has positive frames (IPv4 and IPv6) and the near misses that
 * must not match, and each case checks the flow's app, CNT_BT_FLOWS and
 * the event read back from the event ring (type, kind, key, time, and the
 * handshake's reserved bytes and info_hash). Beyond the table: the
 * inspection window (INSPECT_PACKETS), the next table generation, a full
 * event ring, what the known-peers LRU holds, and the real captures of
 * ../shared/pcaps/ndpi replayed through the program (every flow of the
 * BitTorrent captures recognised, none of the others). Needs root (loads
 * BPF programs); runs on CPU 0.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <cmocka.h>

#include "datapath/capture.h"
#include "flowprobe.h"
#include "flowprobe.skel.h"
#include "datapath/probe.h"
#include "packet_builder.h"
#include "datapath_fixture.h"

#define CLOCK_NS 1700000000123456789ull /* replay clock during the cases */

/* ---- payloads ------------------------------------------------------------ */

/* A string literal's bytes, without its NUL; an array's bytes. */
#define STR(s) .data = (s), .payload = sizeof(s) - 1
#define BIN(a) .data = (a), .payload = sizeof(a)

/* BEP 3 handshake as qBittorrent sends it (reserved: extension protocol,
 * DHT, fast extension), with the info_hash of nDPI's bittorrent.pcap. */
#define HS_RESERVED "\x00\x00\x00\x00\x00\x10\x00\x05"
#define HS_HASH                                    \
	"\xdc\xfc\xdc\xcf\xb9\xe6\x70\xcc\xc3\xdd" \
	"\x40\xc7\x8c\x16\x1f\x2b\xea\x24\x31\x26"
#define HS_PEER "-qB4250-0123456789ab"
#define HS_FACTS HS_RESERVED HS_HASH

static const char HS[] = "\x13"
			 "BitTorrent protocol" HS_RESERVED HS_HASH HS_PEER;
static const char HS_WRONG_BYTE[] = "\x13"
				    "BitTorrent protocoL" HS_RESERVED HS_HASH;
static const char HS_PSTRLEN_12[] = "\x12"
				    "BitTorrent protocol" HS_RESERVED HS_HASH;
static const char HS_PSTRLEN_14[] = "\x14"
				    "BitTorrent protocol" HS_RESERVED HS_HASH;
static const char HS_NO_PSTRLEN[] = "X"
				    "BitTorrent protocol" HS_RESERVED HS_HASH;
static const char HS_OFFSET_2[] = "\x13"
				  "\x00"
				  "BitTorrent protocol" HS_RESERVED HS_HASH;
/* The split handshake: the first segment is the length byte alone. */
static const char SPLIT_1[] = "\x13";
static const char SPLIT_2[] = "BitTorrent protocol" HS_RESERVED HS_HASH HS_PEER;
static const char SPLIT_2_WRONG[] = "BitTorrent_protocol" HS_RESERVED HS_HASH;

/* Peer-wire messages (4-byte length, id, body). */
static const uint8_t MSG_PORT[] = { 0, 0, 0, 3, 9, 0x1a, 0xe1 };
static const uint8_t MSG_BITFIELD[] = { 0, 0, 0, 5, 5, 0xff, 0xff, 0xff, 0xf0 };
static const char MSG_EXTENDED[] = "\x00\x00\x00\x1a\x14\x00"
				   "d1:md11:ut_metadatai2eee";
static const uint8_t MSG_HAVE_ALL[] = { 0, 0, 0, 1, 14 };
static const uint8_t MSG_HAVE_NONE[] = { 0, 0, 0, 1, 15 };
static const uint8_t MSG_REQUEST[] = { 0, 0, 0, 13, 6, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x40, 0 };
static const uint8_t MSG_PIECE[] = { 0, 0, 0x40, 9, 7,	  0,	0,    0,   1,
				     0, 0, 0,	 0, 0xde, 0xad, 0xbe, 0xef };
/* Near misses: an id not in the list (have), lengths the id does not
 * allow, a header cut short. */
static const uint8_t MSG_HAVE[] = { 0, 0, 0, 5, 4, 0, 0, 0, 1 };
static const uint8_t MSG_PORT_LEN4[] = { 0, 0, 0, 4, 9, 0x1a, 0xe1, 0 };
static const uint8_t MSG_HAVE_ALL_LEN2[] = { 0, 0, 0, 2, 14, 0 };
static const uint8_t MSG_REQUEST_LEN12[] = { 0, 0, 0, 12, 6, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x40 };
static const uint8_t MSG_BITFIELD_LEN1[] = { 0, 0, 0, 1, 5 };
static const uint8_t MSG_PIECE_1MIB[] = { 0, 0x10, 0, 9, 7, 0, 0, 0, 1, 0, 0, 0, 0 };
static const uint8_t MSG_CUT[] = { 0, 0, 0, 3 };

/* uTP headers from nDPI's bittorrent_utp.pcap (127.0.0.1:49861 to
 * 127.0.0.1:33333): a SYN (connection id 0x4567, seq 0x23c6), the STATE
 * answering it (same id, ack 0x23c6), then DATA on id + 1 acking the
 * STATE's seq less one. And (82.243.113.43:64969 to 192.168.1.5:40959) a
 * SYN (id 0x5302, seq 0xe7f5) answered by a STATE with extension 2. */
static const uint8_t UTP_SYN[] = { 0x41, 0x00, 0x45, 0x67, 0xed, 0x63, 0x92, 0x96, 0x00, 0x00,
				   0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x23, 0xc6, 0x00, 0x00 };
static const uint8_t UTP_SYN_STATE[] = {
	0x21, 0x00, 0x45, 0x67, 0xed, 0x63, 0x93, 0x41, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x45, 0x67, 0x23, 0xc6
};
static const uint8_t UTP_DATA[] = { 0x01, 0x00, 0x45, 0x68, 0xed, 0x7a, 0x59, 0x1d,
				    0x00, 0x00, 0x00, 0xa7, 0x00, 0x10, 0x00, 0x00,
				    0x23, 0xc7, 0x45, 0x66, 0x62, 0x6c, 0x61, 0x0a };
static const uint8_t UTP_SYN2[] = { 0x41, 0x00, 0x53, 0x02, 0x10, 0xee, 0xb2, 0xf0, 0x00, 0x00,
				    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xe7, 0xf5, 0x00, 0x00 };
static const uint8_t UTP_STATE[] = { 0x21, 0x02, 0x53, 0x02, 0x06, 0xff, 0x3f, 0x5f, 0x7f, 0xff,
				     0xff, 0xff, 0x00, 0x00, 0xf0, 0x00, 0x49, 0xc7, 0xe7, 0xf5,
				     0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00 };
/* Near misses of one field each. */
static const uint8_t UTP_STATE_WRONG_ACK[] = { 0x21, 0x00, 0x45, 0x67, 0xed, 0x63, 0x93,
					       0x41, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
					       0x00, 0x00, 0x45, 0x67, 0x23, 0xc7 };
static const uint8_t UTP_STATE_OTHER_ID[] = { 0x21, 0x00, 0x45, 0x69, 0xed, 0x63, 0x93,
					      0x41, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
					      0x00, 0x00, 0x45, 0x67, 0x23, 0xc6 };
static const uint8_t UTP_STATE_SAME_TS[] = { 0x21, 0x00, 0x45, 0x67, 0xed, 0x63, 0x92,
					     0x96, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
					     0x00, 0x00, 0x45, 0x67, 0x23, 0xc6 };
/* A STATE carries no payload: 4 bytes after its header. */
static const uint8_t UTP_STATE_PAYLOAD[] = { 0x21, 0x00, 0x45, 0x67, 0xed, 0x63, 0x93, 0x41,
					     0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00,
					     0x45, 0x67, 0x23, 0xc6, 1,	   2,	 3,    4 };
/* Extension 2 claiming 9 bytes; a selective ACK of 3; a chain that runs
 * past the packet. */
static const uint8_t UTP_STATE_EXT2_LEN9[] = { 0x21, 0x02, 0x53, 0x02, 0x06, 0xff, 0x3f, 0x5f,
					       0x7f, 0xff, 0xff, 0xff, 0x00, 0x00, 0xf0, 0x00,
					       0x49, 0xc7, 0xe7, 0xf5, 0x00, 0x09, 0x00, 0x00,
					       0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00 };
static const uint8_t UTP_STATE_SACK3[] = { 0x21, 0x01, 0x53, 0x02, 0x06, 0xff, 0x3f, 0x5f, 0x7f,
					   0xff, 0xff, 0xff, 0x00, 0x00, 0xf0, 0x00, 0x49, 0xc7,
					   0xe7, 0xf5, 0x00, 0x03, 0x00, 0x00, 0x00 };
static const uint8_t UTP_STATE_CHAIN_OUT[] = { 0x21, 0x02, 0x53, 0x02, 0x06, 0xff, 0x3f, 0x5f,
					       0x7f, 0xff, 0xff, 0xff, 0x00, 0x00, 0xf0, 0x00,
					       0x49, 0xc7, 0xe7, 0xf5, 0x01, 0x08, 0x00, 0x00,
					       0x00, 0x00, 0x00, 0x00, 0x00, 0x00 };
#define UTP_REST                                                                                  \
	0x45, 0x67, 0xed, 0x63, 0x92, 0x96, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x23, \
		0xc6, 0x00, 0x00
static const uint8_t UTP_V2[] = { 0x02, 0x00, UTP_REST };
static const uint8_t UTP_FIN_V2[] = { 0x12, 0x00, UTP_REST };
static const uint8_t UTP_TYPE5[] = { 0x51, 0x00, UTP_REST };
static const uint8_t UTP_EXT3[] = { 0x41, 0x03, UTP_REST };
/* A STUN binding success response (skype-conference-call.pcap): 0x01 0x01
 * and a non-zero word at 4..7, STUN's magic cookie. */
static const uint8_t STUN_SUCCESS[] = { 0x01, 0x01, 0x00, 0x34, 0x21, 0x12, 0xa4, 0x42,
					0x3c, 0xc8, 0x5d, 0xa6, 0xa0, 0x62, 0x78, 0xce,
					0xf5, 0x36, 0xc2, 0xe1, 0x00, 0x20, 0x00, 0x08,
					0x00, 0x01, 0xcd, 0xf0, 0x49, 0x3c, 0x8c, 0x73 };
static const uint8_t UTP_NO_TIME[] = { 0x41, 0x00, 0x45, 0x67, 0,    0,	   0,	 0,    0, 0,
				       0,    0,	   0x00, 0x10, 0x00, 0x00, 0x23, 0xc6, 0, 0 };
/* Protocols whose first bytes read as a uTP header (filled by main()):
 * WireGuard's handshake initiation (type 1, three zero bytes, a random
 * sender index: a uTP DATA header with id 0), sent by both ends at once;
 * CAPWAP's DTLS preamble (01 00 00 00) then a DTLS record; a SOME/IP
 * request and its response (service 0x0100, method 0x8001, length 16:
 * DATA, id 0x8001, the length where uTP has its clock, the same both
 * ways); a HART-IP request and response (version 1, byte count at 6). */
static uint8_t WG_INIT_A[148], WG_INIT_B[148];
static const uint8_t CAPWAP_DTLS_A[] = { 0x01, 0x00, 0x00, 0x00, 0x16, 0xfe, 0xfd, 0x00,
					 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
					 0x30, 0x01, 0x00, 0x00, 0x24, 0x00, 0x00, 0x00 };
static const uint8_t CAPWAP_DTLS_B[] = { 0x01, 0x00, 0x00, 0x00, 0x16, 0xfe, 0xfd, 0x00,
					 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
					 0x30, 0x02, 0x00, 0x01, 0x24, 0x00, 0x00, 0x00 };
static const uint8_t SOMEIP_REQ[] = { 0x01, 0x00, 0x80, 0x01, 0x00, 0x00, 0x00, 0x10,
				      0x00, 0x01, 0x00, 0x01, 0x01, 0x01, 0x00, 0x00,
				      0x00, 0x00, 0x00, 0x2a, 0x00, 0x00, 0x00, 0x00 };
static const uint8_t SOMEIP_RESP[] = { 0x01, 0x00, 0x80, 0x01, 0x00, 0x00, 0x00, 0x10,
				       0x00, 0x01, 0x00, 0x01, 0x01, 0x01, 0x80, 0x00,
				       0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00 };
static const uint8_t HARTIP_REQ[] = { 0x01, 0x00, 0x00, 0x00, 0x00, 0x05, 0x00, 0x18,
				      0x02, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
				      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00 };
static const uint8_t HARTIP_RESP[] = { 0x01, 0x01, 0x00, 0x00, 0x00, 0x05, 0x00, 0x18,
				       0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
				       0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00 };

/* DHT (BEP 5) messages; the 20-byte node ids are arbitrary. */
#define NODE_ID "abcdefghij0123456789"
static const char DHT_QUERY[] = "d1:ad2:id20:" NODE_ID "e1:q4:ping1:t2:aa1:y1:qe";
static const char DHT_RESPONSE[] = "d1:rd2:id20:" NODE_ID "e1:t2:aa1:y1:re";
static const char DHT_ERROR[] = "d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee";
static const char DHT_BEP42[] = "d2:ip6:\x0a\x00\x00\x01\x1a\xe1"
				"1:rd2:id20:" NODE_ID "e1:t2:aa1:y1:re";
static const char DHT_X[] = "d1:xd2:id20:" NODE_ID "e1:q4:ping1:t2:aa1:y1:qe";
/* A DHT prefix on a message that does not end as KRPC's do: cut short
 * (no closing "e"), or a dictionary whose last key is not "y". */
static const char DHT_CUT[] = "d1:ad2:id20:" NODE_ID "e1:q4:ping1:t2:aa1:y1:q";
static const char DHT_NO_Y[] = "d1:ad2:id20:" NODE_ID "e1:q4:ping1:t2:aa1:z1:qe";
static const char DHT_IX[] = "d1:ad2:ix20:" NODE_ID "e1:q4:ping1:t2:aa1:y1:qe";

/* UDP tracker (BEP 15): protocol id, action, transaction id. */
#define TRACKER_MAGIC "\x00\x00\x04\x17\x27\x10\x19\x80"
static const char TRACKER_CONNECT[] = TRACKER_MAGIC "\x00\x00\x00\x00"
						    "\xde\xad\xbe\xef";
static const char TRACKER_ACTION_1[] = TRACKER_MAGIC "\x00\x00\x00\x01"
						     "\xde\xad\xbe\xef";
static const char TRACKER_CONNECT_17[] = TRACKER_MAGIC "\x00\x00\x00\x00"
						       "\xde\xad\xbe\xef"
						       "\x00";
static const char TRACKER_WRONG_MAGIC[] = "\x00\x00\x04\x17\x27\x10\x19\x81"
					  "\x00\x00\x00\x00"
					  "\xde\xad\xbe\xef";

/* Local Service Discovery (BEP 14), and look-alikes. */
static const char LSD[] = "BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\n"
			  "Port: 6881\r\nInfohash: dcfcdccfb9e670ccc3dd40c78c161f2bea243126"
			  "\r\n\r\n\r\n";
static const char LSD_HTTP10[] = "BT-SEARCH * HTTP/1.0\r\nHost: 239.192.152.143:6771\r\n"
				 "Port: 6881\r\n\r\n";
static const char LSD_NO_LF[] = "BT-SEARCH * HTTP/1.1\r Host: 239.192.152.143:6771\r\n\r\n";
static const char SSDP[] = "M-SEARCH * HTTP/1.1\r\nHost: 239.255.255.250:1900\r\n\r\n";

/* HTTP tracker requests, and look-alikes. */
static const char ANNOUNCE[] = "GET /announce?info_hash=%dc%fc%dc%cf%b9%e6p%cc%c3%dd%40"
			       "%c7%8c%16%1f%2b%ea%241%26&port=6881 HTTP/1.1\r\n"
			       "Host: tracker.example\r\n\r\n";
static const char SCRAPE[] = "GET /scrape?info_hash=%dc%fc%dc%cf HTTP/1.1\r\n"
			     "Host: tracker.example\r\n\r\n";
static const char ANNOUNCE_NO_QUERY[] = "GET /announce HTTP/1.1\r\nHost: t.example\r\n\r\n";
static const char POST_ANNOUNCE[] = "POST /announce?info_hash=%dc HTTP/1.1\r\n\r\n";
static const char GET_INDEX[] = "GET /index.html?x=/announce? HTTP/1.1\r\n\r\n";
static const char ANNOUNCE_OFFSET_1[] = " GET /announce?info_hash=%dc HTTP/1.1\r\n\r\n";

/* Filled by main(): random bytes (what MSE/PE's DH key and padding look
 * like) and English text (low entropy), longer than any case needs. */
static uint8_t RANDOM[700];
static char TEXT[700];
/* 200 bytes whose first 64 hold exactly 48 (47) distinct values: the
 * entropy test's threshold. */
static uint8_t DISTINCT_48[200], DISTINCT_47[200];

static void fill_payloads(void)
{
	static const char words[] = "the quick brown fox jumps over the lazy dog; "
				    "ISP support wants to know who is downloading. ";
	uint64_t x = 0x9E3779B97F4A7C15ull;

	for (size_t i = 0; i < sizeof(RANDOM); i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		RANDOM[i] = x >> 24;
	}
	for (size_t i = 0; i < sizeof(TEXT); i++)
		TEXT[i] = words[i % (sizeof(words) - 1)];
	/* WireGuard initiations: 01 00 00 00, then random sender index,
	 * ephemeral key, encrypted static and timestamp, MACs. */
	memcpy(WG_INIT_A, RANDOM, sizeof(WG_INIT_A));
	memcpy(WG_INIT_B, RANDOM + 300, sizeof(WG_INIT_B));
	memcpy(WG_INIT_A, "\x01\x00\x00\x00", 4);
	memcpy(WG_INIT_B, "\x01\x00\x00\x00", 4);
	for (size_t i = 0; i < sizeof(DISTINCT_48); i++) {
		DISTINCT_48[i] = i < 48 ? 0x80 + i : i < 64 ? 0x80 : RANDOM[i];
		DISTINCT_47[i] = i < 47 ? 0x80 + i : i < 64 ? 0x80 : RANDOM[i];
	}
}

static int distinct_bytes(const uint8_t *p, size_t n)
{
	bool seen[256] = { false };
	int d = 0;

	for (size_t i = 0; i < n; i++) {
		d += !seen[p[i]];
		seen[p[i]] = true;
	}
	return d;
}

/* ---- frames -------------------------------------------------------------- */

#define TCP4(...)                                     \
	{                                             \
		.ip = 4, .proto = PB_TCP, __VA_ARGS__ \
	}
#define TCP6(...)                                     \
	{                                             \
		.ip = 6, .proto = PB_TCP, __VA_ARGS__ \
	}
#define UDP4(...)                                     \
	{                                             \
		.ip = 4, .proto = PB_UDP, __VA_ARGS__ \
	}
#define UDP6(...)                                     \
	{                                             \
		.ip = 6, .proto = PB_UDP, __VA_ARGS__ \
	}

/* The known peer: 10.0.0.2:6881 (2001:db8::2 port 6881), taught by a
 * handshake from 10.0.0.1:50000 (which becomes known too). */
#define TEACH4 TCP4(.sport = 50000, .dport = 6881, STR(HS))
#define TEACH6 TCP6(.sport = 50000, .dport = 6881, STR(HS))
/* A new connection to the known peer, and one from it. */
#define TO_PEER4(...) TCP4(.sport = 50001, .dport = 6881, __VA_ARGS__)
#define TO_PEER6(...) TCP6(.sport = 50001, .dport = 6881, __VA_ARGS__)
#define FROM_PEER4(...) \
	TCP4(.src = PB_V4_DST, .dst = PB_V4_SRC, .sport = 6881, .dport = 50002, __VA_ARGS__)
/* Neither end known. */
#define STRANGER4(...) TCP4(.sport = 50003, .dport = 6889, __VA_ARGS__)

static struct flow_key spec_key(const struct pb_spec *s)
{
	struct flow_key k;
	int af = s->ip == 6 ? AF_INET6 : AF_INET;

	memset(&k, 0, sizeof(k));
	k.ifindex = lo_ifindex;
	k.vlan = s->n_vlans ? s->tci[0] & 0x0fff : 0;
	k.ip_version = s->ip;
	k.proto = s->proto;
	inet_pton(af, s->src ? s->src : s->ip == 6 ? PB_V6_SRC : PB_V4_SRC, k.src);
	inet_pton(af, s->dst ? s->dst : s->ip == 6 ? PB_V6_DST : PB_V4_DST, k.dst);
	k.sport = s->sport;
	k.dport = s->dport;
	return k;
}

static void run_spec(struct check *c, struct dp *dp, const struct pb_spec *s)
{
	struct pkt p;
	__u32 retval = 0;

	pb_build(&p, s);
	check_eq(c, "BPF_PROG_TEST_RUN error", -run_frame(dp, &p, &retval), 0);
	check_eq(c, "XDP return code", retval, XDP_PASS);
}

/* ---- the table -------------------------------------------------------------- */

#define MAX_FRAMES 6

/*
 * Frames run in order on a reset datapath. The last frame's flow must end
 * up with `kind` (BT_NONE: unclassified, no event of its own; `quiet`:
 * BitTorrent without an event of its own) and `flags`; `taught` earlier
 * matches (the frames that teach the known peers) come before it:
 * CNT_BT_FLOWS counts them and the last flow if marked, the events are
 * theirs and the last flow's if it has one, and the last event is then
 * the last flow's. `facts`: the handshake's reserved bytes then info_hash
 * the event must carry (NULL: zeros).
 */
struct bt_case {
	const char *desc;
	struct pb_spec frames[MAX_FRAMES];
	uint8_t kind;
	bool quiet;
	uint8_t taught;
	const char *facts;
	uint8_t flags;
};

static const struct bt_case cases[] = {
	/* TCP peer-wire handshake */
	{ .desc = "handshake IPv4",
	  .frames = { TCP4(.sport = 50000, .dport = 6881, STR(HS)) },
	  .kind = BT_HANDSHAKE,
	  .facts = HS_FACTS },
	{ .desc = "handshake IPv6",
	  .frames = { TCP6(.sport = 50000, .dport = 6881, STR(HS)) },
	  .kind = BT_HANDSHAKE,
	  .facts = HS_FACTS },
	{ .desc = "handshake on a VLAN, IPv4 options",
	  .frames = { TCP4(.n_vlans = 1, .tci = { 42 }, .ihl = 8, .sport = 50000, .dport = 6881,
			   STR(HS)) },
	  .kind = BT_HANDSHAKE,
	  .facts = HS_FACTS },
	{ .desc = "handshake after SYN, SYN-ACK, ACK",
	  .frames = { TCP4(.sport = 50000, .dport = 6881, .tcp_flags = PB_SYN),
		      TCP4(.sport = 50000, .dport = 6881, .tcp_flags = PB_ACK),
		      TCP4(.sport = 50000, .dport = 6881, STR(HS)) },
	  .kind = BT_HANDSHAKE,
	  .facts = HS_FACTS },
	{ .desc = "handshake with Ethernet padding after it",
	  .frames = { TCP4(.sport = 50000, .dport = 6881, STR(HS), .pad_to = 200) },
	  .kind = BT_HANDSHAKE,
	  .facts = HS_FACTS },
	{ .desc = "handshake cut after 20 bytes: matched, no facts",
	  .frames = { TCP4(.sport = 50000, .dport = 6881, .data = HS, .payload = 20) },
	  .kind = BT_HANDSHAKE },
	{ .desc = "handshake cut after 48 bytes: matched with facts",
	  .frames = { TCP4(.sport = 50000, .dport = 6881, .data = HS, .payload = 48) },
	  .kind = BT_HANDSHAKE,
	  .facts = HS_FACTS },
	{ .desc = "near miss: 19 bytes (0x13 and 18 of the string)",
	  .frames = { TCP4(.sport = 50000, .dport = 6881, .data = HS, .payload = 19) } },
	{ .desc = "near miss: protocol string with one wrong byte",
	  .frames = { TCP4(.sport = 50000, .dport = 6881, STR(HS_WRONG_BYTE)) } },
	{ .desc = "near miss: pstrlen 0x12",
	  .frames = { TCP4(.sport = 50000, .dport = 6881, STR(HS_PSTRLEN_12)) } },
	{ .desc = "near miss: pstrlen 0x14",
	  .frames = { TCP6(.sport = 50000, .dport = 6881, STR(HS_PSTRLEN_14)) } },
	{ .desc = "near miss: string at offset 1 without 0x13",
	  .frames = { TCP4(.sport = 50000, .dport = 6881, STR(HS_NO_PSTRLEN)) } },
	{ .desc = "near miss: string at offset 2",
	  .frames = { TCP4(.sport = 50000, .dport = 6881, STR(HS_OFFSET_2)) } },
	{ .desc = "near miss: handshake over UDP",
	  .frames = { UDP4(.sport = 50000, .dport = 6881, STR(HS)) } },
	{ .desc = "near miss: the frame holds 19 of the handshake's 68 bytes",
	  .frames = { TCP4(.sport = 50000, .dport = 6881, STR(HS), .cut = 14 + 20 + 20 + 19) } },
	/* split handshake */
	{ .desc = "split handshake IPv4: 0x13 alone, then the rest",
	  .frames = { TCP4(.sport = 50000, .dport = 6881, STR(SPLIT_1)),
		      TCP4(.sport = 50000, .dport = 6881, STR(SPLIT_2)) },
	  .kind = BT_HANDSHAKE,
	  .facts = HS_FACTS,
	  .flags = FLOW_F_BT_PSTRLEN },
	{ .desc = "split handshake IPv6, the 0x13 segment retransmitted",
	  .frames = { TCP6(.sport = 50000, .dport = 6881, STR(SPLIT_1)),
		      TCP6(.sport = 50000, .dport = 6881, STR(SPLIT_1)),
		      TCP6(.sport = 50000, .dport = 6881, STR(SPLIT_2)) },
	  .kind = BT_HANDSHAKE,
	  .facts = HS_FACTS,
	  .flags = FLOW_F_BT_PSTRLEN },
	{ .desc = "split handshake: 0x13 alone marks the flow, no event yet",
	  .frames = { TCP4(.sport = 50000, .dport = 6881, STR(SPLIT_1)) },
	  .flags = FLOW_F_BT_PSTRLEN },
	{ .desc = "near miss: second part without the 0x13 segment",
	  .frames = { TCP4(.sport = 50000, .dport = 6881, STR(SPLIT_2)) } },
	{ .desc = "near miss: 0x13 alone, then a wrong protocol string",
	  .frames = { TCP4(.sport = 50000, .dport = 6881, STR(SPLIT_1)),
		      TCP4(.sport = 50000, .dport = 6881, STR(SPLIT_2_WRONG)) } },
	{ .desc = "near miss: 0x13 alone, other data, then the string",
	  .frames = { TCP4(.sport = 50000, .dport = 6881, STR(SPLIT_1)),
		      TCP4(.sport = 50000, .dport = 6881, .payload = 10),
		      TCP4(.sport = 50000, .dport = 6881, STR(SPLIT_2)) } },
	{ .desc = "near miss: 0x13 alone on another flow",
	  .frames = { TCP4(.sport = 50000, .dport = 6881, STR(SPLIT_1)),
		      TCP4(.sport = 50001, .dport = 6881, STR(SPLIT_2)) } },
	/* no re-inspection once classified */
	{ .desc = "a second handshake on a classified flow: one event",
	  .frames = { TCP4(.sport = 50000, .dport = 6881, STR(HS)),
		      TCP4(.sport = 50000, .dport = 6881, STR(HS)) },
	  .kind = BT_HANDSHAKE,
	  .facts = HS_FACTS },
	/* peer messages: only between known peers */
	{ .desc = "port message to a known peer",
	  .frames = { TEACH4, TO_PEER4(BIN(MSG_PORT)) },
	  .kind = BT_MESSAGE,
	  .taught = 1 },
	{ .desc = "bitfield to a known peer",
	  .frames = { TEACH4, TO_PEER4(BIN(MSG_BITFIELD)) },
	  .kind = BT_MESSAGE,
	  .taught = 1 },
	{ .desc = "extended message to a known peer",
	  .frames = { TEACH4, TO_PEER4(STR(MSG_EXTENDED)) },
	  .kind = BT_MESSAGE,
	  .taught = 1 },
	{ .desc = "have-all from a known peer",
	  .frames = { TEACH4, FROM_PEER4(BIN(MSG_HAVE_ALL)) },
	  .kind = BT_MESSAGE,
	  .taught = 1 },
	{ .desc = "have-none to a known peer IPv6",
	  .frames = { TEACH6, TO_PEER6(BIN(MSG_HAVE_NONE)) },
	  .kind = BT_MESSAGE,
	  .taught = 1 },
	{ .desc = "request to a known peer",
	  .frames = { TEACH4, TO_PEER4(BIN(MSG_REQUEST)) },
	  .kind = BT_MESSAGE,
	  .taught = 1 },
	{ .desc = "piece from a known peer",
	  .frames = { TEACH4, FROM_PEER4(BIN(MSG_PIECE)) },
	  .kind = BT_MESSAGE,
	  .taught = 1 },
	{ .desc = "near miss: port message between unknown hosts",
	  .frames = { STRANGER4(BIN(MSG_PORT)) } },
	{ .desc = "near miss: bitfield between unknown hosts",
	  .frames = { STRANGER4(BIN(MSG_BITFIELD)) } },
	{ .desc = "near miss: have (id 4) to a known peer",
	  .frames = { TEACH4, TO_PEER4(BIN(MSG_HAVE)) },
	  .taught = 1 },
	{ .desc = "near miss: port message of length 4",
	  .frames = { TEACH4, TO_PEER4(BIN(MSG_PORT_LEN4)) },
	  .taught = 1 },
	{ .desc = "near miss: have-all of length 2",
	  .frames = { TEACH4, TO_PEER4(BIN(MSG_HAVE_ALL_LEN2)) },
	  .taught = 1 },
	{ .desc = "near miss: request of length 12",
	  .frames = { TEACH4, TO_PEER4(BIN(MSG_REQUEST_LEN12)) },
	  .taught = 1 },
	{ .desc = "near miss: bitfield of length 1",
	  .frames = { TEACH4, TO_PEER4(BIN(MSG_BITFIELD_LEN1)) },
	  .taught = 1 },
	{ .desc = "near miss: piece of 1 MiB",
	  .frames = { TEACH4, TO_PEER4(BIN(MSG_PIECE_1MIB)) },
	  .taught = 1 },
	{ .desc = "near miss: message header cut at 4 bytes",
	  .frames = { TEACH4, TO_PEER4(BIN(MSG_CUT)) },
	  .taught = 1 },
	{ .desc = "near miss: IPv4 peer known, same port on IPv6",
	  .frames = { TEACH4, TO_PEER6(BIN(MSG_PORT)) },
	  .taught = 1 },
	/* encrypted (MSE/PE): known peer, length, entropy */
	{ .desc = "encrypted: 200 random bytes to a known peer",
	  .frames = { TEACH4, TO_PEER4(.data = RANDOM, .payload = 200) },
	  .kind = BT_ENCRYPTED,
	  .taught = 1 },
	{ .desc = "encrypted: 96 random bytes (the least)",
	  .frames = { TEACH4, TO_PEER4(.data = RANDOM, .payload = 96) },
	  .kind = BT_ENCRYPTED,
	  .taught = 1 },
	{ .desc = "encrypted: 608 random bytes (the most)",
	  .frames = { TEACH4, TO_PEER4(.data = RANDOM, .payload = 608) },
	  .kind = BT_ENCRYPTED,
	  .taught = 1 },
	{ .desc = "encrypted: exactly 48 distinct values in the first 64 bytes",
	  .frames = { TEACH4, TO_PEER4(BIN(DISTINCT_48)) },
	  .kind = BT_ENCRYPTED,
	  .taught = 1 },
	{ .desc = "near miss: 47 distinct values in the first 64 bytes",
	  .frames = { TEACH4, TO_PEER4(BIN(DISTINCT_47)) },
	  .taught = 1 },
	{ .desc = "encrypted: from a known peer",
	  .frames = { TEACH4, FROM_PEER4(.data = RANDOM, .payload = 300) },
	  .kind = BT_ENCRYPTED,
	  .taught = 1 },
	{ .desc = "encrypted IPv6",
	  .frames = { TEACH6, TO_PEER6(.data = RANDOM, .payload = 400) },
	  .kind = BT_ENCRYPTED,
	  .taught = 1 },
	{ .desc = "encrypted: the third packet of the flow",
	  .frames = { TEACH4, TO_PEER4(.tcp_flags = PB_SYN), TO_PEER4(.tcp_flags = PB_ACK),
		      TO_PEER4(.data = RANDOM, .payload = 200) },
	  .kind = BT_ENCRYPTED,
	  .taught = 1 },
	{ .desc = "encrypted: peer known from DHT (UDP teaches TCP)",
	  .frames = { UDP4(.sport = 50000, .dport = 6881, STR(DHT_QUERY)),
		      TO_PEER4(.data = RANDOM, .payload = 200) },
	  .kind = BT_ENCRYPTED,
	  .taught = 1 },
	{ .desc = "near miss: random bytes between unknown hosts",
	  .frames = { STRANGER4(.data = RANDOM, .payload = 200) } },
	{ .desc = "near miss: text to a known peer",
	  .frames = { TEACH4, TO_PEER4(.data = TEXT, .payload = 200) },
	  .taught = 1 },
	{ .desc = "near miss: 95 random bytes",
	  .frames = { TEACH4, TO_PEER4(.data = RANDOM, .payload = 95) },
	  .taught = 1 },
	{ .desc = "near miss: 609 random bytes",
	  .frames = { TEACH4, TO_PEER4(.data = RANDOM, .payload = 609) },
	  .taught = 1 },
	{ .desc = "near miss: random bytes to a tracker (trackers are not peers)",
	  .frames = { TCP4(.sport = 50000, .dport = 80, STR(ANNOUNCE)),
		      TCP4(.sport = 50001, .dport = 80, .data = RANDOM, .payload = 200) },
	  .taught = 1 },
	/* a flow between two known endpoints: marked, no second event */
	{ .desc = "reverse of a recognised flow, bencoded text: marked quietly",
	  .frames = { TEACH4, TCP4(.src = PB_V4_DST, .dst = PB_V4_SRC, .sport = 6881,
				   .dport = 50000, STR(DHT_RESPONSE)) },
	  .quiet = true,
	  .taught = 1 },
	{ .desc = "reverse handshake: marked quietly",
	  .frames = { TEACH6, TCP6(.src = PB_V6_DST, .dst = PB_V6_SRC, .sport = 6881,
				   .dport = 50000, STR(HS)) },
	  .quiet = true,
	  .taught = 1 },
	{ .desc = "uTP answering a DHT query between the same endpoints: quietly",
	  .frames = { UDP4(.sport = 50000, .dport = 6881, STR(DHT_QUERY)),
		      UDP4(.src = PB_V4_DST, .dst = PB_V4_SRC, .sport = 6881, .dport = 50000,
			   BIN(UTP_STATE)) },
	  .quiet = true,
	  .taught = 1 },
	{ .desc = "near miss: reverse of a recognised flow, UDP without a signature",
	  .frames = { TEACH4, UDP4(.src = PB_V4_DST, .dst = PB_V4_SRC, .sport = 6881,
				   .dport = 50000, .payload = 100) },
	  .taught = 1 },
	{ .desc = "near miss: the tracker's answer (trackers are not peers)",
	  .frames = { TCP4(.sport = 50000, .dport = 80, STR(ANNOUNCE)),
		      TCP4(.src = PB_V4_DST, .dst = PB_V4_SRC, .sport = 80, .dport = 50000,
			   STR(ANNOUNCE_NO_QUERY)) },
	  .taught = 1 },
	/* uTP */
	/* uTP: a header is proof only when the other direction answers it */
	{ .desc = "uTP STATE answering a SYN, IPv4",
	  .frames = { UDP4(.sport = 49861, .dport = 33333, BIN(UTP_SYN)),
		      UDP4(.src = PB_V4_DST, .dst = PB_V4_SRC, .sport = 33333, .dport = 49861,
			   BIN(UTP_SYN_STATE)) },
	  .kind = BT_UTP },
	{ .desc = "uTP STATE with extension 2 answering a SYN, IPv6",
	  .frames = { UDP6(.sport = 64969, .dport = 40959, BIN(UTP_SYN2)),
		      UDP6(.src = PB_V6_DST, .dst = PB_V6_SRC, .sport = 40959, .dport = 64969,
			   BIN(UTP_STATE)) },
	  .kind = BT_UTP },
	{ .desc = "uTP DATA on id + 1 after the STATE: the SYN's direction, quietly",
	  .frames = { UDP4(.sport = 49861, .dport = 33333, BIN(UTP_SYN)),
		      UDP4(.src = PB_V4_DST, .dst = PB_V4_SRC, .sport = 33333, .dport = 49861,
			   BIN(UTP_SYN_STATE)),
		      UDP4(.sport = 49861, .dport = 33333, BIN(UTP_DATA)) },
	  .quiet = true,
	  .taught = 1 },
	{ .desc = "uTP mid-stream: DATA answered by a STATE (no SYN seen)",
	  .frames = { UDP4(.sport = 49861, .dport = 33333, BIN(UTP_DATA)),
		      UDP4(.src = PB_V4_DST, .dst = PB_V4_SRC, .sport = 33333, .dport = 49861,
			   BIN(UTP_SYN_STATE)) },
	  .kind = BT_UTP },
	{ .desc = "near miss: uTP SYN alone",
	  .frames = { UDP4(.sport = 49861, .dport = 33333, BIN(UTP_SYN)) } },
	{ .desc = "near miss: uTP DATA alone, twice",
	  .frames = { UDP4(.sport = 49861, .dport = 33333, BIN(UTP_DATA)),
		      UDP4(.sport = 49861, .dport = 33333, BIN(UTP_DATA)) } },
	{ .desc = "near miss: uTP STATE alone, IPv6",
	  .frames = { UDP6(.sport = 40959, .dport = 64969, BIN(UTP_STATE)) } },
	{ .desc = "near miss: STATE acking another seq than the SYN's",
	  .frames = { UDP4(.sport = 49861, .dport = 33333, BIN(UTP_SYN)),
		      UDP4(.src = PB_V4_DST, .dst = PB_V4_SRC, .sport = 33333, .dport = 49861,
			   BIN(UTP_STATE_WRONG_ACK)) } },
	{ .desc = "near miss: STATE on another connection id",
	  .frames = { UDP4(.sport = 49861, .dport = 33333, BIN(UTP_SYN)),
		      UDP4(.src = PB_V4_DST, .dst = PB_V4_SRC, .sport = 33333, .dport = 49861,
			   BIN(UTP_STATE_OTHER_ID)) } },
	{ .desc = "near miss: STATE with the SYN's own timestamp",
	  .frames = { UDP4(.sport = 49861, .dport = 33333, BIN(UTP_SYN)),
		      UDP4(.src = PB_V4_DST, .dst = PB_V4_SRC, .sport = 33333, .dport = 49861,
			   BIN(UTP_STATE_SAME_TS)) } },
	{ .desc = "near miss: STATE with a payload",
	  .frames = { UDP4(.sport = 49861, .dport = 33333, BIN(UTP_SYN)),
		      UDP4(.src = PB_V4_DST, .dst = PB_V4_SRC, .sport = 33333, .dport = 49861,
			   BIN(UTP_STATE_PAYLOAD)) } },
	{ .desc = "near miss: extension bits of 9 bytes",
	  .frames = { UDP6(.sport = 64969, .dport = 40959, BIN(UTP_SYN2)),
		      UDP6(.src = PB_V6_DST, .dst = PB_V6_SRC, .sport = 40959, .dport = 64969,
			   BIN(UTP_STATE_EXT2_LEN9)) } },
	{ .desc = "near miss: selective ACK of 3 bytes",
	  .frames = { UDP6(.sport = 64969, .dport = 40959, BIN(UTP_SYN2)),
		      UDP6(.src = PB_V6_DST, .dst = PB_V6_SRC, .sport = 40959, .dport = 64969,
			   BIN(UTP_STATE_SACK3)) } },
	{ .desc = "near miss: extension chain past the packet's end",
	  .frames = { UDP6(.sport = 64969, .dport = 40959, BIN(UTP_SYN2)),
		      UDP6(.src = PB_V6_DST, .dst = PB_V6_SRC, .sport = 40959, .dport = 64969,
			   BIN(UTP_STATE_CHAIN_OUT)) } },
	{ .desc = "near miss: WireGuard handshake initiations both ways",
	  .frames = { UDP4(.sport = 51820, .dport = 51821, BIN(WG_INIT_A)),
		      UDP4(.src = PB_V4_DST, .dst = PB_V4_SRC, .sport = 51821, .dport = 51820,
			   BIN(WG_INIT_B)),
		      UDP4(.sport = 51820, .dport = 51821, BIN(WG_INIT_A)) } },
	{ .desc = "near miss: CAPWAP DTLS both ways",
	  .frames = { UDP4(.sport = 40000, .dport = 5246, BIN(CAPWAP_DTLS_A)),
		      UDP4(.src = PB_V4_DST, .dst = PB_V4_SRC, .sport = 5246, .dport = 40000,
			   BIN(CAPWAP_DTLS_B)) } },
	{ .desc = "near miss: SOME/IP request and response",
	  .frames = { UDP4(.sport = 30501, .dport = 30509, BIN(SOMEIP_REQ)),
		      UDP4(.src = PB_V4_DST, .dst = PB_V4_SRC, .sport = 30509, .dport = 30501,
			   BIN(SOMEIP_RESP)) } },
	{ .desc = "near miss: HART-IP request and response",
	  .frames = { UDP6(.sport = 40000, .dport = 5094, BIN(HARTIP_REQ)),
		      UDP6(.src = PB_V6_DST, .dst = PB_V6_SRC, .sport = 5094, .dport = 40000,
			   BIN(HARTIP_RESP)) } },
	{ .desc = "near miss: STUN binding success answering a STUN request",
	  .frames = { UDP4(.sport = 60642, .dport = 49282, BIN(UTP_SYN)),
		      UDP4(.src = PB_V4_DST, .dst = PB_V4_SRC, .sport = 49282, .dport = 60642,
			   BIN(STUN_SUCCESS)) } },
	{ .desc = "near miss: uTP version 2",
	  .frames = { UDP4(.sport = 49861, .dport = 33333, BIN(UTP_V2)) } },
	{ .desc = "near miss: uTP FIN version 2",
	  .frames = { UDP6(.sport = 49861, .dport = 33333, BIN(UTP_FIN_V2)) } },
	{ .desc = "near miss: uTP type 5",
	  .frames = { UDP4(.sport = 49861, .dport = 33333, BIN(UTP_TYPE5)) } },
	{ .desc = "near miss: uTP extension 3",
	  .frames = { UDP4(.sport = 49861, .dport = 33333, BIN(UTP_EXT3)) } },
	{ .desc = "near miss: uTP timestamp 0",
	  .frames = { UDP4(.sport = 49861, .dport = 33333, BIN(UTP_NO_TIME)) } },
	{ .desc = "near miss: uTP header of 19 bytes",
	  .frames = { UDP4(.sport = 49861, .dport = 33333, .data = UTP_SYN, .payload = 19) } },
	{ .desc = "near miss: uTP-like bytes to port 443 (QUIC)",
	  .frames = { UDP4(.sport = 49861, .dport = 443, BIN(UTP_SYN)) } },
	{ .desc = "near miss: uTP-like bytes from port 53 (DNS)",
	  .frames = { UDP4(.sport = 53, .dport = 33333, BIN(UTP_SYN)) } },
	{ .desc = "near miss: STUN binding success response",
	  .frames = { UDP4(.sport = 49282, .dport = 60642, BIN(STUN_SUCCESS)) } },
	{ .desc = "near miss: uTP over TCP", .frames = { STRANGER4(BIN(UTP_SYN)) } },
	/* DHT */
	{ .desc = "DHT query IPv4",
	  .frames = { UDP4(.sport = 50000, .dport = 6881, STR(DHT_QUERY)) },
	  .kind = BT_DHT },
	{ .desc = "DHT response IPv6",
	  .frames = { UDP6(.sport = 6881, .dport = 50000, STR(DHT_RESPONSE)) },
	  .kind = BT_DHT },
	{ .desc = "DHT error",
	  .frames = { UDP4(.sport = 6881, .dport = 50000, STR(DHT_ERROR)) },
	  .kind = BT_DHT },
	{ .desc = "DHT response with BEP 42 ip",
	  .frames = { UDP4(.sport = 6881, .dport = 50000, STR(DHT_BEP42)) },
	  .kind = BT_DHT },
	{ .desc = "near miss: DHT query cut before its end",
	  .frames = { UDP4(.sport = 50000, .dport = 6881, STR(DHT_CUT)) } },
	{ .desc = "near miss: DHT prefix, last key not y",
	  .frames = { UDP6(.sport = 50000, .dport = 6881, STR(DHT_NO_Y)) } },
	{ .desc = "near miss: DHT d1:x",
	  .frames = { UDP4(.sport = 50000, .dport = 6881, STR(DHT_X)) } },
	{ .desc = "near miss: DHT d1:ad2:ix20:",
	  .frames = { UDP4(.sport = 50000, .dport = 6881, STR(DHT_IX)) } },
	{ .desc = "near miss: DHT query to port 1023",
	  .frames = { UDP4(.sport = 50000, .dport = 1023, STR(DHT_QUERY)) } },
	{ .desc = "near miss: DHT query from port 53",
	  .frames = { UDP6(.sport = 53, .dport = 6881, STR(DHT_QUERY)) } },
	{ .desc = "near miss: DHT query to Teredo's port 3544",
	  .frames = { UDP4(.sport = 50000, .dport = 3544, STR(DHT_QUERY)) } },
	{ .desc = "near miss: DHT bytes over TCP", .frames = { STRANGER4(STR(DHT_QUERY)) } },
	/* UDP tracker */
	{ .desc = "UDP tracker connect IPv4",
	  .frames = { UDP4(.sport = 50000, .dport = 6969, STR(TRACKER_CONNECT)) },
	  .kind = BT_TRACKER },
	{ .desc = "UDP tracker connect IPv6 to port 80",
	  .frames = { UDP6(.sport = 50000, .dport = 80, STR(TRACKER_CONNECT)) },
	  .kind = BT_TRACKER },
	{ .desc = "UDP tracker connect with Ethernet padding",
	  .frames = { UDP4(.sport = 50000, .dport = 6969, STR(TRACKER_CONNECT), .pad_to = 100) },
	  .kind = BT_TRACKER },
	{ .desc = "near miss: tracker magic, action 1",
	  .frames = { UDP4(.sport = 50000, .dport = 6969, STR(TRACKER_ACTION_1)) } },
	{ .desc = "near miss: tracker connect of 15 bytes",
	  .frames = { UDP4(.sport = 50000, .dport = 6969, .data = TRACKER_CONNECT,
			   .payload = 15) } },
	{ .desc = "near miss: tracker connect of 17 bytes",
	  .frames = { UDP4(.sport = 50000, .dport = 6969, STR(TRACKER_CONNECT_17)) } },
	{ .desc = "near miss: tracker magic with a wrong byte",
	  .frames = { UDP4(.sport = 50000, .dport = 6969, STR(TRACKER_WRONG_MAGIC)) } },
	/* Local Service Discovery */
	{ .desc = "LSD IPv4 multicast",
	  .frames = { UDP4(.dst = "239.192.152.143", .sport = 6771, .dport = 6771, STR(LSD)) },
	  .kind = BT_LSD },
	{ .desc = "LSD IPv6 multicast",
	  .frames = { UDP6(.dst = "ff15::efc0:988f", .sport = 6771, .dport = 6771, STR(LSD)) },
	  .kind = BT_LSD },
	{ .desc = "near miss: LSD with HTTP/1.0",
	  .frames = { UDP4(.dst = "239.192.152.143", .sport = 6771, .dport = 6771,
			   STR(LSD_HTTP10)) } },
	{ .desc = "near miss: LSD request line without its LF",
	  .frames = { UDP4(.dst = "239.192.152.143", .sport = 6771, .dport = 6771,
			   STR(LSD_NO_LF)) } },
	{ .desc = "near miss: SSDP M-SEARCH",
	  .frames = { UDP4(.dst = "239.255.255.250", .sport = 50000, .dport = 1900, STR(SSDP)) } },
	/* HTTP tracker */
	{ .desc = "HTTP tracker announce IPv4",
	  .frames = { TCP4(.sport = 50000, .dport = 80, STR(ANNOUNCE)) },
	  .kind = BT_HTTP_TRACKER },
	{ .desc = "HTTP tracker scrape IPv6",
	  .frames = { TCP6(.sport = 50000, .dport = 6969, STR(SCRAPE)) },
	  .kind = BT_HTTP_TRACKER },
	{ .desc = "near miss: GET /announce without a query",
	  .frames = { TCP4(.sport = 50000, .dport = 80, STR(ANNOUNCE_NO_QUERY)) } },
	{ .desc = "near miss: POST /announce?",
	  .frames = { TCP4(.sport = 50000, .dport = 80, STR(POST_ANNOUNCE)) } },
	{ .desc = "near miss: GET /index.html",
	  .frames = { TCP4(.sport = 50000, .dport = 80, STR(GET_INDEX)) } },
	{ .desc = "near miss: GET /announce? at offset 1",
	  .frames = { TCP4(.sport = 50000, .dport = 80, STR(ANNOUNCE_OFFSET_1)) } },
	{ .desc = "near miss: announce over UDP",
	  .frames = { UDP4(.sport = 50000, .dport = 6969, STR(ANNOUNCE)) } },
};

static void check_event(struct check *c, const struct event *ev, uint8_t kind,
			const struct flow_key *key, const char *facts)
{
	static const uint8_t zeros[28];
	char want[160], got[160];

	check_eq(c, "event type", ev->type, EVENT_BITTORRENT);
	check_eq(c, "event kind", ev->kind, kind);
	check_eq(c, "event time_ns", ev->time_ns, CLOCK_NS);
	if (memcmp(&ev->key, key, sizeof(*key)) != 0) {
		print_error("# %s: event key %s, want %s\n", c->ctx,
			    fmt_key(&ev->key, got, sizeof(got)), fmt_key(key, want, sizeof(want)));
		c->failures++;
	}
	check_true(c, "event reserved bytes",
		   memcmp(ev->bt.reserved, facts ? facts : (const char *)zeros, 8) == 0);
	check_true(c, "event info_hash",
		   memcmp(ev->bt.info_hash, facts ? facts + 8 : (const char *)zeros + 8, 20) == 0);
	check_true(c, "event padding zero", memcmp(ev->pad, zeros, sizeof(ev->pad)) == 0);
}

static int run_bt_case(struct dp *dp, const struct bt_case *tc)
{
	struct check c = { .ctx = tc->desc };
	const struct pb_spec *last = NULL;
	__u64 cnt[CNT__MAX];
	struct flow_value v;
	struct flow_key k;
	bool marked = tc->kind != BT_NONE || tc->quiet;
	size_t want_events = tc->taught + (tc->kind != BT_NONE), n_events;

	dp_reset(dp);
	dp->skel->bss->replay_now_ns = CLOCK_NS;
	for (int i = 0; i < MAX_FRAMES && pb_spec_present(&tc->frames[i]); i++) {
		last = &tc->frames[i];
		run_spec(&c, dp, last);
	}
	assert_non_null(last);

	sum_counters(dp, cnt);
	check_eq(&c, "CNT_BT_FLOWS", cnt[CNT_BT_FLOWS], tc->taught + marked);
	check_eq(&c, "CNT_EVENTS_LOST", cnt[CNT_EVENTS_LOST], 0);
	n_events = consume_events_of_type(dp, EVENT_BITTORRENT);
	check_eq(&c, "events", n_events, want_events);

	k = spec_key(last);
	check_eq(&c, "entries holding the last flow", get_flow(dp, 0, &k, &v), 1);
	check_eq(&c, "last flow's app", v.app, marked ? APP_BITTORRENT : APP_UNKNOWN);
	check_eq(&c, "last flow's flags", v.flags, tc->flags);
	if (tc->kind != BT_NONE && n_events == want_events && n_events <= MAX_EVENTS)
		check_event(&c, &dp->events[n_events - 1], tc->kind, &k, tc->facts);
	return c.failures;
}

static void test_signatures(void **state)
{
	struct dp *dp = *state;
	int failed = 0;

	assert_true(distinct_bytes(RANDOM, 64) >= 48);
	assert_true(distinct_bytes((const uint8_t *)TEXT, 64) < 48);
	assert_int_equal(distinct_bytes(DISTINCT_48, 64), 48);
	assert_int_equal(distinct_bytes(DISTINCT_47, 64), 47);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		failed += run_bt_case(dp, &cases[i]) != 0;
	if (failed)
		fail_msg("%d of %zu cases failed", failed, ARRAY_SIZE(cases));
	print_message("# %zu cases\n", ARRAY_SIZE(cases));
}

/* ---- the inspection window ------------------------------------------------ */

/*
 * A handshake as a flow's n-th packet is recognised while n <=
 * INSPECT_PACKETS, whether the packets before it carried payload or not;
 * after that the flow is never inspected again in this table generation.
 */
static void test_inspect_window(void **state)
{
	struct dp *dp = *state;
	struct check c = { .ctx = "inspection window" };

	for (int filler = 0; filler <= 1; filler++) {
		for (int n = 1; n <= INSPECT_PACKETS + 2; n++) {
			struct pb_spec before =
				TCP4(.sport = 50000, .dport = 6881, .payload = filler ? 30 : 0);
			struct pb_spec hs = TCP4(.sport = 50000, .dport = 6881, STR(HS));
			bool want = n <= INSPECT_PACKETS;
			struct flow_key k = spec_key(&hs);
			struct flow_value v;
			__u64 cnt[CNT__MAX];
			char what[96];

			dp_reset(dp);
			dp->skel->bss->replay_now_ns = CLOCK_NS;
			for (int i = 1; i < n; i++)
				run_spec(&c, dp, &before);
			run_spec(&c, dp, &hs);
			sum_counters(dp, cnt);
			snprintf(what, sizeof(what), "handshake as packet %d (%s before): bt_flows",
				 n, filler ? "payload" : "no payload");
			check_eq(&c, what, cnt[CNT_BT_FLOWS], want);
			check_eq(&c, "events", consume_events_of_type(dp, EVENT_BITTORRENT), want);
			get_flow(dp, 0, &k, &v);
			check_eq(&c, "app", v.app, want ? APP_BITTORRENT : APP_UNKNOWN);
		}
	}
	if (c.failures)
		fail_msg("%d mismatches", c.failures);
}

/* ---- the next table generation ------------------------------------------- */

/*
 * A table generation starts every flow unclassified, so a connection is
 * inspected again after each drain. Its endpoints are known by then: its
 * next packets (here mid-stream piece data, which no signature matches)
 * mark it again, quietly. Events are per connection, not per drain.
 */
static void test_next_generation(void **state)
{
	struct pb_spec hs = TCP4(.sport = 50000, .dport = 6881, STR(HS));
	struct pb_spec data = TCP4(.sport = 50000, .dport = 6881, .data = RANDOM, .payload = 700);
	struct dp *dp = *state;
	struct check c = { .ctx = "next generation" };
	struct flow_key k = spec_key(&hs);
	struct flow_value v;
	__u64 cnt[CNT__MAX];
	int old_gen = -1;

	dp_reset(dp);
	dp->skel->bss->replay_now_ns = CLOCK_NS;
	run_spec(&c, dp, &hs);
	run_spec(&c, dp, &data);
	assert_int_equal(probe_swap_tables(&dp->p, &old_gen), 0);
	run_spec(&c, dp, &data);
	sum_counters(dp, cnt);
	check_eq(&c, "CNT_BT_FLOWS", cnt[CNT_BT_FLOWS], 2);
	check_eq(&c, "events", consume_events_of_type(dp, EVENT_BITTORRENT), 1);
	check_eq(&c, "first generation: entries", get_flow(dp, old_gen, &k, &v), 1);
	check_eq(&c, "first generation: packets", v.packets, 2);
	check_eq(&c, "first generation: app", v.app, APP_BITTORRENT);
	check_eq(&c, "next generation: entries", get_flow(dp, dp->p.live, &k, &v), 1);
	check_eq(&c, "next generation: packets", v.packets, 1);
	check_eq(&c, "next generation: app", v.app, APP_BITTORRENT);
	if (c.failures)
		fail_msg("%d mismatches", c.failures);
}

/* ---- a full event ring ----------------------------------------------------- */

/*
 * A one-page event ring holds 4096 / (8 + 88) = 42 events. Recognition does
 * not depend on the ring: every flow is still marked and counted, and each
 * event that found no room is counted in CNT_EVENTS_LOST.
 */
static void test_events_lost(void **state)
{
	/* The kernel refuses a record that would make the ring's contents
	 * reach its whole size, so 4095 bytes hold records. */
	const int fits = (4096 - 1) / (BPF_RINGBUF_HDR_SZ + sizeof(struct event));
	const int flows = fits + 8;
	struct dp *dp = *state;
	struct check c = { .ctx = "event ring full" };
	__u64 cnt[CNT__MAX];
	int marked = 0;

	dp_reset(dp);
	dp->skel->bss->replay_now_ns = CLOCK_NS;
	for (int i = 0; i < flows; i++) {
		struct pb_spec s = TCP4(.sport = 40000 + i, .dport = 6881, STR(HS));

		run_spec(&c, dp, &s);
	}
	sum_counters(dp, cnt);
	check_eq(&c, "CNT_BT_FLOWS", cnt[CNT_BT_FLOWS], flows);
	check_eq(&c, "CNT_EVENTS_LOST", cnt[CNT_EVENTS_LOST], flows - fits);
	check_eq(&c, "events read", consume_events(dp), fits);
	FOR_EACH_ENTRY(dp, 0, e)
	marked += e->val.app == APP_BITTORRENT;
	check_eq(&c, "flows marked", marked, flows);
	if (c.failures)
		fail_msg("%d mismatches", c.failures);
}

/* ---- the known-peers LRU --------------------------------------------------- */

/* bpf/bittorrent.bpf.h's struct bt_peer_key. */
struct peer_key {
	uint8_t addr[16];
	uint16_t port;
	uint8_t ip_version;
	uint8_t pad;
};
_Static_assert(sizeof(struct peer_key) == 20, "bt_peer_key layout");

static struct peer_key peer(int ip, const char *addr, uint16_t port)
{
	struct peer_key k = { .port = port, .ip_version = ip };

	inet_pton(ip == 6 ? AF_INET6 : AF_INET, addr, k.addr);
	return k;
}

static int count_peers(struct dp *dp)
{
	struct peer_key k, next;
	int n = 0;

	for (int err = bpf_map_get_next_key(dp->bt_peers, NULL, &next); !err;
	     err = bpf_map_get_next_key(dp->bt_peers, &k, &next)) {
		k = next;
		n++;
	}
	return n;
}

static bool has_peer(struct dp *dp, struct peer_key k)
{
	uint8_t v[16];

	return bpf_map_lookup_elem(dp->bt_peers, &k, v) == 0;
}

/* Plain peer detections teach both endpoints; trackers and LSD teach
 * none (they are not peers). */
static void test_known_peers(void **state)
{
	const struct {
		struct pb_spec frame;
		int peers;
	} teach[] = {
		{ TCP4(.sport = 50000, .dport = 6881, STR(HS)), 2 },
		{ UDP6(.sport = 6881, .dport = 50000, STR(DHT_RESPONSE)), 2 },
		/* a uTP header alone is no detection (it needs its answer) */
		{ UDP4(.sport = 49861, .dport = 33333, BIN(UTP_SYN)), 0 },
		{ TCP4(.sport = 50000, .dport = 80, STR(ANNOUNCE)), 0 },
		{ UDP4(.sport = 50000, .dport = 6969, STR(TRACKER_CONNECT)), 0 },
		{ UDP4(.dst = "239.192.152.143", .sport = 6771, .dport = 6771, STR(LSD)), 0 },
	};
	struct dp *dp = *state;
	struct check c = { .ctx = "known peers" };

	for (size_t i = 0; i < ARRAY_SIZE(teach); i++) {
		const struct pb_spec *s = &teach[i].frame;
		const char *src = s->src ? s->src : s->ip == 6 ? PB_V6_SRC : PB_V4_SRC;
		const char *dst = s->dst ? s->dst : s->ip == 6 ? PB_V6_DST : PB_V4_DST;
		char what[64];

		dp_reset(dp);
		run_spec(&c, dp, s);
		snprintf(what, sizeof(what), "case %zu: peers", i);
		check_eq(&c, what, count_peers(dp), teach[i].peers);
		if (teach[i].peers) {
			check_true(&c, "source endpoint known",
				   has_peer(dp, peer(s->ip, src, s->sport)));
			check_true(&c, "destination endpoint known",
				   has_peer(dp, peer(s->ip, dst, s->dport)));
		}
	}
	if (c.failures)
		fail_msg("%d mismatches", c.failures);
}

/* ---- real captures ------------------------------------------------------------ */

static const char *pcap_dir(void)
{
	static char dir[PATH_MAX + 32];
	char exe[PATH_MAX];
	const char *env = getenv("FLOWPROBE_PCAP_DIR");
	ssize_t n;

	if (env)
		return env;
	/* build/tests/test_bittorrent -> ../shared/pcaps/ndpi of the repo */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return NULL;
	exe[n] = 0;
	for (int up = 0; up < 3; up++) {
		char *slash = strrchr(exe, '/');

		if (!slash)
			return NULL;
		*slash = 0;
	}
	snprintf(dir, sizeof(dir), "%s/../shared/pcaps/ndpi", exe);
	return dir;
}

/* Runs every frame of a capture (the daemon's reader: Ethernet frames,
 * cut as replay cuts them), its timestamps as the clock; returns the
 * frames run, or -1 if the file cannot be read. */
static long replay_pcap(struct dp *dp, const char *path)
{
	char err[256];
	struct capture_packet pkt;
	struct capture *cap = capture_open(path, err, sizeof(err));
	long n = 0;

	if (!cap)
		return -1;
	while (capture_next(cap, &pkt) == 1) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt.frame, .data_size_in = pkt.len,
			    .repeat = 1);

		if (!pkt.len)
			continue;
		dp->skel->bss->replay_now_ns = pkt.ts_ns;
		dp->skel->bss->replay_wire_bytes = pkt.wire_len;
		assert_int_equal(bpf_prog_test_run_opts(dp->prog, &o), 0);
		n++;
	}
	capture_close(cap);
	return n;
}

static void test_real_captures(void **state)
{
	static const char *const bittorrent[] = { "bittorrent.pcap", "bittorrent_utp.pcap" };
	static const char *const others[] = {
		"gnutella.pcap",
		"edonkey.pcap",
		"quic.pcap",
		"netflix.pcap",
		"skype-conference-call.pcap",
		"ssh.pcap",
		"teamspeak3.pcap",
		"http_ipv6.pcap",
		"tcp_scan.pcapng",
		"dns_fragmented.pcap",
	};
	struct dp *dp = *state;
	struct check c = { .ctx = "real captures" };
	const char *dir = pcap_dir();
	char path[PATH_MAX + 96], key[160];
	int found = 0;

	for (int set = 0; set < 2; set++) {
		size_t n = set ? ARRAY_SIZE(others) : ARRAY_SIZE(bittorrent);

		for (size_t f = 0; f < n; f++) {
			const char *name = set ? others[f] : bittorrent[f];
			int flows = 0, bt = 0, missed = 0;
			size_t events;
			__u64 cnt[CNT__MAX];

			snprintf(path, sizeof(path), "%s/%s", dir ? dir : ".", name);
			dp_reset(dp);
			if (replay_pcap(dp, path) < 0)
				continue;
			found++;
			c.ctx = name;
			FOR_EACH_ENTRY(dp, 0, e)
			{
				flows++;
				if (e->val.app == APP_BITTORRENT) {
					bt++;
				} else if (!set) {
					print_error("# %s: not recognised: %s\n", name,
						    fmt_key(&e->key, key, sizeof(key)));
					missed++;
				}
			}
			sum_counters(dp, cnt);
			events = consume_events_of_type(dp, EVENT_BITTORRENT);
			check_eq(&c, "CNT_BT_FLOWS == flows marked", cnt[CNT_BT_FLOWS], bt);
			check_true(&c, "events <= flows marked", events <= (size_t)bt);
			if (set) {
				check_eq(&c, "flows recognised", bt, 0);
			} else {
				check_eq(&c, "flows not recognised", missed, 0);
				check_true(&c, "events", events > 0);
			}
			for (size_t i = 0; i < events && i < MAX_EVENTS; i++) {
				const struct event *ev = &dp->events[i];

				if (ev->kind == BT_HANDSHAKE)
					check_true(&c, "handshake info_hash",
						   memcmp(ev->bt.info_hash, HS_HASH, 20) == 0);
			}
			print_message("# %s: %d flows, %d BitTorrent, %zu events\n", name, flows,
				      bt, events);
		}
	}
	if (!found)
		skip();
	if (c.failures)
		fail_msg("%d mismatches", c.failures);
}

/* ---- main -------------------------------------------------------------------- */

static int setup_bt(void **state)
{
	return setup_with(state, (struct dp_opts){ .replay_clock = true });
}

static int setup_small_event_ring(void **state)
{
	return setup_with(state,
			  (struct dp_opts){ .replay_clock = true, .event_ring_bytes = 4096 });
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		{ "signatures and near misses", test_signatures, setup_bt, teardown_dp, NULL },
		{ "inspection window", test_inspect_window, setup_bt, teardown_dp, NULL },
		{ "next table generation: marked again, no second event", test_next_generation,
		  setup_bt, teardown_dp, NULL },
		{ "event ring full: counted, flows still marked", test_events_lost,
		  setup_small_event_ring, teardown_dp, NULL },
		{ "known peers: both ends of peer detections only", test_known_peers, setup_bt,
		  teardown_dp, NULL },
		{ "real captures", test_real_captures, setup_bt, teardown_dp, NULL },
	};

	fill_payloads();
	if (fixture_init())
		return 1;
	return cmocka_run_group_tests_name("bittorrent", tests, NULL, NULL);
}
