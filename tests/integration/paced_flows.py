#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Traffic for the utilisation curve: TCP flows, each paced at a fixed rate,
in rising numbers.

Each flow alone asks for r bits/s, as a user's download limited by the far
server does; the link's working area is where N·r fits in its capacity C,
and past N* = C/r the flows share it (TCP backs off, each flow slows
down) so utilisation stays put while N grows. That is the bend the knee
estimator must find.

  paced_flows.py sink HOST PORT
      accept connections on HOST:PORT and discard what arrives; prints
      "ready" once listening
  paced_flows.py send HOST PORT RATE_BPS STEP_S N1 N2 ...
      hold N1 flows for STEP_S seconds, then N2 (new flows are added,
      none are closed until the end), ...; prints "step N t" as each
      step starts (t: CLOCK_REALTIME seconds)
"""

import socket
import sys
import threading
import time

CHUNK = 4096


def sink(host, port):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((host, port))
    srv.listen(256)
    print("ready", flush=True)

    def drain(conn):
        with conn:
            while conn.recv(65536):
                pass

    while True:
        conn, _ = srv.accept()
        threading.Thread(target=drain, args=(conn,), daemon=True).start()


def paced(sock, rate_bps, stop):
    """Sends CHUNK bytes every CHUNK·8/rate seconds; when the link holds it
    back (send blocks), it does not try to catch up in a burst."""
    interval = CHUNK * 8 / rate_bps
    data = bytes(CHUNK)
    nxt = time.monotonic()
    try:
        while not stop.is_set():
            sock.sendall(data)
            nxt = max(nxt + interval, time.monotonic() - interval)
            delay = nxt - time.monotonic()
            if delay > 0:
                stop.wait(delay)
    except OSError:
        pass


def send(host, port, rate_bps, step_s, counts):
    stop = threading.Event()
    socks, threads = [], []
    for n in counts:
        while len(socks) < n:
            s = socket.create_connection((host, port), timeout=10)
            s.settimeout(None)
            socks.append(s)
            t = threading.Thread(target=paced, args=(s, rate_bps, stop),
                                 daemon=True)
            t.start()
            threads.append(t)
        print(f"step {n} {time.time():.3f}", flush=True)
        time.sleep(step_s)
    stop.set()
    for s in socks:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()
    for t in threads:
        t.join(5)


def main(argv):
    if len(argv) >= 4 and argv[1] == "sink":
        sink(argv[2], int(argv[3]))
        return 0
    if len(argv) >= 7 and argv[1] == "send":
        send(argv[2], int(argv[3]), float(argv[4]), float(argv[5]),
             [int(a) for a in argv[6:]])
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
