import PXEConfig

/// The DHCP/BOOTP server for one interface, as a pure state machine.
///
/// It reads no clock and opens no socket: every event takes `now` (Unix seconds), and the result
/// says what to persist and what to send. The I/O layer must persist `leaseChanges` durably before
/// sending `replies`. `apply(settings:)` swaps configuration generations and keeps all leases.
public struct DHCPServer: Sendable {
    /// Size in bytes of `file` under `root`, or nil if it is not a readable regular file.
    public typealias BootFileSizeLookup = @Sendable (_ root: String, _ file: String) -> Int?

    struct HeldOffer: Sendable, Equatable {
        var key: ClientKey
        var mac: MACAddress?
        var expires: Double
    }

    public private(set) var settings: DHCPServiceConfig
    var book: LeaseBook
    /// Addresses offered and held for a client until `expires`.
    var offers: [IPv4Address: HeldOffer] = [:]
    var offerByKey: [ClientKey: IPv4Address] = [:]
    var hostsByMAC: [MACAddress: HostEntry] = [:]
    /// Reserved address → the MAC it belongs to.
    var reservedBy: [IPv4Address: MACAddress] = [:]
    var nextPurge: Double = -.infinity
    let bootFileSize: BootFileSizeLookup
    /// Whether lease changes can be persisted now. While false (the lease database is out) the
    /// engine makes no change: a client with a committed lease keeps it for what is left of it,
    /// everything needing a write goes unanswered (`IgnoreReason.leaseStoreUnavailable`).
    public var leaseStoreAvailable = true
    /// With shared leases: the part of each pool this server prefers for new addresses.
    public var allocationShare = AllocationShare.whole

    public init(settings: DHCPServiceConfig, leases: [Lease] = [],
                bootFileSize: @escaping BootFileSizeLookup = DHCPServer.statBootFile)
    {
        self.settings = settings
        self.book = LeaseBook(leases)
        self.bootFileSize = bootFileSize
        indexHosts()
    }

    /// Swaps in a new configuration generation. Leases and held offers are kept; reservations,
    /// pools and the boot table apply from the next request.
    public mutating func apply(settings: DHCPServiceConfig) {
        self.settings = settings
        indexHosts()
    }

    /// Drops expired offers. Called by `handle` every few seconds; the I/O layer may call it too.
    public mutating func tick(now: Double) {
        for (ip, o) in offers where o.expires <= now {
            offers[ip] = nil
            if offerByKey[o.key] == ip { offerByKey[o.key] = nil }
        }
        nextPurge = now + 5
    }

    /// When the earliest held offer lapses (nil: none held).
    public var nextDeadline: Double? { offers.values.map(\.expires).min() }

    /// The latest record per address, sorted by address.
    public var leases: [Lease] { book.byAddress.values.sorted { $0.ip < $1.ip } }

    /// The current or most recent record held under exactly `key`.
    public func lease(for key: ClientKey) -> Lease? { book.lease(for: key) }

    /// The client's current or most recent record under the identity rules (`ClientIdentity`).
    public func lease(for client: ClientIdentity) -> Lease? { book.lease(for: client) }

    /// The address currently held (offered, not yet requested) for a client.
    public func heldOffer(for key: ClientKey, now: Double) -> IPv4Address? {
        guard let ip = offerByKey[key], let o = offers[ip], o.key == key, o.expires > now else { return nil }
        return ip
    }

    /// Handles one decoded request.
    public mutating func handle(_ message: DHCPMessage, context: RequestContext, now: Double) -> DHCPOutcome {
        if now >= nextPurge { tick(now: now) }
        guard message.op == .bootRequest else { return .ignored(.notARequest) }
        guard message.hlen > 0 || message.options.clientIdentifier != nil else { return .ignored(.noHardwareAddress) }
        guard message.isDHCP else { return bootpReceived(message, now: now) }
        guard let type = message.options.messageType else {
            return .ignored(.unknownMessageType(message.options[.messageType]?.first ?? 0))
        }
        if settings.proxy != nil { return proxyReceived(message, type: type, context: context) }
        guard let interfacePool = settings.pool else { return .ignored(.dhcpDisabled) }
        guard let pool = Self.selectPool(interfacePool, giaddr: message.giaddr) else {
            return .ignored(.noPoolForRelay(message.giaddr))
        }
        let request = makeRequest(message, pool: pool, context: context, now: now)
        if pool.pxeOnly && !request.client.isNetworkBoot && request.host == nil {
            return .ignored(.notNetworkBootClient)
        }
        switch type {
        case .discover: return discoverReceived(request)
        case .request: return requestReceived(request)
        case .decline: return declineReceived(request)
        case .release: return releaseReceived(request)
        case .inform: return informReceived(request)
        case .offer, .ack, .nak: return .ignored(.serverMessage(type))
        }
    }

    func makeRequest(_ message: DHCPMessage, pool: DHCPPoolConfig, context: RequestContext, now: Double) -> Request {
        let mac = message.macAddress
        return Request(
            message: message, pool: pool,
            identity: ClientIdentity(
                key: ClientKey(message: message, ignoreClientIdentifier: settings.ignoreClientIdentifier), mac: mac),
            host: mac.flatMap { hostsByMAC[$0] }, client: PXEClientInfo(options: message.options),
            context: context, now: now)
    }

    // MARK: What became of persisted changes

    /// Takes back changes that were not persisted (`outcome.replacedRecords` of the outcome that
    /// made them), the last first, so the book again holds only what is durable.
    public mutating func persistFailed(_ changes: [Lease], replaced: [Lease?]) {
        for i in changes.indices.reversed() {
            if i < replaced.count, let previous = replaced[i] {
                book.record(previous)
            } else {
                book.forget(changes[i].ip)
            }
        }
    }

    /// Records other servers committed (a shared database): the next offer skips their addresses.
    public mutating func learn(_ leases: [Lease]) {
        for var l in leases {
            l.clientKey = l.clientKey.foldingEthernetIdentifier(mac: l.mac)
            book.record(l)
        }
    }

    /// The shared database gave `ip` to another client while this engine offered it too: the
    /// caller has taken the claim back and learnt the holder; this is the DHCPNAK for `message`.
    public func claimLost(_ message: DHCPMessage, ip: IPv4Address, context: RequestContext, now: Double) -> DHCPOutcome {
        guard let pool = settings.pool.flatMap({ Self.selectPool($0, giaddr: message.giaddr) }) else {
            return .ignored(.noPoolForRelay(message.giaddr))
        }
        return nak(makeRequest(message, pool: pool, context: context, now: now), ip, .claimedElsewhere)
    }

    /// The pool for a request: for relayed requests the relay pool whose subnet holds giaddr (or
    /// the interface pool if it does), else the interface's pool.
    public static func selectPool(_ pool: DHCPPoolConfig, giaddr: IPv4Address) -> DHCPPoolConfig? {
        guard giaddr != .any else { return pool }
        if let relay = pool.relayPools.first(where: { $0.subnet.contains(giaddr) }) { return relay }
        return pool.subnet.contains(giaddr) ? pool : nil
    }

    /// Default boot-file size lookup: `stat` of `root/file`, refusing `..` components.
    public static let statBootFile: BootFileSizeLookup = { root, file in
        let parts = file.split(whereSeparator: { $0 == "/" || $0 == "\\" })
        guard !parts.isEmpty, !parts.contains(where: { $0 == ".." }) else { return nil }
        return FileIO.regularFileSize(root + "/" + parts.joined(separator: "/"))
    }

    private mutating func indexHosts() {
        hostsByMAC = [:]
        reservedBy = [:]
        for h in settings.hosts {
            if hostsByMAC[h.mac] == nil { hostsByMAC[h.mac] = h }
            if let ip = h.ip, reservedBy[ip] == nil { reservedBy[ip] = h.mac }
        }
    }
}

/// One request with everything derived from it once.
struct Request {
    var message: DHCPMessage
    var pool: DHCPPoolConfig
    var identity: ClientIdentity
    var host: HostEntry?
    var client: PXEClientInfo
    var context: RequestContext
    var now: Double
    /// During a lease database outage: the seconds left of the client's committed lease, which
    /// the reply offers instead of the pool's lease time.
    var remainingSeconds: UInt32? = nil

    var key: ClientKey { identity.key }
    var mac: MACAddress? { identity.mac }
    var options: DHCPOptions { message.options }
    var nowSeconds: Int64 { DHCPServer.seconds(now) }
}
