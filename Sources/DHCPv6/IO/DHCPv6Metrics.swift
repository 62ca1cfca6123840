import CoreMetrics
import PXEConfig
import PXEMetrics

/// The metrics of the DHCPv6 engine.
public enum DHCPv6Metrics {
    public static let received = MetricDefinition(
        "pxed_dhcp6_packets_received_total", .counter,
        "DHCPv6 datagrams received, by message type (relay_forward for relayed ones; malformed: too short to have one)",
        labels: ["interface", "type"])
    public static let sent = MetricDefinition(
        "pxed_dhcp6_packets_sent_total", .counter, "DHCPv6 ADVERTISEs and REPLYs handed to the socket", labels: ["interface", "type"])
    public static let ignored = MetricDefinition(
        "pxed_dhcp6_ignored_total", .counter, "DHCPv6 datagrams answered with nothing, by reason", labels: ["interface", "reason"])
    public static let poolSize = MetricDefinition(
        "pxed_dhcp6_pool_size", .gauge, "Addresses in the DHCPv6 range", labels: ["interface", "pool"])
    public static let poolAssigned = MetricDefinition(
        "pxed_dhcp6_pool_assigned", .gauge, "DHCPv6 addresses leased now (active, not expired)", labels: ["interface", "pool"])

    public static let all: [MetricDefinition] = [received, sent, ignored, poolSize, poolAssigned]

    static func typeLabel(_ first: UInt8?) -> String {
        guard let first else { return "malformed" }
        return switch DHCPv6MessageType(rawValue: first) {
        case .solicit: "solicit"
        case .request: "request"
        case .confirm: "confirm"
        case .renew: "renew"
        case .rebind: "rebind"
        case .release: "release"
        case .decline: "decline"
        case .informationRequest: "information_request"
        case .relayForward: "relay_forward"
        default: "other"
        }
    }
}

/// What one DHCPv6 socket's handler records. Lives on its event loop.
struct DHCPv6Recorder {
    private var received: LabeledCounters
    private var sent: LabeledCounters
    private var ignored: LabeledCounters

    init(interface: String, factory: any MetricsFactory) {
        let i = [("interface", interface)]
        received = LabeledCounters(DHCPv6Metrics.received, fixed: i, label: "type", factory: factory)
        sent = LabeledCounters(DHCPv6Metrics.sent, fixed: i, label: "type", factory: factory)
        ignored = LabeledCounters(DHCPv6Metrics.ignored, fixed: i, label: "reason", factory: factory)
    }

    mutating func count(_ bytes: [UInt8], _ outcome: DHCPv6Outcome) {
        received.increment(DHCPv6Metrics.typeLabel(bytes.first))
        if let why = outcome.ignoreCategory { ignored.increment(why) }
    }

    mutating func sent(_ event: DHCPv6Outcome.Event) {
        switch event {
        case .advertised: sent.increment("advertise")
        case .replied: sent.increment("reply")
        case .ignored: break
        }
    }
}

/// How full a DHCPv6 range is.
public struct Pool6Usage: Sendable, Equatable {
    /// `fd00:1::/64`.
    public var pool: String
    /// The range's size (it may exceed any integer a gauge needs, hence Double).
    public var size: Double
    public var assigned: Int
}

extension DHCPv6Server {
    public func poolUsage(now: Double) -> Pool6Usage {
        let s = settings
        let assigned = byAddress.values.filter { $0.isBound(now: now) && s.inRange($0.address) }.count
        var size = 0.0
        for (a, b) in zip(s.rangeStart.bytes, s.rangeEnd.bytes) { size = size * 256 + Double(b) - Double(a) }
        return Pool6Usage(pool: "\(s.prefix)/\(s.prefixLength)", size: size + 1, assigned: assigned)
    }
}
