@testable import DHCP
import NIOCore
import PXEConfig
import Testing

/// Realistic DISCOVERs, built byte by byte as the firmware sends them.
enum Vectors {
    static let guid: [UInt8] = [0x00, 0x56, 0x4D, 0x1C, 0x2A, 0x9E, 0x61, 0x4B, 0x11, 0x88, 0x77,
                                0x00, 0x0C, 0x29, 0xAB, 0xCD, 0xEF]

    /// iPXE (e1000 ROM in QEMU): user class "iPXE", option 175, vendor class with Arch 0.
    static var ipxe: RawPacket {
        var p = RawPacket()
        p.xid = 0x0A0B_0C0D
        p.chaddr = [0x52, 0x54, 0x00, 0x98, 0x00, 0x42]
        p.options = RawPacket.tlv(53, [1])
            + RawPacket.tlv(57, [0x05, 0xC0])
            + RawPacket.tlv(93, [0, 0])
            + RawPacket.tlv(94, [1, 2, 1])
            + RawPacket.tlv(60, "PXEClient:Arch:00000:UNDI:002001")
            + RawPacket.tlv(77, "iPXE")
            + RawPacket.tlv(55, [1, 3, 6, 7, 12, 15, 17, 26, 43, 60, 66, 67, 119, 128, 129, 130, 131, 132, 133, 134, 135, 175, 203])
            + RawPacket.tlv(175, [0xB1, 0x05, 0x01, 0x80, 0x86, 0x10, 0x0E, 0xEB, 0x03, 0x01, 0x00, 0x00, 0x17, 0x01, 0x01,
                                  0x15, 0x01, 0x01, 0x13, 0x01, 0x01, 0x11, 0x01, 0x01, 0x27, 0x01, 0x01, 0x19, 0x01, 0x01])
            + RawPacket.tlv(61, [1, 0x52, 0x54, 0x00, 0x98, 0x00, 0x42])
            + RawPacket.tlv(97, guid)
        return p
    }

    /// EDK2 (OVMF) UEFI x64 PXE: 93 = 7, 97 GUID, a long option 55.
    static var edk2: RawPacket {
        var p = RawPacket()
        p.xid = 0x7E57_0007
        p.secs = 0
        p.flags = 0x8000
        p.chaddr = [0x52, 0x54, 0x00, 0x00, 0x00, 0x07]
        p.options = RawPacket.tlv(53, [1])
            + RawPacket.tlv(57, [0x05, 0xC0])
            + RawPacket.tlv(55, [1, 2, 3, 4, 5, 6, 12, 13, 15, 17, 18, 22, 23, 28, 40, 41, 42, 43, 50, 51, 54, 58, 59, 60,
                                 66, 67, 97, 128, 129, 130, 131, 132, 133, 134, 135])
            + RawPacket.tlv(97, guid)
            + RawPacket.tlv(94, [1, 3, 0])
            + RawPacket.tlv(93, [0, 7])
            + RawPacket.tlv(60, "PXEClient:Arch:00007:UNDI:003000")
        return p
    }

    /// Intel PXE 2.1 option ROM (BIOS): 93 = 0.
    static var intelUNDI: RawPacket {
        var p = RawPacket()
        p.xid = 0x8086_0000
        p.chaddr = [0x00, 0x1B, 0x21, 0x0A, 0x0B, 0x0C]
        p.options = RawPacket.tlv(53, [1])
            + RawPacket.tlv(57, [0x04, 0xEC])
            + RawPacket.tlv(93, [0, 0])
            + RawPacket.tlv(94, [1, 2, 1])
            + RawPacket.tlv(97, guid)
            + RawPacket.tlv(55, [1, 2, 3, 5, 6, 11, 12, 13, 15, 16, 17, 18, 43, 54, 60, 67, 128, 129, 130, 131, 132, 133, 134, 135])
            + RawPacket.tlv(60, "PXEClient:Arch:00000:UNDI:002001")
        return p
    }
}

@Suite struct DHCPMessageDecodeTests {
    @Test func ipxeDiscover() throws {
        let m = try DHCPMessage.decode(bytes: Vectors.ipxe.bytes)
        #expect(m.op == .bootRequest)
        #expect(m.xid == 0x0A0B_0C0D)
        #expect(m.secs == 4)
        #expect(m.macAddress == mac("52:54:00:98:00:42"))
        #expect(m.options.messageType == .discover)
        #expect(m.options.maxMessageSize == 1472)
        #expect(m.options.vendorClassIdentifier == "PXEClient:Arch:00000:UNDI:002001")
        #expect(m.options.clientIdentifier == [1, 0x52, 0x54, 0x00, 0x98, 0x00, 0x42])
        #expect(m.options[.ipxeEncapsulated]?.count == 30)
        let info = PXEClientInfo(options: m.options)
        #expect(info.isIPXE && info.isPXEClient && !info.isHTTPClient)
        #expect(info.architecture == .bios)
        #expect(info.machineIdentifier == Vectors.guid)
        #expect(m.hasMagicCookie)
        #expect(m.isDHCP)
    }

    @Test func edk2Discover() throws {
        let m = try DHCPMessage.decode(bytes: Vectors.edk2.bytes)
        #expect(m.isBroadcastFlagSet)
        let info = PXEClientInfo(options: m.options)
        #expect(info.architecture == .uefiX64)
        #expect(!info.isIPXE)
        #expect(m.options.requested(.bootfileName) && m.options.requested(.tftpServerName))
        #expect(m.options.parameterRequestList.count == 35)
    }

    @Test func intelUNDIDiscover() throws {
        let m = try DHCPMessage.decode(bytes: Vectors.intelUNDI.bytes)
        #expect(m.options.maxMessageSize == 1260)
        #expect(PXEClientInfo(options: m.options).architecture == .bios)
        #expect(m.options.clientIdentifier == nil)
        #expect(ClientKey(message: m) == .hardwareAddress([0x00, 0x1B, 0x21, 0x0A, 0x0B, 0x0C]))
    }

    @Test(arguments: [Vectors.ipxe, Vectors.edk2, Vectors.intelUNDI])
    func roundTrip(_ vector: RawPacket) throws {
        let m = try DHCPMessage.decode(bytes: vector.bytes)
        let again = try DHCPMessage.decode(bytes: m.encode(maxSize: 1444))
        #expect(again == m)
        // The encoder reproduces the firmware's exact bytes: same order, END, padding to 300.
        #expect(m.encode(maxSize: 1444) == vector.bytes)
    }

    @Test func decodeFromByteBuffer() throws {
        let buffer = ByteBuffer(bytes: Vectors.ipxe.bytes)
        #expect(try DHCPMessage.decode(buffer) == DHCPMessage.decode(bytes: Vectors.ipxe.bytes))
    }

    @Test func headerFields() throws {
        var p = RawPacket()
        p.op = 2
        p.hops = 3
        p.ciaddr = [10, 0, 0, 5]
        p.yiaddr = [10, 0, 0, 6]
        p.siaddr = [10, 0, 0, 7]
        p.giaddr = [10, 0, 0, 8]
        p.sname = Array("tftp.example".utf8)
        p.file = Array("pxelinux.0".utf8)
        p.options = RawPacket.tlv(53, [5])
        let m = try DHCPMessage.decode(bytes: p.bytes)
        #expect(m.op == .bootReply)
        #expect(m.hops == 3)
        #expect([m.ciaddr, m.yiaddr, m.siaddr, m.giaddr] == [ip("10.0.0.5"), ip("10.0.0.6"), ip("10.0.0.7"), ip("10.0.0.8")])
        #expect(m.serverName == "tftp.example")
        #expect(m.fileName == "pxelinux.0")
        #expect(m.overloaded == [])
    }

    @Test func everyOptionKind() throws {
        var p = RawPacket()
        p.options = RawPacket.tlv(53, [3])
            + RawPacket.tlv(1, [255, 255, 255, 0])                        // IPv4 address
            + RawPacket.tlv(6, [10, 0, 0, 53, 10, 0, 0, 54])               // IPv4 list
            + RawPacket.tlv(51, [0, 0, 0x0E, 0x10])                        // UInt32
            + RawPacket.tlv(57, [0x02, 0x40])                              // UInt16
            + RawPacket.tlv(52 + 100, [7])                                 // an unknown code, 1 byte
            + RawPacket.tlv(12, Array("host-1".utf8) + [0])                // string with a NUL
            + RawPacket.tlv(80, [])                                        // zero length (rapid commit)
            + [0, 0, 0]                                                    // pads between options
            + RawPacket.tlv(43, [6, 1, 8, 255])                            // encapsulated bytes
        let o = try DHCPMessage.decode(bytes: p.bytes).options
        #expect(o.ipv4Address(.subnetMask) == ip("255.255.255.0"))
        #expect(o.ipv4Addresses(.domainNameServer) == [ip("10.0.0.53"), ip("10.0.0.54")])
        #expect(o.uint32(.leaseTime) == 3600)
        #expect(o.uint16(.maxMessageSize) == 576)
        #expect(o.uint8(DHCPOptionCode(152)) == 7)
        #expect(o.hostName == "host-1")
        #expect(o[DHCPOptionCode(80)] == [])
        #expect(o[.vendorSpecific] == [6, 1, 8, 255])
        // Wrong-length reads are nil, never a trap.
        #expect(o.ipv4Address(.domainNameServer) == nil)
        #expect(o.uint16(.leaseTime) == nil)
        #expect(o.ipv4Addresses(.maxMessageSize) == nil)
        #expect(o.count == 9)
    }

    @Test func repeatedOptionIsConcatenated() throws {
        // RFC 3396: a long option split into several instances.
        var p = RawPacket()
        p.options = RawPacket.tlv(53, [1]) + RawPacket.tlv(77, [4]) + RawPacket.tlv(77, Array("iPXE".utf8))
        let m = try DHCPMessage.decode(bytes: p.bytes)
        #expect(m.options[.userClass] == [4] + Array("iPXE".utf8))
        #expect(PXEClientInfo(options: m.options).isIPXE)
    }

    @Test func overloadFile() throws {
        var p = RawPacket()
        p.file = RawPacket.tlv(67, "from-file.efi") + RawPacket.tlv(12, "filehost") + [255]
        p.sname = Array("real-sname".utf8)
        p.options = RawPacket.tlv(53, [5]) + RawPacket.tlv(52, [1])
        let m = try DHCPMessage.decode(bytes: p.bytes)
        #expect(m.overloaded == .file)
        #expect(m.options.string(.bootfileName) == "from-file.efi")
        #expect(m.options.hostName == "filehost")
        #expect(m.file.isEmpty)
        #expect(m.serverName == "real-sname")
        #expect(!m.options.contains(.overload))
    }

    @Test func overloadSname() throws {
        var p = RawPacket()
        p.sname = RawPacket.tlv(66, "10.0.0.9")   // no END: the field is filled with pad to its end
        p.file = Array("pxelinux.0".utf8)
        p.options = RawPacket.tlv(53, [5]) + RawPacket.tlv(52, [2])
        let m = try DHCPMessage.decode(bytes: p.bytes)
        #expect(m.overloaded == .sname)
        #expect(m.options.string(.tftpServerName) == "10.0.0.9")
        #expect(m.fileName == "pxelinux.0")
        #expect(m.sname.isEmpty)
    }

    @Test func overloadBothInOrder() throws {
        // options, then file, then sname: the three pieces of option 43 concatenate in that order.
        var p = RawPacket()
        p.options = RawPacket.tlv(53, [5]) + RawPacket.tlv(52, [3]) + RawPacket.tlv(43, [1])
        p.file = RawPacket.tlv(43, [2]) + [255]
        p.sname = RawPacket.tlv(43, [3]) + RawPacket.tlv(52, [1]) + [255]
        let m = try DHCPMessage.decode(bytes: p.bytes)
        #expect(m.overloaded == [.file, .sname])
        #expect(m.options[.vendorSpecific] == [1, 2, 3])
        #expect(!m.options.contains(.overload))
    }

    @Test func bootpWithoutCookie() throws {
        var p = RawPacket()
        p.cookie = false
        p.end = false
        let m = try DHCPMessage.decode(bytes: p.bytes)
        #expect(!m.hasMagicCookie)
        #expect(!m.isDHCP)
        #expect(m.options.isEmpty)
        #expect(m.vendorArea.isEmpty)
    }

    @Test func bootpVendorAreaWithoutEndIsAccepted() throws {
        // RFC 1497 client whose vendor area is cookie + options + pad, with no END.
        var p = RawPacket()
        p.options = RawPacket.tlv(12, "old")
        p.end = false
        let m = try DHCPMessage.decode(bytes: p.bytes)
        #expect(m.options.hostName == "old")
        #expect(!m.isDHCP)
    }

    @Test func bareHeaderOf236BytesIsBOOTP() throws {
        var p = RawPacket()
        p.cookie = false
        p.end = false
        p.padTo = 0
        let bytes = p.bytes
        #expect(bytes.count == 236)
        #expect(try !DHCPMessage.decode(bytes: bytes).hasMagicCookie)
    }
}

@Suite struct DHCPMessageMalformedTests {
    static func discover(_ options: [UInt8], end: Bool = true, padTo: Int = 300) -> [UInt8] {
        var p = RawPacket()
        p.options = options
        p.end = end
        p.padTo = padTo
        return p.bytes
    }

    static let cases: [(String, [UInt8], DHCPDecodeError)] = [
        ("zero-length", [], .empty),
        ("truncated header", Array(repeating: 1, count: 100), .truncatedHeader(need: 236, have: 100)),
        ("one byte short", Array(discover([]).prefix(235)), .truncatedHeader(need: 236, have: 235)),
        ("option length past end", discover(RawPacket.tlv(53, [1]) + [12, 40, 65, 66], end: false, padTo: 0),
         .truncatedOption(code: 12, area: .options, need: 40, have: 2)),
        ("option without its length byte", discover(RawPacket.tlv(53, [1]) + [61], end: false, padTo: 0),
         .truncatedOption(code: 61, area: .options, need: 1, have: 0)),
        ("missing END", discover(RawPacket.tlv(53, [1]) + RawPacket.tlv(61, [1, 2, 3]), end: false),
         .missingEnd(area: .options)),
        ("overload value 4", discover(RawPacket.tlv(53, [1]) + RawPacket.tlv(52, [4])), .badOverload(length: 1, value: 4)),
        ("overload length 0", discover(RawPacket.tlv(53, [1]) + RawPacket.tlv(52, [])), .badOverload(length: 0, value: nil)),
        ("huge option count", discover(RawPacket.tlv(53, [1]) + Array(repeating: [UInt8]([7, 0]), count: 600).flatMap { $0 }),
         .tooManyOptions(limit: 512)),
        ("oversized datagram", Array(repeating: 0, count: 70_000), .oversized(length: 70_000, limit: 65_507)),
    ]

    @Test(arguments: 0..<cases.count)
    func rejected(_ i: Int) {
        let (name, bytes, want) = Self.cases[i]
        #expect(throws: want, "\(name)") { try DHCPMessage.decode(bytes: bytes) }
    }

    @Test func badOpcode() {
        var p = RawPacket()
        p.op = 3
        #expect(throws: DHCPDecodeError.badOpcode(3)) { try DHCPMessage.decode(bytes: p.bytes) }
    }

    @Test func hardwareLengthOver16() {
        var p = RawPacket()
        p.hlen = 17
        #expect(throws: DHCPDecodeError.badHardwareLength(17)) { try DHCPMessage.decode(bytes: p.bytes) }
    }

    @Test func absurdHopCount() {
        var p = RawPacket()
        p.hops = 200
        #expect(throws: DHCPDecodeError.hopCountExceeded(200)) { try DHCPMessage.decode(bytes: p.bytes) }
    }

    @Test func truncatedOptionInsideOverloadedFile() {
        var p = RawPacket()
        p.options = RawPacket.tlv(53, [5]) + RawPacket.tlv(52, [1])
        p.file = Array(repeating: 0, count: 120) + [12, 20, 1, 2]
        #expect(throws: DHCPDecodeError.truncatedOption(code: 12, area: .file, need: 20, have: 6)) {
            try DHCPMessage.decode(bytes: p.bytes)
        }
    }

    @Test func errorsDescribeThemselves() {
        #expect(DHCPDecodeError.missingEnd(area: .options).description == "no END option in options")
        #expect("\(DHCPDecodeError.truncatedHeader(need: 236, have: 3))".contains("236"))
    }

    /// Random and mutated input: decode returns or throws, never traps; decoded messages re-encode.
    @Test func randomInputNeverTraps() {
        var rng = SplitMix64(seed: 0x5EED)
        let seeds = [Vectors.ipxe.bytes, Vectors.edk2.bytes, Vectors.intelUNDI.bytes]
        var decoded = 0
        for i in 0..<20_000 {
            var bytes: [UInt8]
            if i % 4 == 0 {
                bytes = (0..<Int(rng.next() % 700)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            } else {
                bytes = seeds[i % 3]
                for _ in 0..<(1 + Int(rng.next() % 6)) {
                    let at = Int(rng.next() % UInt64(bytes.count))
                    bytes[at] = UInt8(truncatingIfNeeded: rng.next())
                }
                if rng.next() % 3 == 0 { bytes = Array(bytes.prefix(Int(rng.next() % UInt64(bytes.count + 1)))) }
            }
            if let m = try? DHCPMessage.decode(bytes: bytes) {
                decoded += 1
                _ = m.encode()
                _ = PXEClientInfo(options: m.options)
            }
        }
        #expect(decoded > 1000)
    }
}

struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct DHCPMessageEncodeTests {
    func reply(file: String? = nil, sname: String? = nil, options: [DHCPOption]) -> DHCPMessage {
        var m = DHCPMessage(op: .bootReply, xid: 1, yiaddr: ip("10.0.0.100"), chaddr: [1, 2, 3, 4, 5, 6])
        m.fileName = file
        m.serverName = sname
        m.options = DHCPOptions(options)
        return m
    }

    @Test func smallReplyIsPaddedTo300WithEnd() throws {
        let m = reply(options: [DHCPOption(.messageType, [2]), DHCPOption(.serverIdentifier, serverIP.bytes)])
        let bytes = m.encode()
        #expect(bytes.count == 300)
        #expect(Array(bytes[236..<240]) == DHCPMessage.magicCookie)
        #expect(Array(bytes[240..<250]) == [53, 1, 2, 54, 4, 10, 0, 0, 1, 255])
        #expect(bytes[250...].allSatisfy { $0 == 0 })
        #expect(try DHCPMessage.decode(bytes: bytes) == m)
    }

    @Test func longOptionIsSplitPerRFC3396() throws {
        let big = (0..<600).map { UInt8(truncatingIfNeeded: $0) }
        let m = reply(options: [DHCPOption(.messageType, [5]), DHCPOption(.vendorSpecific, big)])
        let enc = m.encodeDetailed(maxSize: 1444)
        #expect(enc.overload == [])
        #expect(enc.bytes.count == 240 + 3 + (2 + 255) * 2 + (2 + 90) + 1)
        #expect(try DHCPMessage.decode(bytes: enc.bytes).options[.vendorSpecific] == big)
    }

    @Test func overloadOnlyWhenNeeded() throws {
        // 353 bytes of options do not fit in a 548-byte message (308 bytes of option space
        // minus END); `file` and `sname` are free, so they take the overflow.
        let opts = [DHCPOption(.messageType, [5])] + (0..<7).map { i in
            DHCPOption(DHCPOptionCode(UInt8(200 + i)), Array(repeating: UInt8(i), count: 48))
        }
        let m = reply(options: opts)
        let fits = m.encodeDetailed(maxSize: 1444)
        #expect(fits.overload == [])
        let small = m.encodeDetailed(maxSize: 548)
        #expect(small.bytes.count <= 548)
        #expect(small.overload.contains(.file))
        #expect(small.dropped.isEmpty)
        let back = try DHCPMessage.decode(bytes: small.bytes)
        #expect(back.options == m.options)
        #expect(back.overloaded == small.overload)
    }

    @Test func overloadSkipsAFileFieldInUse() throws {
        let opts = [DHCPOption(.messageType, [5])] + (0..<7).map { i in
            DHCPOption(DHCPOptionCode(UInt8(200 + i)), Array(repeating: UInt8(i), count: 48))
        }
        let m = reply(file: "undionly.kpxe", options: opts)
        let enc = m.encodeDetailed(maxSize: 548)
        #expect(enc.overload == .sname)
        #expect(enc.dropped.isEmpty)
        let back = try DHCPMessage.decode(bytes: enc.bytes)
        #expect(back.fileName == "undionly.kpxe")
        #expect(back.options == m.options)
    }

    @Test func whatCannotFitIsDroppedAndReported() throws {
        let opts = [DHCPOption(.messageType, [5])] + (0..<12).map { i in
            DHCPOption(DHCPOptionCode(UInt8(200 + i)), Array(repeating: UInt8(i), count: 60))
        }
        let m = reply(file: "f", sname: "s", options: opts)
        let enc = m.encodeDetailed(maxSize: 548)
        #expect(enc.bytes.count <= 548)
        #expect(enc.overload == [])
        #expect(!enc.dropped.isEmpty)
        #expect(enc.dropped.allSatisfy { $0.rawValue >= 200 })
        let back = try DHCPMessage.decode(bytes: enc.bytes)
        #expect(back.options.messageType == .ack)
        #expect(back.options.count == opts.count - enc.dropped.count)
    }

    @Test(arguments: [(nil, 548), (UInt16(300), 548), (UInt16(576), 548), (UInt16(1472), 1444), (UInt16(9000), 1472)] as [(UInt16?, Int)])
    func maxReplySize(_ client: UInt16?, _ want: Int) {
        #expect(DHCPMessage.maxReplySize(clientMaxMessageSize: client) == want)
    }

    @Test func noCookieMessageKeepsVendorArea() throws {
        var m = DHCPMessage(op: .bootRequest, xid: 9, chaddr: [1, 2, 3, 4, 5, 6], hasMagicCookie: false,
                            vendorArea: [1, 2, 3])
        m.fileName = "boot"
        let bytes = m.encode()
        #expect(bytes.count == 300)
        #expect(try DHCPMessage.decode(bytes: bytes) == m)
    }

    @Test func overlongFieldsAreCutAndTerminated() throws {
        var m = reply(options: [DHCPOption(.messageType, [5])])
        m.file = Array(repeating: UInt8(ascii: "a"), count: 200)
        m.chaddr = Array(repeating: 7, count: 20)
        let back = try DHCPMessage.decode(bytes: m.encode())
        #expect(back.file.count == 127)
        #expect(back.chaddr.count == 16)
    }
}
