import PXEConfig

/// The engine's in-memory view of the lease database: the latest record per address, plus
/// indexes from client key and from MAC to the address each last held.
struct LeaseBook: Sendable {
    private(set) var byAddress: [IPv4Address: Lease] = [:]
    private var byKey: [ClientKey: IPv4Address] = [:]
    private var byMAC: [MACAddress: IPv4Address] = [:]
    /// Which addresses have a record, 64 to a word (key: address >> 6): finding a never-used
    /// address skips a whole word of used ones at a time, so a pool that is nearly all leased
    /// does not cost a probe per leased address on every DISCOVER.
    private var recorded: [UInt32: UInt64] = [:]

    init(_ leases: [Lease]) {
        for var l in leases {
            l.clientKey = l.clientKey.foldingEthernetIdentifier(mac: l.mac)
            byAddress[l.ip] = l
            markRecorded(l.ip)
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

    private mutating func markRecorded(_ ip: IPv4Address) {
        recorded[ip.value >> 6, default: 0] |= 1 << UInt64(ip.value & 63)
    }

    /// The first address of `start...end` with no record that `usable` accepts, searching from
    /// `from` to `end`, then from `start`; nil when there is none.
    func firstUnrecorded(_ start: UInt32, _ end: UInt32, from: UInt32, usable: (UInt32) -> Bool) -> UInt32? {
        func search(_ a: UInt32, _ b: UInt32) -> UInt32? {
            var p = UInt64(a)
            let last = UInt64(b)
            while p <= last {
                let word = recorded[UInt32(p >> 6)] ?? 0
                let free = ~word & (~UInt64(0) << (p & 63))
                if free == 0 {
                    p = (p | 63) + 1
                    continue
                }
                let candidate = (p & ~63) + UInt64(free.trailingZeroBitCount)
                if candidate > last { return nil }
                if usable(UInt32(candidate)) { return UInt32(candidate) }
                p = candidate + 1
            }
            return nil
        }
        guard start <= end else { return nil }
        let origin = min(max(from, start), end)
        return search(origin, end) ?? (origin > start ? search(start, origin - 1) : nil)
    }

    mutating func record(_ l: Lease) {
        markRecorded(l.ip)
        byAddress[l.ip] = l
        Self.index(&byKey, l.clientKey, l, byAddress) { $0.clientKey }
        if let mac = l.mac { Self.index(&byMAC, mac, l, byAddress) { $0.mac } }
    }

    /// Drops the record on `ip` (a claim that was never persisted), and the client indexes
    /// pointing at it.
    mutating func forget(_ ip: IPv4Address) {
        guard let l = byAddress.removeValue(forKey: ip) else { return }
        if byKey[l.clientKey] == ip { byKey[l.clientKey] = nil }
        if let mac = l.mac, byMAC[mac] == ip { byMAC[mac] = nil }
        recorded[ip.value >> 6, default: 0] &= ~(1 << UInt64(ip.value & 63))
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
