#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Network-namespace lab shared by the integration tests and the demo.

Builds three namespaces A -- R -- B joined by two veth pairs (IPv4 10.0.x
and IPv6 fd00:x:: addresses, R forwarding both families), runs commands and
background processes in them, starts the probe (flowprobe, or softflowd as
a stand-in when FLOWPROBE_PROBE=softflowd) and the collectors (nfcapd, a
tcpdump capture of the export packets decoded by tshark's cflow dissector,
nfacctd), drives a known traffic mix between A and B, and turns a tcpdump
capture on A's interface into ground truth: packets and IP bytes per
unidirectional 5-tuple. Everything it creates (namespaces, processes, bpffs
pin directories of its interfaces) is removed on exit, on an exception, on
SIGTERM/SIGINT/SIGHUP and at interpreter exit. Synchronisation is always a
polled condition with a timeout, never a bare sleep.

The module is also its own traffic agent: `lab.py server ...` and
`lab.py client ...` run inside B and A, `lab.py offload ...` switches a
device's segmentation offloads (what `ethtool -K` would do).

Only the Python standard library is used.
"""

import array
import atexit
import fcntl
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PYTHON = "/usr/bin/python3"
FLOWPROBE_BIN = os.environ.get("FLOWPROBE_BIN", os.path.join(ROOT, "flowprobe"))
# Which exporter the tests drive: "flowprobe" (the real thing) or
# "softflowd" (a stand-in that proves the harness; it is not exact).
PROBE_KIND = os.environ.get("FLOWPROBE_PROBE", "flowprobe")
if PROBE_KIND not in ("flowprobe", "softflowd"):
    sys.exit(f"FLOWPROBE_PROBE={PROBE_KIND}: use flowprobe or softflowd")
BPFFS_PIN_ROOT = "/sys/fs/bpf/flowprobe"
LOCK_ROOT = "/run/flowprobe"


def service_capabilities():
    """The capabilities dist/flowprobe.service grants (its bounding set):
    the tests run every probe with exactly these, so a probe that needs
    another one fails here before it fails under systemd."""
    with open(os.path.join(ROOT, "dist", "flowprobe.service")) as f:
        for line in f:
            if line.startswith("CapabilityBoundingSet="):
                return [c.lower().removeprefix("cap_")
                        for c in line.split("=", 1)[1].split()]
    raise LabError("dist/flowprobe.service has no CapabilityBoundingSet=")


def with_service_capabilities(argv):
    """argv run by root with the service's capabilities and no others."""
    keep = ",".join("+" + c for c in service_capabilities())
    return ["setpriv", f"--bounding-set=-all,{keep}", "--inh-caps=-all", "--"] + argv


def netns_inode(name):
    """The inode that names a network namespace (what flowprobe keys its
    pins and locks by), or None once it is gone."""
    try:
        return os.stat(f"/run/netns/{name}").st_ino
    except OSError:
        return None


def remove_probe_dirs(ino):
    """The pins and locks of every probe of the namespace with inode ino."""
    if ino is None:
        return
    for root in (BPFFS_PIN_ROOT, LOCK_ROOT):
        shutil.rmtree(os.path.join(root, f"net:{ino}"), ignore_errors=True)
    try:
        os.rmdir(BPFFS_PIN_ROOT)    # only when no other probe pins there
    except OSError:
        pass

PROTO_NAMES = {"ICMP": 1, "IGMP": 2, "TCP": 6, "UDP": 17, "GRE": 47,
               "ESP": 50, "AH": 51, "ICMP6": 58, "IPV6-ICMP": 58,
               "SCTP": 132}


class LabError(Exception):
    """Something in the lab itself failed (not the thing under test)."""


# --------------------------------------------------------------------- TAP --

class Tap:
    """A tiny TAP producer: numbered ok/not ok lines, details as comments."""

    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, desc, detail=None):
        self.n += 1
        print(f"{'ok' if cond else 'not ok'} {self.n} - {desc}", flush=True)
        if not cond:
            self.failed += 1
            if detail:
                for line in str(detail).rstrip().splitlines():
                    print(f"#   {line}", flush=True)
        return bool(cond)

    def comment(self, msg):
        for line in str(msg).rstrip().splitlines() or [""]:
            print(f"# {line}", flush=True)

    def done(self):
        print(f"1..{self.n}", flush=True)
        return 1 if self.failed else 0


TAP = Tap()


def ok(cond, desc, detail=None):
    """Emit one TAP result; on failure print detail as comment lines."""
    return TAP.ok(cond, desc, detail)


def comment(msg):
    TAP.comment(msg)


def done():
    """Print the plan and exit non-zero if anything failed."""
    sys.exit(TAP.done())


# --------------------------------------------------------------- helpers --

def wait_until(cond, timeout, what, interval=0.05):
    """Poll cond() until it returns something true; LabError on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise LabError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def tail(text, lines=15):
    return "\n".join(text.rstrip().splitlines()[-lines:])


def norm_addr(a):
    return ipaddress.ip_address(a.strip()).compressed


def fmt_key(k):
    src, dst, proto, sport, dport = k
    name = {1: "icmp", 6: "tcp", 17: "udp", 58: "icmp6"}.get(proto, str(proto))
    if proto in (1, 58):
        return f"{name} {src} > {dst} type {dport >> 8} code {dport & 255}"
    s = f"[{src}]" if ":" in src else src
    d = f"[{dst}]" if ":" in dst else dst
    return f"{name} {s}:{sport} > {d}:{dport}"


class Proc:
    """A background process; stdout and stderr go to files in the lab dir."""

    def __init__(self, name, argv, popen, out_path, err_path):
        self.name = name
        self.argv = argv
        self.popen = popen
        self.pid = popen.pid
        self.out_path = out_path
        self.err_path = err_path
        self.returncode = None

    def _read(self, path):
        try:
            with open(path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def stdout(self):
        return self._read(self.out_path)

    def stderr(self):
        return self._read(self.err_path)

    def running(self):
        return self.popen.poll() is None

    def wait_for(self, pattern, timeout, stream="stderr"):
        """Wait until pattern appears in the stream; LabError if it exits."""
        rx = re.compile(pattern, re.M)
        read = self.stderr if stream == "stderr" else self.stdout

        def cond():
            m = rx.search(read())
            if m:
                return m
            if not self.running():
                raise LabError(
                    f"{self.name} exited with {self.popen.returncode} before "
                    f"printing /{pattern}/:\n{tail(self.stderr())}")
            return None
        return wait_until(cond, timeout, f"{self.name} to print /{pattern}/")

    def send(self, sig):
        if self.running():
            os.kill(self.pid, sig)

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Send sig, wait; SIGKILL the group after timeout. Returns the
        exit status (negative: killed by that signal), None if it hung."""
        if self.running():
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                return None
        self.returncode = self.popen.returncode
        return self.returncode

    def wait(self, timeout):
        try:
            self.returncode = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.returncode

    def kill(self):
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.popen.wait(10)
        except subprocess.TimeoutExpired:
            pass


# ------------------------------------------------------------- the lab --

_LAB_SEQ = [0]


class Lab:
    """Namespaces A -- R -- B. Use as a context manager."""

    V4 = {"A": "10.0.1.1", "RA": "10.0.1.254", "RB": "10.0.2.254",
          "B": "10.0.2.1"}
    V6 = {"A": "fd00:1::1", "RA": "fd00:1::fe", "RB": "fd00:2::fe",
          "B": "fd00:2::1"}

    def __init__(self, keep_dir_on_failure=True):
        _LAB_SEQ[0] += 1
        self.prefix = f"fp{os.getpid()}_{_LAB_SEQ[0]}"
        self.ns = {r: f"{self.prefix}-{r}" for r in "ARB"}
        self.if_a = f"{self.prefix}a"      # in A, towards R
        self.if_ra = f"{self.prefix}ra"    # in R, towards A
        self.if_rb = f"{self.prefix}rb"    # in R, towards B
        self.if_b = f"{self.prefix}b"      # in B, towards R
        for n in (self.if_a, self.if_ra, self.if_rb, self.if_b):
            assert len(n) <= 15, n
        self.dir = tempfile.mkdtemp(prefix=f"flowprobe-{self.prefix}-")
        self.procs = []
        self.keep_dir_on_failure = keep_dir_on_failure
        self._up = False
        self._down = False
        self._old_handlers = {}
        self._gt = None

    # -- lifecycle
    def __enter__(self):
        atexit.register(self.teardown)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            self._old_handlers[sig] = signal.signal(sig, self._on_signal)
        try:
            self.setup()
        except BaseException:
            self.teardown()
            raise
        return self

    def __exit__(self, *exc):
        self.teardown()
        return False

    def _on_signal(self, signum, frame):
        if self._down:
            return
        raise SystemExit(128 + signum)

    @staticmethod
    def reap_stale():
        """Remove what a lab whose process died (SIGKILL) left behind: the
        processes it ran in its namespaces, the namespaces, the pins."""
        out = subprocess.run(["ip", "netns", "list"], capture_output=True,
                             text=True).stdout
        for line in out.splitlines():
            m = re.match(r"(fp(\d+)_(\d+))-([ARB])\b", line)
            if not m or _alive(int(m.group(2))):
                continue
            pids = subprocess.run(["ip", "netns", "pids", m.group(0)],
                                  capture_output=True, text=True).stdout
            for pid in pids.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ValueError, ProcessLookupError):
                    pass
            ino = netns_inode(m.group(0))
            subprocess.run(["ip", "netns", "del", m.group(0)],
                           capture_output=True)
            remove_probe_dirs(ino)

    def setup(self):
        self.reap_stale()
        for r in "ARB":
            sh(["ip", "netns", "add", self.ns[r]])
        self._up = True
        for r in "ARB":
            # No duplicate address detection: addresses usable at once.
            self.run(r, ["sysctl", "-q", "-w",
                         "net.ipv6.conf.default.accept_dad=0",
                         "net.ipv6.conf.all.accept_dad=0",
                         "net.ipv6.conf.default.router_solicitations=0"])
            sh(["ip", "-n", self.ns[r], "link", "set", "lo", "up"])
        sh(["ip", "link", "add", self.if_a, "netns", self.ns["A"], "type",
            "veth", "peer", "name", self.if_ra, "netns", self.ns["R"]])
        sh(["ip", "link", "add", self.if_b, "netns", self.ns["B"], "type",
            "veth", "peer", "name", self.if_rb, "netns", self.ns["R"]])
        plan = [("A", self.if_a, "A"), ("R", self.if_ra, "RA"),
                ("R", self.if_rb, "RB"), ("B", self.if_b, "B")]
        for r, ifn, who in plan:
            n = self.ns[r]
            sh(["ip", "-n", n, "addr", "add", self.V4[who] + "/24", "dev", ifn])
            sh(["ip", "-n", n, "addr", "add", self.V6[who] + "/64", "dev", ifn,
                "nodad"])
            # Real segments only: no TSO/GSO on senders, no GRO merging.
            # Ground truth is a capture on A, and a GSO/GRO super-packet
            # there would not be what crossed the wire.
            self.offload(r, ifn, False)
            sh(["ip", "-n", n, "link", "set", ifn, "up"])
        self.run("R", ["sysctl", "-q", "-w", "net.ipv4.ip_forward=1",
                       "net.ipv6.conf.all.forwarding=1"])
        sh(["ip", "-n", self.ns["A"], "route", "add", "default", "via",
            self.V4["RA"]])
        sh(["ip", "-n", self.ns["A"], "-6", "route", "add", "default", "via",
            self.V6["RA"]])
        sh(["ip", "-n", self.ns["B"], "route", "add", "default", "via",
            self.V4["RB"]])
        sh(["ip", "-n", self.ns["B"], "-6", "route", "add", "default", "via",
            self.V6["RB"]])
        # Both families must get through R before anything is measured.
        for fam, dst in (("4", self.V4["B"]), ("6", self.V6["B"])):
            wait_until(lambda: self.reachable("A", dst), 10,
                       f"IPv{fam} path A -> B")

    def teardown(self):
        if self._down:
            return
        self._down = True
        for p in reversed(self.procs):
            if p.running():
                # flowprobe on SIGTERM leaves its program pinned, counting.
                p.send(getattr(p, "teardown_signal", signal.SIGTERM))
        for p in reversed(self.procs):
            if p.running() and p.wait(5) is None:
                p.kill()
        inodes = [netns_inode(self.ns[r]) for r in "ARB"]
        if self._up:
            for r in "ARB":
                subprocess.run(["ip", "netns", "del", self.ns[r]],
                               capture_output=True)
        for ino in inodes:
            remove_probe_dirs(ino)
        if os.environ.get("FLOWPROBE_KEEP") or \
                (TAP.failed and self.keep_dir_on_failure):
            print(f"# lab files kept in {self.dir}", flush=True)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        for sig, h in self._old_handlers.items():
            signal.signal(sig, h)

    # -- running things
    def prefix_cmd(self, role, mount=True):
        """Command prefix entering a namespace. mount=False enters only the
        network namespace (nsenter), so bpffs pins stay visible to all."""
        if mount:
            return ["ip", "netns", "exec", self.ns[role]]
        return ["nsenter", f"--net=/run/netns/{self.ns[role]}"]

    def run(self, role, argv, check=True, timeout=120, mount=True, env=None,
            input=None):
        argv = [str(a) for a in argv]
        full = self.prefix_cmd(role, mount) + argv
        try:
            cp = subprocess.run(full, capture_output=True, text=True,
                                timeout=timeout, env=env, input=input,
                                errors="replace")
        except subprocess.TimeoutExpired as e:
            raise LabError(f"timed out after {timeout} s: {' '.join(argv)}") from e
        if check and cp.returncode != 0:
            raise LabError(f"in {role}: {' '.join(argv)} exited "
                           f"{cp.returncode}:\n{tail(cp.stderr + cp.stdout)}")
        return cp

    def spawn(self, role, argv, name=None, mount=True, env=None):
        argv = [str(a) for a in argv]
        name = name or os.path.basename(argv[0])
        idx = len(self.procs)
        out_path = os.path.join(self.dir, f"{idx:02d}-{name}.out")
        err_path = os.path.join(self.dir, f"{idx:02d}-{name}.err")
        full = self.prefix_cmd(role, mount) + argv
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            popen = subprocess.Popen(full, stdout=out, stderr=err,
                                     stdin=subprocess.DEVNULL, env=env,
                                     start_new_session=True)
        p = Proc(name, argv, popen, out_path, err_path)
        self.procs.append(p)
        return p

    def reachable(self, role, dst):
        cp = self.run(role, [PYTHON, __file__, "ping", dst, "1", "0.5"],
                      check=False, timeout=30)
        return cp.returncode == 0

    def offload(self, role, ifname, on):
        self.run(role, [PYTHON, __file__, "offload", ifname,
                        "on" if on else "off"])

    # -- facts about interfaces
    def link(self, role, ifname):
        cp = self.run(role, ["ip", "-j", "-s", "-d", "link", "show", "dev",
                             ifname])
        return json.loads(cp.stdout)[0]

    def xdp_prog(self, role, ifname):
        """(id, name) of the XDP program on ifname, or None."""
        info = self.link(role, ifname).get("xdp")
        if not info:
            return None
        prog = info.get("prog") or {}
        if not prog and info.get("attached"):
            prog = info["attached"][0].get("prog", {})
        return (prog.get("id"), prog.get("name"))

    def tx_dropped(self, role, ifname):
        return self.link(role, ifname)["stats64"]["tx"]["dropped"]

    def pin_dir(self, ifname, role="R"):
        """Where a probe in role's namespace pins for ifname."""
        return os.path.join(BPFFS_PIN_ROOT, f"net:{netns_inode(self.ns[role])}",
                            ifname)

    def udp_rx_queue(self, role, port):
        """Bytes waiting in the receive queue of the UDP socket on port."""
        cp = self.run(role, ["ss", "-Hnlu", f"sport = :{port}"])
        lines = [l.split() for l in cp.stdout.splitlines() if l.strip()]
        if not lines:
            return None
        return sum(int(l[1]) for l in lines)

    def wait_udp_bound(self, role, port, timeout=15, proc=None):
        def cond():
            if proc is not None and not proc.running():
                raise LabError(f"{proc.name} exited {proc.popen.returncode}:"
                               f"\n{tail(proc.stderr())}")
            return self.udp_rx_queue(role, port) is not None
        wait_until(cond, timeout, f"a UDP socket on port {port} in {role}")

    def wait_udp_drained(self, role, port, timeout=30):
        """Wait until the collector has read every datagram queued to it."""
        state = {"zero": 0}

        def cond():
            q = self.udp_rx_queue(role, port)
            state["zero"] = state["zero"] + 1 if q == 0 else 0
            return state["zero"] >= 3
        wait_until(cond, timeout, f"the collector on port {port} to drain")

    # -- ground truth
    def start_ground_truth(self):
        """tcpdump on A's interface: it sees both directions of A <-> B."""
        path = os.path.join(self.dir, "truth.pcap")
        p = self.spawn("A", ["tcpdump", "-i", self.if_a, "-n", "-U",
                             "--immediate-mode", "-s",
                             "256", "-B", "8192", "-w", path], name="tcpdump-A")
        p.wait_for(r"listening on", 15)
        self._gt = (p, path)
        return p

    def stop_ground_truth(self):
        """Stop the capture; returns (flows, problems)."""
        p, path = self._gt
        wait_file_quiet(path)
        p.stop(signal.SIGINT, 30)
        problems = capture_problems(p)
        flows, bad = flows_from_pcap(path, self.endpoints())
        return flows, problems + bad

    def endpoints(self):
        """The test addresses: (set of A's, set of B's)."""
        return ({self.V4["A"], self.V6["A"]}, {self.V4["B"], self.V6["B"]})

    # -- traffic
    def start_server(self):
        """The agent in B: TCP and UDP-echo servers on both families."""
        if getattr(self, "_server", None) and self._server.running():
            return self._server
        self._server = self.spawn("B", [PYTHON, __file__, "server",
                                        self.V4["B"], self.V6["B"]],
                                  name="agent-server")
        self._server.wait_for(r"^ready", 20, stream="stdout")
        return self._server

    def stop_server(self):
        if getattr(self, "_server", None):
            self._server.stop(signal.SIGTERM, 10)
            self._server = None

    def drive_mix(self, timeout=180):
        """The shared traffic mix: TCP (bulk and small request/response),
        UDP of several sizes, ICMP/ICMPv6 echo, over both families, from A
        to B and back. Returns (all exchanges completed, report text)."""
        started = not (getattr(self, "_server", None) and
                       self._server.running())
        self.start_server()
        cp = self.run("A", [PYTHON, __file__, "client", self.V4["B"],
                            self.V6["B"]], check=False, timeout=timeout)
        if started:
            self.stop_server()
        return cp.returncode == 0, cp.stdout + cp.stderr

    def udp_send(self, role, dst, dport, sport, count, size):
        """count datagrams of size bytes from a fixed source port."""
        self.run(role, [PYTHON, __file__, "udp", dst, dport, sport, count,
                        size])

    # -- collectors and probe
    def start_nfcapd(self, port):
        c = Nfcapd(self, port)
        c.start()
        return c

    def start_nfacctd(self, port, ip="127.0.0.1", extra=()):
        c = Nfacctd(self, port, ip, extra)
        c.start()
        return c

    def start_export_capture(self, ports):
        c = ExportCapture(self, ports)
        c.start()
        return c

    def start_probe(self, ifaces, collectors, **kw):
        """The probe under test in R. FLOWPROBE_XDP_MODE=native|generic
        picks flowprobe's attach mode for every test."""
        if os.environ.get("FLOWPROBE_XDP_MODE"):
            kw.setdefault("xdp_mode", os.environ["FLOWPROBE_XDP_MODE"])
        cls = Softflowd if PROBE_KIND == "softflowd" else Flowprobe
        p = cls(self, ifaces, collectors, **kw)
        p.start()
        return p


def _alive(pid):
    """True if pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def sh(argv, check=True, timeout=60):
    cp = subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                        timeout=timeout)
    if check and cp.returncode != 0:
        raise LabError(f"{' '.join(argv)} exited {cp.returncode}:\n"
                       f"{tail(cp.stderr + cp.stdout)}")
    return cp


def capture_problems(proc, strict=True):
    """tcpdump's own account of what it missed. strict: also require
    captured == received by filter (not on lo, where the kernel counts
    both the outgoing and the incoming copy of each packet)."""
    problems = []
    err = proc.stderr()
    st = {k: int(n) for n, k in re.findall(
        r"(\d+) packets? (captured|received by filter|dropped by kernel)", err)}
    if len(st) != 3:
        problems.append(f"{proc.name}: no final statistics "
                        f"(exit {proc.returncode}):\n{tail(err, 5)}")
    elif st["dropped by kernel"]:
        problems.append(f"{proc.name}: {st['dropped by kernel']} packets "
                        "dropped by kernel")
    elif strict and st["captured"] != st["received by filter"]:
        problems.append(f"{proc.name}: captured {st['captured']} of "
                        f"{st['received by filter']} packets")
    return problems


def wait_file_quiet(path, timeout=30):
    """Wait until a capture file stops growing (the writer caught up)."""
    state = {"size": -1, "same": 0}

    def cond():
        size = os.path.getsize(path) if os.path.exists(path) else 0
        state["same"] = state["same"] + 1 if size == state["size"] else 0
        state["size"] = size
        return state["same"] >= 4
    wait_until(cond, timeout, f"{os.path.basename(path)} to stop growing")


# ------------------------------------------------------------- probes --

class Flowprobe:
    """./flowprobe run in R, network namespace only (bpffs pins shared)."""

    kind = "flowprobe"
    ok_exit = (0,)

    def __init__(self, lab, ifaces, collectors, tap=False, active=60,
                 inactive=15, xdp_mode=None, extra=(), ip_netns_exec=False):
        self.lab = lab
        self.ifaces = list(ifaces)
        # ip_netns_exec: started as operators do, with `ip netns exec`
        # (a private mount namespace with a new /sys); otherwise nsenter
        # enters the network namespace only.
        self.mount = ip_netns_exec
        # A configuration file on this machine must not change the tests.
        self.argv = [FLOWPROBE_BIN, "run", "--no-config", "-i", ",".join(ifaces)]
        for c in collectors:
            self.argv += ["-c", c]
        self.argv += ["--active-timeout", str(active),
                      "--inactive-timeout", str(inactive)]
        if tap:
            self.argv.append("--tap")
        if xdp_mode:
            self.argv += ["--xdp-mode", xdp_mode]
        self.argv += list(extra)
        self.proc = None

    def start(self, timeout=30):
        if not os.access(FLOWPROBE_BIN, os.X_OK):
            raise LabError(f"{FLOWPROBE_BIN} is missing: run make first")
        self.proc = self.lab.spawn("R", self.caps(self.argv), name="flowprobe",
                                   mount=self.mount)
        self.proc.teardown_signal = signal.SIGINT
        self.proc.wait_for(r"flowprobe: running", timeout)

    def stats(self, iface=None):
        """This instance's counters (bpffs is the host's: without -i,
        `flowprobe stats` would sum every lab's probe on the machine)."""
        argv = [FLOWPROBE_BIN, "stats", "-i", iface or self.ifaces[0]]
        cp = self.lab.run("R", self.caps(argv), mount=self.mount, check=False,
                          timeout=30)
        out = {}
        for line in cp.stdout.splitlines():
            parts = line.split()
            if len(parts) == 2 and re.fullmatch(r"-?\d+", parts[1]):
                out[parts[0]] = int(parts[1])
        return out

    def stop(self, timeout=60, keep=False):
        """SIGINT: the probe detaches, exports every remaining flow, unpins
        and exits. keep: SIGTERM, a service stop: it exports what it holds
        and exits, leaving the program attached, pinned and counting."""
        return self.proc.stop(signal.SIGTERM if keep else signal.SIGINT,
                              timeout)

    def detach(self, timeout=60):
        """flowprobe detach with this probe's interfaces and collectors:
        exports what a pinned probe counted since its daemon stopped."""
        argv = [FLOWPROBE_BIN, "detach"] + self.argv[2:]
        return self.lab.run("R", self.caps(argv), mount=self.mount, check=False,
                            timeout=timeout)

    def caps(self, argv):
        """The service's capabilities, except under `ip netns exec`: there
        the daemon reaches the host's bpffs through its parent's
        /proc/PID/root, which takes the privileges of a root shell (a
        service in a namespace uses NetworkNamespacePath= instead)."""
        return argv if self.mount else with_service_capabilities(argv)

    def stderr(self):
        return self.proc.stderr() if self.proc else ""


class Softflowd:
    """softflowd as a stand-in exporter, to prove the harness.

    It captures with libpcap on the first interface only (it sees both
    directions there; on both interfaces it would count every flow twice).
    It exports to one destination only, so there is one softflowd per
    collector. libpcap's TPACKET_V3 ring hands softflowd a block only when
    the block is full, so before stopping we push filler packets (A -> R,
    not between the test addresses) until everything earlier was
    processed. softflowd exits 1 after a graceful shutdown."""

    kind = "softflowd"
    ok_exit = (0, 1)

    def __init__(self, lab, ifaces, collectors, tap=False, active=60,
                 inactive=15, xdp_mode=None, extra=()):
        self.lab = lab
        self.instances = []             # (argv, ctl socket)
        for i, c in enumerate(collectors):
            ctl = os.path.join(lab.dir, f"softflowd{i}.ctl")
            argv = ["softflowd", "-d", "-6", "-v", "9", "-i", ifaces[0],
                    "-p", os.path.join(lab.dir, f"softflowd{i}.pid"),
                    "-c", ctl, "-n", c, "-t", f"maxlife={active}",
                    "-t", "expint=2"]
            for t in ("general", "tcp", "udp", "icmp"):
                argv += ["-t", f"{t}={inactive}"]
            self.instances.append((argv, ctl))
        self.procs = []
        self.proc = None

    def _stats(self, ctl):
        cp = self.lab.run("R", ["softflowctl", "-c", ctl, "statistics"],
                          check=False, timeout=10)
        if cp.returncode != 0:
            return None
        out = {}
        for key, rx in (("processed", r"Packets processed: (\d+)"),
                        ("received", r"received by libpcap: (\d+)"),
                        ("dropped", r"dropped by libpcap: (\d+)")):
            m = re.search(rx, cp.stdout)
            out[key] = int(m.group(1)) if m else 0
        return out

    def start(self, timeout=30):
        for i, (argv, ctl) in enumerate(self.instances):
            p = self.lab.spawn("R", argv, name=f"softflowd{i}")
            self.procs.append(p)

            def ready():
                if not p.running():
                    raise LabError(f"softflowd exited:\n{tail(p.stderr())}")
                return self._stats(ctl) is not None
            wait_until(ready, timeout, "softflowd's control socket")
        self.proc = self.procs[0]

    def stats(self, iface=None):
        s = self._stats(self.instances[0][1]) or {}
        return {"packets": s.get("processed", 0),
                "uncounted_packets": s.get("dropped", 0)}

    def flush(self, timeout=60):
        targets = [(ctl, self._stats(ctl)["received"])
                   for _, ctl in self.instances]

        def cond():
            self.lab.run("A", [PYTHON, __file__, "filler", self.lab.V4["RA"],
                               "200"], timeout=30)
            return all(self._stats(ctl)["processed"] >= t
                       for ctl, t in targets)
        wait_until(cond, timeout, "softflowd to process what it captured",
                   interval=0)

    def stop(self, timeout=60):
        if all(p.running() for p in self.procs):
            self.flush()
        for (_, ctl), p in zip(self.instances, self.procs):
            if p.running():
                self.lab.run("R", ["softflowctl", "-c", ctl, "shutdown"],
                             check=False, timeout=10)
        rcs = []
        for p in self.procs:
            rc = p.wait(timeout)
            if rc is None:
                p.kill()
            rcs.append(rc)
        return max(rcs, key=lambda r: (r is None, abs(r or 0)))

    def stderr(self):
        return "".join(p.stderr() for p in self.procs)


# ---------------------------------------------------------- collectors --

def _sum_into(flows, key, pkts, octets):
    cur = flows.setdefault(key, [0, 0, 0])
    cur[0] += pkts
    cur[1] += octets
    cur[2] += 1                     # records
    return cur


class Nfcapd:
    """nfcapd on R's loopback; read back with nfdump."""

    def __init__(self, lab, port):
        self.lab = lab
        self.port = port
        self.dir = os.path.join(lab.dir, f"nfcapd-{port}")
        os.makedirs(self.dir, exist_ok=True)
        self.proc = None
        self.summary = None

    def start(self):
        self.proc = self.lab.spawn("R", ["nfcapd", "-b", "127.0.0.1", "-p",
                                         self.port, "-w", self.dir, "-t",
                                         "3600"], name=f"nfcapd-{self.port}")
        self.lab.wait_udp_bound("R", self.port, proc=self.proc)

    def stop(self):
        """Wait until every queued datagram was read, then stop. Returns
        nfcapd's own closing summary as a dict (Flows, Sequence Errors...)."""
        if self.proc.running():
            self.lab.wait_udp_drained("R", self.port)
        rc = self.proc.stop(signal.SIGTERM, 30)
        err = self.proc.stderr()
        m = re.search(r"Ident: '[^']*' (.*)", err)
        self.summary = {"exit": rc}
        if m:
            for k, v in re.findall(r"([A-Za-z ]+): (\d+)", m.group(1)):
                self.summary[k.strip()] = int(v)
        return self.summary

    def _nfdump(self, args):
        cp = sh(["nfdump", "-R", self.dir] + args, check=False)
        if cp.returncode != 0:
            raise LabError(f"nfdump {' '.join(args)} failed:\n{tail(cp.stderr)}")
        return cp.stdout

    def rows(self, args=()):
        """nfdump's CSV records as dicts by column name (ts, sa, da, in,
        out, nh, ...): full IPv6 addresses, plain numbers."""
        header = None
        for line in self._nfdump(["-o", "csv"] + list(args)).splitlines():
            cols = [c.strip() for c in line.split(",")]
            if cols[:3] == ["ts", "te", "td"]:
                header = cols
            elif header is not None and len(cols) == len(header):
                yield dict(zip(header, cols))
            else:
                header = None           # the summary block follows

    def flows(self):
        """{(src, dst, proto, sport, dport): [packets, bytes, records]},
        from nfdump's CSV output (ICMP type*256+code in dp)."""
        flows = {}
        for r in self.rows():
            key = (norm_addr(r["sa"]), norm_addr(r["da"]),
                   parse_proto(r["pr"]), int(r["sp"]), int(r["dp"]))
            _sum_into(flows, key, int(r["ipkt"]), int(r["ibyt"]))
        return flows

    def info(self):
        """nfdump -I over the files: {'Sequence failures': n, ...}."""
        out = self._nfdump(["-I"])
        info = {}
        for line in out.splitlines():
            m = re.match(r"\s*([A-Za-z_ ]+):\s*(-?\d+)\s*$", line)
            if m:
                info[m.group(1).strip()] = info.get(m.group(1).strip(), 0) + \
                    int(m.group(2))
        return info


def parse_proto(s):
    s = s.strip()
    if s.isdigit():
        return int(s)
    return PROTO_NAMES.get(s.upper(), -1)


class Nfacctd:
    """pmacct's nfacctd on R's loopback, print plugin to a CSV file."""

    def __init__(self, lab, port, ip="127.0.0.1", extra=()):
        self.ip = ip
        self.lab = lab
        self.port = port
        self.extra = list(extra)    # more aggregation primitives
        self.conf = os.path.join(lab.dir, f"nfacctd-{port}.conf")
        self.csv = os.path.join(lab.dir, f"nfacctd-{port}.csv")
        self.proc = None

    def start(self):
        with open(self.conf, "w") as f:
            f.write(f"""daemonize: false
nfacctd_ip: {self.ip}
nfacctd_port: {self.port}
nfacctd_time_new: true
pidfile: {self.lab.dir}/nfacctd-{self.port}.pid
logfile: {self.lab.dir}/nfacctd-{self.port}.log
plugins: print[fp]
aggregate[fp]: {", ".join(["src_host, dst_host, src_port, dst_port, proto"] + self.extra)}
print_output[fp]: csv
print_output_file[fp]: {self.csv}
print_output_file_append[fp]: true
print_refresh_time[fp]: 3600
print_cache_entries[fp]: 16381
""")
        self.proc = self.lab.spawn("R", ["nfacctd", "-f", self.conf],
                                   name=f"nfacctd-{self.port}")
        self.lab.wait_udp_bound("R", self.port, proc=self.proc)

    def stop(self):
        if self.proc.running():
            self.lab.wait_udp_drained("R", self.port)
        rc = self.proc.stop(signal.SIGINT, 30)
        return rc

    def rows(self):
        """Every line of the print plugin's CSV, as a dict by column."""
        rows = []
        if not os.path.exists(self.csv):
            return rows
        with open(self.csv) as f:
            header = None
            for line in f:
                cols = line.strip().split(",")
                if cols and cols[0] == "SRC_IP" or "SRC_IP" in cols:
                    header = cols
                    continue
                if not header or len(cols) != len(header):
                    continue
                rows.append(dict(zip(header, cols)))
        return rows

    def flows(self):
        flows = {}
        for r in self.rows():
            key = (norm_addr(r["SRC_IP"]), norm_addr(r["DST_IP"]),
                   parse_proto(r["PROTOCOL"]),
                   int(r["SRC_PORT"]), int(r["DST_PORT"]))
            _sum_into(flows, key, int(r["PACKETS"]), int(r["BYTES"]))
        return flows


class ExportCapture:
    """tcpdump on R's lo for the export packets, decoded by tshark."""

    def __init__(self, lab, ports):
        self.lab = lab
        self.ports = list(ports)
        self.path = os.path.join(lab.dir, "export.pcap")
        self.proc = None
        self.problems = []

    def start(self):
        filt = " or ".join(f"udp dst port {p}" for p in self.ports)
        self.proc = self.lab.spawn("R", ["tcpdump", "-i", "lo", "-n", "-U",
                                         "--immediate-mode",
                                         "-s", "0", "-B", "8192", "-w",
                                         self.path, filt],
                                   name="tcpdump-export")
        self.proc.wait_for(r"listening on", 15)

    def stop(self):
        wait_file_quiet(self.path)
        self.proc.stop(signal.SIGINT, 30)
        self.problems = capture_problems(self.proc, strict=False)
        return self.problems

    def _tshark(self, args):
        decode = []
        for p in self.ports:
            decode += ["-d", f"udp.port=={p},cflow"]
        cp = sh(["tshark", "-n", "-r", self.path] + decode + args, check=False,
                timeout=300)
        if cp.returncode != 0:
            raise LabError(f"tshark {' '.join(args)} failed:\n{tail(cp.stderr)}")
        return cp.stdout

    def decode(self):
        """Single-pass decode. Returns a dict:
        packets: export packets in the capture, per port
        not_cflow: frames tshark did not decode as NetFlow v9
        malformed: frames tshark marked malformed
        flows: {port: {5-tuple: [packets, bytes, records]}}
        seq: {port: [(source_id, sequence), ...]} in capture order
        unparsed: frames with a flow record lacking packets/bytes/proto
        expert: [(frame, severity, group, message)] from the same pass."""
        root = ET.fromstring(self._tshark(["-T", "pdml"]))
        res = {"packets": {p: 0 for p in self.ports}, "not_cflow": [],
               "malformed": [], "flows": {p: {} for p in self.ports},
               "seq": {p: [] for p in self.ports}, "unparsed": [],
               "expert": []}
        for pkt in root.iter("packet"):
            num = port = cflow = None
            for proto in pkt.findall("proto"):
                name = proto.get("name")
                if name == "geninfo":
                    for fld in proto.iter("field"):
                        if fld.get("name") == "num":
                            num = int(fld.get("show"))
                elif name == "udp":
                    for fld in proto.iter("field"):
                        if fld.get("name") == "udp.dstport":
                            port = int(fld.get("show"))
                elif name == "cflow":
                    cflow = proto
            if port not in res["packets"]:
                continue
            res["packets"][port] += 1
            if any(p.get("name") == "_ws.malformed" for p in pkt.iter("proto")):
                res["malformed"].append(num)
            for fld in pkt.iter("field"):
                if fld.get("name") == "_ws.expert":
                    m = re.match(r"Expert Info \((\w+)/(\w+)\): (.*)",
                                 fld.get("showname") or "")
                    if m:
                        res["expert"].append((num, m.group(1), m.group(2),
                                              m.group(3)))
            if cflow is None:
                res["not_cflow"].append(num)
                continue
            hdr = {}
            for fld in cflow.findall("field"):
                if fld.get("name") in ("cflow.version", "cflow.sequence",
                                       "cflow.source_id", "cflow.count"):
                    hdr[fld.get("name")] = int(fld.get("show"))
            if hdr.get("cflow.version") not in (9, 10):  # v9, IPFIX
                res["not_cflow"].append(num)
                continue
            res["seq"][port].append((hdr.get("cflow.source_id"),
                                     hdr.get("cflow.sequence")))
            for key, pk, by in _cflow_records(cflow):
                if key is None:
                    res["unparsed"].append(num)
                    continue
                _sum_into(res["flows"][port], key, pk, by)
        return res

    def expert(self):
        """tshark -z expert: [(severity, group, protocol, summary, count)].
        -z expert alone builds no protocol tree and so reports nothing;
        the display filter makes tshark build it."""
        out = self._tshark(["-q", "-Y", "frame", "-z", "expert"])
        items = []
        sev = None
        for line in out.splitlines():
            m = re.match(r"^(Errors|Warns|Notes|Chats|Comments) \((\d+)\)", line)
            if m:
                sev = m.group(1)
                continue
            m = re.match(r"^\s+(\d+)\s+(\S+)\s+(\S+)\s+(.*)$", line)
            if sev and m and m.group(1).isdigit():
                items.append((sev, m.group(2), m.group(3), m.group(4).strip(),
                              int(m.group(1))))
        return items, out


def sequence_gaps(seq):
    """Breaks in a NetFlow v9 sequence (+1 per export packet) per source id."""
    last = {}
    gaps = []
    for i, (src, n) in enumerate(seq):
        if src in last and n != (last[src] + 1) & 0xffffffff:
            gaps.append(f"source id {src}: packet {i + 1} has sequence {n}, "
                        f"expected {(last[src] + 1) & 0xffffffff}")
        last[src] = n
    return gaps


def _field_map(node):
    vals = {}
    for f in node.iter("field"):
        n = f.get("name")
        if n and n not in vals:
            vals[n] = f.get("show")
    return vals


def _cflow_records(cflow):
    """Yield (key, packets, bytes) for each data record of one packet."""
    for node in cflow.iter("field"):
        if not (node.get("show") or "").startswith("Flow "):
            continue
        if not re.fullmatch(r"Flow \d+", node.get("show") or ""):
            continue
        v = _field_map(node)
        src = v.get("cflow.srcaddr") or v.get("cflow.srcaddrv6")
        dst = v.get("cflow.dstaddr") or v.get("cflow.dstaddrv6")
        pk = v.get("cflow.packets64") or v.get("cflow.packets")
        by = v.get("cflow.octets64") or v.get("cflow.octets")
        proto = v.get("cflow.protocol")
        if not (src and dst and pk and by and proto):
            # an options record (no addresses) is not a flow
            if src or dst:
                yield (None, 0, 0)
            continue
        proto = int(proto)
        sport = int(v.get("cflow.srcport") or 0)
        dport = int(v.get("cflow.dstport") or 0)
        if proto in (1, 58):
            # ICMP_TYPE (32) / ICMP_TYPE_IPV6 (139) hold type*256+code;
            # the IPFIX-style 176..179 hold type and code apart.
            both = v.get("cflow.icmp_type_code_ipv4") or \
                v.get("cflow.icmp_type_code_ipv6")
            fam = "ipv6" if proto == 58 else "ipv4"
            if both is not None:
                dport = int(both, 0)
            elif v.get(f"cflow.icmp_{fam}_type") is not None:
                dport = int(v[f"cflow.icmp_{fam}_type"], 0) * 256 + \
                    int(v.get(f"cflow.icmp_{fam}_code") or "0", 0)
            sport = 0
        yield ((norm_addr(src), norm_addr(dst), proto, sport, dport),
               int(pk), int(by))


# -------------------------------------------------------- ground truth --

def read_pcap(path):
    """Yield (linktype, frame bytes) from a classic pcap file."""
    with open(path, "rb") as f:
        hdr = f.read(24)
        if len(hdr) < 24:
            return
        magic = struct.unpack("<I", hdr[:4])[0]
        if magic in (0xa1b2c3d4, 0xa1b23c4d):
            e = "<"
        elif magic in (0xd4c3b2a1, 0x4d3cb2a1):
            e = ">"
        else:
            raise LabError(f"{path}: not a pcap file")
        linktype = struct.unpack(e + "I", hdr[20:24])[0] & 0x0fffffff
        while True:
            rh = f.read(16)
            if len(rh) < 16:
                return
            _, _, incl, _ = struct.unpack(e + "IIII", rh)
            yield linktype, f.read(incl)


IPV6_EXT = {0, 43, 60, 51, 135, 139, 140}


def parse_frame(linktype, frame):
    """(src, dst, proto, sport, dport, ip_bytes) of an IP frame, or None."""
    if linktype == 1:                 # Ethernet
        off = 12
        etype = struct.unpack("!H", frame[off:off + 2])[0]
        off += 2
        while etype in (0x8100, 0x88a8):
            etype = struct.unpack("!H", frame[off + 2:off + 4])[0]
            off += 4
    elif linktype == 113:             # Linux cooked
        etype = struct.unpack("!H", frame[14:16])[0]
        off = 16
    else:
        return None
    ip = frame[off:]
    if etype == 0x0800 and len(ip) >= 20:
        ihl = (ip[0] & 15) * 4
        total = struct.unpack("!H", ip[2:4])[0]
        frag = struct.unpack("!H", ip[6:8])[0] & 0x1fff
        proto = ip[9]
        src = socket.inet_ntop(socket.AF_INET, ip[12:16])
        dst = socket.inet_ntop(socket.AF_INET, ip[16:20])
        l4 = ip[ihl:] if frag == 0 else b""
        nbytes = total
    elif etype == 0x86dd and len(ip) >= 40:
        plen = struct.unpack("!H", ip[4:6])[0]
        proto = ip[6]
        src = socket.inet_ntop(socket.AF_INET6, ip[8:24])
        dst = socket.inet_ntop(socket.AF_INET6, ip[24:40])
        off = 40
        l4 = b""
        for _ in range(8):
            if proto not in IPV6_EXT and proto != 44:
                l4 = ip[off:]
                break
            if off + 8 > len(ip):
                break
            nxt = ip[off]
            if proto == 44:           # fragment: ports only in the first
                fo = struct.unpack("!H", ip[off + 2:off + 4])[0] >> 3
                proto = nxt
                off += 8
                if fo:
                    break
                continue
            hlen = (ip[off + 1] + 2) * 4 if proto == 51 else (ip[off + 1] + 1) * 8
            proto = nxt
            off += hlen
        nbytes = plen + 40
    else:
        return None
    sport = dport = 0
    if proto in (6, 17, 132) and len(l4) >= 4:
        sport, dport = struct.unpack("!HH", l4[:4])
    elif proto in (1, 58) and len(l4) >= 2:
        dport = l4[0] * 256 + l4[1]
    return (ipaddress.ip_address(src).compressed,
            ipaddress.ip_address(dst).compressed, proto, sport, dport, nbytes)


def flows_from_pcap(path, endpoints, mtu=1500):
    """Per unidirectional 5-tuple packets and IP bytes of the packets
    between endpoints[0] and endpoints[1] (either direction). Also returns
    problems that make the capture unfit as ground truth."""
    a, b = endpoints
    flows = {}
    problems = []
    big = 0
    for linktype, frame in read_pcap(path):
        p = parse_frame(linktype, frame)
        if p is None:
            continue
        src, dst, proto, sport, dport, nbytes = p
        if not ((src in a and dst in b) or (src in b and dst in a)):
            continue
        if nbytes > mtu:
            big += 1
        cur = flows.setdefault((src, dst, proto, sport, dport), [0, 0, 0])
        cur[0] += 1
        cur[1] += nbytes
        cur[2] = 1
    if big:
        problems.append(f"{big} captured packets exceed the {mtu}-byte MTU: "
                        "GSO/GRO super-packets, offloads were not off")
    return flows, problems


def between(flows, endpoints):
    a, b = endpoints
    return {k: v for k, v in flows.items()
            if (k[0] in a and k[1] in b) or (k[0] in b and k[1] in a)}


def compare_flows(truth, got, endpoints):
    """Missing, wrong and extra flows (lists of text lines)."""
    got = between(got, endpoints)
    missing, wrong, extra = [], [], []
    for k, (p, b, _) in sorted(truth.items(), key=lambda kv: fmt_key(kv[0])):
        if k not in got:
            missing.append(f"{fmt_key(k)}: sent {p} pkts {b} B, not exported")
        elif got[k][0] != p or got[k][1] != b:
            wrong.append(f"{fmt_key(k)}: sent {p} pkts {b} B, exported "
                         f"{got[k][0]} pkts {got[k][1]} B in {got[k][2]} records")
    for k, (p, b, n) in sorted(got.items(), key=lambda kv: fmt_key(kv[0])):
        if k not in truth:
            extra.append(f"{fmt_key(k)}: exported {p} pkts {b} B "
                         f"({n} records), never sent")
    return missing, wrong, extra


def flow_table(truth, got, endpoints):
    """Rows for a human: flow, sent, received, difference."""
    got = between(got, endpoints)
    keys = sorted(set(truth) | set(got), key=fmt_key)
    rows = []
    for k in keys:
        sp, sb = truth.get(k, (0, 0, 0))[:2]
        rp, rb = got.get(k, (0, 0, 0))[:2]
        rows.append((fmt_key(k), sp, sb, rp, rb, rp - sp, rb - sb))
    return rows


# ---------------------------------------------------------------- agent --
# What runs inside the namespaces: `lab.py server|client|ping|udp|udp-paced|filler|offload`.

TCP_PORT = 5001
UDP_PORT = 5002         # echo
DISCARD_PORT = 5003     # UDP discard
# (request bytes, response bytes) per TCP connection and family.
TCP_MIX = {4: [(1_000_000, 16), (37, 1200), (300, 5000), (1, 20000)],
           6: [(300_000, 16), (50, 900), (400, 7000), (2, 15000)]}
# UDP payload sizes; the last is the largest that fits a 1500 MTU.
UDP_SIZES = {4: [0, 1, 100, 512, 1200, 1472], 6: [0, 1, 100, 512, 1200, 1452]}
UDP_REPEAT = 3
# ICMP echo payload sizes (one echo each).
PING_SIZES = [56, 56, 0, 1000, 1400]


def _recv_exact(conn, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = conn.recv(min(65536, n - len(buf)))
        if not chunk:
            raise ConnectionError(f"peer closed after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


def _serve_tcp(conn):
    with conn:
        conn.settimeout(60)
        req, resp = struct.unpack("!II", _recv_exact(conn, 8))
        _recv_exact(conn, req)
        conn.sendall(b"r" * resp)
        conn.shutdown(socket.SHUT_WR)
        while conn.recv(65536):
            pass


def agent_server(v4, v6):
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    socks = []
    for fam, addr in ((socket.AF_INET, v4), (socket.AF_INET6, v6)):
        t = socket.socket(fam, socket.SOCK_STREAM)
        t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        t.bind((addr, TCP_PORT))
        t.listen(64)
        u = socket.socket(fam, socket.SOCK_DGRAM)
        u.bind((addr, UDP_PORT))
        d = socket.socket(fam, socket.SOCK_DGRAM)
        d.bind((addr, DISCARD_PORT))
        socks += [t, u, d]

    def accept_loop(t):
        while True:
            conn, _ = t.accept()
            threading.Thread(target=_serve_tcp, args=(conn,),
                             daemon=True).start()

    def echo_loop(u):
        while True:
            data, peer = u.recvfrom(65536)
            u.sendto(data, peer)

    def discard_loop(u):
        while True:
            u.recv(65536)

    for s in socks:
        if s.type == socket.SOCK_STREAM:
            target = accept_loop
        elif s.getsockname()[1] == DISCARD_PORT:
            target = discard_loop
        else:
            target = echo_loop
        threading.Thread(target=target, args=(s,), daemon=True).start()
    print("ready", flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})


def _icmp_checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return ~s & 0xffff


def ping(dst, sizes, timeout=2.0):
    """ICMP/ICMPv6 echo with raw sockets; returns the number of replies."""
    v6 = ":" in dst
    fam = socket.AF_INET6 if v6 else socket.AF_INET
    proto = socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP
    req, rep = (128, 129) if v6 else (8, 0)
    ident = os.getpid() & 0xffff
    got = 0
    with socket.socket(fam, socket.SOCK_RAW, proto) as s:
        for seq, size in enumerate(sizes, 1):
            payload = bytes((i & 0xff for i in range(size)))
            pkt = struct.pack("!BBHHH", req, 0, 0, ident, seq) + payload
            if not v6:  # the kernel fills in the ICMPv6 checksum itself
                pkt = pkt[:2] + struct.pack("!H", _icmp_checksum(pkt)) + pkt[4:]
            s.sendto(pkt, (dst, 0))
            deadline = time.monotonic() + timeout
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                s.settimeout(left)
                try:
                    data, _ = s.recvfrom(65536)
                except socket.timeout:
                    break
                icmp = data if v6 else data[(data[0] & 15) * 4:]
                if len(icmp) >= 8 and icmp[0] == rep and \
                        struct.unpack("!HH", icmp[4:8]) == (ident, seq):
                    got += 1
                    break
    return got


def agent_client(v4, v6):
    """Runs the mix; prints what it did; exits 1 if any exchange failed."""
    failures = []
    log = []
    for ver, dst in ((4, v4), (6, v6)):
        fam = socket.AF_INET if ver == 4 else socket.AF_INET6
        for req, resp in TCP_MIX[ver]:
            try:
                with socket.create_connection((dst, TCP_PORT), timeout=30) as c:
                    c.sendall(struct.pack("!II", req, resp))
                    c.sendall(b"q" * req)
                    got = 0
                    while True:
                        chunk = c.recv(65536)
                        if not chunk:
                            break
                        got += len(chunk)
                    if got != resp:
                        raise ConnectionError(f"got {got} of {resp} bytes")
                log.append(f"tcp v{ver} sent {req} B, received {resp} B")
            except OSError as e:
                failures.append(f"tcp v{ver} {req}/{resp}: {e}")
        for size in UDP_SIZES[ver]:
            with socket.socket(fam, socket.SOCK_DGRAM) as u:
                u.settimeout(2)
                u.connect((dst, UDP_PORT))
                echoed = 0
                for _ in range(UDP_REPEAT):
                    u.send(b"u" * size)
                    try:
                        if len(u.recv(65536)) == size:
                            echoed += 1
                    except OSError:
                        pass
                log.append(f"udp v{ver} {UDP_REPEAT} x {size} B, "
                           f"{echoed} echoed")
                if echoed != UDP_REPEAT:
                    failures.append(f"udp v{ver} size {size}: {echoed} of "
                                    f"{UDP_REPEAT} echoed")
        n = ping(dst, PING_SIZES)
        log.append(f"icmp v{ver} {len(PING_SIZES)} echo requests, {n} replies")
        if n != len(PING_SIZES):
            failures.append(f"icmp v{ver}: {n} of {len(PING_SIZES)} replies")
    print("\n".join(log))
    for f in failures:
        print("FAILED: " + f)
    return 1 if failures else 0


def udp_send(dst, dport, sport, count, size):
    fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
    with socket.socket(fam, socket.SOCK_DGRAM) as u:
        u.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", sport))
        u.connect((dst, dport))
        for _ in range(count):
            u.send(b"s" * size)


def udp_paced(dst, dport, sport, count, pps, size):
    """count IPv4 datagrams at pps from a fixed source port, every one
    sent (a full socket buffer is retried, not skipped); prints
    "sent N" at the end."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("0.0.0.0", sport))
        data = b"p" * size
        t0 = time.monotonic()
        sent = 0
        while sent < count:
            try:
                s.sendto(data, (dst, dport))
                sent += 1
            except (BlockingIOError, ConnectionRefusedError):
                continue
            if sent % 20 == 0:
                ahead = t0 + sent / pps - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
    print("sent", sent, flush=True)


def filler(dst, count):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        for _ in range(count):
            u.sendto(b"f" * 200, (dst, 9))


# Legacy ethtool ioctls, still served by every kernel.
ETHTOOL = {"tso": (0x1e, 0x1f), "gso": (0x23, 0x24), "gro": (0x2b, 0x2c)}
SIOCETHTOOL = 0x8946


def offload(ifname, on):
    """What `ethtool -K IF tso/gso/gro on|off` does, without ethtool."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for what, (get, setcmd) in ETHTOOL.items():
            ev = array.array("B", struct.pack("II", setcmd, 1 if on else 0))
            ifr = struct.pack("16sP16x", ifname.encode(), ev.buffer_info()[0])
            fcntl.ioctl(s.fileno(), SIOCETHTOOL, ifr)
            ev = array.array("B", struct.pack("II", get, 0))
            ifr = struct.pack("16sP16x", ifname.encode(), ev.buffer_info()[0])
            fcntl.ioctl(s.fileno(), SIOCETHTOOL, ifr)
            if struct.unpack("II", ev.tobytes())[1] != (1 if on else 0):
                raise SystemExit(f"{ifname}: could not turn {what} "
                                 f"{'on' if on else 'off'}")


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "server":
        agent_server(argv[2], argv[3])
        return 0
    if cmd == "client":
        return agent_client(argv[2], argv[3])
    if cmd == "ping":
        n = int(argv[3]) if len(argv) > 3 else 1
        t = float(argv[4]) if len(argv) > 4 else 2.0
        return 0 if ping(argv[2], [56] * n, t) == n else 1
    if cmd == "udp":
        udp_send(argv[2], int(argv[3]), int(argv[4]), int(argv[5]),
                 int(argv[6]))
        return 0
    if cmd == "udp-paced":
        udp_paced(argv[2], int(argv[3]), int(argv[4]), int(argv[5]),
                  float(argv[6]), int(argv[7]))
        return 0
    if cmd == "filler":
        filler(argv[2], int(argv[3]))
        return 0
    if cmd == "offload":
        offload(argv[2], argv[3] == "on")
        return 0
    print(f"usage: {argv[0]} server|client V4 V6 | ping DST [N [TIMEOUT]] | "
          "udp DST DPORT SPORT N SIZE | udp-paced DST DPORT SPORT N PPS SIZE | "
          "filler DST N | offload IF on|off", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
