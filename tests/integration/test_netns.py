#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Probes that know their network namespace.

1. Restart under `ip netns exec`, as operators start daemons in a VRF or
   a customer namespace. The probe runs in tap mode on R's A-side
   interface, started with `ip netns exec` (a private mount namespace with
   a new /sys: a bpffs mounted there ends with the process). Three rounds
   of 300,000 UDP packets from A: with the probe up; after SIGTERM, with no
   daemon (the pinned program alone counts); with a second `ip netns
   exec` daemon, which must take the probe over. Then Ctrl-C. nfcapd must
   hold exactly 900,000 packets, and the pins must have been on the host's
   bpffs, under the namespace's own directory.
2. Two namespaces, each with an interface named `vb` at the same ifindex,
   each with its own probe: each counts its own traffic and nothing else;
   the second says it attached (never "took over"); stopping the second
   with Ctrl-C leaves the first counting; `flowprobe stats` in each
   namespace sees only its own probe.
"""

import json
import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True      # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab as L  # noqa: E402
from lab import ok, comment  # noqa: E402

PORT = 2055
ROUND = 300_000
PAYLOAD = 18                        # 46-byte IPv4 packets
SPORT, DPORT = 40100, 9
BLAST = os.path.join(L.ROOT, "build", "tools", "udp_blast")


def blast(lab, n):
    cp = lab.run("A", [BLAST, lab.V4["B"], DPORT, n, PAYLOAD, SPORT],
                 check=False, timeout=240)
    return cp.returncode == 0 and f"sent {n} packets" in cp.stdout


def wait_counted(probe, n, what):
    """Until the pinned counters show n packets (whichever daemon runs)."""
    return L.wait_until(lambda: probe.stats().get("packets", 0) >= n, 60, what,
                        interval=0.2)


def restart_under_ip_netns_exec():
    with L.Lab() as lab:
        lab.run("A", ["tc", "qdisc", "replace", "dev", lab.if_a, "root",
                      "pfifo", "limit", "10000"])
        mac = lab.link("R", lab.if_ra)["address"]
        lab.run("A", ["ip", "neigh", "replace", lab.V4["RA"], "lladdr", mac,
                      "dev", lab.if_a, "nud", "permanent"])
        nfcapd = lab.start_nfcapd(PORT)
        drops0 = lab.tx_dropped("A", lab.if_a)
        probe = lab.start_probe([lab.if_ra], [f"127.0.0.1:{PORT}"], tap=True,
                                ip_netns_exec=True)
        pins = lab.pin_dir(lab.if_ra)
        ok(os.path.exists(os.path.join(pins, "link")),
           "started by ip netns exec, the probe pins on the host's bpffs, "
           f"under its namespace's directory ({pins})", L.tail(probe.stderr()))
        ok(blast(lab, ROUND), f"round 1: {ROUND:,} packets with the probe up")
        wait_counted(probe, ROUND, "round 1 counted")

        rc = probe.stop(keep=True)
        ok(rc == 0 and lab.xdp_prog("R", lab.if_ra) is not None,
           "SIGTERM: the daemon exits 0, the program stays attached",
           L.tail(probe.stderr()))
        ok(blast(lab, ROUND), f"round 2: {ROUND:,} packets with no daemon")
        wait_counted(probe, 2 * ROUND, "round 2 counted by the pinned program")

        probe = lab.start_probe([lab.if_ra], [f"127.0.0.1:{PORT}"], tap=True,
                                ip_netns_exec=True)
        ok(re.search(r"took over the pinned probe on " + re.escape(lab.if_ra),
                     probe.stderr()),
           "a new daemon under ip netns exec takes the probe over",
           L.tail(probe.stderr()))
        ok(blast(lab, ROUND), f"round 3: {ROUND:,} packets")
        wait_counted(probe, 3 * ROUND, "round 3 counted")
        rc = probe.stop()
        ok(rc == 0, "Ctrl-C: detached after the last export", L.tail(probe.stderr()))
        drops = lab.tx_dropped("A", lab.if_a) - drops0
        nfcapd.stop()
        key = (lab.V4["A"], lab.V4["B"], 17, SPORT, DPORT)
        pk, by, recs = nfcapd.flows().get(key, [0, 0, 0])
        ok(drops == 0 and pk == 3 * ROUND and by == 3 * ROUND * (PAYLOAD + 28),
           f"nfcapd holds every packet of the three rounds: {pk:,} of "
           f"{3 * ROUND:,} ({recs} records), bytes exact",
           f"bytes {by:,}, A's tx_dropped grew by {drops}")
        ok(not os.path.exists(pins) and lab.xdp_prog("R", lab.if_ra) is None,
           "nothing attached or pinned afterwards", pins)


class TwinNamespaces:
    """Namespaces P1, P2 (probes) and S1, S2 (senders): in each Pi an
    interface vb (ifindex 2 in both) whose peer va sits in Si."""

    def __init__(self):
        tag = f"fpn{os.getpid()}"
        self.p = [f"{tag}-p1", f"{tag}-p2"]
        self.s = [f"{tag}-s1", f"{tag}-s2"]
        self.procs = []

    def sh(self, *argv, check=True):
        return subprocess.run([str(a) for a in argv], capture_output=True,
                              text=True, check=check, timeout=120)

    def __enter__(self):
        try:
            for p, s in zip(self.p, self.s):
                self.sh("ip", "netns", "add", p)
                self.sh("ip", "netns", "add", s)
                # No IPv6 chatter (router solicitations, DAD) on the new
                # links: only the packets the test sends are counted.
                for ns in (p, s):
                    for scope in ("all", "default"):
                        self.sh("ip", "netns", "exec", ns, "sysctl", "-qw",
                                f"net.ipv6.conf.{scope}.disable_ipv6=1")
                self.sh("ip", "-n", p, "link", "add", "vb", "type", "veth", "peer",
                        "name", "va", "netns", s)
                self.sh("ip", "-n", p, "addr", "add", "10.77.0.2/24", "dev", "vb")
                self.sh("ip", "-n", s, "addr", "add", "10.77.0.1/24", "dev", "va")
                for ns, dev in ((p, "vb"), (s, "va"), (p, "lo"), (s, "lo")):
                    self.sh("ip", "-n", ns, "link", "set", dev, "up")
                mac = json.loads(self.sh("ip", "-n", p, "-j", "link", "show",
                                         "vb").stdout)[0]["address"]
                self.sh("ip", "-n", s, "neigh", "replace", "10.77.0.2", "lladdr",
                        mac, "dev", "va", "nud", "permanent")
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        for pr in self.procs:
            if pr.poll() is None:
                pr.kill()
                pr.wait()
        for ns in self.p + self.s:
            ino = L.netns_inode(ns)
            self.sh("ip", "netns", "del", ns, check=False)
            L.remove_probe_dirs(ino)

    def ifindex(self, i):
        return json.loads(self.sh("ip", "-n", self.p[i], "-j", "link", "show",
                                  "vb").stdout)[0]["ifindex"]

    def start_probe(self, i):
        err = open(os.path.join(L.ROOT, "build", f"netns-probe{i}.err"), "w+")
        pr = subprocess.Popen(["ip", "netns", "exec", self.p[i], L.FLOWPROBE_BIN,
                               "run", "-i", "vb", "--tap", "--json", "--no-http"],
                              stdout=subprocess.PIPE, stderr=err, text=True,
                              stdin=subprocess.DEVNULL)
        pr.err = err
        self.procs.append(pr)
        L.wait_until(lambda: "flowprobe: running" in stderr_of(pr), 30,
                     f"the probe in {self.p[i]}")
        return pr

    def send(self, i, n):
        cp = self.sh("ip", "netns", "exec", self.s[i], BLAST, "10.77.0.2", DPORT, n,
                      PAYLOAD, SPORT + i, check=False)
        return cp.returncode == 0

    def stats(self, i):
        cp = self.sh("ip", "netns", "exec", self.p[i], L.FLOWPROBE_BIN, "stats",
                     check=False)
        return cp.stdout, cp.returncode


def stderr_of(pr):
    pr.err.seek(0)
    return pr.err.read()


def flow_packets(out, sport):
    n = 0
    for line in out.splitlines():
        try:
            o = json.loads(line)
        except ValueError:
            continue
        if o.get("type") == "flow" and o.get("sport") == sport:
            n += o.get("packets", 0)
    return n


def packets_counted(stats_out):
    m = re.search(r"^packets (\d+)$", stats_out, re.M)
    return int(m.group(1)) if m else -1


def same_named_interfaces():
    with TwinNamespaces() as tw:
        ok(tw.ifindex(0) == tw.ifindex(1),
           f"two namespaces, each with vb at ifindex {tw.ifindex(0)}")
        p1 = tw.start_probe(0)
        p2 = tw.start_probe(1)
        ok("took over" not in stderr_of(p2) and
           re.search(r"attached", stderr_of(p2)) is not None,
           "the second probe attaches to its own vb; it does not take over "
           "the other namespace's", L.tail(stderr_of(p2)))
        ok(tw.send(0, 1000) and tw.send(1, 2000), "1,000 packets into P1's vb, "
           "2,000 into P2's")
        L.wait_until(lambda: packets_counted(tw.stats(0)[0]) >= 1000 and
                     packets_counted(tw.stats(1)[0]) >= 2000, 30,
                     "both probes to count")
        s1, s2 = tw.stats(0)[0], tw.stats(1)[0]
        ok(packets_counted(s1) == 1000 and packets_counted(s2) == 2000 and
           s1.count("interfaces ") == 1 and s2.count("interfaces ") == 1,
           "flowprobe stats in each namespace sees its own probe only "
           "(1,000 and 2,000 packets)", f"P1:\n{s1}\nP2:\n{s2}")

        p2.send_signal(2)   # Ctrl-C: detaches its own probe only
        out2, _ = p2.communicate(timeout=60)
        ok(p2.returncode == 0 and flow_packets(out2, SPORT + 1) == 2000 and
           flow_packets(out2, SPORT) == 0,
           "P2's probe exported its 2,000 packets and none of P1's",
           L.tail(stderr_of(p2)))
        ok(tw.send(0, 500), "500 more packets into P1 after P2 stopped")
        L.wait_until(lambda: packets_counted(tw.stats(0)[0]) >= 1500, 30,
                     "P1 to count them")
        p1.send_signal(2)
        out1, _ = p1.communicate(timeout=60)
        ok(p1.returncode == 0 and flow_packets(out1, SPORT) == 1500 and
           flow_packets(out1, SPORT + 1) == 0,
           "P1's probe kept counting: it exported 1,500 packets, none of P2's",
           f"{flow_packets(out1, SPORT)} {flow_packets(out1, SPORT + 1)}\n"
           f"{L.tail(stderr_of(p1))}")


def main():
    if os.geteuid() != 0:
        print("1..0 # SKIP needs root (network namespaces, XDP)")
        return
    if L.PROBE_KIND != "flowprobe":
        print("1..0 # SKIP namespaces and pins are flowprobe's own")
        return
    if not os.access(BLAST, os.X_OK):
        ok(False, "udp_blast is built", f"{BLAST} missing: make build/tools/udp_blast")
        L.done()
    try:
        restart_under_ip_netns_exec()
        same_named_interfaces()
    except L.LabError as e:
        ok(False, "lab", str(e))
    L.done()


if __name__ == "__main__":
    main()
