#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""`sudo make demo`: flowprobe between two hosts, NetFlow into nfcapd.

Builds the lab (namespaces A -- R -- B), starts nfcapd on R's loopback and
`flowprobe run` inline on both of R's interfaces, drives a mix of TCP,
UDP and ICMP over IPv4 and IPv6 between A and B while tcpdump on A records
what was really sent, stops the probe (which exports every flow on
SIGTERM), and prints one row per flow: what was sent, what nfcapd
received, and the difference. Exits non-zero if any flow differs.
FLOWPROBE_PROBE=softflowd shows the same table for softflowd.

Then utilisation against active flows: a second lab whose A-side link is
limited to 20 Mbit/s by tc tbf carries TCP flows paced at 2 Mbit/s each,
in rising numbers until the link saturates; the probe samples it, the
knee it finds is printed, and `flowprobe curve` draws the picture into
build/demo/curve.svg.

Last, the dashboard: a third lab with the same customers (ordinary
traffic, the BitTorrent customer, the forged resets) and `flowprobe run
--http` in R, reachable from this host through a veth link R <-> host on a
link-local address; as that is not loopback the probe requires a token,
which the printed URL carries. The demo then serves until Ctrl-C, or for
DEMO_SECONDS seconds; DEMO_SECONDS=0 skips this part.
"""

import os
import secrets
import subprocess
import sys
import time

sys.dont_write_bytecode = True      # keep the source tree clean
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "integration"))
import lab as L  # noqa: E402

PORT = 2055
BT_SWARM = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "integration", "bt_swarm.py")
BT_HOST = "10.0.1.2"        # a second customer behind A
BT_PORT = 6881
BT_PEERS = [f"10.0.3.{i}" for i in range(1, 201)]


def bittorrent_customer(lab):
    """A customer running BitTorrent: handshakes, DHT and uTP to 200 peers
    (addresses on B, routed by R), next to A's ordinary traffic."""
    lab.run("A", ["ip", "addr", "add", f"{BT_HOST}/24", "dev", lab.if_a])
    batch = "".join(f"addr add {a}/32 dev {lab.if_b}\n" for a in BT_PEERS)
    lab.run("B", ["ip", "-batch", "-"], input=batch)
    lab.run("R", ["ip", "route", "add", "10.0.3.0/24", "via", lab.V4["B"]])
    swarm = lab.spawn("B", [L.PYTHON, BT_SWARM, "peers", BT_PORT] + BT_PEERS,
                      name="bt-peers")
    swarm.wait_for(r"^ready", 30, stream="stdout")
    cp = lab.run("A", [L.PYTHON, BT_SWARM, "client", BT_HOST, BT_PORT]
                 + BT_PEERS, timeout=300, check=False)
    return cp.stdout.strip() or cp.stderr.strip()


def say(msg):
    print(msg, flush=True)


def forged_resets(lab, probe):
    """Forged resets in the demo: an on-path injector (rst_injector.py, on R)
    kills a BitTorrent connection between A and B with a RST to each end
    (its own TTL, the trigger's IP ID), next to a connection to a closed
    port. Call while the probe runs with --json; returns a function that,
    after the probe stopped, prints the resets it judged and returns the
    notes (empty when the forged ones are forged and the rest genuine)."""
    import json
    import rst_injector as RI
    say("an injector on R resets a BitTorrent connection A <-> B "
        f"(port {RI.BT_PORT}) the way a traffic manager does ...")
    live = RI.LiveResets(lab, L)
    live.start()
    injected = live.drive(mix=False)
    for line in live.report:
        say("  " + line)

    def key(o):
        return (o.get("src"), o.get("sport"), o.get("dst"), o.get("dport"),
                o.get("seq"))
    forged_keys = {key(i) for i in injected}

    def events():
        out = []
        for line in probe.proc.stdout().splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                pass
        return out

    def decided():
        return forged_keys <= {key(o) for o in events()
                               if o.get("type") == "reset"}
    try:
        L.wait_until(decided, 20, "the probe's verdicts", interval=0.5)
    except L.LabError as e:
        say(f"  {e}")

    def show():
        notes = []
        resets = [o for o in events() if o.get("type") == "reset"]
        say("")
        say("TCP resets the probe saw (verdict, evidence):")
        for o in resets:
            mine = key(o) in forged_keys
            what = ("injected" if mine else "closed port"
                    if o.get("sport") == RI.CLOSED_PORT else "")
            say(f"  {o.get('src')}:{o.get('sport')} > {o.get('dst')}:"
                f"{o.get('dport')} ttl {o.get('ttl')} id {o.get('ip_id')}: "
                f"{o.get('verdict'):8} {','.join(o.get('signals') or [])}"
                f"{'   (' + what + ')' if what else ''}")
            if mine and o.get("verdict") != "forged":
                notes.append(f"injected RST judged {o.get('verdict')}")
            if not mine and o.get("verdict") != "genuine":
                notes.append(f"a RST not injected judged {o.get('verdict')}")
        missing = forged_keys - {key(o) for o in resets}
        if missing:
            notes.append(f"{len(missing)} injected RSTs without a verdict")
        if not any(o.get("sport") == RI.CLOSED_PORT for o in resets):
            notes.append("no reset event for the closed port's RST")
        for c in (o for o in events() if o.get("type") == "reset_connection"):
            say(f"  connection {json.dumps(c)[:200]}")
        say("")
        return notes
    return show

PACED = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                     "integration", "paced_flows.py")
CURVE_DIR = os.path.join(L.ROOT, "build", "demo")
CURVE_STEPS = [1, 2, 4, 6, 8, 10, 12, 14, 16, 20, 24, 28, 32]


def utilisation_curve():
    """A 20 Mbit/s link driven past its overload point; the knee found."""
    os.makedirs(CURVE_DIR, exist_ok=True)
    csv_path = os.path.join(CURVE_DIR, "curve.csv")
    svg_path = os.path.join(CURVE_DIR, "curve.svg")
    say("")
    say("utilisation against active flows: A's link limited to 20 Mbit/s "
        "(tc tbf), TCP flows paced at 2 Mbit/s each, "
        f"{CURVE_STEPS[0]} to {CURVE_STEPS[-1]} of them, 3 s per step ...")
    with L.Lab(keep_dir_on_failure=False) as lab:
        lab.run("A", ["tc", "qdisc", "add", "dev", lab.if_a, "root", "tbf",
                      "rate", "20mbit", "burst", "32k", "latency", "50ms"])
        probe = lab.start_probe([lab.if_ra], [], inactive=1, extra=[
            "--capacity", "20M", "--sample", "250ms", "--curve-csv",
            csv_path])
        sink = lab.spawn("B", [L.PYTHON, PACED, "sink", lab.V4["B"], 5001],
                         name="sink")
        sink.wait_for(r"^ready", 20, stream="stdout")
        lab.run("A", [L.PYTHON, PACED, "send", lab.V4["B"], 5001, 2e6, 3]
                + CURVE_STEPS, timeout=300)
        rc = probe.stop()
        for line in probe.stderr().splitlines():
            if "curve" in line:
                say("  " + line)
    cp = subprocess.run([L.FLOWPROBE_BIN, "curve", csv_path, "-o", svg_path],
                        capture_output=True, text=True)
    for line in (cp.stdout + cp.stderr).splitlines():
        say("  " + line)
    say(f"expected: the knee near N* = 20 Mbit/s / 2 Mbit/s = 10 flows, "
        f"utilisation near 99% (IP bytes of a link whose limit counts "
        f"Ethernet frames)")
    return 0 if rc == 0 and cp.returncode == 0 else 1


def dashboard_link(lab):
    """A veth pair host <-> R on a link-local /30: the host's browser
    reaches the probe's --http in R. Deleted with R's namespace."""
    net = f"169.254.{os.getpid() % 250 + 1}"
    host_if, r_if = f"{lab.prefix}h", f"{lab.prefix}rh"
    L.sh(["ip", "link", "add", host_if, "type", "veth", "peer", "name", r_if,
          "netns", lab.ns["R"]])
    L.sh(["ip", "addr", "add", f"{net}.1/30", "dev", host_if])
    L.sh(["ip", "link", "set", host_if, "up"])
    lab.run("R", ["ip", "addr", "add", f"{net}.2/30", "dev", r_if])
    lab.run("R", ["ip", "link", "set", r_if, "up"])
    return f"{net}.2"


def dashboard_demo(seconds):
    """The support desk's view of the same customers, served until Ctrl-C
    (seconds None) or for `seconds`."""
    say("")
    say("the dashboard: the same customers again, with flowprobe run --http ...")
    with L.Lab(keep_dir_on_failure=False) as lab:
        addr = dashboard_link(lab)
        token = secrets.token_hex(16)
        token_file = os.path.join(lab.dir, "token")
        with open(token_file, "w") as f:
            f.write(token + "\n")
        probe = lab.start_probe([lab.if_ra, lab.if_rb], [], active=10,
                                inactive=2, extra=[
            "--local", "10.0.1.0/24,fd00:1::/64", "--http", f"{addr}:8080",
            "--http-token-file", token_file, "--history", "15m",
            "--sample", "1s", "--capacity", "1G"])
        ok, _ = lab.drive_mix()
        say("  ordinary traffic: " + ("done" if ok else "some exchanges failed"))
        say("  " + bittorrent_customer(lab))
        import rst_injector as RI
        live = RI.LiveResets(lab, L)
        live.start()
        say(f"  forged resets injected: {len(live.drive(mix=False))}")
        url = f"http://{addr}:8080/?token={token}"
        say("")
        say(f"dashboard: {url}")
        say(f"  customer page: http://{addr}:8080/?token={token}#host/{BT_HOST}")
        say(f"  metrics:       curl -H 'Authorization: Bearer {token}' "
            f"http://{addr}:8080/metrics")
        say("serving " + (f"for {seconds} s (DEMO_SECONDS)" if seconds
                          else "until Ctrl-C"))
        deadline = time.monotonic() + seconds if seconds else None
        try:
            while probe.proc.running() and (deadline is None or
                                            time.monotonic() < deadline):
                time.sleep(1)       # nothing to synchronise: just serving
        except (KeyboardInterrupt, SystemExit):
            say("")
        rc = probe.stop()
        say(f"flowprobe stopped (exit {rc})")
        return 0 if rc == 0 else 1


def main():
    if os.geteuid() != 0:
        say("demo: needs root (network namespaces, XDP): sudo make demo")
        return 3
    seconds = os.environ.get("DEMO_SECONDS")
    try:
        seconds = None if seconds in (None, "") else int(seconds)
    except ValueError:
        say(f"demo: DEMO_SECONDS={seconds!r} is not a whole number of seconds")
        return 2
    rc = flow_demo()
    if L.PROBE_KIND == "flowprobe":
        rc = max(rc, utilisation_curve())
        if seconds != 0:
            rc = max(rc, dashboard_demo(seconds))
    return rc


def flow_demo():
    with L.Lab(keep_dir_on_failure=False) as lab:
        say(f"lab: A ({lab.V4['A']}, {lab.V6['A']}) -- {lab.if_ra} R "
            f"{lab.if_rb} -- B ({lab.V4['B']}, {lab.V6['B']})")
        nfcapd = lab.start_nfcapd(PORT)
        say(f"nfcapd listening on 127.0.0.1:{PORT} in R, files in {nfcapd.dir}")
        # The customers are behind A; B and beyond is the Internet.
        extra = ["--local", "10.0.1.0/24,fd00:1::/64", "--json"] \
            if L.PROBE_KIND == "flowprobe" else []
        probe = lab.start_probe([lab.if_ra, lab.if_rb], [f"127.0.0.1:{PORT}"],
                                extra=extra)
        say(f"{probe.kind} running inline on {lab.if_ra},{lab.if_rb}")
        lab.start_ground_truth()
        say("driving traffic: TCP bulk and request/response, UDP echo of "
            "several sizes, ICMP/ICMPv6 echo, IPv4 and IPv6 ...")
        mix_ok, report = lab.drive_mix()
        say(f"a second customer, {BT_HOST}, runs BitTorrent with "
            f"{len(BT_PEERS)} peers (TCP handshakes, DHT, uTP) ...")
        say("  " + bittorrent_customer(lab))
        resets_shown = forged_resets(lab, probe) \
            if L.PROBE_KIND == "flowprobe" else None
        truth, problems = lab.stop_ground_truth()
        rc = probe.stop()
        say(f"{probe.kind} stopped (exit {rc}); waiting for nfcapd")
        nfcapd.stop()
        got = nfcapd.flows()

        rows = L.flow_table(truth, got, lab.endpoints())
        w = max([len("flow")] + [len(r[0]) for r in rows])
        head = (f"{'flow':<{w}}  {'sent pkts':>9} {'sent bytes':>10}  "
                f"{'rcvd pkts':>9} {'rcvd bytes':>10}  {'diff pkts':>9} "
                f"{'diff bytes':>10}")
        say("")
        say(head)
        say("-" * len(head))
        for name, sp, sb, rp, rb, dp, db in rows:
            mark = "" if dp == 0 and db == 0 else "   <-- differs"
            say(f"{name:<{w}}  {sp:>9} {sb:>10}  {rp:>9} {rb:>10}  "
                f"{dp:>+9} {db:>+10}{mark}")
        say("-" * len(head))
        say(f"{'total':<{w}}  {sum(r[1] for r in rows):>9} "
            f"{sum(r[2] for r in rows):>10}  {sum(r[3] for r in rows):>9} "
            f"{sum(r[4] for r in rows):>10}")
        say("")

        say("what the probe said about peer-to-peer hosts:")
        p2p = [line for line in probe.stderr().splitlines()
               if "P2P" in line or "  score " in line]
        for line in p2p:
            say("  " + line)
        alarmed = any(BT_HOST in line and "warning" in line for line in p2p)
        wrongly = [line for line in p2p if "warning" in line and
                   BT_HOST not in line]
        say("")

        bad = [r for r in rows if r[5] or r[6]]
        notes = resets_shown() if resets_shown else []
        if not mix_ok:
            notes.append("some exchanges failed:\n" + report)
        notes += problems
        if probe.kind == "flowprobe" and not alarmed:
            notes.append(f"no P2P alarm for the BitTorrent customer {BT_HOST}")
        if wrongly:
            notes.append("P2P alarm for an ordinary host: " + wrongly[0])
        if rc not in probe.ok_exit:
            notes.append(f"{probe.kind} exited {rc}:\n"
                         + L.tail(probe.stderr(), 5))
        for n in notes:
            say("note: " + n)
        if not bad and not notes and rows:
            say(f"all {len(rows)} flows match: {sum(r[1] for r in rows)} "
                f"packets, {sum(r[2] for r in rows)} bytes")
            return 0
        missing = sum(1 for r in rows if r[3] == 0 and r[1])
        extra = sum(1 for r in rows if r[1] == 0 and r[3])
        say(f"{len(bad)} of {len(rows)} flows differ ({missing} missing, "
            f"{extra} never sent, {len(bad) - missing - extra} with other "
            f"counts)" if bad else "flows match, but see the notes above")
        return 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except L.LabError as e:
        print(f"demo failed: {e}", file=sys.stderr)
        sys.exit(1)
