#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""`flowprobe replay` on bad input, and several files as one timeline.

Bad input: a real capture cut in the middle of a packet record (pcap and
pcapng, in the record's data and in its header, and in the first packet),
random bytes, a pcap header followed by random bytes, an empty file, a
directory, a missing file, a capture of an unsupported link type (802.15.4),
and a good file followed by a missing one. Each must end with a non-zero
exit code that is not a signal (no crash), and exactly one line on stderr
that names the file (and, for a cut capture, the number of the packet that
is cut). The flows counted before the damage are still printed: exactly
the records a replay of the undamaged part prints.

Timeline: a capture split in two files (pcap, and pcapng) replayed as
`replay A B` must print exactly the records of the whole capture (flows
that span the two files are one flow); with the second file moved 1000 s
later, no record may span the gap.

Captures come from ../shared/pcaps/ndpi (relative to the repository root);
cases are built from them in a temporary directory. TAP output. Run as root.
"""

import datetime
import json
import os
import random
import re
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PCAP_DIR = REPO.parent / "shared" / "pcaps" / "ndpi"
FLOWPROBE = Path(os.environ.get("FLOWPROBE", REPO / "flowprobe"))
TIMEOUT = 120
PCAP_FILE = PCAP_DIR / "netflix.pcap"   # classic pcap, 1793 IP packets
PCAPNG_FILE = PCAP_DIR / "ssh.pcap"     # pcapng despite its name, 295


# ---- capture files, by hand ------------------------------------------------

def pcap_records(data):
    """[(offset, length)] of each record of a classic pcap, and the endian."""
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        raise ValueError("not a classic pcap")
    recs, off = [], 24
    while off + 16 <= len(data):
        incl = struct.unpack_from(e + "I", data, off + 8)[0]
        recs.append((off, 16 + incl))
        off += 16 + incl
    if off != len(data):
        raise ValueError("pcap does not end on a record boundary")
    return recs, e


def pcapng_blocks(data):
    """[(offset, length, type)] of each block of a pcapng file."""
    if data[:4] != b"\x0a\x0d\x0d\x0a":
        raise ValueError("not a pcapng file")
    bom = data[8:12]
    e = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
    blocks, off = [], 0
    while off + 12 <= len(data):
        btype, blen = struct.unpack_from(e + "II", data, off)
        blocks.append((off, blen, btype))
        off += blen
    if off != len(data):
        raise ValueError("pcapng does not end on a block boundary")
    return blocks


PACKET_BLOCKS = (2, 3, 6)  # obsolete packet, simple packet, enhanced packet


def pcapng_time(data, blocks, block):
    """Seconds (float) of an enhanced packet block, after if_tsresol."""
    e = "<" if data[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
    idbs = [b for b in blocks if b[2] == 1]
    off, _, btype = block
    if btype != 6:
        raise ValueError("not an enhanced packet block")
    ifid, hi, lo = struct.unpack_from(e + "III", data, off + 8)
    ioff, ilen, _ = idbs[ifid]
    resol = 1e-6
    o = ioff + 16
    while o + 4 <= ioff + ilen - 4:
        code, olen = struct.unpack_from(e + "HH", data, o)
        if code == 0:
            break
        if code == 9 and olen == 1:
            v = data[o + 4]
            resol = 2.0 ** -(v & 0x7F) if v & 0x80 else 10.0 ** -v
        o += 4 + (olen + 3) // 4 * 4
    return ((hi << 32) | lo) * resol


def pcap_header(linktype, nano=False):
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    return struct.pack("<IHHiIII", magic, 2, 4, 0, 0, 65535, linktype)


# ---- running the probe -----------------------------------------------------

class Run:
    def __init__(self, args):
        try:
            p = subprocess.run([str(FLOWPROBE), "replay", "--json"] + args,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, timeout=TIMEOUT)
            self.rc, self.out, self.err = p.returncode, p.stdout, p.stderr
        except subprocess.TimeoutExpired as e:
            self.rc, self.out = "timeout", (e.stdout or b"").decode()
            self.err = (e.stderr or b"").decode()
        self.records, self.bad = [], []
        for line in self.out.splitlines():
            try:
                o = json.loads(line)
            except ValueError:
                self.bad.append(line)
                continue
            if o.get("type") == "flow":
                self.records.append(o)

    def lines(self):
        return [l for l in self.err.splitlines() if l.strip()]

    def packets(self):
        return sum(r["packets"] for r in self.records)

    def canon(self):
        return sorted(json.dumps(r, sort_keys=True) for r in self.records)


def parse_time(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ")


class Tap:
    def __init__(self, planned):
        self.n = 0
        self.failed = 0
        print(f"1..{planned}")

    def result(self, desc, problems, details=()):
        self.n += 1
        if problems:
            self.failed += 1
            print(f"not ok {self.n} - {desc}: " + "; ".join(problems))
        else:
            print(f"ok {self.n} - {desc}")
        for d in details:
            print(f"#   {d}")
        sys.stdout.flush()


def error_problems(run, path, must_contain=()):
    """What is wrong with how a replay reported an error about `path`."""
    p = []
    if run.rc == "timeout":
        return [f"did not finish within {TIMEOUT} s"]
    if run.rc < 0:
        p.append(f"killed by signal {-run.rc} (crash)")
    elif run.rc == 0:
        p.append("exit code 0 on bad input")
    lines = run.lines()
    if len(lines) != 1:
        p.append(f"{len(lines)} lines on stderr, expected one")
    naming = [l for l in lines if str(path) in l]
    if not naming:
        p.append(f"no stderr line names {path}")
    for s in must_contain:
        # Whole words: "packet 1" must not match "packet 1234".
        if not any(re.search(r"(?<!\w)" + re.escape(s) + r"(?!\w)", l)
                   for l in naming):
            p.append(f"the message does not say '{s}'")
    if run.bad:
        p.append(f"{len(run.bad)} stdout lines are not JSON")
    return p


def details_of(run):
    d = [f"exit {run.rc}"]
    d += [f"stderr: {l}" for l in run.lines()[:5]]
    return d


# ---- cases -----------------------------------------------------------------

def case_cut(tap, tmp, name, data, rec_off, rec_len, number, where, fmt):
    """Cut `data` inside the record at rec_off (packet `number`)."""
    if where == "data":
        cut = rec_off + rec_len // 2 + 4
    else:  # in the record's header
        cut = rec_off + 6
    damaged = tmp / f"{name}-cut-{number}-{where}.{fmt}"
    damaged.write_bytes(data[:cut])
    clean = tmp / f"{name}-upto-{number - 1}.{fmt}"
    clean.write_bytes(data[:rec_off])
    bad = Run([str(damaged)])
    good = Run([str(clean)]) if number > 1 else None
    problems = error_problems(bad, damaged, (f"packet {number}",))
    if good is not None:
        if good.rc != 0:
            problems.append(f"replay of the first {number - 1} packets "
                            f"(undamaged) exited {good.rc}")
        if bad.canon() != good.canon():
            problems.append(
                f"flows printed before the cut ({len(bad.records)} records, "
                f"{bad.packets()} packets) differ from a replay of the "
                f"{number - 1} packets before it ({len(good.records)} "
                f"records, {good.packets()} packets)")
        if not good.records:
            problems.append("no flow before the cut: the case tests nothing")
    elif bad.records:
        problems.append(f"{len(bad.records)} records printed, nothing was "
                        f"counted")
    desc = (f"{fmt} cut in the {'data' if where == 'data' else 'header'} of "
            f"packet {number} ({name}): exit non-zero, one line naming file "
            f"and packet, {len(bad.records)} records of the "
            f"{max(number - 1, 0)} packets before it printed")
    tap.result(desc, problems, details_of(bad) if problems else
               [f"stderr: {l}" for l in bad.lines()])


def case_error(tap, desc, path, args=None, must_contain=()):
    run = Run(args if args is not None else [str(path)])
    problems = error_problems(run, path, must_contain)
    if args is None and run.records:
        problems.append(f"{len(run.records)} flow records from bad input")
    tap.result(desc, problems, details_of(run) if problems else
               [f"stderr: {l}" for l in run.lines()])
    return run


def split_pcap(data, recs, k, shift_s=0):
    """Classic pcap in two: records [0, k) and [k, n), the second shifted."""
    e = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    a = data[:recs[k][0]]
    b = bytearray(data[:24])
    for off, ln in recs[k:]:
        rec = bytearray(data[off:off + ln])
        sec = struct.unpack_from(e + "I", rec, 0)[0]
        struct.pack_into(e + "I", rec, 0, sec + shift_s)
        b += rec
    return a, bytes(b), struct.unpack_from(e + "I", data, recs[k][0])[0]


def split_pcapng(data, blocks, k):
    """pcapng in two at the k-th packet block; both keep the header blocks."""
    pk = [b for b in blocks if b[2] in PACKET_BLOCKS]
    first_pk = pk[0][0]
    cut = pk[k][0]
    head = data[:first_pk]
    if any(b[2] not in PACKET_BLOCKS for b in blocks
           if first_pk <= b[0] < cut):
        raise ValueError("interface blocks between packets: cannot split")
    return data[:cut], head + data[cut:]


def spanning(records, t_split):
    """Records whose [first, last] contains t_split (a datetime)."""
    return [r for r in records
            if parse_time(r["first"]) < t_split < parse_time(r["last"])]


def case_timeline(tap, tmp, desc, whole_path, a, b, fmt, t_split):
    pa, pb = tmp / f"part1.{fmt}", tmp / f"part2.{fmt}"
    pa.write_bytes(a)
    pb.write_bytes(b)
    whole = Run([str(whole_path)])
    parts = Run([str(pa), str(pb)])
    problems = []
    if whole.rc != 0 or parts.rc != 0:
        problems.append(f"exit codes: whole {whole.rc}, parts {parts.rc}")
    span = spanning(whole.records, t_split)
    if not span:
        problems.append("no flow spans the split: the case tests nothing")
    if whole.canon() != parts.canon():
        w, p = set(whole.canon()), set(parts.canon())
        problems.append(f"records differ: {len(w - p)} only in the whole "
                        f"capture's replay, {len(p - w)} only in the split "
                        f"one's")
        details = [f"whole only: {r}" for r in sorted(w - p)[:5]]
        details += [f"split only: {r}" for r in sorted(p - w)[:5]]
    else:
        details = []
    tap.result(f"{desc}: {len(parts.records)} records, {parts.packets()} "
               f"packets, identical to the whole capture's; {len(span)} "
               f"records span the two files", problems,
               details + (details_of(parts) if problems else []))


def case_gap(tap, tmp, data, recs, k):
    a, b, _ = split_pcap(data, recs, k, shift_s=1000)
    pa, pb = tmp / "gap1.pcap", tmp / "gap2.pcap"
    pa.write_bytes(a)
    pb.write_bytes(b)
    whole = Run([str(PCAP_FILE)])
    run = Run([str(pa), str(pb)])
    e = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    last_a = struct.unpack_from(e + "I", data, recs[k - 1][0])[0]
    first_b = struct.unpack_from(e + "I", data, recs[k][0])[0] + 1000
    gap_mid = datetime.datetime.fromtimestamp(
        (last_a + 1 + first_b) / 2, datetime.timezone.utc).replace(tzinfo=None)
    problems = []
    if run.rc != 0:
        problems.append(f"exit {run.rc}")
    across = spanning(run.records, gap_mid)
    if across:
        problems.append(f"{len(across)} records span the 1000 s gap between "
                        f"the files")
    if run.packets() != whole.packets():
        problems.append(f"{run.packets()} packets, the whole capture gives "
                        f"{whole.packets()}")
    if len(run.records) <= len(whole.records):
        problems.append(f"{len(run.records)} records, not more than the "
                        f"whole capture's {len(whole.records)}: no flow was "
                        f"cut by the gap")
    tap.result(f"two files 1000 s apart: flows end at the gap "
               f"({len(run.records)} records against "
               f"{len(whole.records)}), {run.packets()} packets",
               problems, [f"record across the gap: {json.dumps(r)}"
                          for r in across[:5]])


def main():
    if not PCAP_DIR.is_dir():
        print(f"1..0 # SKIP no captures: {PCAP_DIR} is missing")
        return 0
    if os.geteuid() != 0:
        print("1..0 # SKIP flowprobe replay needs root (BPF_PROG_TEST_RUN)")
        return 0
    planned = 17
    tap = Tap(planned)
    if not FLOWPROBE.exists():
        for _ in range(planned):
            tap.result(f"{FLOWPROBE} is not built (run 'make flowprobe')",
                       ["missing"])
        return 1
    with tempfile.TemporaryDirectory(prefix="flowprobe-errors-") as tmpd:
        tmp = Path(tmpd)
        pcap = PCAP_FILE.read_bytes()
        recs, _ = pcap_records(pcap)
        ng = PCAPNG_FILE.read_bytes()
        blocks = pcapng_blocks(ng)
        ng_pk = [b for b in blocks if b[2] in PACKET_BLOCKS]

        # 1-5: cut captures.
        k = 1000
        case_cut(tap, tmp, "netflix", pcap, *recs[k - 1], k, "data", "pcap")
        case_cut(tap, tmp, "netflix", pcap, *recs[k - 1], k, "header", "pcap")
        case_cut(tap, tmp, "netflix", pcap, *recs[0], 1, "data", "pcap")
        k = 150
        case_cut(tap, tmp, "ssh", ng, *ng_pk[k - 1][:2], k, "data", "pcapng")
        case_cut(tap, tmp, "ssh", ng, *ng_pk[k - 1][:2], k, "header", "pcapng")

        # 6-11: files that are no capture at all.
        rng = random.Random(7)
        garbage = tmp / "garbage.pcap"
        body = bytearray(rng.randbytes(65536))
        body[0] = 0x42  # certainly no pcap/pcapng magic
        garbage.write_bytes(bytes(body))
        case_error(tap, "random bytes: exit non-zero, one line naming the file",
                   garbage)
        hdr_garbage = tmp / "header-then-garbage.pcap"
        hdr_garbage.write_bytes(pcap_header(1) + rng.randbytes(65536))
        case_error(tap, "pcap header then random bytes: exit non-zero, one "
                   "line naming the file", hdr_garbage)
        empty = tmp / "empty.pcap"
        empty.write_bytes(b"")
        case_error(tap, "empty file: exit non-zero, one line naming the file",
                   empty)
        directory = tmp / "a-directory.pcap"
        directory.mkdir()
        case_error(tap, "a directory: exit non-zero, one line naming it",
                   directory)
        missing = tmp / "no-such-file.pcap"
        case_error(tap, "missing file: exit non-zero, one line naming it",
                   missing)
        # IEEE 802.15.4 (ZigBee and friends): no IP to map to.
        wpan = tmp / "ieee802_15_4.pcap"
        frame = bytes(40)
        wpan.write_bytes(pcap_header(195) +
                         struct.pack("<IIII", 1700000000, 0, len(frame),
                                     len(frame)) + frame)
        case_error(tap, "link type 195 (802.15.4): exit non-zero, one line "
                   "naming the file and the link type", wpan,
                   must_contain=("195",))

        # 12: a good file, then a missing one: the good file's flows stay.
        run = Run([str(PCAP_FILE), str(missing)])
        whole = Run([str(PCAP_FILE)])
        problems = error_problems(run, missing)
        if run.canon() != whole.canon():
            problems.append(f"{len(run.records)} records ({run.packets()} "
                            f"packets), the good file alone gives "
                            f"{len(whole.records)} ({whole.packets()})")
        tap.result(f"good file then missing file: exit non-zero, one line "
                   f"naming the missing file, the good file's "
                   f"{len(whole.records)} records printed", problems,
                   details_of(run) if problems else
                   [f"stderr: {l}" for l in run.lines()])

        # 13-14: one timeline over two files.
        k = len(recs) // 2
        a, b, split_s = split_pcap(pcap, recs, k)
        t_split = datetime.datetime.fromtimestamp(
            split_s, datetime.timezone.utc).replace(tzinfo=None)
        case_timeline(tap, tmp, "netflix.pcap as two pcap files, one "
                      "timeline", PCAP_FILE, a, b, "pcap", t_split)
        k = len(ng_pk) // 2
        a, b = split_pcapng(ng, blocks, k)
        t_split_ng = datetime.datetime.fromtimestamp(
            pcapng_time(ng, blocks, ng_pk[k]),
            datetime.timezone.utc).replace(tzinfo=None)
        case_timeline(tap, tmp, "ssh.pcap (pcapng) as two pcapng files, one "
                      "timeline", PCAPNG_FILE, a, b, "pcapng", t_split_ng)

        # 15: a 1000 s gap between the files ends the flows.
        case_gap(tap, tmp, pcap, recs, len(recs) // 2)

        # 16-17: garbage after a valid prefix, and a huge record length.
        k = 500
        tail = tmp / "netflix-then-garbage.pcap"
        tail.write_bytes(pcap[:recs[k - 1][0]] + rng.randbytes(4096))
        run = Run([str(tail)])
        problems = error_problems(run, tail, (f"packet {k}",))
        tap.result(f"pcap whose packet {k} onwards is random bytes: exit "
                   f"non-zero, one line naming file and packet",
                   problems, details_of(run) if problems else
                   [f"stderr: {l}" for l in run.lines()])
        huge = tmp / "huge-record.pcap"
        huge.write_bytes(pcap_header(1) +
                         struct.pack("<IIII", 1700000000, 0, 0x7FFFFFF0,
                                     0x7FFFFFF0) + bytes(64))
        run = Run([str(huge)])
        problems = error_problems(run, huge, ("packet 1",))
        tap.result("pcap record claiming 2 GB: exit non-zero, one line naming "
                   "file and packet", problems, details_of(run) if problems
                   else [f"stderr: {l}" for l in run.lines()])
    if tap.n != planned:
        print(f"# planned {planned} results, printed {tap.n}")
        return 1
    return 1 if tap.failed else 0


if __name__ == "__main__":
    sys.exit(main())
