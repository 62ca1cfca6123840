import NIOCore

/// How a session ended, reported once in the session's log line.
public enum TransferOutcome: Sendable, Equatable {
    case completed
    /// Every block was sent but the final ACK never came: not an error (many ROMs never send it).
    case completedUnconfirmed
    /// The peer sent an ERROR (code 8 after a tsize probe is normal PXE behaviour).
    case peerError(code: UInt16, message: String)
    case timedOut
    case failed(String)

    public var isSuccess: Bool {
        switch self {
        case .completed, .completedUnconfirmed: true
        case .peerError, .timedOut, .failed: false
        }
    }
}

public enum SessionAction: Sendable, Equatable {
    /// Nothing to send.
    case none
    case send([TFTPPacket])
    /// The session is over; send these packets (possibly none) and close.
    case finish(TransferOutcome, send: [TFTPPacket])
}

/// Retransmission timing: a deadline per wait, doubled on each consecutive timeout up to `maxTimeout`.
public struct RetransmitPolicy: Sendable, Equatable {
    public var timeout: TimeAmount
    public var maxTimeout: TimeAmount
    public var retries: Int

    public init(timeout: TimeAmount = .seconds(1), maxTimeout: TimeAmount = .seconds(8), retries: Int = 5) {
        self.timeout = timeout
        self.maxTimeout = max(maxTimeout, timeout)
        self.retries = retries
    }

    func delay(afterAttempts attempts: Int) -> TimeAmount {
        var d = timeout.nanoseconds
        for _ in 0..<min(attempts, 16) { d = min(d * 2, maxTimeout.nanoseconds) }
        return .nanoseconds(d)
    }
}

/// Running figures a session keeps for its log line and the daemon's counters.
public struct TransferStats: Sendable, Equatable {
    public var bytes: Int = 0
    public var blocks: Int = 0
    public var retransmits: Int = 0
    public init() {}
}

@inline(__always) func wire(_ absolute: Int) -> UInt16 { UInt16(truncatingIfNeeded: absolute) }
