import NIOCore

/// Where a sending session reads its bytes from, in order. A short read means end of data.
public protocol BlockSource: Sendable {
    mutating func read(upTo count: Int) throws -> ByteBuffer
}

/// Where a receiving session writes the bytes it accepted, in order.
public protocol BlockSink: Sendable {
    mutating func write(_ bytes: ByteBuffer) throws
    /// Called once after the last block: flush anything held back.
    mutating func finish() throws
}

/// A source over bytes already in memory (tests, small generated files).
public struct MemorySource: BlockSource {
    var buffer: ByteBuffer
    public init(_ bytes: [UInt8]) { buffer = ByteBuffer(bytes: bytes) }
    public init(_ buffer: ByteBuffer) { self.buffer = buffer }
    public mutating func read(upTo count: Int) throws -> ByteBuffer {
        buffer.readSlice(length: min(count, buffer.readableBytes)) ?? ByteBuffer()
    }
}

/// A sink that keeps everything in memory (tests).
public struct MemorySink: BlockSink {
    public var bytes: [UInt8] = []
    public var finished = false
    public init() {}
    public mutating func write(_ b: ByteBuffer) throws { bytes.append(contentsOf: b.readableBytesView) }
    public mutating func finish() throws { finished = true }
}

/// Octet bytes to netascii on the wire: LF becomes CR LF and a bare CR becomes CR NUL (RFC 764).
/// Expansion can overflow a block, so the tail is held for the next one.
public struct NetasciiEncodingSource<Inner: BlockSource>: BlockSource {
    var inner: Inner
    var pending: [UInt8] = []
    var innerDone = false

    public init(_ inner: Inner) { self.inner = inner }

    public mutating func read(upTo count: Int) throws -> ByteBuffer {
        while pending.count < count && !innerDone {
            let chunk = try inner.read(upTo: max(count, 4096))
            if chunk.readableBytes == 0 { innerDone = true }
            pending.reserveCapacity(pending.count + chunk.readableBytes * 2)
            for byte in chunk.readableBytesView {
                switch byte {
                case 0x0A: pending.append(0x0D); pending.append(0x0A)
                case 0x0D: pending.append(0x0D); pending.append(0x00)
                default: pending.append(byte)
                }
            }
        }
        let n = min(count, pending.count)
        let out = ByteBuffer(bytes: pending[0..<n])
        pending.removeFirst(n)
        return out
    }

    /// The exact netascii size of `bytes`: what tsize must state for a netascii read.
    public static func encodedSize(of bytes: some Sequence<UInt8>) -> Int {
        var n = 0
        for b in bytes { n += (b == 0x0A || b == 0x0D) ? 2 : 1 }
        return n
    }
}

/// Netascii on the wire to local bytes: CR LF becomes LF and CR NUL becomes CR. A CR may end one
/// block and its partner start the next, so one byte of state crosses blocks.
public struct NetasciiDecodingSink<Inner: BlockSink>: BlockSink {
    public var inner: Inner
    var carriedCR = false

    public init(_ inner: Inner) { self.inner = inner }

    public mutating func write(_ bytes: ByteBuffer) throws {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.readableBytes + 1)
        for byte in bytes.readableBytesView {
            if carriedCR {
                carriedCR = false
                switch byte {
                case 0x0A: out.append(0x0A); continue
                case 0x00: out.append(0x0D); continue
                default: out.append(0x0D) // lone CR: keep it, then handle this byte normally
                }
            }
            if byte == 0x0D { carriedCR = true } else { out.append(byte) }
        }
        try inner.write(ByteBuffer(bytes: out))
    }

    public mutating func finish() throws {
        if carriedCR { try inner.write(ByteBuffer(bytes: [0x0D])); carriedCR = false }
        try inner.finish()
    }
}
