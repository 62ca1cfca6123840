import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// One client transfer (`TFTPClient.get`, `fetch`, `put`) on a plain socket of its own, run by
/// a `TransferRunner` worker as server transfers are: no channel pipeline per datagram, and a
/// window's datagrams drained in one readiness event. It learns the server's TID from the first
/// reply (from the server's host, any port), then connects to it with an ERROR 5 companion
/// beside it, as the server's transfers do. With a window it turns UDP GRO on, so a window the
/// server sent with GSO is read with a recvmsg or two rather than one recv per block.
struct ClientTransfer: PolledTransfer, @unchecked Sendable {
    // @unchecked: built by the caller, then handed to one runner worker, which alone touches it;
    // `control` (locked and atomic) is shared with the caller's cancellation handler.
    typealias Finished = @Sendable (Result<TFTPTransferResult, TFTPClientError>) -> Void

    let control: TransferControl
    private var socket: UDPTransferSocket
    private var session: any TransferMachine
    private let localHost: String
    private let progress: TFTPClient.Progress?
    private let knownSize: Int?
    private let finished: Finished
    /// Datagrams read per readiness event at most: a window's worth.
    private let burst: Int
    private var tidKnown = false
    private var started = NIODeadline.now()
    private var done = false
    private var lastReported = 0
    private(set) var isClosing = false

    init(control: TransferControl, server: SocketAddress, localHost: String, session: any TransferMachine, windowSize: Int,
         progress: TFTPClient.Progress?, knownSize: Int?, finished: @escaping Finished) {
        self.control = control
        socket = UDPTransferSocket(fd: control.fd, peer: server)
        self.session = session
        self.localHost = localHost
        self.progress = progress
        self.knownSize = knownSize
        self.finished = finished
        burst = max(1, min(windowSize, 64))
    }

    var socketFD: Int32 { socket.fd }
    var companionFD: Int32 { socket.companionFD }
    var nextDeadline: NIODeadline? { done ? nil : session.nextDeadline }
    var isCancelled: Bool { control.isCancelled }

    mutating func begin(_ scratch: inout TransferScratch) {
        started = .now()
        perform(session.start(now: started), &scratch.sending)
    }

    mutating func readable(_ scratch: inout TransferScratch) {
        if control.isCancelled { return abort() }
        for _ in 0..<burst {
            if !tidKnown {
                guard let from = socket.receiveFirstReply(into: &scratch.received) else { return }
                tidKnown = true
                socket.connect(to: from, localHost: localHost)
                if burst > 1 && socket.connected { socket.enableGRO() }
                handle(scratch.received, &scratch.sending)
            } else if socket.groEnabled {
                guard let segment = socket.receiveRun(into: &scratch.received) else { return }
                // Each datagram of the run in turn, as if read one by one.
                let run = scratch.received
                var offset = run.readerIndex
                while offset < run.writerIndex && !isClosing {
                    let length = min(segment, run.writerIndex - offset)
                    handle(run.getSlice(at: offset, length: length)!, &scratch.sending)
                    offset += length
                }
            } else {
                guard socket.receive(into: &scratch.received) else { return }
                handle(scratch.received, &scratch.sending)
            }
            if isClosing { return }
            reportProgress()
        }
    }

    private mutating func handle(_ datagram: ByteBuffer, _ sendBuffer: inout ByteBuffer) {
        guard !isClosing, let packet = try? TFTPPacket.decode(datagram) else { return }
        perform(session.received(packet, now: .now()), &sendBuffer)
    }

    func companionReadable() { socket.answerStray() }

    mutating func deadlineReached(now: NIODeadline, _ scratch: inout TransferScratch) {
        if control.isCancelled { return abort() }
        guard let deadline = nextDeadline, now >= deadline else { return }
        perform(session.tick(now: now), &scratch.sending)
    }

    mutating func abort() {
        isClosing = true
        guard !done else { return }
        done = true
        finished(.failure(.transfer(.failed("cancelled"))))
    }

    mutating func close() {
        socket.closeCompanion()
        control.closeSocket()
    }

    private mutating func perform(_ action: SessionAction, _ sendBuffer: inout ByteBuffer) {
        switch action {
        case .none, .close:
            break
        case .send(let packets):
            send(packets, &sendBuffer)
        case .commit:
            // The client's sink is its own local file: nothing to make durable for a peer.
            perform(session.committed(now: .now()), &sendBuffer)
        case .finish(let outcome, let packets), .dally(let outcome, let packets, _):
            // The client does not dally: its caller has the file and is done with the socket.
            send(packets, &sendBuffer)
            done = true
            isClosing = true
            reportProgress()
            let elapsed = Double((NIODeadline.now() - started).nanoseconds) / 1e9
            finished(.success(TFTPTransferResult(bytes: session.stats.bytes, duration: elapsed, parameters: session.parameters,
                                                 retransmits: session.stats.retransmits, outcome: outcome)))
        }
    }

    /// Send failures (an ICMP error from the server's host, say) are left to the retransmit
    /// timer, which decides when to give up.
    private func send(_ packets: [TFTPPacket], _ sendBuffer: inout ByteBuffer) {
        for packet in packets {
            sendBuffer.clear()
            packet.encode(into: &sendBuffer)
            _ = socket.send(sendBuffer)
        }
    }

    private mutating func reportProgress() {
        guard let progress else { return }
        let bytes = session.stats.bytes
        if bytes - lastReported >= 256 * 1024 || done {
            lastReported = bytes
            progress(bytes, session.parameters.transferSize ?? knownSize)
        }
    }
}
