#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Bad input and hostile surroundings: a clear error, the right exit code.

Each case runs `flowprobe run` in R and expects a short error on stderr
that names the problem, the documented exit code (2 usage, 3 privilege or
kernel feature, 4 interface busy), never death by a signal, and nothing
left behind: no XDP program of ours on any interface, no bpffs pin
directory. Cases: unknown interface; collector host that does not
resolve; collector port 70000 and 0; an interface already carrying
another XDP program (native and generic; the error must name that program
and say how to remove it, and the program must stay attached); a second
flowprobe on an interface the first one holds (the first keeps running);
a probe left pinned by a SIGKILLed flowprobe (taken over, its link kept);
pins of another layout (refused, left as they were);
no privileges (setpriv to nobody, no capabilities); no kernel BTF
(FLOWPROBE_BTF_PATH=/nonexistent), a kernel older than 5.15
(FLOWPROBE_KERNEL_RELEASE=5.10.0).
"""

import json
import os
import re
import sys

sys.dont_write_bytecode = True      # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab as L  # noqa: E402
from lab import ok  # noqa: E402

OTHER_OBJ = os.path.join(L.ROOT, "build", "tools", "xdp_pass_other.bpf.o")
PORT = 2055
COLLECTOR = f"127.0.0.1:{PORT}"


def run_probe(lab, args, env=None, pre=()):
    """flowprobe run ARGS in R (network namespace only); CompletedProcess,
    or None if it hung."""
    argv = list(pre) + [L.FLOWPROBE_BIN, "run"] + list(args)
    try:
        return lab.run("R", argv, mount=False, check=False, timeout=60,
                       env=env)
    except L.LabError:
        return None


def check_error(name, cp, want_rc, patterns):
    if cp is None:
        ok(False, f"{name}: exit {want_rc} with a clear error",
           "still running after 60 s")
        return
    rc = cp.returncode
    lines = [l for l in cp.stderr.splitlines() if l.strip()]
    problems = []
    if rc < 0:
        problems.append(f"killed by signal {-rc}")
    elif rc != want_rc:
        problems.append(f"exit {rc}, expected {want_rc}")
    if not lines:
        problems.append("nothing on stderr")
    elif len(lines) > 3:
        problems.append(f"{len(lines)} lines on stderr: expected a short "
                        "error")
    if any(l.startswith("libbpf:") for l in lines):
        problems.append("libbpf's own messages without -v")
    for pat in patterns:
        if not re.search(pat, cp.stderr, re.I):
            problems.append(f"stderr does not match /{pat}/")
    if ok(not problems, f"{name}: exit {want_rc} with a clear error",
          "\n".join(problems + ["stderr:"] + lines[:12])):
        for line in lines:
            L.comment(f"  {line}")


def check_clean(name, lab, expect=None):
    """No XDP program on R's interfaces except those in expect
    ({ifname: (id, name)}), no pin directories."""
    expect = expect or {}
    problems = []
    for ifn in (lab.if_ra, lab.if_rb):
        prog = lab.xdp_prog("R", ifn)
        if prog != expect.get(ifn):
            problems.append(f"{ifn}: XDP program {prog}, expected "
                            f"{expect.get(ifn)}")
        if os.path.exists(lab.pin_dir(ifn)):
            problems.append(f"{lab.pin_dir(ifn)} exists")
    ok(not problems, f"{name}: nothing left attached or pinned",
       "\n".join(problems))


def other_program_case(lab, mode):
    """Someone else's XDP program on R-A; we ask for R-B then R-A, so a
    probe that attached R-B first must take it off again. The error must
    say how to remove the program, and that advice must work: for a
    generic-mode program `ip link set dev IF xdp off` does nothing (it
    addresses the native slot), `xdpgeneric off` is needed."""
    name = f"other XDP program ({mode})"
    lab.run("R", ["ip", "link", "set", "dev", lab.if_ra, mode, "obj",
                  OTHER_OBJ, "sec", "xdp"])
    other = lab.xdp_prog("R", lab.if_ra)
    try:
        if not other:
            ok(False, f"{name}: test program attached", "no XDP program "
               f"on {lab.if_ra} after ip link set ... {mode} obj")
            return
        cp = run_probe(lab, ["-i", f"{lab.if_rb},{lab.if_ra}", "-c",
                             COLLECTOR])
        pid, pname = other
        check_error(name, cp, 4, [rf"\b{pid}\b|{re.escape(pname or '?')}",
                                  re.escape(lab.if_ra), r"\bxdp\w*\s+off"])
        check_clean(name, lab, {lab.if_ra: other})
        m = re.search(r"ip link set dev (\S+) (xdp\w*) off",
                      cp.stderr if cp else "")
        if m:
            lab.run("R", ["ip", "link", "set", "dev", m.group(1), m.group(2),
                          "off"], check=False)
        left = lab.xdp_prog("R", lab.if_ra)
        ok(m and m.group(1) == lab.if_ra and not left,
           f"{name}: the suggested command removes it",
           f"suggested: {m.group(0) if m else None}; afterwards "
           f"{lab.if_ra} carries {left}")
    finally:
        lab.run("R", ["ip", "link", "set", "dev", lab.if_ra, mode, "off"],
                check=False)


def second_probe_case(lab):
    name = "second flowprobe on the same interface"
    try:
        first = L.Flowprobe(lab, [lab.if_ra], [COLLECTOR])
        first.start()
    except L.LabError as e:
        ok(False, f"{name}: the first probe starts", str(e))
        return
    held = lab.xdp_prog("R", lab.if_ra)
    cp = run_probe(lab, ["-i", lab.if_ra, "-c", COLLECTOR])
    check_error(name, cp, 4, [re.escape(lab.if_ra)])
    still = lab.xdp_prog("R", lab.if_ra)
    ok(first.proc.running() and held and still == held,
       f"{name}: the first probe keeps running and attached",
       f"first running: {first.proc.running()}, program before {held}, "
       f"after {still}\n{L.tail(first.stderr())}")
    rc = first.stop()
    ok(rc == 0, f"{name}: the first probe then exits 0 on SIGINT (got {rc})",
       L.tail(first.stderr()))
    check_clean(name, lab)


def orphan_case(lab):
    """A flowprobe killed with SIGKILL leaves its program attached through
    its pinned link, counting into its pinned maps, and its lock released.
    The next instance must not call that "already running" nor replace it
    blindly: it takes the pinned probe over (same link, its own program)
    and runs; stopped with Ctrl-C (SIGINT) it removes everything."""
    name = "probe left pinned by a killed flowprobe"
    try:
        first = L.Flowprobe(lab, [lab.if_ra], [COLLECTOR])
        first.start()
    except L.LabError as e:
        ok(False, f"{name}: the first probe starts", str(e))
        return
    first.proc.kill()
    orphan = lab.xdp_prog("R", lab.if_ra)
    link = os.path.join(lab.pin_dir(lab.if_ra), "link")
    ok(orphan is not None and os.path.exists(link),
       f"{name}: SIGKILL leaves the program attached and its link pinned",
       f"{lab.if_ra} carries {orphan}; {link} exists: {os.path.exists(link)}")
    second = L.Flowprobe(lab, [lab.if_ra], [COLLECTOR])
    try:
        second.start()
    except L.LabError as e:
        ok(False, f"{name}: a new instance takes it over and runs", str(e) +
           "\n" + L.tail(second.stderr()))
        return
    now = lab.xdp_prog("R", lab.if_ra)
    ok(now is not None and now != orphan and
       re.search(r"took over the pinned probe on " + re.escape(lab.if_ra),
                 second.stderr()),
       f"{name}: a new instance takes it over, its own program in the link",
       f"before {orphan}, now {now}\n{L.tail(second.stderr())}")
    rc = second.stop()
    ok(rc == 0, f"{name}: the new instance exits 0 on SIGINT (got {rc})",
       L.tail(second.stderr()))
    check_clean(name, lab)


def info_value(lab, path):
    """The pinned info map's value, as bytes."""
    cp = lab.run("R", ["bpftool", "-j", "map", "lookup", "pinned", path,
                       "key", "0", "0", "0", "0"], mount=False)
    return bytes(int(x, 16) for x in json.loads(cp.stdout)["value"])


def set_info_value(lab, path, value):
    lab.run("R", ["bpftool", "map", "update", "pinned", path, "key", "0",
                  "0", "0", "0", "value"] + [str(b) for b in value],
            mount=False)


def other_version_case(lab):
    """Pins of another layout (the info map's layout id changed, as a
    flowprobe build with other tables would have written): a new daemon
    must refuse to take them over, with exit 4 and a line naming the way
    out, and leave that probe attached and pinned as it was."""
    name = "pinned probe of another version"
    try:
        first = L.Flowprobe(lab, [lab.if_ra], [COLLECTOR])
        first.start()
    except L.LabError as e:
        ok(False, f"{name}: the first probe starts", str(e))
        return
    first.stop(keep=True)
    prog = lab.xdp_prog("R", lab.if_ra)
    info = os.path.join(lab.pin_dir(lab.if_ra), "info")
    value = info_value(lab, info)
    forged = bytearray(value)
    forged[8] ^= 0xff               # layout_id follows the 8-byte magic
    set_info_value(lab, info, forged)
    cp = run_probe(lab, ["-i", lab.if_ra, "-c", COLLECTOR])
    check_error(name, cp, 4, [r"another version", r"flowprobe detach -i " +
                              re.escape(lab.if_ra)])
    ok(lab.xdp_prog("R", lab.if_ra) == prog and os.path.exists(info),
       f"{name}: that probe stays attached and pinned",
       f"{lab.if_ra} carries {lab.xdp_prog('R', lab.if_ra)}, was {prog}")
    set_info_value(lab, info, value)
    cp = lab.run("R", [L.FLOWPROBE_BIN, "detach", "-i", lab.if_ra, "-c",
                       COLLECTOR], mount=False, check=False)
    ok(cp.returncode == 0, f"{name}: restored, flowprobe detach removes it",
       L.tail(cp.stderr))
    check_clean(name, lab)


def main():
    if L.PROBE_KIND != "flowprobe":
        ok(True, "# SKIP error handling is flowprobe's own, nothing to test "
           f"with {L.PROBE_KIND}")
        return
    for path in (L.FLOWPROBE_BIN, OTHER_OBJ):
        if not os.path.exists(path):
            ok(False, f"{os.path.basename(path)} is built", f"{path} missing: "
               "run make test")
            return
    with L.Lab() as lab:
        lab.start_nfcapd(PORT)

        cp = run_probe(lab, ["-i", "fpnosuch0", "-c", COLLECTOR])
        check_error("unknown interface", cp, 2, ["fpnosuch0"])
        check_clean("unknown interface", lab)

        cp = run_probe(lab, ["-i", lab.if_ra, "-c", "no-such-host.invalid:2055"])
        check_error("unresolvable collector", cp, 2, [r"no-such-host\.invalid"])
        check_clean("unresolvable collector", lab)

        for port in ("70000", "0"):
            cp = run_probe(lab, ["-i", lab.if_ra, "-c", f"127.0.0.1:{port}"])
            check_error(f"collector port {port}", cp, 2,
                        [rf"(\b|:){port}\b|port"])
            check_clean(f"collector port {port}", lab)

        other_program_case(lab, "xdp")
        other_program_case(lab, "xdpgeneric")
        second_probe_case(lab)
        orphan_case(lab)
        other_version_case(lab)

        cp = run_probe(lab, ["-i", lab.if_ra, "-c", COLLECTOR],
                       pre=["setpriv", "--reuid=65534", "--regid=65534",
                            "--clear-groups", "--inh-caps=-all"])
        check_error("no privileges", cp, 3,
                    [r"root|privilege|permission|CAP_|capabilit"])
        check_clean("no privileges", lab)

        env = dict(os.environ, FLOWPROBE_BTF_PATH="/nonexistent")
        cp = run_probe(lab, ["-i", lab.if_ra, "-c", COLLECTOR], env=env)
        check_error("no kernel BTF", cp, 3, ["BTF"])
        check_clean("no kernel BTF", lab)

        env = dict(os.environ, FLOWPROBE_KERNEL_RELEASE="5.10.0-28-amd64")
        cp = run_probe(lab, ["-i", lab.if_ra, "-c", COLLECTOR], env=env)
        check_error("kernel older than 5.15", cp, 3,
                    [r"5\.10\.0-28-amd64", r"Linux 5\.15 or later", "bpf_timer"])
        check_clean("kernel older than 5.15", lab)


if __name__ == "__main__":
    try:
        main()
    except L.LabError as e:
        ok(False, "lab", str(e))
    L.done()
