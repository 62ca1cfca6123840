#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import PXEConfig

/// Adds entries to the kernel ARP table (ioctl SIOCSARP), so a reply can be unicast to a client
/// that has no address yet and so cannot answer ARP (RFC 2131 §4.1). Needs CAP_NET_ADMIN; when
/// it fails the caller broadcasts instead.
final class ARPTable: Sendable {
    private let fd: CInt

    init?() {
        #if os(Linux)
        let s = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard s >= 0 else { return nil }
        fd = s
        #else
        return nil
        #endif
    }

    deinit { _ = Glibc_close(fd) }

    /// Returns 0 on success, else the errno.
    func add(ip: IPv4Address, hardwareAddress: [UInt8], device: String) -> Int32 {
        #if os(Linux)
        guard hardwareAddress.count == 6, !device.isEmpty else { return EINVAL }
        // struct arpreq: arp_pa (sockaddr, 16) | arp_ha (sockaddr, 16) | arp_flags (int) |
        // arp_netmask (sockaddr, 16) | arp_dev (char[16]) = 68 bytes.
        var req = [UInt8](repeating: 0, count: 68)
        let af = UInt16(AF_INET)
        req[0] = UInt8(truncatingIfNeeded: af)  // sa_family, host byte order (little-endian Linux targets)
        req[1] = UInt8(truncatingIfNeeded: af >> 8)
        for (i, b) in ip.bytes.enumerated() { req[4 + i] = b }  // sin_addr, network order
        let hw = UInt16(1)  // ARPHRD_ETHER
        req[16] = UInt8(truncatingIfNeeded: hw)
        req[17] = UInt8(truncatingIfNeeded: hw >> 8)
        for (i, b) in hardwareAddress.enumerated() { req[18 + i] = b }
        let flags = Int32(0x02)  // ATF_COM: a completed (resolved) entry that ages out normally
        withUnsafeBytes(of: flags.littleEndian) { for (i, b) in $0.enumerated() { req[32 + i] = b } }
        for (i, b) in device.utf8.prefix(15).enumerated() { req[52 + i] = b }
        let r = req.withUnsafeMutableBytes { raw -> Int32 in
            guard let p = raw.baseAddress else { return -1 }
            return ioctl(fd, UInt(0x8955), p)  // SIOCSARP
        }
        return r == 0 ? 0 : errno
        #else
        return ENOTSUP
        #endif
    }
}
