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
import PXEConfig

/// The DHCP/BOOTP socket of one interface: bound to `0.0.0.0:port` with SO_REUSEADDR,
/// SO_BROADCAST and SO_BINDTODEVICE, so each interface gets only its own broadcasts and its
/// broadcast replies leave through it. The engine lives in the channel handler on the channel's
/// event loop; lease changes are group-committed to the `LeaseBackend` (the journal, or a shared
/// database), and replies are sent only after their records are durable.
public final class DHCPListener: Sendable {
    public let interface: String
    /// The bound address (useful with port 0).
    public let localAddress: SocketAddress?
    /// Where this listener persists leases (fixed for its lifetime; another store needs a new listener).
    public let backend: (any LeaseBackend)?
    private let channel: any Channel
    private let bootServerChannel: (any Channel)?
    private let statsBox: NIOLockedValueBox<DHCPStats>

    private init(interface: String, channel: any Channel, bootServerChannel: (any Channel)?, backend: (any LeaseBackend)?,
                 stats: NIOLockedValueBox<DHCPStats>) {
        self.interface = interface
        self.channel = channel
        self.bootServerChannel = bootServerChannel
        self.localAddress = channel.localAddress
        self.backend = backend
        self.statsBox = stats
    }

    /// Binds the socket (and, in proxy mode, the boot server's) and starts serving.
    /// - Parameters:
    ///   - settings: the engine's configuration (`settings.interfaceName` is the device).
    ///   - port: server port; replies go to the client port 68 (or, when `port` is not 67, to the
    ///     request's source port, so tests can run on high ports).
    ///   - leases: the durable store (journal or shared database); its records seed the engine.
    ///     nil: nothing persisted.
    ///   - bindAddress: "0.0.0.0" in production; tests bind "127.0.0.1".
    ///   - bindToDevice: set SO_BINDTODEVICE to `settings.interfaceName`.
    ///   - clock: Unix seconds.
    public static func start(
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, settings: DHCPServiceConfig, port: UInt16,
        leases: (any LeaseBackend)?,
        logger: Logger = Logger(label: "pxed.dhcp"), bindAddress: String = "0.0.0.0", bindToDevice: Bool = true,
        metrics: any MetricsFactory = NOOPMetricsHandler.instance,
        clock: @escaping @Sendable () -> Double = DHCPListener.unixTime
    ) async throws -> DHCPListener {
        let stats = NIOLockedValueBox(DHCPStats())
        let arp = ARPTable()
        let initial = leases?.initialLeases ?? []
        let channel = try await bind(group: group, role: .dhcp, settings: settings, port: port, leases: leases,
                                     initial: initial, stats: stats, arp: arp, logger: logger,
                                     bindAddress: bindAddress, bindToDevice: bindToDevice, metrics: metrics, clock: clock)
        var bootServer: (any Channel)? = nil
        if let proxy = settings.proxy {
            do {
                bootServer = try await bind(group: group, role: .bootServer, settings: settings, port: proxy.bootServerPort,
                                            leases: nil, initial: [], stats: stats, arp: nil, logger: logger,
                                            bindAddress: bindAddress, bindToDevice: bindToDevice, metrics: metrics, clock: clock)
            } catch {
                try? await channel.close().get()
                throw error
            }
        }
        logger.info("DHCP listening", metadata: [
            "interface": "\(settings.interfaceName)", "address": "\(channel.localAddress.map { "\($0)" } ?? "?")",
            "dhcp": "\(settings.pool != nil)", "bootp": "\(settings.bootp)",
            "proxy": "\(bootServer.map { "boot server on \($0.localAddress.map { "\($0)" } ?? "?")" } ?? "false")",
        ])
        return DHCPListener(interface: settings.interfaceName, channel: channel, bootServerChannel: bootServer,
                            backend: leases, stats: stats)
    }

    /// One bound socket with its engine: the DHCP/BOOTP port, or the proxy's boot server port.
    private static func bind(
        group: any EventLoopGroup, role: DHCPChannelHandler.Role, settings: DHCPServiceConfig, port: UInt16,
        leases: (any LeaseBackend)?, initial: [Lease], stats: NIOLockedValueBox<DHCPStats>, arp: ARPTable?, logger: Logger,
        bindAddress: String, bindToDevice: Bool, metrics: any MetricsFactory, clock: @escaping @Sendable () -> Double
    ) async throws -> any Channel {
        let device = settings.interfaceName
        let bootstrap = DatagramBootstrap(group: group)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(.socketOption(.so_broadcast), value: 1)
            // A burst of clients (a rack powering on, a relay flushing its queue) must not overflow
            // the kernel queue while the loop is busy: ask for a large buffer (capped by rmem_max;
            // SO_RCVBUFFORCE below lifts the cap when we have CAP_NET_ADMIN).
            .channelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(DHCPListener.receiveBufferBytes))
            .channelOption(.receivePacketInfo, value: true)
            // recvmmsg: up to `vectorRead` datagrams per system call, each in a 2 KiB slice (a DHCP
            // message larger than an Ethernet frame is not something any client sends).
            .channelOption(.datagramVectorReadMessageCount, value: DHCPListener.vectorRead)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: DHCPListener.vectorRead * 2048))
            .channelInitializer { channel in
                let addHandler: @Sendable () throws -> Void = {
                    let handler = DHCPChannelHandler(
                        role: role, engine: DHCPServer(settings: settings, leases: initial), store: leases, logger: logger,
                        stats: stats, recorder: DHCPRecorder(interface: device, factory: metrics), serverPort: port, arp: arp,
                        clock: clock)
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
                guard let provider = channel as? any SocketOptionProvider else {
                    guard !bindToDevice else { return channel.eventLoop.makeFailedFuture(DHCPListenerError.noSocketOptions) }
                    return channel.eventLoop.makeCompletedFuture(Result(catching: addHandler))
                }
                // Best effort: without CAP_NET_ADMIN this fails and SO_RCVBUF (capped) stays.
                let force = provider.unsafeSetSocketOption(
                    level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_RCVBUFFORCE),
                    value: CInt(DHCPListener.receiveBufferBytes)
                ).flatMapError { _ in channel.eventLoop.makeSucceededVoidFuture() }
                guard bindToDevice else { return force.flatMapThrowing(addHandler) }
                var name: (CChar, CChar, CChar, CChar, CChar, CChar, CChar, CChar,
                           CChar, CChar, CChar, CChar, CChar, CChar, CChar, CChar) =
                    (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
                withUnsafeMutableBytes(of: &name) { raw in
                    for (i, c) in device.utf8.prefix(15).enumerated() { raw[i] = c }
                }
                let deviceName = name
                return force.flatMap {
                    provider.unsafeSetSocketOption(
                        level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_BINDTODEVICE), value: deviceName)
                }.flatMapThrowing(addHandler)
            }
        return try await bootstrap.bind(host: bindAddress, port: Int(port)).get()
    }

    /// Whether this listener runs a boot server socket (proxy mode).
    public var hasBootServer: Bool { bootServerChannel != nil }

    /// The boot server's bound address (proxy mode).
    public var bootServerAddress: SocketAddress? { bootServerChannel?.localAddress }

    /// Swaps in a new configuration generation; leases and held offers are kept.
    public func apply(settings: DHCPServiceConfig) async {
        for channel in [channel] + (bootServerChannel.map { [$0] } ?? []) {
            try? await channel.eventLoop.submit {
                try channel.pipeline.syncOperations.handler(type: DHCPChannelHandler.self).engine.apply(settings: settings)
            }.get()
        }
    }

    /// The engine's current lease view (for diagnostics and tests).
    public func currentLeases() async -> [Lease] {
        let channel = self.channel
        return (try? await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.handler(type: DHCPChannelHandler.self).engine.leases
        }.get()) ?? []
    }

    /// How full the pools are now (the engine's view, held offers included).
    public func poolUsage() async -> [PoolUsage] {
        let channel = self.channel
        return (try? await channel.eventLoop.submit {
            let handler = try channel.pipeline.syncOperations.handler(type: DHCPChannelHandler.self)
            return handler.engine.poolUsage(now: handler.now())
        }.get()) ?? []
    }

    /// The socket's receive buffer as the kernel reports it (twice the bytes asked for, on Linux).
    func receiveBufferSize() async throws -> Int {
        Int(try await channel.getOption(.socketOption(.so_rcvbuf)).get())
    }

    /// Closes the socket. Replies waiting for a lease write in flight are dropped.
    public func stop() async {
        try? await channel.close().get()
        try? await bootServerChannel?.close().get()
    }

    public var stats: DHCPStats { statsBox.withLockedValue { $0 } }

    /// Kernel receive buffer asked for (SO_RCVBUF/SO_RCVBUFFORCE): about 10,000 queued requests.
    public static let receiveBufferBytes = 4 << 20
    /// Datagrams read per recvmmsg call.
    static let vectorRead = 16

    /// Wall-clock Unix seconds (CLOCK_REALTIME): lease expiries are stored as Unix time.
    @Sendable public static func unixTime() -> Double { FileIO.unixTime() }
}

public enum DHCPListenerError: Error, Sendable, Equatable {
    /// The channel does not expose raw socket options (SO_BINDTODEVICE cannot be set).
    case noSocketOptions
}

/// Decodes, runs the engine, persists, sends. Lives on the channel's event loop.
final class DHCPChannelHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    /// What the socket is: the DHCP/BOOTP port, or the proxy's PXE boot server port (4011).
    enum Role: Sendable { case dhcp, bootServer }

    /// One request's changes waiting for (or in) a write, with what its replies need.
    private struct Pending: Sendable {
        var changes: [Lease]
        var replaced: [Lease?]
        var replies: [DHCPReply]
        var source: SocketAddress
        var message: DHCPMessage
        var context: RequestContext
        var event: DHCPEvent
    }

    let role: Role
    var engine: DHCPServer
    private let store: (any LeaseBackend)?
    private let logger: Logger
    private let stats: NIOLockedValueBox<DHCPStats>
    private var recorder: DHCPRecorder
    private let serverPort: UInt16
    private let arp: ARPTable?
    private let clock: @Sendable () -> Double
    private var commits = GroupCommitQueue<Pending>(window: DHCPChannelHandler.commitWindow,
                                                    maxBatch: DHCPChannelHandler.commitBatchLimit)
    private var commitTimer: Scheduled<Void>?
    /// Replies waiting for the pacer, oldest first.
    private var outbox = CircularBuffer<(envelope: AddressedEnvelope<ByteBuffer>, reply: DHCPReply)>()
    private var pacer = ReplyPacer(now: DHCPChannelHandler.monotonic())
    private var outboxTimer: Scheduled<Void>?
    /// Replies written since the last flush.
    private var unflushed = false
    /// Seconds until the next probe of a failed store (doubles to `maximumProbeDelay`).
    private var probeDelay = DHCPChannelHandler.firstProbeDelay
    private var sync: RepeatedTask?
    private var syncing = false
    /// Removed from its channel: probes stop.
    private var removed = false

    /// How long the first lease change of a commit group waits for others before its write
    /// starts (`GroupCommitQueue`): a millisecond on every ACK, against one fdatasync per ACK or
    /// two when the disk is quick. Figures: issue 20's notes and the README.
    static let commitWindow = 0.001
    /// A group this large is written at once.
    static let commitBatchLimit = 256
    static let firstProbeDelay = 0.25
    static let maximumProbeDelay = 8.0
    /// How often a shared store is asked for other servers' changes: the longer, the more often
    /// two servers offer one address (the later claim gets a NAK and its client starts again).
    static let syncInterval = TimeAmount.milliseconds(500)

    init(role: Role, engine: DHCPServer, store: (any LeaseBackend)?, logger: Logger, stats: NIOLockedValueBox<DHCPStats>,
         recorder: DHCPRecorder, serverPort: UInt16, arp: ARPTable?, clock: @escaping @Sendable () -> Double) {
        self.recorder = recorder
        self.role = role
        self.engine = engine
        self.store = store
        self.logger = logger
        self.stats = stats
        self.serverPort = serverPort
        self.arp = arp
        self.clock = clock
    }

    func now() -> Double { clock() }

    func handlerAdded(context: ChannelHandlerContext) {
        guard let store, role == .dhcp else { return }
        if !store.isLoaded {
            // The database could not be read at start: nothing new until it can.
            engine.leaseStoreAvailable = false
            scheduleProbe(context: context)
        }
        guard store.isShared else { return }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        sync = context.eventLoop.scheduleRepeatedTask(initialDelay: Self.syncInterval, delay: Self.syncInterval) { _ in
            bound.value.0.learnFromOtherServers(context: bound.value.1)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        removed = true
        sync?.cancel()
        sync = nil
    }

    /// Takes in what other servers committed, so offers skip their addresses (one ask at a time).
    private func learnFromOtherServers(context: ChannelHandlerContext) {
        guard let store, !syncing else { return }
        syncing = true
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let loop = context.eventLoop
        Task {
            let changes = await store.changesFromOtherServers()
            loop.execute {
                let handler = bound.value.0
                handler.syncing = false
                if let changes, !changes.isEmpty { handler.engine.learn(changes) }
                handler.engine.allocationShare = store.allocationShare
            }
        }
    }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        stats.withLockedValue { $0.received += 1 }
        pacer.requestArrived(now: Self.monotonic())
        let message: DHCPMessage
        do {
            message = try DHCPMessage.decode(envelope.data)
        } catch {
            stats.withLockedValue { $0.malformed += 1 }
            recorder.malformed()
            logger.debug("malformed datagram dropped", metadata: [
                "from": "\(envelope.remoteAddress)", "reason": "\(error)",
                "port": "\(role == .bootServer ? "boot server" : "dhcp")",
            ])
            return
        }
        recorder.received(message)
        let source = envelope.remoteAddress
        let destination = envelope.metadata?.packetInfo.flatMap { Self.ipv4($0.destinationAddress) }
        let interfaceBroadcast = engine.settings.interfaceNetwork?.broadcastAddress
        let requestContext = RequestContext(
            interface: engine.settings.interfaceName,
            sourceAddress: Self.ipv4(source) ?? .any,
            sourcePort: UInt16(clamping: source.port ?? 68),
            arrivedAsBroadcast: destination.map { $0 == .broadcast || $0 == interfaceBroadcast } ?? true)
        let outcome = switch role {
        case .dhcp: engine.handle(message, context: requestContext, now: clock())
        case .bootServer: engine.handleBootServer(message, context: requestContext, now: clock())
        }
        stats.withLockedValue { $0.count(outcome.event) }
        recorder.count(outcome.event, bootServer: role == .bootServer)
        log(outcome.event, message, boot: outcome.boot)

        if outcome.leaseChanges.isEmpty || store == nil {
            // Written now, flushed once per read burst (channelReadComplete): one sendmmsg for many.
            send(outcome.replies, source: source, context: context)
        } else {
            let pending = Pending(changes: outcome.leaseChanges, replaced: outcome.replacedRecords, replies: outcome.replies,
                                  source: source, message: message, context: requestContext, event: outcome.event)
            advance(commits.enqueue(pending, now: Self.monotonic()), context: context)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flushIfNeeded(context: context)
        context.fireChannelReadComplete()
    }

    private func flushIfNeeded(context: ChannelHandlerContext) {
        guard unflushed else { return }
        unflushed = false
        context.flush()
    }

    /// Acts on the commit queue's word: write now, or wake up when the group's window ends.
    private func advance(_ step: GroupCommitQueue<Pending>.Next, context: ChannelHandlerContext) {
        switch step {
        case .write(let batch):
            commitTimer?.cancel()
            commitTimer = nil
            commit(batch, context: context)
        case .waitUntil(let due):
            guard commitTimer == nil else { return }
            commitTimer = schedule(after: due - Self.monotonic(), context: context) { handler, context in
                handler.commitTimer = nil
                handler.advance(handler.commits.timerFired(now: Self.monotonic()), context: context)
            }
        case .nothing:
            break
        }
    }

    static func monotonic() -> Double { Double(NIODeadline.now().uptimeNanoseconds) / 1e9 }

    /// Runs `body` on this handler's event loop after `seconds` (none: at once).
    private func schedule(after seconds: Double, context: ChannelHandlerContext,
                          _ body: @escaping (DHCPChannelHandler, ChannelHandlerContext) -> Void) -> Scheduled<Void> {
        let bound = NIOLoopBound((self, context, body), eventLoop: context.eventLoop)
        return context.eventLoop.scheduleTask(in: .nanoseconds(Int64(max(0, seconds) * 1e9))) {
            let (handler, context, body) = bound.value
            body(handler, context)
        }
    }

    /// Group commit: everything queued while the previous write was in flight goes in one write.
    private func commit(_ batch: [Pending], context: ChannelHandlerContext) {
        guard let store else { return }
        let records = batch.flatMap(\.changes)
        let now = DHCPServer.seconds(clock())
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        store.persist(records, now: now, on: context.eventLoop).hop(to: context.eventLoop).whenSuccess { verdicts in
            let (handler, context) = bound.value
            handler.written(batch, verdicts: verdicts, context: context)
        }
    }

    /// A batch's verdicts are in: send what committed, turn lost claims into NAKs, and on a
    /// failure take back every change not persisted (this batch's and those waiting) and answer
    /// only from committed leases until a probe finds the store again.
    private func written(_ batch: [Pending], verdicts given: [LeaseVerdict], context: ChannelHandlerContext) {
        let count = batch.reduce(0) { $0 + $1.changes.count }
        let verdicts = given.count == count ? given
            : Array(repeating: .unavailable(reason: "the store answered \(given.count) verdicts for \(count) records"), count: count)
        var failure: String?
        for v in verdicts {
            if case .unavailable(let reason) = v { failure = reason; break }
        }
        if failure != nil {
            // Newest first, so each record's predecessor is restored last-in-first-out.
            let abandoned = commits.takeWaiting()
            for p in abandoned.reversed() { engine.persistFailed(p.changes, replaced: p.replaced) }
            stats.withLockedValue { $0.persistErrors += abandoned.reduce(0) { $0 + $1.changes.count } }
        }
        // Each request's verdicts, in batch order.
        var perRequest: [ArraySlice<LeaseVerdict>] = []
        var start = 0
        for p in batch {
            perRequest.append(verdicts[start..<start + p.changes.count])
            start += p.changes.count
        }
        // Take back what did not commit, newest first; then answer in arrival order.
        var lostClaims: [Int: IPv4Address] = [:]
        for (i, p) in batch.enumerated().reversed() {
            let mine = perRequest[i]
            guard mine.contains(where: { $0 != .committed }) else { continue }
            var undo: [Lease] = [], replaced: [Lease?] = [], holders: [Lease] = []
            for (j, v) in mine.enumerated() where v != .committed {
                undo.append(p.changes[j])
                replaced.append(j < p.replaced.count ? p.replaced[j] : nil)
                if case .lost(let holder?) = v { holders.append(holder) }
            }
            engine.persistFailed(undo, replaced: replaced)
            engine.learn(holders)
            if case .acknowledged(let ip) = p.event, failure == nil, undo.contains(where: { $0.ip == ip }) {
                lostClaims[i] = ip
            }
        }
        for (i, p) in batch.enumerated() {
            if perRequest[i].allSatisfy({ $0 == .committed }) {
                send(p.replies, source: p.source, context: context)
            } else if let ip = lostClaims[i] {
                let nak = engine.claimLost(p.message, ip: ip, context: p.context, now: clock())
                stats.withLockedValue {
                    $0.acks -= 1
                    $0.count(nak.event)
                }
                recorder.count(nak.event, bootServer: false)
                logger.notice("claim lost: another client holds the address in the lease database", metadata: [
                    "client": "\(p.message.macAddress.map { "\($0)" } ?? ClientKey.hex(p.message.hardwareAddress))",
                    "ip": "\(ip)"])
                send(nak.replies, source: p.source, context: context)
            } else if failure != nil {
                stats.withLockedValue { $0.persistErrors += p.changes.count }
            }
        }
        flushIfNeeded(context: context)
        if let failure {
            if engine.leaseStoreAvailable {
                logger.error("lease store unavailable: replies not sent; answering only renewals of committed leases until it is back", metadata: [
                    "error": "\(failure)", "records": "\(count)"])
            }
            engine.leaseStoreAvailable = false
            _ = commits.writeFinished(now: Self.monotonic())
            scheduleProbe(context: context)
            return
        }
        advance(commits.writeFinished(now: Self.monotonic()), context: context)
    }

    /// Asks the failed store whether it takes writes again, with back-off.
    private func scheduleProbe(context: ChannelHandlerContext) {
        guard let store else { return }
        let delay = probeDelay
        probeDelay = min(probeDelay * 2, Self.maximumProbeDelay)
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let loop = context.eventLoop
        loop.scheduleTask(in: .milliseconds(Int64(delay * 1000))) {
            Task {
                var ok = await store.probe()
                // Back from an outage (or never read): take in what others did meanwhile first.
                var changes: [Lease]? = nil
                if ok && store.isShared {
                    changes = await store.changesFromOtherServers()
                    ok = changes != nil
                }
                loop.execute {
                    let (handler, context) = bound.value
                    guard !handler.removed, !handler.engine.leaseStoreAvailable else { return }
                    guard ok else { return handler.scheduleProbe(context: context) }
                    if let changes { handler.engine.learn(changes) }
                    handler.engine.leaseStoreAvailable = true
                    handler.probeDelay = Self.firstProbeDelay
                    handler.logger.notice("lease store available again: serving new addresses")
                }
            }
        }
    }

    private func send(_ replies: [DHCPReply], source: SocketAddress, context: ChannelHandlerContext) {
        guard !replies.isEmpty, context.channel.isActive else { return }
        for reply in replies {
            var address = reply.destination.address
            if reply.destination.kind == .newAddress {
                let err = arp?.add(ip: address, hardwareAddress: reply.destination.hardwareAddress,
                                   device: engine.settings.interfaceName) ?? -1
                if err != 0 {
                    stats.withLockedValue { $0.arpFallbacks += 1 }
                    address = .broadcast
                }
            }
            // Off the standard port (tests), answer wherever the request came from.
            let port = serverPort == ReplyDestination.serverPort ? reply.destination.port : UInt16(clamping: source.port ?? 68)
            let remote = Self.socketAddress(address, port: port)
            let bytes = reply.encoded()
            let envelope = AddressedEnvelope(remoteAddress: remote, data: context.channel.allocator.buffer(bytes: bytes))
            outbox.append((envelope, reply))
        }
        drainOutbox(context: context)
    }

    /// Writes what the pacer allows now; the rest waits for a timer (`ReplyPacer`).
    private func drainOutbox(context: ChannelHandlerContext) {
        let now = Self.monotonic()
        while let first = outbox.first, pacer.take(now: now) {
            outbox.removeFirst()
            write(first.envelope, first.reply, context: context)
        }
        guard !outbox.isEmpty, outboxTimer == nil else { return }
        // At least 0.2 ms: a timer per token would cost more than the pacing saves.
        outboxTimer = schedule(after: max(0.0002, pacer.nextTokenAt(now: now) - now), context: context) { handler, context in
            handler.outboxTimer = nil
            guard context.channel.isActive else { return }
            handler.drainOutbox(context: context)
            handler.flushIfNeeded(context: context)
        }
    }

    private func write(_ envelope: AddressedEnvelope<ByteBuffer>, _ reply: DHCPReply, context: ChannelHandlerContext) {
        let stats = self.stats
        let logger = self.logger
        let sendErrors = recorder.sendErrors
        let remote = envelope.remoteAddress
        recorder.sent(reply)
        context.write(wrapOutboundOut(envelope)).whenComplete { result in
            switch result {
            case .success: stats.withLockedValue { $0.sent += 1 }
            case .failure(let error):
                stats.withLockedValue { $0.sendErrors += 1 }
                sendErrors.increment()
                logger.warning("send failed", metadata: ["to": "\(remote)", "error": "\(error)"])
            }
        }
        unflushed = true
    }

    /// Adds `file=` and `boot=` (why that file: host, ipxe, uefi-x64, default) when the reply names one.
    static func withBoot(_ metadata: Logger.Metadata, _ boot: BootDecision?) -> Logger.Metadata {
        guard let boot else { return metadata }
        var m = metadata
        m["file"] = "\(boot.file ?? "-")"
        m["boot"] = "\(boot.reason)"
        if let a = boot.clientArchitecture { m["arch"] = "\(a)" }
        return m
    }

    /// The IPv4 address of a socket address, read from the sockaddr (no text round trip).
    static func ipv4(_ address: SocketAddress) -> IPv4Address? {
        guard case .v4(let a) = address else { return nil }
        return IPv4Address(UInt32(bigEndian: a.address.sin_addr.s_addr))
    }

    static func socketAddress(_ ip: IPv4Address, port: UInt16) -> SocketAddress {
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = port.bigEndian
        sin.sin_addr.s_addr = ip.value.bigEndian
        return SocketAddress(sin, host: "")
    }

    private func log(_ event: DHCPEvent, _ m: DHCPMessage, boot: BootDecision?) {
        if let code = boot?.unknownArchitectureCode, event.isOffer {
            // Said once per DORA (on the offer), where an admin looks when a new machine type boots.
            logger.notice("client architecture not in the boot table: sent boot.default", metadata: [
                "client": "\(m.macAddress.map { "\($0)" } ?? ClientKey.hex(m.hardwareAddress))",
                "arch": "\(code)", "file": "\(boot?.file ?? "-")"])
        }
        // Formatting the client costs more than the rest of the call: skip it when nothing logs.
        let level: Logger.Level
        switch event {
        case .offered, .informed, .ignored, .proxyOffered: level = .debug
        case .declined: level = .warning
        default: level = .info
        }
        guard logger.logLevel <= level else { return }
        let client: Logger.MetadataValue = "\(m.macAddress.map { "\($0)" } ?? ClientKey.hex(m.hardwareAddress))"
        switch event {
        case .offered(let ip): logger.debug("offer", metadata: Self.withBoot(["client": client, "ip": "\(ip)"], boot))
        case .acknowledged(let ip): logger.info("ack", metadata: Self.withBoot(["client": client, "ip": "\(ip)"], boot))
        case .negativelyAcknowledged(let ip, let why):
            logger.info("nak", metadata: ["client": client, "ip": "\(ip)", "reason": "\(why)"])
        case .released(let ip): logger.info("release", metadata: ["client": client, "ip": "\(ip)"])
        case .declined(let ip): logger.warning("decline: address quarantined", metadata: ["client": client, "ip": "\(ip)"])
        case .informed: logger.debug("inform", metadata: ["client": client])
        case .bootpReplied(let ip): logger.info("bootp reply", metadata: ["client": client, "ip": "\(ip)"])
        case .proxyOffered: logger.debug("proxy offer", metadata: Self.withBoot(["client": client], boot))
        case .proxyAcknowledged(let bootServer):
            var metadata = Self.withBoot(["client": client], boot)
            if m.options[.clientMachineIdentifier].map({ $0.count != 17 || $0[0] != 0 }) ?? true {
                metadata["uuid"] = "\(m.options[.clientMachineIdentifier].map { "invalid (\($0.count) bytes), left out" } ?? "none")"
            }
            logger.info(bootServer ? "boot server ack" : "proxy ack", metadata: metadata)
        case .ignored(let why): logger.debug("ignored", metadata: ["client": client, "reason": "\(why)"])
        }
    }
}
