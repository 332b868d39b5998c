// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The options `run` and `replay` share, their defaults, ranges and help.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "detect/asn_table.h"
#include "detect/conn_intervals.h"
#include "reset_signals.h"
#include "cli/export_options.h"
#include "datapath/probe.h"
#include "lib/log.h"
#include "lib/parse_number.h"
#include "lib/units.h"
#include "detect/p2p_hosts.h"

#define DEFAULT_ACTIVE_TIMEOUT 60
#define DEFAULT_INACTIVE_TIMEOUT 15
/* After a FIN or RST, a flow waits this long for stragglers, and for its
 * connection's reset verdicts (decided RESET_HOLD_NS after each RST) so
 * they ride on its record. */
#define END_GRACE_NS (RESET_HOLD_NS + NS_PER_SEC)
#define MAX_CACHE_FLOWS (4u << 20)

void export_options_init(struct export_options *o)
{
	*o = (struct export_options){
		.active_timeout = DEFAULT_ACTIVE_TIMEOUT,
		.inactive_timeout = DEFAULT_INACTIVE_TIMEOUT,
		.source_id = 1,
		.max_payload = NF9_DEFAULT_MAX_PAYLOAD,
		.p2p_period = P2P_DEFAULT_PERIOD_MS / 1000,
		.p2p_threshold = P2P_DEFAULT_THRESHOLD,
		.interval = CONN_INTERVAL_DEFAULT_S,
		.reset_template = true,
		.export_rate = COLLECTOR_DEFAULT_RATE,
		.export_queue = COLLECTOR_QUEUE_DEFAULT,
	};
	prefix_set_default(&o->local);
	if (gethostname(o->probe_id, sizeof(o->probe_id)) != 0 || !o->probe_id[0])
		snprintf(o->probe_id, sizeof(o->probe_id), "flowprobe");
	o->probe_id[sizeof(o->probe_id) - 1] = '\0';
	curve_options_init(&o->curve);
}

void export_options_cleanup(struct export_options *o)
{
	asn_table_free(o->asn);
	o->asn = NULL;
}

/* Loaded while parsing, so a bad line stops the probe before it starts. */
static int load_asn_table(struct export_options *o, const char *path)
{
	struct asn_table *t;
	int rc = asn_table_load(&t, path);

	if (rc)
		return rc;
	asn_table_free(o->asn); /* the last --asn-table wins */
	o->asn = t;
	log_info("--asn-table %s: %zu prefixes", path, asn_table_prefixes(t));
	return 0;
}

/* Letters, digits and ".-_:" (a host name, a router's name): it goes
 * into every JSON line and into the fleet store's rows. */
static int set_probe_id(struct export_options *o, const char *id)
{
	size_t n = strlen(id);

	if (!n || n >= sizeof(o->probe_id) ||
	    strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		       "0123456789.-_:") != n) {
		log_error("--probe-id '%s': 1 to %zu letters, digits or .-_: (e.g. "
			  "the router's name)",
			  id, sizeof(o->probe_id) - 1);
		return -EINVAL;
	}
	memcpy(o->probe_id, id, n + 1);
	return 0;
}

uint32_t export_options_source_id(const struct export_options *o)
{
	uint32_t h = 0x811c9dc5;

	if (o->source_id_given)
		return (uint32_t)o->source_id;
	for (const char *c = o->probe_id; *c; c++)
		h = (h ^ (uint8_t)*c) * 0x01000193;
	return h ? h : 1;
}

bool export_options_parse(struct export_options *o, struct exporter *ex, int c, const char *arg,
			  int *rc)
{
	if (curve_options_parse(&o->curve, c, arg, rc))
		return true;
	switch (c) {
	case 'c':
		*rc = exporter_add_collector(ex, arg);
		return true;
	case EXPORT_OPT_JSON:
		o->json = true;
		break;
	case EXPORT_OPT_TAP:
		o->tap = true;
		break;
	case EXPORT_OPT_NO_RESETS:
		o->no_resets = true;
		break;
	case EXPORT_OPT_NO_ROUTES:
		o->no_routes = true;
		break;
	case EXPORT_OPT_TUNNELS:
		if (strcmp(arg, "inner") == 0 || strcmp(arg, "outer") == 0) {
			o->tunnels_outer = arg[0] == 'o';
		} else {
			log_error("--tunnels %s: say 'inner' (count the flow inside "
				  "each tunnel) or 'outer' (count the tunnel itself)",
				  arg);
			*rc = -EINVAL;
			return true;
		}
		break;
	case 'v':
		o->verbose = true;
		break;
	case EXPORT_OPT_ACTIVE:
		*rc = parse_ulong_option("--active-timeout", arg, 1, 86400, &o->active_timeout);
		return true;
	case EXPORT_OPT_INACTIVE:
		*rc = parse_ulong_option("--inactive-timeout", arg, 1, 86400, &o->inactive_timeout);
		return true;
	case EXPORT_OPT_PROBE_ID:
		*rc = set_probe_id(o, arg);
		return true;
	case EXPORT_OPT_SOURCE_ID:
		o->source_id_given = true;
		*rc = parse_ulong_option("--source-id", arg, 0, UINT32_MAX, &o->source_id);
		return true;
	case EXPORT_OPT_MAX_PAYLOAD:
		*rc = parse_ulong_option("--max-payload", arg, 512, NF9_PAYLOAD_LIMIT,
					 &o->max_payload);
		return true;
	case EXPORT_OPT_MAX_FLOWS:
		*rc = parse_ulong_option("--max-flows", arg, 16, 1ul << 26, &o->max_flows);
		return true;
	case EXPORT_OPT_MAX_CONNS:
		*rc = parse_ulong_option("--max-connections", arg, 16, 1ul << 26, &o->max_conns);
		return true;
	case EXPORT_OPT_LOCAL:
	case EXPORT_OPT_LOCAL_FILE:
		/* The first one given replaces the defaults; later ones add. */
		if (!o->local_given)
			o->local.n = 0;
		o->local_given = true;
		*rc = c == EXPORT_OPT_LOCAL ? prefix_set_add(&o->local, arg, "--local") :
					      prefix_set_parse_file(&o->local, arg, "--local-file");
		return true;
	case EXPORT_OPT_P2P_PERIOD:
		*rc = parse_ulong_option("--p2p-period", arg, 10, 86400, &o->p2p_period);
		return true;
	case EXPORT_OPT_P2P_THRESHOLD:
		*rc = parse_ulong_option("--p2p-threshold", arg, 1, 100, &o->p2p_threshold);
		return true;
	case EXPORT_OPT_INTERVAL:
		*rc = parse_ulong_option("--interval", arg, 1, 86400, &o->interval);
		return true;
	case EXPORT_OPT_ASN_TABLE:
		*rc = load_asn_table(o, arg);
		return true;
	case EXPORT_OPT_NO_RESET_TEMPLATE:
		o->reset_template = false;
		break;
	case EXPORT_OPT_EXPORT_RATE:
		*rc = parse_ulong_option("--export-rate", arg, 0, 1000000, &o->export_rate);
		return true;
	case EXPORT_OPT_EXPORT_QUEUE:
		*rc = parse_ulong_option("--export-queue", arg, 16, COLLECTOR_QUEUE_LIMIT,
					 &o->export_queue);
		return true;
	case EXPORT_OPT_SOURCE:
		*rc = collector_parse_source(&ex->source, &ex->source_len, arg);
		return true;
	case EXPORT_OPT_IPFIX_PEN: {
		unsigned long pen = 0;

		*rc = parse_ulong_option("--ipfix-pen", arg, 1, UINT32_MAX, &pen);
		ex->ipfix_pen = pen;
		return true;
	}
	case EXPORT_OPT_TEMPLATE_REFRESH: {
		unsigned long s = 0;

		*rc = parse_ulong_option("--template-refresh", arg, 1, 3600, &s);
		ex->template_refresh_ms = s * 1000;
		return true;
	}
	default:
		return false;
	}
	*rc = 0;
	return true;
}

struct flow_cache_config export_options_cache_config(const struct export_options *o)
{
	return (struct flow_cache_config){
		.active_timeout_ns = o->active_timeout * NS_PER_SEC,
		.inactive_timeout_ns = o->inactive_timeout * NS_PER_SEC,
		.end_grace_ns = END_GRACE_NS,
		.max_flows = MAX_CACHE_FLOWS,
	};
}

void export_options_usage(FILE *out)
{
	fprintf(out,
		"  -c, --collector HOST:PORT        NetFlow v9 collector (repeatable); IPv6 as\n"
		"                                   [2001:db8::1]:2055. Each collector gets its\n"
		"                                   own sequence numbers and templates.\n"
		"                                   ipfix://HOST:PORT: IPFIX (RFC 7011) over\n"
		"                                   UDP to this one instead; ipfix+tcp://\n"
		"                                   HOST:PORT over TCP (reconnects, templates\n"
		"                                   first on each connection).\n"
		"      --ipfix-pen N                Private Enterprise Number of the IPFIX\n"
		"                                   elements only this probe has (reset\n"
		"                                   verdict, BitTorrent, packets seen; %u,\n"
		"                                   RFC 5612's number for documentation: use\n"
		"                                   your organisation's own)\n"
		"      --json                       each exported flow as one JSON object a\n"
		"                                   line on stdout (JSON Lines)\n"
		"      --active-timeout S           export long flows every S seconds (%d)\n"
		"      --inactive-timeout S         export flows idle for S seconds (%d)\n"
		"      --probe-id NAME              this probe's name in every JSON line\n"
		"                                   (\"probe_id\") and, hashed, its NetFlow\n"
		"                                   source id (default: the host name)\n"
		"      --source-id N                NetFlow source id (observation domain;\n"
		"                                   default: a hash of the probe id)\n"
		"      --max-payload BYTES          NetFlow packet payload size (%d); export\n"
		"                                   packets are never fragmented\n"
		"      --max-flows N                kernel flow table slots per CPU (default\n"
		"                                   %d shared among the CPUs, at least %d\n"
		"                                   each; rounded up to a power of two; %zu\n"
		"                                   bytes each, twice: two generations; here\n"
		"                                   %u per CPU). A flow that\n"
		"                                   finds its bucket full evicts the least\n"
		"                                   recently seen one to the daemon: still\n"
		"                                   counted.\n"
		"      --max-connections N          TCP connections tracked for reset analysis\n"
		"                                   (%d, rounded up to a power of two; %zu\n"
		"                                   bytes each, allocated at start). A new\n"
		"                                   connection evicts a closed, half-open or\n"
		"                                   long-idle one; where there is none it goes\n"
		"                                   untracked, counted in conn_table_full\n"
		"                                   (its flows are counted as always).\n"
		"      --no-resets                  no connection table: no reset verdicts and\n"
		"                                   no connection counters, about 100 ns less\n"
		"                                   per TCP packet\n"
		"      --no-routes                  inline: no route lookup when a flow starts;\n"
		"                                   OUTPUT_SNMP 0 and no next hop, as in tap\n"
		"                                   mode (docs/export.md, \"Egress interface\")\n"
		"      --tunnels inner|outer        inner (default): a packet in a GRE, ERSPAN,\n"
		"                                   GRE-in-UDP, IP-in-IP, VXLAN, Geneve, GTP-U\n"
		"                                   or Teredo tunnel is the flow inside (its\n"
		"                                   addresses, ports and IP bytes in the\n"
		"                                   NetFlow record, the tunnel type in\n"
		"                                   templates 262/263; its endpoints are not\n"
		"                                   exported);\n"
		"                                   outer: it is the tunnel's own flow, as a\n"
		"                                   router forwarding it sees it. PPPoE and\n"
		"                                   MPLS are always looked through\n"
		"      --local PREFIX[,PREFIX...]   the customers' addresses, whose behaviour\n"
		"                                   is scored for peer-to-peer (default:\n"
		"                                   %s)\n"
		"      --local-file FILE            the same from a file, one prefix a line ('#'\n"
		"                                   comments), up to %d; --local and\n"
		"                                   --local-file add up, and replace the default\n"
		"      --p2p-period S               one P2P alarm per host per period (%lu)\n"
		"      --p2p-threshold N            score 1-100 that raises the alarm (%u)\n"
		"      --interval S                 connection counters every S seconds (%d):\n"
		"                                   opens, failures, resets, forged resets and\n"
		"                                   blocked BitTorrent per --local prefix, and\n"
		"                                   where interference sits (protocol, port or\n"
		"                                   direction); JSON \"interval\" objects\n"
		"      --asn-table FILE             prefix-to-AS table (CAIDA prefix2as lines\n"
		"                                   \"192.0.2.0<TAB>24<TAB>64500\", or\n"
		"                                   \"192.0.2.0/24 64500\"): interval rows per\n"
		"                                   remote AS, SRC_AS/DST_AS in NetFlow\n"
		"      --no-reset-template          export flows of reset connections in the\n"
		"                                   normal templates, without the verdict (by\n"
		"                                   default they use templates 260/261, whose\n"
		"                                   private field %u is 1 genuine, 2 suspect,\n"
		"                                   3 forged)\n"
		"      --export-rate PPS            export packets a second to each collector\n"
		"                                   (%d; 0: unpaced, as fast as the socket\n"
		"                                   takes them). 4000 packets of 1400 bytes\n"
		"                                   are 46 Mbit/s, and arrive 20 at a time\n"
		"                                   every 5 ms, which a collector's default\n"
		"                                   208 KB socket buffer absorbs; at about 17\n"
		"                                   flows a packet, 68,000 flows a second.\n"
		"                                   Expiry waits for room rather than drop;\n"
		"                                   at shutdown the daemon waits until every\n"
		"                                   open flow has left (1,000,000 flows: about\n"
		"                                   15 s) and logs how long it expects.\n"
		"      --export-queue N             export packets a collector may have waiting\n"
		"                                   (%d, at most %u bytes each; allocated as\n"
		"                                   they wait); beyond it they are dropped and\n"
		"                                   counted in export_queue_drops\n"
		"      --source ADDR[:PORT]         send export packets from this address (and\n"
		"                                   port), so that collectors recognise the\n"
		"                                   exporter on a multi-homed host; IPv6 as\n"
		"                                   [2001:db8::2]:PORT or a bare address\n"
		"      --template-refresh S         send the templates again at least every S\n"
		"                                   seconds (%d; also every %d packets), so a\n"
		"                                   restarted collector decodes records again\n"
		"                                   that soon\n"
		"  -v, --verbose                    debug messages and libbpf's own output\n"
		"  -h, --help                       this text\n"
		"\n"
		"TCP flows also end %llu s after a FIN or RST.\n",
		(unsigned)IPFIX_DEFAULT_PEN, DEFAULT_ACTIVE_TIMEOUT, DEFAULT_INACTIVE_TIMEOUT,
		NF9_DEFAULT_MAX_PAYLOAD, MAX_FLOWS_TOTAL, MAX_FLOWS_MIN, sizeof(struct flow_entry),
		probe_default_slots(libbpf_num_possible_cpus()), MAX_CONNS,
		sizeof(struct conn_bucket) / CONN_WAYS, PREFIX_SET_DEFAULT, PREFIX_SET_MAX,
		(unsigned long)P2P_DEFAULT_PERIOD_MS / 1000, (unsigned)P2P_DEFAULT_THRESHOLD,
		CONN_INTERVAL_DEFAULT_S, (unsigned)NF9_FIELD_RESET_VERDICT, COLLECTOR_DEFAULT_RATE,
		COLLECTOR_QUEUE_DEFAULT, (unsigned)NF9_PAYLOAD_LIMIT, NF9_DEFAULT_REFRESH_MS / 1000,
		NF9_DEFAULT_REFRESH_PACKETS, END_GRACE_NS / NS_PER_SEC);
	curve_options_usage(out);
}
