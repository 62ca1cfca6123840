#!/usr/bin/env python3
"""A lossy UDP relay for TFTP, for loopback tests only.

It sits between a TFTP client and a TFTP server and drops a fixed fraction of the datagrams it
forwards, in BOTH directions, using a seeded random generator so a run is repeatable.

TFTP changes ports mid-transfer (the server answers from a fresh "transfer identifier"), so the
relay mirrors that:

    client --RRQ/WRQ--> LISTEN ............. up --RRQ/WRQ--> server:PORT
    client <--DATA----- down(TID) <......... up <--DATA----- server:TID
    client --ACK------> down(TID) .......... up --ACK------> server:TID

* One session per client address (ip, port) seen on the listen socket. It owns an "up" socket
  that talks to the server; a retransmitted request from the same client reuses it.
* Each server transfer port that answers on "up" gets its own "down" socket, from which its
  replies reach the client. The client then sends to that port, exactly as it would send to the
  server's TID, and the relay forwards from "up" to that server TID. A server that answers one
  request twice (two TIDs) therefore looks to the client exactly as it would without the relay.

Only loopback addresses are accepted. The relay stops after --seconds and prints counters.
"""

import argparse
import ipaddress
import random
import selectors
import signal
import socket
import sys
import time


def endpoint(text):
    host, _, port = text.rpartition(":")
    if not host:
        host = "127.0.0.1"
    if not ipaddress.ip_address(host).is_loopback:
        raise argparse.ArgumentTypeError(f"{host} is not a loopback address")
    return host, int(port)


class Session:
    def __init__(self, client, up):
        self.client = client
        self.up = up
        self.down_by_tid = {}  # server (ip, port) -> down socket
        self.tid_by_down = {}  # down socket -> server (ip, port)
        self.last = time.monotonic()

    def sockets(self):
        return [self.up, *self.tid_by_down]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--listen", type=endpoint, required=True, help="HOST:PORT for requests")
    p.add_argument("--server", type=endpoint, required=True, help="the TFTP server's HOST:PORT")
    p.add_argument("--drop", type=float, default=0.10, help="fraction of datagrams dropped (0..1)")
    p.add_argument("--seed", type=int, default=1, help="random seed")
    p.add_argument("--seconds", type=float, default=120, help="lifetime, then exit")
    p.add_argument("--idle", type=float, default=60, help="forget a session idle this long")
    p.add_argument("--trace", action="store_true", help="log every datagram on stderr")
    a = p.parse_args()
    if not 0 <= a.drop < 1:
        p.error("--drop must be in [0, 1)")

    # One generator per direction: the drop pattern of each direction then depends only on the
    # order of the datagrams in that direction, not on how the two directions interleave.
    rngs = {"c2s": random.Random(a.seed), "s2c": random.Random(a.seed + 1_000_003)}
    opnames = {1: "RRQ", 2: "WRQ", 3: "DATA", 4: "ACK", 5: "ERROR", 6: "OACK"}
    start = time.monotonic()
    sel = selectors.DefaultSelector()
    listen = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listen.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listen.bind(a.listen)
    sel.register(listen, selectors.EVENT_READ, ("listen", None))

    sessions = {}  # client (ip, port) -> Session
    counts = {"c2s": 0, "s2c": 0, "c2s_dropped": 0, "s2c_dropped": 0, "sessions": 0, "stray": 0}

    def forward(sock, data, dest, direction):
        dropped = rngs[direction].random() < a.drop
        if a.trace:
            op = int.from_bytes(data[:2], "big") if len(data) >= 2 else -1
            blk = int.from_bytes(data[2:4], "big") if op in (3, 4) and len(data) >= 4 else ""
            print(f"{time.monotonic() - start:9.3f} {direction} {opnames.get(op, op)} {blk} len={len(data)}"
                  f"{' DROPPED' if dropped else ''}", file=sys.stderr)
        if dropped:
            counts[direction + "_dropped"] += 1
            return
        counts[direction] += 1
        try:
            sock.sendto(data, dest)
        except OSError as e:  # e.g. ECONNREFUSED reported late on loopback: ignore, like a loss
            print(f"relay: sendto {dest}: {e}", file=sys.stderr)

    def new_socket():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((a.listen[0], 0))
        return s

    def close_session(sess):
        for s in sess.sockets():
            sel.unregister(s)
            s.close()
        del sessions[sess.client]

    print(f"relay: listening on {a.listen[0]}:{listen.getsockname()[1]} -> {a.server[0]}:{a.server[1]} "
          f"drop={a.drop} seed={a.seed}", flush=True)
    deadline = time.monotonic() + a.seconds
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(True))
    while not stopping:
        now = time.monotonic()
        if now >= deadline:
            break
        for key, _ in sel.select(timeout=min(0.5, deadline - now)):
            sock = key.fileobj
            kind, sess = key.data
            try:
                data, src = sock.recvfrom(65536)
            except OSError:
                continue
            if kind == "listen":
                sess = sessions.get(src)
                if sess is None:
                    up = new_socket()
                    sess = Session(src, up)
                    sessions[src] = sess
                    sel.register(up, selectors.EVENT_READ, ("up", sess))
                    counts["sessions"] += 1
                sess.last = time.monotonic()
                forward(sess.up, data, a.server, "c2s")
            elif kind == "up":
                # A reply from one of the server's transfer ports (or, for some servers, from the
                # request port itself): relay it from the down socket mirroring that TID.
                down = sess.down_by_tid.get(src)
                if down is None:
                    down = new_socket()
                    sess.down_by_tid[src] = down
                    sess.tid_by_down[down] = src
                    sel.register(down, selectors.EVENT_READ, ("down", sess))
                sess.last = time.monotonic()
                forward(down, data, sess.client, "s2c")
            else:  # down: the client talking to (what it sees as) the server's TID
                if src != sess.client:
                    counts["stray"] += 1
                    continue
                sess.last = time.monotonic()
                forward(sess.up, data, sess.tid_by_down[sock], "c2s")
        now = time.monotonic()
        for sess in [s for s in sessions.values() if now - s.last > a.idle]:
            close_session(sess)

    for sess in list(sessions.values()):
        close_session(sess)
    listen.close()
    print("relay: " + " ".join(f"{k}={v}" for k, v in counts.items()), flush=True)


if __name__ == "__main__":
    main()
