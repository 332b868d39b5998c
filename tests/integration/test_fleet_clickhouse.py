#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Two routers, one ClickHouse, one BitTorrent customer, one alarm.

Two labs (A -- R -- B each), a veth between the two R namespaces; Debian's
clickhouse-server (18.16) started by this test in the first R with its
own config, users and data directory in a temporary directory, on
loopback and on the veth, and stopped afterwards (also on failure).
`flowprobe run --store clickhouse://flowprobe@...:18123/fleet
--store-password-file F --probe-id router1|router2` on each R's
interface towards A. The customer 10.0.1.2 runs BitTorrent through both
routers: 100 of its 200 peers behind the first, the other 100 behind the
second (so neither router alone sees all of them).

Asserts:
- the schema is created on first use (the tables exist);
- ClickHouse holds exactly the flows each probe exported (rows = its
  flows_exported), and exactly the 300 datagrams of a UDP flow sent
  through each router (packets and 300 * 228 bytes), tagged with its
  probe_id, with the JSON Lines contract's column names;
- after the P2P period, exactly one alarm for the customer in that period
  (alarms FINAL), although both probes wrote one; its peers are the
  merged count (about 200, more than either router's own ~100) and its
  reasons name both routers;
- a ClickHouse stopped in the middle: the probe goes on counting and
  exporting, counts its failed requests, and what it sent later (after
  the server is back) is there: rows in ClickHouse = rows exported -
  rows counted as dropped;
- `flowprobe dashboard --store ...` run as nobody: /api/hosts lists the
  customer once with both routers and the merged peers, the router filter
  shows one router's share, the customer's page has a row per router and
  the alarm;
- a bad --store URL: exit 2 and one line.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import lab as L  # noqa: E402
import demo  # noqa: E402  (the BitTorrent customer and its peers)

CH_PORT = 18123
CH_TCP = 19000
CH_SERVER = "/usr/sbin/clickhouse-server"
PASSWORD = "fleet-test-password-1234"
LINK = ("192.168.250.1", "192.168.250.2")     # R1, R2 on the veth
PERIOD = 30                                   # --p2p-period
ACTIVE, INACTIVE = 10, 2
SIZE = 200
IP_BYTES = SIZE + 28
N_UDP = 300

CONFIG = """<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>{d}/server.log</log>
    <errorlog>{d}/server.err.log</errorlog></logger>
  <http_port>{http}</http_port>
  <tcp_port>{tcp}</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <listen_host>{link}</listen_host>
  <path>{d}/data/</path>
  <tmp_path>{d}/tmp/</tmp_path>
  <user_files_path>{d}/user_files/</user_files_path>
  <format_schema_path>{d}/format_schemas/</format_schema_path>
  <users_config>{d}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>67108864</mark_cache_size>
</yandex>
"""
USERS = """<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>2000000000</max_memory_usage></default></profiles>
  <users>
    <flowprobe>
      <password>{pw}</password>
      <networks><ip>127.0.0.1</ip><ip>192.168.250.0/30</ip></networks>
      <profile>default</profile><quota>default</quota>
    </flowprobe>
  </users>
  <quotas><default></default></quotas>
</yandex>
"""
# A query inside R1, the answer on stdout (TabSeparated).
QUERY = r"""
import sys, urllib.request, base64
req = urllib.request.Request(sys.argv[1], data=sys.argv[2].encode())
req.add_header("Authorization", "Basic " + base64.b64encode(
    ("flowprobe:" + sys.argv[3]).encode()).decode())
try:
    sys.stdout.write(urllib.request.urlopen(req, timeout=20).read().decode())
except Exception as e:
    sys.stdout.write("ERROR " + str(e)); sys.exit(1)
"""


class ClickHouse:
    """Debian's clickhouse-server in lab R's namespace, its files in a
    temporary directory; stop() kills it and removes them."""

    def __init__(self, lab):
        self.lab = lab
        self.dir = tempfile.mkdtemp(prefix="flowprobe-clickhouse-")
        for sub in ("data", "tmp", "user_files", "format_schemas"):
            os.makedirs(os.path.join(self.dir, sub))
        with open(os.path.join(self.dir, "config.xml"), "w") as f:
            f.write(CONFIG.format(d=self.dir, http=CH_PORT, tcp=CH_TCP,
                                  link=LINK[0]))
        with open(os.path.join(self.dir, "users.xml"), "w") as f:
            f.write(USERS.format(pw=PASSWORD))
        self.proc = None

    def start(self):
        self.proc = self.lab.spawn("R", [CH_SERVER, "--config-file",
                                         os.path.join(self.dir, "config.xml")],
                                   name="clickhouse")
        L.wait_until(lambda: self.query("SELECT 1").strip() == "1", 60,
                     "clickhouse-server answering", interval=0.3)

    def query(self, sql):
        cp = self.lab.run("R", [L.PYTHON, "-c", QUERY,
                                f"http://127.0.0.1:{CH_PORT}/", sql, PASSWORD],
                          check=False, timeout=30)
        return cp.stdout if cp.returncode == 0 else ""

    def rows(self, sql):
        return [line.split("\t") for line in self.query(sql).splitlines()]

    def stop(self):
        if self.proc and self.proc.running():
            self.proc.stop(signal.SIGTERM, 30)
        self.proc = None

    def remove(self):
        self.stop()
        if os.environ.get("FLOWPROBE_KEEP"):
            print(f"# clickhouse files kept in {self.dir}", flush=True)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


def link_labs(l1, l2):
    """A veth between the two R namespaces."""
    a, b = f"{l1.prefix}f", f"{l2.prefix}f"
    L.sh(["ip", "link", "add", a, "type", "veth", "peer", "name", b])
    L.sh(["ip", "link", "set", a, "netns", l1.ns["R"]])
    L.sh(["ip", "link", "set", b, "netns", l2.ns["R"]])
    l1.run("R", ["ip", "addr", "add", f"{LINK[0]}/30", "dev", a])
    l2.run("R", ["ip", "addr", "add", f"{LINK[1]}/30", "dev", b])
    l1.run("R", ["ip", "link", "set", a, "up"])
    l2.run("R", ["ip", "link", "set", b, "up"])


SINK = ("import socket\n"
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        "s.bind(('0.0.0.0', 5001))\n"
        "while True: s.recv(65536)\n")


def prepare_customer(lab, peers):
    """The customer behind A, its peers (a share of them) behind B, a UDP
    sink on B; returns the swarm process."""
    lab.run("A", ["ip", "addr", "add", f"{demo.BT_HOST}/24", "dev", lab.if_a])
    batch = "".join(f"addr add {a}/32 dev {lab.if_b}\n" for a in peers)
    lab.run("B", ["ip", "-batch", "-"], input=batch)
    lab.run("R", ["ip", "route", "add", "10.0.3.0/24", "via", lab.V4["B"]])
    swarm = lab.spawn("B", [L.PYTHON, demo.BT_SWARM, "peers", demo.BT_PORT]
                      + peers, name="bt-peers")
    swarm.wait_for(r"^ready", 30, stream="stdout")
    sink = lab.spawn("B", [L.PYTHON, "-c", SINK], name="udp-sink")
    lab.wait_udp_bound("B", 5001, proc=sink)
    return swarm


def start_probe(lab, probe_id, host, pwfile):
    return lab.start_probe([lab.if_ra], [], active=ACTIVE, inactive=INACTIVE,
                           extra=["--local", "10.0.1.0/24", "--no-http",
                                  "--p2p-period", str(PERIOD),
                                  "--store", f"clickhouse://flowprobe@{host}:{CH_PORT}/fleet",
                                  "--store-password-file", pwfile,
                                  "--probe-id", probe_id])


def final_counts(probe):
    """The flows the probe exported, from its last log line."""
    import re
    m = re.search(r"exported (\d+) flows", probe.stderr())
    return int(m.group(1)) if m else None


def run(l1, l2, ch):
    link_labs(l1, l2)
    ch.start()
    pwfile = os.path.join(l1.dir, "ch-password")
    with open(pwfile, "w") as f:
        f.write(PASSWORD + "\n")
    os.chmod(pwfile, 0o600)
    swarm_peers = (demo.BT_PEERS[:100], demo.BT_PEERS[100:])
    for lab, peers in zip((l1, l2), swarm_peers):
        prepare_customer(lab, peers)
    probes = (start_probe(l1, "router1", "127.0.0.1", pwfile),
              start_probe(l2, "router2", LINK[0], pwfile))

    # The customer's BitTorrent inside one P2P period (periods are
    # aligned on multiples of the period in wall-clock time).
    # Both clients at once, early in a period (they take a few seconds).
    now = time.time()
    start = now
    if (int(now) // PERIOD + 1) * PERIOD - now < PERIOD - 5:
        start = (int(now) // PERIOD + 1) * PERIOD + 0.5
    L.wait_until(lambda: time.time() >= start, PERIOD + 2, "a period's start",
                 interval=0.1)
    clients = [lab.spawn("A", [L.PYTHON, demo.BT_SWARM, "client", demo.BT_HOST,
                               demo.BT_PORT] + peers, name="bt-client")
               for lab, peers in zip((l1, l2), swarm_peers)]
    for c in clients:
        c.wait(120)
        L.comment(f"{c.stdout().strip()[:200]}")
    L.comment(f"the customer's BitTorrent took {time.time() - start:.1f} s "
              f"of the {PERIOD} s period")
    for lab in (l1, l2):
        lab.udp_send("A", lab.V4["B"], 5001, 4001, N_UDP, SIZE)

    L.wait_until(lambda: {r[0] for r in ch.rows(
        "SELECT name FROM system.tables WHERE database = 'fleet'")} >=
        {"flows", "host_peers", "host_peers_agg", "p2p_reports", "events", "alarms"},
        30, "the fleet's tables", interval=0.5)
    tables = {r[0] for r in ch.rows("SELECT name FROM system.tables WHERE database = 'fleet'")}
    L.ok({"flows", "host_peers", "host_peers_agg", "p2p_reports", "events",
          "alarms"} <= tables, "the schema is created on first use", str(tables))

    # The period is judged ACTIVE + 10 s after its end, by both probes.
    def alarm():
        rows = ch.rows("SELECT period_start, peers, arrayStringConcat(probes, ','), "
                       "reasons FROM fleet.alarms FINAL WHERE host = '10.0.1.2'")
        return rows if any(len(r) == 4 and "router1" in r[2] and "router2" in r[2]
                           for r in rows) else None
    try:
        L.wait_until(alarm, PERIOD + ACTIVE + 60, "the merged alarm", interval=1)
    except L.LabError as e:
        L.comment(str(e))
    rows = ch.rows("SELECT toUnixTimestamp(period_start), peers, "
                   "arrayStringConcat(arraySort(probes), ','), reasons, score, "
                   "bt_flows FROM fleet.alarms FINAL WHERE host = '10.0.1.2'")
    raw = ch.query("SELECT count() FROM fleet.alarms WHERE host = '10.0.1.2'").strip()
    # What each router saw of the customer's peers, exactly.
    local = ch.rows("SELECT probe_id, uniqExact(peer) FROM fleet.host_peers "
                    "WHERE host = '10.0.1.2' GROUP BY probe_id ORDER BY probe_id")
    local_max = max([int(r[1]) for r in local if len(r) == 2] or [0])
    L.comment(f"alarms FINAL: {rows}; rows before dedup: {raw}; "
              f"peers each router saw: {local}")
    ok_one = (len(rows) == 1 and rows[0][2] == "router1,router2")
    L.ok(ok_one, "exactly one alarm for the customer in ClickHouse (FINAL), "
         "naming both routers", json.dumps({"final": rows, "raw": raw}))
    peers = int(rows[0][1]) if ok_one else 0
    L.ok(ok_one and 170 <= peers <= 230 and local_max <= 110 and
         "router1, router2" in rows[0][3] and int(rows[0][4]) >= 60 and
         int(rows[0][5]) > 0,
         f"its evidence is merged: {peers} distinct peers (each router saw "
         f"at most {local_max}), score at or above the threshold, BitTorrent "
         f"flows of both; the reasons name both routers",
         json.dumps(rows))

    fleet_dashboard(l1, pwfile)
    fault_and_catch_up(l1, ch, probes[0])

    counts = []
    for p in probes:
        rc = p.stop()
        counts.append(final_counts(p))
        L.ok(rc == 0, f"{p.argv[-1]} stops cleanly (exit 0)", L.tail(p.stderr()))
    for pid, n, p in zip(("router1", "router2"), counts, probes):
        got = ch.rows(f"SELECT count(), sum(packets) FROM fleet.flows WHERE probe_id = '{pid}'")
        dropped = fleet_dropped(p)
        L.ok(n is not None and got and int(got[0][0]) == n - dropped,
             f"{pid}: ClickHouse holds every flow it exported but those counted "
             f"as dropped ({got[0][0] if got else '?'} = {n} - {dropped})",
             L.tail(p.stderr()))
        udp = ch.rows("SELECT count(), sum(packets), sum(bytes) FROM fleet.flows "
                      f"WHERE probe_id = '{pid}' AND src = '10.0.1.1' AND "
                      "sport = 4001 AND dport = 5001 AND proto = 17")
        L.ok(udp and udp[0][1:] == [str(N_UDP), str(N_UDP * IP_BYTES)],
             f"{pid}: the UDP flow sent through it, exactly: {N_UDP} packets, "
             f"{N_UDP * IP_BYTES} bytes", json.dumps(udp))


DASH = 18880
# One GET inside R, the JSON body on stdout.
GET = r"""
import sys, urllib.request
try:
    sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=20).read().decode())
except urllib.error.HTTPError as e:
    sys.stdout.write(e.read().decode())
"""


def fleet_dashboard(lab, pwfile):
    """`flowprobe dashboard --store ...` as nobody (no XDP, no root): the
    customer with both routers, the router filter, its page per router,
    the alarm."""
    # A copy nobody can read (the lab's directory is root's, 0700).
    fd, pwfile = tempfile.mkstemp(prefix="flowprobe-fleet-pw-")
    os.write(fd, (PASSWORD + "\n").encode())
    os.close(fd)
    os.chmod(pwfile, 0o644)
    try:
        dashboard_checks(lab, pwfile)
    finally:
        os.unlink(pwfile)


def dashboard_checks(lab, pwfile):
    dash = lab.spawn("R", ["setpriv", "--reuid=nobody", "--regid=nogroup",
                           "--clear-groups", "--inh-caps=-all",
                           L.FLOWPROBE_BIN, "dashboard", "--store",
                           f"clickhouse://flowprobe@127.0.0.1:{CH_PORT}/fleet",
                           "--store-password-file", pwfile,
                           "--http", f"127.0.0.1:{DASH}"], name="fleet-dashboard")

    def get(path):
        cp = lab.run("R", [L.PYTHON, "-c", GET, f"http://127.0.0.1:{DASH}{path}"],
                     check=False, timeout=30)
        try:
            return json.loads(cp.stdout)
        except json.JSONDecodeError:
            return {}
    try:
        L.wait_until(lambda: "fleet dashboard at" in dash.stderr(), 20,
                     "the fleet dashboard's start line")
    except L.LabError as e:
        L.comment(str(e) + "\n" + dash.stderr())
    hosts = get("/api/hosts")
    row = next((h for h in hosts.get("by_peers", []) if h.get("addr") == demo.BT_HOST), {})
    L.ok(sorted(row.get("routers") or []) == ["router1", "router2"] and
         sorted(hosts.get("routers") or []) == ["router1", "router2"] and
         180 <= row.get("peers", 0) <= 220,
         "fleet dashboard (as nobody, no XDP): the customer is one host seen "
         "by both routers, with its merged peers", json.dumps(hosts)[:1500])
    one = get("/api/hosts?router=router1")
    row1 = next((h for h in one.get("by_peers", []) if h.get("addr") == demo.BT_HOST), {})
    L.ok(row1.get("routers") == ["router1"] and 90 <= row1.get("peers", 0) <= 110,
         "the router filter: router1 alone sees about 100 of its peers",
         json.dumps(row1))
    page = get(f"/api/hosts/{demo.BT_HOST}")
    per = {r.get("router"): r.get("peers") for r in page.get("routers", [])}
    L.ok(set(per) == {"router1", "router2"} and
         any("router1, router2" in " ".join(a.get("reasons", []))
             for a in page.get("alarms", [])),
         "the customer's page: a row per router and the alarm naming both",
         json.dumps({k: page.get(k) for k in ("routers", "alarms")})[:1500])
    bad = get("/api/hosts?router=x%27y")
    L.ok("error" in bad, "a router that is not a probe id is refused", json.dumps(bad))
    browser_checks(lab)
    dash.stop()


def browser_checks(lab):
    """The fleet page in Debian's headless Chromium (tests/browser/fleet.py)."""
    if not shutil.which("chromedriver"):
        L.ok(False, "chromedriver is installed (deps/test.txt)")
        return
    out_dir = os.path.join(L.ROOT, "build", "dashboard")
    cp = lab.run("R", [L.PYTHON, os.path.join(L.ROOT, "tests", "browser", "fleet.py"),
                       f"http://127.0.0.1:{DASH}/", demo.BT_HOST, out_dir],
                 mount=False, check=False, timeout=240)
    try:
        seen = json.loads(cp.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        seen = {"fatal": cp.stdout[-500:] + cp.stderr[-1500:]}
    errors = seen.get("console_errors", []) + seen.get("failed_requests", [])
    L.ok("fatal" not in seen and not errors and seen.get("filter_shown") and
         {"router1", "router2"} <= set(seen.get("routers") or []) and
         not seen.get("wait_top") and not seen.get("wait_router1"),
         "browser: the fleet page lists the customer, offers both routers, "
         "and with router1 chosen shows its share of the peers; no console "
         "error or failed request", json.dumps(seen)[:2000])
    L.ok(not seen.get("wait_host") and seen.get("stored_hidden") is True,
         "browser: the customer's page has a row per router",
         json.dumps({k: seen.get(k) for k in ("wait_host", "host_routers")}))


def fleet_dropped(probe):
    import re
    m = re.findall(r"fleet store: (\d+) rows not sent at exit", probe.stderr())
    return sum(int(x) for x in m)


def fault_and_catch_up(lab, ch, probe):
    """ClickHouse away for a while: the probe counts failed requests and
    keeps its rows; back, they arrive."""
    before = ch.query("SELECT count() FROM fleet.flows WHERE probe_id = 'router1'").strip()
    ch.stop()
    lab.udp_send("A", lab.V4["B"], 5001, 4002, 100, SIZE)
    L.wait_until(lambda: "fleet store" in probe.stderr() and
                 "request(s) failed" in probe.stderr(), ACTIVE + INACTIVE + 30,
                 "the probe's log line about the failed requests", interval=0.5)
    L.ok(True, "ClickHouse stopped: the probe logs its failed requests once "
         "and goes on", "")
    ch.start()

    def arrived():
        rows = ch.rows("SELECT sum(packets) FROM fleet.flows WHERE probe_id = "
                       "'router1' AND sport = 4002")
        return rows and rows[0][0] == "100"
    try:
        L.wait_until(arrived, 60, "the rows kept while ClickHouse was away",
                     interval=0.5)
    except L.LabError as e:
        L.comment(str(e))
    after = ch.query("SELECT count() FROM fleet.flows WHERE probe_id = 'router1'").strip()
    L.ok(arrived(), f"ClickHouse back: the flow sent while it was away "
         f"arrives (100 packets; flows {before} -> {after})", L.tail(probe.stderr()))


def bad_url():
    cp = subprocess.run([L.FLOWPROBE_BIN, "run", "-i", "lo", "--no-http", "--store",
                         "clickhouse://db.example:8123"], capture_output=True,
                        text=True, timeout=30, stdin=subprocess.DEVNULL)
    lines = cp.stderr.strip().splitlines()
    L.ok(cp.returncode == 2 and len(lines) == 1 and "--store" in lines[0],
         "a bad --store URL: exit 2, one line", f"exit {cp.returncode}: {cp.stderr}")


def main():
    if os.geteuid() != 0:
        print("1..0 # SKIP needs root (network namespaces, XDP)")
        return 0
    if L.PROBE_KIND != "flowprobe":
        print("1..0 # SKIP the fleet store is flowprobe's own")
        return 0
    if not os.path.exists(CH_SERVER):
        L.ok(False, "clickhouse-server is installed (deps/test.txt)")
        L.done()
    bad_url()
    try:
        with L.Lab() as l1, L.Lab() as l2:
            ch = ClickHouse(l1)
            try:
                run(l1, l2, ch)
            finally:
                ch.remove()
    except L.LabError as e:
        L.ok(False, "lab", str(e))
    L.done()


if __name__ == "__main__":
    main()
