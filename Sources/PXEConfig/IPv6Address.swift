#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv6 address: 16 bytes in network order. Text in and out through inet_pton/inet_ntop, so
/// the forms are exactly the system's (RFC 4291 input, RFC 5952 output).
public struct IPv6Address: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var bytes: [UInt8]

    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 16 else { return nil }
        self.bytes = Array(bytes)
    }

    /// Parses IPv6 text (no zone, no brackets).
    public init?(_ text: some StringProtocol) {
        let s = String(text)
        guard !s.isEmpty, !s.contains("%"), s.contains(":") else { return nil }
        var a = in6_addr()
        guard inet_pton(AF_INET6, s, &a) == 1 else { return nil }
        bytes = withUnsafeBytes(of: &a) { Array($0) }
    }

    public var description: String {
        var a = in6_addr()
        withUnsafeMutableBytes(of: &a) { raw in for (i, b) in bytes.enumerated() { raw[i] = b } }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        guard inet_ntop(AF_INET6, &a, &buffer, socklen_t(buffer.count)) != nil else { return "?" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `[addr]`: how an IPv6 address appears in URLs and beside a port.
    public var bracketed: String { "[\(description)]" }

    /// fe80::/10.
    public var isLinkLocal: Bool { bytes[0] == 0xFE && bytes[1] & 0xC0 == 0x80 }
    /// fc00::/7 (unique local, RFC 4193).
    public var isUniqueLocal: Bool { bytes[0] & 0xFE == 0xFC }
    /// 2000::/3 (global unicast).
    public var isGlobalUnicast: Bool { bytes[0] & 0xE0 == 0x20 }
    public var isMulticast: Bool { bytes[0] == 0xFF }

    /// Whether this address lies in `prefix/length`.
    public func isWithin(_ prefix: IPv6Address, length: Int) -> Bool {
        var bits = length
        for i in 0..<16 where bits > 0 {
            let mask: UInt8 = bits >= 8 ? 0xFF : ~(0xFF >> UInt8(bits))
            if bytes[i] & mask != prefix.bytes[i] & mask { return false }
            bits -= 8
        }
        return true
    }

    public static func < (a: IPv6Address, b: IPv6Address) -> Bool { a.bytes.lexicographicallyPrecedes(b.bytes) }
}
