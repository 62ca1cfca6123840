import PXEConfig

/// Who a request comes from, as far as leases and held offers are concerned.
///
/// One machine that network-boots speaks DHCP three or four times per power-on (firmware PXE
/// client, iPXE or GRUB, the installer, the operating system), and each may identify itself
/// differently: firmware sends no client identifier, iPXE and udhcpc send `01`+MAC, systemd-networkd
/// a DUID. RFC 2131 makes option 61 the identity when it is present; taken literally, that splits
/// one machine into several clients and one boot into several leases. The rules here (stated in
/// the README, "Client identity") are the ones dnsmasq and Kea follow, plus one:
///
/// 1. A client identifier that is only the hardware type and `chaddr` names the hardware: it keys
///    the lease as `chaddr` does (`ClientKey(message:)` folds it to `hw:`).
/// 2. Two different client identifiers are two clients, even on one MAC (two operating systems of
///    one machine can each hold a lease).
/// 3. When either side is keyed by hardware address, the same MAC is the same client.
/// 4. (`DHCPServer.conflict`) An address reserved for a MAC belongs to that MAC against any lease or
///    offer of the same MAC, whatever identifier holds it.
public struct ClientIdentity: Sendable, Equatable, CustomStringConvertible {
    public var key: ClientKey
    /// The Ethernet address from `chaddr`; nil for other hardware types.
    public var mac: MACAddress?

    public init(key: ClientKey, mac: MACAddress?) {
        self.key = key
        self.mac = mac
    }

    /// Rules 2 and 3: whether a record held under `otherKey` by `otherMAC` is this client's.
    public func isSameClient(key otherKey: ClientKey, mac otherMAC: MACAddress?) -> Bool {
        if otherKey == key { return true }
        guard key.isHardwareAddress || otherKey.isHardwareAddress, let mac, let otherMAC else { return false }
        return mac == otherMAC
    }

    public func owns(_ lease: Lease) -> Bool { isSameClient(key: lease.clientKey, mac: lease.mac) }

    public var description: String { mac.map { "\(key) (\($0))" } ?? key.description }
}

extension ClientKey {
    /// Keyed by `chaddr` (no client identifier, or one that only repeats the hardware address).
    public var isHardwareAddress: Bool { rawValue.hasPrefix("hw:") }

    /// Rule 1 for records written before it existed: `id:01<mac>` stored with that MAC is `hw:<mac>`.
    func foldingEthernetIdentifier(mac: MACAddress?) -> ClientKey {
        guard let mac, rawValue.hasPrefix("id:01") else { return self }
        let hw = ClientKey.hardwareAddress(mac.bytes)
        return rawValue.dropFirst(5) == hw.rawValue.dropFirst(3) ? hw : self
    }
}
