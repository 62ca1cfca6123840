import NIOCore

/// The side of a transfer that receives DATA and sends ACKs: the server taking a write request,
/// or the client getting a file. Pure: fed packets and ticks, returns packets.
///
/// With a window (RFC 7440) it ACKs every `windowSize` blocks, and at the first gap it ACKs the
/// last block received in order so the sender restarts from there. On a timeout it repeats its
/// last ACK (or its request, before anything arrived).
public struct ReceiveSession<Sink: BlockSink>: Sendable {
    enum State: Sendable, Equatable {
        /// Request (client RRQ) or first reply (server OACK / ACK 0) sent; waiting for data.
        case handshaking(TFTPPacket)
        case receiving
        /// The last block is in and the sink finished; waiting for the I/O to make it durable.
        case committing(finalAck: TFTPPacket)
        /// Over, but repeating the final ACK to a resent last block until the deadline.
        case dallying(finalAck: TFTPPacket)
        case finished
    }

    public private(set) var parameters: TransferParameters
    public private(set) var stats = TransferStats()
    public private(set) var nextDeadline: NIODeadline?
    public private(set) var sink: Sink

    private var state: State
    private let policy: RetransmitPolicy
    private let requestedOptions: [TFTPOption]?
    /// Absolute number of the next block expected.
    private var expected = 1
    private var lastAck: TFTPPacket = .ack(block: 0)
    private var sinceAck = 0
    private var gapReported = false
    private var attempts = 0
    private let completion: ReceiveCompletion

    /// Server side: answer a WRQ with `optionAck` (or ACK 0 when nil) and take the data.
    public init(sink: Sink, parameters: TransferParameters, optionAck: [TFTPOption]?, policy: RetransmitPolicy,
                completion: ReceiveCompletion = .immediate) {
        self.sink = sink
        self.parameters = parameters
        self.policy = policy
        self.requestedOptions = nil
        self.completion = completion
        if let optionAck, !optionAck.isEmpty {
            state = .handshaking(.optionAck(optionAck))
        } else {
            state = .handshaking(.ack(block: 0))
        }
    }

    /// Client side: send the RRQ and take what comes back (OACK, or DATA 1 from a server that
    /// ignored the options).
    public init(sink: Sink, readRequest request: TFTPRequest, policy: RetransmitPolicy) {
        self.sink = sink
        self.parameters = TransferParameters()
        self.policy = policy
        self.requestedOptions = request.options
        self.completion = .immediate
        state = .handshaking(.readRequest(request))
    }

    /// True once the outcome is settled (dallying included).
    public var isFinished: Bool {
        switch state {
        case .finished, .dallying: true
        case .handshaking, .receiving, .committing: false
        }
    }

    public mutating func start(now: NIODeadline) -> SessionAction {
        guard case .handshaking(let packet) = state else { return .none }
        nextDeadline = now + policy.delay(afterAttempts: 0)
        return .send([packet])
    }

    public mutating func received(_ packet: TFTPPacket, now: NIODeadline) -> SessionAction {
        switch (state, packet) {
        case (.finished, _), (.committing, _):
            return .none
        case (.dallying(let finalAck), .data):
            // Our final ACK was lost and the client resent its last block: say it again.
            return .send([finalAck])
        case (.dallying, _):
            return .none
        case (_, .error(let code, let message)):
            return finish(.peerError(code: code, message: message))
        case (.handshaking(.readRequest), .optionAck(let options)):
            switch OptionNegotiation.accept(oack: options, requested: requestedOptions ?? []) {
            case .success(let params):
                parameters = params
                state = .receiving
                attempts = 0
                lastAck = .ack(block: 0)
                nextDeadline = now + policy.delay(afterAttempts: 0)
                return .send([lastAck])
            case .failure(let error):
                return finish(.failed(error.description), send: [.error(.optionRefused, error.description)])
            }
        case (.receiving, .optionAck):
            // Our ACK 0 was lost and the server repeated its OACK.
            return expected == 1 ? .send([lastAck]) : .none
        case (.handshaking, .data), (.receiving, .data):
            state = .receiving
            guard case .data(let block, let payload) = packet else { return .none }
            return dataReceived(block, payload, now: now)
        case (.handshaking, _), (.receiving, _):
            return finish(.failed("unexpected \(packet.opcodeName) during a receive"),
                          send: [.error(.illegalOperation, "unexpected packet")])
        }
    }

    public mutating func tick(now: NIODeadline) -> SessionAction {
        guard let deadline = nextDeadline, now >= deadline else { return .none }
        attempts += 1
        switch state {
        case .finished, .committing:
            nextDeadline = nil
            return .none
        case .dallying:
            state = .finished
            nextDeadline = nil
            return .close
        case .handshaking(let packet):
            if attempts > policy.retries { return finish(.timedOut) }
            stats.retransmits += 1
            nextDeadline = now + policy.delay(afterAttempts: attempts)
            return .send([packet])
        case .receiving:
            if attempts > policy.retries { return finish(.timedOut, send: [.error(.notDefined, "timed out")]) }
            stats.retransmits += 1
            lastAck = .ack(block: wire(expected - 1))
            sinceAck = 0
            gapReported = false
            nextDeadline = now + policy.delay(afterAttempts: attempts)
            return .send([lastAck])
        }
    }

    private mutating func dataReceived(_ block: UInt16, _ payload: ByteBuffer, now: NIODeadline) -> SessionAction {
        let delta = Int16(bitPattern: block &- wire(expected))
        if delta > 0 {
            // A gap: something before this block was lost. Say once where we are.
            if gapReported { return .none }
            gapReported = true
            sinceAck = 0
            lastAck = .ack(block: wire(expected - 1))
            return .send([lastAck])
        }
        if delta < 0 {
            // A block we already have: the sender missed our ACK. Repeat it once per resent window,
            // when the resend reaches the block we last acknowledged.
            if case .ack(let acked) = lastAck, acked == block { return .send([lastAck]) }
            return .none
        }
        guard payload.readableBytes <= parameters.blockSize else {
            return finish(.failed("block \(block) larger than blksize"), send: [.error(.illegalOperation, "block too large")])
        }
        do {
            try sink.write(payload)
        } catch {
            return finish(.failed("write error: \(error)"), send: [.error(.diskFull, "write failed")])
        }
        stats.blocks += 1
        stats.bytes += payload.readableBytes
        attempts = 0
        gapReported = false
        expected += 1
        sinceAck += 1
        if payload.readableBytes < parameters.blockSize {
            do {
                try sink.finish()
            } catch {
                return finish(.failed("write error: \(error)"), send: [.error(.diskFull, "write failed")])
            }
            lastAck = .ack(block: block)
            guard case .commitThenDally = completion else { return finish(.completed, send: [lastAck]) }
            state = .committing(finalAck: lastAck)
            nextDeadline = nil
            return .commit
        }
        nextDeadline = now + policy.delay(afterAttempts: 0)
        if sinceAck >= parameters.windowSize {
            sinceAck = 0
            lastAck = .ack(block: block)
            return .send([lastAck])
        }
        return .none
    }

    /// The file is durable: send the final ACK, then dally (or finish when there is no dally time).
    public mutating func committed(now: NIODeadline) -> SessionAction {
        guard case .committing(let finalAck) = state, case .commitThenDally(let dally) = completion else { return .none }
        guard dally > .zero else { return finish(.completed, send: [finalAck]) }
        state = .dallying(finalAck: finalAck)
        nextDeadline = now + dally
        return .dally(.completed, send: [finalAck], until: now + dally)
    }

    /// The file could not be made durable: the client must not get its final ACK; tell it why.
    public mutating func commitFailed(code: TFTPErrorCode, message: String, now: NIODeadline) -> SessionAction {
        guard case .committing = state else { return .none }
        return finish(.failed(message), send: [.error(code, message)])
    }

    private mutating func finish(_ outcome: TransferOutcome, send: [TFTPPacket] = []) -> SessionAction {
        state = .finished
        nextDeadline = nil
        return .finish(outcome, send: send)
    }
}

/// What a receiving session does once the last block is in.
public enum ReceiveCompletion: Sendable, Equatable {
    /// Send the final ACK and finish at once (the client getting a file).
    case immediate
    /// The server taking an upload: ask the I/O to commit the file first (`SessionAction.commit`),
    /// send the final ACK only once it is durable, then dally for this long to repeat that ACK.
    case commitThenDally(TimeAmount)
}
