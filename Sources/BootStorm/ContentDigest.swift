import NIOCore

/// A cheap position-sensitive digest of a byte stream (a polynomial hash over 8-byte words), to
/// check that thousands of downloads carried the right bytes without keeping them. Not
/// cryptographic: it catches a lost, repeated or reordered block, which is what a load test needs.
public struct ContentDigest: Sendable, Equatable, CustomStringConvertible {
    public private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325
    public private(set) var length: Int = 0
    /// Bytes of an unfinished 8-byte word carried to the next chunk.
    private var pending: UInt64 = 0
    private var pendingCount = 0

    public init() {}

    public mutating func update<C: Collection<UInt8>>(_ bytes: C) {
        // Whole words straight from contiguous memory: a byte at a time, the digest was a fifth
        // of the load generator's CPU in a storm (perf), CPU the servers under test then lacked.
        let done: Void? = bytes.withContiguousStorageIfAvailable { buffer in
            update(UnsafeRawBufferPointer(buffer))
        }
        if done == nil {
            for b in bytes { add(b) }
            length += bytes.count
        }
    }

    private mutating func update(_ raw: UnsafeRawBufferPointer) {
        length += raw.count
        var i = 0
        while pendingCount != 0 && i < raw.count {
            add(raw[i])
            i += 1
        }
        while raw.count - i >= 8 {
            value = (value &* 0x0000_0100_0000_01B3) ^ UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            i += 8
        }
        while i < raw.count {
            add(raw[i])
            i += 1
        }
    }

    private mutating func add(_ b: UInt8) {
        pending |= UInt64(b) << (8 * UInt64(pendingCount))
        pendingCount += 1
        if pendingCount == 8 {
            value = (value &* 0x0000_0100_0000_01B3) ^ pending
            pending = 0
            pendingCount = 0
        }
    }

    /// The digest with the trailing partial word and the length folded in.
    public var final: UInt64 { ((value &* 0x0000_0100_0000_01B3) ^ pending ^ UInt64(pendingCount) << 56) &+ UInt64(length) }

    public var description: String { String(final, radix: 16) + "/" + String(length) }

    public static func of<C: Collection<UInt8>>(_ bytes: C) -> ContentDigest {
        var d = ContentDigest()
        d.update(bytes)
        return d
    }
}
