#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""`sudo make demo`: flowprobe between two hosts, NetFlow into nfcapd.

Builds the lab (namespaces A -- R -- B), starts nfcapd on R's loopback and
`flowprobe run` inline on both of R's interfaces, drives a mix of TCP,
UDP and ICMP over IPv4 and IPv6 between A and B while tcpdump on A records
what was really sent, stops the probe (which exports every flow on
SIGTERM), and prints one row per flow: what was sent, what nfcapd
received, and the difference. Exits non-zero if any flow differs.
FLOWPROBE_PROBE=softflowd shows the same table for softflowd.
"""

import os
import sys

sys.dont_write_bytecode = True      # keep the source tree clean
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "integration"))
import lab as L  # noqa: E402

PORT = 2055


def say(msg):
    print(msg, flush=True)


def main():
    if os.geteuid() != 0:
        say("demo: needs root (network namespaces, XDP): sudo make demo")
        return 3
    with L.Lab(keep_dir_on_failure=False) as lab:
        say(f"lab: A ({lab.V4['A']}, {lab.V6['A']}) -- {lab.if_ra} R "
            f"{lab.if_rb} -- B ({lab.V4['B']}, {lab.V6['B']})")
        nfcapd = lab.start_nfcapd(PORT)
        say(f"nfcapd listening on 127.0.0.1:{PORT} in R, files in {nfcapd.dir}")
        probe = lab.start_probe([lab.if_ra, lab.if_rb], [f"127.0.0.1:{PORT}"])
        say(f"{probe.kind} running inline on {lab.if_ra},{lab.if_rb}")
        lab.start_ground_truth()
        say("driving traffic: TCP bulk and request/response, UDP echo of "
            "several sizes, ICMP/ICMPv6 echo, IPv4 and IPv6 ...")
        mix_ok, report = lab.drive_mix()
        truth, problems = lab.stop_ground_truth()
        rc = probe.stop()
        say(f"{probe.kind} stopped (exit {rc}); waiting for nfcapd")
        nfcapd.stop()
        got = nfcapd.flows()

        rows = L.flow_table(truth, got, lab.endpoints())
        w = max([len("flow")] + [len(r[0]) for r in rows])
        head = (f"{'flow':<{w}}  {'sent pkts':>9} {'sent bytes':>10}  "
                f"{'rcvd pkts':>9} {'rcvd bytes':>10}  {'diff pkts':>9} "
                f"{'diff bytes':>10}")
        say("")
        say(head)
        say("-" * len(head))
        for name, sp, sb, rp, rb, dp, db in rows:
            mark = "" if dp == 0 and db == 0 else "   <-- differs"
            say(f"{name:<{w}}  {sp:>9} {sb:>10}  {rp:>9} {rb:>10}  "
                f"{dp:>+9} {db:>+10}{mark}")
        say("-" * len(head))
        say(f"{'total':<{w}}  {sum(r[1] for r in rows):>9} "
            f"{sum(r[2] for r in rows):>10}  {sum(r[3] for r in rows):>9} "
            f"{sum(r[4] for r in rows):>10}")
        say("")

        bad = [r for r in rows if r[5] or r[6]]
        notes = []
        if not mix_ok:
            notes.append("some exchanges failed:\n" + report)
        notes += problems
        if rc not in probe.ok_exit:
            notes.append(f"{probe.kind} exited {rc}:\n"
                         + L.tail(probe.stderr(), 5))
        for n in notes:
            say("note: " + n)
        if not bad and not notes and rows:
            say(f"all {len(rows)} flows match: {sum(r[1] for r in rows)} "
                f"packets, {sum(r[2] for r in rows)} bytes")
            return 0
        missing = sum(1 for r in rows if r[3] == 0 and r[1])
        extra = sum(1 for r in rows if r[1] == 0 and r[3])
        say(f"{len(bad)} of {len(rows)} flows differ ({missing} missing, "
            f"{extra} never sent, {len(bad) - missing - extra} with other "
            f"counts)" if bad else "flows match, but see the notes above")
        return 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except L.LabError as e:
        print(f"demo failed: {e}", file=sys.stderr)
        sys.exit(1)
