#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Replay throughput and exactness on a large synthetic capture.

Writes a pcap of 1,000,000 packets (Python's struct module, fixed seed):
TCP and UDP over IPv4 and IPv6 to 50,000 flows, frames of 54 to 1,074
bytes, 10,000 packets per second of capture time. The capture spans 100 s,
so the replay drains and expires flows a hundred times and splits them into
several records (60 s active, 15 s inactive timeout). `flowprobe replay
--json` must count every packet and byte into the right unidirectional flow
(summed over the records a flow was split into), and replay at more than
50,000 packets per second of wall time (a deliberately low bar: these
machines are shared and noisy; the measured rate is a TAP comment).

SPEED_PACKETS overrides the packet count. TAP output. Run as root.
"""

import ipaddress
import json
import os
import random
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FLOWPROBE = Path(os.environ.get("FLOWPROBE", REPO / "flowprobe"))
PACKETS = int(os.environ.get("SPEED_PACKETS", "1000000"))
FLOWS = 50000
RATE = 10000             # packets per second of capture time
MIN_PPS = 50000          # wall-clock floor asserted
T0 = 1700000000          # capture start, seconds
PAYLOADS = (0, 60, 300, 1000)
PAYLOAD_WEIGHTS = (4, 3, 2, 1)


def make_flows(rng):
    """(kind, src, dst, sport, dport) for FLOWS distinct flows."""
    flows, seen = [], set()
    kinds = ("tcp4", "udp4", "tcp6", "udp6")
    while len(flows) < FLOWS:
        kind = rng.choices(kinds, weights=(4, 3, 2, 1))[0]
        if kind.endswith("4"):
            src = bytes((10, rng.randrange(256), rng.randrange(256),
                         rng.randrange(1, 255)))
            dst = bytes((192, 0, 2, rng.randrange(1, 255)))
        else:
            src = bytes.fromhex("20010db8") + rng.randbytes(12)
            dst = bytes.fromhex("20010db8ffff") + rng.randbytes(10)
        f = (kind, src, dst, rng.randrange(1024, 65536),
             rng.choice((80, 443, 53, 6881, rng.randrange(1, 65536))))
        if f not in seen:
            seen.add(f)
            flows.append(f)
    return flows


def frame(flow, payload):
    """Ethernet frame and its IP-layer length."""
    kind, src, dst, sport, dport = flow
    if kind.startswith("tcp"):
        l4 = struct.pack("!HHIIBBHHH", sport, dport, 1, 1, 5 << 4, 0x18,
                         65535, 0, 0)
        proto = 6
    else:
        l4 = struct.pack("!HHHH", sport, dport, 8 + payload, 0)
        proto = 17
    l4 += bytes(payload)
    if kind.endswith("4"):
        ip_len = 20 + len(l4)
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, ip_len, 0, 0x4000, 64,
                         proto, 0, src, dst)
        ethertype = 0x0800
    else:
        ip_len = 40 + len(l4)
        ip = struct.pack("!IHBB16s16s", 6 << 28, len(l4), proto, 64, src, dst)
        ethertype = 0x86DD
    eth = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01" + \
        struct.pack("!H", ethertype)
    return eth + ip + l4, ip_len


def write_capture(path, rng, flows):
    """Writes the capture; returns {flow key: [packets, IP bytes]}."""
    expected = {}
    cache = {}
    picks = rng.choices(range(len(flows)), k=PACKETS)
    sizes = rng.choices(range(len(PAYLOADS)), weights=PAYLOAD_WEIGHTS,
                        k=PACKETS)
    step_ns = 1000000000 // RATE
    with open(path, "wb", buffering=1 << 20) as out:
        # Nanosecond pcap (magic a1b23c4d), Ethernet.
        out.write(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65535, 1))
        for i in range(PACKETS):
            fi, si = picks[i], sizes[i]
            ent = cache.get((fi, si))
            if ent is None:
                ent = cache[(fi, si)] = frame(flows[fi], PAYLOADS[si])
            data, ip_len = ent
            ns = i * step_ns
            out.write(struct.pack("<IIII", T0 + ns // 1000000000,
                                  ns % 1000000000, len(data), len(data)))
            out.write(data)
            e = expected.setdefault(fi, [0, 0])
            e[0] += 1
            e[1] += ip_len
    keyed = {}
    for fi, v in expected.items():
        kind, src, dst, sport, dport = flows[fi]
        key = (6 if kind.startswith("tcp") else 17,
               str(ipaddress.ip_address(src)), sport,
               str(ipaddress.ip_address(dst)), dport)
        keyed[key] = v
    return keyed


def replay(path):
    start = time.monotonic()
    p = subprocess.run([str(FLOWPROBE), "replay", "--json", str(path)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=1800)
    return p, time.monotonic() - start


def main():
    if os.geteuid() != 0:
        print("1..0 # SKIP flowprobe replay needs root (BPF_PROG_TEST_RUN)")
        return 0
    print("1..3")
    if not FLOWPROBE.exists():
        for n in (1, 2, 3):
            print(f"not ok {n} - {FLOWPROBE} is not built (run 'make flowprobe')")
        return 1
    rng = random.Random(20241021)
    flows = make_flows(rng)
    failed = 0
    with tempfile.TemporaryDirectory(prefix="flowprobe-speed-") as tmp:
        big = Path(tmp) / "big.pcap"
        t = time.monotonic()
        expected = write_capture(big, rng, flows)
        print(f"# wrote {PACKETS} packets to {len(expected)} flows "
              f"({big.stat().st_size / 1e6:.0f} MB) in "
              f"{time.monotonic() - t:.1f} s")
        # Start-up cost (load and attach the program, one packet).
        tiny = Path(tmp) / "tiny.pcap"
        data, _ = frame(flows[0], 0)
        tiny.write_bytes(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0,
                                     65535, 1)
                         + struct.pack("<IIII", T0, 0, len(data), len(data))
                         + data)
        _, startup = replay(tiny)

        p, wall = replay(big)

        # 1. The replay ran cleanly.
        if p.returncode != 0:
            failed += 1
            print(f"not ok 1 - replay of {PACKETS} packets exited "
                  f"{p.returncode}")
            for line in p.stderr.strip().splitlines()[-5:]:
                print(f"#   stderr: {line}")
        else:
            print(f"ok 1 - replay of {PACKETS} packets exited 0")

        # 2. Every packet and byte in its flow.
        got = {}
        records = 0
        bad = 0
        for line in p.stdout.splitlines():
            try:
                o = json.loads(line)
            except ValueError:
                bad += 1
                continue
            if o.get("type") != "flow":
                continue
            records += 1
            k = (o["proto"], o["src"], o["sport"], o["dst"], o["dport"])
            g = got.setdefault(k, [0, 0])
            g[0] += o["packets"]
            g[1] += o["bytes"]
        diffs = [k for k in set(expected) | set(got)
                 if expected.get(k) != got.get(k)]
        tot_exp = [sum(v[i] for v in expected.values()) for i in (0, 1)]
        tot_got = [sum(v[i] for v in got.values()) for i in (0, 1)]
        if diffs or bad:
            failed += 1
            print(f"not ok 2 - exact counts: {len(diffs)} of {len(expected)} "
                  f"flows differ, {bad} non-JSON lines; packets/bytes "
                  f"{tot_got[0]}/{tot_got[1]}, expected "
                  f"{tot_exp[0]}/{tot_exp[1]}")
            for k in sorted(diffs, key=str)[:20]:
                print(f"#   {k}: flowprobe {got.get(k)}, expected "
                      f"{expected.get(k)}")
        else:
            print(f"ok 2 - exact counts: {len(expected)} flows in {records} "
                  f"records, {tot_got[0]} packets, {tot_got[1]} IP bytes")

        # 3. Throughput.
        pps = PACKETS / wall
        pps_net = PACKETS / max(wall - startup, 1e-6)
        print(f"# replay: {PACKETS} packets in {wall:.2f} s wall = "
              f"{pps:,.0f} packets/s ({pps_net:,.0f} packets/s without the "
              f"{startup:.2f} s start-up of a one-packet replay)")
        if pps > MIN_PPS:
            print(f"ok 3 - replay throughput {pps:,.0f} packets/s > "
                  f"{MIN_PPS:,}")
        else:
            failed += 1
            print(f"not ok 3 - replay throughput {pps:,.0f} packets/s, "
                  f"expected more than {MIN_PPS:,}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
