import CoreMetrics
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
        let runner: TransferRunner
        let state: NIOLockedValueBox<State>
        let logger: Logger
        let recorder: TFTPRecorder
        init(runner: TransferRunner, configuration: TFTPServerConfiguration, jail: PathJail?, logger: Logger,
             recorder: TFTPRecorder) {
            self.runner = runner
            self.logger = logger
            self.recorder = recorder
            state = NIOLockedValueBox(State(configuration: configuration, jail: jail))
        }

        /// The one place a finished transfer is counted and logged.
        func record(_ id: TFTPAdmission.SessionID, _ record: TransferRecord) {
            recorder.record(record)
            state.withLockedValue { s in
                s.controls[id] = nil
                let ending: TFTPAdmission.Ending = if record.outcome.isSuccess {
                    .completed(bytes: record.bytes)
                } else if record.outcome.isFailure {
                    .failed(bytes: record.bytes)
                } else {
                    .probed
                }
                s.admission.ended(id, ending)
            }
            logger.log(level: record.logLevel, "\(record.logLine)")
        }
    }

    struct State {
        var configuration: TFTPServerConfiguration
        var jail: PathJail?
        var admission: TFTPAdmission
        /// Each running transfer: how to end it from outside its runner, and what it is.
        var controls: [TFTPAdmission.SessionID: Running] = [:]

        init(configuration: TFTPServerConfiguration, jail: PathJail?) {
            self.configuration = configuration
            self.jail = jail
            admission = TFTPAdmission(maxSessions: configuration.maxSessions, portRange: configuration.portRange)
        }
    }

    struct Running {
        let control: TransferControl
        let client: SocketAddress
        let filename: String
        let isRead: Bool
        let size: Int?
        let parameters: TransferParameters
        let started: NIODeadline
    }

    private init(listener: any Channel, shared: Shared, logger: Logger) {
        self.listener = listener
        self.shared = shared
        self.logger = logger
        self.listenAddress = listener.localAddress ?? (try! SocketAddress(ipAddress: "0.0.0.0", port: 0))
    }

    /// Binds the listener. Throws a clear error if the address or port cannot be bound or the
    /// root does not exist.
    /// - Parameters:
    ///   - group: where the listener runs (requests only; transfers run on `runner`).
    ///   - metricLabels: the labels of this server's series (`interface`).
    public static func start(group: any EventLoopGroup, configuration: TFTPServerConfiguration,
                             logger: Logger, metrics: any MetricsFactory = NOOPMetricsHandler.instance,
                             metricLabels: [(String, String)] = [],
                             runner: TransferRunner = .shared) async throws -> TFTPServer {
        let jail: PathJail
        do { jail = try PathJail(root: configuration.root) } catch {
            throw TFTPServerError.badRoot(configuration.root)
        }
        let shared = Shared(runner: runner, configuration: configuration, jail: jail, logger: logger,
                            recorder: TFTPRecorder(labels: metricLabels, factory: metrics))
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
            $0.admission.maxSessions = configuration.maxSessions
            $0.admission.portRange = configuration.portRange
        }
    }

    public var configuration: TFTPServerConfiguration { shared.state.withLockedValue { $0.configuration } }
    public var stats: TFTPServerStats { shared.state.withLockedValue { $0.admission.stats } }

    /// The transfers running now, oldest first.
    public var activeTransfers: [ActiveTransfer] {
        let now = NIODeadline.now()
        return shared.state.withLockedValue { s in
            s.controls.values.sorted { $0.started < $1.started }.map { r in
                ActiveTransfer(client: r.client.hostAndPort, filename: r.filename, isRead: r.isRead, bytes: r.control.bytesSoFar,
                               size: r.size, seconds: Double((now - r.started).nanoseconds) / 1e9,
                               blockSize: r.parameters.blockSize, windowSize: r.parameters.windowSize)
            }
        }
    }

    /// Stops taking requests, lets running transfers finish for up to `grace`, then closes them.
    public func stop(grace: TimeAmount = .seconds(5)) async {
        await stopListening()
        await waitForSessionsToEnd(within: grace)
        let controls = shared.state.withLockedValue { s in s.controls.values.map(\.control) }
        for control in controls { control.cancel() }
        // The runner sees the cancellations at once; wait briefly for their log lines.
        await waitForSessionsToEnd(within: .seconds(1))
    }

    /// Stops taking requests and closes the listener (its port is free again); transfers carry on.
    public func stopListening() async {
        shared.state.withLockedValue { $0.admission.stopAccepting() }
        try? await listener.close()
    }

    private func waitForSessionsToEnd(within time: TimeAmount) async {
        let deadline = NIODeadline.now() + time
        while NIODeadline.now() < deadline, !shared.state.withLockedValue({ $0.admission.isEmpty }) {
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

/// Takes requests on the well-known port, asks the admission table, and hands each request
/// admitted to the transfer runner, on a socket of its own.
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
            shared.state.withLockedValue { $0.admission.malformedRequest() }
            shared.recorder.malformed.increment()
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
        let (decision, config, jail, victim) = shared.state.withLockedValue { s in
            let decision = s.admission.requestReceived(now: .now())
            var victim: TransferControl?
            if case .admit(_, _, let evicting?) = decision { victim = s.controls.removeValue(forKey: evicting)?.control }
            return (decision, s.configuration, s.jail, victim)
        }
        if let victim {
            victim.cancel()
            shared.recorder.evicted.increment()
        }
        switch decision {
        case .refuse(let error):
            shared.recorder.refusedBusy.increment()
            reply(context, to: peer, error)
        case .admit(let id, let ports, _):
            guard let jail else { return }
            startTransfer(id, request: request, isRead: isRead, peer: peer, localHost: localHost, ports: ports,
                          config: config, jail: jail, listener: context)
        }
    }

    private func reply(_ context: ChannelHandlerContext, to peer: SocketAddress, _ packet: TFTPPacket) {
        context.writeAndFlush(wrapOutboundOut(AddressedEnvelope(remoteAddress: peer, data: packet.encoded(allocator: context.channel.allocator))), promise: nil)
    }

    private func startTransfer(_ id: TFTPAdmission.SessionID, request: TFTPRequest, isRead: Bool, peer: SocketAddress,
                               localHost: String, ports: TFTPAdmission.Ports, config: TFTPServerConfiguration,
                               jail: PathJail, listener context: ChannelHandlerContext) {
        let shared = self.shared
        let logger = shared.logger
        // Open the file before anything else, so refusals go out from the listener at once.
        let prepared: PreparedTransfer
        do {
            prepared = try PreparedTransfer.make(request: request, isRead: isRead, config: config.forClient(peer), jail: jail)
        } catch let refusal as PathJail.Refusal {
            shared.state.withLockedValue { $0.admission.ended(id, .refused) }
            shared.recorder.refusedPath.increment()
            logger.info("refused \(isRead ? "RRQ" : "WRQ") \(request.filename.debugDescription) from \(peer): \(refusal)")
            reply(context, to: peer, .error(refusal.code, refusal.description))
            return
        } catch {
            shared.state.withLockedValue { $0.admission.ended(id, .abandoned) }
            shared.recorder.refusedError.increment()
            reply(context, to: peer, .error(.notDefined, "\(error)"))
            return
        }
        let fd: Int32
        do {
            fd = try UDPTransferSocket.open(host: localHost, ports: ports.candidates)
        } catch {
            shared.state.withLockedValue { $0.admission.ended(id, .abandoned) }
            prepared.abandon()
            shared.recorder.refusedError.increment()
            logger.error("cannot open transfer socket for \(peer): \(error)")
            reply(context, to: peer, .error(.notDefined, "no free transfer port"))
            return
        }
        let hooks = TransferHooks(
            progressed: { shared.state.withLockedValue { $0.admission.progressed(id) } },
            ended: { shared.record(id, $0) },
            logger: logger)
        let transfer = ServerTransfer(fd: fd, peer: peer, localHost: localHost, request: request, isRead: isRead,
                                      transfer: prepared, connect: config.connectTransferSockets, hooks: hooks)
        let admitted = shared.state.withLockedValue { s -> Bool in
            guard s.admission.opened(id, now: .now()) else { return false }
            s.controls[id] = TFTPServer.Running(control: transfer.control, client: peer, filename: request.filename, isRead: isRead,
                                     size: prepared.size, parameters: prepared.parameters, started: .now())
            return true
        }
        guard admitted else {
            transfer.control.closeSocket()
            prepared.abandon()
            return
        }
        if shared.runner.start(transfer) {
            shared.recorder.started.increment()
        } else {
            shared.recorder.refusedError.increment()
            shared.state.withLockedValue { s in
                s.controls[id] = nil
                s.admission.ended(id, .abandoned)
            }
            transfer.control.closeSocket()
            prepared.abandon()
            logger.error("cannot start a transfer runner thread for \(peer)")
            reply(context, to: peer, .error(.notDefined, "server busy"))
        }
    }
}
