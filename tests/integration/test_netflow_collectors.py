#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""End to end: real traffic through the probe, real collectors, exact counts.

Lab A -- R -- B. In R: nfcapd and nfacctd on loopback, a tcpdump capture of
the export packets (decoded afterwards by tshark's cflow dissector), and
`flowprobe run -i <R-A>,<R-B>` inline, exporting to both collectors. A and B
exchange a known mix (TCP bulk and request/response, UDP of several sizes,
ICMP and ICMPv6 echo, over IPv4 and IPv6) plus one UDP flow sent in two
bursts with a pause longer than the inactive timeout, so that it is
exported as two records. Ground truth is a tcpdump capture on A's
interface. After SIGTERM the probe must have exported every flow: each
ground-truth flow must be in every collector with exactly its packets and
IP bytes (records of one 5-tuple summed), nothing else between A and B,
no sequence failures, every export packet a clean NetFlow v9 packet to
tshark, and the probe gone without leaving anything attached.

FLOWPROBE_PROBE=softflowd runs the same checks against softflowd, which
proves the harness but does not pass everything (see lab.Softflowd).
"""

import os
import sys

sys.dont_write_bytecode = True      # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab as L  # noqa: E402
from lab import ok, comment  # noqa: E402

NFCAPD_PORT = 2055
NFACCTD_PORT = 2056
ACTIVE, INACTIVE = 60, 15
SPLIT_SPORT = 40001          # the flow sent in two bursts
SPLIT_FIRST, SPLIT_SECOND, SPLIT_SIZE = 3, 2, 300


def flow_report(missing, wrong, extra=()):
    return "\n".join(list(missing) + list(wrong) + list(extra))


def check_exact(name, truth, got, endpoints):
    missing, wrong, extra = L.compare_flows(truth, got, endpoints)
    ok(not missing and not wrong,
       f"{name}: all {len(truth)} sent flows exported with exact packets "
       "and bytes", flow_report(missing, wrong))
    ok(not extra, f"{name}: no flow between A and B that was never sent",
       flow_report((), (), extra))


def main():
    with L.Lab() as lab:
        ends = lab.endpoints()
        nfcapd = lab.start_nfcapd(NFCAPD_PORT)
        # nfacctd listens on IPv6: export over IPv6 is part of the test.
        nfacctd = lab.start_nfacctd(NFACCTD_PORT, ip="::1")
        cap = lab.start_export_capture([NFCAPD_PORT, NFACCTD_PORT])
        lab.start_server()
        try:
            probe = lab.start_probe(
                [lab.if_ra, lab.if_rb],
                [f"127.0.0.1:{NFCAPD_PORT}", f"[::1]:{NFACCTD_PORT}"],
                active=ACTIVE, inactive=INACTIVE)
        except L.LabError as e:
            ok(False, f"{L.PROBE_KIND} starts inline on {lab.if_ra},"
               f"{lab.if_rb} and reports ready", str(e))
            return
        ok(True, f"{probe.kind} starts inline on {lab.if_ra},{lab.if_rb} "
           "and reports ready")
        if probe.kind == "flowprobe":
            attached = [lab.xdp_prog("R", i) for i in (lab.if_ra, lab.if_rb)]
            ok(all(attached), "an XDP program is attached to both interfaces",
               f"{lab.if_ra}: {attached[0]}, {lab.if_rb}: {attached[1]}")

        lab.start_ground_truth()
        split_key = (lab.V4["A"], lab.V4["B"], 17, SPLIT_SPORT,
                     L.DISCARD_PORT)
        lab.udp_send("A", lab.V4["B"], L.DISCARD_PORT, SPLIT_SPORT,
                     SPLIT_FIRST, SPLIT_SIZE)
        mix_ok, report = lab.drive_mix()
        ok(mix_ok, "traffic mix between A and B completed through the probe",
           report)

        # The first burst must leave by the inactive timeout while the
        # probe runs; then the same 5-tuple comes back.
        def first_part_exported():
            if hasattr(probe, "flush"):
                probe.flush()
            try:
                flows = cap.decode()["flows"][NFCAPD_PORT]
            except L.LabError:
                return False
            return flows.get(split_key)
        try:
            rec = L.wait_until(first_part_exported, INACTIVE + 45,
                               "the inactive-timeout export", interval=1)
            ok(rec[0] == SPLIT_FIRST,
               f"inactive timeout: an idle flow is exported while the probe "
               f"runs ({rec[0]} packets in {rec[2]} records)",
               f"expected {SPLIT_FIRST} packets")
        except L.LabError as e:
            ok(False, "inactive timeout: an idle flow is exported while the "
               "probe runs", str(e))
        lab.udp_send("A", lab.V4["B"], L.DISCARD_PORT, SPLIT_SPORT,
                     SPLIT_SECOND, SPLIT_SIZE)

        truth, problems = lab.stop_ground_truth()
        lab.stop_server()
        protos = {(k[2], ":" in k[0]) for k in truth}
        want = {(6, False), (6, True), (17, False), (17, True), (1, False),
                (58, True)}
        ok(not problems and want <= protos,
           f"ground truth: {len(truth)} flows, "
           f"{sum(v[0] for v in truth.values())} packets captured on A",
           "\n".join(problems + [f"protocols seen: {sorted(protos)}"]))

        stats = probe.stats() if probe.kind == "flowprobe" else {}
        rc = probe.stop()
        ok(rc in probe.ok_exit, f"{probe.kind} stops cleanly on request "
           f"(exit {rc})", L.tail(probe.stderr()))
        left = [(i, lab.xdp_prog("R", i)) for i in (lab.if_ra, lab.if_rb)]
        left = [f"{i}: XDP program {p} still attached" for i, p in left if p]
        left += [f"{d} still exists" for d in
                 (lab.pin_dir(lab.if_ra), lab.pin_dir(lab.if_rb))
                 if os.path.exists(d)]
        ok(not left, "nothing left attached or pinned after exit",
           "\n".join(left))

        summary = nfcapd.stop()
        nfacctd.stop()
        cap.stop()

        # nfcapd / nfdump
        got = nfcapd.flows()
        check_exact("nfdump", truth, got, ends)
        split = got.get(split_key, [0, 0, 0])
        ok(split[2] >= 2 and split[0] == SPLIT_FIRST + SPLIT_SECOND,
           f"nfdump: the flow split by the inactive timeout arrives as "
           f"{split[2]} records summing to {split[0]} packets",
           f"expected >= 2 records, {SPLIT_FIRST + SPLIT_SECOND} packets")
        info = nfcapd.info()
        ok(info.get("Sequence failures") == 0 and
           summary.get("Sequence Errors") == 0 and
           summary.get("Bad Packets") == 0 and info.get("Flows", 0) > 0,
           "nfcapd: 0 sequence failures, 0 bad packets "
           f"({info.get('Flows')} flows in {probe.kind}'s export)",
           f"nfdump -I: {info}\nnfcapd: {summary}")

        # tshark, single pass over the export capture
        try:
            d = cap.decode()
        except L.LabError as e:
            ok(False, "tshark decodes the export capture", str(e))
            return
        npk = d["packets"]
        ok(all(npk.values()) and not d["not_cflow"] and not d["malformed"]
           and not d["unparsed"] and not cap.problems,
           f"tshark: every export packet is NetFlow v9 ({npk})",
           f"not cflow v9: frames {d['not_cflow']}\nmalformed: "
           f"{d['malformed']}\nrecords without counters: {d['unparsed']}\n"
           + "\n".join(cap.problems))
        gaps = []
        for port, seq in d["seq"].items():
            gaps += [f"port {port}: {g}" for g in L.sequence_gaps(seq)]
        ok(not gaps, "tshark: sequence +1 per export packet for each "
           "collector", "\n".join(gaps[:20]))
        for port in (NFCAPD_PORT, NFACCTD_PORT):
            missing, wrong, extra = L.compare_flows(truth, d["flows"][port],
                                                    ends)
            ok(not (missing or wrong or extra),
               f"tshark: per-flow totals exact in the stream to port {port}",
               flow_report(missing, wrong, extra))
        bad = [e for e in d["expert"] if e[1] in ("Error", "Warning")]
        items, text = cap.expert()
        bad_z = [i for i in items if i[0] in ("Errors", "Warns")]
        ok(not bad and not bad_z,
           "tshark: no expert errors or warnings (templates, sequence, "
           "malformed)",
           "\n".join(f"frame {e[0]}: {e[1]}/{e[2]}: {e[3]}" for e in bad[:20])
           + "\n" + text)

        # nfacctd
        check_exact("nfacctd", truth, nfacctd.flows(), ends)

        if probe.kind == "flowprobe":
            ok(stats.get("uncounted_packets") == 0 and stats.get("packets", 0)
               >= sum(v[0] for v in truth.values()),
               "flowprobe stats: every packet counted, none uncounted",
               f"stats before stop: {stats}")
        comment(f"{len(truth)} flows, "
                f"{sum(v[0] for v in truth.values())} packets, "
                f"{sum(v[1] for v in truth.values())} IP bytes; "
                f"{sum(npk.values())} export packets")


if __name__ == "__main__":
    try:
        main()
    except L.LabError as e:
        ok(False, "lab", str(e))
    L.done()
