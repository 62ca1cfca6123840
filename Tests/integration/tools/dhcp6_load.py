#!/usr/bin/env python3
"""DHCPv6 load as a relay agent: SOLICIT/ADVERTISE/REQUEST/REPLY for many distinct DUIDs, each
wrapped in RELAY-FORW and sent unicast to the server (so nothing is multicast). Every REPLY that
grants an address is written to --acks as "DUID-HEX ADDRESS" the moment it arrives (flushed):
what crash tests compare with the server's lease journal. Bounded by --count and --seconds.
Prints "done N replies, unfinished M" at the end."""
import argparse, os, socket, struct, sys, time

def opt(code, data):
    return struct.pack("!HH", code, len(data)) + data

def options(data):
    out, i = {}, 0
    while i + 4 <= len(data):
        c, l = struct.unpack("!HH", data[i:i + 4])
        out.setdefault(c, []).append(data[i + 4:i + 4 + l])
        i += 4 + l
    return out

def relay(inner, link, peer):
    return bytes([12, 0]) + link + peer + opt(18, b"lc6") + opt(9, inner)

def main():
    p = argparse.ArgumentParser()
    p.add_argument("--server", required=True); p.add_argument("--link", required=True)
    p.add_argument("--count", type=int, default=1000); p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--window", type=int, default=32); p.add_argument("--base", type=int, default=0)
    p.add_argument("--acks", required=True); p.add_argument("--timeout", type=float, default=0.5)
    a = p.parse_args()
    link = socket.inet_pton(socket.AF_INET6, a.link)
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.bind(("::", 0))
    s.setblocking(False)
    acks = open(a.acks, "a")
    pending = {}   # xid -> (duid, stage, sent_at, server_duid)
    started, replies, next_client = time.time(), 0, 0
    def send(xid, duid, stage, server=None, addr=None):
        ia_opts = opt(5, addr + bytes(8)) if addr else b""
        inner = bytes([1 if stage == "solicit" else 3]) + xid.to_bytes(3, "big") + opt(1, duid)
        if server: inner += opt(2, server)
        inner += opt(3, struct.pack("!III", 1, 0, 0) + ia_opts) + opt(8, b"\x00\x00")
        peer = socket.inet_pton(socket.AF_INET6, "fe80::%x" % (xid & 0xffff or 1))
        s.sendto(relay(inner, link, peer), (a.server, 547))
        pending[xid] = (duid, stage, time.time(), server)
    while time.time() - started < a.seconds and (next_client < a.count or pending):
        while next_client < a.count and len(pending) < a.window:
            n = a.base + next_client
            duid = b"\x00\x03\x00\x01" + bytes([0x52, 0x54]) + n.to_bytes(4, "big")
            send((n * 7 + 1) & 0xffffff, duid, "solicit")
            next_client += 1
        try:
            data = s.recv(4096)
        except BlockingIOError:
            time.sleep(0.001)
            now = time.time()
            for xid, (duid, stage, t, server) in list(pending.items()):
                if now - t > a.timeout:
                    del pending[xid]
            continue
        if len(data) < 34 or data[0] != 13:
            continue
        inner = options(data[34:]).get(9, [b""])[0]
        if len(inner) < 4:
            continue
        xid = int.from_bytes(inner[1:4], "big")
        if xid not in pending:
            continue
        duid, stage, _, _ = pending.pop(xid)
        o = options(inner[4:])
        ia = o.get(3, [b""])[0]
        iao = options(ia[12:]) if len(ia) >= 12 else {}
        addr = iao.get(5, [b""])[0][:16]
        if len(addr) != 16:
            continue
        if inner[0] == 2 and stage == "solicit":
            send(xid, duid, "request", o.get(2, [b""])[0], addr)
        elif inner[0] == 7 and stage == "request":
            acks.write("%s %s\n" % (duid.hex(), socket.inet_ntop(socket.AF_INET6, addr)))
            acks.flush()
            replies += 1
    print("done %d replies, unfinished %d" % (replies, len(pending)))

if __name__ == "__main__":
    main()
