import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// Reads a file sequentially with pread, a chunk ahead of the blocks handed out: one pread per
/// block was a system call per datagram, a quarter of a lockstep transfer's calls. Blocks are
/// slices of the chunk (no copy); memory stays a chunk or two per transfer however large the file,
/// which is what a server with a thousand transfers holds (see `chunk(blockSize:windowSize:)`).
public struct FileSource: BlockSource {
    public let fd: Int32
    private var offset: Int = 0
    private var ahead = ByteBuffer()
    private var atEnd = false
    private let allocator = ByteBufferAllocator()
    private let chunk: Int

    public init(fd: Int32, chunk: Int = 32 * 1024) {
        self.fd = fd
        self.chunk = chunk
    }

    /// A chunk of about a window: 16 KiB for lockstep (a pread per 11 blocks of 1468 bytes), up
    /// to 64 KiB for a large window (whose blocks are all held for retransmission anyway).
    public static func chunk(blockSize: Int, windowSize: Int) -> Int {
        min(64 * 1024, max(16 * 1024, blockSize * windowSize))
    }

    public mutating func read(upTo count: Int) throws -> ByteBuffer {
        if ahead.readableBytes < count && !atEnd { try refill(atLeast: count) }
        return ahead.readSlice(length: min(count, ahead.readableBytes)) ?? ByteBuffer()
    }

    private mutating func refill(atLeast count: Int) throws {
        let want = max(count, chunk)
        var buffer = allocator.buffer(capacity: want)
        buffer.writeBuffer(&ahead)
        while buffer.readableBytes < want {
            let room = want - buffer.readableBytes
            var failure: Int32 = 0
            let n = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: room) { ptr in
                while true {
                    let r = pread(fd, ptr.baseAddress, room, off_t(offset))
                    if r >= 0 { return r }
                    if errno != EINTR { failure = errno; return 0 }
                }
            }
            if failure != 0 { throw FileIOError(errno: failure) }
            if n == 0 { atEnd = true; break }
            offset += n
        }
        ahead = buffer
    }
}

/// Appends to a file descriptor (an upload's temp file, or a client's download). Blocks are
/// gathered into 256 KiB writes: one write(2) per block would cost a system call per datagram.
/// `finish()` writes what is left; nothing counts as received before it returns.
public struct FileSink: BlockSink {
    public let fd: Int32
    private var pending: [UInt8] = []
    static let chunk = 256 * 1024

    public init(fd: Int32) { self.fd = fd }

    public mutating func write(_ bytes: ByteBuffer) throws {
        if pending.capacity < FileSink.chunk { pending.reserveCapacity(FileSink.chunk) }
        pending.append(contentsOf: bytes.readableBytesView)
        if pending.count >= FileSink.chunk { try flush() }
    }

    public mutating func finish() throws { try flush() }

    private mutating func flush() throws {
        try pending.withUnsafeBytes { ptr in
            var done = 0
            while done < ptr.count {
                let n = Glibc.write(fd, ptr.baseAddress! + done, ptr.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw FileIOError(errno: errno)
                }
                done += n
            }
        }
        pending.removeAll(keepingCapacity: true)
    }
}

public struct FileIOError: Error, CustomStringConvertible, Sendable {
    public var errno: Int32
    public var description: String { String(cString: strerror(errno)) }
}
