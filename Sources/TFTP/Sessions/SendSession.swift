import NIOCore

/// The side of a transfer that sends DATA and receives ACKs: the server answering a read request,
/// or the client putting a file. Pure: it is fed packets and clock ticks and returns packets.
///
/// Windowing follows RFC 7440: up to `windowSize` blocks are in flight; an ACK moves the window to
/// the acknowledged block and the next window is sent from there. A duplicate ACK (no progress)
/// never triggers a resend (RFC 1123 4.2.3.1, Sorcerer's Apprentice); only a timeout does.
public struct SendSession<Source: BlockSource>: Sendable {
    enum State: Sendable, Equatable {
        /// Waiting for ACK 0 (server after OACK) or for OACK/ACK 0 (client after WRQ).
        case handshaking(TFTPPacket)
        /// Blocks `acked+1 ... sent` are in flight.
        case sending
        case finished
    }

    public private(set) var parameters: TransferParameters
    public private(set) var stats = TransferStats()
    public private(set) var nextDeadline: NIODeadline?

    private var state: State
    private var source: Source
    private let policy: RetransmitPolicy
    /// Options this client asked for in its WRQ; nil on the server side.
    private let requestedOptions: [TFTPOption]?
    private var acked = 0
    private var sent = 0
    private var finalBlock: Int?
    private var window: CircularBuffer<ByteBuffer> = CircularBuffer(initialCapacity: 16)
    private var attempts = 0

    /// Server side: `optionAck` is the OACK to send first (nil: no options, data starts at once).
    public init(source: Source, parameters: TransferParameters, optionAck: [TFTPOption]?, policy: RetransmitPolicy) {
        self.source = source
        self.parameters = parameters
        self.policy = policy
        self.requestedOptions = nil
        if let optionAck, !optionAck.isEmpty {
            state = .handshaking(.optionAck(optionAck))
        } else {
            state = .sending
        }
    }

    /// Client side: send `request` (a WRQ) and wait for OACK or ACK 0.
    public init(source: Source, writeRequest request: TFTPRequest, policy: RetransmitPolicy) {
        self.source = source
        self.parameters = TransferParameters()
        self.policy = policy
        self.requestedOptions = request.options
        state = .handshaking(.writeRequest(request))
    }

    public var isFinished: Bool { state == .finished }

    public mutating func start(now: NIODeadline) -> SessionAction {
        switch state {
        case .handshaking(let packet):
            nextDeadline = now + policy.delay(afterAttempts: 0)
            return .send([packet])
        case .sending:
            return fillWindow(now: now, resendFrom: nil)
        case .finished:
            return .none
        }
    }

    public mutating func received(_ packet: TFTPPacket, now: NIODeadline) -> SessionAction {
        switch (state, packet) {
        case (.finished, _):
            return .none
        case (.handshaking(.optionAck(let options)), .error(let code, let message))
            where options.contains(where: { $0.name.lowercased() == "tsize" }):
            return finish(.sizeProbe(code: code, message: message))
        case (_, .error(let code, let message)):
            return finish(.peerError(code: code, message: message))
        case (.handshaking, .ack(0)):
            state = .sending
            attempts = 0
            return fillWindow(now: now, resendFrom: nil)
        case (.handshaking, .ack):
            return .none
        case (.handshaking(.writeRequest), .optionAck(let options)):
            switch OptionNegotiation.accept(oack: options, requested: requestedOptions ?? []) {
            case .success(let params):
                parameters = params
                state = .sending
                attempts = 0
                return fillWindow(now: now, resendFrom: nil)
            case .failure(let error):
                return finish(.failed(error.description), send: [.error(.optionRefused, error.description)])
            }
        case (.sending, .ack(let block)):
            return ackReceived(block, now: now)
        case (.sending, .optionAck):
            // A duplicate OACK after we already started: the server missed nothing we can fix.
            return .none
        case (.handshaking, _), (.sending, _):
            return finish(.failed("unexpected \(packet.opcodeName) during a send"),
                          send: [.error(.illegalOperation, "unexpected packet")])
        }
    }

    public mutating func tick(now: NIODeadline) -> SessionAction {
        guard let deadline = nextDeadline, now >= deadline else { return .none }
        switch state {
        case .finished:
            nextDeadline = nil
            return .none
        case .handshaking(let packet):
            attempts += 1
            if attempts > policy.retries { return finish(.timedOut) }
            stats.retransmits += 1
            nextDeadline = now + policy.delay(afterAttempts: attempts)
            return .send([packet])
        case .sending:
            attempts += 1
            if attempts > policy.retries {
                // Everything was sent and only the last ACK is missing: many clients never send it.
                if let finalBlock, sent == finalBlock { return finish(.completedUnconfirmed) }
                return finish(.timedOut, send: [.error(.notDefined, "timed out")])
            }
            stats.retransmits += window.count
            nextDeadline = now + policy.delay(afterAttempts: attempts)
            return .send(windowPackets(from: acked + 1))
        }
    }

    private mutating func ackReceived(_ block: UInt16, now: NIODeadline) -> SessionAction {
        // Map the 16-bit block number onto the window acked...sent (block numbers roll over).
        let delta = Int(block &- wire(acked))
        let absolute = acked + delta
        guard absolute <= sent else { return .none }     // ahead of anything sent: stale or bogus
        guard absolute > acked else { return .none }     // duplicate ACK: never resend on it
        window.removeFirst(absolute - acked)
        acked = absolute
        attempts = 0
        if let finalBlock, acked == finalBlock { return finish(.completed) }
        // An ACK short of the window's end means the receiver lost something after it (RFC 7440):
        // resend what is still outstanding, then continue with new blocks.
        return fillWindow(now: now, resendFrom: absolute < sent ? absolute + 1 : nil)
    }

    private mutating func fillWindow(now: NIODeadline, resendFrom: Int?) -> SessionAction {
        var packets = resendFrom.map { windowPackets(from: $0) } ?? []
        if let resendFrom { stats.retransmits += sent - resendFrom + 1 }
        while finalBlock == nil && sent - acked < parameters.windowSize {
            let payload: ByteBuffer
            do {
                payload = try source.read(upTo: parameters.blockSize)
            } catch {
                return finish(.failed("read error: \(error)"), send: [.error(.notDefined, "read error")])
            }
            sent += 1
            stats.blocks += 1
            stats.bytes += payload.readableBytes
            if payload.readableBytes < parameters.blockSize { finalBlock = sent }
            window.append(payload)
            packets.append(.data(block: wire(sent), payload: payload))
        }
        nextDeadline = now + policy.delay(afterAttempts: 0)
        return packets.isEmpty ? .none : .send(packets)
    }

    private func windowPackets(from first: Int) -> [TFTPPacket] {
        guard first <= sent else { return [] }
        var out: [TFTPPacket] = []
        out.reserveCapacity(sent - first + 1)
        for n in first...sent {
            out.append(.data(block: wire(n), payload: window[window.index(window.startIndex, offsetBy: n - acked - 1)]))
        }
        return out
    }

    private mutating func finish(_ outcome: TransferOutcome, send: [TFTPPacket] = []) -> SessionAction {
        state = .finished
        nextDeadline = nil
        window.removeAll()
        return .finish(outcome, send: send)
    }
}

extension TFTPPacket {
    public var opcodeName: String {
        switch self {
        case .readRequest: "RRQ"
        case .writeRequest: "WRQ"
        case .data: "DATA"
        case .ack: "ACK"
        case .error: "ERROR"
        case .optionAck: "OACK"
        }
    }
}
