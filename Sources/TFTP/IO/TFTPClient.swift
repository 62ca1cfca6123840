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
    let group: any EventLoopGroup

    public typealias Progress = @Sendable (_ bytes: Int, _ total: Int?) -> Void

    public init(host: String, port: Int = 69, options: TFTPClientOptions = TFTPClientOptions(),
                group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.host = host
        self.port = port
        self.options = options
        self.group = group
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
        let addresses: [SocketAddress]
        // `[fd00::1]` as in URLs: the brackets are not part of the address.
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        do { addresses = try [SocketAddress.makeAddressResolvingHost(bare, port: port)] } catch {
            throw TFTPClientError.resolve(host)
        }
        let server = addresses[0]
        let loop = group.next()
        let promise = loop.makePromise(of: TFTPTransferResult.self)
        let bindHost = server.protocol == .inet6 ? "::" : "0.0.0.0"
        // Large enough for the biggest block we asked for (NIO's default is 2048 bytes).
        // With a window, read up to 16 datagrams per system call (recvmmsg), each in its own slice.
        let perDatagram = max(2048, (options.blockSize ?? 512) + 64)
        let vector = (options.windowSize ?? 1) > 1 && !options.rfc1350 ? 16 : 1
        let channel = try await DatagramBootstrap(group: loop)
            .channelOption(.socketOption(.so_reuseaddr), value: 0)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: perDatagram * vector))
            .channelOption(.datagramVectorReadMessageCount, value: vector)
            .channelInitializer { ch in
                ch.eventLoop.makeCompletedFuture {
                    try ch.pipeline.syncOperations.addHandler(
                        ClientHandler(server: server, session: session, promise: promise, progress: progress, knownSize: knownSize))
                }
            }
            .bind(host: bindHost, port: 0).get()
        channel.pipeline.fireUserInboundEventTriggered(ClientHandler.Start())
        let result: TFTPTransferResult
        do {
            result = try await promise.futureResult.get()
        } catch {
            try? await channel.close()
            throw error
        }
        try? await channel.close()
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

/// Drives a client session: learns the server's TID from its first reply and refuses others.
final class ClientHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>
    struct Start {}

    private var server: SocketAddress
    private var tidKnown = false
    private var session: any TransferMachine
    private let promise: EventLoopPromise<TFTPTransferResult>
    private let progress: TFTPClient.Progress?
    private let knownSize: Int?
    private var timer = SessionTimer()
    private var started = NIODeadline.now()
    private var done = false
    private var lastReported = 0

    init(server: SocketAddress, session: any TransferMachine, promise: EventLoopPromise<TFTPTransferResult>,
         progress: TFTPClient.Progress?, knownSize: Int?) {
        self.server = server
        self.session = session
        self.promise = promise
        self.progress = progress
        self.knownSize = knownSize
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is Start else { return context.fireUserInboundEventTriggered(event) }
        started = .now()
        run(session.start(now: started), context: context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let from = envelope.remoteAddress
        if !tidKnown {
            guard from.ipAddress == server.ipAddress else { return }
            server = from      // the server's transfer ID
            tidKnown = true
            // Replies are queued behind this read, so connecting now changes nothing for them.
            let host = context.channel.localAddress?.ipAddress ?? "0.0.0.0"
            _ = TransferSocket.connect(context.channel, to: from, localHost: host)
        } else if from != server {
            context.writeAndFlush(wrapOutboundOut(TFTPPacket.unknownTransferIDReply(to: from, allocator: context.channel.allocator)),
                                  promise: nil)
            return
        }
        guard !done, let packet = try? TFTPPacket.decode(envelope.data) else { return }
        run(session.received(packet, now: .now()), context: context)
        reportProgress()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // ICMP errors (server not listening) arrive here; keep waiting until the retry limit.
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer.cancel()
        if !done {
            done = true
            promise.fail(TFTPClientError.transfer(.failed("socket closed")))
        }
    }

    private func reportProgress() {
        guard let progress else { return }
        let bytes = session.stats.bytes
        if bytes - lastReported >= 256 * 1024 || done {
            lastReported = bytes
            progress(bytes, session.parameters.transferSize ?? knownSize)
        }
    }

    private func run(_ action: SessionAction, context: ChannelHandlerContext) {
        switch action {
        case .none:
            break
        case .send(let packets):
            write(packets, context: context)
        case .commit:
            // The client's sink is its own local file: nothing to make durable for a peer.
            run(session.committed(now: .now()), context: context)
            return
        case .close:
            return
        case .finish(let outcome, let packets), .dally(let outcome, let packets, _):
            write(packets, context: context)
            done = true
            timer.cancel()
            let elapsed = Double((NIODeadline.now() - started).nanoseconds) / 1e9
            reportProgress()
            promise.succeed(TFTPTransferResult(bytes: session.stats.bytes, duration: elapsed, parameters: session.parameters,
                                               retransmits: session.stats.retransmits, outcome: outcome))
            return
        }
        armTimer(context: context)
    }

    private func write(_ packets: [TFTPPacket], context: ChannelHandlerContext) {
        for p in packets {
            context.write(wrapOutboundOut(AddressedEnvelope(remoteAddress: server, data: p.encoded(allocator: context.channel.allocator))), promise: nil)
        }
        context.flush()
    }

    private func armTimer(context: ChannelHandlerContext) {
        guard timer.needsArming(for: session.nextDeadline) else { return }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer.arm(session.nextDeadline, on: context.eventLoop) {
            let (handler, ctx) = bound.value
            handler.timer.fired()
            guard !handler.done else { return }
            handler.run(handler.session.tick(now: .now()), context: ctx)
        }
    }
}
