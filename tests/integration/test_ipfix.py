#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""IPFIX beside NetFlow v9: the same flows, packets and bytes in both.

Lab A -- R -- B, flowprobe inline in R exporting to two nfcapd on R's
loopback: one as NetFlow v9 (-c 127.0.0.1:2055), one as IPFIX
(-c ipfix://127.0.0.1:2057, --ipfix-pen 32473), and to pmacct's nfacctd
as IPFIX over IPv6 (-c ipfix://[::1]:2058), with a tcpdump capture of the
nfcapd streams. A and B exchange the lab's mix (TCP, UDP, ICMP, ICMPv6
over IPv4 and IPv6). After the probe stops, each ground-truth flow must
be in both nfcapd and in nfacctd with exactly its packets and bytes, nfdump must count 0
sequence failures in either, tshark must decode every export packet of
the IPFIX stream as IPFIX (version 10) with exact per-flow totals and no
expert warning, and show the enterprise elements with their PEN.
"""

import os
import re
import sys

sys.dont_write_bytecode = True      # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab as L  # noqa: E402
from lab import ok, comment  # noqa: E402

V9_PORT, IPFIX_PORT, NFACCTD_PORT = 2055, 2057, 2058
PEN = 32473


def exact(name, truth, got, ends):
    missing, wrong, extra = L.compare_flows(truth, got, ends)
    ok(not missing and not wrong and not extra,
       f"{name}: all {len(truth)} sent flows with exact packets and bytes, "
       "nothing else", "\n".join(list(missing) + list(wrong) + list(extra)))


def main():
    if L.PROBE_KIND != "flowprobe":
        ok(False, "this test needs flowprobe (IPFIX)")
        return
    with L.Lab() as lab:
        ends = lab.endpoints()
        v9 = lab.start_nfcapd(V9_PORT)
        ipfix = lab.start_nfcapd(IPFIX_PORT)
        # pmacct's nfacctd reads IPFIX too, here over IPv6.
        nfacctd = lab.start_nfacctd(NFACCTD_PORT, ip="::1")
        cap = lab.start_export_capture([V9_PORT, IPFIX_PORT])
        lab.start_server()
        try:
            probe = lab.start_probe(
                [lab.if_ra, lab.if_rb],
                [f"127.0.0.1:{V9_PORT}", f"ipfix://127.0.0.1:{IPFIX_PORT}",
                 f"ipfix://[::1]:{NFACCTD_PORT}"],
                extra=["--ipfix-pen", str(PEN)])
        except L.LabError as e:
            ok(False, "flowprobe starts with a v9 and an IPFIX collector",
               str(e))
            return
        lab.start_ground_truth()
        mix_ok, report = lab.drive_mix()
        ok(mix_ok, "traffic mix between A and B completed", report)
        truth, problems = lab.stop_ground_truth()
        lab.stop_server()
        ok(not problems, f"ground truth: {len(truth)} flows",
           "\n".join(problems))
        rc = probe.stop()
        ok(rc in probe.ok_exit, f"flowprobe stops cleanly (exit {rc})",
           L.tail(probe.stderr()))
        sums = {}
        for name, c in (("v9", v9), ("IPFIX", ipfix)):
            summary = c.stop()
            got = c.flows()
            exact(f"nfdump ({name})", truth, got, ends)
            info = c.info()
            ok(info.get("Sequence failures") == 0 and
               summary.get("Bad Packets", 0) == 0 and info.get("Flows", 0),
               f"nfcapd ({name}): 0 sequence failures, 0 bad packets",
               f"nfdump -I: {info}\nnfcapd: {summary}")
            sums[name] = {k: v[:2] for k, v in got.items()}
        ok(sums["v9"] == sums["IPFIX"], "nfdump: the IPFIX stream holds the "
           "same flows, packets and bytes as the NetFlow v9 stream")
        nfacctd.stop()
        exact("nfacctd (IPFIX over IPv6)", truth, nfacctd.flows(), ends)
        cap.stop()

        d = cap.decode()
        ok(d["packets"][IPFIX_PORT] > 0 and not d["not_cflow"] and
           not d["malformed"] and not d["unparsed"],
           f"tshark: every export packet decodes ({d['packets']})",
           f"not v9/IPFIX: {d['not_cflow']}, malformed {d['malformed']}, "
           f"records without counters {d['unparsed']}")
        exact("tshark (IPFIX)", truth, d["flows"][IPFIX_PORT], ends)
        bad = [e for e in d["expert"] if e[1] in ("Error", "Warning")]
        ok(not bad, "tshark: no expert errors or warnings",
           "\n".join(f"frame {e[0]}: {e[1]}/{e[2]}: {e[3]}" for e in bad[:20]))
        text = cap._tshark(["-V", "-Y", f"udp.port=={IPFIX_PORT}"])
        versions = set(re.findall(r"^\s*Version: (\d+)", text, re.M))
        ok(versions == {"10"}, "tshark: the IPFIX stream is version 10",
           f"versions: {versions}")
        pen_lines = [ln.strip() for ln in text.splitlines()
                     if str(PEN) in ln]
        ok(pen_lines, f"tshark shows the enterprise elements under PEN {PEN}",
           text[:3000])
        comment("tshark: " + "; ".join(sorted(set(pen_lines))[:6]))


if __name__ == "__main__":
    try:
        main()
    except L.LabError as e:
        ok(False, "lab", str(e))
    L.done()
