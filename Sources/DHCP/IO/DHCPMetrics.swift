import CoreMetrics
import PXEConfig
import PXEMetrics

/// The metrics of the DHCPv4/BOOTP engine and of the lease file.
public enum DHCPMetrics {
    public static let received = MetricDefinition(
        "pxed_dhcp_packets_received_total", .counter,
        "DHCP and BOOTP datagrams received, by message type (bootrequest: BOOTP; malformed: did not decode)",
        labels: ["interface", "type"])
    public static let sent = MetricDefinition(
        "pxed_dhcp_packets_sent_total", .counter, "DHCP and BOOTP replies handed to the socket, by message type",
        labels: ["interface", "type"])
    public static let naks = MetricDefinition(
        "pxed_dhcp_naks_total", .counter, "DHCPNAKs sent, by reason", labels: ["interface", "reason"])
    public static let ignored = MetricDefinition(
        "pxed_dhcp_ignored_total", .counter, "Requests answered with nothing, by reason", labels: ["interface", "reason"])
    public static let offers = MetricDefinition(
        "pxed_dhcp_offers_total", .counter, "Addresses offered (DHCPOFFER with an address)", labels: ["interface"])
    public static let acks = MetricDefinition(
        "pxed_dhcp_acks_total", .counter, "Leases granted or renewed (DHCPACK with an address), BOOTP replies included",
        labels: ["interface"])
    public static let declines = MetricDefinition(
        "pxed_dhcp_declines_total", .counter, "DHCPDECLINEs accepted (address quarantined)", labels: ["interface"])
    public static let releases = MetricDefinition(
        "pxed_dhcp_releases_total", .counter, "DHCPRELEASEs accepted", labels: ["interface"])
    public static let proxyReplies = MetricDefinition(
        "pxed_dhcp_proxy_replies_total", .counter,
        "Proxy DHCP answers (no address), by port: 67 (offers and ACKs there) or 4011 (the boot server)",
        labels: ["interface", "port"])
    public static let sendErrors = MetricDefinition(
        "pxed_dhcp_send_errors_total", .counter, "Replies the socket refused", labels: ["interface"])
    public static let poolSize = MetricDefinition(
        "pxed_dhcp_pool_size", .gauge, "Addresses in the pool's range", labels: ["interface", "pool"])
    public static let poolAssigned = MetricDefinition(
        "pxed_dhcp_pool_assigned", .gauge, "Addresses of the range leased now (active, not expired)", labels: ["interface", "pool"])
    public static let poolFree = MetricDefinition(
        "pxed_dhcp_pool_free", .gauge, "Addresses of the range neither leased nor quarantined after a DECLINE",
        labels: ["interface", "pool"])

    public static let commits = MetricDefinition(
        "pxed_lease_commits_total", .counter, "Lease file writes (each: one write, one fdatasync; group commit batches replies)")
    public static let recordsCommitted = MetricDefinition(
        "pxed_lease_records_committed_total", .counter, "Lease records made durable (DHCPv4 and DHCPv6)")
    public static let commitErrors = MetricDefinition(
        "pxed_lease_commit_errors_total", .counter, "Lease file writes that failed (their replies were not sent)")
    public static let fsyncDuration = MetricDefinition(
        "pxed_lease_fsync_duration_seconds", .histogram, "Time of one lease file write and its fdatasync",
        buckets: MetricDefinition.shortBuckets)
    public static let compactions = MetricDefinition(
        "pxed_lease_compactions_total", .counter, "Lease file rewrites to one record per address")

    public static let all: [MetricDefinition] = [
        received, sent, naks, ignored, offers, acks, declines, releases, proxyReplies, sendErrors,
        poolSize, poolAssigned, poolFree, commits, recordsCommitted, commitErrors, fsyncDuration, compactions,
    ]

    /// The `type` label of a request or reply.
    static func typeLabel(_ t: DHCPMessageType?, reply: Bool) -> String {
        guard let t else { return reply ? "bootreply" : "bootrequest" }
        return switch t {
        case .discover: "discover"
        case .offer: "offer"
        case .request: "request"
        case .decline: "decline"
        case .ack: "ack"
        case .nak: "nak"
        case .release: "release"
        case .inform: "inform"
        }
    }
}

/// What one DHCP socket's handler records. Lives on that socket's event loop.
struct DHCPRecorder {
    private var received: LabeledCounters
    private var sent: LabeledCounters
    private var naks: LabeledCounters
    private var ignored: LabeledCounters
    private var proxyReplies: LabeledCounters
    private let offers: Counter
    private let acks: Counter
    private let declines: Counter
    private let releases: Counter
    let sendErrors: Counter

    init(interface: String, factory: any MetricsFactory) {
        let i = [("interface", interface)]
        received = LabeledCounters(DHCPMetrics.received, fixed: i, label: "type", factory: factory)
        sent = LabeledCounters(DHCPMetrics.sent, fixed: i, label: "type", factory: factory)
        naks = LabeledCounters(DHCPMetrics.naks, fixed: i, label: "reason", factory: factory)
        ignored = LabeledCounters(DHCPMetrics.ignored, fixed: i, label: "reason", factory: factory)
        proxyReplies = LabeledCounters(DHCPMetrics.proxyReplies, fixed: i, label: "port", factory: factory)
        offers = DHCPMetrics.offers.counter(i, factory: factory)
        acks = DHCPMetrics.acks.counter(i, factory: factory)
        declines = DHCPMetrics.declines.counter(i, factory: factory)
        releases = DHCPMetrics.releases.counter(i, factory: factory)
        sendErrors = DHCPMetrics.sendErrors.counter(i, factory: factory)
    }

    mutating func malformed() { received.increment("malformed") }

    mutating func received(_ m: DHCPMessage) { received.increment(DHCPMetrics.typeLabel(m.options.messageType, reply: false)) }

    mutating func sent(_ reply: DHCPReply) { sent.increment(DHCPMetrics.typeLabel(reply.message.options.messageType, reply: true)) }

    mutating func count(_ event: DHCPEvent, bootServer: Bool) {
        switch event {
        case .offered: offers.increment()
        case .acknowledged, .bootpReplied: acks.increment()
        case .negativelyAcknowledged(_, let why): naks.increment(why.metricLabel)
        case .released: releases.increment()
        case .declined: declines.increment()
        case .informed: break
        case .proxyOffered, .proxyAcknowledged: proxyReplies.increment(bootServer ? "4011" : "67")
        case .ignored(let why): ignored.increment(why.metricLabel)
        }
    }
}

extension NakReason {
    /// A fixed, address-free label value.
    public var metricLabel: String {
        switch self {
        case .wrongNetwork: "wrong_network"
        case .outsideRange: "outside_range"
        case .clientHasReservation: "client_has_reservation"
        case .reservedForAnotherClient: "reserved_for_another_client"
        case .inUse: "in_use"
        case .quarantined: "quarantined"
        case .claimedElsewhere: "claimed_elsewhere"
        case .invalidAddress: "invalid_address"
        }
    }
}

extension IgnoreReason {
    /// A fixed, address-free label value.
    public var metricLabel: String {
        switch self {
        case .notARequest: "not_a_request"
        case .unknownMessageType: "unknown_message_type"
        case .serverMessage: "server_message"
        case .dhcpDisabled: "dhcp_disabled"
        case .bootpDisabled: "bootp_disabled"
        case .noPoolForRelay: "no_pool_for_relay"
        case .notNetworkBootClient: "not_network_boot_client"
        case .poolExhausted: "pool_exhausted"
        case .otherServerSelected: "other_server_selected"
        case .notForThisServer: "not_for_this_server"
        case .missingAddress: "missing_address"
        case .notAuthoritative: "not_authoritative"
        case .noMatchingLease: "no_matching_lease"
        case .unknownBOOTPClient: "unknown_bootp_client"
        case .reservationNotOnNetwork: "reservation_not_on_network"
        case .noHardwareAddress: "no_hardware_address"
        case .notForProxy: "not_for_proxy"
        case .noBootFile: "no_boot_file"
        case .leaseStoreUnavailable: "lease_store_unavailable"
        }
    }
}

/// How full one pool is: for the pool gauges and `pxed status`.
public struct PoolUsage: Sendable, Equatable {
    /// The pool's subnet, `10.0.0.0/24`.
    public var pool: String
    public var rangeStart: IPv4Address
    public var rangeEnd: IPv4Address
    public var size: Int
    /// Active, unexpired leases inside the range.
    public var assigned: Int
    /// Declined and still quarantined, inside the range.
    public var quarantined: Int
    /// Offers held for clients, inside the range.
    public var offered: Int
    public var free: Int { max(0, size - assigned - quarantined) }
}

extension DHCPServer {
    /// Usage of the interface pool and each relay pool (none in proxy or BOOTP-only mode).
    public func poolUsage(now: Double) -> [PoolUsage] {
        guard let main = settings.pool else { return [] }
        let pools = [main] + main.relayPools
        var usage = pools.map { p in
            PoolUsage(pool: "\(p.subnet.network)/\(p.subnet.prefixLength)", rangeStart: p.rangeStart, rangeEnd: p.rangeEnd,
                      size: Int(p.rangeEnd.value) - Int(p.rangeStart.value) + 1, assigned: 0, quarantined: 0, offered: 0)
        }
        func slot(_ ip: IPv4Address) -> Int? {
            usage.firstIndex { ip.value >= $0.rangeStart.value && ip.value <= $0.rangeEnd.value }
        }
        for l in book.byAddress.values {
            guard let i = slot(l.ip) else { continue }
            if l.isBound(now: now) { usage[i].assigned += 1 } else if l.isQuarantined(now: now) { usage[i].quarantined += 1 }
        }
        for (ip, o) in offers where o.expires > now {
            if let i = slot(ip) { usage[i].offered += 1 }
        }
        return usage
    }
}
