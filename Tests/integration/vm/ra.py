"""ra.py IFACE SECONDS: an IPv6 router advertisement (no prefix, no M/O flags, router lifetime 0)
to ff02::1 every 0.5 s. Without one, iPXE waits about 15 s for IPv6 autoconfiguration to time out
before it runs its boot file; with it the ROM goes on as soon as DHCP is done. Run it only on a
bridge inside a test's own namespace."""
import socket
import struct
import sys
import time

ifname, secs = sys.argv[1], float(sys.argv[2])
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode())
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
ra = struct.pack("!BBHBBHII", 134, 0, 0, 64, 0, 0, 0, 0)
end = time.time() + secs
while time.time() < end:
    try:
        s.sendto(ra, ("ff02::1", 0, 0, socket.if_nametoindex(ifname)))
    except OSError:
        pass  # br0's link-local address may still be tentative
    time.sleep(0.5)
