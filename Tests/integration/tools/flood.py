#!/usr/bin/env python3
"""Hostile traffic for storm tests: malformed and semantically wrong TFTP and DHCP packets, and
RRQs from many source ports that never acknowledge. Bounded by --seconds and --abandoned."""
import argparse, os, random, socket, struct, time

def tftp_garbage(rng):
    kind = rng.randrange(10)
    if kind == 0: return os.urandom(rng.randrange(0, 600))
    if kind == 1: return struct.pack("!H", rng.choice([0, 7, 9, 255, 65535])) + os.urandom(rng.randrange(0, 50))
    if kind == 2: return b"\0\1file\0octet\0blksize\0"                     # option without value
    if kind == 3: return b"\0\1f\0octet\0blksize\0" + rng.choice([b"0", b"65535", b"-1", b"99999999999999999999"]) + b"\0"
    if kind == 4: return b"\0\1\0octet\0"                                    # zero-length name
    if kind == 5: return b"\0\1" + b"A" * rng.randrange(1000, 3000) + b"\0octet\0"
    if kind == 6: return b"\0\1f\0mail\0"
    if kind == 7: return b"\0\3\0\1" + os.urandom(100)                      # DATA to the listener
    if kind == 8: return b"\0\1f\0octet\0windowsize\0" + rng.choice([b"0", b"65536", b"x"]) + b"\0timeout\0000\0"
    return b"\0\1" + bytes(rng.randrange(1, 32) for _ in range(40)) + b"\0octet\0"

def dhcp_garbage(rng, giaddr):
    base = struct.pack("!BBBBIHH", 1, 1, 6, 0, rng.getrandbits(32), 0, 0) + b"\0" * 12 + socket.inet_aton(giaddr)
    base += os.urandom(6) + b"\0" * 10 + b"\0" * 192 + bytes([99, 130, 83, 99])
    kind = rng.randrange(8)
    if kind == 0: return os.urandom(rng.randrange(0, 700))
    if kind == 1: return base[:rng.randrange(0, 240)]                        # truncated header
    if kind == 2: return base + bytes([53, 1, 1, 61, 200, 1, 2])             # length past the end
    if kind == 3: return base + bytes([53, 1, 1, 52, 1, 3])                  # overload with garbage file/sname
    if kind == 4: return base + bytes([53, 1, rng.randrange(0, 256)]) + b"\xff"
    if kind == 5: return base + bytes([53, 1, 3, 50, 4, 10, 82, 0, 1, 54, 4, 1, 2, 3, 4]) + b"\xff"  # other server
    if kind == 6: return base + bytes([53, 1, 1]) + bytes([0] * 500)         # no END
    return base + bytes([53, 1, 1]) + b"".join(bytes([rng.randrange(1, 254), 0]) for _ in range(300)) + b"\xff"

def main():
    p = argparse.ArgumentParser()
    p.add_argument("--server", required=True); p.add_argument("--tftp-port", type=int, default=69)
    p.add_argument("--dhcp-port", type=int, default=67); p.add_argument("--giaddr", required=True)
    p.add_argument("--seconds", type=float, default=10); p.add_argument("--abandoned", type=int, default=10000)
    p.add_argument("--rate", type=int, default=5000, help="garbage packets per second, at most")
    a = p.parse_args()
    rng = random.Random(1234)
    g = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    d = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); d.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    d.bind((a.giaddr, 67))
    sent, abandoned, start = 0, 0, time.monotonic()
    held = []
    while time.monotonic() - start < a.seconds:
        for _ in range(50):
            try:
                g.sendto(tftp_garbage(rng), (a.server, a.tftp_port))
                d.sendto(dhcp_garbage(rng, a.giaddr), (a.server, a.dhcp_port))
                sent += 2
            except OSError:
                pass
        # RRQs that are never acknowledged, each from its own source port.
        for _ in range(20):
            if abandoned >= a.abandoned: break
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.sendto(b"\0\1big.bin\0octet\0blksize\0001468\0", (a.server, a.tftp_port))
            held.append(s); abandoned += 1
            if len(held) > 500: held.pop(0).close()
        time.sleep(max(0, 100 / a.rate))
    for s in held: s.close()
    print("flood: %d garbage packets, %d abandoned RRQs in %.1f s" % (sent, abandoned, time.monotonic() - start))

if __name__ == "__main__":
    main()
