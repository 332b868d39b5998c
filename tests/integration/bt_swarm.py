#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""A BitTorrent-like host and its swarm, for the demo and the tests.

`bt_swarm.py peers PORT ADDR...`, in B: every address listens on TCP and
UDP PORT; a TCP peer answers the BEP 3 handshake with its own handshake
and a bitfield, a UDP peer answers a DHT query with a DHT response.
`bt_swarm.py client SRC PORT ADDR...`, in A: from SRC, opens a peer-wire
connection to every address (handshake with the DHT and extension-protocol
bits, interested, bitfield), sends a DHT ping and a uTP SYN from one UDP
port, and prints how many peers answered. Real protocol bytes, real
sockets: what a customer's client does to a few hundred peers.
"""

import os
import socket
import sys
import threading

INFO_HASH = bytes.fromhex("a3f1c2e4b5d6978812345678900abcdef1234567")
RESERVED = bytes([0, 0, 0, 0, 0, 0x10, 0, 0x01])   # LTEP, DHT


def handshake(peer_id):
    return b"\x13BitTorrent protocol" + RESERVED + INFO_HASH + peer_id


def bitfield(n_bytes=16):
    return (1 + n_bytes).to_bytes(4, "big") + b"\x05" + b"\xff" * n_bytes


def dht(kind, node_id):
    if kind == "q":
        return b"d1:ad2:id20:" + node_id + b"e1:q4:ping1:t2:aa1:y1:qe"
    return b"d1:rd2:id20:" + node_id + b"e1:t2:aa1:y1:re"


def utp_syn(conn_id):
    # type SYN (4) << 4 | version 1, no extension, connection id,
    # timestamp (non-zero), timestamp difference, window, seq, ack.
    return (bytes([0x41, 0]) + conn_id.to_bytes(2, "big")
            + (123456789).to_bytes(4, "big") + bytes(4)
            + (1 << 20).to_bytes(4, "big") + (1).to_bytes(2, "big")
            + bytes(2))


def recv_exact(conn, n):
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            break
        buf += chunk
    return buf


def peers(port, addrs):
    for addr in addrs:
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        t.bind((addr, port))
        t.listen(16)
        threading.Thread(target=serve_tcp, args=(t,), daemon=True).start()
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind((addr, port))
        threading.Thread(target=serve_udp, args=(u,), daemon=True).start()
    print("ready", flush=True)
    threading.Event().wait()


def serve_tcp(listener):
    while True:
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(10)
            if recv_exact(conn, 68)[:20] == b"\x13BitTorrent protocol":
                conn.sendall(handshake(os.urandom(20)) + bitfield())
                recv_exact(conn, 5 + 21)  # interested + bitfield
            conn.shutdown(socket.SHUT_WR)
            while conn.recv(4096):
                pass


def serve_udp(sock):
    while True:
        data, src = sock.recvfrom(2048)
        if data.startswith(b"d1:ad2:id20:"):
            sock.sendto(dht("r", os.urandom(20)), src)


def client(src, port, addrs):
    answered = 0
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind((src, 51413))
    udp.settimeout(2)
    my_id = os.urandom(20)
    for i, addr in enumerate(addrs):
        try:
            with socket.create_connection((addr, port), timeout=5,
                                          source_address=(src, 0)) as c:
                c.sendall(handshake(my_id))
                if recv_exact(c, 68)[:20] == b"\x13BitTorrent protocol":
                    answered += 1
                c.sendall(b"\x00\x00\x00\x01\x02" + bitfield())
                recv_exact(c, 21)
        except OSError:
            pass
        udp.sendto(dht("q", my_id), (addr, port))
        udp.sendto(utp_syn(1000 + i), (addr, port))
    dht_answers = 0
    try:
        while True:
            udp.recvfrom(2048)
            dht_answers += 1
    except OSError:
        pass
    print(f"{answered} of {len(addrs)} peers answered the handshake, "
          f"{dht_answers} the DHT ping", flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "peers":
        peers(int(sys.argv[2]), sys.argv[3:])
    else:
        client(sys.argv[2], int(sys.argv[3]), sys.argv[4:])
