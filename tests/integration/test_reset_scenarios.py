#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Forged reset detection on written scenarios and on real captures.

Part 1: every scenario of reset_scenarios.py (a forged or suspect case
firing each of R1-R11 and a near miss that must not, Sandvine-style
pairs, the Great Firewall's three stepped resets, a TTL-copying
injector, and genuine resets that must stay genuine) is written to a
pcap and run through `flowprobe replay --json`. There must be exactly
one `reset` event per RST, at the RST's capture time, and each must
carry the verdict and the signals the scenario demands (and none of the
signals it forbids); connection summaries (`reset_connection`) are
checked where the scenario says (blocked BitTorrent, union of signals).
Every RST's verdict and signals are printed as TAP comments, with what
was wanted, so a failure reads at once.

Part 2: the zeek captures and every nDPI capture: one `reset` event per
TCP RST in the capture (counted by tshark; RSTs quoted inside ICMP
errors or carried in tunnels are not the probe's to see), and not one
`forged` verdict: a lone RST, a SYN refused by a closed port, a port
scan's resets are all genuine. The count makes the test fail when reset
detection is missing, instead of passing on silence.

FLOWPROBE overrides the binary. Run as root (replay loads the XDP program).
"""

import datetime
import ipaddress
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

sys.dont_write_bytecode = True
HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))
import reset_scenarios as RS  # noqa: E402

FLOWPROBE = Path(os.environ.get("FLOWPROBE", REPO / "flowprobe"))
PCAPS = REPO.parent / "shared" / "pcaps"
CAPTURES = sorted((PCAPS / "zeek").glob("*.pcap")) + \
    sorted(p for p in (PCAPS / "ndpi").glob("*.pcap*")
           if not p.name.endswith(".out"))

n = 0
failed = 0


def ok(cond, desc, detail=""):
    global n, failed
    n += 1
    print(f"{'ok' if cond else 'not ok'} {n} - {desc}", flush=True)
    if not cond:
        failed += 1
        for line in str(detail).rstrip().splitlines():
            print(f"#   {line}", flush=True)
    return cond


def comment(msg):
    for line in str(msg).rstrip().splitlines():
        print(f"# {line}", flush=True)


def replay(path):
    try:
        p = subprocess.run([str(FLOWPROBE), "replay", "--json", str(path)],
                           capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as e:
        return -1, [], str(e)
    objs, bad = [], 0
    for line in p.stdout.splitlines():
        if not line.strip():
            continue
        try:
            objs.append(json.loads(line))
        except json.JSONDecodeError:
            bad += 1
    err = p.stderr
    if bad:
        err += f"\n{bad} lines of stdout are not JSON"
    return p.returncode, objs, err


def norm(a):
    try:
        return ipaddress.ip_address(str(a)).compressed
    except ValueError:
        return str(a)


def ev_key(o):
    return (norm(o.get("src")), o.get("sport"), norm(o.get("dst")),
            o.get("dport"), o.get("seq"))


def fact_key(f):
    return (f["src"], f["sport"], f["dst"], f["dport"], f["seq"])


def ev_time_us(o):
    """Microseconds since the epoch of an RFC 3339 time, or None."""
    t = o.get("time")
    if not isinstance(t, str):
        return None
    try:
        d = datetime.datetime.fromisoformat(t.replace("Z", "+00:00"))
    except ValueError:
        return None
    if d.tzinfo is None:
        d = d.replace(tzinfo=datetime.timezone.utc)
    return round(d.timestamp() * 1_000_000)


def describe(i, nr, f):
    flags = f["flags"]
    return (f"RST {i}/{nr} {f['src']}:{f['sport']} > {f['dst']}:{f['dport']} "
            f"{flags} seq {f['seq']} ttl {f['ttl']} id {f['ip_id']} "
            f"win {f['window']}")


def check_scenario(scen, tmp):
    path = os.path.join(tmp, scen.name + ".pcap")
    RS.write_pcap(path, scen)
    rc, objs, err = replay(path)
    resets = [o for o in objs if o.get("type") == "reset"]
    conns = [o for o in objs if o.get("type") == "reset_connection"]
    pool = defaultdict(list)
    for o in sorted(resets, key=lambda o: str(o.get("time"))):
        pool[ev_key(o)].append(o)
    rsts = scen.rsts()
    probs = []
    comment(f"{scen.name}: {scen.what}")
    for i, (t, facts, exp, note) in enumerate(rsts, 1):
        ev = pool[fact_key(facts)].pop(0) if pool[fact_key(facts)] else None
        want = exp.text() if exp else "(anything)"
        if ev is None:
            comment(f"  {describe(i, len(rsts), facts)}: no reset event; "
                    f"want {want}")
            probs.append(f"RST {i}: no reset event")
            continue
        verdict, sigs = ev.get("verdict"), ev.get("signals") or []
        p = exp.check(verdict, sigs) if exp else []
        et = ev_time_us(ev)
        if et is not None and abs(et - t) > 1000:
            p.append(f"time {ev.get('time')} is not the RST's capture time")
        mark = "   <-- " + "; ".join(p) if p else ""
        comment(f"  {describe(i, len(rsts), facts)}: {verdict} "
                f"[{','.join(sigs)}] want {want}{mark}")
        probs += [f"RST {i}: {x}" for x in p]
    extra = [o for lst in pool.values() for o in lst]
    if extra:
        probs.append(f"{len(extra)} reset events match no RST of the "
                     f"scenario: {json.dumps(extra[0])[:300]}")
    for want in scen.conn_expect:
        if not conns:
            probs.append("no reset_connection event")
            continue
        c = conns[0]
        got = {k: c.get(k) for k in ("verdict", "blocked", "bittorrent",
                                     "signals", "resets", "forged",
                                     "suspect")}
        comment(f"  connection: {json.dumps(got)}")
        for k, v in want.items():
            if k == "signals_has":
                miss = v - set(c.get("signals") or [])
                if miss:
                    probs.append(f"connection: signals lack "
                                 f"{','.join(sorted(miss))}")
            elif k == "bittorrent" and k not in c:
                comment("  connection: no 'bittorrent' field (not checked)")
            elif c.get(k) != v:
                probs.append(f"connection: {k} is {c.get(k)!r}, want {v!r}")
    if rc != 0:
        probs.insert(0, f"flowprobe replay exited {rc}: "
                     f"{err.strip()[-400:]}")
    ok(not probs, f"{scen.name}: {len(rsts)} RST(s), "
       f"{len(resets)} reset event(s), each as expected",
       "\n".join(probs))


def tshark_rsts(path):
    """TCP RSTs the probe can see: not quoted in ICMP errors, not in a
    tunnel (one IP header)."""
    p = subprocess.run(["tshark", "-n", "-r", str(path), "-Y",
                        "tcp.flags.reset == 1", "-T", "fields", "-e",
                        "frame.protocols"], capture_output=True, text=True,
                       timeout=300)
    if p.returncode != 0:
        return None
    count = 0
    for line in p.stdout.splitlines():
        layers = line.strip().split(":")
        if "icmp" in layers or "icmpv6" in layers:
            continue
        if layers.count("ip") + layers.count("ipv6") != 1:
            continue
        count += 1
    return count


def check_capture(path):
    want = tshark_rsts(path)
    rc, objs, err = replay(path)
    resets = [o for o in objs if o.get("type") == "reset"]
    verdicts = Counter(o.get("verdict") for o in resets)
    sigs = Counter(s for o in resets for s in o.get("signals") or [])
    forged = [o for o in resets if o.get("verdict") == "forged"]
    comment(f"{path.parent.name}/{path.name}: {want} RSTs, "
            f"{len(resets)} reset events, verdicts {dict(verdicts)}, "
            f"signals {dict(sigs)}")
    probs = []
    if rc != 0:
        probs.append(f"flowprobe replay exited {rc}: {err.strip()[-400:]}")
    if want is None:
        probs.append("tshark could not read the capture")
    elif len(resets) != want:
        probs.append(f"{len(resets)} reset events for {want} RSTs "
                     "(one event per RST)")
    for o in forged[:5]:
        probs.append("forged: " + json.dumps(o)[:400])
    ok(not probs, f"{path.parent.name}/{path.name}: one reset event per RST "
       f"({want}), none forged", "\n".join(probs))


def main():
    if os.geteuid() != 0:
        print("1..0 # SKIP needs root (replay loads the XDP program)")
        return 0
    scenarios = RS.all_scenarios()
    comment(f"{len(scenarios)} scenarios, {FLOWPROBE}")
    with tempfile.TemporaryDirectory(prefix="flowprobe-resets-") as tmp:
        for scen in scenarios:
            check_scenario(scen, tmp)
    if not CAPTURES:
        ok(False, f"captures found in {PCAPS}")
    for path in CAPTURES:
        check_capture(path)
    print(f"1..{n}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
