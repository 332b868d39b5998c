#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""The development corpus: every capture of ../shared/corpus through
`flowprobe replay --json --counters`, and what the detectors said.

Why: the detectors were tuned on a dozen captures; this corpus (2,282
captures from the Zeek and Suricata test suites, docs/detection.md,
"Measured on the corpus") holds ordinary traffic of hundreds of
applications and no known injected reset, so every "forged" verdict on it
is a false accusation to fix or to defend in writing, and every flow called
BitTorrent that nDPI does not call BitTorrent is a false positive.

  corpus.py run [--update-baseline] [--all] [--only LIST]
      replay (2 jobs, a timeout per capture), print per capture and in
      total: resets by verdict and by signal, each signal's firing rate,
      flows called BitTorrent (against nDPI's labels), parse errors,
      failed captures; compare with tests/corpus/baseline.json (exit 1
      when the forged count or the BitTorrent flows nDPI does not label
      rose, or a capture that replayed now fails).
  corpus.py label
      run ndpiReader (libndpi-bin) on every capture and write the
      BitTorrent flows it finds to tests/corpus/ndpi_labels.json: the
      independent ground truth, committed so that a run needs no nDPI.

Standard library only. Flows are compared as bidirectional 5-tuples
(protocol and the two endpoints, ordered), addresses normalised.
"""

import argparse
import concurrent.futures as cf
import csv
import ipaddress
import json
import os
import queue
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CORPUS = Path(os.environ.get("CORPUS", REPO.parent / "shared" / "corpus"))
FLOWPROBE = Path(os.environ.get("FLOWPROBE", REPO / "flowprobe"))
HERE = Path(__file__).resolve().parent
BASELINE = HERE / "baseline.json"
LABELS = HERE / "ndpi_labels.json"
RESULT = Path(os.environ.get("CORPUS_RESULT", REPO / "build" / "corpus" / "result.json"))
# The binary is copied here first, so that a rebuild during a run (make
# relinks ./flowprobe) cannot fail the captures replayed meanwhile.
BINARY = RESULT.parent / "flowprobe"
TIMEOUT = 120          # seconds per capture (the largest takes a few)
# Captures per `replay --each`: one program load (most of a second of
# verifier time) per batch; small enough that two workers end together.
BATCH = 50
SIGNALS = ["R%d" % i for i in range(1, 13)]
# Counters that are a packet the parser could not take as it came.
PARSE_ERRORS = ("err_eth_truncated", "err_vlan_truncated", "err_vlan_too_deep",
                "err_ipv4_truncated", "err_ipv4_bad_ihl", "err_ipv4_bad_version",
                "err_ipv6_truncated", "err_ipv6_bad_version", "l4_truncated",
                "frames_too_short")


def captures():
    out = []
    for p in sorted(CORPUS.rglob("*")):
        if p.is_file() and p.suffix in (".pcap", ".pcapng", ".cap"):
            out.append(str(p.relative_to(CORPUS)))
    return out


def norm_addr(a):
    try:
        return str(ipaddress.ip_address(a))
    except ValueError:
        return a


def biflow(proto, a, ap, b, bp):
    """A bidirectional flow key as a string: 'proto a:port b:port', ordered."""
    x = (norm_addr(a), int(ap))
    y = (norm_addr(b), int(bp))
    lo, hi = sorted([x, y])
    return "%d %s:%d %s:%d" % (int(proto), lo[0], lo[1], hi[0], hi[1])


def new_result(rel):
    return {"capture": rel, "status": "ok", "resets": 0,
            "verdicts": {"genuine": 0, "suspect": 0, "forged": 0},
            "signals": {}, "forged_signals": {}, "forged": [], "suspect": [],
            "bittorrent": [], "bt_kinds": {}, "parse_errors": 0, "packets": 0}


def take_line(res, bt, o):
    """Adds one JSON line of a capture's replay to its summary."""
    t = o.get("type")
    if t == "reset":
        res["resets"] += 1
        v = o["verdict"]
        res["verdicts"][v] = res["verdicts"].get(v, 0) + 1
        for s in o["signals"]:
            res["signals"][s] = res["signals"].get(s, 0) + 1
            if v == "forged":
                res["forged_signals"][s] = res["forged_signals"].get(s, 0) + 1
        if v in ("forged", "suspect"):
            res[v].append({"time": o["time"], "flags": o["tcp_flags"],
                           "flow": "%s:%d > %s:%d" % (o["src"], o["sport"],
                                                     o["dst"], o["dport"]),
                           "seq": o["seq"], "signals": o["signals"]})
    elif t == "flow" and o.get("app") == "bittorrent":
        bt.add(biflow(o["proto"], o["src"], o["sport"], o["dst"], o["dport"]))
    elif t == "bittorrent":
        k = o.get("kind", "?")
        res["bt_kinds"][k] = res["bt_kinds"].get(k, 0) + 1
    elif t == "counters":
        res["packets"] = o["packets"]
        res["parse_errors"] = sum(o.get(k, 0) for k in PARSE_ERRORS)


def failure_status(code, err_lines, err_file=None, name=None):
    """A failed capture's status: its last error line (of err_lines, or of
    err_file's lines that mention name), or the exit code."""
    if err_file is not None:
        err_file.seek(0)
        err_lines = [ln for ln in err_file.read().decode(errors="replace").splitlines()
                     if name is None or name in ln]
    last = [ln for ln in err_lines if "error" in ln] or err_lines or [""]
    return "exit %d: %s" % (code, last[-1][:200])


def read_lines(p, deadline_of):
    """Yields (line, None) from p's stdout as they come; (None, "timeout")
    once deadline_of() (a monotonic time, or None) has passed, after
    killing p's whole session (the forked child too)."""
    sel = selectors.DefaultSelector()
    sel.register(p.stdout, selectors.EVENT_READ)
    buf = b""
    while True:
        dl = deadline_of()
        wait = None if dl is None else max(0.0, dl - time.monotonic())
        if not sel.select(wait):
            os.killpg(p.pid, signal.SIGKILL)
            yield None, "timeout"
            return
        chunk = os.read(p.stdout.fileno(), 1 << 16)
        if not chunk:
            if buf:
                yield buf.decode(errors="replace"), None
            return
        buf += chunk
        *lines, buf = buf.split(b"\n")
        for ln in lines:
            yield ln.decode(errors="replace"), None


def replay_batch(rels, cpu=None):
    """Replays captures with one program load (`replay --each`: each file
    exactly as if replayed alone, tests/integration/test_replay_each.py);
    returns {rel: summary}, never raises. A capture that runs over TIMEOUT
    kills the batch; it is reported as timed out, and the rest run on in
    a new one. cpu: the one CPU the replay runs on (see replay_all)."""
    out = {}
    pin = (lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None
    todo = list(rels)
    while todo:
        paths = {str(CORPUS / r): r for r in todo}
        err_file = tempfile.TemporaryFile()
        try:
            # A session of its own: a timeout kills the forked child too.
            p = subprocess.Popen([str(BINARY), "replay", "--json", "--counters",
                                  "--each"] + list(paths), stdout=subprocess.PIPE,
                                 stderr=err_file, start_new_session=True,
                                 preexec_fn=pin)
        except OSError as e:
            for r in todo:
                out[r] = dict(new_result(r), status="not run: %s" % e)
            return out
        cur, res, bt, started = None, None, None, time.monotonic()
        # The program's load counts against the first capture's time.
        timed_out = False
        for line, why in read_lines(p, lambda: started + TIMEOUT):
            if why:
                timed_out = True
                break
            try:
                o = json.loads(line)
            except ValueError:
                continue
            t = o.get("type")
            if t == "replay_file" and o.get("file") in paths:
                cur = paths[o["file"]]
                res, bt = new_result(cur), set()
                started = time.monotonic()
            elif t == "replay_end" and cur is not None:
                res["seconds"] = round(time.monotonic() - started, 2)
                if o.get("exit", 1) != 0:
                    res["status"] = failure_status(o.get("exit", 1), None, err_file,
                                                   o["file"])
                    if "signal" in o:
                        res["status"] = "killed by signal %d" % o["signal"]
                res["bittorrent"] = sorted(bt)
                out[cur] = res
                todo.remove(cur)
                cur = None
            elif cur is not None:
                take_line(res, bt, o)
        p.stdout.close()
        p.wait()
        if cur is not None:
            # Started, never ended: the capture the batch died in.
            out[cur] = dict(new_result(cur), status=(
                "timeout after %d s" % TIMEOUT if timed_out else
                failure_status(p.returncode, None, err_file, None)))
            todo.remove(cur)
        elif todo and len(todo) == len(paths):
            # Not one capture started: the program did not load.
            st = ("timeout after %d s, before the first capture" % TIMEOUT
                  if timed_out else failure_status(p.returncode, None, err_file, None))
            for r in todo:
                out[r] = dict(new_result(r), status=st)
        err_file.close()
        if todo and len(todo) == len(paths):
            return out
    return out


def ndpi_label(rel):
    """nDPI's BitTorrent flows of one capture (DPI only, -d: no port
    guesses), or None when ndpiReader failed on it."""
    fd, name = tempfile.mkstemp(prefix="corpus-ndpi-", suffix=".csv")
    os.close(fd)
    out = Path(name)
    out.unlink()
    try:
        subprocess.run(["ndpiReader", "-q", "-d", "-i", str(CORPUS / rel),
                        "-C", str(out)], capture_output=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return None
    if not out.exists():
        return None
    flows = set()
    with open(out, newline="", errors="replace") as f:
        for row in csv.DictReader(f):
            name = row.get("ndpi_proto") or ""
            if "BitTorrent" in name.split("."):
                flows.add(biflow(row["protocol"],
                                 row["src_ip"], row["src_port"],
                                 row["dst_ip"], row["dst_port"]))
    out.unlink()
    return sorted(flows)


def run_parallel(fn, items, jobs):
    results = {}
    with cf.ThreadPoolExecutor(max_workers=jobs) as ex:
        for rel, r in zip(items, ex.map(fn, items)):
            results[rel] = r
    return results


def replay_all(rels, jobs):
    """Every capture through replay_batch, in batches of BATCH, jobs at a
    time: the program is loaded once a batch, not once a capture."""
    batches = [rels[i:i + BATCH] for i in range(0, len(rels), BATCH)]
    # Each batch on a CPU of its own, pinned: the datapath keeps flows per
    # CPU, so a replay that migrates mid-capture splits a flow over two
    # regions (flows_created, and the first packets a recognition sees,
    # would depend on the scheduler). Pinned, a run is reproducible.
    cpus = queue.Queue()
    for c in sorted(os.sched_getaffinity(0)):
        cpus.put(c)

    def one(batch):
        cpu = cpus.get()
        try:
            return replay_batch(batch, cpu)
        finally:
            cpus.put(cpu)

    results = {}
    with cf.ThreadPoolExecutor(max_workers=jobs) as ex:
        for r in ex.map(one, batches):
            results.update(r)
    return results


def cmd_label(args):
    caps = captures()
    t0 = time.monotonic()
    res = run_parallel(ndpi_label, caps, args.jobs)
    labels = {k: v for k, v in sorted(res.items()) if v}
    failed = sorted(k for k, v in res.items() if v is None)
    LABELS.write_text(json.dumps({
        "tool": subprocess.run(["ndpiReader", "-h"], capture_output=True,
                               text=True).stdout.splitlines()[0].strip(),
        "command": "ndpiReader -q -d -i CAPTURE -C OUT.csv (BitTorrent in ndpi_proto)",
        "captures": len(caps), "failed": failed, "bittorrent": labels,
    }, indent=1, sort_keys=True) + "\n")
    print("nDPI: %d BitTorrent flows in %d captures (%d captures failed) in %.0f s"
          % (sum(len(v) for v in labels.values()), len(labels), len(failed),
             time.monotonic() - t0))
    return 0


def load_json(p, default):
    try:
        return json.loads(Path(p).read_text())
    except (OSError, ValueError):
        return default


def summarise(results, labels):
    """Totals over the results, with the BitTorrent comparison."""
    tot = {"captures": len(results), "failed": 0, "packets": 0,
           "parse_errors": 0, "captures_with_parse_errors": 0, "resets": 0,
           "genuine": 0, "suspect": 0, "forged": 0,
           "captures_with_forged": 0, "signals": Counter(),
           "forged_signals": Counter(), "bt_flows": 0, "bt_true": 0,
           "bt_false": 0, "bt_missed": 0, "ndpi_flows": 0}
    for rel, r in results.items():
        tot["failed"] += r["status"] != "ok"
        tot["packets"] += r["packets"]
        tot["parse_errors"] += r["parse_errors"]
        tot["captures_with_parse_errors"] += r["parse_errors"] > 0
        tot["resets"] += r["resets"]
        for v in ("genuine", "suspect", "forged"):
            tot[v] += r["verdicts"].get(v, 0)
        tot["captures_with_forged"] += r["verdicts"].get("forged", 0) > 0
        tot["signals"].update(r["signals"])
        tot["forged_signals"].update(r["forged_signals"])
        ours = set(r["bittorrent"])
        theirs = set(labels.get(rel, []))
        r["bt_false"] = sorted(ours - theirs)
        r["bt_missed"] = sorted(theirs - ours)
        tot["bt_flows"] += len(ours)
        tot["bt_true"] += len(ours & theirs)
        tot["bt_false"] += len(ours - theirs)
        tot["ndpi_flows"] += len(theirs)
    for rel, theirs in labels.items():
        if rel not in results:
            continue
    tot["bt_missed"] = tot["ndpi_flows"] - tot["bt_true"]
    tot["bt_precision"] = (round(tot["bt_true"] / tot["bt_flows"], 3)
                           if tot["bt_flows"] else None)
    tot["bt_recall"] = (round(tot["bt_true"] / tot["ndpi_flows"], 3)
                        if tot["ndpi_flows"] else None)
    tot["signals"] = dict(sorted(tot["signals"].items(), key=lambda kv: int(kv[0][1:])))
    tot["forged_signals"] = dict(sorted(tot["forged_signals"].items(),
                                        key=lambda kv: int(kv[0][1:])))
    return tot


def baseline_of(results, tot):
    return {
        "about": "tests/corpus/corpus.py run --update-baseline; a rise in "
                 "forged or bt_false fails `make test` "
                 "(tests/integration/test_corpus_baseline.py)",
        "totals": {k: tot[k] for k in (
            "captures", "failed", "resets", "genuine", "suspect", "forged",
            "captures_with_forged", "signals", "forged_signals", "bt_flows",
            "bt_true", "bt_false", "bt_missed", "ndpi_flows", "bt_precision",
            "bt_recall", "parse_errors")},
        "forged": {rel: r["forged"] for rel, r in sorted(results.items()) if r["forged"]},
        "bittorrent": {rel: r["bittorrent"] for rel, r in sorted(results.items())
                       if r["bittorrent"]},
        "bt_false": {rel: r["bt_false"] for rel, r in sorted(results.items())
                     if r["bt_false"]},
        "bt_missed": {rel: r["bt_missed"] for rel, r in sorted(results.items())
                      if r["bt_missed"]},
        "failed": {rel: r["status"] for rel, r in sorted(results.items())
                   if r["status"] != "ok"},
        # Captures where a verdict or a recognition can change: what the
        # quick check in `make test` replays.
        "watch": sorted(rel for rel, r in results.items()
                        if r["resets"] or r["bittorrent"] or r["bt_missed"]),
    }


def print_report(results, tot, show_all):
    quiet = 0
    print("%-62s %7s %6s %5s %5s %5s  %-3s %-3s %-3s %5s  %s" % (
        "capture", "packets", "resets", "gen", "susp", "forg",
        "bt", "fp", "fn", "perr", "signals / status"))
    for rel in sorted(results):
        r = results[rel]
        busy = (r["resets"] or r["bittorrent"] or r["bt_missed"]
                or r["parse_errors"] or r["status"] != "ok")
        if not busy and not show_all:
            quiet += 1
            continue
        sig = " ".join("%s:%d" % (s, r["signals"][s]) for s in SIGNALS
                       if s in r["signals"])
        status = "" if r["status"] == "ok" else "  [%s]" % r["status"]
        print("%-62s %7d %6d %5d %5d %5d  %-3d %-3d %-3d %5d  %s%s" % (
            rel[-62:], r["packets"], r["resets"], r["verdicts"]["genuine"],
            r["verdicts"]["suspect"], r["verdicts"]["forged"],
            len(r["bittorrent"]), len(r["bt_false"]), len(r["bt_missed"]),
            r["parse_errors"], sig, status))
    if quiet:
        print("(%d captures with no reset, no BitTorrent, no parse error: "
              "not listed; --all lists them)" % quiet)
    print()
    print("forged verdicts (no capture is known to hold an injected reset):")
    for rel in sorted(results):
        for f in results[rel]["forged"]:
            print("  %s  %s  %s %s seq %d  %s" % (rel, f["time"], f["flags"],
                                                 f["flow"], f["seq"],
                                                 "+".join(f["signals"])))
    print("BitTorrent flows nDPI does not label:")
    for rel in sorted(results):
        for f in results[rel]["bt_false"]:
            print("  %s  %s" % (rel, f))
    print("BitTorrent flows nDPI labels that the probe missed:")
    for rel in sorted(results):
        for f in results[rel]["bt_missed"]:
            print("  %s  %s" % (rel, f))
    print()
    n = tot["resets"]
    print("TOTAL %d captures, %d failed, %d packets, %d parse errors in %d captures"
          % (tot["captures"], tot["failed"], tot["packets"], tot["parse_errors"],
             tot["captures_with_parse_errors"]))
    print("TOTAL resets %d: genuine %d, suspect %d, forged %d (in %d captures)"
          % (n, tot["genuine"], tot["suspect"], tot["forged"],
             tot["captures_with_forged"]))
    print("signal firing rate on the corpus's resets (all presumed honest), "
          "and in forged verdicts:")
    for s in SIGNALS:
        k = tot["signals"].get(s, 0)
        print("  %-3s %6d of %d  %6.2f%%   in forged: %d" % (
            s, k, n, 100.0 * k / n if n else 0.0, tot["forged_signals"].get(s, 0)))
    print("TOTAL BitTorrent: %d flows called, %d also nDPI's, %d not (false "
          "positives), %d of nDPI's %d missed; precision %s, recall %s"
          % (tot["bt_flows"], tot["bt_true"], tot["bt_false"], tot["bt_missed"],
             tot["ndpi_flows"], tot["bt_precision"], tot["bt_recall"]))


def compare(base, tot, results):
    """Regressions against the baseline: lines to print, empty when none."""
    bad = []
    bt = base.get("totals", {})
    if tot["forged"] > bt.get("forged", 0):
        bad.append("forged verdicts rose: %d, baseline %d" % (tot["forged"], bt["forged"]))
    if tot["bt_false"] > bt.get("bt_false", 0):
        bad.append("BitTorrent flows nDPI does not label rose: %d, baseline %d"
                   % (tot["bt_false"], bt["bt_false"]))
    for rel, r in sorted(results.items()):
        old = len(base.get("forged", {}).get(rel, []))
        if len(r["forged"]) > old:
            bad.append("  %s: %d forged, baseline %d" % (rel, len(r["forged"]), old))
        oldfp = set(base.get("bt_false", {}).get(rel, []))
        for f in r["bt_false"]:
            if f not in oldfp:
                bad.append("  %s: new BitTorrent false positive %s" % (rel, f))
        if r["status"] != "ok" and rel not in base.get("failed", {}):
            bad.append("  %s: failed: %s" % (rel, r["status"]))
    return bad


def cmd_run(args):
    if not FLOWPROBE.exists():
        sys.exit("corpus: %s not built (run make)" % FLOWPROBE)
    if os.geteuid() != 0:
        sys.exit("corpus: replay loads the XDP program: run as root")
    caps = captures()
    if not caps:
        sys.exit("corpus: no captures under %s" % CORPUS)
    base = load_json(BASELINE, {})
    if args.only == "watch":
        caps = [c for c in caps if c in set(base.get("watch", []))]
    labels = load_json(LABELS, {}).get("bittorrent", {})
    if not labels:
        print("corpus: no nDPI labels in %s (corpus.py label writes them): "
              "every BitTorrent flow counts as a false positive" % LABELS)
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(FLOWPROBE, BINARY)
    t0 = time.monotonic()
    results = replay_all(caps, args.jobs)
    if args.only and args.update_baseline:
        # The captures outside the watch list have no reset and no
        # BitTorrent flow, so no rule change can alter them: the last
        # full run's results stand for them.
        full = load_json(RESULT, {}).get("captures", {})
        if len(full) < len(captures()):
            sys.exit("corpus: --only watch --update-baseline needs a full run's "
                     "%s first" % RESULT)
        full.update(results)
        results = full
    labels = {k: v for k, v in labels.items() if k in results}
    tot = summarise(results, labels)
    print_report(results, tot, args.all)
    print("replayed in %.0f s with %d jobs" % (time.monotonic() - t0, args.jobs))
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps({"totals": tot, "captures": results}, indent=1) + "\n")
    if args.update_baseline:
        BASELINE.write_text(json.dumps(baseline_of(results, tot), indent=1,
                                       sort_keys=True) + "\n")
        print("baseline written: %s" % BASELINE)
        return 0
    if not base:
        print("no baseline yet (%s): --update-baseline writes one" % BASELINE)
        return 0
    if args.only:
        # A subset's totals are not the corpus's: compare per capture.
        tot = dict(tot, forged=0, bt_false=0)
        base = dict(base, totals={"forged": 0, "bt_false": 0})
    bad = compare(base, tot, results)
    for line in bad:
        print("REGRESSION " + line)
    print("baseline: %s" % ("REGRESSED" if bad else "held"))
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd")
    r = sub.add_parser("run")
    r.add_argument("--jobs", type=int, default=2)
    r.add_argument("--all", action="store_true", help="list every capture")
    r.add_argument("--update-baseline", action="store_true")
    r.add_argument("--only", choices=["watch"],
                   help="watch: only the captures the baseline lists as having "
                        "resets or BitTorrent (the quick check)")
    lab = sub.add_parser("label")
    lab.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    if args.cmd == "label":
        return cmd_label(args)
    if args.cmd in (None, "run"):
        if args.cmd is None:
            args = ap.parse_args(["run"])
        return cmd_run(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
