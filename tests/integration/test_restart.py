#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Restart without loss: a steady stream, two daemon restarts, one detach.

A in the lab sends one UDP flow to B, paced (about 2,500 packets/s, a few
seconds). The probe on both of R's interfaces exports to nfcapd. A third of
the way in, the daemon gets SIGTERM (what `systemctl restart` sends) and a
new one is started: it must say it took the pinned probe over; the same
again at two thirds. After the stream the last daemon gets SIGTERM too,
more packets of the flow are sent while no daemon runs (the pinned program
alone counts them), and `flowprobe detach` exports and removes everything.

nfcapd must hold exactly every packet sent, in packets and bytes, over the
records of all four exporters; A's veth must have dropped nothing (else
what was sent is not what reached the probe); afterwards nothing is
attached or pinned. A daemon that detached on SIGTERM, or a takeover that
started with fresh tables, loses the packets of the gaps and fails here.
"""

import os
import re
import sys

sys.dont_write_bytecode = True      # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab as L  # noqa: E402
from lab import ok, comment  # noqa: E402

PORT = 2055
SPORT, DPORT = 41000, 9
PAYLOAD = 100                 # 128-byte IPv4 packets
STREAM = 10_000               # packets in the steady stream
PPS = 2_500
AFTER = 700                   # packets sent while no daemon runs


def IFACES(lab):
    """Both of R's interfaces: a takeover of a probe on several."""
    return [lab.if_ra, lab.if_rb]

# A paced sender: count datagrams at about pps, unconnected (an ICMP port
# unreachable from B must not turn into a send error). Prints "sent N".


def wait_packets(probe, at_least, what, settled=False):
    """Until the probe's datapath has seen at_least packets (all pinned
    counters, whichever daemon runs, both interfaces: B's ICMP replies
    count too). settled: and the count stopped moving (three equal
    readings in a row), so every packet sent so far went through."""
    seen = []

    def cond():
        n = probe.stats(probe.lab.if_ra).get("packets", 0)
        seen.append(n)
        if n < at_least:
            return False
        return not settled or seen[-3:] == [n] * 3
    return L.wait_until(cond, 60, what, interval=0.2)


def restart(lab, probe, n):
    """SIGTERM the daemon, start another on the same pins."""
    rc = probe.stop(keep=True)
    ok(rc == 0, f"restart {n}: the daemon exits 0 on SIGTERM",
       L.tail(probe.stderr()))
    pinned = lab.xdp_prog("R", lab.if_ra)
    ok(pinned is not None and
       os.path.exists(os.path.join(lab.pin_dir(lab.if_ra), "link")),
       f"restart {n}: the program stays attached and pinned meanwhile",
       f"{lab.if_ra} carries {pinned}")
    new = L.Flowprobe(lab, IFACES(lab), [f"127.0.0.1:{PORT}"])
    new.start()
    ok(re.search(r"took over the pinned probe on " + re.escape(lab.if_ra),
                 new.stderr()),
       f"restart {n}: the new daemon takes the pinned probe over",
       L.tail(new.stderr()))
    return new


def main():
    if L.PROBE_KIND != "flowprobe":
        ok(True, "# SKIP restarts are flowprobe's own, nothing to test with "
           f"{L.PROBE_KIND}")
        return
    with L.Lab() as lab:
        nfcapd = lab.start_nfcapd(PORT)
        probe = lab.start_probe(IFACES(lab), [f"127.0.0.1:{PORT}"])
        base = probe.stats(lab.if_ra).get("packets", 0)
        drops0 = lab.tx_dropped("A", lab.if_a)

        sender = lab.spawn("A", [L.PYTHON, L.__file__, "udp-paced", lab.V4["B"], DPORT,
                                 SPORT, STREAM, PPS, PAYLOAD], name="sender")
        wait_packets(probe, base + STREAM // 3, "a third of the stream")
        probe = restart(lab, probe, 1)
        wait_packets(probe, base + 2 * STREAM // 3, "two thirds of the stream")
        probe = restart(lab, probe, 2)
        rc = sender.wait(120)
        ok(rc == 0 and f"sent {STREAM}" in sender.stdout(),
           f"the stream of {STREAM} packets was sent (exit {rc})",
           sender.stdout() + sender.stderr())

        # The last daemon goes too; the pinned program counts alone.
        wait_packets(probe, base + STREAM, "the whole stream at the probe",
                     settled=True)
        rc = probe.stop(keep=True)
        ok(rc == 0, "the last daemon exits 0 on SIGTERM", L.tail(probe.stderr()))
        cp = lab.run("A", [L.PYTHON, L.__file__, "udp-paced", lab.V4["B"], DPORT, SPORT,
                           AFTER, PPS, PAYLOAD], check=False)
        ok(cp.returncode == 0, f"{AFTER} more packets sent with no daemon "
           "running", cp.stdout + cp.stderr)
        wait_packets(probe, base + STREAM + AFTER,
                     "the pinned program to count them", settled=True)
        cp = probe.detach()
        ok(cp.returncode == 0 and "took over" in cp.stderr,
           f"flowprobe detach exits 0 (got {cp.returncode})",
           L.tail(cp.stderr))
        drops = lab.tx_dropped("A", lab.if_a) - drops0
        ok(drops == 0, "no packet dropped on A's side of the link",
           f"A's tx_dropped grew by {drops}")
        nfcapd.stop()

        total = STREAM + AFTER
        key = (lab.V4["A"], lab.V4["B"], 17, SPORT, DPORT)
        pk, by, recs = nfcapd.flows().get(key, [0, 0, 0])
        comment(f"the flow arrived in {recs} records from 4 daemons")
        ok(pk == total, f"exported packets = sent packets: {pk:,} of "
           f"{total:,}", f"{'missing' if pk < total else 'extra'} "
           f"{abs(total - pk):,}")
        ok(by == total * (PAYLOAD + 28), f"exported bytes = sent bytes: "
           f"{by:,}", f"expected {total * (PAYLOAD + 28):,}")
        left = []
        for ifn in IFACES(lab):
            if lab.xdp_prog("R", ifn):
                left.append(f"{ifn}: {lab.xdp_prog('R', ifn)}")
            if os.path.exists(lab.pin_dir(ifn)):
                left.append(f"{lab.pin_dir(ifn)} still exists")
        ok(not left, "nothing attached or pinned after detach", "\n".join(left))


if __name__ == "__main__":
    try:
        main()
    except L.LabError as e:
        ok(False, "lab", str(e))
    L.done()
