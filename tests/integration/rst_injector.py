#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""An on-path TCP reset injector for the lab, and the agents it preys on.

`rst_injector.py inject ...` runs in R (the router namespace). It watches
R's interfaces with AF_PACKET sockets for a BitTorrent connection on a
port, and once the peers have exchanged handshakes it strikes on A's next
data segment (the trigger) the way a traffic manager does (Weaver, Sommer
and Paxson's Sandvine observations): a RST|ACK to each end, the one to A
pretending to come from B and the one to B pretending to come from A,
seq and ack taken from the trigger (in window, so both real sockets die),
the IP ID copied from the trigger, and the injector's own TTL rather than
the real senders'. The forged frames are put on the wires A--R and R--B
(sockets opened in A's and B's namespaces, frames addressed to R), so they
cross R like any packet from beyond and the probe on R's interfaces sees
them, as a tap would. It prints one JSON line per forged RST (what it
sent) and exits after the pair.

Agents (standard library only):
- `bt-serve ADDR PORT`, in B: answers a BitTorrent handshake with its own
  and a bitfield, then sends a `have` every 20 ms until the connection
  dies;
- `bt-client SRC DST PORT`, in A: connects with TCP_DEFER_ACCEPT (Linux
  then holds the handshake's third ACK until the first data, 150 ms
  later, so the RTT the probe measures is long enough for R10 to be
  judged against; the lab has no netem), sends the handshake and
  `interested`, then a `have` every 20 ms, and prints how the connection
  ended;
- `closed DST PORT`, in A: a connection to a closed port (refused).

`LiveResets` drives all of it in a lab for the live test and the demo.
"""

import ctypes
import json
import os
import select
import socket
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3"
BT_PORT = 6881
CLOSED_PORT = 5999
INJECT_TTL = 57          # the injector's own TTL (the lab's hosts use 64)
INFO_HASH = bytes.fromhex("a3f1c2e4b5d6978812345678900abcdef1234567")
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
CLONE_NEWNET = 0x40000000


def bt_handshake(peer_id):
    return (b"\x13BitTorrent protocol" + bytes([0, 0, 0, 0, 0, 0x10, 0, 1])
            + INFO_HASH + peer_id)


def have(i):
    return struct.pack("!IBI", 5, 4, i)


# ---------------------------------------------------------------- agents --

def bt_serve(addr, port):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port))
    ls.listen(8)
    print("ready", flush=True)
    while True:
        c, peer = ls.accept()
        c.settimeout(10)
        try:
            buf = b""
            while len(buf) < 68:
                chunk = c.recv(68 - len(buf))
                if not chunk:
                    raise ConnectionError("closed during handshake")
                buf += chunk
            c.sendall(bt_handshake(b"-TR3000-" + os.urandom(6).hex().encode())
                      + struct.pack("!IB", 17, 5) + b"\xff" * 16)
            c.setblocking(False)
            i = 0
            while True:
                time.sleep(0.02)
                try:
                    while c.recv(4096):
                        pass
                except BlockingIOError:
                    pass
                c.send(have(i))
                i += 1
        except OSError as e:
            print(f"connection from {peer[0]}:{peer[1]} ended: {e!r}",
                  flush=True)
        finally:
            c.close()


def bt_client(src, dst, port):
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, 1)
    c.bind((src, 0))
    c.settimeout(10)
    c.connect((dst, port))
    time.sleep(0.15)    # the third ACK rides on the first data
    sent = 0
    try:
        c.sendall(bt_handshake(b"-qB4650-" + os.urandom(6).hex().encode()))
        got = b""
        while len(got) < 68 + 21:
            chunk = c.recv(4096)
            if not chunk:
                raise ConnectionError("peer closed")
            got += chunk
        c.sendall(struct.pack("!IB", 1, 2))       # interested
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            time.sleep(0.02)
            c.sendall(have(1000 + sent))
            sent += 1
            r, _, _ = select.select([c], [], [], 0)
            if r and not c.recv(4096):
                print(f"closed by peer after {sent} messages", flush=True)
                return 1
        print(f"not reset after {sent} messages", flush=True)
        return 1
    except ConnectionResetError:
        print(f"reset after {sent} messages", flush=True)
        return 0
    finally:
        c.close()


def closed(dst, port):
    try:
        socket.create_connection((dst, port), timeout=5).close()
    except ConnectionRefusedError:
        print("refused", flush=True)
        return 0
    print("connected?", flush=True)
    return 1


# -------------------------------------------------------------- injector --

def _csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return ~s & 0xffff


def forge_rst(smac, dmac, src, dst, sport, dport, seq, ack, ttl, ipid, df):
    """Ethernet/IPv4/TCP RST|ACK, checksums right."""
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, 0x14, 0,
                      0, 0)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + \
        struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", _csum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), ipid,
                     0x4000 if df else 0, ttl, 6, 0, socket.inet_aton(src),
                     socket.inet_aton(dst))
    ip = ip[:10] + struct.pack("!H", _csum(ip)) + ip[12:]
    return dmac + smac + b"\x08\x00" + ip + tcp


def parse(frame):
    """(macs, IPv4/TCP facts) of a frame, or None."""
    if len(frame) < 54 or frame[12:14] != b"\x08\x00":
        return None
    ip = frame[14:]
    ihl = (ip[0] & 15) * 4
    if ip[9] != 6:
        return None
    tot = struct.unpack("!H", ip[2:4])[0]
    ipid, frag = struct.unpack("!HH", ip[4:8])
    tcp = ip[ihl:]
    sport, dport, seq, ack = struct.unpack("!HHII", tcp[:12])
    doff = (tcp[12] >> 4) * 4
    return {"dmac": frame[0:6], "smac": frame[6:12],
            "src": socket.inet_ntoa(ip[12:16]),
            "dst": socket.inet_ntoa(ip[16:20]), "ttl": ip[8], "ip_id": ipid,
            "df": bool(frag & 0x4000), "sport": sport, "dport": dport,
            "seq": seq, "ack": ack, "flags": tcp[13],
            "payload": tcp[doff:tot - ihl]}


def socket_in(ns, ifname):
    """An AF_PACKET socket bound to ifname in network namespace ns."""
    libc = ctypes.CDLL(None, use_errno=True)
    here = os.open("/proc/self/ns/net", os.O_RDONLY)
    there = os.open(f"/run/netns/{ns}", os.O_RDONLY)
    try:
        if libc.setns(there, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {ns}")
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        s.bind((ifname, 0))
        if libc.setns(here, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns back")
    finally:
        os.close(here)
        os.close(there)
    return s


def inject(ns_a, if_a, ns_b, if_b, if_ra, if_rb, port, ttl, timeout):
    """Watch R's interfaces; strike once; print what was sent."""
    out_a = socket_in(ns_a, if_a)       # frames onto the A--R wire
    out_b = socket_in(ns_b, if_b)       # frames onto the R--B wire
    sniff = {}
    for ifn in (if_ra, if_rb):
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                          socket.htons(ETH_P_ALL))
        s.bind((ifn, 0))
        sniff[s] = ifn
    print("ready", file=sys.stderr, flush=True)
    mac = {}                            # who: (src mac, dst mac) into R
    peer_handshake = set()              # connections where B answered
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r, _, _ = select.select(list(sniff), [], [], 0.2)
        for s in r:
            frame, addr = s.recvfrom(65535)
            if addr[2] == PACKET_OUTGOING:
                continue                # each frame once: as R receives it
            p = parse(frame)
            if not p:
                continue
            mac[p["src"]] = (p["smac"], p["dmac"])
            if port not in (p["sport"], p["dport"]):
                continue
            conn = (p["src"], p["sport"], p["dst"], p["dport"]) \
                if p["dport"] == port else \
                (p["dst"], p["dport"], p["src"], p["sport"])
            if p["sport"] == port and p["payload"].startswith(
                    b"\x13BitTorrent protocol"):
                peer_handshake.add(conn)
                continue
            if p["dport"] != port or conn not in peer_handshake or \
                    not p["payload"] or p["src"] not in mac or \
                    p["dst"] not in mac:
                continue
            # The trigger: A's first data after B's handshake.
            a, b = p["src"], p["dst"]
            end = (p["seq"] + len(p["payload"])) & 0xffffffff
            to_a = forge_rst(mac[b][0], mac[b][1], b, a, p["dport"],
                             p["sport"], p["ack"], end, ttl, p["ip_id"],
                             p["df"])
            to_b = forge_rst(mac[a][0], mac[a][1], a, b, p["sport"],
                             p["dport"], end, p["ack"], ttl, p["ip_id"],
                             p["df"])
            t = time.time()
            out_b.send(to_a)            # onto B's wire, towards A
            out_a.send(to_b)            # onto A's wire, towards B
            for src, dst, sp, dp, seq, ack in (
                    (b, a, p["dport"], p["sport"], p["ack"], end),
                    (a, b, p["sport"], p["dport"], end, p["ack"])):
                print(json.dumps({"src": src, "dst": dst, "sport": sp,
                                  "dport": dp, "seq": seq, "ack": ack,
                                  "ttl": ttl, "ip_id": p["ip_id"],
                                  "trigger_ttl": p["ttl"], "time": t}),
                      flush=True)
            return 0
    print("no BitTorrent connection to strike", file=sys.stderr, flush=True)
    return 1


# ----------------------------------------------------- driving it in a lab --

class LiveResets:
    """In a lab.Lab: a BitTorrent connection killed by the injector, an
    ordinary connection closed with FINs, a SYN to a closed port."""

    def __init__(self, lab, L):
        self.lab = lab
        self.L = L
        self.injected = []
        self.report = []

    def start(self):
        lab, L = self.lab, self.L
        self.bt = lab.spawn("B", [PYTHON, __file__, "bt-serve", lab.V4["B"],
                                  BT_PORT], name="bt-serve")
        self.bt.wait_for(r"^ready", 20, stream="stdout")
        lab.start_server()
        self.inj = lab.spawn("R", [PYTHON, __file__, "inject", lab.ns["A"],
                                   lab.if_a, lab.ns["B"], lab.if_b,
                                   lab.if_ra, lab.if_rb, BT_PORT,
                                   INJECT_TTL, 40], name="rst-injector")
        self.inj.wait_for(r"^ready", 20)

    def drive(self, mix=True):
        """Run the three connections (mix=False: not the ordinary traffic
        mix, the caller ran it); return the injector's RSTs."""
        lab, L = self.lab, self.L
        if mix:
            cp = lab.run("A", [PYTHON, L.__file__, "client", lab.V4["B"],
                               lab.V6["B"]], check=False, timeout=120)
            self.report.append("ordinary traffic (connections closed with "
                               "FIN): " + ("completed" if cp.returncode == 0
                                           else "FAILED\n" + cp.stdout[-500:]))
        cp = lab.run("A", [PYTHON, __file__, "closed", lab.V4["B"],
                           CLOSED_PORT], check=False, timeout=30)
        self.report.append(f"SYN to closed port {CLOSED_PORT}: "
                           f"{cp.stdout.strip() or cp.stderr.strip()}")
        cp = lab.run("A", [PYTHON, __file__, "bt-client", lab.V4["A"],
                           lab.V4["B"], BT_PORT], check=False, timeout=60)
        self.report.append("BitTorrent client: "
                           + (cp.stdout.strip() or cp.stderr.strip()))
        self.inj.wait(30)
        self.injected = [json.loads(line) for line in
                         self.inj.stdout().splitlines() if line.strip()]
        return self.injected


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "inject" and len(argv) == 11:
        return inject(argv[2], argv[3], argv[4], argv[5], argv[6], argv[7],
                      int(argv[8]), int(argv[9]), float(argv[10]))
    if cmd == "bt-serve":
        bt_serve(argv[2], int(argv[3]))
        return 0
    if cmd == "bt-client":
        return bt_client(argv[2], argv[3], int(argv[4]))
    if cmd == "closed":
        return closed(argv[2], int(argv[3]))
    print(f"usage: {argv[0]} inject NS_A IF_A NS_B IF_B IF_RA IF_RB PORT TTL "
          "TIMEOUT | bt-serve ADDR PORT | bt-client SRC DST PORT | "
          "closed DST PORT", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
