import CoreMetrics

/// One metric pxed exports: its Prometheus name, kind, help text, label names and (histograms)
/// buckets. The engines record through swift-metrics handles made from these; the daemon's
/// factory (swift-prometheus underneath) reads the same definitions for `# HELP` and buckets, and
/// the README's table is checked against the full list.
public struct MetricDefinition: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable { case counter, gauge, histogram }

    public let name: String
    public let kind: Kind
    public let help: String
    public let labels: [String]
    /// Histogram bucket upper bounds, in seconds.
    public let buckets: [Double]

    public init(_ name: String, _ kind: Kind, _ help: String, labels: [String] = [], buckets: [Double] = []) {
        self.name = name
        self.kind = kind
        self.help = help
        self.labels = labels
        self.buckets = buckets
    }

    public func counter(_ labels: [(String, String)] = [], factory: any MetricsFactory) -> Counter {
        Counter(label: name, dimensions: labels, factory: factory)
    }

    /// A gauge: set, or moved up and down.
    public func gauge(_ labels: [(String, String)] = [], factory: any MetricsFactory) -> Meter {
        Meter(label: name, dimensions: labels, factory: factory)
    }

    /// A duration histogram.
    public func timer(_ labels: [(String, String)] = [], factory: any MetricsFactory) -> Timer {
        Timer(label: name, dimensions: labels, factory: factory)
    }

    /// Buckets for short waits (an fdatasync, a DHCP exchange): 100 µs to 2.5 s.
    public static let shortBuckets: [Double] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]
    /// Buckets for file transfers: 10 ms to 10 minutes.
    public static let transferBuckets: [Double] = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600]
}

/// Counters keyed by one label value (a message type, a reason), made on first use. For one
/// event loop or thread at a time: not locked.
public struct LabeledCounters {
    private let definition: MetricDefinition
    private let fixed: [(String, String)]
    private let label: String
    private let factory: any MetricsFactory
    private var made: [String: Counter] = [:]

    /// `fixed` are the labels every series has (the interface); `label` names the varying one.
    public init(_ definition: MetricDefinition, fixed: [(String, String)], label: String, factory: any MetricsFactory) {
        self.definition = definition
        self.fixed = fixed
        self.label = label
        self.factory = factory
    }

    public mutating func increment(_ value: String, by amount: Int = 1) {
        if let c = made[value] { c.increment(by: amount); return }
        let c = definition.counter(fixed + [(label, value)], factory: factory)
        made[value] = c
        c.increment(by: amount)
    }
}
