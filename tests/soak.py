#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""`make soak`: the probe under steady, churning load for a long time.

Lab A -- R -- B, the probe inline in R exporting to nfcapd. A sends UDP to
a discard socket in B at a steady rate (SOAK_RATE packets a second): a
few long flows that last the whole run, and many short ones (5 packets
each, a new source port each, so flows start and end all the time and
the flow cache and tables churn). Every SOAK_SAMPLE seconds it samples
the daemon's RSS (/proc/PID/status VmRSS), the flow table's fill (entries
of the last drain against the slots), flows held in the cache, the last
and slowest drain time, and export errors. At the end (SIGINT: every
flow exported) it compares what A sent with what nfcapd stored for those
flows, packets and bytes: the counts lost must be 0, and the probe's own
uncounted counters 0. Prints the samples as a table and a verdict line;
exits 1 when anything was lost or the probe failed.

    tests/soak.py [SECONDS]     (default SOAK_SECONDS or 600)
"""

import os
import signal
import sys
import time

sys.dont_write_bytecode = True      # keep the source tree clean
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "integration"))
import lab as L  # noqa: E402

PORT = 2055
DPORT = 9000
LONG_FLOWS = 8
SHORT_PKTS = 5
SIZE = 200
RCVBUF = 4 << 20

SENDER = r"""
import socket, sys, time
dst, dport, rate, secs, nlong, short_pkts, size = sys.argv[1], *map(int, sys.argv[2:])
payload = b"s" * size
longs = []
for i in range(nlong):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("0.0.0.0", 10000 + i))
    longs.append(u)
sent = 0
tick = 0.01
per_tick = rate * tick
long_share = 0.2             # a fifth of the packets ride the long flows
credit = 0.0
next_sport, short_left, short_sock = 20000, 0, None
start = time.monotonic()
deadline = start + secs
t = start
while t < deadline:
    credit += per_tick
    while credit >= 1:
        credit -= 1
        if (sent % 5) == 0 and longs:
            longs[sent // 5 % len(longs)].sendto(payload, (dst, dport))
        else:
            if short_left == 0:
                if short_sock:
                    short_sock.close()
                short_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                short_sock.bind(("0.0.0.0", next_sport))
                next_sport = 20000 + (next_sport - 20000 + 1) % 40000
                short_left = short_pkts
            short_sock.sendto(payload, (dst, dport))
            short_left -= 1
        sent += 1
    t += tick
    delay = t - time.monotonic()
    if delay > 0:
        time.sleep(delay)
print(f"sent {sent}", flush=True)
"""

DISCARD = r"""
import socket, sys
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
u.bind(("0.0.0.0", int(sys.argv[1])))
print("ready", flush=True)
while True:
    u.recv(65536)
"""


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def main():
    seconds = int(sys.argv[1] if len(sys.argv) > 1 else
                  os.environ.get("SOAK_SECONDS", 600))
    rate = int(os.environ.get("SOAK_RATE", 2000))
    every = int(os.environ.get("SOAK_SAMPLE", max(10, seconds // 30)))
    with L.Lab() as lab:
        # nfcapd with the largest socket buffer the kernel allows
        # (net.core.rmem_max): the shutdown export of every open flow is a
        # burst, and what a collector's buffer drops would be counted here
        # as the probe's loss.
        nfcapd = L.Nfcapd(lab, PORT)
        nfcapd.proc = lab.spawn("R", ["nfcapd", "-b", "127.0.0.1", "-p", PORT,
                                      "-w", nfcapd.dir, "-t", "3600", "-B",
                                      RCVBUF], name="nfcapd")
        lab.wait_udp_bound("R", PORT, proc=nfcapd.proc)
        sink = lab.spawn("B", [L.PYTHON, "-c", DISCARD, DPORT], name="discard")
        sink.wait_for(r"^ready", 20, stream="stdout")
        probe = lab.start_probe([lab.if_ra, lab.if_rb], [f"127.0.0.1:{PORT}"])
        pid = probe.proc.pid
        sender = lab.spawn("A", [L.PYTHON, "-c", SENDER, lab.V4["B"], DPORT,
                                 rate, seconds, LONG_FLOWS, SHORT_PKTS, SIZE],
                           name="sender")
        print(f"soak: {seconds} s at {rate} packets/s, {LONG_FLOWS} long "
              f"flows and a new {SHORT_PKTS}-packet flow every "
              f"{SHORT_PKTS / (rate * 0.8):.4f} s; a sample every {every} s",
              flush=True)
        head = (f"{'t_s':>6} {'rss_kb':>8} {'table_fill':>10} {'cache':>8} "
                f"{'drain_ms':>9} {'drain_max':>9} {'seen':>10} "
                f"{'exported':>9} {'exp_err':>7}")
        print(head, flush=True)
        rows = []
        t0 = time.monotonic()
        while sender.running():
            L.wait_until(lambda: not sender.running() or
                         time.monotonic() - t0 >= (len(rows) + 1) * every,
                         every + 60, "the next sample")
            st = probe.stats(lab.if_ra)
            row = (time.monotonic() - t0, rss_kb(pid),
                   st.get("table_entries_last_drain", 0) /
                   max(1, st.get("table_slots", 1)),
                   st.get("flows_in_cache", 0),
                   st.get("drain_time_last", 0) / 1000,
                   st.get("drain_time_max", 0) / 1000,
                   st.get("packets", 0), st.get("flows_exported", 0),
                   st.get("export_errors", 0))
            rows.append(row)
            print(f"{row[0]:6.0f} {row[1] or 0:8d} {row[2]:10.4%} {row[3]:8d} "
                  f"{row[4]:9.2f} {row[5]:9.2f} {row[6]:10d} {row[7]:9d} "
                  f"{row[8]:7d}", flush=True)
        sent = int(sender.stdout().split()[-1])
        final = probe.stats(lab.if_ra)
        rc = probe.stop(timeout=120)
        lab.wait_udp_drained("R", PORT, timeout=120)
        nfcapd.stop()
        sink.stop()
        flows = nfcapd.flows()
        got_pkts = got_bytes = 0
        for (src, dst, proto, sport, dport), (p, b, _r) in flows.items():
            if src == lab.V4["A"] and dst == lab.V4["B"] and proto == 17 \
                    and dport == DPORT:
                got_pkts += p
                got_bytes += b
        lost = sent - got_pkts
        rss = [r[1] for r in rows if r[1]]
        print(f"\nsent {sent} packets ({sent * (SIZE + 28)} IP bytes); nfcapd "
              f"has {got_pkts} packets ({got_bytes} bytes) of those flows; "
              f"lost {lost}")
        print(f"RSS {min(rss, default=0)}..{max(rss, default=0)} kB "
              f"(first sample {rss[0] if rss else 0}, last "
              f"{rss[-1] if rss else 0}); slowest drain "
              f"{final.get('drain_time_max', 0) / 1000:.2f} ms; table fill at "
              f"most {max((r[2] for r in rows), default=0):.4%}; export errors "
              f"{final.get('export_errors', 0)}; uncounted packets "
              f"{final.get('uncounted_packets', 0)}; probe exit {rc}")
        good = (lost == 0 and got_bytes == sent * (SIZE + 28) and rc == 0 and
                final.get("uncounted_packets", 0) == 0)
        print(f"soak: {'PASS' if good else 'FAIL'}: {seconds} s, {lost} "
              "packets lost")
        if not good:
            lab.keep_dir_on_failure = True
            print(f"lab files kept in {lab.dir}")
        return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
