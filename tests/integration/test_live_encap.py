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
  flows are counted live as test_replay_encap.py shows they are replayed.
"""

import os
import signal
import sys

sys.dont_write_bytecode = True      # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab as L  # noqa: E402
from lab import ok, comment  # noqa: E402

CORPUS = os.path.join(L.ROOT, "..", "shared", "corpus")
CAPTURES = ["zeek/pppoe.pcap", "zeek/pppoe-over-qinq.pcap",
            "zeek/mpls-in-vlan.pcap", "zeek/mixed-vlan-mpls.pcap",
            "zeek/tunnels/gre-sample.pcap", "zeek/erspanII.pcap",
            "zeek/tunnels/4in6.pcap", "zeek/tunnels/6in4.pcap",
            "zeek/tunnels/vxlan.pcap", "zeek/tunnels/geneve.pcap",
            "zeek/tunnels/Teredo.pcap"]
PORT_REPLAY, PORT_LIVE = 2061, 2062

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


def main():
    paths = [os.path.join(CORPUS, c) for c in CAPTURES]
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        print(f"1..0 # SKIP captures not found: {missing}")
        return
    with L.Lab() as lab:
        replay_col = lab.start_nfcapd(PORT_REPLAY)
        live_col = lab.start_nfcapd(PORT_LIVE)
        cp = lab.run("R", [L.FLOWPROBE_BIN, "replay", "-c",
                           f"127.0.0.1:{PORT_REPLAY}"] + paths,
                     mount=False, check=False, timeout=120)
        ok(cp.returncode == 0, "flowprobe replay into nfcapd exits 0",
           L.tail(cp.stderr))

        lab.run("A", ["ip", "link", "set", "dev", lab.if_a, "mtu", "9000"])
        lab.run("R", ["ip", "link", "set", "dev", lab.if_ra, "mtu", "9000"])
        probe = lab.start_probe([lab.if_ra], [f"127.0.0.1:{PORT_LIVE}"])
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


if __name__ == "__main__":
    try:
        main()
    except L.LabError as e:
        ok(False, "lab", str(e))
    L.done()
