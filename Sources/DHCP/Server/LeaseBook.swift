import PXEConfig

/// The engine's in-memory view of the lease database: the latest record per address, plus
/// indexes from client key and from MAC to the address each last held.
struct LeaseBook: Sendable {
    private(set) var byAddress: [IPv4Address: Lease] = [:]
    private var byKey: [ClientKey: IPv4Address] = [:]
    private var byMAC: [MACAddress: IPv4Address] = [:]

    init(_ leases: [Lease]) {
        for var l in leases {
            l.clientKey = l.clientKey.foldingEthernetIdentifier(mac: l.mac)
            byAddress[l.ip] = l
        }
        // The replayed order may be compaction order, so pick each client's address by rank.
        for l in byAddress.values where l.state != .declined {
            if let cur = byKey[l.clientKey], let e = byAddress[cur], Self.rank(e) >= Self.rank(l) {} else {
                byKey[l.clientKey] = l.ip
            }
            if let mac = l.mac {
                if let cur = byMAC[mac], let e = byAddress[cur], Self.rank(e) >= Self.rank(l) {} else { byMAC[mac] = l.ip }
            }
        }
    }

    /// Which of two records of one client is its current one: the later expiry, then an active
    /// record over a released one, then the lower address (so replay is deterministic).
    static func rank(_ l: Lease) -> (Int64, Int, UInt32) { (l.expiry, l.state == .active ? 1 : 0, ~l.ip.value) }

    mutating func record(_ l: Lease) {
        byAddress[l.ip] = l
        Self.index(&byKey, l.clientKey, l, byAddress) { $0.clientKey }
        if let mac = l.mac { Self.index(&byMAC, mac, l, byAddress) { $0.mac } }
    }

    /// Points `index[k]` at `l` unless it is a release that would hide the client's current
    /// binding elsewhere; a decline removes the entry.
    private static func index<K: Hashable>(_ index: inout [K: IPv4Address], _ k: K, _ l: Lease,
                                           _ byAddress: [IPv4Address: Lease], keyOf: (Lease) -> K?)
    {
        switch l.state {
        case .active:
            index[k] = l.ip
        case .released:
            if let cur = index[k], cur != l.ip, let e = byAddress[cur], keyOf(e) == k, e.state == .active { return }
            index[k] = l.ip
        case .declined:
            if index[k] == l.ip { index[k] = nil }
        }
    }

    /// The current or most recent record (active, expired or released) held under exactly `key`.
    func lease(for key: ClientKey) -> Lease? {
        guard let ip = byKey[key], let l = byAddress[ip], l.clientKey == key, l.state != .declined else { return nil }
        return l
    }

    /// The client's current or most recent record under the identity rules: its own key's record
    /// or its MAC's latest record if that is the same client, whichever ranks higher.
    func lease(for client: ClientIdentity) -> Lease? {
        let own = lease(for: client.key)
        guard let mac = client.mac, let ip = byMAC[mac], let l = byAddress[ip], l.mac == mac, l.state != .declined,
              client.owns(l)
        else { return own }
        guard let own else { return l }
        return Self.rank(l) > Self.rank(own) ? l : own
    }

    func lease(at ip: IPv4Address) -> Lease? { byAddress[ip] }
}
