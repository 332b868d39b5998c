#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Paced export: 100,000 flows ending at once reach a default nfcapd whole.

Lab A -- R -- B, the probe in --tap mode on R's A-side interface, exporting
to an nfcapd in R started without -B (the kernel's default receive buffer,
about 208 KB: some 90 export packets). A sends one UDP datagram on each of
N distinct 5-tuples, twice:

  1. the first N flows end by the inactive timeout while the probe runs:
     the export is paced between drains, and expiry waits for room in the
     export queue rather than dropping;
  2. the next N flows are open when the probe is stopped: the shutdown
     export waits, paced, and the probe says how long it took.

Unpaced, each of these is some 6,000 NetFlow packets in one burst, far
more than the collector's buffer holds. The test fails if R's UDP
RcvbufErrors (/proc/net/snmp in R's namespace) grow, if nfdump lacks any
flow or packet, if nfdump counts sequence failures, or if the shutdown
export left faster than the rate allows (so it was not paced) or took
longer than the probe announced. The probe sends from --source 127.0.0.9,
which nfdump must show as the exporter.

FLOWS (environment, default 100000) sets N; EXPORT_RATE the rate;
INACTIVE the inactive timeout (2 s; sending 1,000,000 flows takes longer
than that, so give INACTIVE=30 for them to end at once, after the last).
"""

import os
import re
import sys
import time

sys.dont_write_bytecode = True      # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab as L  # noqa: E402
from lab import ok, comment  # noqa: E402

N = int(os.environ.get("FLOWS", "100000"))
RATE = int(os.environ.get("EXPORT_RATE", "4000"))
PORT = 2055
SOURCE = "127.0.0.9"         # --source: what nfdump must show as exporter
INACTIVE = int(os.environ.get("INACTIVE", "2"))
PAYLOAD = 18
DPORTS = 50000               # destination ports 1..DPORTS, then next sport

# Sends one datagram per 5-tuple: source ports from SPORT0 on, each with
# destination ports 1..DPORTS. A full qdisc reports ENOBUFS (IP_RECVERR):
# that datagram is sent again, so exactly n leave.
SENDER = r"""
import errno, socket, sys, time
dst, n, sport0, dports, size = sys.argv[1], *map(int, sys.argv[2:6])
payload = bytes(size)
sent = 0
for s_i in range((n + dports - 1) // dports):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, 11, 1)     # IP_RECVERR
    s.bind(("", sport0 + s_i))
    for d in range(1, min(dports, n - sent) + 1):
        while True:
            try:
                s.sendto(payload, (dst, d))
                break
            except OSError as e:
                if e.errno not in (errno.ENOBUFS, errno.EAGAIN,
                                   errno.ECONNREFUSED):
                    raise
                time.sleep(0.001)
        sent += 1
    s.close()
print(f"sent {sent}")
"""


def rcvbuf_errors(lab):
    """UDP RcvbufErrors in R's namespace (nfcapd's socket lives there)."""
    lines = [l.split() for l in lab.run("R", ["cat", "/proc/net/snmp"])
             .stdout.splitlines() if l.startswith("Udp:")]
    return int(dict(zip(lines[0], lines[1]))["RcvbufErrors"])


def sched_wait(proc):
    """(ns on CPU, ns runnable but waiting for a CPU) of a process, from
    /proc/PID/schedstat: how much the host kept the collector waiting."""
    try:
        with open(f"/proc/{proc.popen.pid}/schedstat") as f:
            on_cpu, waited, _ = (int(x) for x in f.read().split())
        return on_cpu, waited
    except (OSError, ValueError):
        return 0, 0


def send_flows(lab, sport0):
    t0 = time.monotonic()
    cp = lab.run("A", [L.PYTHON, "-c", SENDER, lab.V4["B"], N, sport0,
                       DPORTS, PAYLOAD], check=False, timeout=300)
    ok(cp.returncode == 0 and f"sent {N}" in cp.stdout,
       f"A sent {N:,} one-packet flows from source ports {sport0}.. "
       f"in {time.monotonic() - t0:.1f} s", cp.stdout + cp.stderr)


def main():
    with L.Lab() as lab:
        lab.run("A", ["tc", "qdisc", "replace", "dev", lab.if_a, "root",
                      "pfifo", "limit", "10000"])
        # In tap mode R drops ARP too: A must know R's MAC beforehand.
        mac = lab.link("R", lab.if_ra)["address"]
        lab.run("A", ["ip", "neigh", "replace", lab.V4["RA"], "lladdr", mac,
                      "dev", lab.if_a, "nud", "permanent"])
        nfcapd = lab.start_nfcapd(PORT)
        try:
            probe = lab.start_probe(
                [lab.if_ra], [f"127.0.0.1:{PORT}"], tap=True,
                inactive=INACTIVE, extra=["--export-rate", str(RATE),
                                          "--source", SOURCE])
        except L.LabError as e:
            ok(False, f"flowprobe starts in tap mode on {lab.if_ra}", str(e))
            return
        if probe.kind != "flowprobe":
            ok(False, "this test needs flowprobe (--export-rate)")
            return
        errors0 = rcvbuf_errors(lab)

        # 1. N flows ending by the inactive timeout while the probe runs.
        send_flows(lab, 20000)
        t0 = time.monotonic()
        try:
            st = L.wait_until(
                lambda: (lambda s: s if s.get("flows_exported", 0) >= N and
                         s.get("export_queued", 1) == 0 else None)(
                             probe.stats()),
                INACTIVE + 120, "the expired flows to leave", interval=0.5)
            comment(f"running: {N:,} expired flows exported within "
                    f"{time.monotonic() - t0:.1f} s of the last packet, "
                    f"{st.get('export_packets')} NetFlow packets, "
                    f"{st.get('export_deferred')} drains deferred some")
            ok(st.get("export_errors") == 0 and
               st.get("export_queue_drops") == 0,
               "running: no export packet refused or dropped",
               f"stats: {st}")
            ok(st.get("export_rate") == RATE,
               f"flowprobe stats shows export_rate {RATE}", f"stats: {st}")
        except L.LabError as e:
            ok(False, "running: the expired flows leave", str(e))
        lab.wait_udp_drained("R", PORT)
        mid = rcvbuf_errors(lab) - errors0
        ok(mid == 0, "running: the collector's host dropped no export "
           f"packet (RcvbufErrors +{mid})")

        # 2. N flows open at shutdown.
        send_flows(lab, 30000)
        L.wait_until(lambda: probe.stats().get("packets", 0) >= 2 * N, 60,
                     "the datapath to count every packet")
        before = probe.stats()
        sched0 = sched_wait(nfcapd.proc)
        t0 = time.monotonic()
        rc = probe.stop(timeout=300)
        took = time.monotonic() - t0
        sched1 = sched_wait(nfcapd.proc)
        comment(f"nfcapd during the shutdown export: "
                f"{(sched1[0] - sched0[0]) / 1e9:.2f} s on a CPU, "
                f"{(sched1[1] - sched0[1]) / 1e9:.2f} s runnable but waiting "
                f"for one")
        err = probe.stderr()
        ok(rc in probe.ok_exit, f"flowprobe stops cleanly (exit {rc}) in "
           f"{took:.1f} s", L.tail(err))
        m_est = re.search(r"exporting (\d+) open flows at (\d+) packets/s "
                          r"a collector: at most (\d+) s", err)
        m_took = re.search(r"exported (\d+) open flows in ([\d.]+) s"
                           r"(?: \(([\d.]+) s of CPU\))?", err)
        m_sum = re.search(r"exported (\d+) flows in (\d+) NetFlow packets, "
                          r"(\d+) send errors", err)
        ok(m_est and m_took, "at shutdown the probe says how long the "
           "export will take, and how long it took", L.tail(err))
        if m_est and m_took and m_sum:
            packets = int(m_sum.group(2)) - before.get("export_packets", 0)
            flush_s = float(m_took.group(2))
            comment(f"shutdown: {m_took.group(1)} open flows (the others "
                    f"had ended by the inactive timeout) in {flush_s} s "
                    f"(announced at most {m_est.group(3)} s, "
                    f"{m_took.group(3)} s of the probe's CPU), {packets} "
                    f"NetFlow packets")
            # At the rate these cannot leave faster than this (less one
            # burst and the packets sent before the flush), or they were
            # not paced.
            ok(flush_s >= (packets - 100) / RATE * 0.9,
               f"the shutdown export was paced ({flush_s} s for {packets} "
               f"packets at {RATE}/s)")
            ok(flush_s <= int(m_est.group(3)) + 1,
               "the shutdown export took no longer than announced")
            ok(int(m_sum.group(3)) == 0, "no send errors at shutdown",
               m_sum.group(0))
        lab.wait_udp_drained("R", PORT)
        errs = rcvbuf_errors(lab) - errors0
        ok(errs == 0, "the collector's host dropped no export packet "
           f"(RcvbufErrors +{errs}, nfcapd without -B)")
        # The collector is on the probe's host: the probe counts its
        # socket's drops itself and names them at exit.
        seen = re.search(r"on this host, dropped (\d+) export packets", err)
        ok((int(seen.group(1)) if seen else 0) == errs,
           "the probe's own count of the collector's receive-buffer drops "
           f"agrees ({seen.group(0) if seen else 'none logged'})")
        nfcapd.stop()

        # Only A's UDP to B: the lab's own chatter (IPv6 neighbour
        # discovery and the like) also crosses the probe.
        flows = {k: v for k, v in nfcapd.flows().items()
                 if k[:3] == (lab.V4["A"], lab.V4["B"], 17)}
        want = {}
        for sport0 in (20000, 30000):
            for i in range(N):
                want[(lab.V4["A"], lab.V4["B"], 17, sport0 + i // DPORTS,
                      1 + i % DPORTS)] = 1
        missing = [k for k in want if k not in flows]
        wrong = [k for k in want if k in flows and flows[k][0] != 1]
        extra = [k for k in flows if k not in want]
        ok(not missing and not wrong and not extra,
           f"nfdump holds all {2 * N:,} flows, one packet each",
           f"{len(missing)} missing (e.g. {missing[:3]}), {len(wrong)} "
           f"with other counts (e.g. {[(k, flows[k]) for k in wrong[:3]]}), "
           f"{len(extra)} never sent")
        total = sum(v[0] for v in flows.values())
        ok(total == 2 * N, f"nfdump's packets from A to B: {total:,} of "
           f"{2 * N:,}")
        exporters = set()
        header = None
        for line in nfcapd._nfdump(["-o", "csv", "-c", "1000"]).splitlines():
            cols = [c.strip() for c in line.split(",")]
            if cols[:3] == ["ts", "te", "td"]:
                header = cols
            elif header and len(cols) == len(header):
                exporters.add(dict(zip(header, cols))["ra"])
        ok(exporters == {SOURCE}, f"--source {SOURCE}: nfdump names the "
           "exporter by it", f"exporters in nfdump: {sorted(exporters)}")
        info = nfcapd.info()
        ok(info.get("Sequence failures", -1) == 0,
           "nfdump: 0 sequence failures", f"nfdump -I: {info}")


if __name__ == "__main__":
    try:
        main()
    except L.LabError as e:
        ok(False, "lab", str(e))
    L.done()
