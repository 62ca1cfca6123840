import PXEConfig

// DHCPv6 messages (RFC 8415 section 8 and 9) and the options a netboot server uses, decoded from
// bytes without trapping: every way a packet can be wrong is a `DHCPv6DecodeError`.

public enum DHCPv6MessageType: UInt8, Sendable, Equatable, CaseIterable {
    case solicit = 1, advertise, request, confirm, renew, rebind, reply, release, decline, reconfigure
    case informationRequest = 11
    case relayForward = 12
    case relayReply = 13
}

/// Option codes (RFC 8415 section 21, RFC 3646, RFC 5970).
public struct DHCPv6OptionCode: RawRepresentable, Hashable, Sendable, Comparable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public init(_ v: UInt16) { rawValue = v }

    public static let clientID = Self(1)
    public static let serverID = Self(2)
    public static let iaNA = Self(3)
    public static let iaTA = Self(4)
    public static let iaAddress = Self(5)
    public static let optionRequest = Self(6)
    public static let preference = Self(7)
    public static let elapsedTime = Self(8)
    public static let relayMessage = Self(9)
    public static let statusCode = Self(13)
    public static let rapidCommit = Self(14)
    public static let userClass = Self(15)
    public static let vendorClass = Self(16)
    public static let interfaceID = Self(18)
    public static let dnsServers = Self(23)
    public static let domainList = Self(24)
    public static let iaPD = Self(25)
    public static let bootFileURL = Self(59)
    public static let bootFileParameters = Self(60)
    public static let clientArchitecture = Self(61)
    public static let networkInterfaceID = Self(62)

    public var description: String { String(rawValue) }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

public struct DHCPv6Option: Sendable, Equatable {
    public var code: DHCPv6OptionCode
    public var data: [UInt8]
    public init(_ code: DHCPv6OptionCode, _ data: [UInt8]) {
        self.code = code
        self.data = data
    }
}

public enum DHCPv6DecodeError: Error, Sendable, Equatable, CustomStringConvertible {
    case empty
    case oversized(Int)
    /// Shorter than the 4-byte header (34 for a relay message).
    case truncatedHeader(need: Int, have: Int)
    case unknownMessageType(UInt8)
    /// An option header or its data runs past the end of its container.
    case truncatedOption(code: UInt16, need: Int, have: Int)
    /// An option whose length is wrong for its kind (an IA_NA under 12 bytes, a 16-bit field of 3 bytes, ...).
    case badOptionLength(code: UInt16, length: Int)
    case tooManyOptions(Int)
    /// Relay messages nested deeper than the hop limit (RFC 8415 HOP_COUNT_LIMIT 8).
    case relayTooDeep
    /// A relay message without a Relay Message option.
    case relayWithoutMessage

    public var description: String {
        switch self {
        case .empty: "empty datagram"
        case .oversized(let n): "datagram of \(n) bytes is too large"
        case .truncatedHeader(let need, let have): "truncated header: need \(need) bytes, have \(have)"
        case .unknownMessageType(let t): "unknown message type \(t)"
        case .truncatedOption(let code, let need, let have): "option \(code) truncated: need \(need) bytes, have \(have)"
        case .badOptionLength(let code, let length): "option \(code) has a bad length \(length)"
        case .tooManyOptions(let n): "more than \(n) options"
        case .relayTooDeep: "relay messages nested too deep"
        case .relayWithoutMessage: "relay message without a Relay Message option"
        }
    }
}

/// A client/server message (RFC 8415 section 8).
public struct DHCPv6Message: Sendable, Equatable {
    public var type: DHCPv6MessageType
    /// 24-bit transaction id.
    public var transactionID: UInt32
    public var options: [DHCPv6Option]

    public init(type: DHCPv6MessageType, transactionID: UInt32, options: [DHCPv6Option] = []) {
        self.type = type
        self.transactionID = transactionID & 0xFF_FFFF
        self.options = options
    }

    public func first(_ code: DHCPv6OptionCode) -> [UInt8]? { options.first { $0.code == code }?.data }
    public func all(_ code: DHCPv6OptionCode) -> [[UInt8]] { options.filter { $0.code == code }.map(\.data) }

    public static let maximumSize = 65_535
    public static let optionLimit = 256

    public static func decode(_ bytes: [UInt8]) throws(DHCPv6DecodeError) -> DHCPv6Message {
        guard !bytes.isEmpty else { throw .empty }
        guard bytes.count <= maximumSize else { throw .oversized(bytes.count) }
        guard bytes.count >= 4 else { throw .truncatedHeader(need: 4, have: bytes.count) }
        guard let type = DHCPv6MessageType(rawValue: bytes[0]) else { throw .unknownMessageType(bytes[0]) }
        let xid = UInt32(bytes[1]) << 16 | UInt32(bytes[2]) << 8 | UInt32(bytes[3])
        return DHCPv6Message(type: type, transactionID: xid, options: try DHCPv6Options.decode(bytes[4...]))
    }

    public func encode() -> [UInt8] {
        var out: [UInt8] = [type.rawValue, UInt8(transactionID >> 16 & 0xFF), UInt8(transactionID >> 8 & 0xFF),
                            UInt8(transactionID & 0xFF)]
        DHCPv6Options.encode(options, into: &out)
        return out
    }
}

/// A relay message (RFC 8415 section 9): RELAY-FORW from a relay agent, RELAY-REPL back.
public struct DHCPv6RelayMessage: Sendable, Equatable {
    public var type: DHCPv6MessageType
    public var hopCount: UInt8
    public var linkAddress: IPv6Address
    public var peerAddress: IPv6Address
    /// Options other than the Relay Message (Interface-Id is echoed in the reply).
    public var options: [DHCPv6Option]
    /// The relayed message: bytes of a client message or of another relay message.
    public var inner: [UInt8]

    public static let hopLimit = 8

    public static func decode(_ bytes: [UInt8]) throws(DHCPv6DecodeError) -> DHCPv6RelayMessage {
        guard bytes.count >= 34 else { throw .truncatedHeader(need: 34, have: bytes.count) }
        guard let type = DHCPv6MessageType(rawValue: bytes[0]), type == .relayForward || type == .relayReply else {
            throw .unknownMessageType(bytes[0])
        }
        let all = try DHCPv6Options.decode(bytes[34...])
        guard let inner = all.first(where: { $0.code == .relayMessage })?.data else { throw .relayWithoutMessage }
        return DHCPv6RelayMessage(type: type, hopCount: bytes[1], linkAddress: IPv6Address(bytes: bytes[2..<18])!,
                                  peerAddress: IPv6Address(bytes: bytes[18..<34])!,
                                  options: all.filter { $0.code != .relayMessage }, inner: inner)
    }

    public func encode() -> [UInt8] {
        var out: [UInt8] = [type.rawValue, hopCount] + linkAddress.bytes + peerAddress.bytes
        DHCPv6Options.encode(options + [DHCPv6Option(.relayMessage, inner)], into: &out)
        return out
    }
}

/// Options as TLVs: 16-bit code, 16-bit length, data (RFC 8415 section 21.1).
public enum DHCPv6Options {
    public static func decode(_ bytes: ArraySlice<UInt8>) throws(DHCPv6DecodeError) -> [DHCPv6Option] {
        var out: [DHCPv6Option] = []
        var i = bytes.startIndex
        while i < bytes.endIndex {
            guard bytes.endIndex - i >= 4 else {
                throw .truncatedOption(code: bytes.endIndex - i >= 2 ? UInt16(bytes[i]) << 8 | UInt16(bytes[i + 1]) : 0,
                                       need: 4, have: bytes.endIndex - i)
            }
            let code = UInt16(bytes[i]) << 8 | UInt16(bytes[i + 1])
            let length = Int(UInt16(bytes[i + 2]) << 8 | UInt16(bytes[i + 3]))
            let start = i + 4
            guard bytes.endIndex - start >= length else { throw .truncatedOption(code: code, need: length, have: bytes.endIndex - start) }
            guard out.count < DHCPv6Message.optionLimit else { throw .tooManyOptions(DHCPv6Message.optionLimit) }
            out.append(DHCPv6Option(DHCPv6OptionCode(code), Array(bytes[start..<(start + length)])))
            i = start + length
        }
        return out
    }

    public static func encode(_ options: [DHCPv6Option], into out: inout [UInt8]) {
        for o in options {
            let n = min(o.data.count, 0xFFFF)
            out += [UInt8(o.code.rawValue >> 8), UInt8(o.code.rawValue & 0xFF), UInt8(n >> 8), UInt8(n & 0xFF)]
            out += o.data.prefix(n)
        }
    }
}

/// IA_NA (RFC 8415 section 21.4): an identity association for non-temporary addresses.
public struct IANA: Sendable, Equatable {
    public var iaid: UInt32
    public var t1: UInt32
    public var t2: UInt32
    public var options: [DHCPv6Option]

    public init(iaid: UInt32, t1: UInt32 = 0, t2: UInt32 = 0, options: [DHCPv6Option] = []) {
        self.iaid = iaid
        self.t1 = t1
        self.t2 = t2
        self.options = options
    }

    public init(decoding d: [UInt8]) throws(DHCPv6DecodeError) {
        guard d.count >= 12 else { throw .badOptionLength(code: DHCPv6OptionCode.iaNA.rawValue, length: d.count) }
        iaid = UInt32(bigEndianBytes: d[0..<4])
        t1 = UInt32(bigEndianBytes: d[4..<8])
        t2 = UInt32(bigEndianBytes: d[8..<12])
        options = try DHCPv6Options.decode(d[12...])
    }

    /// The addresses the client asked for (IAADDR options that decode).
    public var requestedAddresses: [IPv6Address] {
        options.filter { $0.code == .iaAddress && $0.data.count >= 24 }.compactMap { IPv6Address(bytes: $0.data[0..<16]) }
    }

    public func encoded() -> [UInt8] {
        var out = iaid.bigEndianBytes + t1.bigEndianBytes + t2.bigEndianBytes
        DHCPv6Options.encode(options, into: &out)
        return out
    }

    /// An IAADDR option: address, preferred and valid lifetimes.
    public static func address(_ a: IPv6Address, preferred: UInt32, valid: UInt32) -> DHCPv6Option {
        DHCPv6Option(.iaAddress, a.bytes + preferred.bigEndianBytes + valid.bigEndianBytes)
    }
}

public enum DHCPv6Status: UInt16, Sendable, Equatable {
    case success = 0, unspecFail, noAddrsAvail, noBinding, notOnLink, useMulticast

    public func option(_ message: String) -> DHCPv6Option {
        DHCPv6Option(.statusCode, rawValue.bigEndianBytes + Array(message.utf8))
    }
}

extension UInt32 {
    init(bigEndianBytes b: ArraySlice<UInt8>) {
        var v: UInt32 = 0
        for x in b.prefix(4) { v = v << 8 | UInt32(x) }
        self = v
    }
    var bigEndianBytes: [UInt8] { [UInt8(self >> 24), UInt8(self >> 16 & 0xFF), UInt8(self >> 8 & 0xFF), UInt8(self & 0xFF)] }
}

extension UInt16 {
    var bigEndianBytes: [UInt8] { [UInt8(self >> 8), UInt8(self & 0xFF)] }
}
