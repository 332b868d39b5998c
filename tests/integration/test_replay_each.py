#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""`flowprobe replay --each` gives, per file, exactly what a replay of that
file alone gives, with the program loaded once (what makes `make corpus`
take minutes, not half an hour).

For a handful of captures (flows, BitTorrent, resets judged forged and
genuine, a damaged file, a file that is no capture at all) the lines of
each file's section of one `--each` run must equal, as a multiset, the
lines of `flowprobe replay --json --counters FILE`, and its exit code the
single run's. One capture with resets runs twice in the batch, and a
BitTorrent capture after it: any table, counter, ring or daemon state not
reset between files changes the second run's counters, verdicts or
recognitions, and the test fails. The bad files must be reported by name
and must not stop the batch.

Not pinned by the test: the datapath keeps flows per CPU, and a replay
that migrated between CPUs mid-capture would create a flow twice
(flows_created would differ), so replay keeps itself on the CPU it
started on. This test relies on that: without it, a migration during a
capture would make a run differ now and then.
Run as root (replay loads the XDP program); skipped without the captures.
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
FLOWPROBE = Path(os.environ.get("FLOWPROBE", REPO / "flowprobe"))

CAPTURES = [
    "corpus/zeek/tls/ssl.v3.pcap",                  # a RST judged forged today
    "corpus/suricata/bug-2769/issue_no_icmp.pcap",  # five RST|ACKs, R4
    "corpus/suricata/bug-6875-01/fuzz.pcap",        # damaged: fails at packet 2
    "pcaps/zeek/single-rst.pcap",                   # a genuine RST
    "corpus/suricata/bug-2769/issue_no_icmp.pcap",  # again: state must not leak
    "pcaps/ndpi/bittorrent.pcap",                   # peers, handshakes, p2p host
    "pcaps/ndpi/bittorrent_utp.pcap",               # uTP pairs (LRU tables)
]

n = 0


def ok(cond, desc, detail=""):
    global n
    n += 1
    print(f"{'ok' if cond else 'not ok'} {n} - {desc}", flush=True)
    if not cond and detail:
        for line in str(detail).rstrip().splitlines()[:40]:
            print(f"#   {line}", flush=True)
    return cond


def run(args):
    return subprocess.run([str(FLOWPROBE), "replay", "--json", "--counters"] + args,
                          capture_output=True, text=True, timeout=600)


def sections(stdout):
    """[(file, exit, [lines])] in the order --each ran them, and the lines
    that were in no file's section (or ends that closed another's)."""
    out, stray, cur = [], [], None
    for line in stdout.splitlines():
        o = json.loads(line)
        if o["type"] == "replay_file":
            cur = (o["file"], [])
        elif o["type"] == "replay_end":
            if cur is None or cur[0] != o["file"]:
                stray.append(line)
            else:
                out.append((o["file"], o["exit"], sorted(cur[1])))
            cur = None
        elif cur is None:
            stray.append(line)
        else:
            cur[1].append(line)
    return out, stray


def main():
    files = [str(SHARED / c) for c in CAPTURES]
    missing = [f for f in files if not Path(f).exists()]
    if missing:
        print(f"1..0 # SKIP captures not on this machine: {missing[0]}")
        return 0
    with tempfile.NamedTemporaryFile(suffix=".pcap", delete=False) as junk:
        junk.write(b"this is not a capture\n")
    files.insert(3, junk.name)
    try:
        batch = run(["--each"] + files)
        singles = [run([f]) for f in files]
    finally:
        os.unlink(junk.name)

    got, stray = sections(batch.stdout)
    ok(not stray, "every output line is inside its file's section", "\n".join(stray))
    ok([g[0] for g in got] == files, "every file ran, in order, the bad ones too",
       "\n".join(g[0] for g in got))
    ok(batch.returncode == 1, f"a bad file makes the batch's exit code 1 "
       f"(got {batch.returncode})", batch.stderr)
    for (name, code, lines), single in zip(got, singles):
        want = sorted(ln for ln in single.stdout.splitlines() if ln)
        short = os.path.relpath(name, SHARED)
        ok(code == single.returncode,
           f"{short}: exit {code} as alone ({single.returncode})", single.stderr)
        diff = sorted(set(lines) ^ set(want))
        ok(lines == want, f"{short}: {len(lines)} lines, the same as alone",
           "\n".join(("only batched: " if d in lines else "only alone: ") + d[:300]
                     for d in diff))
        if code != 0:
            ok(any(name in ln and "error" in ln for ln in batch.stderr.splitlines()),
               f"{short}: its failure is logged with its name", batch.stderr)
    kinds = {json.loads(ln)["type"] for _, _, lines in got for ln in lines}
    ok({"reset", "flow", "counters", "bittorrent"} <= kinds,
       "the batch exercises resets, flows, counters and BitTorrent events",
       str(kinds))
    print(f"1..{n}")
    return 0


if __name__ == "__main__":
    rc = main()
    sys.exit(rc)
