#!/usr/bin/env python3
"""A deliberately plain TFTP client for tests: lockstep RRQ with an optional pause per ACK
(a slow transfer that must survive a reload) and optional options. Prints the SHA-256."""
import argparse, hashlib, socket, struct, sys, time

def get(host, port, name, delay=0.0, blksize=None, timeout=2.0, retries=5):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    req = b"\x00\x01" + name.encode() + b"\x00octet\x00"
    if blksize:
        req += b"blksize\x00" + str(blksize).encode() + b"\x00"
    size = blksize or 512
    s.sendto(req, (host, port))
    out, expected, peer, tries = bytearray(), 1, None, 0
    while True:
        try:
            data, addr = s.recvfrom(70000)
        except socket.timeout:
            tries += 1
            if tries > retries:
                raise SystemExit("timeout")
            if peer is None:
                s.sendto(req, (host, port))
            else:
                s.sendto(struct.pack("!HH", 4, (expected - 1) & 0xFFFF), peer)
            continue
        if peer is None:
            peer = addr
        elif addr != peer:
            continue
        op = struct.unpack("!H", data[:2])[0]
        if op == 5:
            raise SystemExit("error %d %s" % (struct.unpack("!H", data[2:4])[0], data[4:].rstrip(b"\0").decode(errors="replace")))
        if op == 6:
            s.sendto(struct.pack("!HH", 4, 0), peer)
            continue
        if op != 3:
            continue
        block = struct.unpack("!H", data[2:4])[0]
        if block == expected & 0xFFFF:
            out += data[4:]
            expected += 1
            tries = 0
            if delay:
                time.sleep(delay)
            s.sendto(struct.pack("!HH", 4, block), peer)
            if len(data) - 4 < size:
                return bytes(out)

if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("host"); p.add_argument("port", type=int); p.add_argument("name")
    p.add_argument("--delay", type=float, default=0.0)
    p.add_argument("--blksize", type=int)
    p.add_argument("--out")
    a = p.parse_args()
    data = get(a.host, a.port, a.name, a.delay, a.blksize)
    if a.out:
        open(a.out, "wb").write(data)
    print(hashlib.sha256(data).hexdigest())
