#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""TCP reset scenarios: short, realistic packet sequences as the probe
would capture them, each RST with the verdict and signals docs/detection.md
("Forged reset detection", include/reset_signals.h) demands.

A scenario is one or a few TCP connections written packet by packet: a
handshake with options (MSS, SACK, timestamps, window scale), data with
real sequence and acknowledgement progression, per-host IP ID behaviour
(Linux: per-socket sequential IDs, SYN-ACK and stack replies with ID 0
and DF; BSD-style random IDs; hosts that send 0 with DF), TTLs as seen
at the probe, TCP timestamps ticking at 1000 Hz, and capture timestamps
set explicitly. Geometry: the probe sits near the client A (0.25 ms one
way) and far from the server B (15 ms one way), so the handshake RTT at
the probe is about 30.5 ms and R10's threshold (RTT / 4) about 7.6 ms.

Each RST carries an expectation: the verdict (or a set of acceptable
verdicts), signals that must be present and signals that must not.
A scenario is written to a classic pcap with microsecond timestamps by
`write_pcap` (our own writer: the timestamps are exact integers).

`reset_scenarios.py --list` prints the scenarios; `reset_scenarios.py
--write DIR` writes every scenario's pcap into DIR (look at them with
tshark); `reset_scenarios.py --model` checks every expectation against
a small reference model of the design's rules, written from the design
text alone. The model exists to catch a scenario that does not show what
it claims; the tests judge flowprobe, never the model.

Python standard library and scapy only.
"""

import ipaddress
import random
import struct
import sys

from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Raw

MS = 1000           # capture times are integer microseconds
T0 = 1_700_000_000 * 1_000_000   # 2023-11-14T22:13:20Z

MAC_A = "02:00:00:00:0a:01"
MAC_B = "02:00:00:00:0b:01"

# TCP flags
F, S, R, P, A = 0x01, 0x02, 0x04, 0x08, 0x10
BT_HANDSHAKE_INFO = bytes.fromhex("a3f1c2e4b5d6978812345678900abcdef1234567")


# ------------------------------------------------------------ expectation --

class Expect:
    """What one RST must come out as."""

    def __init__(self, verdict, has=(), hasnt=(), why=""):
        self.verdicts = {verdict} if isinstance(verdict, str) else \
            set(verdict) if verdict else None
        self.has = set(has)
        self.hasnt = set(hasnt)
        self.why = why

    def check(self, verdict, signals):
        """List of problems (empty: as expected)."""
        probs = []
        if self.verdicts and verdict not in self.verdicts:
            probs.append(f"verdict {verdict}, want "
                         f"{'/'.join(sorted(self.verdicts))}")
        miss = sorted(self.has - set(signals), key=_sig_order)
        if miss:
            probs.append(f"missing {','.join(miss)}")
        extra = sorted(self.hasnt & set(signals), key=_sig_order)
        if extra:
            probs.append(f"must not have {','.join(extra)}")
        return probs

    def text(self):
        parts = []
        if self.verdicts:
            parts.append("/".join(sorted(self.verdicts)))
        if self.has:
            parts.append("+" + ",".join(sorted(self.has, key=_sig_order)))
        if self.hasnt:
            parts.append("-" + ",".join(sorted(self.hasnt, key=_sig_order)))
        return " ".join(parts) or "(anything)"


def _sig_order(s):
    return int(s[1:]) if s[1:].isdigit() else 99


def forged(*has, hasnt=(), why=""):
    return Expect("forged", has, hasnt, why)


def suspect(*has, hasnt=(), why=""):
    return Expect("suspect", has, hasnt, why)


def genuine(*hasnt, has=(), why=""):
    return Expect("genuine", has, hasnt, why)


# Signals a genuine RST must not show (timing and sequence evidence); the
# header signals are checked by the verdict.
RACE = ("R1", "R3", "R4", "R10", "R11")
# The verdict rule (docs/detection.md, "The verdict rule"): a proof signal
# convicts alone; weak signals (R10 among them: two stacks aborting at
# once show it too) convict three together, and make a RST suspect below.
PROOF = {"R1", "R3", "R4", "R11"}
WEAK = {"R5", "R6", "R7", "R8", "R9", "R10"}
FORGED_WEAK = 3


# ------------------------------------------------------------ hosts, conns --

def serial_gt(a, b):
    """a > b in 32-bit serial arithmetic."""
    d = (a - b) & 0xffffffff
    return d != 0 and d < 0x80000000


class Host:
    """One TCP endpoint as the probe sees it."""

    def __init__(self, addr, port, ttl, isn, ipid="seq", ipid_start=None,
                 window=502, ts_base=None, mac=MAC_A, seed=1):
        self.addr = addr
        self.port = port
        self.ttl = ttl                  # as seen at the probe
        self.isn = isn
        self.nxt = isn                  # snd_nxt (next new byte)
        self.rcv = 0                    # rcv_nxt (what it acks)
        self.ipid_mode = ipid           # seq | zero | random | global
        self.rng = random.Random(seed)
        self.ipid = ipid_start if ipid_start is not None else \
            self.rng.randrange(1000, 60000)
        self.window = window
        self.ts_base = ts_base          # None: no TCP timestamps
        self.peer_ts = 0
        self.mac = mac
        self.last_id = None             # last IP ID it put on the wire
        self.v6 = ":" in addr

    def next_id(self):
        if self.v6:
            return 0
        if self.ipid_mode == "zero":
            v = 0
        elif self.ipid_mode == "random":
            v = self.rng.randrange(1, 65536)
        elif self.ipid_mode == "global":   # a counter shared with other traffic
            self.ipid = (self.ipid + self.rng.randrange(1, 30)) & 0xffff
            v = self.ipid
        else:
            v = self.ipid
            self.ipid = (self.ipid + 1) & 0xffff
        self.last_id = v
        return v

    def tsval(self, t):
        return (self.ts_base + (t - T0) // 1000) & 0xffffffff


class Conn:
    """Packets of one TCP connection between a (client, near the probe)
    and b (server, far), in capture order."""

    def __init__(self, scen, a, b, t=None):
        self.scen = scen
        self.a = a
        self.b = b
        self.t = scen.t if t is None else t
        self.synack_t = None

    def peer(self, h):
        return self.b if h is self.a else self.a

    def after(self, dt_us):
        self.t += int(dt_us)
        return self

    def ms(self, dt_ms):
        return self.after(dt_ms * MS)

    # -- the one packet builder
    def send(self, h, flags, payload=b"", seq=None, ack=None, ttl=None,
             ipid=None, df=True, window=None, ts=True, tsval=None,
             opts_extra=(), advance=True, expect=None, note=""):
        p = self.peer(h)
        if seq is None:
            seq = h.nxt
        if ack is None:
            ack = h.rcv if flags & A else 0
        if isinstance(payload, int):
            payload = _filler(payload, seq)
        opts = list(opts_extra)
        if ts and h.ts_base is not None:
            tv = h.tsval(self.t) if tsval is None else tsval
            opts.append(("Timestamp", (tv, h.peer_ts if flags & A else 0)))
        tcp = TCP(sport=h.port, dport=p.port, seq=seq & 0xffffffff,
                  ack=ack & 0xffffffff, flags=flags,
                  window=h.window if window is None else window,
                  options=opts)
        if h.v6:
            ip = IPv6(src=h.addr, dst=p.addr,
                      hlim=h.ttl if ttl is None else ttl)
        else:
            ip = IP(src=h.addr, dst=p.addr, ttl=h.ttl if ttl is None else ttl,
                    id=h.next_id() if ipid is None else ipid,
                    flags="DF" if df else 0)
            if ipid is not None and not flags & R:
                h.last_id = ipid
        pkt = Ether(src=h.mac, dst=p.mac) / ip / tcp
        if payload:
            pkt = pkt / Raw(payload)
        self.scen.add(self.t, pkt, expect, note)
        if advance and not flags & R:
            end = seq + len(payload) + (1 if flags & (S | F) else 0)
            if serial_gt(end, h.nxt):
                h.nxt = end & 0xffffffff
            if serial_gt(end, p.rcv) or p.rcv == 0:
                # the peer will ack it (in order: no loss in these stories)
                p.rcv = end & 0xffffffff
            if h.ts_base is not None:
                p.peer_ts = h.tsval(self.t)
        return pkt

    # -- common moves
    def handshake(self, rtt_far=30 * MS, rtt_near=500):
        a, b = self.a, self.b
        syn_opts = [("MSS", 1460), ("SAckOK", b""), ("NOP", None),
                    ("WScale", 7)]
        self.send(a, S, window=64240, opts_extra=syn_opts)
        self.after(rtt_far)
        self.synack_t = self.t
        # Linux answers a SYN from the listener: IP ID 0 with DF.
        ipid = 0 if b.ipid_mode in ("seq", "zero") else None
        self.send(b, S | A, window=65160, ipid=ipid, opts_extra=syn_opts)
        self.after(rtt_near)
        self.send(a, A)
        return self

    def data(self, h, n, flags=P | A, **kw):
        return self.send(h, flags, n, **kw)

    def request_response(self, req=300, segs=8, seg=1448):
        """A asks, B answers with segs full segments, A acks every other
        one: what the probe sees of an HTTP exchange or a piece."""
        self.ms(1)
        self.data(self.a, req)
        self.ms(30)
        for i in range(segs):
            self.data(self.b, seg, flags=A if i < segs - 1 else P | A)
            if i % 2 == 1 or i == segs - 1:
                self.after(300)
                self.send(self.a, A)
            self.after(120)
        return self

    def bt_handshakes(self):
        """BitTorrent peer-wire handshakes both ways and B's bitfield, A's
        interested: the point where a traffic manager strikes."""
        self.ms(1)
        self.data(self.a, _bt_handshake(b"-qB4650-" + b"a" * 12))
        self.ms(30)
        self.data(self.b, _bt_handshake(b"-TR3000-" + b"b" * 12)
                  + (17).to_bytes(4, "big") + b"\x05" + b"\xff" * 16)
        self.after(300)
        self.data(self.a, b"\x00\x00\x00\x01\x02")   # interested
        return self

    def rst(self, h, expect, flags=R | A, **kw):
        kw.setdefault("ts", False)
        return self.send(h, flags, expect=expect, **kw)

    def abort(self, h, expect, **kw):
        """The application aborts (SO_LINGER 0, or close with unread
        data): RST|ACK at snd_nxt from the socket, with its next IP ID,
        its window and a current timestamp."""
        kw.setdefault("ts", True)
        return self.send(h, R | A, expect=expect, **kw)

    def reply_rst(self, h, seg_ack, expect, seg_len=None, **kw):
        """What a stack with no socket answers to a segment (Linux
        tcp_v4_send_reset): to an ACK-bearing segment, RST with seq = its
        ack, no ACK flag, window 0, no options, IP ID 0 with DF."""
        kw.setdefault("ipid", 0 if h.ipid_mode != "random" else None)
        return self.send(h, R, seq=seg_ack, ack=0, window=0, ts=False,
                         expect=expect, **kw)


def _filler(n, seq):
    return bytes(((seq + i) * 7) & 0xff for i in range(n))


def _bt_handshake(peer_id):
    return (b"\x13BitTorrent protocol" + bytes([0, 0, 0, 0, 0, 0x10, 0, 1])
            + BT_HANDSHAKE_INFO + peer_id)


class Scenario:
    def __init__(self, name, what):
        self.name = name
        self.what = what
        self.t = T0
        self.packets = []               # (t_us, scapy packet, Expect, note)
        self.conn_expect = []           # (match fn, dict of field: value)

    def add(self, t, pkt, expect, note):
        self.packets.append((t, pkt, expect, note))

    def conn(self, a, b, t=None):
        return Conn(self, a, b, t)

    def expect_connection(self, **fields):
        """The reset_connection summary of the scenario's (first)
        connection with resets must carry these fields."""
        self.conn_expect.append(fields)

    def ordered(self):
        return sorted(self.packets, key=lambda x: x[0])

    def rsts(self):
        """[(t, facts dict, Expect, note)] in capture order."""
        out = []
        for t, pkt, exp, note in self.ordered():
            tcp = pkt[TCP]
            if int(tcp.flags) & R:
                out.append((t, rst_facts(pkt), exp, note))
        return out


def rst_facts(pkt):
    ip = pkt[IP] if IP in pkt else pkt[IPv6]
    tcp = pkt[TCP]
    return {"src": ipaddress.ip_address(ip.src).compressed,
            "dst": ipaddress.ip_address(ip.dst).compressed,
            "sport": tcp.sport, "dport": tcp.dport, "seq": tcp.seq,
            "ack": tcp.ack if int(tcp.flags) & A else None,
            "ttl": ip.ttl if IP in pkt else ip.hlim,
            "ip_id": ip.id if IP in pkt else 0,
            "flags": str(tcp.flags), "window": tcp.window}


def write_pcap(path, scen):
    """Classic pcap, microsecond timestamps, Ethernet."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for t, pkt, _, _ in scen.ordered():
            b = bytes(pkt)
            f.write(struct.pack("<IIII", t // 1_000_000, t % 1_000_000,
                                len(b), len(b)))
            f.write(b)


# ------------------------------------------------------------- endpoints --

def client(v6=False, ipid="seq", ts=True, port=51413, seed=11):
    return Host("2001:db8:1::2" if v6 else "10.1.0.2", port, ttl=63,
                isn=0x1c2d3e4f, ipid=ipid, window=502,
                ts_base=3_000_000 if ts else None, mac=MAC_A, seed=seed)


def server(v6=False, ipid="seq", ts=True, port=443, seed=22):
    return Host("2001:db8:9::7" if v6 else "10.9.0.7", port, ttl=50,
                isn=0x7e5a9000, ipid=ipid, window=509,
                ts_base=9_000_000 if ts else None, mac=MAC_B, seed=seed)


def established(name, what, v6=False, port=443, a_ipid="seq", b_ipid="seq",
                ts=True, segs=8, bt=False):
    s = Scenario(name, what)
    a = client(v6, a_ipid, ts)
    b = server(v6, b_ipid, ts, port=6881 if bt else port)
    c = s.conn(a, b).handshake()
    if bt:
        c.bt_handshakes()
    if segs:
        c.request_response(segs=segs)
    return s, c, a, b


# -------------------------------------------------------------- scenarios --

SCENARIOS = []


def scenario(fn):
    SCENARIOS.append(fn)
    return fn


# ---- R1
@scenario
def r1_new_data_after_rst():
    s, c, a, b = established("r1_new_data_after_rst",
                             "RST 'from B' with every header field right; "
                             "B keeps sending new data 10 ms later (R1)")
    c.ms(2)
    c.rst(b, forged("R1", hasnt=("R6", "R7", "R5")), ipid=b.ipid)
    b.ipid = (b.ipid + 1) & 0xffff
    c.ms(10)
    for i in range(2):
        seg = c.data(b, 1448)
        c.after(300)
        c.reply_rst(a, seg[TCP].ack, genuine(*RACE, why="A, reset, answers "
                                             "B's data"))
        c.after(100)
    return s


@scenario
def r1_new_data_after_rst_v6():
    s, c, a, b = established("r1_new_data_after_rst_v6",
                             "the same over IPv6: the real B keeps sending")
    c.ms(2)
    c.rst(b, forged("R1", hasnt=("R6",)))
    c.ms(10)
    seg = c.data(b, 1448)
    c.after(300)
    c.reply_rst(a, seg[TCP].ack, genuine(*RACE))
    return s


@scenario
def r1_retransmission_below_rst():
    s, c, a, b = established("r1_retransmission_below_rst",
                             "B aborts at snd_max; a retransmission of "
                             "earlier data (below the RST's seq), reordered, "
                             "arrives 10 ms after it: not R1")
    c.ms(2)
    old_seq = (b.nxt - 1448) & 0xffffffff
    rid = b.ipid
    c.abort(b, genuine(*RACE, "R2"), ipid=(rid + 1) & 0xffff)
    c.ms(10)
    seg = c.send(b, A, 1448, seq=old_seq, ipid=rid, advance=False)
    b.ipid = (rid + 2) & 0xffff
    c.after(300)
    c.reply_rst(a, seg[TCP].ack, genuine(*RACE))
    return s


# ---- R2
@scenario
def r2_behind_sent_data():
    s, c, a, b = established("r2_behind_sent_data",
                             "RST|ACK from B two segments behind its snd_max: "
                             "R2 is a fact, decides nothing alone")
    c.ms(2)
    c.rst(b, genuine(*RACE, has=("R2",)), seq=(b.nxt - 2896) & 0xffffffff)
    return s


@scenario
def r2_with_one_header_signal():
    s, c, a, b = established("r2_with_one_header_signal",
                             "R2 and a TTL 7 off: R2 is no header signal, "
                             "so one header signal: suspect")
    c.ms(2)
    c.rst(b, suspect("R2", "R6"), seq=(b.nxt - 2896) & 0xffffffff,
          ttl=b.ttl + 7)
    return s


@scenario
def r2_keepalive_seq():
    s, c, a, b = established("r2_keepalive_seq",
                             "idle 40 s, A's keep-alive (seq snd_max-1) is "
                             "acked, then A aborts with the keep-alive's seq")
    c.ms(40_000)
    c.send(a, A, seq=(a.nxt - 1) & 0xffffffff, advance=False)
    c.ms(30)
    c.send(b, A)
    c.ms(200)
    c.abort(a, genuine(*RACE, "R2", "R5"), seq=(a.nxt - 1) & 0xffffffff)
    return s


# ---- R3
@scenario
def r3_seq_jump():
    s, c, a, b = established("r3_seq_jump",
                             "two RST|ACKs 'from B' 1 ms apart, the second "
                             "1460 beyond the first and beyond snd_max")
    c.ms(2)
    c.rst(b, Expect(None, hasnt=("R6", "R7")))
    c.ms(1)
    c.rst(b, forged("R3", hasnt=("R6", "R7")),
          seq=(b.nxt + 1460) & 0xffffffff)
    s.expect_connection(verdict="forged", signals_has={"R3"})
    return s


@scenario
def r3_same_seq():
    s, c, a, b = established("r3_same_seq",
                             "B's socket is gone; A's two pipelined segments "
                             "(sent before B's RST reached A) each get a RST "
                             "with the same seq")
    c.ms(2)
    segs = [c.data(a, 200), c.ms(0.2).data(a, 200)]
    c.ms(15)
    c.abort(b, genuine(*RACE))
    c.ms(14.8)
    for seg in segs:
        c.reply_rst(b, seg[TCP].ack, genuine(*RACE, "R5"))
        c.ms(0.2)
    return s


# ---- R4
@scenario
def r4_ack_change():
    s, c, a, b = established("r4_ack_change",
                             "two RST|ACKs 'from B', same seq, acks 1460 "
                             "apart")
    c.ms(2)
    c.rst(b, Expect(None, hasnt=("R6", "R7")))
    c.ms(0.5)
    c.rst(b, forged("R4", hasnt=("R3", "R6", "R7")),
          ack=(a.nxt + 1460) & 0xffffffff)
    s.expect_connection(verdict="forged", signals_has={"R4"})
    return s


@scenario
def r4_rstack_then_rsts():
    s, c, a, b = established("r4_rstack_then_rsts",
                             "server crash mid-transfer: B's RST|ACK at "
                             "snd_max, then a RST without ACK for each of "
                             "A's in-flight segments (3 ms apart)")
    c.ms(1)
    segs = []
    for _ in range(3):
        segs.append(c.data(a, 536))
        c.ms(3)
    c.ms(5)   # B aborted 15 ms before its RST reached the probe
    c.abort(b, genuine(*RACE))
    c.ms(16)  # A's first segment reached B 15 ms after passing the probe
    for seg in segs:
        c.reply_rst(b, seg[TCP].ack, genuine(*RACE))
        c.ms(3)
    return s


# ---- R5
@scenario
def r5_ahead():
    s, c, a, b = established("r5_ahead",
                             "RST|ACK 'from B' 64000 bytes beyond anything "
                             "B sent or A acked")
    c.ms(2)
    c.rst(b, suspect("R5", hasnt=RACE), seq=(b.nxt + 64000) & 0xffffffff)
    return s


@scenario
def r5_ahead_of_seen_but_acked():
    s, c, a, b = established("r5_ahead_of_seen_but_acked",
                             "the probe missed B's last two segments (A acks "
                             "them); B's RST at its true snd_nxt is not ahead")
    c.ms(2)
    b.nxt = (b.nxt + 2896) & 0xffffffff   # sent, not captured
    b.next_id(), b.next_id()
    a.rcv = b.nxt
    c.send(a, A)
    c.ms(30)
    c.abort(b, genuine(*RACE, "R5"))
    return s


@scenario
def r5_burst():
    s, c, a, b = established("r5_burst",
                             "a volley of 3 identical RST|ACKs 'from B' "
                             "within 2 ms, nothing from A in between")
    c.ms(2)
    for i in range(3):
        c.rst(b, Expect(None, hasnt=("R3", "R4", "R6")) if i < 2 else
              suspect("R5", hasnt=RACE + ("R6", "R7")))
        c.ms(1)
    s.expect_connection(verdict="suspect", signals_has={"R5"})
    return s


@scenario
def r5_answers_interleaved():
    s, c, a, b = established("r5_answers_interleaved",
                             "A closed (FIN); B keeps sending: A's stack "
                             "answers each of 3 segments 1 ms apart with a "
                             "RST (RST after FIN; B's packets in between)")
    c.ms(5)
    c.send(a, F | A)
    c.ms(30)
    for _ in range(3):
        seg = c.data(b, 1448)
        c.after(300)
        c.reply_rst(a, seg[TCP].ack, genuine(*RACE, "R5"))
        c.after(700)
    return s


@scenario
def r5_far_abort_burst_answers():
    s, c, a, b = established("r5_far_abort_burst_answers",
                             "probe geometry: B (far) aborts; A's 3 "
                             "back-to-back segments each get a RST, arriving "
                             "within 0.3 ms with no A packet between; at "
                             "most suspect, never forged")
    c.ms(1)
    segs = [c.data(a, 100), c.ms(0.1).data(a, 100), c.ms(0.1).data(a, 100)]
    c.ms(10)
    c.abort(b, Expect(("genuine", "suspect"), hasnt=RACE))
    c.ms(20)
    for seg in segs:
        c.reply_rst(b, seg[TCP].ack, Expect(("genuine", "suspect"),
                                            hasnt=RACE))
        c.ms(0.1)
    return s


# ---- R6
@scenario
def r6_ttl():
    s, c, a, b = established("r6_ttl", "RST|ACK 'from B' with TTL 57 where "
                             "B's packets arrive with 50")
    c.ms(2)
    c.rst(b, suspect("R6", hasnt=RACE + ("R7",)), ttl=57)
    return s


@scenario
def r6_ttl_small_difference():
    s, c, a, b = established("r6_ttl_small_difference",
                             "B's RST|ACK with TTL 52 (off by 2: a route "
                             "change, not evidence)")
    c.ms(2)
    c.abort(b, genuine(*RACE, "R6"), ttl=52)
    return s


@scenario
def r6_hop_limit_v6():
    s, c, a, b = established("r6_hop_limit_v6", "IPv6: RST|ACK 'from B' "
                             "with hop limit 58 where B's arrive with 50",
                             v6=True)
    c.ms(2)
    c.rst(b, suspect("R6", hasnt=RACE), ttl=58)
    return s


@scenario
def r6_hop_limit_v6_near():
    s, c, a, b = established("r6_hop_limit_v6_near", "IPv6: B's RST|ACK "
                             "with hop limit 49 (off by 1)", v6=True)
    c.ms(2)
    c.abort(b, genuine(*RACE, "R6"), ttl=49)
    return s


# ---- R7
@scenario
def r7_ipid_out_of_sequence():
    s, c, a, b = established("r7_ipid_out_of_sequence",
                             "B's IP IDs go up by one; a RST|ACK 'from B' "
                             "5000 ahead")
    c.ms(2)
    c.rst(b, suspect("R7", hasnt=RACE + ("R6",)),
          ipid=(b.ipid + 5000) & 0xffff)
    return s


@scenario
def r7_ipid_copied_from_peer():
    s, c, a, b = established("r7_ipid_copied_from_peer",
                             "B uses random IP IDs; a RST 'from B' carries "
                             "A's last IP ID (the trigger packet turned "
                             "round)", b_ipid="random")
    c.ms(1)
    c.data(a, 120)
    c.ms(0.5)
    c.rst(b, suspect("R7", hasnt=RACE + ("R6",)), ipid=a.last_id)
    return s


@scenario
def r7_ipid_continues():
    s, c, a, b = established("r7_ipid_continues",
                             "B aborts: its RST|ACK has the next IP ID")
    c.ms(2)
    c.abort(b, genuine(*RACE, "R7"))
    return s


@scenario
def r7_ipid_small_gap():
    s, c, a, b = established("r7_ipid_small_gap",
                             "B's counter is shared with its other traffic: "
                             "RST|ACK 700 IDs on (inside [1, 1024])")
    c.ms(2)
    c.abort(b, genuine(*RACE, "R7"), ipid=(b.ipid + 699) & 0xffff)
    return s


@scenario
def r7_ipid_zero_df():
    s, c, a, b = established("r7_ipid_zero_df",
                             "B's socket is gone; its stack answers A's "
                             "segment with IP ID 0 and DF (Linux)")
    c.ms(2)
    c.abort(b, genuine(*RACE))
    c.after(100)
    seg = c.data(a, 100)   # A had it in flight
    c.ms(30)
    c.reply_rst(b, seg[TCP].ack, genuine(*RACE, "R7"))
    return s


# ---- R8
@scenario
def r8_window():
    s, c, a, b = established("r8_window",
                             "RST without ACK 'from B' advertising a window "
                             "of 16384")
    c.ms(2)
    c.rst(b, suspect("R8", hasnt=RACE + ("R6", "R7")), flags=R, ack=0,
          window=16384)
    return s


@scenario
def r8_window_zero():
    s, c, a, b = established("r8_window_zero",
                             "B's RST without ACK, window 0, next IP ID")
    c.ms(2)
    c.rst(b, genuine(*RACE, "R8"), flags=R, ack=0, window=0)
    return s


# ---- R9
@scenario
def r9_timestamp_behind():
    s, c, a, b = established("r9_timestamp_behind",
                             "RST|ACK 'from B' whose TCP timestamp is 40 s "
                             "behind B's last")
    c.ms(2)
    c.rst(b, suspect("R9", hasnt=RACE + ("R6", "R7")), ts=True,
          tsval=b.tsval(c.t) - 40_000)
    return s


@scenario
def r9_timestamp_far_ahead():
    s, c, a, b = established("r9_timestamp_far_ahead",
                             "RST|ACK 'from B' whose timestamp is 4e8 ticks "
                             "ahead 5 ms after B's last packet")
    c.ms(5)
    c.rst(b, suspect("R9", hasnt=RACE + ("R6", "R7")), ts=True,
          tsval=b.tsval(c.t) + 400_000_000)
    return s


@scenario
def r9_timestamp_slightly_ahead():
    s, c, a, b = established("r9_timestamp_slightly_ahead",
                             "B aborts 3 ms after its last packet: timestamp "
                             "3 ticks ahead")
    c.ms(3)
    c.abort(b, genuine(*RACE, "R9"))
    return s


# ---- R10
@scenario
def r10_both_directions():
    s, c, a, b = established("r10_both_directions",
                             "RST|ACKs 'from B' and 'from A' 80 us apart, "
                             "every header field right (RTT 30.5 ms): what "
                             "two applications aborting at once show too, "
                             "so suspect, not forged")
    c.ms(2)
    c.rst(b, suspect("R10", hasnt=("R6", "R7")))
    c.after(80)
    c.rst(a, suspect("R10", hasnt=("R6", "R7")))
    return s


@scenario
def r10_both_directions_v6():
    s, c, a, b = established("r10_both_directions_v6",
                             "IPv6: the same pair, 50 us apart", v6=True)
    c.ms(2)
    c.rst(b, suspect("R10", hasnt=("R6",)))
    c.after(50)
    c.rst(a, suspect("R10", hasnt=("R6",)))
    return s


@scenario
def r10_injector_both_ends():
    s, c, a, b = established("r10_injector_both_ends",
                             "an injector resets both ends 60 us apart with "
                             "its own TTL (8 hops short) and its own IP IDs: "
                             "R10 with R6 and R7, three weak signals")
    c.ms(2)
    c.rst(b, forged("R6", "R7", "R10"), ttl=b.ttl - 8,
          ipid=(b.ipid + 20000) & 0xffff)
    c.after(60)
    c.rst(a, forged("R6", "R7", "R10"), ttl=a.ttl - 8,
          ipid=(a.ipid + 20000) & 0xffff)
    return s


@scenario
def r10_crossing_aborts():
    s, c, a, b = established("r10_crossing_aborts",
                             "both applications abort; the RSTs cross in "
                             "the network and pass the probe 20 ms apart "
                             "(more than RTT/4)")
    c.ms(2)
    c.abort(a, genuine(*RACE))
    c.ms(20)
    c.abort(b, genuine(*RACE))
    return s


@scenario
def r10_separated_by_rtt():
    s, c, a, b = established("r10_separated_by_rtt",
                             "A aborts; B aborts 45 ms later (more than the "
                             "RTT)")
    c.ms(2)
    c.abort(a, genuine(*RACE))
    c.ms(45)
    c.abort(b, genuine(*RACE))
    return s


def _midstream(name, what):
    """Capture starts mid-connection: no handshake, so no RTT."""
    s = Scenario(name, what)
    a, b = client(), server()
    a.nxt, b.nxt = 0x1c2d3e4f + 5000, 0x7e5a9000 + 90000
    a.rcv, b.rcv = b.nxt, a.nxt
    c = s.conn(a, b)
    for _ in range(6):
        c.data(b, 1448)
        c.after(300)
        c.send(a, A)
        c.ms(2)
    return s, c, a, b


@scenario
def r10_midstream_fast_pair():
    s, c, a, b = _midstream("r10_midstream_fast_pair",
                            "no handshake seen: RSTs from both sides 50 us "
                            "apart (under 200 us)")
    c.rst(b, suspect("R10", hasnt=("R6", "R7")))
    c.after(50)
    c.rst(a, suspect("R10", hasnt=("R6", "R7")))
    return s


@scenario
def r10_midstream_slow_pair():
    s, c, a, b = _midstream("r10_midstream_slow_pair",
                            "no handshake seen: RSTs from both sides 2 ms "
                            "apart (over 200 us)")
    c.abort(a, genuine(*RACE))
    c.ms(2)
    c.abort(b, genuine(*RACE))
    return s


# ---- R11
def _syn_only(name, what, v6=False, port=443):
    s = Scenario(name, what)
    a, b = client(v6), server(v6, port=port)
    c = s.conn(a, b)
    syn_opts = [("MSS", 1460), ("SAckOK", b""), ("NOP", None), ("WScale", 7)]
    c.send(a, S, window=64240, opts_extra=syn_opts)
    return s, c, a, b, syn_opts


@scenario
def r11_rst_then_synack():
    s, c, a, b, opts = _syn_only("r11_rst_then_synack",
                                 "an injector near A answers the SYN with "
                                 "RST|ACK (seq 0, ack isn+1) 2 ms later; the "
                                 "real SYN-ACK follows at 30 ms; A, already "
                                 "refused, resets it")
    c.ms(2)
    c.rst(b, forged("R11"), seq=0, ack=(a.isn + 1), ipid=0x5c21, ttl=49)
    c.ms(28)
    synack = c.send(b, S | A, window=65160, ipid=0, opts_extra=opts,
                    ack=a.isn + 1)
    c.after(300)
    c.reply_rst(a, synack[TCP].ack, genuine("R10", "R11"))
    return s


@scenario
def r11_synack_then_rst():
    s, c, a, b, opts = _syn_only("r11_synack_then_rst",
                                 "the SYN-ACK comes first; the injector's "
                                 "RST for the same SYN (ack isn+1) 1 ms later")
    c.ms(30)
    c.send(b, S | A, window=65160, ipid=0, opts_extra=opts, ack=a.isn + 1)
    c.after(200)
    c.rst(b, forged("R11"), seq=0, ack=a.isn + 1, ipid=0x5c21, ttl=49)
    c.after(300)
    c.send(a, A)
    c.request_response(segs=2)
    return s


@scenario
def r11_accept_then_reset():
    s, c, a, b, opts = _syn_only("r11_accept_then_reset",
                                 "the server accepts, then its application "
                                 "refuses the client at once (SO_LINGER 0): "
                                 "SYN-ACK, ACK, RST|ACK seq isn+1 ack isn+1 "
                                 "from the same stack: no race")
    c.ms(30)
    c.send(b, S | A, window=65160, ipid=0, opts_extra=opts)
    c.after(500)
    c.send(a, A)
    c.ms(30.2)
    c.abort(b, genuine(*RACE, "R6", "R7"))
    return s


@scenario
def r11_closed_port():
    s, c, a, b, opts = _syn_only("r11_closed_port",
                                 "SYN to a closed port: RST|ACK (seq 0, ack "
                                 "isn+1, IP ID 0, DF); the SYN retransmitted "
                                 "1 s later gets the same answer")
    for i in range(2):
        c.ms(30)
        c.rst(b, genuine(*RACE, "R6", "R7", "R8"), seq=0, ack=a.isn + 1,
              ipid=0, window=0)
        if i == 0:
            c.ms(970)
            c.send(a, S, window=64240, seq=a.isn, opts_extra=opts,
                   advance=False)
    return s


@scenario
def r11_closed_port_v6():
    s, c, a, b, opts = _syn_only("r11_closed_port_v6",
                                 "IPv6: SYN to a closed port, RST|ACK, "
                                 "retransmitted SYN, RST|ACK", v6=True)
    for i in range(2):
        c.ms(30)
        c.rst(b, genuine(*RACE, "R6", "R8"), seq=0, ack=a.isn + 1, window=0)
        if i == 0:
            c.ms(970)
            c.send(a, S, window=64240, seq=a.isn, opts_extra=opts,
                   advance=False)
    return s


@scenario
def r11_port_opens_later():
    s, c, a, b, opts = _syn_only("r11_port_opens_later",
                                 "SYN refused (RST); 3 s later a new SYN "
                                 "(new ISN, same ports) is accepted: the "
                                 "SYN-ACK answers another SYN")
    c.ms(30)
    c.rst(b, genuine(*RACE), seq=0, ack=a.isn + 1, ipid=0, window=0)
    c.ms(3000)
    a.isn = a.nxt = 0x51f0a000
    c.send(a, S, window=64240, opts_extra=opts)
    c.ms(30)
    c.send(b, S | A, window=65160, ipid=0, opts_extra=opts)
    c.after(500)
    c.send(a, A)
    c.request_response(segs=2)
    return s


# ---- traffic managers and firewalls
@scenario
def sandvine_pair():
    s, c, a, b = established("sandvine_pair",
                             "BitTorrent between handshake and first piece: "
                             "a traffic manager resets both ends at once, "
                             "TTL 58 (its own), IP ID copied from A's "
                             "trigger packet; both ends keep sending what "
                             "was in flight", bt=True, segs=0)
    c.ms(40)
    trig = c.data(a, b"\x00\x00\x00\x05\x04\x00\x00\x00\x07")  # have
    tid = trig[IP].id
    c.after(200)
    c.rst(b, forged("R1", "R6", "R7", "R10"), ttl=58, ipid=tid)
    c.after(40)
    c.rst(a, forged("R1", "R6", "R7", "R10"), ttl=58, ipid=tid)
    c.after(400)
    c.data(a, b"\x00\x00\x00\x05\x04\x00\x00\x00\x08")   # in flight
    c.ms(12)
    # sent by B before A's trigger reached it: acks up to before it
    seg = c.data(b, b"\x00\x00\x00\x05\x04\x00\x00\x00\x02",
                 ack=trig[TCP].seq)
    c.after(300)
    # A is reset: its stack answers; its TTL differs from the forged
    # RST's, so "two RSTs with different TTLs" may make it suspect.
    c.reply_rst(a, seg[TCP].ack, Expect(("genuine", "suspect"),
                                        hasnt=("R10",)))
    s.expect_connection(verdict="forged", blocked=True, bittorrent=True)
    return s


def _forbidden_request(name, what):
    """An HTTP exchange, then A's request with a forbidden word: the
    trigger, and B's and A's next seq (what a border injector puts in its
    RSTs to A and to B)."""
    s, c, a, b = established(name, what, port=80, segs=2)
    c.ms(1000)
    trig = c.data(a, 420)
    return s, c, a, b, trig, b.nxt, a.nxt


def _server_answers_anyway(c, a, b):
    """The injector does not drop: B's answer arrives, and A, reset,
    answers it with a RST of its own that is no injector's."""
    c.ms(12)
    seg = c.data(b, 1448)
    c.after(300)
    c.reply_rst(a, seg[TCP].ack, Expect(None, hasnt=("R4", "R11")))


@scenario
def gfw_three_resets():
    s, c, a, b, trig, sa, sb = _forbidden_request(
        "gfw_three_resets",
        "HTTP request with a forbidden word: three RST|ACKs each way (type "
        "2), seq, seq+1460, seq+4380, TTL 47, random IP IDs; the server's "
        "answer still arrives 12 ms later")
    rng = random.Random(5)
    c.ms(1)
    for i, step in enumerate((0, 1460, 4380)):
        c.rst(b, forged("R10", *(("R3",) if i else ())), ttl=47,
              seq=(sa + step) & 0xffffffff, ack=trig[TCP].seq + 420,
              ipid=rng.randrange(1, 65536))
        c.after(20)
        c.rst(a, forged("R10", *(("R3",) if i else ())), ttl=47,
              seq=(sb + step) & 0xffffffff, ack=sa,
              ipid=rng.randrange(1, 65536))
        c.after(150)
    _server_answers_anyway(c, a, b)
    s.expect_connection(verdict="forged", signals_has={"R3", "R10"})
    return s


@scenario
def gfw_type1_fixed_window():
    s, c, a, b = established("gfw_type1_fixed_window",
                             "the Great Firewall's first fingerprint: after "
                             "a forbidden request, RSTs without ACK 'from "
                             "B', window 0x2c4a and IP ID 0x1b39 both fixed, "
                             "TTL 8 above B's (the border is nearer)",
                             port=80, segs=2)
    c.ms(200)
    c.data(a, 380)
    c.after(600)
    for _ in range(2):
        c.rst(b, forged("R6", "R7", "R8", hasnt=("R10",)), flags=R, ack=0,
              window=0x2c4a, ipid=0x1b39, ttl=b.ttl + 8)
        c.after(30)
    return s


@scenario
def gfw_type2_window_ipid():
    s, c, a, b, trig, sa, sb = _forbidden_request(
        "gfw_type2_window_ipid",
        "the Great Firewall's second fingerprint: after a forbidden request, "
        "a burst of three RST|ACKs to each end, seq and ack right, each end's "
        "TTL copied, windows stepping by one from a random start and each IP "
        "ID a fixed function of its window; the server's answer still arrives")
    rng = random.Random(9)
    c.ms(1)
    for h, seq, ack in ((b, sa, trig[TCP].seq + 420), (a, sb, sa)):
        w0 = rng.randrange(1024, 8192)
        for i in range(3):
            w = w0 + i
            # R4 (windows): no stack writes three windows into the RSTs
            # of one connection; the TTLs are right, so no R6.
            c.rst(h, forged("R4", hasnt=("R6",)), seq=seq, ack=ack, window=w,
                  ipid=(w * 0x9e37 + 0x7f4a) & 0xffff)
            c.after(40)
        c.after(100)
    _server_answers_anyway(c, a, b)
    s.expect_connection(verdict="forged", signals_has={"R4"})
    return s


@scenario
def inpath_drop_and_reset():
    s, c, a, b = established("inpath_drop_and_reset",
                             "an in-path device drops A's request and "
                             "answers with its own RST|ACK as B: seq and ack "
                             "right (it saw both sides), its own TTL (6 "
                             "above B's) and IP ID; no genuine packet races "
                             "it, so only header evidence: suspect")
    c.ms(300)
    trig = c.data(a, 512)
    c.after(700)
    c.rst(b, suspect("R6", "R7", hasnt=RACE), ack=trig[TCP].seq + 512,
          ttl=b.ttl + 6, ipid=(b.ipid + 31000) & 0xffff)
    return s


@scenario
def ttl_copying_injector():
    s, c, a, b = established("ttl_copying_injector",
                             "BitTorrent piece transfer; an injector that "
                             "copies B's TTL and continues its IP IDs resets "
                             "A only; B keeps sending pieces (only R1 can "
                             "tell)", bt=True, segs=6)
    c.ms(3)
    c.rst(b, forged("R1", hasnt=("R6", "R7", "R10")), ipid=b.ipid)
    b.ipid = (b.ipid + 1) & 0xffff
    c.ms(10)
    for _ in range(2):
        seg = c.data(b, 1448)
        c.after(300)
        c.reply_rst(a, seg[TCP].ack, genuine(*RACE))
        c.after(100)
    return s


# ---- genuine resets
@scenario
def genuine_client_abort():
    s, c, a, b = established("genuine_client_abort",
                             "download aborted by A: RST|ACK at snd_max, then "
                             "each of B's 4 in-flight segments answered by a "
                             "RST without ACK, seq = its ack", segs=4)
    c.ms(0.2)
    c.abort(a, genuine(*RACE, "R5", "R6", "R7"))
    for _ in range(4):
        c.ms(0.7)
        seg = c.data(b, 1448)
        c.after(300)
        c.reply_rst(a, seg[TCP].ack, genuine(*RACE, "R5", "R6", "R7", "R8"))
    return s


@scenario
def genuine_bsd_drop():
    s, c, a, b = established("genuine_bsd_drop",
                             "B's BSD-style stack drops its connection: a "
                             "RST without ACK at snd_max carrying the window "
                             "B was advertising, IP ID next; A's two "
                             "in-flight segments are answered by RSTs "
                             "without ACK, window 0 (the socket is gone)",
                             segs=4)
    c.ms(0.5)
    c.rst(b, genuine(*RACE, "R5", "R7", "R8"), flags=R, ack=0, window=b.window)
    for _ in range(2):
        c.ms(0.7)
        seg = c.data(a, 300)
        c.after(300)
        c.reply_rst(b, seg[TCP].ack, genuine(*RACE, "R5", "R8"))
    return s


@scenario
def genuine_rst_after_fin():
    s, c, a, b = established("genuine_rst_after_fin",
                             "B finishes with FIN; A (browser) closes with a "
                             "RST|ACK instead of a FIN")
    c.after(100)
    c.send(b, F | A)
    c.after(300)
    c.send(a, A)
    c.ms(50)
    c.abort(a, genuine(*RACE, "R5", "R6", "R7"))
    return s


@scenario
def genuine_ipid_zero_host():
    s, c, a, b = established("genuine_ipid_zero_host",
                             "B sends every packet with IP ID 0 and DF; it "
                             "aborts", b_ipid="zero")
    c.ms(2)
    c.abort(b, genuine(*RACE, "R6", "R7"))
    return s


@scenario
def genuine_both_ipid_zero():
    s, c, a, b = established("genuine_both_ipid_zero",
                             "both hosts send IP ID 0 with DF: B's RST's 0 "
                             "equals A's last ID, and is no copy",
                             a_ipid="zero", b_ipid="zero")
    c.ms(2)
    c.abort(b, genuine(*RACE, "R6", "R7"))
    return s


@scenario
def genuine_nat_timeout():
    s, c, a, b = established("genuine_nat_timeout",
                             "idle 5 minutes; A sends, and a NAT near B whose "
                             "binding expired answers with a RST: other TTL, "
                             "other IP ID (history older than 60 s is no "
                             "evidence)")
    c.ms(300_000)
    seg = c.data(a, 80)
    c.ms(9)
    c.rst(b, genuine(*RACE, "R6", "R7"), flags=R, seq=seg[TCP].ack, ack=0,
          window=0, ttl=61, ipid=0x2c4f)
    return s


@scenario
def genuine_bittorrent_abort():
    s, c, a, b = established("genuine_bittorrent_abort",
                             "BitTorrent: handshakes, bitfield, then A's "
                             "client drops the peer with RST|ACK: genuine, "
                             "not blocked", bt=True, segs=0)
    c.ms(80)
    c.abort(a, genuine(*RACE, "R5", "R6", "R7"))
    s.expect_connection(verdict="genuine", blocked=False, bittorrent=True)
    return s


# ------------------------------------------------------------- the model --

def model(scen):
    """Signals and verdict per RST by the design's rules, from the packets
    alone: [(facts, signals set, verdict)]. A reference for the scenario
    author, deliberately simple (one connection at a time, IPv4 and IPv6)."""
    conns = {}
    out = []
    rsts = []                # (conn key, side key, t, pkt facts, sig set)
    for t, pkt, _, _ in scen.ordered():
        ip = pkt[IP] if IP in pkt else pkt[IPv6]
        v4 = IP in pkt
        tcp = pkt[TCP]
        fl = int(tcp.flags)
        src, dst = (ip.src, tcp.sport), (ip.dst, tcp.dport)
        key = tuple(sorted([src, dst]))
        cs = conns.setdefault(key, {"sides": {}, "syn": None, "synack": None,
                                    "ack": None, "isn": None,
                                    "synack_acks": {}, "rst_acks": []})
        me = cs["sides"].setdefault(src, {"seen": False, "rsts": [],
                                          "run": 0})
        peer = cs["sides"].setdefault(dst, {"seen": False, "rsts": [],
                                            "run": 0})
        ttl = ip.ttl if v4 else ip.hlim
        ipid = ip.id if v4 else 0
        df = bool(int(ip.flags) & 2) if v4 else False
        plen = len(tcp.payload)
        tsval = None
        for o in tcp.options:
            if o[0] == "Timestamp":
                tsval = o[1][0]
        if fl & R:
            sig = set()
            fresh = me["seen"] and t - me["last_t"] <= 60_000_000
            pfresh = peer["seen"] and t - peer["last_t"] <= 60_000_000
            if fresh:
                top = me["snd_max"]
                if serial_gt((top - 1) & 0xffffffff, tcp.seq):
                    sig.add("R2")
                if pfresh and peer.get("max_ack") is not None and \
                        serial_gt(peer["max_ack"], top):
                    top = peer["max_ack"]
                if serial_gt(tcp.seq, (top + 1) & 0xffffffff):
                    sig.add("R5")
                if abs(ttl - me["ttl"]) >= 3:
                    sig.add("R6")
                if v4 and not (ipid == 0 and df) and me["run"] >= 4:
                    step = (ipid - me["ipid"]) & 0xffff
                    if not 1 <= step <= 1024:
                        sig.add("R7")
                if tsval is not None and me.get("tsval") is not None:
                    d = (tsval - me["tsval"]) & 0xffffffff
                    el = (t - me["last_t"]) / 1e6
                    if d >= 0x80000000 or d > 1_000_000 * (el + 1):
                        sig.add("R9")
            if v4 and pfresh and not (ipid == 0 and df) and \
                    ipid == peer["ipid"] and peer["run"] >= 0 and \
                    not (peer["ipid"] == 0):
                sig.add("R7")
            if not fl & A and tcp.window and \
                    not (fresh and tcp.window == me.get("window")):
                sig.add("R8")
            for (pt, pseq, pack, pttl, plast, pwin) in me["rsts"]:
                if t - pt <= 2_000_000 and serial_gt(tcp.seq, pseq + 2) and \
                        (not me["seen"] or serial_gt(tcp.seq, me["snd_max"])) \
                        and (not peer.get("max_ack") or
                             serial_gt(tcp.seq, peer["max_ack"] + 2)):
                    sig.add("R3")
                if pack is not None and fl & A and pack != tcp.ack:
                    sig.add("R4")
                if pwin and tcp.window and pwin != tcp.window and \
                        plast == peer.get("last_t_any", -1):
                    sig.add("R4")
                if pttl != ttl:
                    sig.add("R6")
            recent = [r for r in me["rsts"] if t - r[0] <= 5000 and
                      r[4] >= peer.get("last_t_any", -1)]
            if len(recent) >= 2:
                sig.add("R5")
            ent = (t, tcp.seq, tcp.ack if fl & A else None, ttl,
                   peer.get("last_t_any", -1), tcp.window)
            me["rsts"].append(ent)
            if fl & A and cs["syn"] is not None and \
                    tcp.ack == (cs["isn"] + 1) & 0xffffffff:
                cs["rst_acks"].append((len(rsts), tcp.ack, tcp.seq))
                sa = cs["synack_acks"].get(tcp.ack)
                if sa is not None and tcp.seq != (sa + 1) & 0xffffffff:
                    sig.add("R11")
            rec = {"t": t, "key": key, "src": src, "seq": tcp.seq,
                   "gen": cs.get("gen", 0),
                   "sig": sig, "pkt": pkt}
            rsts.append(rec)
            me["last_t_any"] = t
            continue
        # a packet other than a RST
        if fl & S and not fl & A:
            if cs["syn"] is None:
                cs["syn"] = t
            elif cs["isn"] != tcp.seq:       # a new incarnation
                cs["gen"] = cs.get("gen", 0) + 1
                for side in cs["sides"].values():
                    side["rsts"] = []
            cs["isn"] = tcp.seq
        if fl & S and fl & A:
            cs["synack"] = cs["synack"] or t
            cs["synack_acks"][tcp.ack] = tcp.seq
            for idx, ack, rseq in cs["rst_acks"]:
                if ack == tcp.ack and rseq != (tcp.seq + 1) & 0xffffffff:
                    rsts[idx]["sig"].add("R11")
        elif fl & A and cs["synack"] is not None and cs["ack"] is None:
            cs["ack"] = t
        end = (tcp.seq + plen + (1 if fl & (S | F) else 0)) & 0xffffffff
        for r in rsts:
            if r["key"] == key and r["src"] == src and plen and \
                    r["gen"] == cs.get("gen", 0) and \
                    serial_gt(end, r["seq"]) and t > r["t"] and \
                    t - r["t"] <= 5_000_000:
                r["sig"].add("R1")
        if not me["seen"] or serial_gt(end, me["snd_max"]):
            me["snd_max"] = end
        if fl & A and (me.get("max_ack") is None or
                       serial_gt(tcp.ack, me["max_ack"])):
            me["max_ack"] = tcp.ack
        if v4 and me["seen"]:
            step = (ipid - me["ipid"]) & 0xffff
            me["run"] = me["run"] + 1 if 1 <= step <= 64 else 0
        me.update(seen=True, last_t=t, ttl=ttl, ipid=ipid, last_t_any=t,
                  window=tcp.window)
        if tsval is not None:
            me["tsval"] = tsval
    # R10: RSTs from both sides of a connection closer than RTT/4
    for i, r in enumerate(rsts):
        cs = conns[r["key"]]
        if cs["syn"] is not None and cs["ack"] is not None:
            lim = (cs["ack"] - cs["syn"]) / 4
        else:
            lim = 200
        for j, o in enumerate(rsts):
            if j != i and o["key"] == r["key"] and o["src"] != r["src"] and \
                    abs(o["t"] - r["t"]) < lim:
                r["sig"].add("R10")
    for r in rsts:
        sig = r["sig"]
        weak = len(sig & WEAK)
        if sig & PROOF or weak >= FORGED_WEAK:
            v = "forged"
        else:
            v = "suspect" if weak else "genuine"
        out.append((rst_facts(r["pkt"]), sorted(sig, key=_sig_order), v))
    return out


def all_scenarios():
    return [fn() for fn in SCENARIOS]


def main(argv):
    if len(argv) > 1 and argv[1] == "--list":
        for s in all_scenarios():
            print(f"{s.name}: {s.what}")
        return 0
    if len(argv) > 2 and argv[1] == "--write":
        import os
        for s in all_scenarios():
            write_pcap(os.path.join(argv[2], s.name + ".pcap"), s)
        return 0
    if len(argv) > 1 and argv[1] == "--model":
        bad = 0
        for s in all_scenarios():
            for (t, facts, exp, note), (_, sig, v) in zip(s.rsts(), model(s)):
                probs = exp.check(v, sig) if exp else []
                mark = "  <-- " + "; ".join(probs) if probs else ""
                bad += bool(probs)
                print(f"{s.name:30} {facts['src']:>14}:{facts['sport']:<5} "
                      f"seq {facts['seq']:>10} ttl {facts['ttl']:>3} id "
                      f"{facts['ip_id']:>5}: {v:8} {','.join(sig):14} want "
                      f"{exp.text() if exp else '-'}{mark}")
        print(f"{bad} RSTs where the model disagrees")
        return 1 if bad else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
