import CoreMetrics
import NIOCore
import PXEMetrics

/// The metrics of a TFTP server engine.
public enum TFTPMetrics {
    public static let started = MetricDefinition(
        "pxed_tftp_transfers_started_total", .counter, "TFTP transfers admitted and started", labels: ["interface"])
    public static let ended = MetricDefinition(
        "pxed_tftp_transfers_total", .counter,
        "TFTP transfers ended, by outcome: completed, size_probe (the client read tsize and stopped), timed_out, client_error, failed",
        labels: ["interface", "outcome"])
    public static let bytes = MetricDefinition(
        "pxed_tftp_bytes_total", .counter, "File bytes moved by TFTP transfers: sent (reads) or received (uploads)",
        labels: ["interface", "direction"])
    public static let retransmits = MetricDefinition(
        "pxed_tftp_retransmits_total", .counter, "Blocks or ACKs sent again after a timeout", labels: ["interface"])
    public static let active = MetricDefinition(
        "pxed_tftp_transfers_active", .gauge, "TFTP transfers running now", labels: ["interface"])
    public static let duration = MetricDefinition(
        "pxed_tftp_transfer_duration_seconds", .histogram, "Time of completed TFTP transfers, request to last ACK",
        labels: ["interface"], buckets: MetricDefinition.transferBuckets)
    public static let refused = MetricDefinition(
        "pxed_tftp_sessions_refused_total", .counter,
        "TFTP requests refused: busy (session table full, nothing to evict), path (outside the root, missing, denied), error (no port or runner thread)",
        labels: ["interface", "reason"])
    public static let evicted = MetricDefinition(
        "pxed_tftp_sessions_evicted_total", .counter,
        "TFTP transfers closed to make room for a new request (stalled before any progress)", labels: ["interface"])
    public static let malformed = MetricDefinition(
        "pxed_tftp_malformed_requests_total", .counter, "Datagrams on the TFTP port that did not decode", labels: ["interface"])

    public static let all: [MetricDefinition] = [started, ended, bytes, retransmits, active, duration, refused, evicted, malformed]

    static let outcomes = ["completed", "size_probe", "timed_out", "client_error", "failed"]

    static func outcomeLabel(_ o: TransferOutcome) -> String {
        switch o {
        case .completed, .completedUnconfirmed: "completed"
        case .sizeProbe: "size_probe"
        case .timedOut: "timed_out"
        case .peerError: "client_error"
        case .failed: "failed"
        }
    }
}

/// The handles one TFTP server records to; fixed label sets, so any thread may use them.
struct TFTPRecorder: Sendable {
    let started: Counter
    let ended: [String: Counter]
    let sent: Counter
    let received: Counter
    let retransmits: Counter
    let duration: Timer
    let refusedBusy: Counter
    let refusedPath: Counter
    let refusedError: Counter
    let evicted: Counter
    let malformed: Counter

    init(labels: [(String, String)], factory: any MetricsFactory) {
        started = TFTPMetrics.started.counter(labels, factory: factory)
        ended = Dictionary(uniqueKeysWithValues: TFTPMetrics.outcomes.map {
            ($0, TFTPMetrics.ended.counter(labels + [("outcome", $0)], factory: factory))
        })
        sent = TFTPMetrics.bytes.counter(labels + [("direction", "sent")], factory: factory)
        received = TFTPMetrics.bytes.counter(labels + [("direction", "received")], factory: factory)
        retransmits = TFTPMetrics.retransmits.counter(labels, factory: factory)
        duration = TFTPMetrics.duration.timer(labels, factory: factory)
        refusedBusy = TFTPMetrics.refused.counter(labels + [("reason", "busy")], factory: factory)
        refusedPath = TFTPMetrics.refused.counter(labels + [("reason", "path")], factory: factory)
        refusedError = TFTPMetrics.refused.counter(labels + [("reason", "error")], factory: factory)
        evicted = TFTPMetrics.evicted.counter(labels, factory: factory)
        malformed = TFTPMetrics.malformed.counter(labels, factory: factory)
    }

    func record(_ r: TransferRecord) {
        ended[TFTPMetrics.outcomeLabel(r.outcome)]?.increment()
        (r.isRead ? sent : received).increment(by: r.bytes)
        retransmits.increment(by: r.retransmits)
        if r.outcome.isSuccess { duration.recordNanoseconds(r.duration.nanoseconds) }
    }
}

/// A transfer in flight, for `pxed status`.
public struct ActiveTransfer: Sendable, Equatable {
    /// `10.0.0.5:2001` or `[fd00::5]:2001`.
    public var client: String
    public var filename: String
    public var isRead: Bool
    /// Bytes moved so far (nil where the engine cannot tell: an HTTP body is in the kernel's hands).
    public var bytes: Int?
    /// The file's size when known (reads).
    public var size: Int?
    public var seconds: Double
    public var blockSize: Int?
    public var windowSize: Int?

    public init(client: String, filename: String, isRead: Bool, bytes: Int?, size: Int?, seconds: Double,
                blockSize: Int? = nil, windowSize: Int? = nil) {
        self.client = client
        self.filename = filename
        self.isRead = isRead
        self.bytes = bytes
        self.size = size
        self.seconds = seconds
        self.blockSize = blockSize
        self.windowSize = windowSize
    }
}
