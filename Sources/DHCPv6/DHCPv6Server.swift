import DHCP
import PXEConfig

/// What one interface's DHCPv6 engine serves: an immutable generation (RFC 8415 server).
public struct DHCPv6Settings: Sendable, Equatable {
    public var interfaceName: String
    /// Server Identifier (DUID-LL from the interface's MAC).
    public var serverDUID: [UInt8]
    /// The on-link prefix (addresses outside it are not on link).
    public var prefix: IPv6Address
    public var prefixLength: Int
    public var rangeStart: IPv6Address
    public var rangeEnd: IPv6Address
    public var dns: [IPv6Address] = []
    public var domain: String? = nil
    /// Valid and preferred lifetimes, seconds; T1 = preferred/2, T2 = preferred*4/5.
    public var validLifetime: UInt32 = 3600
    public var preferredLifetime: UInt32 = 3000
    /// Answer a SOLICIT carrying Rapid Commit with a committed REPLY (RFC 8415 18.3.1).
    public var rapidCommit: Bool = false
    /// Option 60 (RFC 5970), sent with option 59.
    public var bootParameters: [String] = []
    /// Reservations: an IPv6 address for a client DUID (hex) or a MAC.
    public var reservationsByDUID: [[UInt8]: IPv6Address] = [:]
    public var reservationsByMAC: [MACAddress: IPv6Address] = [:]
    public var boot: BootTable = BootTable()
    /// `tftp://[addr]` and `http://[addr]:port` of this interface for boot-file URLs (option 59).
    public var tftpBase: String? = nil
    public var httpBase: String? = nil

    public init(interfaceName: String, serverDUID: [UInt8], prefix: IPv6Address, prefixLength: Int,
                rangeStart: IPv6Address, rangeEnd: IPv6Address) {
        self.interfaceName = interfaceName
        self.serverDUID = serverDUID
        self.prefix = prefix
        self.prefixLength = prefixLength
        self.rangeStart = rangeStart
        self.rangeEnd = rangeEnd
    }

    /// DUID-LL (RFC 8415 11.4): type 3, hardware type 1 (Ethernet), the MAC.
    public static func duidLL(_ mac: MACAddress) -> [UInt8] { [0, 3, 0, 1] + mac.bytes }

    func onLink(_ a: IPv6Address) -> Bool { a.isWithin(prefix, length: prefixLength) }

    func inRange(_ a: IPv6Address) -> Bool { !(a < rangeStart) && !(rangeEnd < a) }
}

/// What to do with one datagram.
public struct DHCPv6Outcome: Sendable, Equatable {
    public enum Event: Sendable, Equatable {
        case advertised, replied(DHCPv6MessageType), ignored(String)
    }
    /// Bytes to send back to where the datagram came from (nil: nothing).
    public var reply: [UInt8]?
    /// Records to make durable before the reply leaves.
    public var leaseChanges: [Lease6]
    public var event: Event
    /// The boot-file URL the reply carries, for logs.
    public var bootURL: String?

    /// Why nothing was sent, as a fixed metric label: `malformed` (did not decode, relays nested too
    /// deep), `no_client_id`, `other_server` (a Server Identifier that is not ours, or one where
    /// none belongs), `not_client_message`, `no_addresses` (CONFIRM without any).
    public var ignoreCategory: String? {
        guard case .ignored(let why) = event else { return nil }
        return Self.category(why)
    }

    static func category(_ why: String) -> String {
        if why.hasSuffix("without Client Identifier") || why == "malformed CONFIRM" { return "no_client_id" }
        if why.contains("another server") || why.contains("with a Server Identifier") { return "other_server" }
        if why.hasSuffix("is not a client message") || why == "relay reply from a client" { return "not_client_message" }
        if why == "CONFIRM without addresses" { return "no_addresses" }
        return "malformed"
    }

    public static func ignored(_ why: String) -> DHCPv6Outcome { DHCPv6Outcome(reply: nil, leaseChanges: [], event: .ignored(why)) }
}

/// The DHCPv6 server of one interface as a pure state machine (RFC 8415 section 18.3; netboot
/// options of RFC 5970). Fed datagrams and the time, it returns the reply bytes and the lease
/// records the I/O layer must persist before sending them.
public struct DHCPv6Server: Sendable {
    public private(set) var settings: DHCPv6Settings
    var byAddress: [IPv6Address: Lease6] = [:]
    var byClient: [ClientIA: IPv6Address] = [:]

    struct ClientIA: Hashable, Sendable {
        var duid: [UInt8]
        var iaid: UInt32
    }

    public init(settings: DHCPv6Settings, leases: [Lease6] = []) {
        self.settings = settings
        for l in leases { record(l) }
    }

    public mutating func apply(settings: DHCPv6Settings) { self.settings = settings }

    public var leases: [Lease6] { byAddress.values.sorted { $0.address < $1.address } }

    mutating func record(_ l: Lease6) {
        byAddress[l.address] = l
        let key = ClientIA(duid: l.duid, iaid: l.iaid)
        if l.state == .declined {
            if byClient[key] == l.address { byClient[key] = nil }
        } else {
            byClient[key] = l.address
        }
    }

    /// One datagram from a client (or a relay agent).
    public mutating func handle(_ bytes: [UInt8], now: Double) -> DHCPv6Outcome {
        guard let first = bytes.first else { return .ignored("empty datagram") }
        if first == DHCPv6MessageType.relayForward.rawValue { return relayed(bytes, depth: 0, now: now) }
        let message: DHCPv6Message
        do { message = try DHCPv6Message.decode(bytes) } catch { return .ignored("\(error)") }
        return handle(message, now: now)
    }

    mutating func relayed(_ bytes: [UInt8], depth: Int, now: Double) -> DHCPv6Outcome {
        guard depth < DHCPv6RelayMessage.hopLimit else { return .ignored("\(DHCPv6DecodeError.relayTooDeep)") }
        let relay: DHCPv6RelayMessage
        do { relay = try DHCPv6RelayMessage.decode(bytes) } catch { return .ignored("\(error)") }
        guard relay.type == .relayForward else { return .ignored("relay reply from a client") }
        var inner: DHCPv6Outcome
        if relay.inner.first == DHCPv6MessageType.relayForward.rawValue {
            inner = relayed(relay.inner, depth: depth + 1, now: now)
        } else {
            do { inner = handle(try DHCPv6Message.decode(relay.inner), now: now) } catch { return .ignored("relayed: \(error)") }
        }
        guard let replyBytes = inner.reply else { return inner }
        // RELAY-REPL with the same hop count, link and peer addresses, and Interface-Id echoed.
        let reply = DHCPv6RelayMessage(type: .relayReply, hopCount: relay.hopCount, linkAddress: relay.linkAddress,
                                       peerAddress: relay.peerAddress,
                                       options: relay.options.filter { $0.code == .interfaceID }, inner: replyBytes)
        inner.reply = reply.encode()
        return inner
    }

    public mutating func handle(_ m: DHCPv6Message, now: Double) -> DHCPv6Outcome {
        let clientID = m.first(.clientID)
        let serverID = m.first(.serverID)
        switch m.type {
        case .solicit:
            guard let duid = clientID, !duid.isEmpty else { return .ignored("SOLICIT without Client Identifier") }
            guard serverID == nil else { return .ignored("SOLICIT with a Server Identifier") }
            let commit = settings.rapidCommit && m.first(.rapidCommit) != nil
            return answer(m, duid: duid, type: commit ? .reply : .advertise, commit: commit, now: now)
        case .request:
            guard let duid = clientID, !duid.isEmpty else { return .ignored("REQUEST without Client Identifier") }
            guard serverID == settings.serverDUID else { return .ignored("REQUEST for another server") }
            return answer(m, duid: duid, type: .reply, commit: true, now: now)
        case .renew, .rebind:
            guard let duid = clientID, !duid.isEmpty else { return .ignored("\(m.type) without Client Identifier") }
            if m.type == .renew { guard serverID == settings.serverDUID else { return .ignored("RENEW for another server") } }
            else if serverID != nil { return .ignored("REBIND with a Server Identifier") }
            return extend(m, duid: duid, now: now)
        case .release, .decline:
            guard let duid = clientID, !duid.isEmpty else { return .ignored("\(m.type) without Client Identifier") }
            guard serverID == settings.serverDUID else { return .ignored("\(m.type) for another server") }
            return giveBack(m, duid: duid, now: now)
        case .confirm:
            guard clientID != nil, serverID == nil else { return .ignored("malformed CONFIRM") }
            let addresses = iaNAs(m).flatMap(\.requestedAddresses)
            guard !addresses.isEmpty else { return .ignored("CONFIRM without addresses") }
            let onLink = addresses.allSatisfy(settings.onLink)
            var options = ids(m)
            options.append((onLink ? DHCPv6Status.success : .notOnLink).option(onLink ? "all addresses on link" : "not on link"))
            return DHCPv6Outcome(reply: DHCPv6Message(type: .reply, transactionID: m.transactionID, options: options).encode(),
                                 leaseChanges: [], event: .replied(.confirm))
        case .informationRequest:
            if let sid = serverID, sid != settings.serverDUID { return .ignored("INFORMATION-REQUEST for another server") }
            var options = ids(m)
            let (netboot, url) = bootOptions(m)
            options += configurationOptions(m) + netboot
            return DHCPv6Outcome(reply: DHCPv6Message(type: .reply, transactionID: m.transactionID, options: options).encode(),
                                 leaseChanges: [], event: .replied(.informationRequest), bootURL: url)
        case .advertise, .reply, .reconfigure, .relayForward, .relayReply:
            return .ignored("\(m.type) is not a client message")
        }
    }

    // MARK: Replies

    /// Server Identifier, then the client's Client Identifier echoed.
    func ids(_ m: DHCPv6Message) -> [DHCPv6Option] {
        [DHCPv6Option(.serverID, settings.serverDUID)] + (m.first(.clientID).map { [DHCPv6Option(.clientID, $0)] } ?? [])
    }

    func iaNAs(_ m: DHCPv6Message) -> [IANA] {
        m.all(.iaNA).compactMap { try? IANA(decoding: $0) }
    }

    func requested(_ m: DHCPv6Message, _ code: DHCPv6OptionCode) -> Bool {
        guard let oro = m.first(.optionRequest) else { return false }
        return stride(from: 0, to: oro.count - 1, by: 2).contains { UInt16(oro[$0]) << 8 | UInt16(oro[$0 + 1]) == code.rawValue }
    }

    func configurationOptions(_ m: DHCPv6Message) -> [DHCPv6Option] {
        var o: [DHCPv6Option] = []
        if !settings.dns.isEmpty { o.append(DHCPv6Option(.dnsServers, settings.dns.flatMap(\.bytes))) }
        if let d = settings.domain, !d.isEmpty { o.append(DHCPv6Option(.domainList, Self.dnsName(d))) }
        return o
    }

    /// RFC 5970: option 59 (and 60 when the boot file has parameters) for a network-boot client:
    /// option 61 present, or the PXE vendor class (option 16, enterprise 343, "PXEClient...").
    func bootOptions(_ m: DHCPv6Message) -> ([DHCPv6Option], String?) {
        let client = NetbootClient(m)
        guard client.isNetboot || requested(m, .bootFileURL) else { return ([], nil) }
        guard let url = bootURL(for: client, mac: client.mac) else { return ([], nil) }
        var options = [DHCPv6Option(.bootFileURL, Array(url.utf8))]
        if !settings.bootParameters.isEmpty {
            // Each parameter: 16-bit length, then its UTF-8 bytes (RFC 5970 section 3.2).
            var data: [UInt8] = []
            for p in settings.bootParameters {
                let bytes = Array(p.utf8)
                data += [UInt8(bytes.count >> 8), UInt8(bytes.count & 0xFF)] + bytes
            }
            options.append(DHCPv6Option(.bootFileParameters, data))
        }
        return (options, url)
    }

    func bootURL(for client: NetbootClient, mac: MACAddress?) -> String? {
        let t = settings.boot
        let file: String?
        switch client.architecture {
        case 16: file = t.uefiX64HTTP ?? t.uefiX64.flatMap { settings.httpBase != nil ? $0 : nil }
        case 15: file = t.uefiIA32HTTP ?? t.uefiIA32.flatMap { settings.httpBase != nil ? $0 : nil }
        case 19: file = t.uefiArm64HTTP ?? t.uefiArm64.flatMap { settings.httpBase != nil ? $0 : nil }
        case 7, 9: file = client.isIPXE ? t.ipxe ?? t.uefiX64 : t.uefiX64
        case 6: file = client.isIPXE ? t.ipxe ?? t.uefiIA32 : t.uefiIA32
        case 11: file = client.isIPXE ? t.ipxe ?? t.uefiArm64 : t.uefiArm64
        default: file = client.isIPXE ? t.ipxe ?? t.default : t.default
        }
        guard let f = file, !f.isEmpty else { return nil }
        let lower = f.lowercased()
        if lower.hasPrefix("tftp://") || lower.hasPrefix("http://") || lower.hasPrefix("https://") { return f }
        let http = [15, 16, 19].contains(client.architecture ?? 0)
        guard let base = http ? settings.httpBase : settings.tftpBase else { return nil }
        return base + (f.hasPrefix("/") ? "" : "/") + f
    }

    /// ADVERTISE or REPLY to SOLICIT/REQUEST: an address per IA_NA.
    mutating func answer(_ m: DHCPv6Message, duid: [UInt8], type: DHCPv6MessageType, commit: Bool, now: Double) -> DHCPv6Outcome {
        var options = ids(m)
        var changes: [Lease6] = []
        var taken = Set<IPv6Address>()
        let mac = NetbootClient.mac(fromDUID: duid)
        for ia in iaNAs(m) {
            guard let address = choose(duid: duid, iaid: ia.iaid, mac: mac, hints: ia.requestedAddresses, excluding: taken, now: now) else {
                options.append(DHCPv6Option(.iaNA, IANA(iaid: ia.iaid, options: [DHCPv6Status.noAddrsAvail.option("no addresses available")]).encoded()))
                continue
            }
            taken.insert(address)
            if commit {
                let l = Lease6(duid: duid, iaid: ia.iaid, address: address,
                               expiry: Self.seconds(now) + Int64(settings.validLifetime), state: .active)
                record(l)
                changes.append(l)
            }
            options.append(DHCPv6Option(.iaNA, grant(ia.iaid, address)))
        }
        if type == .reply && m.type == .solicit { options.append(DHCPv6Option(.rapidCommit, [])) }
        let (netboot, url) = bootOptions(m)
        options += configurationOptions(m) + netboot
        return DHCPv6Outcome(reply: DHCPv6Message(type: type, transactionID: m.transactionID, options: options).encode(),
                             leaseChanges: changes, event: type == .advertise ? .advertised : .replied(m.type), bootURL: url)
    }

    func grant(_ iaid: UInt32, _ a: IPv6Address) -> [UInt8] {
        let p = settings.preferredLifetime
        return IANA(iaid: iaid, t1: p / 2, t2: UInt32(UInt64(p) * 4 / 5),
                    options: [IANA.address(a, preferred: p, valid: settings.validLifetime)]).encoded()
    }

    /// RENEW / REBIND: extend the client's bindings; an unknown IA gets NoBinding.
    mutating func extend(_ m: DHCPv6Message, duid: [UInt8], now: Double) -> DHCPv6Outcome {
        var options = ids(m)
        var changes: [Lease6] = []
        for ia in iaNAs(m) {
            let key = ClientIA(duid: duid, iaid: ia.iaid)
            guard let a = byClient[key], let l = byAddress[a], l.duid == duid, l.state != .declined, settings.onLink(a) else {
                options.append(DHCPv6Option(.iaNA, IANA(iaid: ia.iaid, options: [DHCPv6Status.noBinding.option("no binding")]).encoded()))
                continue
            }
            let renewed = Lease6(duid: duid, iaid: ia.iaid, address: a, expiry: Self.seconds(now) + Int64(settings.validLifetime), state: .active)
            record(renewed)
            changes.append(renewed)
            options.append(DHCPv6Option(.iaNA, grant(ia.iaid, a)))
        }
        options += configurationOptions(m)
        return DHCPv6Outcome(reply: DHCPv6Message(type: .reply, transactionID: m.transactionID, options: options).encode(),
                             leaseChanges: changes, event: .replied(m.type))
    }

    /// RELEASE / DECLINE: the addresses go back (declined ones are kept out of use for a lease time).
    mutating func giveBack(_ m: DHCPv6Message, duid: [UInt8], now: Double) -> DHCPv6Outcome {
        var changes: [Lease6] = []
        for ia in iaNAs(m) {
            for a in ia.requestedAddresses {
                guard var l = byAddress[a], l.duid == duid, l.iaid == ia.iaid else { continue }
                if m.type == .decline {
                    l.state = .declined
                    l.expiry = Self.seconds(now) + Int64(settings.validLifetime)
                } else {
                    l.state = .released
                    l.expiry = min(l.expiry, Self.seconds(now))
                }
                record(l)
                changes.append(l)
            }
        }
        var options = ids(m)
        options.append(DHCPv6Status.success.option(m.type == .decline ? "declined" : "released"))
        return DHCPv6Outcome(reply: DHCPv6Message(type: .reply, transactionID: m.transactionID, options: options).encode(),
                             leaseChanges: changes, event: .replied(m.type))
    }

    /// Order: the client's reservation; its binding for this IA; a hint in the range and free;
    /// then a free address scanning the range from a point derived from the client (stable
    /// across restarts), never-used addresses first, else the longest-expired.
    func choose(duid: [UInt8], iaid: UInt32, mac: MACAddress?, hints: [IPv6Address], excluding: Set<IPv6Address>,
                now: Double) -> IPv6Address? {
        let reserved = settings.reservationsByDUID[duid] ?? mac.flatMap { settings.reservationsByMAC[$0] }
        if let r = reserved, free(r, for: duid, now: now), !excluding.contains(r) { return r }
        if let a = byClient[ClientIA(duid: duid, iaid: iaid)], settings.inRange(a) || a == reserved,
           free(a, for: duid, now: now), !excluding.contains(a) { return a }
        for h in hints where settings.inRange(h) && free(h, for: duid, now: now) && !excluding.contains(h) && !isReservedForOther(h, duid: duid, mac: mac) {
            return h
        }
        // The range as a 64-bit span of its low half (ranges beyond 2^64 addresses are capped).
        let lo = Self.low64(settings.rangeStart), hi = Self.low64(settings.rangeEnd)
        guard settings.rangeStart.bytes.prefix(8) == settings.rangeEnd.bytes.prefix(8), lo <= hi else { return nil }
        let span = hi - lo &+ 1
        let size = span == 0 ? UInt64.max : span
        let scan = min(size, 1 << 20)
        let start = UInt64(Self.fnv1a(duid + iaid.bigEndianBytes)) % size
        var oldest: (IPv6Address, Int64)?
        var i: UInt64 = 0
        while i < scan {
            let a = Self.address(prefix: settings.rangeStart, low: lo &+ (start &+ i) % size)
            i += 1
            guard !excluding.contains(a), !isReservedForOther(a, duid: duid, mac: mac) else { continue }
            guard let l = byAddress[a] else { return a }
            guard free(a, for: duid, now: now) else { continue }
            if let o = oldest, o.1 <= l.expiry { continue }
            oldest = (a, l.expiry)
        }
        return oldest?.0
    }

    func free(_ a: IPv6Address, for duid: [UInt8], now: Double) -> Bool {
        guard let l = byAddress[a] else { return true }
        if l.state == .declined { return Double(l.expiry) <= now }
        return l.duid == duid || !l.isBound(now: now)
    }

    func isReservedForOther(_ a: IPv6Address, duid: [UInt8], mac: MACAddress?) -> Bool {
        for (d, r) in settings.reservationsByDUID where r == a && d != duid { return true }
        for (m, r) in settings.reservationsByMAC where r == a && m != mac { return true }
        return false
    }

    static func low64(_ a: IPv6Address) -> UInt64 { a.bytes[8..<16].reduce(0) { $0 << 8 | UInt64($1) } }

    static func address(prefix: IPv6Address, low: UInt64) -> IPv6Address {
        IPv6Address(bytes: Array(prefix.bytes[0..<8]) + (0..<8).map { UInt8(truncatingIfNeeded: low >> (56 - 8 * UInt64($0))) })!
    }

    static func seconds(_ t: Double) -> Int64 {
        guard t.isFinite, abs(t) < 1e15 else { return 0 }
        return Int64(t.rounded(.down))
    }

    static func fnv1a(_ bytes: [UInt8]) -> UInt32 {
        var h: UInt32 = 0x811C_9DC5
        for b in bytes { h = (h ^ UInt32(b)) &* 0x0100_0193 }
        return h
    }

    /// A domain name in DNS wire form (RFC 1035 3.1), for option 24.
    static func dnsName(_ name: String) -> [UInt8] {
        var out: [UInt8] = []
        for label in name.split(separator: ".") where !label.isEmpty {
            let b = Array(label.utf8.prefix(63))
            out.append(UInt8(b.count))
            out += b
        }
        return out + [0]
    }
}

/// What a DHCPv6 request says about network-boot firmware (RFC 5970, and the PXE vendor class).
struct NetbootClient {
    /// First option 61 entry, else the Arch field of a PXEClient vendor class.
    var architecture: UInt16?
    var isPXEVendorClass: Bool
    var isIPXE: Bool
    var mac: MACAddress?

    var isNetboot: Bool { architecture != nil || isPXEVendorClass }

    init(_ m: DHCPv6Message) {
        var arch: UInt16? = nil
        if let a = m.first(.clientArchitecture), a.count >= 2 { arch = UInt16(a[0]) << 8 | UInt16(a[1]) }
        var pxe = false
        // Vendor class (RFC 8415 21.16): enterprise number, then length-prefixed strings.
        for v in m.all(.vendorClass) where v.count >= 6 {
            let enterprise = UInt32(bigEndianBytes: v[0..<4])
            var i = 4
            while i + 2 <= v.count {
                let n = Int(UInt16(v[i]) << 8 | UInt16(v[i + 1]))
                guard i + 2 + n <= v.count else { break }
                let text = String(decoding: v[(i + 2)..<(i + 2 + n)], as: UTF8.self)
                if enterprise == 343, text.hasPrefix("PXEClient") {
                    pxe = true
                    if arch == nil {
                        let parts = text.split(separator: ":")
                        if parts.count >= 3, parts[1] == "Arch" { arch = UInt16(parts[2]) }
                    }
                }
                i += 2 + n
            }
        }
        var ipxe = false
        // User class (RFC 8415 21.15): length-prefixed strings.
        for u in m.all(.userClass) {
            var i = 0
            while i + 2 <= u.count {
                let n = Int(UInt16(u[i]) << 8 | UInt16(u[i + 1]))
                guard i + 2 + n <= u.count else { break }
                if Array(u[(i + 2)..<(i + 2 + n)]) == Array("iPXE".utf8) { ipxe = true }
                i += 2 + n
            }
        }
        architecture = arch
        isPXEVendorClass = pxe
        isIPXE = ipxe
        mac = m.first(.clientID).flatMap(Self.mac(fromDUID:))
    }

    /// The MAC in a DUID-LL (type 3) or DUID-LLT (type 1) with hardware type 1.
    static func mac(fromDUID d: [UInt8]) -> MACAddress? {
        guard d.count >= 4, d[2] == 0, d[3] == 1 else { return nil }
        if d[0] == 0 && d[1] == 3 && d.count == 10 { return MACAddress(bytes: d[4..<10]) }
        if d[0] == 0 && d[1] == 1 && d.count == 14 { return MACAddress(bytes: d[8..<14]) }
        return nil
    }
}
