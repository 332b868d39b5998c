#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Replay nDPI's test captures and check flowprobe's flow accounting.

For every capture in ../shared/pcaps/ndpi/ (relative to the repository
root), `flowprobe replay --json` is run and its unidirectional flow records
are summed per bidirectional 5-tuple, then compared with nDPI's own
expected output (the `.out` file next to the capture):

- packets: both directions added, equal to nDPI's;
- bytes: nDPI counts whole frames (frame.len, link header and Ethernet
  padding included), flowprobe counts IP-layer bytes (IPv4 total length,
  IPv6 payload length + 40). tshark tells, for every packet, its link
  header length and its IP length; the expected IP bytes of a flow are
  nDPI's bytes minus the link headers minus the padding of that flow's
  packets. A TAP comment says how many bytes padding accounts for;
- no flow on one side only (every unmatched flow is listed);
- across the whole capture, flowprobe's packets and IP bytes equal what
  tshark finds in the capture's IP packets, so a packet lost or counted
  twice fails the test even when nDPI does not see that packet;
- each direction matches tshark's own per-direction sum (ICMP as
  type*256+code in dport, later fragments with their first fragment).

IP fragments: nDPI's reader does not reassemble and skips every fragment
with a non-zero offset (it has no ports to key it with); flowprobe counts
such a "later" fragment into the flow of its first fragment (same src,
dst, protocol and IP ID / IPv6 fragment identification), or into a
ports-0 flow when the first fragment was not seen. So the expected value
of a flow is nDPI's plus the later fragments that tshark attributes to it.

Tunnels: nDPI's reader decapsulates GTP-U, TZSP, CAPWAP and VXLAN and
keys such flows on the inner header; flowprobe does so for GTP-U and
VXLAN (and GRE, IP-in-IP, Geneve, Teredo), not for TZSP and CAPWAP
(tests/integration/test_replay_encap.py checks its inner flows).
A capture holding a tunnel is reported in a TAP comment. (ICMP errors that
quote an IP header are not tunnels: both sides count them as ICMP.)

TAP output, one line per capture, details as '#' lines. Run as root.
"""

import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PCAP_DIR = REPO.parent / "shared" / "pcaps" / "ndpi"
# FLOWPROBE overrides the binary (e.g. a wrapper, to see this test fail).
FLOWPROBE = Path(os.environ.get("FLOWPROBE", REPO / "flowprobe"))
REPLAY_TIMEOUT = 300

PROTO_NUMBERS = {"TCP": 6, "UDP": 17, "ICMP": 1, "ICMPV6": 58, "IGMP": 2,
                 "SCTP": 132, "GRE": 47, "ESP": 50, "AH": 51}
PROTO_NAMES = {v: k for k, v in PROTO_NUMBERS.items()}
ICMP_PROTOS = (1, 58)
# tshark layer names after the (last) IP header, as in frame.protocols.
L4_LAYERS = {"tcp": 6, "udp": 17, "icmp": 1, "icmpv6": 58, "igmp": 2,
             "sctp": 132, "gre": 47, "esp": 50, "ah": 51}
IPV6_EXT_LAYERS = ("ipv6.hopopts", "ipv6.routing", "ipv6.dstopts",
                   "ipv6.fraghdr", "ipv6.shim6", "ipv6.mipv6")
# Layers that mean an IP packet inside another one (what nDPI's reader
# decapsulates, and what neither side does).
TUNNEL_LAYERS = ("gtp", "tzsp", "capwap", "vxlan", "teredo", "gre",
                 "l2tp", "geneve", "erspan")

NDPI_FLOW_RE = re.compile(
    r"^\t\d+\t(?P<proto>\S+) (?P<a>\[[0-9a-fA-F:.]+\]|[0-9.]+):(?P<ap>\d+) "
    r"(?P<arrow><->|->) (?P<b>\[[0-9a-fA-F:.]+\]|[0-9.]+):(?P<bp>\d+) ")
NDPI_COUNTS_RE = re.compile(
    r"\[(\d+) pkts/(\d+) bytes (?:<->|->) (\d+) pkts/(\d+) bytes\]")


def norm_addr(text):
    return ipaddress.ip_address(text.strip("[]")).compressed


def bidir_key(proto, src, sport, dst, dport):
    """Bidirectional key: ICMP type/code dropped, as nDPI prints ports 0."""
    if proto in ICMP_PROTOS:
        sport = dport = 0
    a, b = (src, sport), (dst, dport)
    return (proto,) + (a + b if a <= b else b + a)


def fmt_key(k):
    proto, a, ap, b, bp = k
    name = PROTO_NAMES.get(proto, str(proto))
    fa = f"[{a}]" if ":" in a else a
    fb = f"[{b}]" if ":" in b else b
    return f"{name} {fa}:{ap} <-> {fb}:{bp}"


def fmt_ukey(k):
    proto, s, sp, d, dp = k
    name = PROTO_NAMES.get(proto, str(proto))
    fs = f"[{s}]" if ":" in s else s
    fd = f"[{d}]" if ":" in d else d
    return f"{name} {fs}:{sp} -> {fd}:{dp}"


class Result:
    def __init__(self):
        self.errors = []   # each: a one-line reason (detail lines follow)
        self.details = []  # '#' lines printed after the result
        self.notes = []    # '#' lines printed before the result

    def fail(self, msg):
        self.errors.append(msg)


def parse_ndpi(out_file):
    """{bidir key: [packets, bytes]} from nDPI's .out, summed over lines."""
    flows = defaultdict(lambda: [0, 0])
    lines = 0
    for line in out_file.read_text(errors="replace").splitlines():
        m = NDPI_FLOW_RE.match(line)
        if not m:
            continue
        c = NDPI_COUNTS_RE.search(line)
        if not c:
            raise ValueError(f"{out_file.name}: flow line without counts: "
                             f"{line[:120]}")
        name = m.group("proto")
        proto = PROTO_NUMBERS.get(name.upper())
        if proto is None:
            proto = int(name) if name.isdigit() else name
        key = bidir_key(proto, norm_addr(m.group("a")), int(m.group("ap")),
                        norm_addr(m.group("b")), int(m.group("bp")))
        p1, b1, p2, b2 = map(int, c.groups())
        flows[key][0] += p1 + p2
        flows[key][1] += b1 + b2
        lines += 1
    return flows, lines


def first(v):
    return v.split(",")[0] if v else ""


TSHARK_FIELDS = [
    "frame.number", "frame.len", "frame.cap_len", "frame.protocols",
    "ip.src", "ip.dst", "ip.len", "ip.proto", "ip.id", "ip.flags.mf",
    "ip.frag_offset",
    "ipv6.src", "ipv6.dst", "ipv6.plen",
    "ipv6.fraghdr.nxt", "ipv6.fraghdr.ident", "ipv6.fraghdr.offset",
    "ipv6.fraghdr.more",
    "tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport",
    "sctp.srcport", "sctp.dstport",
    "icmp.type", "icmp.code", "icmpv6.type", "icmpv6.code",
]


class Packet:
    __slots__ = ("number", "frame_len", "link", "ip_len", "pad", "ukey",
                 "later_frag", "frag_id", "first_frag", "tunnel", "proto")


def read_packets(pcap):
    """Every IP packet of the capture as tshark decodes it (no reassembly)."""
    cmd = ["tshark", "-n", "-r", str(pcap),
           "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE",
           "-T", "fields", "-E", "separator=\t", "-E", "occurrence=f"]
    for f in TSHARK_FIELDS:
        cmd += ["-e", f]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=300)
    if p.returncode != 0:
        raise RuntimeError(f"tshark failed ({p.returncode}): "
                           f"{p.stderr.strip()[-300:]}")
    packets, non_ip, truncated = [], 0, 0
    for line in p.stdout.splitlines():
        v = dict(zip(TSHARK_FIELDS, line.split("\t")))
        layers = v["frame.protocols"].split(":")
        ipi = next((i for i, x in enumerate(layers) if x in ("ip", "ipv6")),
                   None)
        if ipi is None:
            non_ip += 1
            continue
        pk = Packet()
        pk.number = int(v["frame.number"])
        pk.frame_len = int(v["frame.len"])
        if int(v["frame.cap_len"]) < pk.frame_len:
            truncated += 1
        v4 = layers[ipi] == "ip"
        if v4:
            src, dst = v["ip.src"], v["ip.dst"]
            pk.ip_len = int(first(v["ip.len"]))
        else:
            src, dst = v["ipv6.src"], v["ipv6.dst"]
            pk.ip_len = int(first(v["ipv6.plen"])) + 40
        src, dst = norm_addr(first(src)), norm_addr(first(dst))
        # Link header: Ethernet plus its VLAN tags; other link types have
        # no padding, so everything before the IP header is the link.
        pre = layers[:ipi]
        if pre and pre[0] == "eth":
            pk.link = 14 + 4 * sum(1 for x in pre if x in ("vlan", "ieee8021ad"))
        else:
            pk.link = pk.frame_len - pk.ip_len
        pk.pad = pk.frame_len - pk.link - pk.ip_len
        # L4: the layer after the IP header and its extension headers.
        j = ipi + 1
        while j < len(layers) and layers[j] in IPV6_EXT_LAYERS:
            j += 1
        l4 = layers[j] if j < len(layers) else ""
        pk.tunnel = next((x for x in layers[ipi + 1:] if x in TUNNEL_LAYERS),
                         None)
        if pk.tunnel is None and l4 in ("tcp", "udp") and \
                any(x in ("ip", "ipv6") for x in layers[j + 1:]):
            pk.tunnel = "ip-in-" + l4
        if pk.tunnel is None and l4 in ("ip", "ipv6"):
            pk.tunnel = f"{layers[ipi]}-in-{layers[ipi]}"
        if v4:
            proto = int(first(v["ip.proto"]))
            frag_off = int(first(v["ip.frag_offset"]) or 0)
            more = first(v["ip.flags.mf"]) in ("1", "True")
            frag_id = int(first(v["ip.id"]), 16) if v["ip.id"] else 0
            is_frag = more or frag_off > 0
        else:
            proto = L4_LAYERS.get(l4)
            is_frag = bool(v["ipv6.fraghdr.ident"])
            frag_off = int(first(v["ipv6.fraghdr.offset"]) or 0)
            frag_id = int(first(v["ipv6.fraghdr.ident"]), 16) if is_frag else 0
            if proto is None and is_frag:
                proto = int(first(v["ipv6.fraghdr.nxt"]))
        if proto is None:
            proto = l4 or "?"
        pk.proto = proto
        pk.later_frag = is_frag and frag_off > 0
        pk.first_frag = is_frag and frag_off == 0
        pk.frag_id = (4 if v4 else 6, src, dst, proto, frag_id)
        sport = dport = 0
        if not pk.later_frag:
            if proto == 6:
                sport, dport = v["tcp.srcport"], v["tcp.dstport"]
            elif proto == 17:
                sport, dport = v["udp.srcport"], v["udp.dstport"]
            elif proto == 132:
                sport, dport = v["sctp.srcport"], v["sctp.dstport"]
            elif proto == 1:
                sport, dport = "0", str(int(first(v["icmp.type"]) or 0) * 256
                                        + int(first(v["icmp.code"]) or 0))
            elif proto == 58:
                sport, dport = "0", str(int(first(v["icmpv6.type"]) or 0) * 256
                                        + int(first(v["icmpv6.code"]) or 0))
            sport, dport = int(first(sport) or 0), int(first(dport) or 0)
        pk.ukey = (proto, src, sport, dst, dport)
        packets.append(pk)
    # Later fragments take the ports of their first fragment, if seen
    # before them (as the probe does).
    firsts = {}
    for pk in packets:
        if pk.first_frag:
            firsts[pk.frag_id] = pk.ukey
        elif pk.later_frag and pk.frag_id in firsts:
            pk.ukey = firsts[pk.frag_id]
    return packets, non_ip, truncated


def run_replay(pcap):
    p = subprocess.run([str(FLOWPROBE), "replay", "--json", str(pcap)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=REPLAY_TIMEOUT)
    flows = []
    bad = []
    for line in p.stdout.splitlines():
        try:
            o = json.loads(line)
        except ValueError:
            bad.append(line)
            continue
        if o.get("type") == "flow":
            flows.append(o)
    return p.returncode, p.stderr, flows, bad


def check_capture(pcap, res):
    out = pcap.with_name(pcap.name + ".out")
    if not out.exists():
        res.fail(f"{out.name} is missing")
        return
    ndpi, ndpi_lines = parse_ndpi(out)
    if not ndpi:
        res.fail(f"no flow lines found in {out.name} (format changed?)")
        return
    packets, non_ip, truncated = read_packets(pcap)

    rc, err, flows, bad = run_replay(pcap)
    if rc != 0:
        res.fail(f"flowprobe replay exited {rc}")
        res.details += [f"stderr: {l}" for l in err.strip().splitlines()[-5:]]
        return
    if bad:
        res.fail(f"{len(bad)} stdout lines are not JSON")
        res.details += [f"not JSON: {l[:150]}" for l in bad[:3]]
    for l in err.strip().splitlines():
        res.notes.append(f"replay stderr: {l}")

    # --- flowprobe's records: per direction and per bidirectional key.
    probe_u = defaultdict(lambda: [0, 0, 0])  # packets, bytes, records
    for f in flows:
        try:
            k = (int(f["proto"]), norm_addr(f["src"]), int(f["sport"]),
                 norm_addr(f["dst"]), int(f["dport"]))
            probe_u[k][0] += int(f["packets"])
            probe_u[k][1] += int(f["bytes"])
            probe_u[k][2] += 1
        except (KeyError, ValueError, TypeError) as e:
            res.fail(f"flow record without a contract field: {e}: {f}")
            return
    probe_b = defaultdict(lambda: [0, 0])
    for k, (p, b, _) in probe_u.items():
        bk = bidir_key(*k)
        probe_b[bk][0] += p
        probe_b[bk][1] += b

    # --- tshark's packets: per direction, and what nDPI saw of them.
    ts_u = defaultdict(lambda: [0, 0])
    # per bidir key: nDPI-visible packets, their link bytes, their padding,
    # and the later fragments nDPI skips (packets, IP bytes).
    ts_b = defaultdict(lambda: {"pk": 0, "link": 0, "pad": 0, "padded": 0,
                                "fr_pk": 0, "fr_bytes": 0})
    tunnels = defaultdict(int)
    for pk in packets:
        ts_u[pk.ukey][0] += 1
        ts_u[pk.ukey][1] += pk.ip_len
        t = ts_b[bidir_key(*pk.ukey)]
        if pk.tunnel:
            tunnels[pk.tunnel] += 1
        if pk.later_frag:
            t["fr_pk"] += 1
            t["fr_bytes"] += pk.ip_len
        else:
            t["pk"] += 1
            t["link"] += pk.link
            t["pad"] += pk.pad
            t["padded"] += pk.pad > 0

    total_pk = len(packets)
    total_ip = sum(pk.ip_len for pk in packets)
    pad_frames = sum(1 for pk in packets if pk.pad > 0)
    pad_bytes = sum(pk.pad for pk in packets)
    later = [pk for pk in packets if pk.later_frag]
    probe_pk = sum(v[0] for v in probe_u.values())
    probe_bytes = sum(v[1] for v in probe_u.values())
    ndpi_pk = sum(v[0] for v in ndpi.values())
    ndpi_bytes = sum(v[1] for v in ndpi.values())

    res.notes.append(
        f"{pcap.name}: {total_pk} IP packets ({non_ip} other frames"
        f"{f', {truncated} cut short by the snap length' if truncated else ''}"
        f"), {total_ip} IP bytes; nDPI {ndpi_lines} flow lines, "
        f"{ndpi_pk} packets, {ndpi_bytes} frame bytes; flowprobe "
        f"{len(flows)} records, {probe_pk} packets, {probe_bytes} IP bytes")
    res.notes.append(
        f"{pcap.name}: Ethernet padding: {pad_frames} frames padded, "
        f"{pad_bytes} bytes (frame.len - link header - IP length summed); "
        f"nDPI bytes - link headers = {ndpi_bytes - sum(pk.link for pk in packets if not pk.later_frag)}"
        f", minus padding = "
        f"{ndpi_bytes - sum(pk.link + pk.pad for pk in packets if not pk.later_frag)}")
    if later:
        by_first = sum(1 for pk in later if pk.ukey[2] or pk.ukey[4])
        res.notes.append(
            f"{pcap.name}: {len(later)} later IP fragments "
            f"({sum(pk.ip_len for pk in later)} IP bytes, frames "
            f"{','.join(str(pk.number) for pk in later)}): nDPI skips them, "
            f"flowprobe counts them into their first fragment's flow "
            f"({by_first}) or a ports-0 flow ({len(later) - by_first}); "
            f"expected = nDPI + these")
    if not tunnels:
        res.notes.append(f"{pcap.name}: no tunnelled packets (no IP inside "
                         f"UDP/GRE/IP other than ICMP errors' quotes)")
    else:
        res.notes.append(
            f"{pcap.name}: tunnelled packets: "
            + ", ".join(f"{n} {t}" for t, n in sorted(tunnels.items()))
            + " (flowprobe counts them on the outer header; nDPI's reader "
              "decapsulates GTP-U/TZSP/CAPWAP/VXLAN and would key them on "
              "the inner one)")

    # 1. Nothing lost, nothing counted twice: the capture's IP packets.
    if probe_pk != total_pk or probe_bytes != total_ip:
        res.fail(f"flowprobe counted {probe_pk} packets / {probe_bytes} IP "
                 f"bytes, the capture holds {total_pk} / {total_ip}")
    # nDPI must see the capture as we think it does, or the rest is moot.
    if ndpi_pk != total_pk - len(later):
        res.fail(f"nDPI counts {ndpi_pk} packets, tshark finds "
                 f"{total_pk - len(later)} IP packets that are not later "
                 f"fragments: this test's model of nDPI is wrong")

    # 2. Per bidirectional flow against nDPI.
    mismatch, only_probe, only_ndpi = [], [], []
    for k, (npk, nby) in sorted(ndpi.items(), key=lambda x: str(x[0])):
        t = ts_b.get(k)
        if k not in probe_b:
            only_ndpi.append(f"nDPI only: {fmt_key(k)}: {npk} pkts/{nby} "
                             f"frame bytes")
            continue
        ppk, pby = probe_b[k]
        if t is None:
            mismatch.append(f"{fmt_key(k)}: tshark has no packet of it")
            continue
        if t["pk"] != npk:
            mismatch.append(f"{fmt_key(k)}: nDPI {npk} pkts, tshark "
                            f"attributes {t['pk']} (cannot derive IP bytes)")
        exp_pk = npk + t["fr_pk"]
        exp_by = nby - t["link"] - t["pad"] + t["fr_bytes"]
        if (ppk, pby) != (exp_pk, exp_by):
            extra = ""
            if t["fr_pk"]:
                extra = (f" + {t['fr_pk']} later fragments/"
                         f"{t['fr_bytes']} B")
            mismatch.append(
                f"{fmt_key(k)}: flowprobe {ppk} pkts/{pby} B, expected "
                f"{exp_pk}/{exp_by} (nDPI {npk} pkts/{nby} B - link "
                f"{t['link']} - padding {t['pad']}{extra})")
    for k, (ppk, pby) in sorted(probe_b.items(), key=lambda x: str(x[0])):
        if k not in ndpi:
            t = ts_b.get(k, {})
            why = ""
            if t and t["pk"] == 0 and t["fr_pk"]:
                why = (" (only later fragments whose first fragment is not "
                       "in the capture: nDPI skips those)")
            only_probe.append(f"flowprobe only: {fmt_key(k)}: {ppk} pkts/"
                              f"{pby} B{why}")
    # A ports-0 flow made only of orphan later fragments is the documented
    # behaviour, not an error, as long as tshark agrees (checked below).
    orphan_ok = [s for s in only_probe if "only later fragments" in s]
    only_probe = [s for s in only_probe if s not in orphan_ok]
    res.details += [f"note: {s}" for s in orphan_ok]
    if mismatch:
        res.fail(f"{len(mismatch)} of {len(ndpi)} flows differ from nDPI")
        res.details += mismatch
    if only_ndpi or only_probe:
        res.fail(f"{len(only_ndpi)} flows only in nDPI, {len(only_probe)} "
                 f"only in flowprobe")
        res.details += only_ndpi + only_probe

    # 3. Per direction against tshark (ICMP type/code, direction, records).
    udiff = []
    for k in sorted(set(ts_u) | set(probe_u), key=str):
        tp, tb = ts_u.get(k, [0, 0])
        pp, pb, _ = probe_u.get(k, [0, 0, 0])
        if (tp, tb) != (pp, pb):
            udiff.append(f"direction {fmt_ukey(k)}: flowprobe {pp} pkts/{pb} "
                         f"B, tshark {tp}/{tb}")
    if udiff:
        res.fail(f"{len(udiff)} directions differ from tshark")
        res.details += udiff[:40]
        if len(udiff) > 40:
            res.details.append(f"... and {len(udiff) - 40} more")

    res.summary = (f"{len(ndpi)} flows, {ndpi_pk} packets"
                   f"{f' + {len(later)} later fragments' if later else ''}, "
                   f"{probe_bytes} IP bytes; padding {pad_bytes} B in "
                   f"{pad_frames} frames")


def main():
    if not PCAP_DIR.is_dir():
        print(f"1..0 # SKIP no captures: {PCAP_DIR} is missing")
        return 0
    captures = sorted(p for p in PCAP_DIR.iterdir()
                      if p.suffix in (".pcap", ".pcapng") and p.is_file())
    if not captures:
        print(f"1..0 # SKIP no .pcap/.pcapng files in {PCAP_DIR}")
        return 0
    if os.geteuid() != 0:
        print("1..0 # SKIP flowprobe replay needs root (BPF_PROG_TEST_RUN)")
        return 0
    print(f"1..{len(captures)}")
    setup_error = None
    if not FLOWPROBE.exists():
        setup_error = f"{FLOWPROBE} is not built (run 'make flowprobe')"
    elif shutil.which("tshark") is None:
        setup_error = "tshark is not installed ('make deps' installs it)"
    failed = 0
    for n, pcap in enumerate(captures, 1):
        name = f"ndpi/{pcap.name}"
        res = Result()
        res.summary = ""
        if setup_error:
            res.fail(setup_error)
        else:
            try:
                check_capture(pcap, res)
            except subprocess.TimeoutExpired as e:
                res.fail(f"timed out: {' '.join(map(str, e.cmd))[:200]}")
            except (RuntimeError, ValueError, OSError) as e:
                res.fail(f"{type(e).__name__}: {e}")
        for line in res.notes:
            print(f"# {line}")
        if res.errors:
            failed += 1
            print(f"not ok {n} - {name}: " + "; ".join(res.errors))
            for line in res.details:
                print(f"#   {line}")
        else:
            print(f"ok {n} - {name} matches nDPI: {res.summary}")
            for line in res.details:
                print(f"#   {line}")
        sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
