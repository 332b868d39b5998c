#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Collectors that fail must not cost the healthy ones a record.

Lab A -- R -- B, the probe inline in R, exporting to three collectors on
R's loopback: nfcapd (healthy), a port where nothing listens (dead: every
send is refused with ECONNREFUSED), and a UDP socket with a tiny receive
buffer that nobody reads (slow: it drops what it cannot hold). A sends
UDP flows to B in two phases; between them nfcapd is stopped, and a fresh
nfcapd (empty template cache, its own directory) takes its place.

Checks: the first nfcapd has every phase-1 flow with exact packets and
bytes; the restarted one decodes every phase-2 flow exactly, which needs
the templates sent again by time (--template-refresh 2: without it the
next templates would come 20 packets later and nfcapd would drop the
records as of an unknown template); the probe counted the dead
collector's refusals (export_errors) and named it in the log once, not per
packet; no drain took long (sends never block); the probe exits cleanly.
"""

import os
import socket
import sys

sys.dont_write_bytecode = True      # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab as L  # noqa: E402
from lab import ok, comment  # noqa: E402

HEALTHY, DEAD, SLOW = 2055, 2056, 2057
FLOWS, PKTS, SIZE = 60, 3, 100
PHASE1_SPORT, PHASE2_SPORT = 41000, 42000
DPORT = 7000

SEND = r"""
import socket, sys
dst, base, n, count, size, dport = sys.argv[1], *map(int, sys.argv[2:])
for i in range(n):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.bind(("0.0.0.0", base + i))
        for _ in range(count):
            u.sendto(b"x" * size, (dst, dport))
"""

SLOW_COLLECTOR = r"""
import signal, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
s.bind(("127.0.0.1", int(sys.argv[1])))
print("ready", flush=True)
signal.sigwait([signal.SIGTERM])
"""


def socket_drops(lab, port):
    """The drops the kernel counted for R's UDP sockets on port."""
    total = 0
    for line in lab.run("R", ["cat", "/proc/net/udp"]).stdout.splitlines()[1:]:
        f = line.split()
        if int(f[1].split(":")[1], 16) == port:
            total += int(f[-1])
    return total


def send_flows(lab, base):
    lab.run("A", [L.PYTHON, "-c", SEND, lab.V4["B"], base, FLOWS, PKTS,
                  SIZE, DPORT])
    return {(lab.V4["A"], lab.V4["B"], 17, base + i, DPORT):
            [PKTS, PKTS * (SIZE + 28), 1] for i in range(FLOWS)}


def check_exact(name, truth, got):
    missing = [f"{k}: sent {v[:2]}, got {got.get(k)}" for k, v in truth.items()
               if got.get(k, [0, 0])[:2] != v[:2]]
    ok(not missing, f"{name}: all {len(truth)} flows with exact packets and "
       "bytes", "\n".join(missing[:20]))


def wait_exported(probe, iface, n, what):
    L.wait_until(lambda: probe.stats(iface).get("flows_exported", 0) >= n,
                 60, what)


def main():
    with L.Lab() as lab:
        nfcapd = lab.start_nfcapd(HEALTHY)
        slow = lab.spawn("R", [L.PYTHON, "-c", SLOW_COLLECTOR, SLOW],
                         name="slow-collector")
        slow.wait_for(r"^ready", 20, stream="stdout")
        probe = lab.start_probe(
            [lab.if_ra, lab.if_rb],
            [f"127.0.0.1:{HEALTHY}", f"127.0.0.1:{DEAD}", f"127.0.0.1:{SLOW}"],
            active=60, inactive=1, extra=["--template-refresh", "2"])

        truth1 = send_flows(lab, PHASE1_SPORT)
        wait_exported(probe, lab.if_ra, FLOWS,
                      "the probe to export phase 1's flows")
        lab.wait_udp_drained("R", HEALTHY)
        nfcapd.stop()
        got1 = {k: v for k, v in nfcapd.flows().items()
                if k[3] >= PHASE1_SPORT and k[3] < PHASE2_SPORT}
        check_exact("nfcapd before its restart", truth1, got1)

        # A fresh nfcapd knows no template: only a refresh makes the
        # records of phase 2 readable.
        restarted = L.Nfcapd(lab, HEALTHY)
        restarted.dir = os.path.join(lab.dir, "nfcapd-restarted")
        os.makedirs(restarted.dir, exist_ok=True)
        restarted.start()
        truth2 = send_flows(lab, PHASE2_SPORT)
        wait_exported(probe, lab.if_ra, 2 * FLOWS,
                      "the probe to export phase 2's flows")
        # The slow collector is on this host: the probe reads its socket's
        # drops (a tick behind at most) and counts them.
        drops = socket_drops(lab, SLOW)
        stats = L.wait_until(
            lambda: (lambda st: st if st.get("export_collector_drops") ==
                     socket_drops(lab, SLOW) else None)(probe.stats(lab.if_ra)),
            10, "export_collector_drops to match the slow socket's drops")
        ok(drops > 0 and stats.get("export_collector_drops", 0) >= drops,
           f"the slow collector's {stats.get('export_collector_drops')} "
           "receive-buffer drops are counted in export_collector_drops",
           str(stats))
        rc = probe.stop()
        ok(rc == 0, "probe exits 0 when stopped (SIGINT)",
           L.tail(probe.stderr()))
        restarted.stop()
        got2 = {k: v for k, v in restarted.flows().items()
                if k[3] >= PHASE2_SPORT}
        check_exact("restarted nfcapd (templates resent by time)", truth2,
                    got2)

        err = probe.stderr()
        comment(f"export_errors {stats.get('export_errors')}, export_packets "
                f"{stats.get('export_packets')}, queued "
                f"{stats.get('export_queued')}, drain_time_max "
                f"{stats.get('drain_time_max')}")
        ok(stats.get("export_errors", 0) > 0,
           "the dead collector's refusals are counted in export_errors",
           str(stats))
        dead_lines = [l for l in err.splitlines()
                      if f"127.0.0.1:{DEAD}" in l and "lost" in l]
        slow_lines = [l for l in err.splitlines()
                      if f"127.0.0.1:{SLOW}, on this host, dropped" in l]
        healthy_lines = [l for l in err.splitlines()
                         if f"127.0.0.1:{HEALTHY}, on this host" in l]
        ok(len(slow_lines) == 1 and not healthy_lines,
           "at exit the log names the collector on this host that dropped "
           "export packets, and not the one that kept up",
           "\n".join(slow_lines + healthy_lines) or L.tail(err))
        ok(1 <= len(dead_lines) <= 3,
           "the dead collector is named in the log, not once per packet",
           "\n".join(dead_lines[:10]) or L.tail(err))
        ok("unknown" not in err.lower() and rc == 0 and
           stats.get("drain_time_max", 10**9) < 1_000_000,
           "no drain took a second (sends never wait for a collector)",
           str(stats.get("drain_time_max")))
        slow.stop()
    L.done()


if __name__ == "__main__":
    main()
