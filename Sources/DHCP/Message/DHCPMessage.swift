import NIOCore
import PXEConfig

/// One BOOTP (RFC 951) or DHCP (RFC 2131) message: the fixed header plus options.
///
/// `sname` and `file` hold the raw header fields. When a decoded message overloaded them with
/// options (option 52) they are empty here and their options are merged into `options`.
public struct DHCPMessage: Sendable, Equatable {
    public enum Opcode: UInt8, Sendable, Equatable {
        case bootRequest = 1
        case bootReply = 2
    }

    /// Which header fields carried options in a decoded message (option 52).
    public struct Overload: OptionSet, Sendable, Equatable {
        public var rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        public static let file = Overload(rawValue: 1)
        public static let sname = Overload(rawValue: 2)
    }

    public static let magicCookie: [UInt8] = [99, 130, 83, 99]
    /// Size of the header up to and excluding the magic cookie.
    public static let fixedHeaderSize = 236
    /// Minimum BOOTP message size (RFC 951: 64-byte vendor area).
    public static let minimumSize = 300
    /// 576-byte IP datagram minus 28 bytes of IP and UDP headers (RFC 2131 §2).
    public static let defaultMaxSize = 548
    /// A UDP datagram cannot carry more.
    public static let maximumDatagram = 65_507
    /// No real client sends anywhere near this many option instances.
    public static let maximumOptionCount = 512
    public static let broadcastFlag: UInt16 = 0x8000

    public var op: Opcode
    public var htype: UInt8
    public var hlen: UInt8
    public var hops: UInt8
    public var xid: UInt32
    public var secs: UInt16
    public var flags: UInt16
    public var ciaddr: IPv4Address
    public var yiaddr: IPv4Address
    public var siaddr: IPv4Address
    public var giaddr: IPv4Address
    /// Up to 16 bytes; the encoder pads or cuts to 16. Decoded: the first `hlen` bytes, plus any
    /// non-zero bytes after them.
    public var chaddr: [UInt8]
    /// Up to 64 bytes; the encoder pads or cuts to 64 (the last byte is always NUL).
    public var sname: [UInt8]
    /// Up to 128 bytes; the encoder pads or cuts to 128 (the last byte is always NUL).
    public var file: [UInt8]
    /// False for a pure RFC 951 message whose vendor area is not RFC 1048 options.
    public var hasMagicCookie: Bool
    /// The raw vendor area of a message without the magic cookie.
    public var vendorArea: [UInt8]
    public var options: DHCPOptions
    /// Set by the decoder; ignored by the encoder, which decides overload itself.
    public var overloaded: Overload

    public init(
        op: Opcode, htype: UInt8 = 1, hlen: UInt8 = 6, hops: UInt8 = 0, xid: UInt32, secs: UInt16 = 0,
        flags: UInt16 = 0, ciaddr: IPv4Address = .any, yiaddr: IPv4Address = .any, siaddr: IPv4Address = .any,
        giaddr: IPv4Address = .any, chaddr: [UInt8], sname: [UInt8] = [], file: [UInt8] = [],
        hasMagicCookie: Bool = true, vendorArea: [UInt8] = [], options: DHCPOptions = DHCPOptions()
    ) {
        self.op = op
        self.htype = htype
        self.hlen = hlen
        self.hops = hops
        self.xid = xid
        self.secs = secs
        self.flags = flags
        self.ciaddr = ciaddr
        self.yiaddr = yiaddr
        self.siaddr = siaddr
        self.giaddr = giaddr
        self.chaddr = chaddr
        self.sname = sname
        self.file = file
        self.hasMagicCookie = hasMagicCookie
        self.vendorArea = vendorArea
        self.options = options
        self.overloaded = []
    }

    // MARK: Conveniences

    public var isBroadcastFlagSet: Bool {
        get { flags & Self.broadcastFlag != 0 }
        set { flags = newValue ? flags | Self.broadcastFlag : flags & ~Self.broadcastFlag }
    }

    /// The first `hlen` bytes of `chaddr`.
    public var hardwareAddress: [UInt8] { Array(chaddr.prefix(Int(min(hlen, 16)))) }

    /// The client's Ethernet address, when `htype` is Ethernet (1) and `hlen` is 6.
    public var macAddress: MACAddress? {
        guard htype == 1, hlen == 6 else { return nil }
        return MACAddress(bytes: chaddr.prefix(6))
    }

    /// DHCP when option 53 is present; otherwise BOOTP.
    public var isDHCP: Bool { options.contains(.messageType) }

    /// `file` as text up to the first NUL; nil when empty.
    public var fileName: String? {
        get { Self.cString(file) }
        set { file = newValue.map { Array($0.utf8) } ?? [] }
    }

    /// `sname` as text up to the first NUL; nil when empty.
    public var serverName: String? {
        get { Self.cString(sname) }
        set { sname = newValue.map { Array($0.utf8) } ?? [] }
    }

    static func cString(_ bytes: [UInt8]) -> String? {
        let text = bytes.prefix { $0 != 0 }
        return text.isEmpty ? nil : String(decoding: text, as: UTF8.self)
    }
}

// MARK: - Decoding

extension DHCPMessage {
    /// Decodes the readable bytes of `buffer` (the buffer itself is not consumed).
    public static func decode(_ buffer: ByteBuffer) throws(DHCPDecodeError) -> DHCPMessage {
        try decode(bytes: Array(buffer.readableBytesView))
    }

    public static func decode(bytes: [UInt8]) throws(DHCPDecodeError) -> DHCPMessage {
        let n = bytes.count
        guard n > 0 else { throw .empty }
        guard n <= maximumDatagram else { throw .oversized(length: n, limit: maximumDatagram) }
        guard n >= fixedHeaderSize else { throw .truncatedHeader(need: fixedHeaderSize, have: n) }

        var reader = FixedReader(bytes: bytes)
        let opRaw = reader.u8()
        guard let op = Opcode(rawValue: opRaw) else { throw .badOpcode(opRaw) }
        let htype = reader.u8()
        let hlen = reader.u8()
        guard hlen <= 16 else { throw .badHardwareLength(hlen) }
        let hops = reader.u8()
        guard hops <= 16 else { throw .hopCountExceeded(hops) }
        let xid = reader.u32()
        let secs = reader.u16()
        let flags = reader.u16()
        let ciaddr = IPv4Address(reader.u32())
        let yiaddr = IPv4Address(reader.u32())
        let siaddr = IPv4Address(reader.u32())
        let giaddr = IPv4Address(reader.u32())
        let chaddr = reader.bytes(16)
        let snameField = reader.bytes(64)
        let fileField = reader.bytes(128)

        var message = DHCPMessage(
            op: op, htype: htype, hlen: hlen, hops: hops, xid: xid, secs: secs, flags: flags,
            ciaddr: ciaddr, yiaddr: yiaddr, siaddr: siaddr, giaddr: giaddr,
            chaddr: Array(chaddr.prefix(Int(hlen))) + trimTrailingZeros(Array(chaddr.dropFirst(Int(hlen)))),
            sname: trimTrailingZeros(snameField), file: trimTrailingZeros(fileField))

        let rest = bytes[fixedHeaderSize...]
        guard rest.count >= 4, rest.prefix(4).elementsEqual(magicCookie) else {
            message.hasMagicCookie = false
            message.vendorArea = trimTrailingZeros(Array(rest))
            return message
        }

        var parser = OptionParser()
        let sawEnd = try parser.parse(bytes[(fixedHeaderSize + 4)...], area: .options)
        if parser.options.contains(.messageType), !sawEnd { throw .missingEnd(area: .options) }

        if let overload = parser.options[.overload] {
            guard overload.count == 1, (1...3).contains(overload[0]) else {
                throw .badOverload(length: overload.count, value: overload.first)
            }
            parser.options.remove(.overload)
            let fields = Overload(rawValue: overload[0])
            message.overloaded = fields
            // RFC 2131 §4.1: `options` first, then `file`, then `sname`. Inside these fixed-size fields
            // END is expected but a field filled to its end with pad is accepted.
            if fields.contains(.file) {
                _ = try parser.parse(fileField[...], area: .file)
                message.file = []
            }
            if fields.contains(.sname) {
                _ = try parser.parse(snameField[...], area: .sname)
                message.sname = []
            }
            parser.options.remove(.overload)  // 52 is meaningful only in `options`
        }
        message.options = parser.options
        return message
    }

    private static func trimTrailingZeros(_ bytes: [UInt8]) -> [UInt8] {
        var b = bytes
        while b.last == 0 { b.removeLast() }
        return b
    }
}

/// Reads the fixed header; only used after the length check, so every read is in bounds.
private struct FixedReader {
    let bytes: [UInt8]
    var index = 0

    mutating func u8() -> UInt8 {
        defer { index += 1 }
        return index < bytes.count ? bytes[index] : 0
    }
    mutating func u16() -> UInt16 { UInt16(u8()) << 8 | UInt16(u8()) }
    mutating func u32() -> UInt32 { UInt32(u16()) << 16 | UInt32(u16()) }
    mutating func bytes(_ n: Int) -> [UInt8] {
        let start = min(index, bytes.count)
        let end = min(index + n, bytes.count)
        index += n
        return Array(bytes[start..<end])
    }
}

/// The TLV loop shared by the three option areas.
private struct OptionParser {
    var options = DHCPOptions()
    var instances = 0

    /// Returns whether END was seen.
    mutating func parse(_ area: ArraySlice<UInt8>, area name: DHCPOptionArea) throws(DHCPDecodeError) -> Bool {
        var i = area.startIndex
        let end = area.endIndex
        while i < end {
            let code = area[i]
            if code == DHCPOptionCode.pad.rawValue { i += 1; continue }
            if code == DHCPOptionCode.end.rawValue { return true }
            guard i + 1 < end else { throw .truncatedOption(code: code, area: name, need: 1, have: 0) }
            let length = Int(area[i + 1])
            let dataStart = i + 2
            guard dataStart + length <= end else {
                throw .truncatedOption(code: code, area: name, need: length, have: end - dataStart)
            }
            instances += 1
            guard instances <= DHCPMessage.maximumOptionCount else {
                throw .tooManyOptions(limit: DHCPMessage.maximumOptionCount)
            }
            options.append(DHCPOptionCode(code), Array(area[dataStart..<dataStart + length]))
            i = dataStart + length
        }
        return false
    }
}
