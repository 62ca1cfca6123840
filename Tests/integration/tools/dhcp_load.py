#!/usr/bin/env python3
"""DHCP load as a relay agent: full DISCOVER/OFFER/REQUEST/ACK exchanges for many distinct MACs,
sent unicast from port 67 with giaddr set, so nothing is broadcast. Every ACK is written to
--acks as "MAC IP" the moment it arrives (flushed), which is what crash tests compare against the
server's lease file. --server may list several servers (comma-separated): every message goes to
all of them, as a relay with several helper addresses forwards it, and the REQUEST's server
identifier picks one. Bounded by --count and --seconds."""
import argparse, random, socket, struct, sys, time

def build(msgtype, xid, mac, giaddr, extra=b""):
    b = struct.pack("!BBBBIHH", 1, 1, 6, 1, xid, 0, 0) + b"\0" * 12 + socket.inet_aton(giaddr)
    b += mac + b"\0" * 10 + b"\0" * 192 + bytes([99, 130, 83, 99, 53, 1, msgtype]) + extra + b"\xff"
    return b + b"\0" * max(0, 300 - len(b))

def options(data):
    opts, i = {}, 240
    while i < len(data):
        c = data[i]
        if c == 255: break
        if c == 0: i += 1; continue
        if i + 1 >= len(data): break
        l = data[i + 1]; opts[c] = data[i + 2:i + 2 + l]; i += 2 + l
    return opts

def main():
    p = argparse.ArgumentParser()
    p.add_argument("--server", required=True); p.add_argument("--giaddr", required=True)
    p.add_argument("--port", type=int, default=67); p.add_argument("--count", type=int, default=1000)
    p.add_argument("--seconds", type=float, default=10); p.add_argument("--window", type=int, default=32)
    p.add_argument("--mac-base", type=int, default=0); p.add_argument("--acks", required=True)
    p.add_argument("--timeout", type=float, default=1.0)
    p.add_argument("--drain", type=float, default=None, help="seconds to finish exchanges after the deadline")
    p.add_argument("--restart-on-nak", type=int, default=0,
                   help="after a NAK start again with a DISCOVER, as a client does, up to this many times")
    a = p.parse_args()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((a.giaddr, 67)); s.settimeout(0.05)
    out = open(a.acks, "a")
    servers = a.server.split(",")
    def send(packet):
        for server in servers:
            try: s.sendto(packet, (server, a.port))
            except OSError: pass   # a server that is down (ICMP unreachable) must not stop the run
    deadline = time.monotonic() + a.seconds
    drain = a.drain if a.drain is not None else 4 * a.timeout + 2
    pending = {}   # xid -> (mac, state, sent_at, tries)
    next_client, acked, failed, naks = 0, 0, 0, 0
    # After the deadline no new client starts, but exchanges in flight get a few seconds to end.
    while (time.monotonic() < deadline and next_client < a.count) or (pending and time.monotonic() < deadline + drain):
        while len(pending) < a.window and next_client < a.count and time.monotonic() < deadline:
            n = a.mac_base + next_client; next_client += 1
            mac = bytes([0x02, 0x70]) + struct.pack("!I", n)
            xid = random.getrandbits(32)
            send(build(1, xid, mac, a.giaddr))
            pending[xid] = [mac, "discover", time.monotonic(), 0, None]
        try:
            data, _ = s.recvfrom(2048)
        except socket.timeout:
            data = None
        except OSError:
            data = None
        now = time.monotonic()
        if data and len(data) >= 240:
            xid = struct.unpack("!I", data[4:8])[0]
            st = pending.get(xid)
            o = options(data)
            kind = o.get(53, b"\0")[0]
            if st and kind == 2 and st[1] == "discover":
                yi = data[16:20]
                sid = o.get(54, b"")
                st[1], st[2], st[4] = "request", now, (yi, sid)
                send(build(3, xid, st[0], a.giaddr, bytes([50, 4]) + yi + bytes([54, len(sid)]) + sid))
            elif st and kind == 5 and st[1] == "request":
                out.write("%s %s\n" % (":".join("%02x" % x for x in st[0]), socket.inet_ntoa(data[16:20]))); out.flush()
                acked += 1; del pending[xid]
            elif st and kind == 6 and (st[1] != "request" or o.get(54, st[4][1]) == st[4][1]):
                # A NAK from the server the REQUEST named (another server's NAK is not for us).
                naks += 1; del pending[xid]
                restarts = st[5] if len(st) > 5 else 0
                if restarts < a.restart_on_nak:
                    xid = random.getrandbits(32)
                    send(build(1, xid, st[0], a.giaddr))
                    pending[xid] = [st[0], "discover", time.monotonic(), 0, None, restarts + 1]
                else:
                    failed += 1
        for xid, st in list(pending.items()):
            if now - st[2] > a.timeout:
                st[3] += 1; st[2] = now
                if st[3] > 3: failed += 1; del pending[xid]; continue
                if st[1] == "discover":
                    send(build(1, xid, st[0], a.giaddr))
                else:
                    yi, sid = st[4]
                    send(build(3, xid, st[0], a.giaddr, bytes([50, 4]) + yi + bytes([54, len(sid)]) + sid))
    print("acked %d failed %d unfinished %d naks %d" % (acked, failed, len(pending), naks))

if __name__ == "__main__":
    main()
