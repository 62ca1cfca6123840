// Small value types shared by the config, DHCP and the daemon.

/// An IPv4 address held as a host-order 32-bit value, so ranges and subnets are plain arithmetic.
public struct IPv4Address: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var value: UInt32

    public init(_ value: UInt32) { self.value = value }

    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        value = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }

    /// Parses dotted-quad text strictly: four decimal parts 0...255, no leading zeros beyond "0".
    public init?(_ text: some StringProtocol) {
        // Byte-level: configs with thousands of reservations parse thousands of these per reload.
        var v: UInt32 = 0, part: UInt32 = 0, digits = 0, dots = 0, leadingZero = false
        for b in text.utf8 {
            if b == UInt8(ascii: ".") {
                guard digits > 0, dots < 3 else { return nil }
                v = v << 8 | part
                part = 0; digits = 0; dots += 1
            } else if b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") {
                if digits == 0 { leadingZero = b == UInt8(ascii: "0") } else if leadingZero { return nil }
                part = part * 10 + UInt32(b - UInt8(ascii: "0"))
                digits += 1
                guard digits <= 3, part <= 255 else { return nil }
            } else {
                return nil
            }
        }
        guard dots == 3, digits > 0 else { return nil }
        value = v << 8 | part
    }

    public init(bytes: some Collection<UInt8>) {
        var v: UInt32 = 0
        for b in bytes.prefix(4) { v = v << 8 | UInt32(b) }
        value = v
    }

    public var bytes: [UInt8] {
        [UInt8(truncatingIfNeeded: value >> 24), UInt8(truncatingIfNeeded: value >> 16),
         UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)]
    }

    public static let any = IPv4Address(0)
    public static let broadcast = IPv4Address(0xFFFF_FFFF)

    public var description: String {
        "\(value >> 24).\(value >> 16 & 0xFF).\(value >> 8 & 0xFF).\(value & 0xFF)"
    }

    public static func < (l: IPv4Address, r: IPv4Address) -> Bool { l.value < r.value }
}

/// An IPv4 network in CIDR form; the address is always normalised to the network address.
public struct IPv4Network: Hashable, Sendable, CustomStringConvertible {
    public var network: IPv4Address
    public var prefixLength: Int

    public init(network: IPv4Address, prefixLength: Int) {
        self.prefixLength = max(0, min(32, prefixLength))
        self.network = IPv4Address(network.value & IPv4Network.mask(self.prefixLength))
    }

    /// Parses "10.0.0.0/24". Host bits set ("10.0.0.5/24") are rejected: an admin who writes that
    /// usually meant something else.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let a = IPv4Address(parts[0]),
              parts[1].allSatisfy({ $0.isASCII && $0.isNumber }), let p = Int(parts[1]), (0...32).contains(p)
        else { return nil }
        guard a.value & ~IPv4Network.mask(p) == 0 else { return nil }
        self.init(network: a, prefixLength: p)
    }

    public static func mask(_ prefix: Int) -> UInt32 {
        prefix <= 0 ? 0 : (prefix >= 32 ? 0xFFFF_FFFF : ~(UInt32(0xFFFF_FFFF) >> UInt32(prefix)))
    }

    public var netmask: IPv4Address { IPv4Address(IPv4Network.mask(prefixLength)) }
    public var broadcastAddress: IPv4Address { IPv4Address(network.value | ~IPv4Network.mask(prefixLength)) }

    public func contains(_ a: IPv4Address) -> Bool {
        a.value & IPv4Network.mask(prefixLength) == network.value
    }

    public var description: String { "\(network)/\(prefixLength)" }
}

/// A 48-bit Ethernet hardware address, held in an integer so hashing and comparing it (lease
/// tables, reservations) costs no allocation.
public struct MACAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    private var raw: UInt64

    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 6 else { return nil }
        var v: UInt64 = 0
        for b in bytes { v = v << 8 | UInt64(b) }
        raw = v
    }

    /// Accepts `52:54:00:00:00:01` and `52-54-00-00-00-01`, any case: exactly two hex digits per part.
    public init?(_ text: some StringProtocol) {
        var v: UInt64 = 0, parts = 0, digits = 0
        for b in text.utf8 {
            if b == UInt8(ascii: ":") || b == UInt8(ascii: "-") {
                guard digits == 2, parts < 5 else { return nil }
                parts += 1
                digits = 0
                continue
            }
            let nibble: UInt8
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = b - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = b - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = b - UInt8(ascii: "A") + 10
            default: return nil
            }
            guard digits < 2 else { return nil }
            v = v << 4 | UInt64(nibble)
            digits += 1
        }
        guard digits == 2, parts == 5 else { return nil }
        raw = v
    }

    public var bytes: [UInt8] { (0..<6).map { UInt8(truncatingIfNeeded: raw >> (40 - 8 * UInt64($0))) } }

    public var description: String {
        let hex = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(17)
        for i in 0..<6 {
            let b = Int(truncatingIfNeeded: raw >> (40 - 8 * UInt64(i))) & 0xFF
            if i > 0 { out.append(UInt8(ascii: ":")) }
            out.append(hex[b >> 4]); out.append(hex[b & 15])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func < (l: MACAddress, r: MACAddress) -> Bool { l.raw < r.raw }
}
