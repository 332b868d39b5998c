#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""One flow of exactly 1,000,000 UDP packets at full speed: all counted.

udp_blast in A sends 1,000,000 datagrams of one 5-tuple to B as fast as
the kernel takes them. The probe runs in --tap mode on R's A-side
interface (counts, then drops), exporting to nfcapd in R. A's veth gets a
pfifo qdisc so that veth backpressure stops the sender instead of
dropping; A's tx_dropped and the qdisc's drops must not grow, otherwise
what was sent is not what reached the probe and the test fails for that
reason. The flow's exported packets (records summed) must be exactly
1,000,000 and its bytes 1,000,000 x IP length. The send rate is reported
as a TAP comment.
"""

import json
import os
import re
import sys

sys.dont_write_bytecode = True      # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab as L  # noqa: E402
from lab import ok, comment  # noqa: E402

N = 1_000_000
PAYLOAD = 18                 # 46-byte IPv4 packets, 64-byte frames
SPORT, DPORT = 40000, 9
PORT = 2055
BLAST = os.path.join(L.ROOT, "build", "tools", "udp_blast")


def qdisc_drops(lab):
    cp = lab.run("A", ["tc", "-s", "-j", "qdisc", "show", "dev", lab.if_a])
    return sum(q.get("drops", 0) for q in json.loads(cp.stdout))


def main():
    if not os.access(BLAST, os.X_OK):
        ok(False, "udp_blast is built", f"{BLAST} missing: make "
           "build/tools/udp_blast")
        return
    with L.Lab() as lab:
        lab.run("A", ["tc", "qdisc", "replace", "dev", lab.if_a, "root",
                      "pfifo", "limit", "10000"])
        # In tap mode R drops ARP too: A must know R's MAC beforehand.
        mac = lab.link("R", lab.if_ra)["address"]
        lab.run("A", ["ip", "neigh", "replace", lab.V4["RA"], "lladdr", mac,
                      "dev", lab.if_a, "nud", "permanent"])
        nfcapd = lab.start_nfcapd(PORT)
        try:
            probe = lab.start_probe([lab.if_ra], [f"127.0.0.1:{PORT}"],
                                    tap=True)
        except L.LabError as e:
            ok(False, f"{L.PROBE_KIND} starts in tap mode on {lab.if_ra}",
               str(e))
            return
        ok(True, f"{probe.kind} starts in tap mode on {lab.if_ra}")

        drops0, qdrops0 = lab.tx_dropped("A", lab.if_a), qdisc_drops(lab)
        cp = lab.run("A", [BLAST, lab.V4["B"], DPORT, N, PAYLOAD, SPORT],
                     check=False, timeout=240)
        m = re.search(r"sent (\d+) packets in ([\d.]+) seconds \((\d+) pps\)",
                      cp.stdout)
        sent = int(m.group(1)) if m else 0
        ok(cp.returncode == 0 and sent == N,
           f"udp_blast sent {sent} packets", cp.stdout + cp.stderr)
        if m:
            comment(f"send rate: {int(m.group(3)):,} packets/s "
                    f"({m.group(2)} s for {sent:,} packets)")
        drops = lab.tx_dropped("A", lab.if_a) - drops0
        qdrops = qdisc_drops(lab) - qdrops0
        ok(drops == 0 and qdrops == 0,
           "no packet dropped on A's side of the link (veth tx_dropped, "
           "qdisc drops)",
           f"A's tx_dropped grew by {drops}, its qdisc dropped {qdrops}: "
           f"the {sent} packets sent are not what reached the probe")

        stats = {}
        if probe.kind == "flowprobe":
            # Let the datapath finish what the veth ring still holds.
            try:
                stats = L.wait_until(
                    lambda: (lambda s: s if s.get("packets", 0) >= N else
                             None)(probe.stats()), 30,
                    "flowprobe stats to show every packet")
            except L.LabError as e:
                stats = probe.stats()
                comment(f"{e}; stats: {stats}")
        elif hasattr(probe, "flush"):
            probe.flush()
        rc = probe.stop(timeout=120)
        ok(rc in probe.ok_exit, f"{probe.kind} stops cleanly (exit {rc})",
           L.tail(probe.stderr()))
        nfcapd.stop()

        key = (lab.V4["A"], lab.V4["B"], 17, SPORT, DPORT)
        pk, by, recs = nfcapd.flows().get(key, [0, 0, 0])
        ok(pk == N, f"exported packets for the flow: {pk:,} "
           f"(in {recs} records)", f"expected exactly {N:,}, "
           f"{'missing' if pk < N else 'extra'} {abs(N - pk):,}")
        ok(by == N * (PAYLOAD + 28), f"exported bytes for the flow: {by:,}",
           f"expected {N * (PAYLOAD + 28):,}")
        if probe.kind == "flowprobe":
            ok(stats.get("uncounted_packets") == 0,
               "flowprobe stats: no packet uncounted", f"stats: {stats}")
            comment(f"flowprobe stats: {stats}")
        left = [f"{lab.if_ra}: {lab.xdp_prog('R', lab.if_ra)}"] \
            if lab.xdp_prog("R", lab.if_ra) else []
        if os.path.exists(lab.pin_dir(lab.if_ra)):
            left.append(f"{lab.pin_dir(lab.if_ra)} still exists")
        ok(not left, "nothing left attached or pinned after exit",
           "\n".join(left))


if __name__ == "__main__":
    try:
        main()
    except L.LabError as e:
        ok(False, "lab", str(e))
    L.done()
