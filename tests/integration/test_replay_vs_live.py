#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""One capture two ways: `flowprobe replay` and the same frames sent live.

The frames of real captures (IPv4 and IPv6, TCP, UDP, ICMP) are replayed
into nfcapd with `flowprobe replay -c`, then sent for real from test host
A through a packet socket onto the veth to R, where flowprobe runs in --tap
mode exporting to a second nfcapd. Both collectors must hold the same flows
with the same packets and bytes: replay runs the very program a live probe
runs. Timeouts may split flows into different records (live traffic is
sent in a burst, the capture spans minutes), so records are summed per
5-tuple before comparing.
"""

import os
import sys

sys.dont_write_bytecode = True      # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab as L  # noqa: E402
from lab import ok, comment  # noqa: E402

PCAPS = os.path.join(L.ROOT, "..", "shared", "pcaps", "ndpi")
# Together: IPv4 and IPv6, TCP, UDP and ICMP, pcap and pcapng.
CAPTURES = ["ssh.pcap", "http_ipv6.pcap", "quic.pcap", "tcp_scan.pcapng"]
PORT_REPLAY, PORT_LIVE = 2057, 2058

SEND = r"""
import sys
from scapy.all import PcapReader, conf
from scapy.arch.linux import L2Socket
sock = L2Socket(iface=sys.argv[1])
n = 0
for path in sys.argv[2:]:
    for pkt in PcapReader(path):
        sock.send(bytes(pkt))
        n += 1
print(n)
"""


def main():
    paths = [os.path.join(PCAPS, c) for c in CAPTURES]
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

        # Captured frames may exceed 1500 bytes (offloads at the capture
        # point): give the link room, as a jumbo-frame link would.
        lab.run("A", ["ip", "link", "set", "dev", lab.if_a, "mtu", "9000"])
        lab.run("R", ["ip", "link", "set", "dev", lab.if_ra, "mtu", "9000"])
        # In tap mode R drops ARP too; A sends raw frames, no ARP needed.
        probe = lab.start_probe([lab.if_ra], [f"127.0.0.1:{PORT_LIVE}"],
                                tap=True)
        cp = lab.run("A", ["/usr/bin/python3", "-c", SEND, lab.if_a] + paths,
                     check=False, timeout=300)
        sent = int(cp.stdout.strip() or 0) if cp.returncode == 0 else 0
        ok(cp.returncode == 0 and sent > 0,
           f"the same frames sent live from A ({sent} frames)",
           L.tail(cp.stderr))

        def all_arrived():
            return probe.stats(lab.if_ra).get("packets", 0) >= sent
        try:
            L.wait_until(all_arrived, 30, "every frame to reach the probe")
        except L.LabError as e:
            comment(str(e))
        seen = probe.stats(lab.if_ra).get("packets", 0)
        rc = probe.stop()
        ok(rc == 0 and seen == sent,
           f"live probe saw every frame sent ({seen} of {sent}) and exits 0",
           L.tail(probe.stderr()))
        replay_col.stop()
        live_col.stop()

        replayed = {k: v[:2] for k, v in replay_col.flows().items()}
        live = {k: v[:2] for k, v in live_col.flows().items()}
        diff = []
        for key in sorted(set(replayed) | set(live), key=str):
            if replayed.get(key) != live.get(key):
                diff.append(f"{key}: replay {replayed.get(key)} live "
                            f"{live.get(key)}")
        ok(replayed and not diff,
           f"replay and live give the same {len(replayed)} flows, packets "
           "and bytes exact", "\n".join(diff[:20]))
        comment(f"{len(replayed)} flows, "
                f"{sum(v[0] for v in replayed.values())} packets, "
                f"{sum(v[1] for v in replayed.values())} IP bytes each way")


if __name__ == "__main__":
    try:
        main()
    except L.LabError as e:
        ok(False, "lab", str(e))
    L.done()
