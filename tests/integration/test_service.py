#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""flowprobe as a service a NOC can trust.

- `make install DESTDIR=...` puts every file where the binary and the
  unit look: the binary's built-in configuration and dashboard paths, the
  unit's ExecStart, Documentation= and --config all exist in the tree.
- `systemd-analyze security --offline` rates the installed unit 4.0 or
  lower (measured, not assumed: a weakened unit fails here).
- Type=notify, spoken for real: the probe, started with a NOTIFY_SOCKET
  and WATCHDOG_USEC as systemd sets them and with exactly the unit's
  capabilities, sends READY=1 once attached, WATCHDOG=1 while it runs and
  STOPPING=1 on SIGTERM.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab as L  # noqa: E402
from lab import ok  # noqa: E402

EXPOSURE_LIMIT = 4.0


def installed(dest):
    cp = subprocess.run(["make", "-s", "-C", L.ROOT, "install", f"DESTDIR={dest}"],
                        capture_output=True, text=True, timeout=300)
    ok(cp.returncode == 0, "make install DESTDIR=... succeeds", cp.stdout + cp.stderr)
    unit = os.path.join(dest, "lib/systemd/system/flowprobe.service")
    with open(unit) as f:
        text = f.read()
    exec_start = re.search(r"^ExecStart=(\S+) run --config (\S+)", text, re.M)
    doc = re.search(r"^Documentation=file://(\S+)", text, re.M)
    help_text = subprocess.run([L.FLOWPROBE_BIN, "run", "--help"], capture_output=True,
                               text=True).stdout
    web = re.search(r"to the binary, else (\S+)\)", help_text)
    conf = re.search(r"--config FILE .*default: (\S+),", help_text)
    where = {
        "the unit's ExecStart binary": exec_start and exec_start.group(1),
        "the unit's --config file": exec_start and exec_start.group(2),
        "the unit's Documentation= file": doc and doc.group(1),
        "the binary's dashboard directory": web and web.group(1) + "/index.html",
        "the binary's default configuration file": conf and conf.group(1),
        "the logrotate file": "/etc/logrotate.d/flowprobe",
    }
    missing = [f"{k}: {v}" for k, v in where.items()
               if not v or not os.path.exists(os.path.join(dest, v.lstrip("/")))]
    ok(not missing, "every path the binary and the unit use is one make install "
       "fills", "\n".join(missing))
    ok(exec_start and conf and exec_start.group(2) == conf.group(1),
       "the unit's --config is the binary's default configuration file",
       f"{exec_start and exec_start.group(2)} vs {conf and conf.group(1)}")
    return unit


def exposure(unit):
    cp = subprocess.run(["systemd-analyze", "security", "--offline=true", unit],
                        capture_output=True, text=True, timeout=60)
    m = re.search(r"Overall exposure level for \S+: ([\d.]+)", cp.stdout + cp.stderr)
    level = float(m.group(1)) if m else 99
    ok(m and level <= EXPOSURE_LIMIT,
       f"systemd-analyze security rates the unit {level} (at most {EXPOSURE_LIMIT})",
       (cp.stdout + cp.stderr)[-2000:])


def notify(lab):
    sock_path = os.path.join(lab.dir, "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(sock_path)
    sock.settimeout(30)
    env = dict(os.environ, NOTIFY_SOCKET=sock_path, WATCHDOG_USEC="30000000")
    argv = L.with_service_capabilities([L.FLOWPROBE_BIN, "run", "--no-config",
                                        "-i", lab.if_ra, "--tap"])
    proc = lab.spawn("R", argv, name="flowprobe", mount=False, env=env)
    got = []

    def receive(until):
        while not any(until in m for m in got):
            got.append(sock.recv(4096).decode())
    try:
        receive("READY=1")
        ready_seen = "flowprobe: running" in proc.stderr()
        receive("WATCHDOG=1")
        proc.send(signal.SIGINT)
        receive("STOPPING=1")
    except socket.timeout:
        ready_seen = False
    rc = proc.wait(60)
    ok(any("READY=1" in m for m in got) and ready_seen,
       "READY=1 once attached (after the 'running' line), with the service's "
       "capabilities only", f"{got}\n{L.tail(proc.stderr())}")
    ok(any("WATCHDOG=1" in m for m in got) and any("STOPPING=1" in m for m in got)
       and rc == 0, "WATCHDOG=1 while running, STOPPING=1 on the way out, exit 0",
       f"{got} exit {rc}")
    sock.close()


def main():
    if os.geteuid() != 0:
        print("1..0 # SKIP needs root (make install into a tree, XDP)")
        return
    if L.PROBE_KIND != "flowprobe":
        print("1..0 # SKIP the service is flowprobe's own")
        return
    dest = tempfile.mkdtemp(prefix="flowprobe-install-")
    try:
        exposure(installed(dest))
        with L.Lab() as lab:
            notify(lab)
    except L.LabError as e:
        ok(False, "lab", str(e))
    finally:
        shutil.rmtree(dest, ignore_errors=True)
    L.done()


if __name__ == "__main__":
    main()
