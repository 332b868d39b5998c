#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Records stay dated right across sysUptime's re-base and wall-clock steps.

The probe runs inline in R with an injected clock (--test-clock FILE: ms
added to the wall clock, re-read every drain; --test-uptime: sysUptime at
start). sysUptime starts 3 s short of 2^31 ms, where the exporter moves its
uptime base forward so that it never reaches the 2^32 ms wrap: the first
flows go out before the re-base, the later ones after it. Mid-run the wall
clock is stepped by +3 hours, then to -2 hours (as NTP or an operator
would). A sends a few UDP flows to B in each phase; nfcapd stores them and
nfdump must date each flow's first and last packet to the wall clock the
probe had when it saw them, within a few seconds (the phases are
seconds apart, the steps hours). Then two captures 60 days apart are
replayed as one timeline, and each flow must be dated to its own capture
time by nfdump and by sysUptime-relative times. A sysUptime that jumped with the wall
clock (the base not moved with the step) dates a backward step's records
at the base or 49.7 days off; a re-base done wrong dates them 2^32 ms off.
"""

import calendar
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True      # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab as L  # noqa: E402
from lab import ok, comment  # noqa: E402

PORT = 2055
START_UPTIME = (1 << 31) - 3000
HOUR_MS = 3600 * 1000
PHASES = [("before the re-base", 0, 43000),
          ("after a +3 h step", 3 * HOUR_MS, 44000),
          ("after a step to -2 h", -2 * HOUR_MS, 45000)]
FLOWS, PKTS = 5, 2
REPLAY_PKTS = 3
DAY = 86400
REPLAY_FILES = [("first", 1700000000, 1111),
                ("60 days later", 1700000000 + 60 * DAY, 2222)]
TOLERANCE_S = 4

SEND = r"""
import socket, sys, time
dst, base, n, count = sys.argv[1], *map(int, sys.argv[2:])
for i in range(n):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.bind(("0.0.0.0", base + i))
        for _ in range(count):
            u.sendto(b"t" * 64, (dst, 7001))
"""


def nfdump_times(directory):
    """{sport: (first, last)} as Unix seconds, from nfdump in UTC."""
    cp = subprocess.run(["nfdump", "-R", directory, "-o", "csv"],
                        capture_output=True, text=True, timeout=60,
                        env=dict(os.environ, TZ="UTC"))
    out, header = {}, None
    for line in cp.stdout.splitlines():
        cols = [c.strip() for c in line.split(",")]
        if cols[:3] == ["ts", "te", "td"]:
            header = cols
            continue
        if header is None or len(cols) != len(header):
            header = None
            continue
        r = dict(zip(header, cols))

        def secs(s):
            whole, _, frac = s.partition(".")
            t = calendar.timegm(time.strptime(whole, "%Y-%m-%d %H:%M:%S"))
            return t + (int(frac) / 10 ** len(frac) if frac else 0)
        out[int(r["sp"])] = (secs(r["ts"]), secs(r["te"]))
    return out


def uptime_dated_ends(cap):
    """{sport: end time in Unix seconds} computed the way a collector that
    reads only sysUptime-relative times does: unix_secs - sysUptime +
    LAST_SWITCHED, from tshark's decode of the export packets."""
    out = {}
    text = cap._tshark(["-T", "fields", "-e", "cflow.sysuptime", "-e",
                        "cflow.unix_secs", "-e", "cflow.timeend", "-e",
                        "cflow.srcport", "-E", "occurrence=a", "-E",
                        "aggregator=;"])
    for line in text.splitlines():
        cols = line.split("\t")
        if len(cols) < 4 or not cols[2] or not cols[0]:
            continue
        uptime, secs = float(cols[0]), int(cols[1])
        for end, sport in zip(cols[2].split(";"), cols[3].split(";")):
            if sport and int(sport):
                out[int(sport)] = secs - uptime + float(end)
    return out


def main():
    with L.Lab() as lab:
        clock_file = os.path.join(lab.dir, "clock-step-ms")
        with open(clock_file, "w") as f:
            f.write("0\n")
        nfcapd = lab.start_nfcapd(PORT)
        cap = lab.start_export_capture([PORT])
        probe = lab.start_probe(
            [lab.if_ra, lab.if_rb], [f"127.0.0.1:{PORT}"], inactive=1,
            extra=["--test-clock", clock_file, "--test-uptime",
                   str(START_UPTIME)])
        expected = {}
        exported = 0
        for name, step_ms, base in PHASES:
            with open(clock_file + ".new", "w") as f:
                f.write(f"{step_ms}\n")
            os.replace(clock_file + ".new", clock_file)
            if step_ms:
                probe.proc.wait_for(r"wall clock stepped by", 30)
            sent_at = time.time() + step_ms / 1000
            lab.run("A", [L.PYTHON, "-c", SEND, lab.V4["B"], base, FLOWS,
                          PKTS])
            exported += FLOWS
            L.wait_until(lambda: probe.stats(lab.if_ra).get("flows_exported", 0) >=
                         exported, 60, f"the flows {name} to be exported")
            for i in range(FLOWS):
                expected[base + i] = (name, sent_at)
        lab.wait_udp_drained("R", PORT)
        rc = probe.stop()
        ok(rc == 0, "probe exits 0", L.tail(probe.stderr()))
        nfcapd.stop()
        cap.stop()
        times = nfdump_times(nfcapd.dir)
        by_uptime = uptime_dated_ends(cap)
        for name, step_ms, base in PHASES:
            bad = []
            for i in range(FLOWS):
                want = expected[base + i][1]
                got = times.get(base + i)
                if got is None or any(abs(t - want) > TOLERANCE_S for t in got):
                    bad.append(f"sport {base + i}: want ~{want:.0f}, nfdump "
                               f"says first/last {got}")
            ok(not bad, f"nfdump dates the flows sent {name} right (within "
               f"{TOLERANCE_S} s)", "\n".join(bad))
            bad = []
            for i in range(FLOWS):
                want = expected[base + i][1]
                got = by_uptime.get(base + i)
                if got is None or abs(got - want) > TOLERANCE_S:
                    bad.append(f"sport {base + i}: want ~{want:.0f}, "
                               f"unix_secs - sysUptime + LAST_SWITCHED = {got}")
            ok(not bad, f"sysUptime and LAST_SWITCHED date the flows sent "
               f"{name} right too (what collectors without field 153 use)",
               "\n".join(bad))
        info = nfcapd.summary or {}
        comment(f"nfcapd summary: {info}")
    replay_across_wrap()
    L.done()


def write_capture(path, t0, sport):
    """A pcap of REPLAY_PKTS UDP packets, one a second from t0."""
    from scapy.all import Ether, IP, UDP, Raw, wrpcap
    pkts = []
    for i in range(REPLAY_PKTS):
        p = Ether() / IP(src="10.9.0.1", dst="10.9.0.2") / \
            UDP(sport=sport, dport=7002) / Raw(b"r" * 50)
        p.time = t0 + i
        pkts.append(p)
    wrpcap(path, pkts)


def replay_across_wrap():
    """Two captures 60 days apart (more than sysUptime's 49.7-day wrap)
    replayed as one timeline: each flow dated to its own capture time."""
    with L.Lab() as lab:
        files = []
        for name, t0, sport in REPLAY_FILES:
            path = os.path.join(lab.dir, f"{name}.pcap")
            write_capture(path, t0, sport)
            files.append(path)
        nfcapd = lab.start_nfcapd(PORT)
        cap = lab.start_export_capture([PORT])
        cp = lab.run("R", [L.FLOWPROBE_BIN, "replay", *files, "-c",
                           f"127.0.0.1:{PORT}"], mount=False, check=False)
        ok(cp.returncode == 0, "replay of two captures 60 days apart exits 0",
           L.tail(cp.stderr))
        lab.wait_udp_drained("R", PORT)
        nfcapd.stop()
        cap.stop()
        times = nfdump_times(nfcapd.dir)
        by_uptime = uptime_dated_ends(cap)
        for name, t0, sport in REPLAY_FILES:
            first, last = t0, t0 + REPLAY_PKTS - 1
            got = times.get(sport)
            ok(got is not None and abs(got[0] - first) < 1 and
               abs(got[1] - last) < 1,
               f"nfdump dates the {name} capture's flow right",
               f"want {first}..{last}, got {got}")
            end = by_uptime.get(sport)
            ok(end is not None and abs(end - last) < 1,
               f"sysUptime and LAST_SWITCHED date the {name} capture's flow "
               "right", f"want {last}, got {end}")


if __name__ == "__main__":
    main()
