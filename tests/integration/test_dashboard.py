#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""The dashboard, the JSON API and /metrics, live, in a real browser.

Lab A -- R -- B; `flowprobe run --http 127.0.0.1:8080` on both of R's
interfaces, customers behind A (--local 10.0.1.0/24). Traffic: a second
customer, 10.0.1.2, runs BitTorrent with 200 peers (bt_swarm.py, as in
the demo), and an on-path injector on R kills a BitTorrent connection
A <-> B with forged RSTs (rst_injector.LiveResets).

Asserts:
- headless Chromium (Debian's, driven by python3-selenium) loads the
  dashboard with no console error, no page error, no failed request, with
  Chart.js served by the probe; the BitTorrent customer appears in the top
  list by peers and in the BitTorrent hosts with its score; a forged reset
  appears in the resets list; the utilisation curve has points; typing the customer's IP in the search box
  shows its page (its ports, including 6881, its P2P score, a connections
  chart with points); its stored history (--state-dir in the lab
  directory) shows a summary and a chart, and a before/after comparison
  fills its table; screenshots in build/dashboard/;
- the API: the host page has the BitTorrent port and forged resets; bad
  addresses are 400, unknown paths 404, POST 405 (nothing changes state);
- /metrics passes `promtool check metrics` and has every datapath counter
  of include/flowprobe.h, every daemon statistic, forged resets > 0, and
  ρ and N of both interfaces;
- a non-loopback --http without a token file is refused (exit 2) with one
  line naming --http-token-file; with one, a request without the token is
  401 and with it 200;
- --events FILE: renamed away, SIGHUP reopens it and new lines arrive.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import lab as L  # noqa: E402
import rst_injector as RI  # noqa: E402
import demo  # noqa: E402  (the BitTorrent customer of `make demo`)

PORT = 8080
BASE = f"http://127.0.0.1:{PORT}"
BROWSER = os.path.join(L.ROOT, "tests", "browser", "dashboard.py")
OUT_DIR = os.path.join(L.ROOT, "build", "dashboard")
TOKEN = "0123456789abcdef0123"
AUTH = [f"Authorization: Bearer {TOKEN}"]
# One request inside R, redirects not followed (the token's cookie is set
# on a redirect); prints the status, the headers as JSON, then the body.
FETCH = r"""
import http.client, json, sys, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
headers = dict(h.split(": ", 1) for h in sys.argv[3:])
c = http.client.HTTPConnection(u.hostname, u.port, timeout=20)
c.putrequest(sys.argv[2], u.path + ("?" + u.query if u.query else ""),
             skip_host="Host" in headers)
for k, v in headers.items():
    c.putheader(k, v)
c.endheaders()
r = c.getresponse()
body = r.read()
sys.stdout.write(f"{r.status}\n{json.dumps(dict(r.getheaders()))}\n"); sys.stdout.flush()
sys.stdout.buffer.write(body)
"""


def fetch_full(lab, path, method="GET", headers=AUTH, base=BASE):
    """(status, headers, body) of a request made inside R; by default with
    the token of the dashboard's probe."""
    cp = lab.run("R", [L.PYTHON, "-c", FETCH, base + path, method] + list(headers),
                 mount=False, check=False, timeout=30)
    if cp.returncode != 0 or cp.stdout.count("\n") < 2:
        return 0, {}, cp.stderr
    code, head, body = cp.stdout.split("\n", 2)
    return int(code), json.loads(head), body


def fetch(lab, path, method="GET", headers=AUTH, base=BASE):
    """(status, body) of a request made inside R."""
    code, _, body = fetch_full(lab, path, method, headers, base)
    return code, body


def fetch_json(lab, path):
    code, body = fetch(lab, path)
    try:
        return json.loads(body) if code == 200 else None
    except json.JSONDecodeError:
        return None


def names_of(header, macro):
    """The names an X-macro lists: X(CNT_..., "name", ...) or X(name, ...)."""
    with open(os.path.join(L.ROOT, header)) as f:
        text = f.read()
    if macro == "counters":
        return re.findall(r'X\(CNT_\w+, "(\w+)"', text)
    # X(name, type, unit, ...): microseconds are served in seconds.
    return [n + ("_seconds" if unit == "us" else "") for n, unit in
            re.findall(r"^\s*X\((\w+), \w+, (\w+),", text, re.M)]


def refuse_without_token():
    cp = subprocess.run([L.FLOWPROBE_BIN, "run", "-i", "lo", "--http",
                         "0.0.0.0:8080"], capture_output=True, text=True,
                        timeout=30, stdin=subprocess.DEVNULL)
    lines = cp.stderr.strip().splitlines()
    L.ok(cp.returncode == 2 and len(lines) == 1 and
         "--http-token-file" in cp.stderr,
         "non-loopback --http without a token file: exit 2, one line naming "
         "--http-token-file", f"exit {cp.returncode}: {cp.stderr}")


def browser_checks(lab):
    os.makedirs(OUT_DIR, exist_ok=True)
    # The URL a person is given: the token once, then a cookie.
    cp = lab.run("R", [L.PYTHON, BROWSER, f"{BASE}/?token={TOKEN}", demo.BT_HOST, OUT_DIR],
                 mount=False, check=False, timeout=240)
    try:
        seen = json.loads(cp.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        seen = {"fatal": cp.stdout[-500:] + cp.stderr[-1500:]}
    L.ok("fatal" not in seen, "the browser test ran", seen.get("fatal"))
    L.ok(seen.get("chart_js") is True and seen.get("title") == "flowprobe",
         "the dashboard loads, with Chart.js served by the probe", str(seen)[:800])
    errors = seen.get("console_errors", []) + seen.get("failed_requests", [])
    L.ok("fatal" not in seen and not errors,
         "no console errors, page errors or failed requests", "\n".join(errors))
    L.ok(seen.get("bt_in_top_peers") and seen.get("bt_in_bittorrent"),
         f"the BitTorrent customer {demo.BT_HOST} is in the top list by peers "
         "and in the BitTorrent hosts",
         f"{seen.get('wait_bt')}\n{seen.get('bittorrent_text')}")
    L.ok((seen.get("curve_points") or 0) > 0,
         "the utilisation curve is drawn from the probe's samples",
         str(seen.get("curve_points")))
    L.ok(seen.get("forged_in_resets"),
         "a forged reset appears in the resets list",
         f"{seen.get('wait_reset')}\n{seen.get('resets_text')}")
    L.ok(seen.get("host_addr") == demo.BT_HOST and "6881" in
         seen.get("host_ports", "") and "score" in seen.get("host_p2p", "") and
         (seen.get("host_chart_points") or 0) > 0,
         "the customer search shows the host's page: ports, P2P score, a "
         "connections chart with points",
         json.dumps({k: seen.get(k) for k in ("wait_host", "host_hash", "host_addr",
                     "host_summary", "host_ports", "host_p2p",
                     "host_chart_points")}, indent=1))
    shot = os.path.join(OUT_DIR, "dashboard.png")
    L.ok("connections" in seen.get("range_summary", "") and
         (seen.get("range_chart_points") or 0) > 0,
         "the host's page shows its stored history (--state-dir): a summary "
         "and a chart with connections",
         json.dumps({k: seen.get(k) for k in ("wait_stored", "range_summary",
                                              "range_chart_points")}))
    cmp_rows = seen.get("compare_text", "").splitlines()
    L.ok(len(cmp_rows) >= 6 and cmp_rows[1].startswith("connections") and
         "bit/s" in seen.get("compare_text", ""),
         "before/after: the comparison table has connections, peers and "
         "throughput for both periods",
         json.dumps({k: seen.get(k) for k in ("wait_compare", "compare_text")}))
    L.ok(os.path.exists(shot) and os.path.getsize(shot) > 10000,
         f"screenshots saved ({shot})")


def api_checks(lab):
    page = fetch_json(lab, f"/api/hosts/{demo.BT_HOST}") or {}
    ports = {p.get("port") for p in page.get("ports", [])}
    L.ok(page.get("known") and demo.BT_PORT in ports and
         page.get("history", {}).get("peers", 0) >= 50,
         f"/api/hosts/{demo.BT_HOST}: port {demo.BT_PORT} and many peers",
         json.dumps(page)[:1500])
    a_page = fetch_json(lab, f"/api/hosts/{lab.V4['A']}") or {}
    L.ok(a_page.get("forged_resets", 0) >= 1,
         f"/api/hosts/{lab.V4['A']}: the forged resets of its BitTorrent "
         "connection are counted", json.dumps(a_page)[:800])
    code400, _ = fetch(lab, "/api/hosts/not-an-address")
    code404, _ = fetch(lab, "/api/nothing")
    code405, _ = fetch(lab, "/api/hosts", method="POST")
    L.ok((code400, code404, code405) == (400, 404, 405),
         "bad address 400, unknown view 404, POST 405",
         f"{code400} {code404} {code405}")
    rebound, _ = fetch(lab, "/api/stats", headers=AUTH + [f"Host: evil.example:{PORT}"])
    local, head, _ = fetch_full(lab, "/api/stats", headers=AUTH + [f"Host: localhost:{PORT}"])
    L.ok((rebound, local) == (403, 200) and
         head.get("Referrer-Policy") == "no-referrer",
         "loopback listener: a request for another Host is 403 (DNS "
         "rebinding), localhost is 200; no referrer is sent on",
         f"{rebound} {local} {head}")
    ev = fetch_json(lab, "/api/events?type=bittorrent") or {}
    L.ok(ev.get("events") and all(e.get("type") == "bittorrent"
                                  for e in ev["events"]),
         "/api/events?type=bittorrent lists BitTorrent events only",
         json.dumps(ev)[:500])


def metrics_checks(lab):
    code, text = fetch(lab, "/metrics")
    cp = subprocess.run(["promtool", "check", "metrics"], input=text,
                        capture_output=True, text=True, timeout=60)
    L.ok(code == 200 and cp.returncode == 0,
         "/metrics passes promtool check metrics",
         f"HTTP {code}, promtool exit {cp.returncode}:\n{cp.stdout}{cp.stderr}")
    want = [f"flowprobe_{n}_total" for n in
            names_of("include/flowprobe.h", "counters")]
    want += [f"flowprobe_daemon_{n}" for n in
             names_of("user/lib/daemon_stats.h", "daemon")]
    have = set(re.findall(r"^# HELP (\S+) ", text, re.M))
    missing = [w for w in want if w not in have and w + "_total" not in have]
    L.ok(len(want) > 40 and not missing,
         f"/metrics has all {len(want)} counters and daemon statistics with "
         "help text", f"missing: {missing}")
    m = re.search(r'^flowprobe_resets_total\{verdict="forged"\} (\d+)', text, re.M)
    L.ok(m and int(m.group(1)) >= 1, "/metrics counts forged resets",
         L.tail(text, 20))
    rho = re.findall(r'^flowprobe_utilisation_ratio\{interface="(\S+)"\} (\S+)', text, re.M)
    n = re.findall(r'^flowprobe_active_flows\{interface="(\S+)"\} (\S+)', text, re.M)
    L.ok({i for i, _ in rho} == {i for i, _ in n} == {lab.if_ra, lab.if_rb},
         "/metrics has rho and N for each interface", f"{rho} {n}")
    pk = dict(re.findall(r'^flowprobe_interface_packets_total\{interface="(\S+)"\} (\d+)',
                         text, re.M))
    flow_packets = re.search(r"^flowprobe_flow_packets_total (\d+)", text, re.M)
    L.ok(set(pk) == {lab.if_ra, lab.if_rb} and all(int(v) > 0 for v in pk.values()) and
         re.search(r'^flowprobe_build_info\{version="[\w.]+"\} 1$', text, re.M) and
         re.search(r"^flowprobe_daemon_drain_time_max_seconds 0\.\d+", text, re.M) and
         re.search(r"^# TYPE flowprobe_daemon_took_over gauge", text, re.M),
         "/metrics: packets per interface, build info, drain times in seconds, "
         "the takeover flag a gauge",
         f"{pk} (flow_packets_total {flow_packets and flow_packets.group(1)})")


def events_rotation(lab, probe, path):
    L.wait_until(lambda: os.path.exists(path) and os.path.getsize(path) > 0,
                 20, "the --events file")
    rotated = path + ".1"
    os.rename(path, rotated)
    probe.proc.send(signal.SIGHUP)
    L.wait_until(lambda: os.path.exists(path), 20, "the reopened --events file")
    # New traffic after the reopen: its flows must land in the new file.
    lab.run("A", [L.PYTHON, L.__file__, "ping", lab.V4["B"], "3", "0.2"],
            check=False)

    def new_lines():
        with open(path) as f:
            return [json.loads(x) for x in f if x.strip()]
    lines = L.wait_until(new_lines, 30, "lines in the reopened --events file",
                         interval=0.5)
    with open(rotated) as f:
        old = [json.loads(x) for x in f if x.strip()]
    types = {o.get("type") for o in old}
    L.ok(lines and {"flow", "reset", "bittorrent"} <= types,
         "--events: JSON Lines with flows, resets and BitTorrent events; after "
         "rename and SIGHUP new lines go to a new file",
         f"old types {types}, {len(lines)} new lines")


def write_token(lab):
    token_file = os.path.join(lab.dir, "token")
    with open(token_file, "w") as f:
        f.write(TOKEN + "\n")
    os.chmod(token_file, 0o600)
    return token_file


def token_checks(lab):
    probe = L.Flowprobe(lab, [lab.if_ra], [], extra=[
        "--http", f"{lab.V4['RA']}:8081", "--http-token-file", write_token(lab),
        "--state-dir", os.path.join(lab.dir, "state")])
    probe.start()
    base = f"http://{lab.V4['RA']}:8081"
    got = {}
    try:
        L.wait_until(lambda: "token required" in probe.stderr(), 20,
                     "the token notice")
        for name, path, headers in (
                ("none", "/api/stats", []),
                ("bearer", "/api/stats", AUTH),
                ("bearer lower case", "/api/stats", [f"authorization: bearer {TOKEN}"]),
                ("bearer wrong", "/api/stats", ["Authorization: Bearer " + TOKEN[:-1] + "4"]),
                ("bearer prefix", "/api/stats", ["Authorization: Bearer " + TOKEN[:-1]]),
                ("query on an API path", f"/metrics?token={TOKEN}", []),
                ("query with %00", f"/?token={TOKEN}%00junk", []),
                ("cookie", "/metrics", [f"Cookie: flowprobe_token={TOKEN}"]),
                ("cookie wrong", "/metrics", ["Cookie: flowprobe_token=" + TOKEN[:-1] + "4"])):
            got[name] = fetch(lab, path, headers=headers, base=base)[0]
        page, page_headers, _ = fetch_full(lab, f"/?token={TOKEN}", headers=[], base=base)
    finally:
        rc = probe.stop()
    want = {"none": 401, "bearer": 200, "bearer lower case": 200, "bearer wrong": 401,
            "bearer prefix": 401, "query on an API path": 401, "query with %00": 401,
            "cookie": 200, "cookie wrong": 401}
    L.ok(got == want and rc == 0,
         "non-loopback with a token: 200 with it in a Bearer header (any case) "
         "or the cookie; 401 without it, with a wrong one, a prefix, a NUL "
         "after it, or in an API URL; says so at start",
         f"got {got}\nwant {want}\nexit {rc}\n{L.tail(probe.stderr(), 5)}")
    cookie = page_headers.get("Set-Cookie", "")
    L.ok(page == 303 and page_headers.get("Location") == "/" and
         cookie.startswith(f"flowprobe_token={TOKEN};") and "HttpOnly" in cookie and
         "SameSite=Strict" in cookie and page_headers.get("Cache-Control") == "no-store" and
         page_headers.get("Referrer-Policy") == "no-referrer",
         "/?token=T sets the token cookie (HttpOnly, SameSite=Strict) and sends "
         "the browser to / (no-store, no referrer)", f"{page} {page_headers}")


CAP_NET_ADMIN, CAP_PERFMON, CAP_BPF = 12, 38, 39


def capability_checks(probe):
    """Once attached: the daemon's threads hold CAP_BPF and CAP_NET_ADMIN
    at most, the web server's threads nothing; the bounding set is the
    service's (the probe runs with dist/flowprobe.service's capabilities;
    without CAP_SETPCAP it cannot trim that set itself)."""
    pid = probe.proc.popen.pid
    threads = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/status") as f:
            st = dict(line.split(":", 1) for line in f if ":" in line)
        threads[tid] = (int(st["CapEff"], 16), int(st["CapPrm"], 16),
                        int(st["CapBnd"], 16))
    allowed = 1 << CAP_NET_ADMIN | 1 << CAP_BPF
    service = allowed | 1 << CAP_PERFMON
    L.ok(len(threads) >= 3 and all(e & ~allowed == 0 and p & ~allowed == 0
                                   for e, p, _ in threads.values()) and
         threads[str(pid)][2] & ~service == 0 and
         sum(1 for e, p, _ in threads.values() if e == p == 0) >= 2,
         "after attaching, the daemon keeps only CAP_BPF and CAP_NET_ADMIN, "
         "within the service's bounding set; the web server's threads hold none",
         "\n".join(f"{t}: eff {e:x} prm {p:x} bnd {b:x}"
                   for t, (e, p, b) in threads.items()))


def run(lab):
    events_path = os.path.join(lab.dir, "events.jsonl")
    probe = lab.start_probe([lab.if_ra, lab.if_rb], [], active=10, inactive=2,
                            extra=["--local", "10.0.1.0/24,fd00:1::/64",
                                   "--http", f"127.0.0.1:{PORT}",
                                   "--http-token-file", write_token(lab),
                                   "--history", "60s", "--events", events_path,
                                   "--state-dir", os.path.join(lab.dir, "state"),
                                   "--sample", "1s", "--capacity", "1G"])
    L.wait_until(lambda: "dashboard at" in probe.stderr(), 20,
                 "the dashboard's start line")
    capability_checks(probe)
    L.comment(demo.bittorrent_customer(lab))
    live = RI.LiveResets(lab, L)
    live.start()
    injected = live.drive(mix=False)
    L.comment(f"injector: {len(injected)} RSTs")

    def forged_listed():
        ev = fetch_json(lab, "/api/events?type=reset") or {}
        return any(e.get("verdict") == "forged" for e in ev.get("events", []))
    try:
        L.wait_until(forged_listed, 30, "a forged reset in /api/events",
                     interval=0.5)
    except L.LabError as e:
        L.comment(str(e))
    browser_checks(lab)
    api_checks(lab)
    metrics_checks(lab)
    events_rotation(lab, probe, events_path)
    rc = probe.stop()
    L.ok(rc == 0, "the probe stops cleanly (exit 0)", L.tail(probe.stderr()))


def main():
    if os.geteuid() != 0:
        print("1..0 # SKIP needs root (network namespaces, XDP)")
        return 0
    if L.PROBE_KIND != "flowprobe":
        print("1..0 # SKIP the dashboard is flowprobe's own")
        return 0
    for tool in ("chromedriver", "promtool", "chromium"):
        if not shutil.which(tool):
            L.ok(False, f"{tool} is installed (make test installs it)")
            L.done()
    refuse_without_token()
    try:
        with L.Lab() as lab:
            run(lab)
        with L.Lab() as lab:
            token_checks(lab)
    except L.LabError as e:
        L.ok(False, "lab", str(e))
    L.done()


if __name__ == "__main__":
    main()
