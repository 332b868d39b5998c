#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Utilisation samples from a scripted capture, and `flowprobe curve`.

A capture is written by hand with flows whose start and end times are
known to the microsecond: UDP packets every 50 ms from start to end
inclusive. `flowprobe replay --capacity 1M --inactive-timeout 2` must
report, for every one-second bin, exactly:

  active_flows        Σ over flows of the time their [first, last] overlaps
                      the bin, computed here independently; a pause shorter
                      than the inactive timeout (2 s) keeps a flow active,
                      a longer one does not; a one-packet flow adds 0
  flows_with_packets  flows with a packet time in [bin, bin + 1 s)
  utilisation         8 · IP bytes in the bin / (1 Mbit/s · 1 s)

in the JSON `curve` lines and the CSV alike; with 11 bins, the knee
estimate must refuse (too few samples). Also: samples of a capture
without --capacity are a usage error (exit 2); `flowprobe curve` on a CSV
with a known knee finds it within 10 % and writes an SVG that parses as
XML with the axis labels in it; a malformed CSV is exit 1 with one line.
TAP output. Run as root.
"""

import csv
import json
import os
import struct
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

sys.dont_write_bytecode = True      # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab as L  # noqa: E402
from lab import ok, comment  # noqa: E402

T0 = 1795392000                     # 2026-11-23T00:00:00Z, whole seconds
STEP_US = 50_000
GAP_S = 2                           # --inactive-timeout
CAPACITY = 1_000_000
US = 1_000_000

# (source port, [(start s, end s), ...] bursts of packets every 50 ms,
#  IP payload bytes)
FLOWS = [
    (1001, [(0, 10)], 100),
    (1002, [(2, 8)], 200),
    (1003, [(4, 6)], 300),
    (1004, [(3.5, 5.5)], 100),        # half bins: N in halves
    (1005, [(7.25, 7.25)], 500),      # one packet
    (1006, [(0, 1), (2.5, 3), (6, 7)], 100),  # 1.5 s pause bridged, 3 s not
    (1007, [(11, 11)], 60),           # the capture's last packet: its end
]


def packet_times(bursts):
    out = []
    for start, end in bursts:
        t, e = round(start * US), round(end * US)
        while t <= e:
            out.append(t)
            t += STEP_US
    return out


def frame(sport, payload):
    """Ethernet / IPv4 / UDP, checksums left 0: the probe does not check."""
    udp = struct.pack("!HHHH", sport, 9, 8 + payload, 0) + bytes(payload)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17,
                     0, bytes([10, 0, 1, 1]), bytes([10, 0, 2, 1])) + udp
    eth = bytes.fromhex("020000000002" "020000000001" "0800")
    return eth + ip


def write_pcap(path):
    pkts = []
    for sport, bursts, payload in FLOWS:
        for t in packet_times(bursts):
            pkts.append((t, frame(sport, payload)))
    pkts.sort(key=lambda p: p[0])
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for t, data in pkts:
            f.write(struct.pack("<IIII", T0 + t // US, t % US, len(data),
                                len(data)))
            f.write(data)
    return len(pkts)


def expected(nbins):
    """Per bin: (active_flows, flows_with_packets, ip_bytes), from the
    definitions, not from the probe's algorithm."""
    n = [0.0] * nbins
    with_pkt = [0] * nbins
    nbytes = [0] * nbins
    for _sport, bursts, payload in FLOWS:
        times = packet_times(bursts)
        # Active intervals: packets closer than the gap belong together.
        intervals, a, b = [], times[0], times[0]
        for t in times[1:]:
            if t - b > GAP_S * US:
                intervals.append((a, b))
                a = t
            b = t
        intervals.append((a, b))
        for a, b in intervals:
            for k in range(nbins):
                lo, hi = max(a, k * US), min(b, (k + 1) * US)
                if hi > lo:
                    n[k] += (hi - lo) / US
        for k in range(nbins):
            if any(k * US <= t < (k + 1) * US for t in times):
                with_pkt[k] += 1
            nbytes[k] += sum(20 + 8 + payload for t in times
                             if k * US <= t < (k + 1) * US)
    return n, with_pkt, nbytes


def flowprobe(args, timeout=120):
    return subprocess.run([L.FLOWPROBE_BIN] + args, capture_output=True,
                          text=True, timeout=timeout)


def close(a, b, eps=1e-9):
    return abs(a - b) <= eps * max(1.0, abs(b))


def check_scripted(tmp):
    pcap = os.path.join(tmp, "scripted.pcap")
    csv_path = os.path.join(tmp, "scripted.csv")
    npkts = write_pcap(pcap)
    cp = flowprobe(["replay", pcap, "--capacity", "1M", "--inactive-timeout",
                    str(GAP_S), "--curve-csv", csv_path])
    ok(cp.returncode == 0, f"replay of the scripted capture ({npkts} packets) "
       "with --capacity exits 0", L.tail(cp.stderr))
    lines = [json.loads(line) for line in cp.stdout.splitlines() if line]
    curve = [o for o in lines if o.get("type") == "curve"]
    knees = [o for o in lines if o.get("type") == "knee"]
    nbins = 11
    want_n, want_pk, want_bytes = expected(nbins)
    comment("bin  N want/got   with packets want/got   utilisation want/got")
    problems = []
    if len(curve) != nbins:
        problems.append(f"{len(curve)} curve lines, want {nbins} (bins 0..10 "
                        "whole; the capture ends at 11 s)")
    for k, o in enumerate(curve[:nbins]):
        rho = 8 * want_bytes[k] / CAPACITY
        comment(f"{k:3d}  {want_n[k]:5.2f} {o['active_flows']:7.4f}   "
                f"{want_pk[k]:3d} {o['flows_with_packets']:3d}   "
                f"{rho:.6f} {o['utilisation']:.6f}")
        want_time = f"2026-11-23T00:00:{k:02d}.000Z"
        if o["time"] != want_time:
            problems.append(f"bin {k}: time {o['time']}, want {want_time}")
        if not close(o["active_flows"], want_n[k], 1e-6):
            problems.append(f"bin {k}: N {o['active_flows']}, want {want_n[k]}")
        if o["flows_with_packets"] != want_pk[k]:
            problems.append(f"bin {k}: flows with packets "
                            f"{o['flows_with_packets']}, want {want_pk[k]}")
        if not close(o["utilisation"], rho):
            problems.append(f"bin {k}: utilisation {o['utilisation']}, "
                            f"want {rho}")
        r = rho * CAPACITY / want_n[k] if want_n[k] else 0
        if not close(o["rate_per_flow"], r, 1e-6):
            problems.append(f"bin {k}: rate per flow {o['rate_per_flow']}, "
                            f"want {r}")
    ok(not problems, "JSON curve: N equals the concurrent flows of the "
       "script in every bin, flows with packets and utilisation exact",
       "\n".join(problems))

    with open(csv_path) as f:
        rows = list(csv.DictReader(f))
    diff = []
    for o, r in zip(curve, rows):
        if (r["time"] != o["time"] or r["interface"] != "capture" or
                not close(float(r["active_flows"]), o["active_flows"]) or
                not close(float(r["utilisation"]), o["utilisation"]) or
                int(r["flows_with_packets"]) != o["flows_with_packets"] or
                int(r["capacity_bps"]) != CAPACITY):
            diff.append(f"{r} vs {o}")
    ok(len(rows) == len(curve) and not diff,
       f"CSV holds the same {len(rows)} samples as the JSON lines",
       "\n".join(diff[:5]))
    # Bins within one inactive timeout of the start are warm-up (flows
    # running before it may not be seen yet): reported, not estimated on.
    warm = [o.get("warmup") for o in curve]
    n_warm = sum(1 for w in warm if w)
    ok(0 < n_warm < nbins and all(warm[:n_warm]) and not any(warm[n_warm:]) and
       [r.get("warmup") for r in rows] == ["1" if w else "0" for w in warm],
       f"the first {n_warm} bins are marked warm-up, in JSON and CSV alike",
       json.dumps(warm))
    ok(len(knees) == 1 and knees[0]["status"] == "too_few_samples" and
       knees[0]["final"] and knees[0]["samples"] == nbins - n_warm,
       f"knee: refuses to call a knee from the {nbins - n_warm} samples "
       "after warm-up", json.dumps(knees))

    cp = flowprobe(["replay", pcap, "--curve-csv", csv_path])
    ok(cp.returncode == 2 and "--capacity" in cp.stderr and
       len(cp.stderr.strip().splitlines()) == 1,
       "replay --curve-csv without --capacity: exit 2, one line naming "
       "--capacity", f"exit {cp.returncode}: {cp.stderr}")


def synthetic_csv(path, n_star=30.0, rho_star=0.9):
    """Working area then processor-sharing overload, as test_knee does."""
    import random
    rng = random.Random(7)
    slope = rho_star / n_star
    rows = []
    for i in range(150):
        n = rng.uniform(2, 0.9 * n_star)
        rows.append((n, slope * n + rng.uniform(-0.01, 0.01)))
    for i in range(100):
        a = rng.uniform(rho_star, 0.97)
        k = n_star * (1 - rho_star) / rho_star
        rows.append((k * a / (1 - a), rho_star + rng.uniform(-0.01, 0.01)))
    with open(path, "w") as f:
        f.write("time,unix_ms,interface,ifindex,duration_s,bytes,capacity_bps,"
                "utilisation,active_flows,flows_with_packets,"
                "rate_per_flow_bps\n")
        for i, (n, rho) in enumerate(rows):
            ms = (T0 + i) * 1000
            f.write(f"x,{ms},uplink,2,1,{rho * 1e8 / 8},100000000,{rho},{n},"
                    f"{int(n)},{rho * 1e8 / n}\n")


def check_picture(tmp):
    src = os.path.join(tmp, "synthetic.csv")
    svg = os.path.join(tmp, "synthetic.svg")
    synthetic_csv(src)
    cp = flowprobe(["curve", src, "-o", svg])
    ok(cp.returncode == 0, "flowprobe curve on a CSV with a known knee exits 0",
       L.tail(cp.stderr + cp.stdout))
    for line in cp.stdout.strip().splitlines():
        comment(line)
    n_star = None
    for line in cp.stdout.splitlines():
        if line.startswith("knee: N* = "):
            n_star = float(line.split()[3])
    ok(n_star is not None and abs(n_star - 30) <= 3,
       f"the knee found, N* = {n_star}, within 10% of 30", cp.stdout)
    try:
        root = ET.parse(svg).getroot()
        texts = " ".join("".join(t.itertext()) for t in root.iter()
                         if t.tag.endswith("text"))
        good = root.tag.endswith("svg")
    except (ET.ParseError, OSError) as e:
        texts, good = str(e), False
    want = ["active flows N", "utilisation", "% of capacity", "knee",
            "working area", "minutes since the first sample"]
    missing = [w for w in want if w not in texts]
    ok(good and not missing, "the picture is SVG that parses, with axis "
       "labels, units, the knee and the working area named",
       f"missing {missing} in: {texts[:300]}")

    bad = os.path.join(tmp, "bad.csv")
    with open(bad, "w") as f:
        f.write("unix_ms,interface,capacity_bps,utilisation,active_flows\n"
                "1000,eth0,1000000,zero,3\n")
    cp = flowprobe(["curve", bad, "-o", os.path.join(tmp, "bad.svg")])
    ok(cp.returncode == 1 and "line 2" in cp.stderr and
       len(cp.stderr.strip().splitlines()) == 1,
       "flowprobe curve on a malformed CSV: exit 1, one line naming the line",
       f"exit {cp.returncode}: {cp.stderr}")


def main():
    if not os.access(L.FLOWPROBE_BIN, os.X_OK):
        ok(False, f"{L.FLOWPROBE_BIN} is missing: run make first")
        return
    with tempfile.TemporaryDirectory(prefix="flowprobe-curve-") as tmp:
        check_scripted(tmp)
        check_picture(tmp)


if __name__ == "__main__":
    try:
        main()
    except L.LabError as e:
        ok(False, "lab", str(e))
    L.done()
