#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Inline on a router, the probe exports where each flow went.

R gets a second link to B (a third interface), and routes: 10.9.1.0/24
and fd09:1::/64 via B on the first link, 10.9.2.0/24 and fd09:2::/64 via
B's address on the second, 10.9.3.0/24 and fd09:3::/64 as blackholes.
The probe runs inline on R's A-side interface with forwarding on, and
exports to nfcapd over NetFlow v9 and over IPFIX. A sends UDP to a host
behind each route, and to B itself (directly connected). In both of
nfdump's stores every flow must have OUTPUT_SNMP / egressInterface equal
to the ifindex of the interface R really sends it out of, and the next
hop equal to the neighbour's address (the gateway; B's own address for
the connected destination); the blackholed flows 0 and no next hop, and
the lookups that found the blackholes counted by name
(route_blackhole). A route changed mid-flow reaches the flow's record.
A broken lookup (wrong field, wrong byte order, the
ingress interface taken for the egress, IPv6 next hop cut to 4 bytes)
fails one of these.
"""

import json
import os
import sys

sys.dont_write_bytecode = True      # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab as L  # noqa: E402
from lab import ok, comment  # noqa: E402

V9_PORT = 2075
IPFIX_PORT = 2076
PACKETS = 5


def nfdump_routes(nfcapd):
    """{(src, dst): (out ifindex, next hop)} from nfdump's CSV."""
    return {(L.norm_addr(r["sa"]), L.norm_addr(r["da"])):
            (int(r["out"]), L.norm_addr(r["nh"])) for r in nfcapd.rows()}


def cached_egress(lab, dst):
    """The egress the probe's route cache holds for dst from A's side: the
    ways of every bucket (include/route.h) searched for its key, whose
    check word must hold."""
    key = bytearray(24)
    key[0:4] = lab.link("R", lab.if_ra)["ifindex"].to_bytes(4, "little")
    key[4] = 4
    key[8:12] = bytes(int(x) for x in dst.split("."))
    path = os.path.join(lab.pin_dir(lab.if_ra), "routes")
    cp = lab.run("R", ["bpftool", "-j", "map", "dump", "pinned", path],
                 check=False, mount=False)
    if cp.returncode != 0:
        return None
    for entry in json.loads(cp.stdout):
        raw = bytes(int(b, 16) for b in entry["value"])
        for off in range(0, len(raw), 64):
            way = raw[off:off + 64]
            if way[0:24] == key and int.from_bytes(way[56:60], "little") == \
                    route_check(way):
                return int.from_bytes(way[24:28], "little")
    return None


def route_check(way):
    """include/route.h's route_check()."""
    total = 0x52544531
    for i in range(12):
        w = int.from_bytes(way[4 * i:4 * i + 4], "little")
        total += ((w << (i + 1)) | (w >> (31 - i))) & 0xffffffff
    return (total & 0xffffffff) | 1


def add_second_link(lab):
    """R <-> B again, on 10.0.3.0/24 and fd00:3::/64; returns
    (R's interface, B's IPv4 and IPv6 addresses on it)."""
    r_if, b_if = f"{lab.prefix}rc", f"{lab.prefix}b2"
    L.sh(["ip", "link", "add", r_if, "netns", lab.ns["R"], "type", "veth",
          "peer", "name", b_if, "netns", lab.ns["B"]])
    for role, ifn, v4, v6 in (("R", r_if, "10.0.3.254", "fd00:3::fe"),
                              ("B", b_if, "10.0.3.1", "fd00:3::1")):
        n = lab.ns[role]
        L.sh(["ip", "-n", n, "addr", "add", v4 + "/24", "dev", ifn])
        L.sh(["ip", "-n", n, "addr", "add", v6 + "/64", "dev", ifn, "nodad"])
        L.sh(["ip", "-n", n, "link", "set", ifn, "up"])
    return r_if, "10.0.3.1", "fd00:3::1"


def main():
    if L.PROBE_KIND != "flowprobe":
        ok(False, "this test needs flowprobe (routes inline)")
        return
    with L.Lab() as lab:
        rc_if, b2_v4, b2_v6 = add_second_link(lab)
        r = lab.ns["R"]
        routes = [["10.9.1.0/24", "via", lab.V4["B"], "dev", lab.if_rb],
                  ["10.9.2.0/24", "via", b2_v4, "dev", rc_if],
                  ["blackhole", "10.9.3.0/24"],
                  ["fd09:1::/64", "via", lab.V6["B"], "dev", lab.if_rb],
                  ["fd09:2::/64", "via", b2_v6, "dev", rc_if],
                  ["blackhole", "fd09:3::/64"]]
        for rt in routes:
            L.sh(["ip", "-n", r] + (["-6"] if ":" in "".join(rt) else []) +
                 ["route", "add"] + rt)
        idx = {n: lab.link("R", n)["ifindex"]
               for n in (lab.if_ra, lab.if_rb, rc_if)}
        comment(f"R's interfaces: {idx}")
        # destination -> (egress ifindex, next hop) R really uses
        want = {
            "10.9.1.1": (idx[lab.if_rb], lab.V4["B"]),
            "10.9.2.1": (idx[rc_if], b2_v4),
            "10.9.3.1": (0, "0.0.0.0"),
            lab.V4["B"]: (idx[lab.if_rb], lab.V4["B"]),
            "fd09:1::1": (idx[lab.if_rb], lab.V6["B"]),
            "fd09:2::1": (idx[rc_if], b2_v6),
            "fd09:3::1": (0, "::"),
            lab.V6["B"]: (idx[lab.if_rb], lab.V6["B"]),
        }
        # The kernel's own answer, so the test states what R does, not
        # what the test author thinks it does.
        for dst, (oif, nh) in want.items():
            if oif == 0:
                continue
            got = lab.run("R", ["ip", "-j", "route", "get", dst,
                                "from", lab.V6["A"] if ":" in dst else
                                lab.V4["A"], "iif", lab.if_ra]).stdout
            rt = json.loads(got)[0]
            real = (idx.get(rt.get("dev"), -1), rt.get("gateway", dst))
            ok(real == (oif, nh), f"ip route get {dst}: out {rt.get('dev')} "
               f"via {real[1]}", f"{rt}")

        v9 = lab.start_nfcapd(V9_PORT)
        ipfix = lab.start_nfcapd(IPFIX_PORT)
        probe = lab.start_probe([lab.if_ra], [f"127.0.0.1:{V9_PORT}",
                                              f"ipfix://127.0.0.1:{IPFIX_PORT}"])
        lab.start_server()  # B's discard port: no ICMP errors from B itself
        for i, dst in enumerate(want):
            lab.udp_send("A", dst, L.DISCARD_PORT, 41000 + i, PACKETS, 100)
        # A route that changes mid-flow: 10.9.4.1 leaves by the first link,
        # then by the second; the flow goes on across the change (one
        # record, active timeout 60 s) and its record carries the route
        # the cache held last: the new one (docs/export.md).
        moving = "10.9.4.1"
        L.sh(["ip", "-n", r, "route", "add", "10.9.4.0/24", "via",
              lab.V4["B"], "dev", lab.if_rb])
        lab.udp_send("A", moving, L.DISCARD_PORT, 42000, 1, 100)
        L.wait_until(lambda: cached_egress(lab, moving) == idx[lab.if_rb], 10,
                     "the first route in the cache")
        L.sh(["ip", "-n", r, "route", "replace", "10.9.4.0/24", "via", b2_v4,
              "dev", rc_if])

        def moved():
            # each packet keeps the flow alive; it re-enters the table
            # each drain and asks the FIB again after ROUTE_RECHECK_NS
            lab.udp_send("A", moving, L.DISCARD_PORT, 42000, 1, 100)
            return cached_egress(lab, moving) == idx[rc_if]
        L.wait_until(moved, 20, "the changed route in the cache", interval=0.3)
        want[moving] = (idx[rc_if], b2_v4)
        blackholes = sum(1 for v in want.values() if v[0] == 0)
        L.wait_until(lambda: probe.stats().get("route_blackhole", 0) >=
                     blackholes, 20, "the blackhole lookups counted")
        st = probe.stats()
        comment("route counters: " + ", ".join(
            f"{k} {v}" for k, v in sorted(st.items())
            if k.startswith("route_") and v))
        ok(st.get("route_blackhole") == blackholes and
           st.get("route_forwarded", 0) >= len(want) - blackholes and
           st.get("route_lookup_error", 0) == 0 and
           st.get("route_forwarding_disabled", 0) == 0,
           f"lookups counted by outcome: {blackholes} blackhole, "
           f"{len(want) - blackholes}+ forwarded, no errors", f"{st}")
        rc = probe.stop()
        ok(rc in probe.ok_exit, f"flowprobe stops cleanly (exit {rc})",
           L.tail(probe.stderr()))
        for name, c in (("v9", v9), ("IPFIX", ipfix)):
            c.stop()
            got = nfdump_routes(c)
            for dst, (oif, nh) in want.items():
                src = lab.V6["A"] if ":" in dst else lab.V4["A"]
                g = got.get((L.norm_addr(src), L.norm_addr(dst)))
                ok(g == (oif, L.norm_addr(nh)),
                   f"nfdump ({name}) {dst}: OUTPUT_SNMP {oif}, next hop {nh}",
                   f"got {g}")


if __name__ == "__main__":
    try:
        main()
    except L.LabError as e:
        ok(False, "lab error", str(e))
    L.done()
