#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""The development corpus's baseline holds: no new forged verdict, no new
BitTorrent flow that nDPI does not label.

`make corpus` replays all 2,282 captures of ../shared/corpus (minutes);
this test replays the ones where a verdict or a recognition can change
(the baseline's "watch" list: every capture with a TCP reset, a flow
called BitTorrent, or a flow nDPI labels BitTorrent; tests/corpus/
baseline.json) and fails, per capture, when:

- a capture has more forged verdicts than the baseline lists for it;
- a flow is called BitTorrent that nDPI does not label and the baseline
  does not list;
- a capture that replayed fails (exit code, timeout);
- a flow nDPI labels BitTorrent is missed that the baseline found.

A change that lowers a count passes; `make corpus-baseline` then records
the new state, so the review shows it as a diff of baseline.json.
Skipped (TAP "ok ... # SKIP") when the corpus is not on this machine.
Run as root (replay loads the XDP program).
"""

import os
import sys
import time
from pathlib import Path

sys.dont_write_bytecode = True
REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "corpus"))
import corpus as C  # noqa: E402

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


def main():
    base = C.load_json(C.BASELINE, {})
    labels = C.load_json(C.LABELS, {}).get("bittorrent", {})
    watch = base.get("watch", [])
    if not C.CORPUS.is_dir() or not watch:
        print("ok 1 - corpus baseline # SKIP no corpus at %s or no baseline"
              % C.CORPUS)
        print("1..1")
        return 0
    missing = [w for w in watch if not (C.CORPUS / w).exists()]
    ok(not missing, f"the {len(watch)} watched captures are in the corpus",
       "\n".join(missing[:20]))
    watch = [w for w in watch if w not in missing]
    C.RESULT.parent.mkdir(parents=True, exist_ok=True)
    C.shutil.copy2(C.FLOWPROBE, C.BINARY)
    t0 = time.monotonic()
    results = C.replay_all(watch, 2)
    print(f"# replayed {len(watch)} captures in {time.monotonic() - t0:.0f} s",
          flush=True)
    tot = C.summarise(results, {k: v for k, v in labels.items() if k in results})

    forged_up, fp_new, fails, lost = [], [], [], []
    for rel, r in sorted(results.items()):
        old = base.get("forged", {}).get(rel, [])
        if len(r["forged"]) > len(old):
            forged_up.append(f"{rel}: {len(r['forged'])} forged, baseline "
                             f"{len(old)}")
            for f in r["forged"]:
                forged_up.append(f"  {f['time']} {f['flags']} {f['flow']} "
                                 f"{'+'.join(f['signals'])}")
        oldfp = set(base.get("bt_false", {}).get(rel, []))
        fp_new += [f"{rel}: {f}" for f in r["bt_false"] if f not in oldfp]
        if r["status"] != "ok" and rel not in base.get("failed", {}):
            fails.append(f"{rel}: {r['status']}")
        found = set(base.get("bittorrent", {}).get(rel, [])) & set(labels.get(rel, []))
        lost += [f"{rel}: {f}" for f in sorted(found - set(r["bittorrent"]))]

    bt = base.get("totals", {})
    ok(not forged_up,
       f"forged verdicts: {tot['forged']} in the watched captures, none above "
       f"the baseline (whole corpus: {bt.get('forged')})", "\n".join(forged_up))
    ok(not fp_new,
       f"BitTorrent flows nDPI does not label: {tot['bt_false']}, none new "
       f"(baseline {bt.get('bt_false')})", "\n".join(fp_new))
    ok(not fails, "no watched capture fails that replayed before",
       "\n".join(fails))
    ok(not lost, f"BitTorrent flows nDPI labels: {tot['bt_true']} found, none "
       "of the baseline's lost", "\n".join(lost))
    print(f"1..{n}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
