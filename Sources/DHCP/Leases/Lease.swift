import PXEConfig

/// What a lease is keyed by: option 61 (client identifier) when the client sent one, otherwise
/// its hardware address. Text form: `id:<hex>` or `hw:<hex>`; it appears in the lease file.
public struct ClientKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }

    public static func clientIdentifier(_ bytes: [UInt8]) -> ClientKey { ClientKey(rawValue: "id:" + hex(bytes)) }
    public static func hardwareAddress(_ bytes: [UInt8]) -> ClientKey { ClientKey(rawValue: "hw:" + hex(bytes)) }

    /// The key for a request: client-id if present (and not ignored), else chaddr. A client-id
    /// that is only `htype` + `chaddr` (what iPXE and udhcpc send) is keyed as `chaddr`, so the
    /// firmware that sends none and the loader that sends one are one client (`ClientIdentity`).
    public init(message: DHCPMessage, ignoreClientIdentifier: Bool = false) {
        if !ignoreClientIdentifier, let id = message.options.clientIdentifier,
           !Self.namesHardware(id, of: message)
        {
            self = .clientIdentifier(id)
        } else {
            self = .hardwareAddress(message.hardwareAddress)
        }
    }

    /// Option 61 = hardware type followed by exactly the hardware address in `chaddr`.
    static func namesHardware(_ id: [UInt8], of m: DHCPMessage) -> Bool {
        m.hlen > 0 && id.count == Int(min(m.hlen, 16)) + 1 && id[0] == m.htype && id.dropFirst().elementsEqual(m.hardwareAddress)
    }

    public var description: String { rawValue }
    public static func < (l: ClientKey, r: ClientKey) -> Bool { l.rawValue < r.rawValue }

    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

public enum LeaseState: String, Sendable, Equatable, CaseIterable {
    /// Bound by an ACK until `expiry` (after which the address is free but remembered for the client).
    case active
    /// Given back by DHCPRELEASE; free, but remembered so the client gets it again.
    case released
    /// Declined by a client (address conflict); quarantined until `expiry`.
    case declined
}

/// One lease record: the latest word on one address. Also the unit of the lease journal.
public struct Lease: Sendable, Equatable {
    public var clientKey: ClientKey
    public var mac: MACAddress?
    public var ip: IPv4Address
    public var hostname: String?
    /// Unix seconds.
    public var expiry: Int64
    public var state: LeaseState

    public init(clientKey: ClientKey, mac: MACAddress?, ip: IPv4Address, hostname: String? = nil,
                expiry: Int64, state: LeaseState) {
        self.clientKey = clientKey
        self.mac = mac
        self.ip = ip
        self.hostname = hostname
        self.expiry = expiry
        self.state = state
    }

    /// Active and not yet expired.
    public func isBound(now: Double) -> Bool { state == .active && Double(expiry) > now }
    /// Declined and still in quarantine.
    public func isQuarantined(now: Double) -> Bool { state == .declined && Double(expiry) > now }
}

/// The name the server state machine uses for a record it asks the I/O layer to persist.
public typealias LeaseRecord = Lease
