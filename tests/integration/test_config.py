#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""A probe configured as a service is: from a configuration file.

1. `flowprobe run --config FILE` in the lab's router, the file giving the
   collector, the dashboard address and a --local-file of 10,000 customer
   prefixes (A's 10.0.1.0/24 among them, and fd00:1::/64): nfcapd gets
   the flow A sends, and the dashboard's API calls A's addresses local
   customers (so the 10,000 prefixes were read and are matched), B's not.
2. A mistake in the file is one line naming the file and the line, exit 2.
3. The web page never takes the probe down: with the dashboard's port
   already taken, the probe starts, says so in one warning line naming
   the address and the fix, and counts and exports as ever.
"""

import json
import os
import socket
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab as L  # noqa: E402
from lab import ok  # noqa: E402

PORT = 2055
HTTP = "127.0.0.1:8093"
FETCH = r"""
import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())
"""


def write_prefixes(path):
    with open(path, "w") as f:
        f.write("# 10,000 customer prefixes\n")
        for i in range(9998):
            f.write(f"100.{64 + (i >> 8) % 64}.{i & 255}.0/24\n")
        f.write("10.0.1.0/24   # customer A\nfd00:1::/64\n")


def hosts(lab):
    cp = lab.run("R", [L.PYTHON, "-c", FETCH, f"http://{HTTP}/api/hosts"],
                 mount=False, check=False)
    try:
        return json.loads(cp.stdout)
    except ValueError:
        return {}


def local_hosts(view):
    """Every address any of the host lists names."""
    seen = set()
    for v in view.values():
        if isinstance(v, list):
            seen |= {h.get("host") or h.get("addr") for h in v if isinstance(h, dict)}
    return seen


def config_file(lab):
    prefixes = os.path.join(lab.dir, "customers.txt")
    write_prefixes(prefixes)
    conf = os.path.join(lab.dir, "flowprobe.conf")
    with open(conf, "w") as f:
        f.write(f"# as /etc/flowprobe/flowprobe.conf would be\n"
                f"collector = 127.0.0.1:{PORT}\n"
                f"local-file = {prefixes}\n"
                f"http = {HTTP}\n"
                f"active-timeout = 2\ninactive-timeout = 1\n")
    nfcapd = lab.start_nfcapd(PORT)
    probe = L.Flowprobe(lab, [lab.if_ra, lab.if_rb], [], extra=["--config", conf])
    probe.argv.remove("--no-config")
    probe.start()
    lab.run("A", [L.PYTHON, L.__file__, "ping", lab.V4["B"], "5", "0.1"], check=False)
    try:
        seen = L.wait_until(lambda: (lambda s: s if lab.V4["A"] in s else None)(
            local_hosts(hosts(lab))), 30, "A among the dashboard's hosts")
    except L.LabError:
        seen = local_hosts(hosts(lab))
    ok(lab.V4["A"] in seen and lab.V4["B"] not in seen,
       "10,000 prefixes from the config's local-file: A (10.0.1.0/24, the "
       "last lines) is a local customer, B is not", str(sorted(seen))[:300])
    rc = probe.stop()
    nfcapd.stop()
    icmp = [k for k in nfcapd.flows() if k[0] == lab.V4["A"] and k[1] == lab.V4["B"]]
    ok(rc == 0 and icmp, "the config's collector got A's flow", f"exit {rc}")


def config_mistake(lab):
    conf = os.path.join(lab.dir, "bad.conf")
    with open(conf, "w") as f:
        f.write("collector = 127.0.0.1:2055\nactive-timout = 60\n")
    cp = lab.run("R", [L.FLOWPROBE_BIN, "run", "--config", conf, "-i", lab.if_ra],
                 mount=False, check=False)
    lines = cp.stderr.strip().splitlines()
    ok(cp.returncode == 2 and len(lines) == 1 and f"{conf}:2" in lines[0] and
       "active-timout" in lines[0],
       "a misspelt option in the file: exit 2, one line naming the file, "
       "the line and the word", f"exit {cp.returncode}: {cp.stderr}")


def busy_port(lab):
    holder = lab.spawn("R", [L.PYTHON, "-c",
                             "import socket, time\n"
                             "s = socket.socket(); s.bind(('127.0.0.1', 8094))\n"
                             "s.listen(); print('bound', flush=True); time.sleep(600)"],
                       name="port-holder", mount=False)
    holder.wait_for(r"bound", 10, stream="stdout")
    nfcapd = lab.start_nfcapd(PORT + 1)
    probe = L.Flowprobe(lab, [lab.if_ra, lab.if_rb], [f"127.0.0.1:{PORT + 1}"],
                        active=2, inactive=1, extra=["--http", "127.0.0.1:8094"])
    probe.start()
    warnings = [x for x in probe.stderr().splitlines() if "8094" in x]
    ok(len(warnings) == 1 and "warning" in warnings[0] and "--http" in warnings[0],
       "the dashboard's port taken: one warning line naming the address and "
       "the fix, and the probe runs", L.tail(probe.stderr()))
    lab.run("A", [L.PYTHON, L.__file__, "ping", lab.V4["B"], "3", "0.1"], check=False)
    L.wait_until(lambda: probe.stats().get("flow_packets", 0) >= 6, 20,
                 "the pings counted")
    rc = probe.stop()
    nfcapd.stop()
    holder.kill()
    pk = sum(v[0] for k, v in nfcapd.flows().items() if k[2] == 1)
    ok(rc == 0 and pk >= 6, f"and it counts and exports: {pk} ICMP packets in "
       "nfcapd", f"exit {rc}")


def main():
    if os.geteuid() != 0:
        print("1..0 # SKIP needs root (network namespaces, XDP)")
        return
    if L.PROBE_KIND != "flowprobe":
        print("1..0 # SKIP the configuration file is flowprobe's own")
        return
    try:
        with L.Lab() as lab:
            config_file(lab)
            config_mistake(lab)
            busy_port(lab)
    except L.LabError as e:
        ok(False, "lab", str(e))
    L.done()


if __name__ == "__main__":
    main()
