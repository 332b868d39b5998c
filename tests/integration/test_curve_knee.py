#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""The knee of a real rate-limited link, found live.

A's veth towards R is limited by tc tbf to 20 Mbit/s. The probe watches
R's side of that veth (it sees what the limit let through) with
--capacity 20M and --sample 250ms. A opens TCP flows to B, each paced at
2 Mbit/s, in rising numbers: 2, 4, ... 24, holding each count 2.5 s.
Below 10 flows the link carries them all (ρ = N·r/C); past that they
share it and ρ stays near 1 while N grows. The probe's final knee
estimate must be:

  status knee, and ρ* within 15 % of 0.99: the probe counts IP bytes,
      tbf L2 bytes (14 more per 1514-byte frame: ρ tops out near 0.99),
      and TCP keeps a tbf queue of 50 ms busy most, not all, of the time;
  N* within 25 % of ρ*·C / r_IP, with r_IP the flows' 2 Mbit/s plus
      TCP/IP headers (40 + 12 option bytes per 1448-byte segment): the
      flow count moves in steps of 2 around the knee (±10 % at N ≈ 10),
      the pacing of a Python sender on a busy 2-core machine wobbles, and
      samples taken while a step ramps up sit between two levels.

Then `flowprobe curve` on the CSV the probe wrote must find the same knee
and draw it. Takes about 40 s. TAP output. Run as root.
"""

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

sys.dont_write_bytecode = True      # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab as L  # noqa: E402
from lab import ok, comment  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PACED = os.path.join(HERE, "paced_flows.py")
RATE_LIMIT = 20_000_000
FLOW_RATE = 2_000_000
STEPS = [2, 4, 6, 8, 10, 12, 14, 16, 20, 24]
STEP_S = 2.5
PORT = 5001
# IP bytes per payload byte of a full segment with timestamps.
IP_PER_PAYLOAD = 1500 / 1448
RHO_TOL, N_TOL = 0.15, 0.25


def main():
    with L.Lab() as lab:
        lab.run("A", ["tc", "qdisc", "add", "dev", lab.if_a, "root", "tbf",
                      "rate", "20mbit", "burst", "32k", "latency", "50ms"])
        csv_path = os.path.join(lab.dir, "curve.csv")
        probe = lab.start_probe([lab.if_ra], [], inactive=1, extra=[
            "--json", "--capacity", "20M", "--sample", "250ms",
            "--curve-csv", csv_path])
        sink = lab.spawn("B", [L.PYTHON, PACED, "sink", lab.V4["B"], PORT],
                         name="sink")
        sink.wait_for(r"^ready", 20, stream="stdout")
        cp = lab.run("A", [L.PYTHON, PACED, "send", lab.V4["B"], PORT,
                           FLOW_RATE, STEP_S] + STEPS,
                     check=False, timeout=120)
        ok(cp.returncode == 0, f"{len(STEPS)} steps of paced TCP flows "
           f"({STEPS[0]} to {STEPS[-1]}) through a 20 Mbit/s tbf",
           L.tail(cp.stderr))
        rc = probe.stop()
        ok(rc == 0, "probe exits 0 on SIGTERM", L.tail(probe.stderr()))

        objs = []
        for line in probe.proc.stdout().splitlines():
            try:
                objs.append(json.loads(line))
            except ValueError:
                pass
        curve = [o for o in objs if o.get("type") == "curve"]
        final = [o for o in objs if o.get("type") == "knee" and o.get("final")]
        comment(f"{len(curve)} samples; N, utilisation by step:")
        by_n = {}
        for o in curve:
            by_n.setdefault(round(o["active_flows"]), []).append(
                o["utilisation"])
        for n in sorted(by_n):
            v = sorted(by_n[n])
            comment(f"  N ~ {n:2d}: {len(v):2d} samples, median utilisation "
                    f"{v[len(v) // 2]:.3f}")
        knee = final[0] if final else {}
        comment(f"final knee: {json.dumps(knee)}")
        rho_star = knee.get("rho_star", 0)
        n_star = knee.get("n_star", 0)
        r_ip = FLOW_RATE * IP_PER_PAYLOAD / RATE_LIMIT
        want_n = rho_star / r_ip if rho_star else 0
        ok(knee.get("status") == "knee" and
           abs(rho_star - 0.99) <= RHO_TOL * 0.99,
           f"a knee at utilisation {rho_star:.3f}, within "
           f"{RHO_TOL:.0%} of 0.99 (the tbf limit in IP bytes)",
           json.dumps(knee))
        ok(want_n and abs(n_star - want_n) <= N_TOL * want_n,
           f"N* = {n_star:.2f} within {N_TOL:.0%} of rho*·C/r = "
           f"{want_n:.2f} flows", json.dumps(knee))

        svg = os.path.join(lab.dir, "curve.svg")
        cp = subprocess.run([L.FLOWPROBE_BIN, "curve", csv_path, "-o", svg],
                            capture_output=True, text=True, timeout=60)
        for line in cp.stdout.splitlines():
            comment(line)
        n_csv = None
        for line in cp.stdout.splitlines():
            if line.startswith("knee: N* = "):
                n_csv = float(line.split()[3])
        try:
            ET.parse(svg)
            svg_ok = True
        except (ET.ParseError, OSError):
            svg_ok = False
        ok(cp.returncode == 0 and n_csv is not None and
           abs(n_csv - n_star) <= 0.05 * max(n_star, 1) and svg_ok,
           "flowprobe curve on the probe's CSV finds the same knee and "
           "draws it", L.tail(cp.stderr + cp.stdout))


if __name__ == "__main__":
    try:
        main()
    except L.LabError as e:
        ok(False, "lab", str(e))
    L.done()
