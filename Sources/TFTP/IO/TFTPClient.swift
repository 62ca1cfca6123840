import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

public struct TFTPClientOptions: Sendable, Equatable {
    public var mode: TFTPMode = .octet
    /// Requested blksize; nil or 512 sends no blksize option.
    public var blockSize: Int? = 1468
    /// Requested windowsize; nil or 1 sends none.
    public var windowSize: Int? = nil
    /// Ask for (get) or announce (put) the transfer size.
    public var transferSize: Bool = true
    /// Seconds before the first retransmit; also sent as the `timeout` option when `sendTimeout`.
    public var timeout: Int = 1
    public var sendTimeout: Bool = false
    public var retries: Int = 5
    /// No options at all (RFC 1350 only).
    public var rfc1350: Bool = false

    public init() {}

    func requestOptions(size: Int?) -> [TFTPOption] {
        guard !rfc1350 else { return [] }
        var options: [TFTPOption] = []
        if let b = blockSize, b != 512 { options.append(TFTPOption("blksize", String(b))) }
        if transferSize { options.append(TFTPOption("tsize", String(size ?? 0))) }
        if sendTimeout { options.append(TFTPOption("timeout", String(timeout))) }
        if let w = windowSize, w > 1 { options.append(TFTPOption("windowsize", String(w))) }
        return options
    }

    var policy: RetransmitPolicy {
        RetransmitPolicy.standard(timeoutSeconds: timeout, retries: retries)
    }
}

public struct TFTPTransferResult: Sendable, Equatable {
    public var bytes: Int
    /// Wall time in seconds.
    public var duration: Double
    public var parameters: TransferParameters
    public var retransmits: Int
    public var outcome: TransferOutcome
    public var bytesPerSecond: Double { duration > 0 ? Double(bytes) / duration : 0 }
}

public enum TFTPClientError: Error, Sendable, Equatable, CustomStringConvertible {
    case localFileExists(String)
    case localFile(String, String)
    case resolve(String)
    case transfer(TransferOutcome)

    public var description: String {
        switch self {
        case .localFileExists(let p): "\(p) already exists (use -f to overwrite)"
        case .localFile(let p, let why): "\(p): \(why)"
        case .resolve(let h): "cannot resolve \(h)"
        case .transfer(let outcome):
            switch outcome {
            case .peerError(let code, let message), .sizeProbe(let code, let message): "server error \(code): \(message)"
            case .timedOut: "transfer timed out"
            case .failed(let why): "transfer failed: \(why)"
            case .completed, .completedUnconfirmed: "completed"
            }
        }
    }
}

/// A TFTP client. Each `get`/`put` opens its own socket, so one client may run several at once.
/// The library never prints; progress goes to the optional callback as (bytes so far, total if known).
public struct TFTPClient: Sendable {
    public var host: String
    public var port: Int
    public var options: TFTPClientOptions
    let runner: TransferRunner

    public typealias Progress = @Sendable (_ bytes: Int, _ total: Int?) -> Void

    /// - Parameter runner: the threads that run the transfers (every client and server of the
    ///   process shares one unless given another).
    public init(host: String, port: Int = 69, options: TFTPClientOptions = TFTPClientOptions(),
                runner: TransferRunner = .shared) {
        self.host = host
        self.port = port
        self.options = options
        self.runner = runner
    }

    /// Downloads `remote` into `local`. The file appears under its name only when complete.
    public func get(_ remote: String, to local: String, overwrite: Bool = false,
                    progress: Progress? = nil) async throws -> TFTPTransferResult {
        if !overwrite && access(local, F_OK) == 0 { throw TFTPClientError.localFileExists(local) }
        let temp = local + ".part-\(getpid())-\(UInt16.random(in: 0...UInt16.max))"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw TFTPClientError.localFile(local, String(cString: strerror(errno))) }
        let request = TFTPRequest(filename: remote, mode: options.mode, options: options.requestOptions(size: nil))
        let session: any TransferMachine = options.mode == .netascii
            ? ReceiveSession(sink: NetasciiDecodingSink(FileSink(fd: fd)), readRequest: request, policy: options.policy)
            : ReceiveSession(sink: FileSink(fd: fd), readRequest: request, policy: options.policy)
        do {
            let result = try await run(session, progress: progress)
            guard fsync(fd) == 0, rename(temp, local) == 0 else {
                throw TFTPClientError.localFile(local, String(cString: strerror(errno)))
            }
            close(fd)
            return result
        } catch {
            close(fd)
            unlink(temp)
            throw error
        }
    }

    /// Downloads `remote` into memory (tests, small files).
    public func get(_ remote: String, progress: Progress? = nil) async throws -> ([UInt8], TFTPTransferResult) {
        let request = TFTPRequest(filename: remote, mode: options.mode, options: options.requestOptions(size: nil))
        let box = ResultBox()
        let session: any TransferMachine = ReceiveSession(sink: CollectingSink(box: box), readRequest: request, policy: options.policy)
        let result = try await run(session, progress: progress)
        return (box.take(), result)
    }

    /// Downloads `remote` without keeping it, feeding each block to `consume` (load tools that
    /// only need a digest of what arrived).
    public func fetch(_ remote: String, consume: @escaping @Sendable (ByteBuffer) -> Void) async throws -> TFTPTransferResult {
        let request = TFTPRequest(filename: remote, mode: options.mode, options: options.requestOptions(size: nil))
        let session: any TransferMachine = ReceiveSession(sink: CallbackSink(consume: consume), readRequest: request,
                                                          policy: options.policy)
        return try await run(session, progress: nil)
    }

    /// Uploads `local` as `remote`.
    public func put(_ local: String, as remote: String, progress: Progress? = nil) async throws -> TFTPTransferResult {
        let fd = open(local, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw TFTPClientError.localFile(local, String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            throw TFTPClientError.localFile(local, "not a regular file")
        }
        var size = Int(st.st_size)
        if options.mode == .netascii { size = PreparedTransfer.netasciiSize(fd: fd) ?? size }
        let request = TFTPRequest(filename: remote, mode: options.mode, options: options.requestOptions(size: size))
        let session: any TransferMachine = options.mode == .netascii
            ? SendSession(source: NetasciiEncodingSource(FileSource(fd: fd)), writeRequest: request, policy: options.policy)
            : SendSession(source: FileSource(fd: fd), writeRequest: request, policy: options.policy)
        return try await run(session, progress: progress, knownSize: size)
    }

    private func run(_ session: any TransferMachine, progress: Progress?, knownSize: Int? = nil) async throws -> TFTPTransferResult {
        let server: SocketAddress
        // `[fd00::1]` as in URLs: the brackets are not part of the address.
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        do { server = try SocketAddress.makeAddressResolvingHost(bare, port: port) } catch {
            throw TFTPClientError.resolve(host)
        }
        let bindHost = server.protocol == .inet6 ? "::" : "0.0.0.0"
        let fd: Int32
        do { fd = try UDPTransferSocket.open(host: bindHost, ports: [0]) } catch {
            throw TFTPClientError.transfer(.failed("cannot open a socket: \(error)"))
        }
        let control = TransferControl(fd: fd)
        let windowSize = options.rfc1350 ? 1 : (options.windowSize ?? 1)
        let runner = self.runner
        let result = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<TFTPTransferResult, any Error>) in
                let transfer = ClientTransfer(control: control, server: server, localHost: bindHost, session: session,
                                              windowSize: windowSize, progress: progress, knownSize: knownSize,
                                              finished: { continuation.resume(with: $0.mapError { $0 as any Error }) })
                if !runner.start(transfer) {
                    control.closeSocket()
                    continuation.resume(throwing: TFTPClientError.transfer(.failed("cannot start a transfer thread")))
                }
            }
        } onCancel: {
            control.cancel()
        }
        guard result.outcome.isSuccess else { throw TFTPClientError.transfer(result.outcome) }
        return result
    }
}

/// Collects bytes for the in-memory `get`; the lock makes the sink Sendable.
final class ResultBox: @unchecked Sendable {
    // @unchecked: every access goes through `lock`.
    private var bytes: [UInt8] = []
    private let lock = NIOLock()
    func append(_ b: ByteBuffer) { lock.withLock { bytes.append(contentsOf: b.readableBytesView) } }
    func take() -> [UInt8] { lock.withLock { bytes } }
}

struct CallbackSink: BlockSink {
    let consume: @Sendable (ByteBuffer) -> Void
    mutating func write(_ bytes: ByteBuffer) throws { consume(bytes) }
    mutating func finish() throws {}
}

struct CollectingSink: BlockSink {
    let box: ResultBox
    mutating func write(_ bytes: ByteBuffer) throws { box.append(bytes) }
    mutating func finish() throws {}
}
