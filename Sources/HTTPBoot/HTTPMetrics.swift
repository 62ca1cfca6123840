import CoreMetrics
import PXEMetrics

/// The metrics of an HTTP boot server engine.
public enum HTTPMetrics {
    public static let requests = MetricDefinition(
        "pxed_http_requests_total", .counter, "HTTP requests answered, by status code", labels: ["interface", "code"])
    public static let started = MetricDefinition(
        "pxed_http_transfers_started_total", .counter, "HTTP file bodies started (200 and 206 responses to GET)",
        labels: ["interface"])
    public static let ended = MetricDefinition(
        "pxed_http_transfers_total", .counter,
        "HTTP file bodies ended, by outcome: completed, or aborted (the connection failed or closed first)",
        labels: ["interface", "outcome"])
    public static let bytes = MetricDefinition(
        "pxed_http_bytes_sent_total", .counter, "File bytes of completed HTTP transfers", labels: ["interface"])
    public static let active = MetricDefinition(
        "pxed_http_transfers_active", .gauge, "HTTP file bodies being sent now", labels: ["interface"])
    public static let connections = MetricDefinition(
        "pxed_http_connections_active", .gauge, "HTTP connections open now", labels: ["interface"])
    public static let refused = MetricDefinition(
        "pxed_http_connections_refused_total", .counter, "HTTP connections closed at once because max-connections were open",
        labels: ["interface"])
    public static let duration = MetricDefinition(
        "pxed_http_transfer_duration_seconds", .histogram, "Time of completed HTTP file transfers, request to last byte written",
        labels: ["interface"], buckets: MetricDefinition.transferBuckets)

    public static let all: [MetricDefinition] = [requests, started, ended, bytes, active, connections, refused, duration]

    static let codes = [200, 206, 304, 400, 403, 404, 405, 416, 500]
}

/// The handles one HTTP server records to; fixed label sets, so any event loop may use them.
struct HTTPRecorder: Sendable {
    let requests: [Int: Counter]
    let otherCode: Counter
    let started: Counter
    let completed: Counter
    let aborted: Counter
    let bytes: Counter
    let active: Meter
    let connections: Meter
    let refused: Counter
    let duration: Timer

    init(labels: [(String, String)], factory: any MetricsFactory) {
        requests = Dictionary(uniqueKeysWithValues: HTTPMetrics.codes.map {
            ($0, HTTPMetrics.requests.counter(labels + [("code", String($0))], factory: factory))
        })
        otherCode = HTTPMetrics.requests.counter(labels + [("code", "other")], factory: factory)
        started = HTTPMetrics.started.counter(labels, factory: factory)
        completed = HTTPMetrics.ended.counter(labels + [("outcome", "completed")], factory: factory)
        aborted = HTTPMetrics.ended.counter(labels + [("outcome", "aborted")], factory: factory)
        bytes = HTTPMetrics.bytes.counter(labels, factory: factory)
        active = HTTPMetrics.active.gauge(labels, factory: factory)
        connections = HTTPMetrics.connections.gauge(labels, factory: factory)
        refused = HTTPMetrics.refused.counter(labels, factory: factory)
        duration = HTTPMetrics.duration.timer(labels, factory: factory)
    }

    func answered(_ code: Int) { (requests[code] ?? otherCode).increment() }
}
