import PXEConfig

/// A DHCP/BOOTP option code (RFC 2132 and later registrations). Any byte is a valid code; the
/// named ones are those this server reads or writes.
public struct DHCPOptionCode: RawRepresentable, Hashable, Sendable, Comparable, ExpressibleByIntegerLiteral,
    CustomStringConvertible
{
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public init(_ rawValue: UInt8) { self.rawValue = rawValue }
    public init(integerLiteral value: UInt8) { self.rawValue = value }

    public static let pad: DHCPOptionCode = 0
    public static let subnetMask: DHCPOptionCode = 1
    public static let router: DHCPOptionCode = 3
    public static let domainNameServer: DHCPOptionCode = 6
    public static let hostName: DHCPOptionCode = 12
    public static let bootFileSize: DHCPOptionCode = 13
    public static let domainName: DHCPOptionCode = 15
    public static let broadcastAddress: DHCPOptionCode = 28
    public static let vendorSpecific: DHCPOptionCode = 43
    public static let requestedIPAddress: DHCPOptionCode = 50
    public static let leaseTime: DHCPOptionCode = 51
    public static let overload: DHCPOptionCode = 52
    public static let messageType: DHCPOptionCode = 53
    public static let serverIdentifier: DHCPOptionCode = 54
    public static let parameterRequestList: DHCPOptionCode = 55
    public static let message: DHCPOptionCode = 56
    public static let maxMessageSize: DHCPOptionCode = 57
    public static let renewalTime: DHCPOptionCode = 58
    public static let rebindingTime: DHCPOptionCode = 59
    public static let vendorClassIdentifier: DHCPOptionCode = 60
    public static let clientIdentifier: DHCPOptionCode = 61
    public static let tftpServerName: DHCPOptionCode = 66
    public static let bootfileName: DHCPOptionCode = 67
    public static let userClass: DHCPOptionCode = 77
    public static let relayAgentInformation: DHCPOptionCode = 82
    public static let clientSystemArchitecture: DHCPOptionCode = 93
    public static let clientNetworkInterface: DHCPOptionCode = 94
    public static let clientMachineIdentifier: DHCPOptionCode = 97
    public static let ipxeEncapsulated: DHCPOptionCode = 175
    public static let end: DHCPOptionCode = 255

    public static func < (l: DHCPOptionCode, r: DHCPOptionCode) -> Bool { l.rawValue < r.rawValue }
    public var description: String { String(rawValue) }
}

/// One option: a code and its data (already concatenated when the client split it, RFC 3396).
public struct DHCPOption: Sendable, Equatable {
    public var code: DHCPOptionCode
    public var data: [UInt8]

    public init(_ code: DHCPOptionCode, _ data: [UInt8]) {
        self.code = code
        self.data = data
    }
}

/// The options of one message, in wire order, at most one entry per code. Pad, END and option 52
/// (overload) are structure, not content: the decoder consumes them and the encoder writes them.
public struct DHCPOptions: Sendable, Equatable, Sequence {
    public private(set) var entries: [DHCPOption] = []

    public init() {}

    public init(_ entries: [DHCPOption]) {
        for e in entries { append(e.code, e.data) }
    }

    public var isEmpty: Bool { entries.isEmpty }
    public var count: Int { entries.count }
    public func makeIterator() -> IndexingIterator<[DHCPOption]> { entries.makeIterator() }

    public func contains(_ code: DHCPOptionCode) -> Bool { entries.contains { $0.code == code } }

    /// Raw data of an option. Setting replaces the data in place (keeping the position) or appends;
    /// setting `nil` removes it.
    public subscript(code: DHCPOptionCode) -> [UInt8]? {
        get { entries.first { $0.code == code }?.data }
        set {
            if let i = entries.firstIndex(where: { $0.code == code }) {
                if let newValue { entries[i].data = newValue } else { entries.remove(at: i) }
            } else if let newValue {
                entries.append(DHCPOption(code, newValue))
            }
        }
    }

    /// Appends, concatenating with an existing instance of the same code (RFC 3396).
    public mutating func append(_ code: DHCPOptionCode, _ data: [UInt8]) {
        if let i = entries.firstIndex(where: { $0.code == code }) {
            entries[i].data.append(contentsOf: data)
        } else {
            entries.append(DHCPOption(code, data))
        }
    }

    public mutating func remove(_ code: DHCPOptionCode) { self[code] = nil }

    // MARK: Typed readers. Each returns nil when the option is absent or has the wrong length.

    public func ipv4Address(_ code: DHCPOptionCode) -> IPv4Address? {
        guard let d = self[code], d.count == 4 else { return nil }
        return IPv4Address(bytes: d)
    }

    public func ipv4Addresses(_ code: DHCPOptionCode) -> [IPv4Address]? {
        guard let d = self[code], !d.isEmpty, d.count % 4 == 0 else { return nil }
        return stride(from: 0, to: d.count, by: 4).map { IPv4Address(bytes: d[$0..<$0 + 4]) }
    }

    public func uint32(_ code: DHCPOptionCode) -> UInt32? {
        guard let d = self[code], d.count == 4 else { return nil }
        return d.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
    }

    public func uint16(_ code: DHCPOptionCode) -> UInt16? {
        guard let d = self[code], d.count == 2 else { return nil }
        return UInt16(d[0]) << 8 | UInt16(d[1])
    }

    public func uint8(_ code: DHCPOptionCode) -> UInt8? {
        guard let d = self[code], d.count == 1 else { return nil }
        return d[0]
    }

    /// Text, with trailing NULs removed (some clients NUL-terminate); invalid UTF-8 is repaired.
    public func string(_ code: DHCPOptionCode) -> String? {
        guard var d = self[code] else { return nil }
        while d.last == 0 { d.removeLast() }
        return String(decoding: d, as: UTF8.self)
    }

    // MARK: Typed writers.

    public mutating func set(_ code: DHCPOptionCode, ipv4 a: IPv4Address) { self[code] = a.bytes }
    public mutating func set(_ code: DHCPOptionCode, ipv4List l: [IPv4Address]) { self[code] = l.flatMap(\.bytes) }
    public mutating func set(_ code: DHCPOptionCode, uint32 v: UInt32) {
        self[code] = [UInt8(truncatingIfNeeded: v >> 24), UInt8(truncatingIfNeeded: v >> 16),
                      UInt8(truncatingIfNeeded: v >> 8), UInt8(truncatingIfNeeded: v)]
    }
    public mutating func set(_ code: DHCPOptionCode, uint16 v: UInt16) {
        self[code] = [UInt8(truncatingIfNeeded: v >> 8), UInt8(truncatingIfNeeded: v)]
    }
    public mutating func set(_ code: DHCPOptionCode, uint8 v: UInt8) { self[code] = [v] }
    public mutating func set(_ code: DHCPOptionCode, string s: String) { self[code] = Array(s.utf8) }

    // MARK: Named accessors for the options the server acts on.

    /// Option 53 as a known type; nil when absent or an unknown value (check `contains(.messageType)`).
    public var messageType: DHCPMessageType? {
        get { uint8(.messageType).flatMap(DHCPMessageType.init(rawValue:)) }
        set { self[.messageType] = newValue.map { [$0.rawValue] } }
    }
    public var requestedAddress: IPv4Address? { ipv4Address(.requestedIPAddress) }
    public var serverIdentifier: IPv4Address? { ipv4Address(.serverIdentifier) }
    public var parameterRequestList: [UInt8] { self[.parameterRequestList] ?? [] }
    public var maxMessageSize: UInt16? { uint16(.maxMessageSize) }
    public var clientIdentifier: [UInt8]? {
        guard let d = self[.clientIdentifier], !d.isEmpty else { return nil }
        return d
    }
    public var vendorClassIdentifier: String? { string(.vendorClassIdentifier) }
    public var hostName: String? { string(.hostName) }

    /// True when the client listed `code` in option 55.
    public func requested(_ code: DHCPOptionCode) -> Bool { parameterRequestList.contains(code.rawValue) }
}
