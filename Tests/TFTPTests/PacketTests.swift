import NIOCore
import Testing
@testable import TFTP

@Suite struct PacketTests {
    static let samples: [TFTPPacket] = [
        .readRequest(TFTPRequest(filename: "pxelinux.0", mode: .octet)),
        .readRequest(TFTPRequest(filename: "a/b.efi", mode: .netascii, options: [TFTPOption("blksize", "1468"), TFTPOption("tsize", "0")])),
        .writeRequest(TFTPRequest(filename: "up.bin", mode: .octet, options: [TFTPOption("windowsize", "16")])),
        .data(block: 65535, payload: ByteBuffer(bytes: [1, 2, 3])),
        .data(block: 0, payload: ByteBuffer()),
        .ack(block: 7),
        .error(code: 8, message: "refused"),
        .optionAck([TFTPOption("blksize", "512")]),
    ]

    @Test(arguments: samples) func roundTrip(_ packet: TFTPPacket) throws {
        let decoded = try TFTPPacket.decode(packet.encoded())
        #expect(decoded == packet)
    }

    @Test func modeIsCaseInsensitive() throws {
        var b = ByteBuffer()
        b.writeInteger(UInt16(1)); b.writeString("f\0NetASCII\0")
        #expect(try TFTPPacket.decode(b) == .readRequest(TFTPRequest(filename: "f", mode: .netascii)))
    }

    static let malformed: [([UInt8], TFTPDecodeError)] = [
        ([], .tooShort(0)),
        ([0], .tooShort(1)),
        ([0, 9], .unknownOpcode(9)),
        ([0, 1, 0x66], .unterminatedString(field: "filename")),
        ([0, 1, 0, 0x6f, 0], .emptyFilename),
        ([0, 1, 0x66, 0, 0x6d, 0x61, 0x69, 0x6c, 0], .badMode("mail")),
        ([0, 1, 0x66, 0, 0x6f, 0x63, 0x74, 0x65, 0x74], .unterminatedString(field: "mode")),
        ([0, 1, 0x66, 0, 0x6f, 0x63, 0x74, 0x65, 0x74, 0, 0x61, 0], .unterminatedString(field: "option value")),
        ([0, 1, 0xff, 0xfe, 0, 0x6f, 0x63, 0x74, 0x65, 0x74, 0], .invalidText(field: "filename")),
        ([0, 3, 1], .tooShort(3)),
        ([0, 4], .tooShort(2)),
    ]

    @Test(arguments: malformed) func malformedIsRejected(_ bytes: [UInt8], _ reason: TFTPDecodeError) {
        #expect(throws: reason) { try TFTPPacket.decode(ByteBuffer(bytes: bytes)) }
    }

    @Test func duplicateOptionIsRejected() {
        var b = ByteBuffer()
        b.writeInteger(UInt16(1)); b.writeString("f\0octet\0blksize\0512\0BLKSIZE\01024\0")
        #expect(throws: TFTPDecodeError.duplicateOption("BLKSIZE")) { try TFTPPacket.decode(b) }
    }

    @Test func optionsWithInvalidUTF8AreRejected() {
        // Fuzzer finding: a lossy decode let an option grow past the length limit on re-encoding.
        var b = ByteBuffer()
        b.writeInteger(UInt16(1)); b.writeString("f\0octet\0blksize\0")
        b.writeBytes([0x31, 0xFF, 0xFE, 0x00])
        #expect(throws: TFTPDecodeError.self) { try TFTPPacket.decode(b) }
    }

    @Test func trailingPaddingIsTolerated() throws {
        var b = ByteBuffer()
        b.writeInteger(UInt16(1)); b.writeString("f\0octet\0tsize\00\0\0\0")
        #expect(try TFTPPacket.decode(b) == .readRequest(TFTPRequest(filename: "f", mode: .octet, options: [TFTPOption("tsize", "0")])))
    }

    @Test func longErrorTextWithBadBytesReadsBackTheSame() throws {
        // Fuzzer finding: error text cut at the length limit inside a multi-byte character, or
        // with bad bytes replaced by U+FFFD, re-encoded longer than the limit and read back shorter.
        for tail: [UInt8] in [[0xE2, 0x80, 0x9E], [0xFF], [0xE2, 0x80]] {
            var b = ByteBuffer()
            b.writeInteger(UInt16(5)); b.writeInteger(UInt16(0))
            b.writeBytes(Array(repeating: UInt8(ascii: "b"), count: 1022) + tail + [0x41, 0x00])
            let packet = try TFTPPacket.decode(b)
            guard case .error(_, let message) = packet else { Issue.record("not an error packet"); continue }
            #expect(message.utf8.count <= 1024)
            #expect(try TFTPPacket.decode(packet.encoded()) == packet)
        }
    }

    @Test func errorWithoutTerminatorStillDecodes() throws {
        #expect(try TFTPPacket.decode(ByteBuffer(bytes: [0, 5, 0, 8, 0x61, 0x62])) == .error(code: 8, message: "ab"))
    }
}

@Suite struct NegotiationTests {
    var limits = NegotiationLimits()

    @Test func onlyRequestedOptionsAreAcknowledgedInOrder() {
        let (p, oack) = OptionNegotiation.negotiate([TFTPOption("tsize", "0"), TFTPOption("BlkSize", "1432"), TFTPOption("foo", "1")],
                                                    isRead: true, size: 1000, limits: limits)
        #expect(oack == [TFTPOption("tsize", "1000"), TFTPOption("BlkSize", "1432")])
        #expect(p.blockSize == 1432 && p.transferSize == 1000 && p.windowSize == 1)
    }

    @Test func blockSizeIsCappedAndInvalidIgnored() {
        #expect(OptionNegotiation.negotiate([TFTPOption("blksize", "65464")], isRead: true, size: 1, limits: limits).0.blockSize == 1468)
        #expect(OptionNegotiation.negotiate([TFTPOption("blksize", "7")], isRead: true, size: 1, limits: limits).oack.isEmpty)
        #expect(OptionNegotiation.negotiate([TFTPOption("blksize", "abc")], isRead: true, size: 1, limits: limits).oack.isEmpty)
        #expect(OptionNegotiation.negotiate([TFTPOption("blksize", "99999")], isRead: true, size: 1, limits: limits).0.blockSize == 1468)
    }

    @Test func windowSizeIsCappedByCountAndBytes() {
        var l = limits
        l.windowSizeMax = 64
        #expect(OptionNegotiation.negotiate([TFTPOption("windowsize", "500")], isRead: true, size: 1, limits: l).0.windowSize == 64)
        l.windowSizeMax = 65535
        l.blockSizeMax = 65464
        let (p, oack) = OptionNegotiation.negotiate([TFTPOption("windowsize", "65535"), TFTPOption("blksize", "65464")], isRead: true, size: 1, limits: l)
        #expect(p.windowSize == (4 << 20) / 65464)
        #expect(oack.first == TFTPOption("windowsize", String(p.windowSize)))
        #expect(OptionNegotiation.negotiate([TFTPOption("windowsize", "0")], isRead: true, size: 1, limits: l).oack.isEmpty)
    }

    @Test func timeoutRangeAndTsizeForWrites() {
        #expect(OptionNegotiation.negotiate([TFTPOption("timeout", "0")], isRead: true, size: 1, limits: limits).oack.isEmpty)
        #expect(OptionNegotiation.negotiate([TFTPOption("timeout", "256")], isRead: true, size: 1, limits: limits).oack.isEmpty)
        #expect(OptionNegotiation.negotiate([TFTPOption("timeout", "3")], isRead: true, size: 1, limits: limits).0.timeout == 3)
        let w = OptionNegotiation.negotiate([TFTPOption("tsize", "12345")], isRead: false, size: nil, limits: limits)
        #expect(w.oack == [TFTPOption("tsize", "12345")])
        // A read whose size cannot be stated exactly omits tsize rather than lying.
        #expect(OptionNegotiation.negotiate([TFTPOption("tsize", "0")], isRead: true, size: nil, limits: limits).oack.isEmpty)
    }

    @Test func rfc1350IgnoresEverything() {
        var l = limits
        l.rfc1350 = true
        let (p, oack) = OptionNegotiation.negotiate([TFTPOption("blksize", "1468"), TFTPOption("tsize", "0")], isRead: true, size: 5, limits: l)
        #expect(oack.isEmpty && p == TransferParameters())
    }

    @Test func clientRejectsUnrequestedOrRaisedOptions() {
        let asked = [TFTPOption("blksize", "1024"), TFTPOption("tsize", "0")]
        #expect(OptionNegotiation.accept(oack: [TFTPOption("windowsize", "4")], requested: asked) == .failure(.unrequested("windowsize")))
        #expect(OptionNegotiation.accept(oack: [TFTPOption("blksize", "2048")], requested: asked) == .failure(.invalid("blksize", "2048")))
        guard case .success(let p) = OptionNegotiation.accept(oack: [TFTPOption("blksize", "512"), TFTPOption("tsize", "99")], requested: asked) else {
            Issue.record("valid OACK refused"); return
        }
        #expect(p.blockSize == 512 && p.transferSize == 99)
    }
}

@Suite struct NetasciiTests {
    @Test func encodesLineEndsAndBareCR() throws {
        var s = NetasciiEncodingSource(MemorySource(Array("a\nb\rc".utf8)))
        let out = try s.read(upTo: 100)
        #expect(Array(out.readableBytesView) == [0x61, 0x0D, 0x0A, 0x62, 0x0D, 0x00, 0x63])
        #expect(NetasciiEncodingSource<MemorySource>.encodedSize(of: Array("a\nb\rc".utf8)) == 7)
    }

    @Test func expansionCarriesAcrossBlocks() throws {
        var s = NetasciiEncodingSource(MemorySource(Array(repeating: 0x0A, count: 5)))
        var all: [UInt8] = []
        while true {
            let b = try s.read(upTo: 3)
            all += b.readableBytesView
            if b.readableBytes < 3 { break }
        }
        #expect(all == Array(repeating: [UInt8]([0x0D, 0x0A]), count: 5).flatMap { $0 })
    }

    @Test func decodesWithCRSplitAcrossBlocks() throws {
        var sink = NetasciiDecodingSink(MemorySink())
        try sink.write(ByteBuffer(bytes: [0x61, 0x0D]))
        try sink.write(ByteBuffer(bytes: [0x0A, 0x62, 0x0D]))
        try sink.write(ByteBuffer(bytes: [0x00, 0x63, 0x0D]))
        try sink.finish()
        #expect(sink.inner.bytes == Array("a\nb\rc\r".utf8))
    }

    @Test func roundTripIsIdentity() throws {
        var rng = SystemRandomNumberGenerator()
        let original = (0..<5000).map { _ in [UInt8(0x0A), 0x0D, 0x41, 0x00][Int(rng.next() % 4)] }
        var src = NetasciiEncodingSource(MemorySource(original))
        var sink = NetasciiDecodingSink(MemorySink())
        while true {
            let b = try src.read(upTo: 512)
            try sink.write(b)
            if b.readableBytes < 512 { break }
        }
        try sink.finish()
        #expect(sink.inner.bytes == original)
    }
}
