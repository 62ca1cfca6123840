import Logging
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// Runs one transfer on its own socket (its TID): feeds datagrams and timer ticks to the session
/// and writes what the session returns. No protocol decisions are made here.
final class TransferHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    struct Start {}

    private let shared: TFTPServer.Shared
    private let peer: SocketAddress
    private let request: TFTPRequest
    private let isRead: Bool
    private var transfer: PreparedTransfer
    private let gso: Bool
    private var timer = SessionTimer()
    private var started = NIODeadline.now()
    private var progressed = false
    private var done = false
    /// After a successful upload: the final ACK to repeat if the client resends its last block.
    private var dallyAck: TFTPPacket?
    private var writeErrorLogged = false
    private var sends = 0

    init(shared: TFTPServer.Shared, peer: SocketAddress, request: TFTPRequest, isRead: Bool,
         transfer: PreparedTransfer, gso: Bool) {
        self.shared = shared
        self.peer = peer
        self.request = request
        self.isRead = isRead
        self.transfer = transfer
        self.gso = gso
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is Start else { return context.fireUserInboundEventTriggered(event) }
        started = .now()
        run(transfer.session.start(now: started), context: context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard envelope.remoteAddress == peer else {
            let reply = TFTPPacket.unknownTransferIDReply(to: envelope.remoteAddress, allocator: context.channel.allocator)
            context.writeAndFlush(wrapOutboundOut(reply), promise: nil)
            return
        }
        guard let packet = try? TFTPPacket.decode(envelope.data) else { return }
        if done {
            if let dallyAck, case .data = packet { write([dallyAck], context: context) }
            return
        }
        if !progressed, case .ack = packet { markProgress(context) }
        if !progressed, case .data = packet { markProgress(context) }
        run(transfer.session.received(packet, now: .now()), context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer.cancel()
        if !done {
            // Closed from outside: evicted when the table was full, or the server stopped.
            finish(.failed("closed by server"), context: context, closeChannel: false)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // ICMP port unreachable and friends surface here; the timer decides when to give up.
        shared.logger.debug("transfer socket error for \(peer): \(error)")
    }

    private func markProgress(_ context: ChannelHandlerContext) {
        progressed = true
        let id = ObjectIdentifier(context.channel)
        shared.state.withLockedValue { $0.sessions[id]?.progressed = true }
    }

    private func run(_ action: SessionAction, context: ChannelHandlerContext) {
        switch action {
        case .none:
            break
        case .send(let packets):
            write(packets, context: context)
        case .finish(var outcome, var packets):
            if outcome == .completed, let upload = transfer.upload {
                // Nothing acknowledged may be lost: make the file durable before the final ACK.
                do {
                    try PathJail.commitUpload(fd: transfer.fd, temp: upload.temp, final: upload.final, overwrite: upload.overwrite)
                    transfer.upload = nil
                    dallyAck = packets.last
                } catch {
                    outcome = .failed("\(error)")
                    packets = [.error(error.code, error.description)]
                }
            }
            write(packets, context: context)
            finish(outcome, context: context, closeChannel: true)
            return
        }
        armTimer(context: context)
    }

    private func write(_ packets: [TFTPPacket], context: ChannelHandlerContext) {
        guard !packets.isEmpty else { return }
        let allocator = context.channel.allocator
        if gso && packets.count > 1 {
            // One sendmsg per run of equal-sized DATA datagrams (UDP GSO); only the last may be short.
            // The kernel takes at most 64 segments and 65,507 bytes per send (EMSGSIZE beyond).
            let perSend = max(1, min(64, 65_507 / max(transfer.gsoSegment, 1)))
            var i = 0
            while i < packets.count {
                let end = min(i + perSend, packets.count)
                var buf = allocator.buffer(capacity: (end - i) * (transfer.gsoSegment))
                for p in packets[i..<end] { p.encode(into: &buf) }
                context.write(wrapOutboundOut(AddressedEnvelope(remoteAddress: peer, data: buf)), promise: writePromise(context))
                i = end
            }
        } else {
            for p in packets {
                context.write(wrapOutboundOut(AddressedEnvelope(remoteAddress: peer, data: p.encoded(allocator: allocator))),
                              promise: writePromise(context))
            }
        }
        context.flush()
    }

    /// A failed send is logged once per transfer (the retransmit timer still decides the outcome),
    /// so a datagram the kernel refuses never fails silently. Watching the first sends and then
    /// every 64th is enough for that (a refusal such as EMSGSIZE repeats), and spares a promise
    /// per datagram.
    private func writePromise(_ context: ChannelHandlerContext) -> EventLoopPromise<Void>? {
        sends &+= 1
        guard !writeErrorLogged, sends <= 8 || sends % 64 == 0 else { return nil }
        let promise = context.eventLoop.makePromise(of: Void.self)
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        promise.futureResult.whenFailure { error in
            let handler = bound.value
            guard !handler.writeErrorLogged else { return }
            handler.writeErrorLogged = true
            handler.shared.logger.warning("send to \(handler.peer) failed: \(error)")
        }
        return promise
    }

    private func armTimer(context: ChannelHandlerContext) {
        guard timer.needsArming(for: transfer.session.nextDeadline) else { return }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer.arm(transfer.session.nextDeadline, on: context.eventLoop) {
            let (handler, ctx) = bound.value
            handler.timerFired(context: ctx)
        }
    }

    private func timerFired(context: ChannelHandlerContext) {
        timer.fired()
        guard !done else { return }
        run(transfer.session.tick(now: .now()), context: context)
    }

    private func finish(_ outcome: TransferOutcome, context: ChannelHandlerContext, closeChannel: Bool) {
        guard !done else { return }
        done = true
        timer.cancel()
        close(transfer.fd)
        if let upload = transfer.upload { unlink(upload.temp) }
        let stats = transfer.session.stats
        let params = transfer.session.parameters
        let id = ObjectIdentifier(context.channel)
        shared.state.withLockedValue { s in
            s.sessions.removeValue(forKey: id)
            s.stats.active = s.sessions.count
            s.stats.bytesServed += stats.bytes
            if outcome.isSuccess { s.stats.completed += 1 } else { s.stats.failed += 1 }
        }
        let elapsed = (NIODeadline.now() - started).nanoseconds
        let level: Logger.Level = outcome.isSuccess ? .info : .notice
        shared.logger.log(level: level, "\(isRead ? "RRQ" : "WRQ") \(request.filename.debugDescription) client=\(peer.ipAddress ?? "?"):\(peer.port ?? 0) bytes=\(stats.bytes) duration=\(formatSeconds(elapsed))s blksize=\(params.blockSize) windowsize=\(params.windowSize) mode=\(request.mode.rawValue) retransmits=\(stats.retransmits) outcome=\(outcome.logText)")
        guard closeChannel else { return }
        if dallyAck != nil && transfer.dally > .zero {
            // Stay a moment so a lost final ACK can be repeated (RFC 1350 "dallying").
            let ch = context.channel
            context.eventLoop.scheduleTask(in: transfer.dally) { ch.close(promise: nil) }
        } else {
            context.close(promise: nil)
        }
    }
}

extension TransferOutcome {
    var logText: String {
        switch self {
        case .completed: "completed"
        case .completedUnconfirmed: "completed (final ACK not received)"
        case .peerError(let code, let message): "client-error(\(code) \(message.debugDescription))"
        case .timedOut: "timed-out"
        case .failed(let why): "failed(\(why))"
        }
    }
}

/// "1.234" from nanoseconds, without Foundation.
func formatSeconds(_ nanoseconds: Int64) -> String {
    let ms = max(nanoseconds, 0) / 1_000_000
    let frac = String(ms % 1000)
    return "\(ms / 1000)." + String(repeating: "0", count: 3 - frac.count) + frac
}
