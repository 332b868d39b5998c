#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Slow clients against a web server, for test_web_hostile.py.

    slow_clients.py HOST PORT SOURCES PER_SOURCE SECONDS

Opens PER_SOURCE connections from each of SOURCES loopback addresses
(127.0.0.2, 127.0.0.3, ...), sends a request line and then one header
line every 2 s, never finishing the request, for SECONDS. A connection
the server closes is opened again at once. Prints one JSON line: how
many connections were opened, how many the server cut, and the most
held at once.
"""

import json
import selectors
import socket
import sys
import time

TRICKLE_S = 2.0


def main():
    host, port, sources, per_source, seconds = sys.argv[1:6]
    port, sources, per_source, seconds = int(port), int(sources), int(per_source), float(seconds)
    sel = selectors.DefaultSelector()
    opened = cut = refused = held_long = 0
    longest = 0.0
    next_line, born, reopen = {}, {}, []

    def connect(src):
        nonlocal opened, refused
        s = socket.socket()
        s.bind((src, 0))
        try:
            s.connect((host, port))
            s.sendall(f"GET /metrics HTTP/1.1\r\nHost: {host}:{port}\r\n".encode())
        except OSError:
            refused += 1
            s.close()
            return
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, src)
        born[s] = time.monotonic()
        next_line[s] = born[s] + TRICKLE_S
        opened += 1

    for i in range(sources):
        for _ in range(per_source):
            connect(f"127.0.0.{2 + i}")
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for key, _ in sel.select(timeout=0.2):
            s, src = key.fileobj, key.data
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if not data or b"HTTP/1." in data:
                life = time.monotonic() - born.pop(s)
                longest = max(longest, life)
                held_long += life >= 2
                sel.unregister(s)
                next_line.pop(s, None)
                s.close()
                cut += 1
                reopen.append((time.monotonic() + 0.2, src))
        now = time.monotonic()
        while reopen and reopen[0][0] <= now:
            connect(reopen.pop(0)[1])
        for s, t in list(next_line.items()):
            if now >= t:
                try:
                    s.send(b"X-Slow: 1\r\n")
                except OSError:
                    pass
                next_line[s] = now + TRICKLE_S
    now = time.monotonic()
    longest = max([longest] + [now - t for t in born.values()])
    print(json.dumps({"opened": opened, "cut": cut, "refused": refused,
                      "held_long": held_long, "longest_s": round(longest, 1)}))


if __name__ == "__main__":
    main()
