import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// Reads a file sequentially with pread, one block at a time; memory stays one block per call
/// however large the file.
public struct FileSource: BlockSource {
    public let fd: Int32
    private var offset: Int = 0
    private let allocator = ByteBufferAllocator()

    public init(fd: Int32) { self.fd = fd }

    public mutating func read(upTo count: Int) throws -> ByteBuffer {
        var buffer = allocator.buffer(capacity: count)
        var total = 0
        while total < count {
            let n = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count - total) { ptr in
                let r = pread(fd, ptr.baseAddress, count - total, off_t(offset))
                return r > 0 ? r : 0
            }
            if n == 0 {
                // Distinguish EOF from an error: pread returns -1 with errno on error.
                let probe = pread(fd, nil, 0, off_t(offset))
                if probe < 0 && errno != EINTR { throw FileIOError(errno: errno) }
                break
            }
            total += n
            offset += n
        }
        return buffer
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
