/// Counters kept by a `DHCPListener`.
public struct DHCPStats: Sendable, Equatable {
    public var received = 0
    /// Datagrams that did not decode (dropped, never fatal).
    public var malformed = 0
    public var ignored = 0
    public var offers = 0
    public var acks = 0
    public var naks = 0
    public var releases = 0
    public var declines = 0
    public var informs = 0
    public var bootpReplies = 0
    /// Proxy DHCP offers (port 67) and ACKs (4011, or 67 for a REQUEST naming this server).
    public var proxyOffers = 0
    public var proxyAcks = 0
    public var sent = 0
    public var sendErrors = 0
    /// Lease records whose write failed (their replies were not sent).
    public var persistErrors = 0
    /// Unicast-to-yiaddr replies broadcast because the ARP entry could not be added.
    public var arpFallbacks = 0

    public init() {}

    mutating func count(_ event: DHCPEvent) {
        switch event {
        case .offered: offers += 1
        case .acknowledged: acks += 1
        case .negativelyAcknowledged: naks += 1
        case .released: releases += 1
        case .declined: declines += 1
        case .informed: informs += 1
        case .bootpReplied: bootpReplies += 1
        case .proxyOffered: proxyOffers += 1
        case .proxyAcknowledged: proxyAcks += 1
        case .ignored: ignored += 1
        }
    }
}
