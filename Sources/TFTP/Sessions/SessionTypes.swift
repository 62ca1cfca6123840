import NIOCore

/// How a session ended, reported once in the session's log line.
public enum TransferOutcome: Sendable, Equatable {
    case completed
    /// Every block was sent but the final ACK never came: not an error (many ROMs never send it).
    case completedUnconfirmed
    /// The peer sent an ERROR.
    case peerError(code: UInt16, message: String)
    /// The client read the OACK carrying `tsize` and ended the transfer with an ERROR before any
    /// data: UEFI PXE firmware (edk2 `PxeBcTftpGetFileSize`) and Intel PXE ROMs ask a file's size
    /// this way, then ask for the file again. Not a failure.
    case sizeProbe(code: UInt16, message: String)
    case timedOut
    case failed(String)

    public var isSuccess: Bool {
        switch self {
        case .completed, .completedUnconfirmed: true
        case .peerError, .sizeProbe, .timedOut, .failed: false
        }
    }

    /// Neither completed nor a size probe: worth an admin's attention.
    public var isFailure: Bool {
        switch self {
        case .completed, .completedUnconfirmed, .sizeProbe: false
        case .peerError, .timedOut, .failed: true
        }
    }
}

public enum SessionAction: Sendable, Equatable {
    /// Nothing to send.
    case none
    case send([TFTPPacket])
    /// The session is over; send these packets (possibly none) and close.
    case finish(TransferOutcome, send: [TFTPPacket])
    /// Every block is in; make the received file durable now (fsync, then move it into place)
    /// and report back with `committed(now:)` or `commitFailed(_:now:)`. Nothing is sent
    /// before that: the final ACK must never acknowledge bytes that a crash could still lose.
    case commit
    /// The session is over with this outcome; send these packets, then keep the socket until
    /// `until` so that a lost final ACK can be repeated when the peer resends its last block
    /// (RFC 1350 "dallying"). A tick at or after `until` returns `close`.
    case dally(TransferOutcome, send: [TFTPPacket], until: NIODeadline)
    /// Dallying is over: close the socket.
    case close
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

    /// The one rule for server and client alike: the first wait is `timeout` seconds (at least
    /// one), each consecutive timeout doubles it, up to four times the first wait (at least 4 s).
    public static func standard(timeoutSeconds timeout: Int, retries: Int) -> RetransmitPolicy {
        RetransmitPolicy(timeout: .seconds(Int64(max(timeout, 1))), maxTimeout: .seconds(Int64(max(timeout * 4, 4))),
                         retries: retries)
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
