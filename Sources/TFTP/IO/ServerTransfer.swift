import Logging
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// What a transfer tells whoever started it. Closures, so the runner knows nothing of the server.
struct TransferHooks: Sendable {
    /// The client acknowledged or sent data for the first time.
    let progressed: @Sendable () -> Void
    /// The outcome is settled (called once, possibly before dallying ends).
    let ended: @Sendable (TransferRecord) -> Void
    let logger: Logger
}

/// The buffers a worker lends each transfer while it runs one: a transfer between events holds
/// no datagram buffer of its own, so a thousand transfers do not hold a thousand pairs.
struct TransferScratch {
    /// Any UDP datagram fits (so an upload's DATA block is never cut short and mistaken for
    /// the last one).
    var received = ByteBufferAllocator().buffer(capacity: 65_536)
    /// A lockstep block, or a window's run of blocks for one GSO send (at most 65,507 bytes).
    var sending = ByteBufferAllocator().buffer(capacity: 65_536)
}

/// One server transfer on its own socket: feeds datagrams, ticks and commit results to the
/// session machine and carries out the actions it returns. No protocol decisions here, and no
/// waiting: a `TransferRunner` worker calls it when its socket is readable or its deadline has
/// come. A struct kept in the worker's table, touched only by that worker's thread.
struct ServerTransfer: PolledTransfer, @unchecked Sendable {
    // @unchecked: built on the listener's event loop, then handed to one runner worker, which
    // alone touches it; `control` (locked and atomic) is the one part shared with other threads.
    let control: TransferControl
    private(set) var socket: UDPTransferSocket
    private let peer: SocketAddress
    private let localHost: String
    private let request: TFTPRequest
    private let isRead: Bool
    private var transfer: PreparedTransfer
    private let connect: Bool
    private let hooks: TransferHooks
    private var started = NIODeadline.now()
    private var progressed = false
    private var ended = false
    /// The session is over: the runner closes the sockets and forgets the transfer.
    private(set) var isClosing = false
    private var sendErrorLogged = false

    init(fd: Int32, peer: SocketAddress, localHost: String, request: TFTPRequest, isRead: Bool,
         transfer: PreparedTransfer, connect: Bool, hooks: TransferHooks) {
        self.control = TransferControl(fd: fd)
        self.socket = UDPTransferSocket(fd: fd, peer: peer)
        self.peer = peer
        self.localHost = localHost
        self.request = request
        self.isRead = isRead
        self.transfer = transfer
        self.connect = connect
        self.hooks = hooks
    }

    /// When the session next wants a tick (nil: only a datagram moves it on).
    var nextDeadline: NIODeadline? { transfer.session.nextDeadline }
    var socketFD: Int32 { socket.fd }
    var companionFD: Int32 { socket.companionFD }
    var isCancelled: Bool { control.isCancelled }

    func companionReadable() { socket.answerStray() }

    /// Sets up the socket (GSO, connect, companion) and sends the first packet. Runs on the
    /// worker, so the listener never waits for it.
    mutating func begin(_ scratch: inout TransferScratch) {
        socket.prepare(gsoSegment: transfer.gsoSegment, connect: connect, localHost: localHost)
        started = .now()
        perform(transfer.session.start(now: started), &scratch)
    }

    /// The socket is readable: one datagram, a pending error, or the shutdown of a cancel.
    mutating func readable(_ scratch: inout TransferScratch) {
        if stopIfCancelled() { return }
        guard socket.receive(into: &scratch.received) else { return }
        guard let packet = try? TFTPPacket.decode(scratch.received) else { return }
        if !progressed && !ended && TFTPAdmission.showsProgress(packet) {
            progressed = true
            hooks.progressed()
        }
        perform(transfer.session.received(packet, now: .now()), &scratch)
        control.progressed(to: transfer.session.stats.bytes)
    }

    /// The session's deadline may have come.
    mutating func deadlineReached(now: NIODeadline, _ scratch: inout TransferScratch) {
        if stopIfCancelled() { return }
        guard let deadline = transfer.session.nextDeadline, now >= deadline else { return }
        perform(transfer.session.tick(now: now), &scratch)
    }

    /// The runner is going away (server stopped): the transfer ends as if cancelled.
    mutating func abort() {
        end(.failed("closed by server"))
        isClosing = true
    }

    /// Closes both sockets; the transfer's outcome has been settled by then.
    mutating func close() {
        socket.closeCompanion()
        control.closeSocket()
    }

    /// Closed from outside: evicted when the table was full, or the server stopped.
    private mutating func stopIfCancelled() -> Bool {
        guard control.isCancelled else { return false }
        abort()
        return true
    }

    private mutating func perform(_ action: SessionAction, _ scratch: inout TransferScratch) {
        switch action {
        case .none:
            break
        case .send(let packets):
            send(packets, &scratch.sending)
        case .commit:
            do {
                try transfer.commitUpload()
                perform(transfer.session.committed(now: .now()), &scratch)
            } catch {
                perform(transfer.session.commitFailed(code: error.code, message: error.description, now: .now()), &scratch)
            }
        case .finish(let outcome, let packets):
            send(packets, &scratch.sending)
            end(outcome)
            isClosing = true
        case .dally(let outcome, let packets, _):
            // The session keeps its deadline until the dally ends, then returns `.close`.
            send(packets, &scratch.sending)
            end(outcome)
        case .close:
            isClosing = true
        }
    }

    private mutating func send(_ packets: [TFTPPacket], _ sendBuffer: inout ByteBuffer) {
        guard !packets.isEmpty else { return }
        let segment = socket.gsoSegment
        if segment > 0 && packets.count > 1 {
            // One send per run of blocks; the kernel takes at most 64 segments and 65,507 bytes
            // per send (EMSGSIZE beyond).
            let perSend = max(1, min(64, 65_507 / segment))
            var i = 0
            while i < packets.count {
                let end = min(i + perSend, packets.count)
                sendBuffer.clear()
                for p in packets[i..<end] { p.encode(into: &sendBuffer) }
                transmit(sendBuffer)
                i = end
            }
        } else {
            for p in packets {
                sendBuffer.clear()
                p.encode(into: &sendBuffer)
                transmit(sendBuffer)
            }
        }
    }

    /// A failure is logged once per transfer; the retransmit timer still decides the outcome.
    private mutating func transmit(_ datagrams: ByteBuffer) {
        guard let error = socket.send(datagrams), !sendErrorLogged, !control.isCancelled else { return }
        sendErrorLogged = true
        hooks.logger.warning("send to \(peer) failed: \(IOError(errnoCode: error, reason: "send"))")
    }

    /// Settles the outcome once: closes the file (an uncommitted upload is removed) and hands
    /// the transfer's record to whoever started it.
    private mutating func end(_ outcome: TransferOutcome) {
        guard !ended else { return }
        ended = true
        transfer.abandon()
        let stats = transfer.session.stats
        hooks.ended(TransferRecord(isRead: isRead, filename: request.filename, mode: request.mode, client: peer,
                                   bytes: stats.bytes, retransmits: stats.retransmits,
                                   parameters: transfer.session.parameters, duration: .now() - started,
                                   outcome: outcome))
    }
}
