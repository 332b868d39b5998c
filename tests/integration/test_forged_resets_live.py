#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Forged resets, live: an injector kills a BitTorrent connection in the lab.

Lab A -- R -- B; `flowprobe run --json` on both of R's interfaces (so it
receives both directions). Alongside the BitTorrent connection, A runs
the ordinary traffic mix (TCP connections closed with FINs, UDP, ICMP)
and a SYN to a closed port. rst_injector.py, on R, waits for the
BitTorrent handshakes, then on A's next segment sends a RST|ACK to each
end with its own TTL and the trigger's IP ID, seq/ack from the trigger.

Asserts:
- the injector struck and the real client saw its connection reset;
- each injected RST has one `reset` event, verdict `forged`, with R6
  (TTL unlike the side's) and R7 (IP ID copied / out of sequence), and
  R10 (RSTs from both sides much faster than the RTT) when the probe
  measured a handshake RTT (the client holds the third ACK 150 ms, so
  RTT/4 is tens of milliseconds; the two forged RSTs leave within
  microseconds);
- the closed port's RST is `genuine`; the ordinary connections (port
  5001) have no reset events, or only genuine ones;
- the connection summary of the BitTorrent connection says blocked;
- the interval report counts the blocked BitTorrent connection and its
  two forged resets in its total row.

Waits are polled conditions; the lab is torn down on any failure.
"""

import json
import os
import re
import signal
import sys
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import lab as L  # noqa: E402
import rst_injector as RI  # noqa: E402

# A RST is decided RESET_HOLD_NS (5 s) of probe time after it.
VERDICT_WAIT_S = 20


def reset_events(probe):
    out = []
    for line in probe.proc.stdout().splitlines():
        try:
            o = json.loads(line)
        except json.JSONDecodeError:
            continue
        out.append(o)
    return out


def interval_total(intervals, name):
    """The sum over interval reports of one counter of their total row."""
    return sum(i.get("total", {}).get(name, 0) for i in intervals)


def fmt(o):
    return (f"{o.get('src')}:{o.get('sport')} > {o.get('dst')}:"
            f"{o.get('dport')} seq {o.get('seq')} ttl {o.get('ttl')} id "
            f"{o.get('ip_id')}: {o.get('verdict')} {o.get('signals')} "
            f"rtt_ms {o.get('rtt_ms')}")


def main():
    if os.geteuid() != 0:
        print("1..0 # SKIP needs root (network namespaces, XDP)")
        return 0
    if L.PROBE_KIND != "flowprobe":
        print("1..0 # SKIP reset detection is flowprobe's own")
        return 0
    try:
        with L.Lab() as lab:
            run(lab)
    except L.LabError as e:
        L.ok(False, "lab", str(e))
    L.done()


NETFLOW_PORT = 9991
# Origin ASes of the lab's two sides, in CAIDA's prefix2as format.
AS_TABLE = "10.0.1.0\t24\t64501\n10.0.2.0\t24\t64502\n"


def check_netflow(nfcapd, capture):
    """The verdict and the ASes as collectors see them: tshark decodes
    every export packet (templates 260/261 included) and shows the private
    field 21075 = 3 (forged) on the BitTorrent connection's flows; nfcapd
    stores those flows with SRC_AS/DST_AS."""
    nfcapd.stop()
    problems = capture.stop()
    dec = capture.decode()
    L.ok(not dec["malformed"] and not dec["not_cflow"] and
         dec["packets"][NETFLOW_PORT] > 0,
         f"tshark decodes all {dec['packets'][NETFLOW_PORT]} export packets "
         "as NetFlow v9", f"malformed {dec['malformed']}, not cflow "
         f"{dec['not_cflow']}, capture {problems}")
    verbose = capture._tshark(["-V", "-Y", "cflow"])
    # "Unknown Field Type: Type 21075: Value (hex bytes): 03"
    verdicts = re.findall(r"Type 21075: Value[^:]*: *0*(\d+)", verbose)
    L.ok(verdicts.count("3") >= 2,
         f"tshark: field 21075 forged (3) on both directions of the "
         f"BitTorrent connection (values seen: {sorted(verdicts)})",
         "\n".join(ln for ln in verbose.splitlines() if "21075" in ln)[:2000])
    rows = nfcapd._nfdump(["-q", "-o", "fmt:%sp %dp %sas %das"]).split()
    quads = [rows[i:i + 4] for i in range(0, len(rows) - 3, 4)]
    bt = [q for q in quads if "6881" in q[:2]]
    L.ok(bt and all({q[2], q[3]} == {"64501", "64502"} for q in bt),
         f"nfdump: the BitTorrent flows carry AS 64501 and 64502 ({bt})",
         " ".join(rows)[:2000])


def run(lab):
    as_path = os.path.join(lab.dir, "prefix2as.txt")
    with open(as_path, "w") as f:
        f.write(AS_TABLE)
    nfcapd = lab.start_nfcapd(NETFLOW_PORT)
    capture = lab.start_export_capture([NETFLOW_PORT])
    probe = lab.start_probe([lab.if_ra, lab.if_rb],
                            [f"127.0.0.1:{NETFLOW_PORT}"],
                            extra=["--json", "--asn-table", as_path])
    live = RI.LiveResets(lab, L)
    live.start()
    injected = live.drive()
    for line in live.report:
        L.comment(line)
    L.ok(len(injected) == 2, "the injector forged a RST to each end",
         live.inj.stderr()[-500:])
    L.ok(any(r.startswith("BitTorrent client: reset") for r in live.report),
         "the real BitTorrent client saw its connection reset",
         "\n".join(live.report))

    def key(o):
        return (o.get("src"), o.get("sport"), o.get("dst"), o.get("dport"),
                o.get("seq"))
    want = {key(i) for i in injected}

    def decided():
        got = {key(o) for o in reset_events(probe) if o.get("type") == "reset"}
        return want <= got
    try:
        L.wait_until(decided, VERDICT_WAIT_S, "verdicts on the injected RSTs",
                     interval=0.5)
    except L.LabError as e:
        L.comment(str(e))
    rc = probe.stop()
    L.ok(rc == 0, f"flowprobe exited {rc}", L.tail(probe.stderr()))
    check_netflow(nfcapd, capture)
    objs = reset_events(probe)
    resets = [o for o in objs if o.get("type") == "reset"]
    conns = [o for o in objs if o.get("type") == "reset_connection"]
    intervals = [o for o in objs if o.get("type") == "interval"]
    L.comment(f"{len(resets)} reset events, {len(conns)} connection "
              f"summaries, {len(intervals)} interval reports")
    for o in resets:
        L.comment("  reset " + fmt(o))

    # the injected pair
    for inj in injected:
        ev = [o for o in resets if key(o) == key(inj)]
        side = "to A (as B)" if inj["sport"] == RI.BT_PORT else "to B (as A)"
        desc = (f"injected RST {side} {inj['src']}:{inj['sport']} > "
                f"{inj['dst']}:{inj['dport']} seq {inj['seq']} ttl "
                f"{inj['ttl']} id {inj['ip_id']}")
        if not L.ok(len(ev) == 1, f"{desc}: one reset event",
                    f"{len(ev)} events"):
            continue
        o = ev[0]
        sigs = set(o.get("signals") or [])
        need = {"R6", "R7"}
        rtt = o.get("rtt_ms")
        if rtt:
            need.add("R10")
        else:
            L.comment(f"{desc}: no handshake RTT measured, R10 not required")
        L.ok(o.get("verdict") == "forged" and need <= sigs,
             f"{desc}: forged with {','.join(sorted(need))} "
             f"(got {o.get('verdict')} {sorted(sigs)})",
             json.dumps(o))
        L.ok(o.get("bittorrent") is True,
             f"{desc}: on a BitTorrent connection", json.dumps(o))

    # the closed port
    closed = [o for o in resets if o.get("sport") == RI.CLOSED_PORT]
    L.ok(len(closed) >= 1 and all(o.get("verdict") == "genuine"
                                  for o in closed),
         f"closed port {RI.CLOSED_PORT}: {len(closed)} RST(s), genuine",
         "\n".join(fmt(o) for o in closed) or "no reset event")
    # ordinary connections closed with FINs
    normal = [o for o in resets if L.TCP_PORT in (o.get("sport"),
                                                  o.get("dport"))]
    L.ok(all(o.get("verdict") == "genuine" for o in normal),
         f"ordinary connections (port {L.TCP_PORT}): {len(normal)} reset "
         "events, none forged or suspect", "\n".join(fmt(o) for o in normal))

    # the connection summary
    bt = [c for c in conns if RI.BT_PORT in
          (c.get("sport"), c.get("dport")) or
          RI.BT_PORT in (c.get("port") or [])]
    if not bt:
        bt = [c for c in conns if c.get("bittorrent")]
    L.ok(bt and bt[0].get("verdict") == "forged" and bt[0].get("blocked")
         is True, "the BitTorrent connection's summary: forged, blocked",
         "\n".join(json.dumps(c) for c in conns) or "no reset_connection")

    # the interval report: exactly the one BitTorrent connection blocked,
    # its two RSTs forged
    blocked = interval_total(intervals, "blocked")
    forged = interval_total(intervals, "forged")
    L.ok(intervals and blocked == 1 and forged == 2,
         f"interval reports: {blocked} blocked BitTorrent connection(s), "
         f"{forged} forged resets (want 1 and 2)",
         "\n".join(json.dumps(i)[:600] for i in intervals) or "no interval")


if __name__ == "__main__":
    main()
