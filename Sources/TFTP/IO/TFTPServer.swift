import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

/// A TFTP server on one address and port: a listener for requests and one socket (TID) per
/// transfer. Configuration can be replaced at any time; a transfer keeps the settings it began with.
public final class TFTPServer: Sendable {
    public let listenAddress: SocketAddress
    private let listener: any Channel
    private let shared: Shared
    private let logger: Logger

    final class Shared: Sendable {
        let group: any EventLoopGroup
        let state: NIOLockedValueBox<State>
        let logger: Logger
        init(group: any EventLoopGroup, configuration: TFTPServerConfiguration, jail: PathJail?, logger: Logger) {
            self.group = group
            self.logger = logger
            state = NIOLockedValueBox(State(configuration: configuration, jail: jail))
        }
    }

    struct SessionEntry {
        var control: TransferControl
        var progressed: Bool
        var started: NIODeadline
    }

    struct State {
        var configuration: TFTPServerConfiguration
        var jail: PathJail?
        var sessions: [ObjectIdentifier: SessionEntry] = [:]
        var stats = TFTPServerStats()
        var accepting = true
        var nextPort = 0
        /// Admitted sessions whose socket is still being opened: they count against the limit.
        var opening = 0
    }

    private init(listener: any Channel, shared: Shared, logger: Logger) {
        self.listener = listener
        self.shared = shared
        self.logger = logger
        self.listenAddress = listener.localAddress ?? (try! SocketAddress(ipAddress: "0.0.0.0", port: 0))
    }

    /// Binds the listener. Throws a clear error if the address or port cannot be bound or the
    /// root does not exist.
    public static func start(group: any EventLoopGroup, configuration: TFTPServerConfiguration,
                             logger: Logger) async throws -> TFTPServer {
        let jail: PathJail
        do { jail = try PathJail(root: configuration.root) } catch {
            throw TFTPServerError.badRoot(configuration.root)
        }
        let shared = Shared(group: group, configuration: configuration, jail: jail, logger: logger)
        let channel: any Channel
        do {
            channel = try await DatagramBootstrap(group: group)
                .channelOption(.socketOption(.so_reuseaddr), value: 1)
                .channelOption(.receivePacketInfo, value: true)
                .channelInitializer { ch in
                    ch.eventLoop.makeCompletedFuture {
                        try ch.pipeline.syncOperations.addHandler(RequestHandler(shared: shared))
                    }
                }
                .bind(host: configuration.address, port: configuration.port).get()
        } catch {
            throw TFTPServerError.bindFailed("\(configuration.address):\(configuration.port)", "\(error)")
        }
        return TFTPServer(listener: channel, shared: shared, logger: logger)
    }

    /// Replaces the configuration for requests that arrive from now on.
    public func apply(_ configuration: TFTPServerConfiguration) throws {
        let jail: PathJail
        do { jail = try PathJail(root: configuration.root) } catch {
            throw TFTPServerError.badRoot(configuration.root)
        }
        shared.state.withLockedValue {
            $0.configuration = configuration
            $0.jail = jail
        }
    }

    public var configuration: TFTPServerConfiguration { shared.state.withLockedValue { $0.configuration } }
    public var stats: TFTPServerStats { shared.state.withLockedValue { $0.stats } }

    /// Stops taking requests, lets running transfers finish for up to `grace`, then closes them.
    public func stop(grace: TimeAmount = .seconds(5)) async {
        shared.state.withLockedValue { $0.accepting = false }
        try? await listener.close()
        await waitForSessionsToEnd(within: grace)
        let controls = shared.state.withLockedValue { s in s.sessions.values.map(\.control) }
        for control in controls { control.cancel() }
        // The transfer threads see the cancellation at once; wait briefly for their log lines.
        await waitForSessionsToEnd(within: .seconds(1))
    }

    private func waitForSessionsToEnd(within time: TimeAmount) async {
        let deadline = NIODeadline.now() + time
        while NIODeadline.now() < deadline, !shared.state.withLockedValue({ $0.sessions.isEmpty }) {
            try? await Task.sleep(nanoseconds: 10_000_000)
        }
    }
}

public enum TFTPServerError: Error, CustomStringConvertible, Sendable {
    case badRoot(String)
    case bindFailed(String, String)
    public var description: String {
        switch self {
        case .badRoot(let r): "TFTP root \(r) does not exist or is not accessible"
        case .bindFailed(let a, let why): "cannot bind TFTP socket on \(a): \(why)"
        }
    }
}

/// Takes requests on the well-known port and starts a transfer socket for each.
final class RequestHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    let shared: TFTPServer.Shared
    init(shared: TFTPServer.Shared) { self.shared = shared }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let peer = envelope.remoteAddress
        let packet: TFTPPacket
        do {
            packet = try TFTPPacket.decode(envelope.data)
        } catch {
            shared.state.withLockedValue { $0.stats.malformed += 1 }
            shared.logger.debug("malformed request from \(peer): \(error)")
            reply(context, to: peer, .error(.illegalOperation, "malformed request"))
            return
        }
        let request: TFTPRequest
        let isRead: Bool
        switch packet {
        case .readRequest(let r): request = r; isRead = true
        case .writeRequest(let r): request = r; isRead = false
        case .data, .ack, .optionAck:
            reply(context, to: peer, .unknownTransferID)
            return
        case .error:
            return
        }
        // Reply from the address the request was sent to, so clients on a multi-homed host see
        // the server they asked.
        var localHost = context.channel.localAddress?.ipAddress ?? "0.0.0.0"
        if localHost == "0.0.0.0" || localHost == "::",
           let dst = envelope.metadata?.packetInfo?.destinationAddress.ipAddress {
            localHost = dst
        }
        let admission = admit(peer: peer)
        switch admission {
        case .refused(let why):
            reply(context, to: peer, .error(.notDefined, why))
            return
        case .admitted(let config, let jail, let port):
            startTransfer(request: request, isRead: isRead, peer: peer, localHost: localHost,
                          localPort: port, config: config, jail: jail, listener: context)
        }
    }

    enum Admission {
        case admitted(TFTPServerConfiguration, PathJail, Int)
        case refused(String)
    }

    /// Decides whether a new session may start. When the table is full, the oldest session that
    /// never got an ACK is evicted: a flood of abandoned requests cannot lock real clients out.
    private func admit(peer: SocketAddress) -> Admission {
        var victim: TransferControl?
        let result: Admission = shared.state.withLockedValue { s in
            guard s.accepting, let jail = s.jail else { return .refused("server shutting down") }
            if s.sessions.count + s.opening >= s.configuration.maxSessions {
                let idle = s.sessions.filter { !$0.value.progressed }.min { $0.value.started < $1.value.started }
                guard let idle else {
                    s.stats.refused += 1
                    return .refused("server busy")
                }
                s.sessions.removeValue(forKey: idle.key)
                s.stats.evicted += 1
                s.stats.active = s.sessions.count
                victim = idle.value.control
            }
            var port = 0
            if let range = s.configuration.portRange {
                port = range.lowerBound + s.nextPort % range.count
                s.nextPort &+= 1
            }
            s.opening += 1
            return .admitted(s.configuration, jail, port)
        }
        victim?.cancel()
        return result
    }

    private func reply(_ context: ChannelHandlerContext, to peer: SocketAddress, _ packet: TFTPPacket) {
        context.writeAndFlush(wrapOutboundOut(AddressedEnvelope(remoteAddress: peer, data: packet.encoded(allocator: context.channel.allocator))), promise: nil)
    }

    private func startTransfer(request: TFTPRequest, isRead: Bool, peer: SocketAddress, localHost: String,
                               localPort: Int, config: TFTPServerConfiguration, jail: PathJail,
                               listener context: ChannelHandlerContext) {
        let logger = shared.logger
        // Open the file before anything else, so refusals go out from the listener at once.
        let prepared: PreparedTransfer
        do {
            prepared = try PreparedTransfer.make(request: request, isRead: isRead, config: config, jail: jail)
        } catch let refusal as PathJail.Refusal {
            shared.state.withLockedValue { $0.opening -= 1 }
            logger.info("refused \(isRead ? "RRQ" : "WRQ") \(request.filename.debugDescription) from \(peer): \(refusal)")
            shared.state.withLockedValue { $0.stats.refused += 1 }
            reply(context, to: peer, .error(refusal.code, refusal.description))
            return
        } catch {
            shared.state.withLockedValue { $0.opening -= 1 }
            reply(context, to: peer, .error(.notDefined, "\(error)"))
            return
        }
        // With --port-range, a port still held by a transfer that is closing (or by another
        // program) must not cost the client its transfer: try the next ports of the range.
        var candidates = [localPort]
        if let range = config.portRange, range.count > 1 {
            for step in 1..<range.count {
                candidates.append(range.lowerBound + (localPort - range.lowerBound + step) % range.count)
            }
        }
        let fd: Int32
        do {
            fd = try TransferThread.openSocket(host: localHost, ports: candidates)
        } catch {
            shared.state.withLockedValue { $0.opening -= 1 }
            prepared.abandon()
            logger.error("cannot open transfer socket for \(peer): \(error)")
            reply(context, to: peer, .error(.notDefined, "no free transfer port"))
            return
        }
        let transfer = TransferThread(fd: fd, shared: shared, peer: peer, localHost: localHost, request: request,
                                      isRead: isRead, transfer: prepared, connect: config.connectTransferSockets)
        let id = ObjectIdentifier(transfer.control)
        let admitted = shared.state.withLockedValue { s -> Bool in
            s.opening -= 1
            guard s.accepting else { return false }
            s.sessions[id] = .init(control: transfer.control, progressed: false, started: .now())
            s.stats.started += 1
            s.stats.active = s.sessions.count
            return true
        }
        guard admitted else {
            transfer.control.closeSocket()
            prepared.abandon()
            return
        }
        if !transfer.start() {
            shared.state.withLockedValue { s in
                s.sessions.removeValue(forKey: id)
                s.stats.active = s.sessions.count
                s.stats.failed += 1
            }
            transfer.control.closeSocket()
            prepared.abandon()
            logger.error("cannot start a thread for the transfer to \(peer)")
            reply(context, to: peer, .error(.notDefined, "server busy"))
        }
    }
}

/// A request that passed the jail and negotiation: an open file and the session to run.
struct PreparedTransfer: @unchecked Sendable {
    // @unchecked: the session owns a file descriptor (an Int32) and is handed to exactly one
    // transfer thread, which alone touches it afterwards.
    var session: any TransferMachine
    var fd: Int32
    var upload: (temp: String, final: String, overwrite: Bool)?
    var gsoSegment: Int
    var parameters: TransferParameters
    var dally: TimeAmount

    static func make(request: TFTPRequest, isRead: Bool, config: TFTPServerConfiguration,
                     jail: PathJail) throws -> PreparedTransfer {
        if isRead {
            let (fd, size, _) = try jail.openForReading(request.filename)
            var exactSize: Int? = size
            if request.mode == .netascii {
                // tsize must be exact; netascii grows the file, so count it (small files only).
                exactSize = size <= 16 << 20 ? netasciiSize(fd: fd) : nil
            }
            let (params, oack) = OptionNegotiation.negotiate(request.options, isRead: true, size: exactSize, limits: config.limits)
            let policy = config.policy(for: params)
            let session: any TransferMachine = request.mode == .netascii
                ? SendSession(source: NetasciiEncodingSource(FileSource(fd: fd)), parameters: params, optionAck: oack, policy: policy)
                : SendSession(source: FileSource(fd: fd), parameters: params, optionAck: oack, policy: policy)
            return PreparedTransfer(session: session, fd: fd, upload: nil,
                                    gsoSegment: params.windowSize > 1 ? params.blockSize + 4 : 0,
                                    parameters: params, dally: .zero)
        } else {
            guard config.uploads else { throw PathJail.Refusal.accessViolation("uploads are disabled") }
            let (fd, temp, final) = try jail.createForWriting(request.filename, overwrite: config.overwrite)
            let (params, oack) = OptionNegotiation.negotiate(request.options, isRead: false, size: nil, limits: config.limits)
            let policy = config.policy(for: params)
            let session: any TransferMachine = request.mode == .netascii
                ? ReceiveSession(sink: NetasciiDecodingSink(FileSink(fd: fd)), parameters: params, optionAck: oack, policy: policy)
                : ReceiveSession(sink: FileSink(fd: fd), parameters: params, optionAck: oack, policy: policy)
            return PreparedTransfer(session: session, fd: fd, upload: (temp, final, config.overwrite), gsoSegment: 0,
                                    parameters: params, dally: policy.timeout * 2)
        }
    }

    static func netasciiSize(fd: Int32) -> Int? {
        var source = FileSource(fd: fd)
        var total = 0
        while true {
            guard let chunk = try? source.read(upTo: 65536) else { return nil }
            total += NetasciiEncodingSource<FileSource>.encodedSize(of: chunk.readableBytesView)
            if chunk.readableBytes < 65536 { return total }
        }
    }

    func abandon() {
        close(fd)
        if let upload { unlink(upload.temp) }
    }
}
