#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""PPPoE, MPLS, GRE, VXLAN and other tunnels live through an inline probe.

The frames of the corpus's encapsulated Ethernet captures (PPPoE in QinQ,
MPLS in VLAN, GRE, ERSPAN, IP-in-IP, VXLAN, Geneve, Teredo) are sent for
real from test host A through a packet socket onto the veth to R, where
flowprobe runs inline (XDP_PASS) exporting to nfcapd; the same captures
are replayed into a second nfcapd with `flowprobe replay -c`. Checked:

- the probe counted every frame sent;
- every frame reached R's stack unchanged: a packet socket on R (tcpdump,
  which sees frames after XDP) holds exactly the bytes A sent, frame by
  frame, so inline decapsulation never drops or rewrites a packet;
- live and replay give the same inner flows with the same packets and IP
  bytes (NetFlow carries the inner flow: --tunnels inner), so the inner
  flows are counted live as test_replay_encap.py shows they are replayed;
- the live probe also exports IPFIX, and both streams carry what carried
  the flows (docs/export.md, "Encapsulated flows"): the MPLS-labelled
  flow of mixed-vlan-mpls.pcap arrives with its top label (29, TC 6,
  bottom of stack) and the PPPoE flow of pppoe-over-qinq.pcap with its
  outer VLAN (3704) and inner VLAN (2474), as tshark dissects those
  captures. nfdump 1.7.1 (nfcapd, %mpls1 and %svln), pmacct's nfacctd
  (mpls_label_top, vlan) and tshark (every field of both streams
  decoded, the inner VLAN too, no expert item) are asked; plain flows
  stay in the plain templates.
"""

import os
import re
import signal
import sys
import xml.etree.ElementTree as ET

sys.dont_write_bytecode = True      # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab as L  # noqa: E402
from lab import ok, comment  # noqa: E402

CORPUS = os.path.join(L.ROOT, "..", "shared", "corpus")
CAPTURES = ["zeek/pppoe.pcap", "zeek/pppoe-over-qinq.pcap",
            "zeek/mpls-in-vlan.pcap", "zeek/mixed-vlan-mpls.pcap",
            "zeek/tunnels/gre-sample.pcap", "zeek/erspanII.pcap",
            "zeek/tunnels/gre-over-udp-4754.pcap",
            "zeek/tunnels/4in6.pcap", "zeek/tunnels/6in4.pcap",
            "zeek/tunnels/vxlan.pcap", "zeek/tunnels/geneve.pcap",
            "zeek/tunnels/Teredo.pcap"]
PORT_REPLAY, PORT_LIVE, PORT_IPFIX = 2061, 2062, 2063
PORT_PMACCT_V9, PORT_PMACCT_IPFIX = 2064, 2065

# What carried two flows, as tshark dissects their captures: (MPLS label,
# TC, S) of the top entry, outer VLAN, inner VLAN; and a flow that came
# plain, which must stay in the plain templates.
MPLS_FLOW = ("10.1.2.1", "10.34.0.1")      # zeek/mixed-vlan-mpls.pcap
QINQ_FLOW = ("1.1.1.1", "2.2.2.2")         # zeek/pppoe-over-qinq.pcap
PLAIN_FLOW = ("141.42.64.125", "125.190.109.199")
CARRIED = {MPLS_FLOW: ((29, 6, 1), 0, 0), QINQ_FLOW: ((0, 0, 0), 3704, 2474)}
ENCAP_TEMPLATES = (262, 263)

SEND = r"""
import sys
from scapy.all import PcapReader
from scapy.arch.linux import L2Socket
sock = L2Socket(iface=sys.argv[1])
with open(sys.argv[2], "w") as out:
    for path in sys.argv[3:]:
        for pkt in PcapReader(path):
            b = bytes(pkt)
            sock.send(b)
            out.write(b.hex() + "\n")
"""

# The frames R's packet socket saw, in order, as hex lines.
READ = r"""
import sys
from scapy.all import PcapReader
for pkt in PcapReader(sys.argv[1]):
    print(bytes(pkt).hex())
"""


def nfdump_carriers(col):
    """{(src, dst): {(mpls1, src vlan)}} from nfdump's own formatter."""
    out = {}
    for line in col._nfdump(["-q", "-o", "fmt:%sa,%da,%mpls1,%svln"]).splitlines():
        cols = [c.strip() for c in line.split(",")]
        if len(cols) != 4:
            continue
        label = tuple(int(x) for x in cols[2].split("-"))
        out.setdefault((cols[0], cols[1]), set()).add((label, int(cols[3])))
    return out


def tshark_carriers(cap):
    """{port: {(src, dst): {(template, (label, tc, s), vlan, inner)}}} from
    tshark's dissection of every exported flow record."""
    out = {p: {} for p in cap.ports}
    root = ET.fromstring(cap._tshark(["-T", "pdml"]))
    for pkt in root.iter("packet"):
        port = None
        for fld in pkt.iter("field"):
            if fld.get("name") == "udp.dstport":
                port = int(fld.get("show"))
                break
        if port not in out:
            continue
        # records are the "Flow n" children of their "FlowSet n [id=t]"
        # (v9) or "Set n [id=t]" (IPFIX)
        for fs in pkt.iter("field"):
            m = re.match(r"(?:Flow)?Set \d+ \[id=(\d+)\]", fs.get("show") or "")
            if not m:
                continue
            for sub in fs:
                if not re.fullmatch(r"Flow \d+", sub.get("show") or ""):
                    continue
                v = L._field_map(sub)
                key = (v.get("cflow.srcaddr") or v.get("cflow.srcaddrv6"),
                       v.get("cflow.dstaddr") or v.get("cflow.dstaddrv6"))
                label = tuple(int(v.get(f, "0")) for f in
                              ("cflow.mpls_label", "cflow.mpls_exp", "cflow.mpls_bos"))
                out[port].setdefault(key, set()).add(
                    (int(m.group(1)), label, int(v.get("cflow.vlanid", "-1")),
                     int(v.get("cflow.dot1q_customer_vlan_id", "0"))))
    return out


def main():
    paths = [os.path.join(CORPUS, c) for c in CAPTURES]
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        print(f"1..0 # SKIP captures not found: {missing}")
        return
    with L.Lab() as lab:
        replay_col = lab.start_nfcapd(PORT_REPLAY)
        live_col = lab.start_nfcapd(PORT_LIVE)
        ipfix_col = lab.start_nfcapd(PORT_IPFIX)
        export = lab.start_export_capture([PORT_LIVE, PORT_IPFIX])
        pmacct = {name: lab.start_nfacctd(port, extra=["vlan", "mpls_label_top"])
                  for name, port in (("v9", PORT_PMACCT_V9),
                                     ("IPFIX", PORT_PMACCT_IPFIX))}
        cp = lab.run("R", [L.FLOWPROBE_BIN, "replay", "-c",
                           f"127.0.0.1:{PORT_REPLAY}"] + paths,
                     mount=False, check=False, timeout=120)
        ok(cp.returncode == 0, "flowprobe replay into nfcapd exits 0",
           L.tail(cp.stderr))

        lab.run("A", ["ip", "link", "set", "dev", lab.if_a, "mtu", "9000"])
        lab.run("R", ["ip", "link", "set", "dev", lab.if_ra, "mtu", "9000"])
        # A's own stack must send nothing the probe would count beside the
        # frames under test (its answers to R's ARP and neighbour
        # solicitations did, now and then): A only sends from a packet
        # socket here.
        lab.run("A", ["sysctl", "-qw", f"net.ipv6.conf.{lab.if_a}.disable_ipv6=1"])
        lab.run("A", ["ip", "link", "set", "dev", lab.if_a, "arp", "off"])
        probe = lab.start_probe([lab.if_ra], [
            f"127.0.0.1:{PORT_LIVE}", f"ipfix://127.0.0.1:{PORT_IPFIX}",
            f"127.0.0.1:{PORT_PMACCT_V9}", f"ipfix://127.0.0.1:{PORT_PMACCT_IPFIX}"])
        seen_path = os.path.join(lab.dir, "seen-on-R.pcap")
        sent_path = os.path.join(lab.dir, "sent.hex")
        dump = lab.spawn("R", ["tcpdump", "-i", lab.if_ra, "-n", "-U",
                               "--immediate-mode", "-s", "0", "-B", "8192",
                               "-w", seen_path], name="tcpdump-R")
        dump.wait_for(r"listening on", 15)
        cp = lab.run("A", ["/usr/bin/python3", "-c", SEND, lab.if_a, sent_path]
                     + paths, check=False, timeout=300)
        sent = []
        if cp.returncode == 0 and os.path.exists(sent_path):
            with open(sent_path) as f:
                sent = f.read().split()
        ok(cp.returncode == 0 and sent,
           f"the frames sent live from A ({len(sent)} frames)", L.tail(cp.stderr))

        def all_arrived():
            return probe.stats(lab.if_ra).get("packets", 0) >= len(sent)
        try:
            L.wait_until(all_arrived, 30, "every frame to reach the probe")
        except L.LabError as e:
            comment(str(e))
        seen = probe.stats(lab.if_ra).get("packets", 0)
        L.wait_file_quiet(seen_path)
        dump.stop(signal.SIGINT, 30)
        rc = probe.stop()
        ok(rc == 0 and seen == len(sent),
           f"inline probe counted every frame sent ({seen} of {len(sent)}) "
           "and exits 0", L.tail(probe.stderr()))

        cp = lab.run("R", ["/usr/bin/python3", "-c", READ, seen_path],
                     check=False, timeout=120)
        # R's own frames (IPv6 router and neighbour solicitations of its
        # stack) are not A's: only A's frames are compared, in order.
        sent_set = set(sent)
        passed = [h for h in cp.stdout.split() if h in sent_set]
        ok(passed == sent,
           f"every frame passed to R's stack unchanged ({len(passed)} of "
           f"{len(sent)}, byte for byte, in order)",
           f"{len(set(sent) - set(passed))} frames missing or changed")

        replay_col.stop()
        live_col.stop()
        ipfix_col.stop()
        for col in pmacct.values():
            col.stop()
        problems = export.stop()
        replayed = {k: v[:2] for k, v in replay_col.flows().items()}
        live = {k: v[:2] for k, v in live_col.flows().items()}
        diff = [f"{key}: replay {replayed.get(key)} live {live.get(key)}"
                for key in sorted(set(replayed) | set(live), key=str)
                if replayed.get(key) != live.get(key)]
        ok(replayed and not diff,
           f"replay and live give the same {len(replayed)} inner flows, "
           "packets and bytes exact", "\n".join(diff[:20]))
        comment(f"{len(replayed)} flows, "
                f"{sum(v[0] for v in replayed.values())} packets, "
                f"{sum(v[1] for v in replayed.values())} IP bytes each way")
        ipfix = {k: v[:2] for k, v in ipfix_col.flows().items()}
        ok(ipfix == live, f"the IPFIX stream holds the same {len(live)} flows "
           "as the NetFlow v9 one, packets and bytes exact",
           f"{sum(ipfix.get(k) != live.get(k) for k in set(ipfix) | set(live))} differ")

        for name, col in (("v9", live_col), ("IPFIX", ipfix_col)):
            got = nfdump_carriers(col)
            for flow, (label, vlan, _inner) in CARRIED.items():
                ok(got.get(flow) == {(label, vlan)},
                   f"nfdump, {name}: {flow[0]} -> {flow[1]} has MPLS label "
                   f"{'-'.join(map(str, label))} and VLAN {vlan} in every record",
                   f"got {got.get(flow)}")

        # pmacct has no primitive for the inner VLAN (cvlan is pmacctd's)
        for name, col in pmacct.items():
            got = {}
            for r in col.rows():
                got.setdefault((r["SRC_IP"], r["DST_IP"]), set()).add(
                    (int(r["MPLS_LABEL_TOP"]), int(r["VLAN"])))
            for flow, (label, vlan, _inner) in CARRIED.items():
                ok(got.get(flow) == {(label[0], vlan)},
                   f"pmacct, {name}: {flow[0]} -> {flow[1]} has MPLS label "
                   f"{label[0]} and VLAN {vlan}", f"got {got.get(flow)}")

        decoded = tshark_carriers(export)
        for port, name in ((PORT_LIVE, "v9"), (PORT_IPFIX, "IPFIX")):
            got = decoded[port]
            for flow, (label, vlan, inner) in CARRIED.items():
                want = {(t, label, vlan, inner) for t in ENCAP_TEMPLATES}
                ok(got.get(flow) and got[flow] <= want,
                   f"tshark, {name}: {flow[0]} -> {flow[1]} in template "
                   f"262 with label {label[0]} TC {label[1]} S {label[2]}, "
                   f"VLAN {vlan}, inner VLAN {inner}", f"got {got.get(flow)}")
            ok(got.get(PLAIN_FLOW) and
               all(t not in ENCAP_TEMPLATES for t, *_ in got[PLAIN_FLOW]),
               f"tshark, {name}: the plain flow {PLAIN_FLOW[0]} -> "
               f"{PLAIN_FLOW[1]} stays in the plain templates",
               f"got {got.get(PLAIN_FLOW)}")
        items, out = export.expert()
        ok(not problems and not items,
           "tshark decodes both export streams with no expert item",
           "\n".join(problems) + L.tail(out))


if __name__ == "__main__":
    try:
        main()
    except L.LabError as e:
        ok(False, "lab", str(e))
    L.done()
