import DHCP
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PXEConfig

/// A DHCP relay agent's socket for a load test: requests go to the server from `relay:67` with
/// giaddr set (unicast, so nothing is broadcast), and the server's replies to giaddr come back
/// here and are handed to whichever simulated machine waits for that transaction ID.
public final class RelayAgent: Sendable {
    public let relay: IPv4Address
    private let server: SocketAddress
    private let channel: any Channel
    private let waiting: NIOLockedValueBox<[UInt32: EventLoopPromise<DHCPMessage>]>

    private init(relay: IPv4Address, server: SocketAddress, channel: any Channel,
                 waiting: NIOLockedValueBox<[UInt32: EventLoopPromise<DHCPMessage>]>) {
        self.relay = relay
        self.server = server
        self.channel = channel
        self.waiting = waiting
    }

    public static func start(relay: IPv4Address, server: IPv4Address, serverPort: Int = 67,
                             group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> RelayAgent {
        let waiting = NIOLockedValueBox<[UInt32: EventLoopPromise<DHCPMessage>]>([:])
        let channel = try await DatagramBootstrap(group: group)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(.socketOption(.so_rcvbuf), value: 4 << 20)
            .channelInitializer { ch in
                ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(ReplyRouter(waiting: waiting)) }
            }
            .bind(host: relay.description, port: 67).get()
        return RelayAgent(relay: relay, server: try SocketAddress(ipAddress: server.description, port: serverPort),
                          channel: channel, waiting: waiting)
    }

    /// Sends `message` (giaddr set to the relay) and waits up to `timeout` for a reply with its xid.
    public func exchange(_ message: DHCPMessage, timeout: TimeAmount) async -> DHCPMessage? {
        var m = message
        m.giaddr = relay
        m.hops = 1
        let promise = channel.eventLoop.makePromise(of: DHCPMessage.self)
        let xid = m.xid
        waiting.withLockedValue { $0[xid] = promise }
        let bytes = m.encode()
        channel.writeAndFlush(AddressedEnvelope(remoteAddress: server, data: channel.allocator.buffer(bytes: bytes)), promise: nil)
        let waiting = self.waiting
        let timer = channel.eventLoop.scheduleTask(in: timeout) {
            if let p = waiting.withLockedValue({ $0.removeValue(forKey: xid) }) { p.fail(ChannelError.connectPending) }
        }
        defer { timer.cancel() }
        return try? await promise.futureResult.get()
    }

    public func close() async { try? await channel.close().get() }
}

final class ReplyRouter: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let waiting: NIOLockedValueBox<[UInt32: EventLoopPromise<DHCPMessage>]>
    init(waiting: NIOLockedValueBox<[UInt32: EventLoopPromise<DHCPMessage>]>) { self.waiting = waiting }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let m = try? DHCPMessage.decode(unwrapInboundIn(data).data), m.op == .bootReply else { return }
        waiting.withLockedValue { $0.removeValue(forKey: m.xid) }?.succeed(m)
    }
}
