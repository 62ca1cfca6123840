import NIOCore

/// Which requests a TFTP server takes, and the server's counters. Pure: fed events (a request
/// arrived, a transfer socket opened, a transfer made progress, a transfer ended) with the time,
/// it returns what to do; the I/O layer opens sockets and ends evicted transfers.
///
/// The table counts transfers being opened and running against `maxSessions`. When it is full,
/// the oldest running transfer that never saw an ACK or DATA from its client is evicted to make
/// room: a flood of abandoned requests (spoofed sources, scanners, clients that died) cannot
/// lock real clients out, while a transfer that is moving is never touched.
public struct TFTPAdmission: Sendable {
    /// A transfer's key in the table, handed out at admission.
    public struct SessionID: Hashable, Sendable, Comparable, CustomStringConvertible {
        public let value: Int
        public static func < (a: SessionID, b: SessionID) -> Bool { a.value < b.value }
        public var description: String { "#\(value)" }
    }

    /// The local ports a transfer socket may take, in the order to try them.
    public enum Ports: Sendable, Equatable {
        /// Any ephemeral port.
        case ephemeral
        /// Ports of `range`, from `first` round to the one before it: a port still held by a
        /// closing transfer (or another program) must not cost the client its transfer.
        case range(ClosedRange<Int>, first: Int)

        public var candidates: [Int] {
            switch self {
            case .ephemeral:
                return [0]
            case .range(let range, let first):
                return (0..<range.count).map { range.lowerBound + (first - range.lowerBound + $0) % range.count }
            }
        }
    }

    public enum Decision: Sendable, Equatable {
        /// Open a transfer socket on one of `ports`, then report `opened` or `openFailed`. When
        /// `evicting` is set, end that transfer first: its place in the table is now this one's.
        case admit(SessionID, ports: Ports, evicting: SessionID?)
        /// Answer the request with this ERROR and do nothing more.
        case refuse(TFTPPacket)
    }

    /// How a transfer ended, for the counters.
    public enum Ending: Sendable, Equatable {
        case completed(bytes: Int)
        case failed(bytes: Int)
        /// A size probe (`TransferOutcome.sizeProbe`): the client learned tsize and stopped.
        case probed
        /// The request was refused after admission (the jail said no): no transfer ran.
        case refused
        /// No socket or thread could be had for it.
        case abandoned
    }

    private enum Phase: Sendable, Equatable {
        case opening
        case running(progressed: Bool, since: NIODeadline)
    }

    public var maxSessions: Int
    public var portRange: ClosedRange<Int>?
    public private(set) var accepting = true
    public private(set) var stats = TFTPServerStats()
    private var table: [SessionID: Phase] = [:]
    private var nextID = 0
    private var nextPort = 0
    /// Entries of `table` that are running (kept, not counted per event: the table can be large).
    private var runningCount = 0

    public init(maxSessions: Int, portRange: ClosedRange<Int>? = nil) {
        self.maxSessions = maxSessions
        self.portRange = portRange
    }

    /// Transfers running now (those still being opened excluded).
    public var running: [SessionID] {
        table.compactMap { if case .running = $0.value { $0.key } else { nil } }.sorted()
    }

    public var isEmpty: Bool { table.isEmpty }

    /// A datagram on the listener that is not a request we can parse.
    public mutating func malformedRequest() {
        stats.malformed += 1
    }

    /// A read or write request arrived.
    public mutating func requestReceived(now: NIODeadline) -> Decision {
        guard accepting else { return .refuse(.error(.notDefined, "server shutting down")) }
        var victim: SessionID?
        if table.count >= maxSessions {
            victim = table.compactMap { entry -> (SessionID, NIODeadline)? in
                guard case .running(false, let since) = entry.value else { return nil }
                return (entry.key, since)
            }.min { ($0.1, $0.0) < ($1.1, $1.0) }?.0
            guard let victim else {
                stats.refused += 1
                return .refuse(.error(.notDefined, "server busy"))
            }
            table[victim] = nil
            runningCount -= 1
            stats.evicted += 1
            stats.active = runningCount
        }
        var ports = Ports.ephemeral
        if let range = portRange {
            ports = .range(range, first: range.lowerBound + nextPort % range.count)
            nextPort &+= 1
        }
        let id = SessionID(value: nextID)
        nextID &+= 1
        table[id] = .opening
        return .admit(id, ports: ports, evicting: victim)
    }

    /// The transfer's socket is open and its thread about to run. False when the server stopped
    /// meanwhile (or the entry is gone): close the socket and drop the transfer.
    public mutating func opened(_ id: SessionID, now: NIODeadline) -> Bool {
        guard accepting, table[id] == .opening else {
            table[id] = nil
            return false
        }
        table[id] = .running(progressed: false, since: now)
        runningCount += 1
        stats.started += 1
        stats.active = runningCount
        return true
    }

    /// Whether a packet from the client shows its transfer is alive (then it is never evicted):
    /// an ACK or DATA does; an ERROR or a repeated request does not.
    public static func showsProgress(_ packet: TFTPPacket) -> Bool {
        switch packet {
        case .ack, .data: true
        case .readRequest, .writeRequest, .optionAck, .error: false
        }
    }

    /// The client acknowledged or sent data for the first time: never evict this transfer.
    public mutating func progressed(_ id: SessionID) {
        guard case .running(false, let since) = table[id] else { return }
        table[id] = .running(progressed: true, since: since)
    }

    /// The transfer is over (or never got going).
    public mutating func ended(_ id: SessionID, _ ending: Ending) {
        let wasRunning: Bool
        switch table.removeValue(forKey: id) {
        case .running: wasRunning = true; runningCount -= 1
        case .opening: wasRunning = false
        case nil: wasRunning = false   // evicted earlier: counted then, its ending still counts below
        }
        switch ending {
        case .completed(let bytes):
            stats.completed += 1
            stats.bytesServed += bytes
        case .failed(let bytes):
            stats.failed += 1
            stats.bytesServed += bytes
        case .probed:
            stats.probed += 1
        case .refused:
            stats.refused += 1
        case .abandoned:
            if wasRunning { stats.failed += 1 }
        }
        stats.active = runningCount
    }

    /// Take no more requests (server stopping); transfers in the table carry on until they end.
    public mutating func stopAccepting() {
        accepting = false
    }
}

/// Counters a server keeps for SIGUSR1, the engine's counters and the benchmarks.
public struct TFTPServerStats: Sendable, Equatable {
    public var active = 0
    public var started = 0
    public var completed = 0
    public var failed = 0
    /// Transfers that were size probes (counted in neither `completed` nor `failed`).
    public var probed = 0
    public var refused = 0
    public var evicted = 0
    public var bytesServed = 0
    public var malformed = 0
    public init() {}
}
