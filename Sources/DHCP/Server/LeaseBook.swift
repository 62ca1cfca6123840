import PXEConfig

/// The engine's in-memory view of the lease database: the latest record per address, plus an
/// index from client key to the address it last held.
struct LeaseBook: Sendable {
    private(set) var byAddress: [IPv4Address: Lease] = [:]
    private var byKey: [ClientKey: IPv4Address] = [:]

    init(_ leases: [Lease]) {
        for l in leases { byAddress[l.ip] = l }
        // The replayed order may be compaction order, so pick each client's address by expiry
        // (ties: an active record over a released one, then the lower address, so it is deterministic).
        func rank(_ l: Lease) -> (Int64, Int, UInt32) { (l.expiry, l.state == .active ? 1 : 0, ~l.ip.value) }
        for l in byAddress.values where l.state != .declined {
            if let cur = byKey[l.clientKey], let e = byAddress[cur], rank(e) >= rank(l) { continue }
            byKey[l.clientKey] = l.ip
        }
    }

    mutating func record(_ l: Lease) {
        byAddress[l.ip] = l
        switch l.state {
        case .active:
            byKey[l.clientKey] = l.ip
        case .released:
            // Releasing an old address must not hide the client's current binding.
            if let cur = byKey[l.clientKey], cur != l.ip, let e = byAddress[cur], e.clientKey == l.clientKey,
               e.state == .active {
                break
            }
            byKey[l.clientKey] = l.ip
        case .declined:
            if byKey[l.clientKey] == l.ip { byKey[l.clientKey] = nil }
        }
    }

    /// The client's current or most recent address record (active, expired or released).
    func lease(for key: ClientKey) -> Lease? {
        guard let ip = byKey[key], let l = byAddress[ip], l.clientKey == key, l.state != .declined else { return nil }
        return l
    }

    func lease(at ip: IPv4Address) -> Lease? { byAddress[ip] }
}
