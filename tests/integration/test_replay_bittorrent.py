#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""BitTorrent recognition end to end, on real captures, through replay.

Every flow of nDPI's bittorrent.pcap (peer-wire handshakes) and
bittorrent_utp.pcap (uTP) must come out of `flowprobe replay --json` with
"app":"bittorrent", both directions; no flow of the other captures
(gnutella, edonkey, quic, netflix, skype, ssh, teamspeak, HTTP over IPv6, a
port scan, fragmented DNS) may, and none may produce a `bittorrent` event.
The busy local host of bittorrent.pcap (24 connections) gets exactly one
`p2p_host` alarm for the period. A P2P alarm is about behaviour, not BitTorrent: the
Gnutella host may get one (it is peer-to-peer), the others may not.
"""

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PCAP_DIR = REPO.parent / "shared" / "pcaps" / "ndpi"
FLOWPROBE = Path(os.environ.get("FLOWPROBE", REPO / "flowprobe"))

BITTORRENT = ["bittorrent.pcap", "bittorrent_utp.pcap"]
# Peer-to-peer, not BitTorrent: a behaviour alarm is right for these.
P2P_OTHERS = ["gnutella.pcap", "edonkey.pcap"]
OTHERS = ["gnutella.pcap", "edonkey.pcap", "quic.pcap", "netflix.pcap",
          "skype-conference-call.pcap", "ssh.pcap", "teamspeak3.pcap",
          "http_ipv6.pcap", "tcp_scan.pcapng", "dns_fragmented.pcap"]

n = 0


def ok(cond, desc, detail=""):
    global n
    n += 1
    print(f"{'ok' if cond else 'not ok'} {n} - {desc}")
    if not cond and detail:
        for line in str(detail).splitlines():
            print(f"#   {line}")
    return cond


def replay(name):
    p = subprocess.run([str(FLOWPROBE), "replay", "--json",
                        str(PCAP_DIR / name)], capture_output=True,
                       text=True, timeout=300)
    objs = [json.loads(line) for line in p.stdout.splitlines() if line]
    return p, objs


def flow_id(o):
    return f"{o['src']}:{o['sport']} > {o['dst']}:{o['dport']} proto {o['proto']}"


def main():
    missing = [c for c in BITTORRENT + OTHERS if not (PCAP_DIR / c).exists()]
    if missing:
        print(f"1..0 # SKIP captures not found in {PCAP_DIR}: {missing}")
        return
    for name in BITTORRENT:
        p, objs = replay(name)
        flows = [o for o in objs if o["type"] == "flow"]
        events = Counter(o["kind"] for o in objs if o["type"] == "bittorrent")
        alarms = [o for o in objs if o["type"] == "p2p_host"]
        missed = [flow_id(o) for o in flows if o.get("app") != "bittorrent"]
        ok(p.returncode == 0 and flows and not missed,
           f"{name}: all {len(flows)} flow records are BitTorrent",
           "\n".join(missed[:20]) + "\n" + p.stderr[-500:])
        ok(sum(events.values()) > 0,
           f"{name}: bittorrent events {dict(events)}")
        hosts = Counter(a["host"] for a in alarms)
        # bittorrent.pcap: one host, 24 connections: a P2P host. The uTP
        # capture holds a single connection: recognised, not alarming.
        want = name == "bittorrent.pcap"
        ok((not want or alarms) and all(v == 1 for v in hosts.values()),
           f"{name}: {'one' if want else 'at most one'} P2P alarm per host "
           f"and period {dict(hosts)}",
           "\n".join(json.dumps(a) for a in alarms))
    for name in OTHERS:
        p, objs = replay(name)
        flows = [o for o in objs if o["type"] == "flow"]
        wrong = [flow_id(o) for o in flows if o.get("app") is not None]
        kinds = ("bittorrent",) if name in P2P_OTHERS else \
            ("bittorrent", "p2p_host")
        events = [o for o in objs if o["type"] in kinds]
        ok(p.returncode == 0 and flows and not wrong and not events,
           f"{name}: none of {len(flows)} flow records is BitTorrent, no "
           "BitTorrent event" + ("" if name in P2P_OTHERS else
                                 " or P2P alarm"),
           "\n".join(wrong[:10] + [json.dumps(e) for e in events[:10]]))
    print(f"1..{n}")


if __name__ == "__main__":
    main()
