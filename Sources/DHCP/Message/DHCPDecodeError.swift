// Typed reasons a datagram is not a usable BOOTP/DHCP message. Decoding never traps: every way a
// hostile or broken packet can be wrong ends up as one of these cases.

/// Which part of the message an option was being read from (RFC 2131 §4.1, RFC 2132 §9.3).
public enum DHCPOptionArea: String, Sendable, Equatable {
    case options
    case file
    case sname
}

public enum DHCPDecodeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A zero-length datagram.
    case empty
    /// Larger than any UDP datagram can be.
    case oversized(length: Int, limit: Int)
    /// Shorter than the 236-byte fixed BOOTP header.
    case truncatedHeader(need: Int, have: Int)
    /// `op` is neither BOOTREQUEST (1) nor BOOTREPLY (2).
    case badOpcode(UInt8)
    /// `hlen` larger than the 16-byte `chaddr` field.
    case badHardwareLength(UInt8)
    /// More relay hops than RFC 1542 allows (16).
    case hopCountExceeded(UInt8)
    /// An option's length byte (need 1, have 0) or its data runs past the end of its area.
    case truncatedOption(code: UInt8, area: DHCPOptionArea, need: Int, have: Int)
    /// A DHCP message (one carrying option 53) whose `options` field has no END (255).
    case missingEnd(area: DHCPOptionArea)
    /// Option 52 with a length other than 1 or a value other than 1, 2 or 3.
    case badOverload(length: Int, value: UInt8?)
    /// More option instances than any real client sends.
    case tooManyOptions(limit: Int)

    public var description: String {
        switch self {
        case .empty: "empty datagram"
        case .oversized(let length, let limit): "datagram of \(length) bytes exceeds \(limit)"
        case .truncatedHeader(let need, let have): "truncated header: need \(need) bytes, have \(have)"
        case .badOpcode(let op): "bad op \(op)"
        case .badHardwareLength(let hlen): "hlen \(hlen) exceeds 16"
        case .hopCountExceeded(let hops): "hops \(hops) exceeds 16"
        case .truncatedOption(let code, let area, let need, let have):
            "option \(code) in \(area.rawValue) truncated: need \(need) bytes, have \(have)"
        case .missingEnd(let area): "no END option in \(area.rawValue)"
        case .badOverload(let length, let value):
            "bad option overload (length \(length), value \(value.map(String.init) ?? "none"))"
        case .tooManyOptions(let limit): "more than \(limit) options"
        }
    }
}
