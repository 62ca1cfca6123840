#!/usr/bin/env python3
"""Crafted DHCP/BOOTP requests for the namespace tests (no scapy).

Run INSIDE a client network namespace made by a test script. It sends one request and prints
every reply it sees as one JSON object per line, then exits.

* Client mode (default): a UDP socket bound to 0.0.0.0:68 on --iface (SO_BINDTODEVICE,
  SO_BROADCAST) sends to 255.255.255.255:67.
* Relay mode (--giaddr and --server): the socket is bound to 0.0.0.0:67 and sends unicast to
  SERVER:67 with giaddr set, as a relay agent does.
* Unicast mode (--to HOST:PORT, optional --from-port): a client that already has an address
  asking a server directly, e.g. a PXE boot server on 4011 (edk2 sends from 4011, iPXE from 68).
  --truncate N sends only the first N bytes (a broken packet).

Replies are captured with an AF_PACKET socket on --iface, so the test sees where they were
really sent (Ethernet destination, IP destination, UDP ports) even when the IP layer of the
namespace would not deliver them (unicast to an address the interface does not have yet).
Only frames whose xid matches are printed.

Exit status: 0 when at least one reply arrived (or, with --expect-none, when none did), else 1.
"""

import argparse
import json
import os
import select
import socket
import struct
import sys
import time

SO_BINDTODEVICE = getattr(socket, "SO_BINDTODEVICE", 25)
ETH_P_IP = 0x0800
PACKET_OUTGOING = 4
MAGIC = bytes([99, 130, 83, 99])


def mac_bytes(text):
    b = bytes(int(x, 16) for x in text.replace("-", ":").split(":"))
    if len(b) != 6:
        raise argparse.ArgumentTypeError(f"bad MAC {text}")
    return b


def ip_bytes(text):
    return socket.inet_aton(text)


def opt(code, data):
    out = b""
    if not data:
        return bytes([code, 0])
    for i in range(0, len(data), 255):
        chunk = data[i:i + 255]
        out += bytes([code, len(chunk)]) + chunk
    return out


def build(a):
    flags = 0x8000 if a.broadcast_flag else 0
    giaddr = ip_bytes(a.giaddr) if a.giaddr else bytes(4)
    ciaddr = ip_bytes(a.ciaddr) if a.ciaddr else bytes(4)
    header = struct.pack("!BBBBIHH", 1, 1, 6, a.hops, a.xid, 0, flags)
    header += ciaddr + bytes(4) + bytes(4) + giaddr
    header += mac_bytes(a.mac) + bytes(10)
    header += bytes(64) + bytes(128)
    assert len(header) == 236
    if a.type == "bootp":
        if a.no_cookie:
            return header + bytes(64)  # RFC 951 vendor area, all zero
        vend = MAGIC + bytes([255])
        return header + vend + bytes(max(0, 64 - len(vend)))
    types = {"discover": 1, "request": 3, "decline": 4, "release": 7, "inform": 8}
    o = opt(53, bytes([types[a.type]]))
    if a.client_id:
        o += opt(61, bytes.fromhex(a.client_id))
    if a.requested:
        o += opt(50, ip_bytes(a.requested))
    if a.server_id:
        o += opt(54, ip_bytes(a.server_id))
    if a.max_size:
        o += opt(57, struct.pack("!H", a.max_size))
    if a.vendor is not None:
        o += opt(60, a.vendor.encode())
    if a.arch is not None:
        o += opt(93, struct.pack("!H", a.arch))
    if a.nii:
        o += opt(94, bytes([1, 2, 1]))
    if a.uuid:
        u = bytes.fromhex(a.uuid)
        o += opt(97, u)
    if a.user_class is not None:
        uc = a.user_class.encode()
        o += opt(77, bytes([len(uc)]) + uc if a.user_class_rfc3004 else uc)
    if a.prl:
        o += opt(55, bytes(int(x) for x in a.prl.split(",")))
    if a.opt82:
        o += opt(82, bytes.fromhex(a.opt82))
    for extra in a.option:
        code, _, hexdata = extra.partition("=")
        o += opt(int(code), bytes.fromhex(hexdata))
    o += bytes([255])
    body = header + MAGIC + o
    if len(body) < 300:
        body += bytes(300 - len(body))
    return body


def parse_options(area, into):
    i = 0
    while i < len(area):
        code = area[i]
        if code == 0:
            i += 1
            continue
        if code == 255:
            return True
        if i + 1 >= len(area):
            raise ValueError("truncated option")
        n = area[i + 1]
        data = area[i + 2:i + 2 + n]
        if len(data) != n:
            raise ValueError(f"option {code} truncated")
        into[code] = into.get(code, b"") + data
        i += 2 + n
    return False


def cstr(b):
    return b.split(b"\0", 1)[0].decode("latin-1")


def decode(payload):
    d = {"length": len(payload)}
    if len(payload) < 236:
        d["error"] = "short"
        return d
    op, htype, hlen, hops, xid, secs, flags = struct.unpack("!BBBBIHH", payload[:12])
    d.update(op=op, hops=hops, xid=xid, flags=flags,
             ciaddr=socket.inet_ntoa(payload[12:16]), yiaddr=socket.inet_ntoa(payload[16:20]),
             siaddr=socket.inet_ntoa(payload[20:24]), giaddr=socket.inet_ntoa(payload[24:28]),
             chaddr=":".join(f"{x:02x}" for x in payload[28:28 + min(hlen, 16)]))
    sname, file = payload[44:108], payload[108:236]
    options = {}
    d["cookie"] = payload[236:240] == MAGIC
    if d["cookie"]:
        d["end"] = parse_options(payload[240:], options)
        over = options.pop(52, b"")
        if over and over[0] in (1, 3):
            parse_options(file, options)
            file = b""
        if over and over[0] in (2, 3):
            parse_options(sname, options)
            sname = b""
    d["sname"] = cstr(sname)
    d["file"] = cstr(file)
    d["options"] = {str(k): v.hex() for k, v in sorted(options.items())}
    if 53 in options and len(options[53]) == 1:
        d["type"] = {2: "offer", 5: "ack", 6: "nak"}.get(options[53][0], str(options[53][0]))
    else:
        d["type"] = "bootp"
    return d


def frame_to_reply(frame, want_xid, port):
    """Ethernet/IPv4/UDP frame -> dict, or None when it is not a reply we want."""
    if len(frame) < 14 + 20 + 8:
        return None
    eth_dst = frame[0:6]
    if struct.unpack("!H", frame[12:14])[0] != ETH_P_IP:
        return None
    ip = frame[14:]
    ihl = (ip[0] & 0x0F) * 4
    if ip[9] != 17 or len(ip) < ihl + 8:
        return None
    total = struct.unpack("!H", ip[2:4])[0]
    udp = ip[ihl:total]
    sport, dport, ulen = struct.unpack("!HHH", udp[:6])
    if dport != port:
        return None
    payload = udp[8:ulen]
    if len(payload) < 8 or payload[0] != 2 or struct.unpack("!I", payload[4:8])[0] != want_xid:
        return None
    d = decode(payload)
    d.update(eth_dst=":".join(f"{x:02x}" for x in eth_dst),
             ip_src=socket.inet_ntoa(ip[12:16]), ip_dst=socket.inet_ntoa(ip[16:20]),
             udp_sport=sport, udp_dport=dport)
    return d


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--iface", required=True)
    p.add_argument("--mac", required=True)
    p.add_argument("--type", default="discover",
                   choices=["discover", "request", "decline", "release", "inform", "bootp"])
    p.add_argument("--xid", type=lambda s: int(s, 0), default=None)
    p.add_argument("--broadcast-flag", action="store_true")
    p.add_argument("--no-cookie", action="store_true", help="BOOTP: RFC 951 vendor area without the cookie")
    p.add_argument("--ciaddr")
    p.add_argument("--requested", help="option 50")
    p.add_argument("--server-id", help="option 54")
    p.add_argument("--client-id", help="option 61, hex")
    p.add_argument("--max-size", type=int, help="option 57")
    p.add_argument("--vendor", help="option 60")
    p.add_argument("--arch", type=int, help="option 93")
    p.add_argument("--nii", action="store_true", help="option 94")
    p.add_argument("--uuid", help="option 97, hex (17 bytes: 00 + GUID)")
    p.add_argument("--user-class", help="option 77")
    p.add_argument("--user-class-rfc3004", action="store_true", help="length-prefix option 77")
    p.add_argument("--prl", help="option 55, comma-separated codes")
    p.add_argument("--opt82", help="option 82, hex")
    p.add_argument("--option", action="append", default=[], help="CODE=HEX, repeatable")
    p.add_argument("--giaddr", help="relay mode: giaddr")
    p.add_argument("--hops", type=int, default=0)
    p.add_argument("--server", help="relay mode: unicast destination")
    p.add_argument("--timeout", type=float, default=3.0, help="seconds to wait for replies")
    p.add_argument("--first", action="store_true", help="stop at the first reply")
    p.add_argument("--expect-none", action="store_true")
    p.add_argument("--to", help="unicast destination HOST:PORT (default: broadcast to port 67)")
    p.add_argument("--from-port", type=int, help="source port (default 68; 67 in relay mode)")
    p.add_argument("--truncate", type=int, help="send only the first N bytes")
    a = p.parse_args()
    if a.xid is None:
        a.xid = int.from_bytes(os.urandom(4), "big")

    relay = a.giaddr is not None and a.server is not None
    listen_port = a.from_port or (67 if relay else 68)

    cap = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IP))
    cap.bind((a.iface, 0))
    cap.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)

    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    s.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, a.iface.encode())
    s.bind(("0.0.0.0", listen_port))
    packet = build(a)
    if a.truncate is not None:
        packet = packet[:a.truncate]
    if a.to:
        host, _, port = a.to.rpartition(":")
        dest = (host, int(port))
    else:
        dest = (a.server, 67) if relay else ("255.255.255.255", 67)
    s.sendto(packet, dest)

    got = 0
    deadline = time.monotonic() + a.timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        r, _, _ = select.select([cap, s], [], [], left)
        if s in r:
            s.recv(4096)  # drain; the capture socket is the source of truth
        if cap not in r:
            continue
        frame, addr = cap.recvfrom(65535)
        if addr[2] == PACKET_OUTGOING:
            continue
        d = frame_to_reply(frame, a.xid, listen_port)
        if d is None:
            continue
        got += 1
        print(json.dumps(d, sort_keys=True), flush=True)
        if a.first:
            break
    s.close()
    cap.close()
    if a.expect_none:
        return 0 if got == 0 else 1
    return 0 if got else 1


if __name__ == "__main__":
    sys.exit(main())
