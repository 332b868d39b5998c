#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""The web server under clients that try to lock it: nobody is locked out.

The probe serves on 127.0.0.1 in the lab's router, with a token. From
eight other loopback addresses, 400 slow clients (slow_clients.py) each
send a request line and then trickle one header line every 2 s, never
finishing; every connection the server cuts is opened again at once.
Meanwhile:

- an authorised Prometheus-style scrape of /metrics every second gets
  200, each within 3 s, for the whole attack;
- the slow clients' connections are cut (the request deadline), and no
  address holds more than the per-address limit;
- a request with 500 query arguments is answered within 3 s (with 200,
  414 or 431), not held.

With libmicrohttpd's defaults as they were (64 connections in all, no
per-address limit, a 30 s idle timeout, no deadline) the scrapes fail.
"""

import json
import os
import sys
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import lab as L  # noqa: E402

PORT = 8090
TOKEN = "fedcba9876543210fedc"
SOURCES, PER_SOURCE, ATTACK_S = 8, 50, 14
PER_ADDRESS_LIMIT = 16          # web/http_server.c
DEADLINE_S = 5                  # REQUEST_DEADLINE_S there
SCRAPE = r"""
import sys, time, urllib.request
url, token, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i in range(n):
    t0 = time.monotonic()
    try:
        r = urllib.request.urlopen(urllib.request.Request(
            url, headers={"Authorization": "Bearer " + token}), timeout=10)
        code = r.status
        r.read()
    except Exception as e:
        code = getattr(e, "code", 0)
    print(code, round(time.monotonic() - t0, 3), flush=True)
    time.sleep(max(0, 1 - (time.monotonic() - t0)))
"""


def main():
    if os.geteuid() != 0:
        print("1..0 # SKIP needs root (network namespaces, XDP)")
        return
    with L.Lab() as lab:
        token_file = os.path.join(lab.dir, "token")
        with open(token_file, "w") as f:
            f.write(TOKEN + "\n")
        probe = lab.start_probe([lab.if_ra], [], extra=[
            "--http", f"127.0.0.1:{PORT}", "--http-token-file", token_file,
            "--state-dir", os.path.join(lab.dir, "state")])
        L.wait_until(lambda: "dashboard at" in probe.stderr(), 20,
                     "the dashboard's start line")
        base = f"http://127.0.0.1:{PORT}"
        attack = lab.spawn("R", [L.PYTHON, os.path.join(HERE, "slow_clients.py"),
                                 "127.0.0.1", PORT, SOURCES, PER_SOURCE, ATTACK_S],
                           name="slow_clients", mount=False)
        time.sleep(1)   # let the attack take its connections first
        cp = lab.run("R", [L.PYTHON, "-c", SCRAPE, base + "/metrics", TOKEN,
                           ATTACK_S - 3], mount=False, check=False,
                     timeout=ATTACK_S * 12)
        scrapes = [line.split() for line in cp.stdout.splitlines()]
        bad = [s for s in scrapes if s[0] != "200" or float(s[1]) > 3]
        L.ok(len(scrapes) == ATTACK_S - 3 and not bad,
             f"{len(scrapes)} authorised scrapes of /metrics during the attack "
             "of 400 slow clients: each 200 within 3 s",
             f"{cp.stdout}{cp.stderr}")

        args = "&".join(f"a{i}=x" for i in range(500))
        t0 = time.monotonic()
        code_and_time = lab.run("R", [L.PYTHON, "-c", SCRAPE,
                                      f"{base}/metrics?{args}", TOKEN, 1],
                                mount=False, check=False, timeout=60).stdout.split()
        L.ok(code_and_time and code_and_time[0] in ("200", "414", "431") and
             time.monotonic() - t0 < 10 and float(code_and_time[1]) < 3,
             "500 query arguments: answered (200, 414 or 431) within 3 s",
             str(code_and_time))

        attack.wait(ATTACK_S + 30)
        try:
            seen = json.loads(attack.stdout().strip().splitlines()[-1])
        except (ValueError, IndexError):
            seen = {}
        L.ok(seen.get("held_long", 0) >= SOURCES * PER_ADDRESS_LIMIT and
             seen.get("longest_s", 99) <= DEADLINE_S + 2,
             f"the slow clients were held at most the {DEADLINE_S} s request "
             "deadline (and about a second), then cut", f"{seen} "
             f"{attack.stderr()[-500:]}")
        rc = probe.stop()
        L.ok(rc == 0, "the probe stops cleanly (exit 0)", L.tail(probe.stderr()))
    L.done()


if __name__ == "__main__":
    try:
        main()
    except L.LabError as e:
        L.ok(False, "lab", str(e))
        L.done()
