"""dhcpopts.py PCAP: one line per DHCP packet (ports 67/68, and the PXE boot server's 4011) in a capture (pcap, Ethernet or Linux cooked), with
the fields a PXE boot test reads: who sent it, the message type, the client's MAC, and the
options that tell firmware apart (60 vendor class, 77 user class, 93 architecture, 175 iPXE,
61 client identifier) or the server's answer (yiaddr, file, siaddr, 60)."""
import struct
import sys

data = open(sys.argv[1], "rb").read()
order = "<" if data[:4] == b"\xd4\xc3\xb2\xa1" else ">"
link = struct.unpack(order + "I", data[20:24])[0]
pos, t0 = 24, None
names = {1: "DISCOVER", 2: "OFFER", 3: "REQUEST", 4: "DECLINE", 5: "ACK", 6: "NAK", 7: "RELEASE", 8: "INFORM"}
while pos + 16 <= len(data):
    sec, usec, caplen, _ = struct.unpack(order + "IIII", data[pos:pos + 16])
    pkt = data[pos + 16:pos + 16 + caplen]
    pos += 16 + caplen
    t = sec + usec / 1e6
    t0 = t if t0 is None else t0
    ip = pkt[14 if link == 1 else 16:]
    if len(ip) < 20 or ip[9] != 17:
        continue
    udp = ip[(ip[0] & 15) * 4:]
    sport, dport = struct.unpack("!HH", udp[:4])
    if not ({sport, dport} == {67, 68} or 4011 in (sport, dport)):
        continue
    via = 4011 if 4011 in (sport, dport) else 67
    b = udp[8:]
    if len(b) < 240 or b[236:240] != b"\x63\x82\x53\x63":
        continue
    opts, i = {}, 240
    while i + 1 < len(b) and b[i] != 255:
        if b[i] == 0:
            i += 1
            continue
        opts[b[i]] = b[i + 2:i + 2 + b[i + 1]]
        i += 2 + b[i + 1]
    kind = names.get(opts.get(53, b"\0")[0], "?")
    mac = ":".join("%02x" % c for c in b[28:34])
    if b[0] == 1:
        print("client +%.3fs %s opt60=%s opt77=%s opt93=%s opt175=%s mac=%s opt61=%s via=%d opt97=%s" % (
            t - t0, kind, opts.get(60, b"-").decode(errors="replace"), opts.get(77, b"-").decode(errors="replace"),
            int.from_bytes(opts[93][:2], "big") if 93 in opts else "-",
            "%d-bytes" % len(opts[175]) if 175 in opts else "-", mac,
            opts[61].hex() if 61 in opts else "-", via, "%d-bytes" % len(opts[97]) if 97 in opts else "-"))
    else:
        print("server +%.3fs %s yiaddr=%s file=%s siaddr=%s opt60=%s mac=%s via=%d from=%s:%d opt43=%s" % (
            t - t0, kind, ".".join(map(str, b[16:20])), b[108:236].rstrip(b"\0").decode(errors="replace"),
            ".".join(map(str, b[20:24])), opts.get(60, b"-").decode(errors="replace"), mac, via,
            ".".join(map(str, ip[12:16])), sport, opts[43].hex() if 43 in opts else "-"))
