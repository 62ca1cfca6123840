import PXEConfig

extension DHCPServer {
    /// Unix seconds as an integer, never trapping on absurd clock values.
    static func seconds(_ t: Double) -> Int64 {
        guard t.isFinite, abs(t) < 1e15 else { return 0 }
        return Int64(t.rounded(.down))
    }

    /// The pool's lease time as option 51 carries it (0xFFFFFFFF would mean infinite).
    func leaseSeconds(_ r: Request) -> UInt32 {
        if let left = r.remainingSeconds { return left }
        return UInt32(clamping: max(1, min(r.pool.leaseTime, 0xFFFF_FFFE)))
    }

    /// A configured duration as whole seconds, clamped to 0…10^9.
    static func wholeSeconds(_ d: Double) -> Int64 {
        guard d.isFinite, d > 0 else { return 0 }
        return Int64(min(d, 1e9))
    }

    // MARK: DISCOVER → OFFER

    mutating func discoverReceived(_ r: Request) -> DHCPOutcome {
        guard leaseStoreAvailable else { return committedLeaseReply(.offer, r) }
        guard let ip = chooseAddress(r) else { return .ignored(.poolExhausted) }
        hold(ip, for: r.identity, now: r.now)
        return reply(.offer, to: r, yiaddr: ip, event: .offered(ip))
    }

    /// Allocation order: the reservation; an offer already held for the client; the client's
    /// existing (or expired, or released) lease; the requested address; then a free address from
    /// the range, scanning from a start point derived from the MAC so the choice is the same after
    /// a restart, preferring never-used addresses and taking the longest-unused one last.
    func chooseAddress(_ r: Request) -> IPv4Address? {
        let reservation = usableReservation(r)
        if let res = reservation { return res }
        if let ip = heldOffer(for: r.key, now: r.now), conflict(ip, for: r, reservation: nil) == nil { return ip }
        if let l = book.lease(for: r.identity), conflict(l.ip, for: r, reservation: nil) == nil { return l.ip }
        if let ip = r.options.requestedAddress, conflict(ip, for: r, reservation: nil) == nil { return ip }

        let start = r.pool.rangeStart.value
        let end = r.pool.rangeEnd.value
        guard start <= end else { return nil }
        let size = UInt64(end - start) + 1
        var seed = r.message.hardwareAddress.isEmpty ? Array(r.key.rawValue.utf8) : r.message.hardwareAddress
        if settings.sharedLeases {
            // Another origin per server: two servers answering one DISCOVER rarely offer the same
            // address (and when they do, the database's claim decides: `claimLost`).
            withUnsafeBytes(of: settings.serverAddress.value.bigEndian) { seed += $0 }
        }
        let offset = UInt64(Self.fnv1a(seed)) % size
        if settings.sharedLeases, let ip = randomProbe(r, seed: seed, start: start, size: size) { return ip }
        // A never-used address first (a word of 64 used ones skipped at a time)...
        if let free = book.firstUnrecorded(start, end, from: start &+ UInt32(offset), usable: {
            conflict(IPv4Address($0), for: r, reservation: nil) == nil
        }) {
            return IPv4Address(free)
        }
        // ...else every address has a record: the usable one unused for longest (a scan of the
        // range; only a pool with no never-used address left gets here).
        var oldest: (ip: IPv4Address, expiry: Int64)?
        var i: UInt64 = 0
        while i < size {
            let ip = IPv4Address(start &+ UInt32(truncatingIfNeeded: (offset + i) % size))
            i += 1
            guard let l = book.lease(at: ip), conflict(ip, for: r, reservation: nil) == nil else { continue }
            if let o = oldest, o.expiry <= l.expiry { continue }
            oldest = (ip, l.expiry)
        }
        return oldest?.ip
    }

    /// With a shared database: up to 32 pseudo-random never-used addresses (hashes of the salted
    /// seed and the attempt) in this server's share of the pool (offsets ≡ index mod count).
    /// Another server's newest leases are unknown here until the next sync, and a scan from an
    /// origin lands on the edges of runs, exactly where the other server is allocating too; picks
    /// in disjoint shares do not collide, and random ones outside them rarely.
    func randomProbe(_ r: Request, seed: [UInt8], start: UInt32, size: UInt64) -> IPv4Address? {
        let share = allocationShare
        let stride = UInt64(share.count)
        let slots = size / stride + (UInt64(share.index) < size % stride ? 1 : 0)
        guard slots > 0 else { return nil }
        var bytes = seed + [0]
        for attempt in 0..<32 {
            bytes[bytes.count - 1] = UInt8(attempt)
            let offset = (UInt64(Self.fnv1a(bytes)) % slots) * stride + UInt64(share.index)
            let ip = IPv4Address(start &+ UInt32(truncatingIfNeeded: offset))
            if book.lease(at: ip) == nil, conflict(ip, for: r, reservation: nil) == nil { return ip }
        }
        return nil
    }

    /// The client's reserved address in this pool, if nothing else holds it.
    func usableReservation(_ r: Request) -> IPv4Address? {
        guard let ip = r.host?.ip, r.pool.subnet.contains(ip) else { return nil }
        return conflict(ip, for: r, reservation: ip) == nil ? ip : nil
    }

    /// Why `ip` cannot be the client's address, or nil if it can.
    func conflict(_ ip: IPv4Address, for r: Request, reservation: IPv4Address?) -> NakReason? {
        let subnet = r.pool.subnet
        guard subnet.contains(ip) else { return .wrongNetwork }
        if ip == settings.serverAddress || ip == .any || ip == .broadcast { return .invalidAddress }
        if subnet.prefixLength < 31 && (ip == subnet.network || ip == subnet.broadcastAddress) { return .invalidAddress }
        if let owner = reservedBy[ip], owner != r.mac { return .reservedForAnotherClient }
        if let res = reservation, res != ip { return .clientHasReservation(res) }
        if let l = book.lease(at: ip) {
            if l.isQuarantined(now: r.now) { return .quarantined }
            if l.isBound(now: r.now) && !holds(ip, key: l.clientKey, mac: l.mac, r) { return .inUse }
        }
        if let o = offers[ip], o.expires > r.now, !holds(ip, key: o.key, mac: o.mac, r) { return .inUse }
        if reservation != ip && !(ip >= r.pool.rangeStart && ip <= r.pool.rangeEnd) { return .outsideRange }
        return nil
    }

    /// Whether a lease or offer on `ip` held under `key` by `mac` is the requesting client's:
    /// the same client (`ClientIdentity`), or `ip` is reserved for the request's MAC and the holder
    /// has that MAC (rule 4: a reservation by MAC owns its address whatever identifier holds it).
    func holds(_ ip: IPv4Address, key: ClientKey, mac: MACAddress?, _ r: Request) -> Bool {
        if r.identity.isSameClient(key: key, mac: mac) { return true }
        guard let mine = r.mac, mac == mine else { return false }
        return reservedBy[ip] == mine
    }

    func holds(_ l: Lease, _ r: Request) -> Bool { holds(l.ip, key: l.clientKey, mac: l.mac, r) }

    mutating func hold(_ ip: IPv4Address, for client: ClientIdentity, now: Double) {
        let key = client.key
        if let old = offerByKey[key], old != ip, offers[old]?.key == key { offers[old] = nil }
        offers[ip] = HeldOffer(key: key, mac: client.mac, expires: now + settings.offerHoldTime)
        offerByKey[key] = ip
    }

    mutating func releaseOffer(for key: ClientKey) {
        guard let ip = offerByKey.removeValue(forKey: key) else { return }
        if offers[ip]?.key == key { offers[ip] = nil }
    }

    // MARK: REQUEST → ACK / NAK

    mutating func requestReceived(_ r: Request) -> DHCPOutcome {
        let m = r.message
        let reservation = usableReservation(r)
        if let sid = m.options.serverIdentifier {
            // SELECTING: the client picked an offer.
            guard sid == settings.serverAddress else {
                releaseOffer(for: r.key)
                return .ignored(.otherServerSelected(sid))
            }
            guard let ip = m.options.requestedAddress ?? (m.ciaddr != .any ? m.ciaddr : nil) else {
                return .ignored(.missingAddress)
            }
            if let why = conflict(ip, for: r, reservation: reservation) { return nak(r, ip, why) }
            return ack(ip, r)
        }
        // INIT-REBOOT (option 50, no ciaddr); RENEWING (ciaddr, unicast); REBINDING (ciaddr, broadcast).
        let ip: IPv4Address
        if let requested = m.options.requestedAddress, m.ciaddr == .any {
            ip = requested
        } else if m.ciaddr != .any {
            ip = m.ciaddr
        } else {
            return .ignored(.missingAddress)
        }
        // With a shared database, an address this engine has no record of may be another server's
        // lease (that server may be down): the claim decides, and NAKs if someone else holds it.
        let known = book.lease(at: ip).map { holds($0, r) && $0.state != .declined }
            ?? (settings.sharedLeases && ip >= r.pool.rangeStart && ip <= r.pool.rangeEnd)
        if let why = conflict(ip, for: r, reservation: reservation) {
            return known || settings.authoritative ? nak(r, ip, why) : .ignored(.notAuthoritative)
        }
        guard known || settings.authoritative else { return .ignored(.notAuthoritative) }
        return ack(ip, r)
    }

    mutating func ack(_ ip: IPv4Address, _ r: Request) -> DHCPOutcome {
        guard leaseStoreAvailable else { return committedLeaseReply(.ack, r, ip: ip) }
        var changes: [Lease] = []
        let expiry = r.nowSeconds + Int64(leaseSeconds(r))
        if let prev = book.lease(for: r.identity), prev.ip != ip, prev.isBound(now: r.now) {
            var released = prev
            released.state = .released
            released.expiry = r.nowSeconds
            changes.append(released)
        }
        changes.append(Lease(clientKey: r.key, mac: r.mac, ip: ip, hostname: hostname(for: r), expiry: expiry,
                             state: .active))
        var replaced: [Lease?] = []
        for c in changes {
            replaced.append(book.lease(at: c.ip))
            book.record(c)
        }
        releaseOffer(for: r.key)
        var outcome = reply(.ack, to: r, yiaddr: ip, leaseChanges: changes, event: .acknowledged(ip))
        outcome.replacedRecords = replaced
        return outcome
    }

    /// While the lease database is out: the client's committed, unexpired lease (on `ip`, when
    /// given), for the seconds left of it and no more, so nothing unpersisted is promised.
    /// Anything else needs a write and goes unanswered.
    mutating func committedLeaseReply(_ type: DHCPMessageType, _ r: Request, ip: IPv4Address? = nil) -> DHCPOutcome {
        guard let l = ip.map({ book.lease(at: $0) }) ?? book.lease(for: r.identity), l.state == .active, holds(l, r),
              l.expiry - r.nowSeconds >= 2, conflict(l.ip, for: r, reservation: usableReservation(r)) == nil
        else { return .ignored(.leaseStoreUnavailable) }
        var shortened = r
        shortened.remainingSeconds = UInt32(clamping: l.expiry - r.nowSeconds)
        if type == .offer {
            hold(l.ip, for: r.identity, now: r.now)
            return reply(.offer, to: shortened, yiaddr: l.ip, event: .offered(l.ip))
        }
        releaseOffer(for: r.key)
        return reply(.ack, to: shortened, yiaddr: l.ip, event: .acknowledged(l.ip))
    }

    func nak(_ r: Request, _ ip: IPv4Address, _ why: NakReason) -> DHCPOutcome {
        DHCPOutcome(replies: [makeNak(to: r, reason: why)], event: .negativelyAcknowledged(ip, why))
    }

    /// The host entry's name, else the client's option 12 reduced to a safe label.
    func hostname(for r: Request) -> String? {
        if let h = r.host?.hostname, !h.isEmpty { return h }
        guard let raw = r.options.hostName else { return nil }
        let allowed = raw.unicodeScalars.filter { c in
            c.isASCII && (c.properties.isAlphabetic || ("0"..."9").contains(c) || c == "-" || c == "." || c == "_")
        }
        let safe = String(String.UnicodeScalarView(allowed.prefix(63)))
        return safe.isEmpty ? nil : safe
    }

    // MARK: RELEASE, DECLINE, INFORM

    mutating func releaseReceived(_ r: Request) -> DHCPOutcome {
        guard leaseStoreAvailable else { return .ignored(.leaseStoreUnavailable) }
        if let sid = r.options.serverIdentifier, sid != settings.serverAddress { return .ignored(.notForThisServer(sid)) }
        let ip = r.message.ciaddr
        guard ip != .any else { return .ignored(.missingAddress) }
        guard var l = book.lease(at: ip), holds(l, r), l.state == .active else {
            return .ignored(.noMatchingLease)
        }
        let before = l
        l.state = .released
        l.expiry = min(l.expiry, r.nowSeconds)
        book.record(l)
        var outcome = DHCPOutcome(leaseChanges: [l], event: .released(ip))
        outcome.replacedRecords = [before]
        return outcome
    }

    mutating func declineReceived(_ r: Request) -> DHCPOutcome {
        guard leaseStoreAvailable else { return .ignored(.leaseStoreUnavailable) }
        if let sid = r.options.serverIdentifier, sid != settings.serverAddress { return .ignored(.notForThisServer(sid)) }
        guard let ip = r.options.requestedAddress else { return .ignored(.missingAddress) }
        let holdsLease = book.lease(at: ip).map { holds($0, r) && $0.state == .active } ?? false
        guard holdsLease || heldOffer(for: r.key, now: r.now) == ip else { return .ignored(.noMatchingLease) }
        let until = r.nowSeconds + Self.wholeSeconds(settings.declineQuarantine)
        let record = Lease(clientKey: r.key, mac: r.mac, ip: ip, hostname: nil, expiry: until, state: .declined)
        let before = book.lease(at: ip)
        book.record(record)
        releaseOffer(for: r.key)
        var outcome = DHCPOutcome(leaseChanges: [record], event: .declined(ip))
        outcome.replacedRecords = [before]
        return outcome
    }

    func informReceived(_ r: Request) -> DHCPOutcome {
        guard r.message.ciaddr != .any else { return .ignored(.missingAddress) }
        return reply(.ack, to: r, yiaddr: .any, event: .informed, withLease: false)
    }

    /// 32-bit FNV-1a: a fixed, process-independent hash (Swift's `Hasher` is seeded per process).
    static func fnv1a(_ bytes: [UInt8]) -> UInt32 {
        var h: UInt32 = 0x811C_9DC5
        for b in bytes { h = (h ^ UInt32(b)) &* 0x0100_0193 }
        return h
    }
}
