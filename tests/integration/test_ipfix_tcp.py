#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""IPFIX over TCP: every flow arrives, across a collector restart.

Lab A -- R -- B, flowprobe inline in R exporting to nfcapd as NetFlow v9
(the reference) and over TCP (-c ipfix+tcp://127.0.0.1:4739) to a small
collector in R that stores each connection's bytes. A sends UDP flows,
the TCP collector is stopped (it closes its end) and started again, A
sends more flows, the probe stops. Then:

- every connection's stream must be whole IPFIX messages (version 10,
  lengths tiling the stream), opening with the templates before any data
  set: the reconnected session can decode what it gets;
- the flows of all connections, decoded with the templates each session
  received, must equal nfcapd's: the same flows, packets and bytes
  between A and B, none lost to the restart;
- the probe must have connected a second time (its log says so);
- QinQ frames A sends in each session are encapsulated flows (templates
  262/263, from the first one on): the second session's opening
  templates must hold those too, or its records of them could not be
  decoded, and they must equal nfcapd's as well.
- each connection is a Transport Session of its own: every message's
  sequence number is the data records sent before it on that connection
  (RFC 7011 3.1), across the reconnection too;
- the connection the probe closes ends with the All Data and All Options
  Templates Withdrawals (RFC 7011 8.1), and the one the collector closed
  has none.

nfcapd has no IPFIX over TCP, so this parser is the collector here; its
decoding of the templates is generic (any field, enterprise bit and PEN).
"""

import os
import re
import signal
import struct
import sys

sys.dont_write_bytecode = True      # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab as L  # noqa: E402
from lab import ok, comment  # noqa: E402

V9_PORT, TCP_PORT = 2055, 4739
QINQ_SRC, QINQ_DST = "198.51.100.1", "198.51.100.2"

# Sends 3 QinQ-tagged UDP frames from a packet socket on A: an
# encapsulated flow (outer VLAN 100, inner 200) from source port argv[2].
QINQ = r"""
import sys
from scapy.all import Ether, Dot1AD, Dot1Q, IP, UDP, Raw
from scapy.arch.linux import L2Socket
sock = L2Socket(iface=sys.argv[1])
f = (Ether(dst="ff:ff:ff:ff:ff:ff") / Dot1AD(vlan=100) / Dot1Q(vlan=200) /
     IP(src="%s", dst="%s") / UDP(sport=int(sys.argv[2]), dport=9) / Raw(b"q" * 50))
for _ in range(3):
    sock.send(bytes(f))
""" % (QINQ_SRC, QINQ_DST)

# Accepts one connection at a time on 127.0.0.1:PORT, appends what
# arrives to DIR/conn-N.bin, prints "ready" and "closed N".
LISTENER = r"""
import os, socket, sys, signal
port, d, first = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port)); s.listen(4)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
print("ready", flush=True)
n = first
while True:
    c, _ = s.accept()
    with open(os.path.join(d, f"conn-{n}.bin"), "wb") as f:
        while True:
            b = c.recv(65536)
            if not b:
                break
            f.write(b); f.flush()
    c.close(); print(f"closed {n}", flush=True); n += 1
"""


def parse_stream(data, msgs=None):
    """[(set_id, body)] per message, templates {id: [(ie, len, pen)]};
    returns (flows {key: [pk, by]}, problems, first set id of the stream).
    msgs, a list, receives per message (sequence number, data records
    before it in this stream, [(set id, template id, field count) of its
    template records, or (set id, None, data records) of a data set])."""
    templates, flows, problems = {}, {}, []
    off, first_set, records = 0, None, 0
    while off < len(data):
        if len(data) - off < 16:
            problems.append(f"{len(data) - off} trailing bytes")
            break
        ver, mlen = struct.unpack_from("!HH", data, off)
        if ver != 10 or mlen < 16 or off + mlen > len(data):
            problems.append(f"bad message at {off}: version {ver} length {mlen}")
            break
        p, end = off + 16, off + mlen
        sets = []
        if msgs is not None:
            msgs.append((struct.unpack_from("!I", data, off + 8)[0], records, sets))
        while p < end:
            sid, slen = struct.unpack_from("!HH", data, p)
            if first_set is None:
                first_set = sid
            body = data[p + 4:p + slen]
            if sid in (2, 3):
                q = 0
                while len(body) - q >= 4:
                    tid, cnt = struct.unpack_from("!HH", body, q)
                    q += 4
                    sets.append((sid, tid, cnt))
                    if sid == 3:
                        q += 2
                    fields = []
                    for _ in range(cnt):
                        ie, fl = struct.unpack_from("!HH", body, q)
                        q += 4
                        pen = None
                        if ie & 0x8000:
                            pen = struct.unpack_from("!I", body, q)[0]
                            q += 4
                        fields.append((ie & 0x7fff, fl, pen))
                    templates[tid] = fields
            elif sid >= 256:
                t = templates.get(sid)
                if t is None:
                    problems.append(f"data set {sid} before its template")
                else:
                    rlen = sum(f[1] for f in t)
                    sets.append((sid, None, len(body) // rlen))
                    records += len(body) // rlen
                    for r in range(len(body) // rlen):
                        rec, q = {}, r * rlen
                        for ie, fl, pen in t:
                            rec[(ie, pen)] = body[q:q + fl]
                            q += fl
                        _add_flow(flows, rec)
            if slen < 4:
                problems.append("set length < 4")
                break
            p += slen
        off = end
    return flows, problems, first_set


def _add_flow(flows, rec):
    import ipaddress
    num = lambda k: int.from_bytes(rec[(k, None)], "big")  # noqa: E731
    if (8, None) in rec:
        src = str(ipaddress.ip_address(rec[(8, None)]))
        dst = str(ipaddress.ip_address(rec[(12, None)]))
    elif (27, None) in rec:
        src = str(ipaddress.ip_address(rec[(27, None)]))
        dst = str(ipaddress.ip_address(rec[(28, None)]))
    else:
        return                      # options data
    proto = num(4)
    dport = num(11)
    if proto in (1, 58):
        dport = num(32) if (32, None) in rec else num(139)
    key = (L.norm_addr(src), L.norm_addr(dst), proto, num(7), dport)
    v = flows.setdefault(key, [0, 0])
    v[0] += num(2)
    v[1] += num(1)


def ab_only(flows, lab):
    ends = {lab.V4["A"], lab.V4["B"]}
    return {k: list(v[:2]) for k, v in flows.items()
            if k[0] in ends and k[1] in ends}


def qinq_only(flows):
    return {k: list(v[:2]) for k, v in flows.items()
            if k[0] == QINQ_SRC and k[1] == QINQ_DST}


def main():
    if L.PROBE_KIND != "flowprobe":
        ok(False, "this test needs flowprobe (IPFIX over TCP)")
        return
    with L.Lab() as lab:
        nfcapd = lab.start_nfcapd(V9_PORT)
        store = os.path.join(lab.dir, "ipfix-tcp")
        os.makedirs(store)

        def listener(first):
            p = lab.spawn("R", [L.PYTHON, "-c", LISTENER, TCP_PORT, store,
                                first], name=f"ipfix-tcp-{first}")
            p.wait_for(r"^ready", 15, stream="stdout")
            return p

        coll = listener(1)
        # Both sessions as tshark will read them.
        pcap = os.path.join(lab.dir, "ipfix-tcp.pcap")
        dump = lab.spawn("R", ["tcpdump", "-i", "lo", "-n", "-U", "-s", "0",
                               "-w", pcap, f"tcp port {TCP_PORT}"],
                         name="tcpdump-ipfix-tcp")
        dump.wait_for(r"listening on", 15)
        lab.start_server()              # B's UDP discard port
        probe = lab.start_probe(
            [lab.if_ra, lab.if_rb],
            [f"127.0.0.1:{V9_PORT}", f"ipfix+tcp://127.0.0.1:{TCP_PORT}"],
            inactive=1)
        for i in range(20):
            lab.udp_send("A", lab.V4["B"], L.DISCARD_PORT, 41000 + i, 3, 200)
        lab.run("A", [L.PYTHON, "-c", QINQ, lab.if_a, "5001"])
        # Wait until the first batch, the QinQ flow among them, has
        # reached the TCP collector.
        L.wait_until(lambda: probe.stats().get("flows_exported", 0) >= 21 and
                     probe.stats().get("export_queued", 1) == 0, 30,
                     "the first flows to be exported")

        def qinq_in_first():
            path = os.path.join(store, "conn-1.bin")
            if not os.path.exists(path):
                return False
            with open(path, "rb") as f:
                return bool(qinq_only(parse_stream(f.read())[0]))
        L.wait_until(qinq_in_first, 30, "the QinQ flow in the first session")
        L.wait_file_quiet(os.path.join(store, "conn-1.bin"))
        coll.stop(signal.SIGTERM, 10)           # the collector goes away
        coll = listener(2)                      # and comes back
        for i in range(20):
            lab.udp_send("A", lab.V4["B"], L.DISCARD_PORT, 42000 + i, 2, 300)
        lab.run("A", [L.PYTHON, "-c", QINQ, lab.if_a, "5002"])
        try:
            probe.proc.wait_for(r"connected again", 30)
            ok(True, "the probe connected again after the collector restarted")
        except L.LabError as e:
            ok(False, "the probe connected again after the collector "
               "restarted", str(e) + "\n" + L.tail(probe.stderr()))
        lab.stop_server()
        rc = probe.stop()
        ok(rc in probe.ok_exit, f"flowprobe stops cleanly (exit {rc})",
           L.tail(probe.stderr()))
        L.wait_until(lambda: "closed 2" in coll.stdout(), 15,
                     "the second connection to close")
        coll.stop(signal.SIGTERM, 10)
        nfcapd.stop()
        L.wait_file_quiet(pcap)
        dump.stop(signal.SIGINT, 30)
        decode = ["tshark", "-n", "-r", pcap, "-d", f"tcp.port=={TCP_PORT},cflow"]
        text = L.sh(decode + ["-V", "-Y", "cflow"], check=False).stdout
        expert = L.sh(decode + ["-q", "-z", "expert"], check=False).stdout
        # tshark decodes the first IPFIX message of each TCP segment only
        # (no reassembly into messages for cflow here), so it is asked
        # only that what it decodes is IPFIX and sound; the parser above
        # checks every message.
        ok(len(re.findall(r"^\s*Version: 10$", text, re.M)) >= 4 and
           not re.search(r"^\s*Version: (?!10$)", text, re.M),
           "tshark decodes the sessions as IPFIX", text[-1500:])
        # -z expert: "Errors (n)", "Warns (n)" ... each over rows of
        # frequency, group, protocol, summary.
        bad, section = [], None
        for ln in expert.splitlines():
            m = re.match(r"(\w+) \(\d+\)$", ln)
            if m:
                section = m.group(1)
            elif section in ("Errors", "Warns") and re.match(r"\s+\d+\s", ln):
                bad.append(f"{section}: {ln.strip()}")
        # Wireshark 4.0 reads an options template withdrawal as an options
        # template without scope fields and warns so, once for the one
        # withdrawal message; anything else is a problem.
        known = [b for b in bad if re.match(r"Warns:\s+1\s+Malformed\s+CFLOW\s+"
                                            r"No scope fields$", b)]
        ok(len(bad) == len(known) <= 1,
           "tshark: no expert errors or warnings but Wireshark's about the "
           "options template withdrawal", "\n".join(bad) + "\n" + expert[-1500:])

        total = {}
        qinq_ports = {}
        for n in (1, 2):
            with open(os.path.join(store, f"conn-{n}.bin"), "rb") as f:
                data = f.read()
            msgs = []
            flows, problems, first = parse_stream(data, msgs)
            ok(not problems and first == 2,
               f"connection {n}: {len(data)} bytes of whole IPFIX messages, "
               "templates first", "\n".join(problems) + f"\nfirst set {first}")
            qinq_ports[n] = sorted(k[3] for k in qinq_only(flows))
            # RFC 7011: a Transport Session's sequence numbers count the
            # data records sent before each message in that session.
            bad = [(i, m[0], m[1]) for i, m in enumerate(msgs) if m[0] != m[1]]
            ok(msgs and not bad,
               f"connection {n}: each of its {len(msgs)} messages numbered "
               "by the data records before it in this session",
               f"{len(bad)} otherwise, e.g. {bad[:3]} (message, sequence, "
               "records)")
            if n == 2:
                # The probe closes this one: the last message withdraws
                # every template (8.1), after all data.
                ok(msgs and msgs[-1][2] == [(2, 2, 0), (3, 3, 0)] and
                   msgs[-1][0] == msgs[-1][1],
                   "connection 2 ends with the All Data and All Options "
                   "Templates Withdrawals, sequence right, nothing after",
                   f"last messages: {msgs[-3:]}")
            else:
                ok(not any(t[1] in (2, 3) for m in msgs for t in m[2]),
                   "connection 1, closed by the collector: no withdrawal")
            for k, v in flows.items():
                t = total.setdefault(k, [0, 0])
                t[0] += v[0]
                t[1] += v[1]
        want = ab_only(nfcapd.flows(), lab)
        got = ab_only(total, lab)
        ok(len(want) >= 40 and got == want,
           f"IPFIX over TCP holds the same {len(want)} flows, packets and "
           "bytes as NetFlow v9 into nfcapd",
           f"missing {sorted(set(want) - set(got))[:5]}, extra "
           f"{sorted(set(got) - set(want))[:5]}, differing "
           f"{[(k, want[k], got[k]) for k in want if k in got and want[k] != got[k]][:5]}")
        want = qinq_only(nfcapd.flows())
        ok(qinq_ports == {1: [5001], 2: [5002]} and len(want) == 2 and
           qinq_only(total) == want,
           "the QinQ flows of each session arrive in it, decoded with the "
           "templates it got, as nfcapd has them",
           f"sessions {qinq_ports}, nfcapd {want}, IPFIX {qinq_only(total)}")


if __name__ == "__main__":
    try:
        main()
    except L.LabError as e:
        ok(False, "lab", str(e))
    L.done()
