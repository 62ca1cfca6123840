import PXEConfig

/// One DHCPv6 binding: an address leased to (client DUID, IAID). It lives in the same lease file
/// as the DHCPv4 records (`LeaseJournal`), written and fsynced by the same `LeaseStore`.
public struct Lease6: Sendable, Equatable {
    public typealias State = LeaseState
    public var duid: [UInt8]
    public var iaid: UInt32
    public var address: IPv6Address
    /// Unix seconds.
    public var expiry: Int64
    public var state: LeaseState

    public init(duid: [UInt8], iaid: UInt32, address: IPv6Address, expiry: Int64, state: LeaseState) {
        self.duid = duid
        self.iaid = iaid
        self.address = address
        self.expiry = expiry
        self.state = state
    }

    public func isBound(now: Double) -> Bool { state == .active && Double(expiry) > now }
}
