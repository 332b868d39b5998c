#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""`sudo make demo-fleet`: two routers into one ClickHouse, one alarm.

Two labs (A -- R -- B each), a veth between the two R; Debian's
clickhouse-server started in the first R with its files in a temporary
directory (removed at the end); `flowprobe run --store clickhouse://...`
as router1 and router2. The BitTorrent customer 10.0.1.2 reaches 100 of
its peers through each router. After the P2P period, the demo prints the
one alarm ClickHouse holds for it (both probes wrote it; FINAL keeps
one), with the peers merged across the routers, and the rows per router.
About a minute and a half.
"""

import os
import sys
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "integration"))
sys.path.insert(0, HERE)
import lab as L  # noqa: E402
import demo  # noqa: E402
import test_fleet_clickhouse as F  # noqa: E402


def say(msg):
    print(msg, flush=True)


def main():
    if os.geteuid() != 0:
        say("make demo-fleet needs root (network namespaces, XDP): sudo make demo-fleet")
        return 1
    if not os.path.exists(F.CH_SERVER):
        say("clickhouse-server is not installed: apt-get install clickhouse-server")
        return 1
    with L.Lab() as l1, L.Lab() as l2:
        ch = F.ClickHouse(l1)
        try:
            F.link_labs(l1, l2)
            ch.start()
            say(f"ClickHouse {ch.query('SELECT version()').strip()} in router1's "
                f"namespace, its files in {ch.dir}")
            pwfile = os.path.join(l1.dir, "ch-password")
            with open(pwfile, "w") as f:
                f.write(F.PASSWORD + "\n")
            os.chmod(pwfile, 0o600)
            shares = (demo.BT_PEERS[:100], demo.BT_PEERS[100:])
            for lab, peers in zip((l1, l2), shares):
                F.prepare_customer(lab, peers)
            probes = (F.start_probe(l1, "router1", "127.0.0.1", pwfile),
                      F.start_probe(l2, "router2", F.LINK[0], pwfile))
            say("router1 and router2 run flowprobe --store clickhouse://...; "
                f"the customer {demo.BT_HOST} talks BitTorrent to 100 peers "
                "through each ...")
            clients = [lab.spawn("A", [L.PYTHON, demo.BT_SWARM, "client",
                                       demo.BT_HOST, demo.BT_PORT] + peers,
                                 name="bt-client")
                       for lab, peers in zip((l1, l2), shares)]
            for c in clients:
                c.wait(120)
            say(f"waiting for the P2P period ({F.PERIOD} s) to end and be "
                f"judged ({F.ACTIVE + 10} s later) ...")
            t0 = time.time()

            def alarm():
                rows = ch.rows("SELECT period_start, score, peers, "
                               "arrayStringConcat(arraySort(probes), ','), reasons "
                               "FROM fleet.alarms FINAL WHERE host = '10.0.1.2'")
                return rows if any(len(r) == 5 and "router1,router2" in r[3]
                                   for r in rows) else None
            rows = L.wait_until(alarm, 2 * F.PERIOD + F.ACTIVE + 60,
                                "the merged alarm", interval=1)
            say(f"\nClickHouse, after {time.time() - t0:.0f} s:\n"
                "  SELECT period_start, score, peers, probes, reasons "
                "FROM fleet.alarms FINAL\n")
            for r in rows:
                say(f"  {r[0]}  score {r[1]}  peers {r[2]}  probes [{r[3]}]\n"
                    f"    {r[4]}")
            raw = ch.query("SELECT count() FROM fleet.alarms").strip()
            say(f"\n({raw} rows before deduplication: every probe writes the "
                "period's alarm; ReplacingMergeTree keeps one)")
            for r in ch.rows("SELECT probe_id, uniqExact(peer) FROM fleet.host_peers "
                             "WHERE host = '10.0.1.2' GROUP BY probe_id ORDER BY probe_id"):
                say(f"  {r[0]} alone saw {r[1]} of the customer's peers")
            for p in probes:
                p.stop()
            for r in ch.rows("SELECT probe_id, count(), sum(packets), sum(bytes) "
                             "FROM fleet.flows GROUP BY probe_id ORDER BY probe_id"):
                say(f"  {r[0]}: {r[1]} flows, {r[2]} packets, {r[3]} bytes in ClickHouse")
        finally:
            ch.remove()
    return 0


if __name__ == "__main__":
    sys.exit(main())
