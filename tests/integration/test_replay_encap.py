#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Replay the corpus's encapsulated captures and check the inner flows.

For every capture listed in CAPTURES (under ../shared/corpus, relative to
the repository root) `flowprobe replay --json` is run with the default
policy (--tunnels inner), and its unidirectional flow records are
compared with tshark's dissection of the same capture, packet by packet:
tshark's innermost IP header and the TCP/UDP/ICMP header after it (an
ICMP error's quoted header is not a tunnel: the ICMP packet's own IP
header is taken) name the flow each packet belongs to, as tshark's
conversation statistics (-z conv) do for the inner conversation.

Checked for each capture:
- every flow tshark finds is one of flowprobe's, with the same packets and
  IP bytes in each direction (IPv4 total length, IPv6 payload + 40);
- flowprobe has no flow tshark does not have;
- PPPoE, MPLS and tunnel flows carry what carried them (the JSON's
  "tunnel" and "encap" members), so a probe that counted the right inner
  flow by luck but lost the outer header fails.

CAPTURES lists what the datapath decapsulates (docs/architecture.md,
"Encapsulations"); SKIPPED lists the encapsulated captures of the corpus
that it does not, and why: they are printed as TAP skips, so the list of
what is not decapsulated stays in view.

TAP output, one line per capture, details as '#' lines. Run as root.
"""

import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "corpus"
FLOWPROBE = Path(os.environ.get("FLOWPROBE", REPO / "flowprobe"))
TIMEOUT = 300

# capture -> what its flows must say about their carrier: a tunnel name
# (the JSON "tunnel" member) or encap bits ("pppoe", "mpls"), for at
# least one flow; None: just the counts.
CAPTURES = {
    "zeek/pppoe.pcap": "pppoe",
    "zeek/pppoe-over-qinq.pcap": "pppoe",
    "suricata/pppoe/input.pcap": None,  # discovery, LCP, IPCP: no flow
    "zeek/mpls-in-vlan.pcap": "mpls",
    "zeek/mixed-vlan-mpls.pcap": "mpls",
    "zeek/tunnels/4in4.pcap": "ipip",
    "zeek/tunnels/4in6.pcap": "ipip",
    "zeek/tunnels/6in4.pcap": "ipip",
    "zeek/tunnels/6in6.pcap": "ipip",
    "zeek/tunnels/6in6in6.pcap": "ipip",
    "zeek/tunnels/ping6-in-ipv4.pcap": "ipip",
    "zeek/tunnels/gre-sample.pcap": "gre",
    "zeek/tunnels/gre-within-gre.pcap": "gre",
    "zeek/tunnels/gre-over-udp-4754.pcap": "gre_udp",
    "zeek/tunnels/gre-erspan3-dot1q.pcap": "erspan",
    "zeek/erspanII.pcap": "erspan",
    "zeek/erspanIII.pcap": "erspan",
    "zeek/tunnels/Teredo.pcap": "teredo",
    "suricata/decode-teredo-01/input.pcap": "teredo",
    "zeek/tunnels/vxlan.pcap": "vxlan",
    "zeek/tunnels/vxlan-encapsulated-http.pcap": "vxlan",
    "suricata/vxlan-decoder-01/input.pcap": "vxlan",
    "zeek/tunnels/geneve.pcap": "geneve",
    "zeek/tunnels/geneve-ipv6.pcap": "geneve",
    "zeek/tunnels/geneve-many-options.pcap": "geneve",
    "suricata/decode-chdlc-01/hdlc-http_1tx.pcap": None,
    "zeek/ppp/quic-interop-retry.pcap": None,
    "zeek/radiotap.pcap": None,
    "zeek/nflog-http.pcap": None,
    "zeek/llc.pcap": None,  # FDDI, LLC/SNAP
    "zeek/dns-inverse-query.pcap": None,  # FDDI
}

SKIPPED = {
    "zeek/tunnels/ayiya3.pcap": "AYIYA is not decapsulated",
    "zeek/tunnels/gre-pptp.pcap": "PPTP's enhanced GRE carries PPP: the outer flow",
    "zeek/tunnels/gre-aruba.pcap": "Aruba's GRE carries 802.11: the outer flow",
    "zeek/tunnels/socks.pcap": "SOCKS is a proxy, not a tunnel",
}

TUNNEL_LAYERS = ("gre", "vxlan", "geneve", "gtp", "teredo", "erspan", "ip", "ipv6")
TSHARK_FIELDS = ("frame.protocols", "ip.src", "ip.dst", "ip.len", "ip.proto",
                 "ip.frag_offset", "ipv6.src", "ipv6.dst", "ipv6.plen", "ipv6.nxt",
                 "tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport")


def tshark_flows(path):
    """{(proto, src, sport, dst, dport): [packets, bytes]} from tshark."""
    out = subprocess.run(
        ["tshark", "-n", "-r", str(path), "-o", "ip.defragment:FALSE",
         "-o", "ipv6.defragment:FALSE", "-T", "fields", "-E", "separator=\t",
         "-E", "occurrence=a", "-E", "aggregator=|"]
        + [a for f in TSHARK_FIELDS for a in ("-e", f)],
        capture_output=True, text=True, timeout=TIMEOUT, check=True).stdout
    flows = defaultdict(lambda: [0, 0])
    for line in out.splitlines():
        cols = dict(zip(TSHARK_FIELDS, line.split("\t")))
        vals = {k: (v.split("|") if v else []) for k, v in cols.items()}
        layers = cols["frame.protocols"].split(":")
        seen = {"ip": 0, "ipv6": 0, "tcp": 0, "udp": 0}
        ip = None  # (family, index) of the IP header the flow is keyed on
        l4 = None
        for name in layers:
            if name in ("ip", "ipv6"):
                ip, l4 = (name, seen[name]), None
            elif name in ("tcp", "udp") and ip and l4 is None:
                l4 = (name, seen[name])
            elif name in ("icmp", "icmpv6") and ip and l4 is None:
                l4 = (name, None)
                break  # what follows is the quoted header
            if name in seen:
                seen[name] += 1
        if ip is None:
            continue
        fam, i = ip
        if fam == "ip":
            src, dst = vals["ip.src"][i], vals["ip.dst"][i]
            size = int(vals["ip.len"][i])
            proto = int(vals["ip.proto"][i])
        else:
            src, dst = vals["ipv6.src"][i], vals["ipv6.dst"][i]
            size = int(vals["ipv6.plen"][i]) + 40
            proto = {"tcp": 6, "udp": 17, "icmpv6": 58}.get(l4[0] if l4 else "", -1)
            if proto < 0:
                proto = int(vals["ipv6.nxt"][i]) if len(vals["ipv6.nxt"]) > i else 0
        sport = dport = 0
        if l4 and l4[0] in ("tcp", "udp"):
            sport = int(vals[l4[0] + ".srcport"][l4[1]])
            dport = int(vals[l4[0] + ".dstport"][l4[1]])
        key = (proto, src, sport, dst, dport)
        flows[key][0] += 1
        flows[key][1] += size
    return flows


def probe_flows(path):
    """flowprobe's flows, same keys (ICMP ports 0), with their carriers."""
    run = subprocess.run([str(FLOWPROBE), "replay", "--json", str(path)],
                         capture_output=True, text=True, timeout=TIMEOUT)
    if run.returncode != 0:
        raise RuntimeError(f"replay exited {run.returncode}: {run.stderr.strip()}")
    flows = defaultdict(lambda: [0, 0])
    carriers = set()
    for line in run.stdout.splitlines():
        rec = json.loads(line)
        if rec.get("type") != "flow":
            continue
        sport, dport = rec["sport"], rec["dport"]
        if rec["proto"] in (1, 58):
            sport = dport = 0
        key = (rec["proto"], rec["src"], sport, rec["dst"], dport)
        flows[key][0] += rec["packets"]
        flows[key][1] += rec["bytes"]
        if rec.get("tunnel"):
            carriers.add(rec["tunnel"])
        carriers.update(rec.get("encap", []))
    return flows, carriers


def compare(want, got):
    problems = []
    for key in sorted(set(want) | set(got), key=str):
        w, g = want.get(key), got.get(key)
        if w is None:
            problems.append(f"flowprobe only: {key} {g[0]} packets {g[1]} bytes")
        elif g is None:
            problems.append(f"tshark only: {key} {w[0]} packets {w[1]} bytes")
        elif w != g:
            problems.append(f"{key}: tshark {w[0]} packets {w[1]} bytes, "
                            f"flowprobe {g[0]} packets {g[1]} bytes")
    return problems


def main():
    if os.geteuid() != 0:
        print("1..0 # SKIP needs root (BPF_PROG_TEST_RUN)")
        return 0
    items = list(CAPTURES.items()) + list(SKIPPED.items())
    print(f"1..{len(items)}")
    failed = 0
    for n, (name, what) in enumerate(items, 1):
        path = CORPUS / name
        if name in SKIPPED:
            print(f"ok {n} - {name} # SKIP {what}")
            continue
        if not path.exists():
            print(f"not ok {n} - {name}: missing from the corpus")
            failed += 1
            continue
        try:
            got, carriers = probe_flows(path)
            problems = compare(tshark_flows(path), dict(got))
        except (RuntimeError, subprocess.SubprocessError) as e:
            problems = [str(e)]
            carriers = set()
        if what and what not in carriers:
            problems.append(f"no flow says it came by {what} (saw {sorted(carriers)})")
        if problems:
            failed += 1
            print(f"not ok {n} - {name}")
            for p in problems[:20]:
                print(f"# {p}")
        else:
            print(f"ok {n} - {name}: {len(got)} flows as tshark has them")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
