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

/// One server transfer on its own socket and thread: feeds datagrams, ticks and commit results
/// to the session machine and carries out the actions it returns. No protocol decisions here.
/// A struct, run as the thread's own local variable: its state is checked for exclusive access
/// at compile time, not per access at run time as a class's would be.
struct TransferThread: @unchecked Sendable {
    // @unchecked: built on the listener's event loop, then moved to its thread, which alone
    // touches it; `control` (locked and atomic) is the one part shared with other threads.
    let control: TransferControl
    private var socket: UDPTransferSocket
    private let peer: SocketAddress
    private let localHost: String
    private let request: TFTPRequest
    private let isRead: Bool
    private var transfer: PreparedTransfer
    private let connect: Bool
    private let companionLoop: any EventLoop
    private let hooks: TransferHooks
    private var receiveBuffer: ByteBuffer
    private var sendBuffer: ByteBuffer
    private var started = NIODeadline.now()
    private var progressed = false
    private var ended = false
    private var closing = false
    private var sendErrorLogged = false

    init(fd: Int32, peer: SocketAddress, localHost: String, request: TFTPRequest, isRead: Bool,
         transfer: PreparedTransfer, connect: Bool, companionLoop: any EventLoop, hooks: TransferHooks) {
        self.control = TransferControl(fd: fd)
        self.socket = UDPTransferSocket(fd: fd, peer: peer)
        self.peer = peer
        self.localHost = localHost
        self.request = request
        self.isRead = isRead
        self.transfer = transfer
        self.connect = connect
        self.companionLoop = companionLoop
        self.hooks = hooks
        // A reader receives ACKs only; a writer must fit a whole DATA block (a larger datagram
        // would be cut short and look like the final block).
        let capacity = isRead ? 2048 : max(2048, transfer.parameters.blockSize + 64)
        receiveBuffer = ByteBufferAllocator().buffer(capacity: capacity)
        sendBuffer = ByteBufferAllocator().buffer(capacity: max(2048, transfer.parameters.blockSize + 4))
    }

    /// Starts the thread. False if the system would not give one.
    func start() -> Bool {
        spawnThread { [initial = self] in
            var transfer = initial
            transfer.run()
        }
    }

    private mutating func run() {
        socket.prepare(gsoSegment: transfer.gsoSegment, connect: connect, localHost: localHost, companionLoop: companionLoop)
        started = .now()
        perform(transfer.session.start(now: started))
        while !closing {
            if control.isCancelled {
                // Closed from outside: evicted when the table was full, or the server stopped.
                end(.failed("closed by server"))
                break
            }
            let now = NIODeadline.now()
            let deadline = transfer.session.nextDeadline
            if let deadline, now >= deadline {
                perform(transfer.session.tick(now: now))
                continue
            }
            // Without a deadline, wake now and then anyway; cancel() wakes the thread sooner.
            let wait = deadline.map { ($0 - now).nanoseconds } ?? 1_000_000_000
            guard socket.receive(into: &receiveBuffer, waiting: wait) else { continue }
            handleDatagram()
        }
        socket.closeCompanion()
        control.closeSocket()
    }

    private mutating func handleDatagram() {
        guard let packet = try? TFTPPacket.decode(receiveBuffer) else { return }
        if !progressed && !ended && TFTPAdmission.showsProgress(packet) {
            progressed = true
            hooks.progressed()
        }
        perform(transfer.session.received(packet, now: .now()))
        control.progressed(to: transfer.session.stats.bytes)
    }

    private mutating func perform(_ action: SessionAction) {
        switch action {
        case .none:
            break
        case .send(let packets):
            send(packets)
        case .commit:
            do {
                try transfer.commitUpload()
                perform(transfer.session.committed(now: .now()))
            } catch {
                perform(transfer.session.commitFailed(code: error.code, message: error.description, now: .now()))
            }
        case .finish(let outcome, let packets):
            send(packets)
            end(outcome)
            closing = true
        case .dally(let outcome, let packets, _):
            // The session keeps its deadline until the dally ends, then returns `.close`.
            send(packets)
            end(outcome)
        case .close:
            closing = true
        }
    }

    private mutating func send(_ packets: [TFTPPacket]) {
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
                transmit()
                i = end
            }
        } else {
            for p in packets {
                sendBuffer.clear()
                p.encode(into: &sendBuffer)
                transmit()
            }
        }
    }

    /// A failure is logged once per transfer; the retransmit timer still decides the outcome.
    private mutating func transmit() {
        guard let error = socket.send(sendBuffer), !sendErrorLogged, !control.isCancelled else { return }
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
