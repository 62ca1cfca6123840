#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CoreMetrics
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import DHCP
import PXEConfig

public struct DHCPv6Stats: Sendable, Equatable {
    public var received = 0
    /// Datagrams that did not decode, or broke a rule (counted, logged at debug, never fatal).
    public var ignored = 0
    public var advertises = 0
    public var replies = 0
    public var persistErrors = 0
    public init() {}
}

/// The DHCPv6 socket of one interface: UDP [::]:547 bound to the device, joined to
/// All_DHCP_Relay_Agents_and_Servers (ff02::1:2) there. Replies go back to the sender's address
/// (a link-local address with its scope, or a relay's), after the lease records are durable.
public final class DHCPv6Listener: Sendable {
    public let interface: String
    public let leaseStore: LeaseStore?
    private let channel: any Channel
    private let statsBox: NIOLockedValueBox<DHCPv6Stats>

    private init(interface: String, channel: any Channel, leaseStore: LeaseStore?, stats: NIOLockedValueBox<DHCPv6Stats>) {
        self.interface = interface
        self.channel = channel
        self.leaseStore = leaseStore
        self.statsBox = stats
    }

    public static let serverPort = 547
    public static let allServers = "ff02::1:2"

    public static func start(group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, settings: DHCPv6Settings,
                             leaseStore: LeaseStore?, leases: [Lease6], port: Int = serverPort,
                             logger: Logger = Logger(label: "pxed.dhcp6"),
                             metrics: any MetricsFactory = NOOPMetricsHandler.instance,
                             clock: @escaping @Sendable () -> Double = DHCPv6Listener.unixTime) async throws -> DHCPv6Listener {
        let stats = NIOLockedValueBox(DHCPv6Stats())
        let device = settings.interfaceName
        let bootstrap = DatagramBootstrap(group: group)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            // As for DHCPv4: a large kernel queue for bursts (a rack, a relay flushing), and up
            // to 16 datagrams per recvmmsg.
            .channelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(DHCPListener.receiveBufferBytes))
            .channelOption(.datagramVectorReadMessageCount, value: 16)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 16 * 2048))
            .channelInitializer { channel in
                let add: @Sendable () throws -> Void = {
                    try channel.pipeline.syncOperations.addHandler(DHCPv6ChannelHandler(
                        engine: DHCPv6Server(settings: settings, leases: leases), leaseStore: leaseStore, logger: logger,
                        stats: stats, recorder: DHCPv6Recorder(interface: device, factory: metrics), clock: clock))
                }
                guard let provider = channel as? any SocketOptionProvider else {
                    return channel.eventLoop.makeCompletedFuture(Result(catching: add))
                }
                var name: (CChar, CChar, CChar, CChar, CChar, CChar, CChar, CChar,
                           CChar, CChar, CChar, CChar, CChar, CChar, CChar, CChar) =
                    (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
                withUnsafeMutableBytes(of: &name) { raw in for (i, c) in device.utf8.prefix(15).enumerated() { raw[i] = c } }
                let deviceName = name
                // Best effort: without CAP_NET_ADMIN this fails and SO_RCVBUF (capped by rmem_max) stays.
                return provider.unsafeSetSocketOption(level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_RCVBUFFORCE),
                                                      value: CInt(DHCPListener.receiveBufferBytes))
                    .flatMapError { _ in channel.eventLoop.makeSucceededVoidFuture() }
                    .flatMap {
                        provider.unsafeSetSocketOption(level: SocketOptionLevel(SOL_SOCKET),
                                                       name: SocketOptionName(SO_BINDTODEVICE), value: deviceName)
                    }
                    .flatMap {
                        provider.unsafeSetSocketOption(level: SocketOptionLevel(IPPROTO_IPV6), name: SocketOptionName(IPV6_V6ONLY),
                                                       value: CInt(1))
                    }
                    .flatMapThrowing(add)
            }
        let channel = try await bootstrap.bind(host: "::", port: port).get()
        do {
            guard let multicast = channel as? any MulticastChannel else { throw DHCPv6ListenerError.noMulticast }
            let nic = try System.enumerateDevices().first { d in
                d.name == device && { if case .v6 = d.address { return true } else { return false } }()
            }
            guard let nic else { throw DHCPv6ListenerError.noIPv6(device) }
            try await multicast.joinGroup(try SocketAddress(ipAddress: allServers, port: port), device: nic).get()
        } catch {
            try? await channel.close().get()
            throw error
        }
        logger.info("DHCPv6 listening", metadata: ["interface": "\(device)", "port": "\(port)",
                                                   "range": "\(settings.rangeStart)-\(settings.rangeEnd)"])
        return DHCPv6Listener(interface: device, channel: channel, leaseStore: leaseStore, stats: stats)
    }

    public func apply(settings: DHCPv6Settings) async {
        let channel = self.channel
        try? await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.handler(type: DHCPv6ChannelHandler.self).engine.apply(settings: settings)
        }.get()
    }

    public func currentLeases() async -> [Lease6] {
        let channel = self.channel
        return (try? await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.handler(type: DHCPv6ChannelHandler.self).engine.leases
        }.get()) ?? []
    }

    public func stop() async { try? await channel.close().get() }

    /// How full the range is now.
    public func poolUsage() async -> Pool6Usage? {
        let channel = self.channel
        return try? await channel.eventLoop.submit {
            let handler = try channel.pipeline.syncOperations.handler(type: DHCPv6ChannelHandler.self)
            return handler.engine.poolUsage(now: handler.now())
        }.get()
    }
    public var stats: DHCPv6Stats { statsBox.withLockedValue { $0 } }

    @Sendable public static func unixTime() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

public enum DHCPv6ListenerError: Error, Sendable, CustomStringConvertible {
    case noMulticast
    case noIPv6(String)
    public var description: String {
        switch self {
        case .noMulticast: "the socket cannot join multicast groups"
        case .noIPv6(let n): "interface \(n) has no IPv6 address (not even link-local): is IPv6 on?"
        }
    }
}

/// Runs the engine on the channel's loop. Lease records are group-committed: while one write
/// (append + fdatasync, on the thread pool) is in flight, the next REPLYs' records queue up and go
/// in the next write together; each REPLY leaves only after its records are durable.
final class DHCPv6ChannelHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private struct Pending {
        var changes: [Lease6]
        var reply: [UInt8]
        var event: DHCPv6Outcome.Event
        var remote: SocketAddress
    }

    var engine: DHCPv6Server
    private let leaseStore: LeaseStore?
    private let logger: Logger
    private let stats: NIOLockedValueBox<DHCPv6Stats>
    private var recorder: DHCPv6Recorder
    private let clock: @Sendable () -> Double
    private var commits = GroupCommitQueue<Pending>()

    func now() -> Double { clock() }

    init(engine: DHCPv6Server, leaseStore: LeaseStore?, logger: Logger, stats: NIOLockedValueBox<DHCPv6Stats>,
         recorder: DHCPv6Recorder, clock: @escaping @Sendable () -> Double) {
        self.recorder = recorder
        self.engine = engine
        self.leaseStore = leaseStore
        self.logger = logger
        self.stats = stats
        self.clock = clock
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let bytes = Array(envelope.data.readableBytesView)
        let outcome = engine.handle(bytes, now: clock())
        stats.withLockedValue { s in
            s.received += 1
            switch outcome.event {
            case .advertised: s.advertises += 1
            case .replied: s.replies += 1
            case .ignored: s.ignored += 1
            }
        }
        recorder.count(bytes, outcome)
        log(outcome, from: envelope.remoteAddress)
        guard let reply = outcome.reply else { return }
        if leaseStore == nil || outcome.leaseChanges.isEmpty {
            send(reply, outcome.event, to: envelope.remoteAddress, context: context)
            return
        }
        if let batch = commits.enqueue(Pending(changes: outcome.leaseChanges, reply: reply, event: outcome.event,
                                               remote: envelope.remoteAddress)) {
            commit(batch, context: context)
        }
    }

    /// Written now, flushed once per read burst or commit batch (one sendmmsg for many).
    private func send(_ reply: [UInt8], _ event: DHCPv6Outcome.Event, to remote: SocketAddress, context: ChannelHandlerContext) {
        recorder.sent(event)
        let buffer = context.channel.allocator.buffer(bytes: reply)
        context.write(wrapOutboundOut(AddressedEnvelope(remoteAddress: remote, data: buffer)), promise: nil)
        unflushed = true
    }

    private var unflushed = false

    private func flushIfNeeded(context: ChannelHandlerContext) {
        guard unflushed else { return }
        unflushed = false
        context.flush()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flushIfNeeded(context: context)
        context.fireChannelReadComplete()
    }

    private func commit(_ batch: [Pending], context: ChannelHandlerContext) {
        guard let leaseStore else { return }
        let records = batch.flatMap(\.changes)
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        NIOThreadPool.singleton.runIfActive(eventLoop: context.eventLoop) {
            try leaseStore.append(records)
        }.whenComplete { result in
            let (handler, context) = bound.value
            switch result {
            case .success:
                for p in batch { handler.send(p.reply, p.event, to: p.remote, context: context) }
                handler.flushIfNeeded(context: context)
            case .failure(let error):
                handler.stats.withLockedValue { $0.persistErrors += records.count }
                handler.logger.error("DHCPv6 lease write failed; replies not sent", metadata: ["error": "\(error)"])
            }
            if let next = handler.commits.writeFinished() { handler.commit(next, context: context) }
        }
    }

    private func log(_ o: DHCPv6Outcome, from: SocketAddress) {
        switch o.event {
        case .ignored(let why):
            logger.debug("dhcp6 ignored", metadata: ["from": "\(from.hostAndPortText)", "reason": "\(why)"])
        case .advertised, .replied:
            let level: Logger.Level = o.leaseChanges.isEmpty ? .debug : .info
            guard logger.logLevel <= level else { return }
            var metadata: Logger.Metadata = ["from": "\(from.hostAndPortText)"]
            if let l = o.leaseChanges.first {
                metadata["ip6"] = "\(l.address)"
                metadata["state"] = "\(l.state.rawValue)"
            }
            if let url = o.bootURL { metadata["url"] = "\(url)" }
            let what: String
            if case .replied(let t) = o.event { what = "dhcp6 reply to \(t)" } else { what = "dhcp6 advertise" }
            logger.log(level: level, "\(what)", metadata: metadata)
        }
    }
}

extension SocketAddress {
    var hostAndPortText: String {
        let host = ipAddress ?? "?"
        return host.contains(":") ? "[\(host)]:\(port ?? 0)" : "\(host):\(port ?? 0)"
    }
}
