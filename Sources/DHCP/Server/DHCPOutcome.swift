import PXEConfig

/// Where a request came from, as the I/O layer saw it.
public struct RequestContext: Sendable, Equatable {
    /// Ingress interface name.
    public var interface: String
    public var sourceAddress: IPv4Address
    public var sourcePort: UInt16
    /// Sent to a broadcast address (a REQUEST with ciaddr set is then REBINDING, else RENEWING).
    public var arrivedAsBroadcast: Bool

    public init(interface: String, sourceAddress: IPv4Address = .any, sourcePort: UInt16 = 68,
                arrivedAsBroadcast: Bool = true) {
        self.interface = interface
        self.sourceAddress = sourceAddress
        self.sourcePort = sourcePort
        self.arrivedAsBroadcast = arrivedAsBroadcast
    }
}

/// Where a reply goes (RFC 2131 §4.1).
public struct ReplyDestination: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// giaddr ≠ 0: unicast to the relay agent on the server port.
        case relay
        /// ciaddr ≠ 0: unicast to the client's current address.
        case clientAddress
        /// 255.255.255.255 on the client port.
        case broadcast
        /// Unicast to yiaddr; the I/O layer must first add an ARP entry for `hardwareAddress`
        /// (the client cannot answer ARP yet), or broadcast if it cannot.
        case newAddress
    }

    public static let clientPort: UInt16 = 68
    public static let serverPort: UInt16 = 67

    public var kind: Kind
    public var address: IPv4Address
    public var port: UInt16
    /// chaddr, for the ARP entry of a `.newAddress` reply.
    public var hardwareAddress: [UInt8]

    public init(kind: Kind, address: IPv4Address, port: UInt16, hardwareAddress: [UInt8] = []) {
        self.kind = kind
        self.address = address
        self.port = port
        self.hardwareAddress = hardwareAddress
    }

    public var isBroadcast: Bool { kind == .broadcast }

    public static let broadcast = ReplyDestination(kind: .broadcast, address: .broadcast, port: clientPort)
}

/// One datagram to send.
public struct DHCPReply: Sendable, Equatable {
    public var message: DHCPMessage
    public var destination: ReplyDestination
    /// Largest DHCP message the client accepts (from its option 57).
    public var maxMessageSize: Int

    public init(message: DHCPMessage, destination: ReplyDestination, maxMessageSize: Int = DHCPMessage.defaultMaxSize) {
        self.message = message
        self.destination = destination
        self.maxMessageSize = maxMessageSize
    }

    public func encoded() -> [UInt8] { message.encode(maxSize: maxMessageSize) }
}

/// Why a request got a DHCPNAK.
public enum NakReason: Sendable, Equatable, CustomStringConvertible {
    /// The address is not in this network (the client moved, or a stale INIT-REBOOT).
    case wrongNetwork
    /// In the network but outside the dynamic range and not the client's reservation.
    case outsideRange
    /// The client has a reservation for a different address.
    case clientHasReservation(IPv4Address)
    /// Reserved for another host.
    case reservedForAnotherClient
    /// Leased or offered to another client.
    case inUse
    /// Declined recently by a client.
    case quarantined
    /// The shared lease database says another client holds it (another server's lease, or the
    /// loser of two servers' simultaneous offers).
    case claimedElsewhere
    /// Network, broadcast or the server's own address.
    case invalidAddress

    public var description: String {
        switch self {
        case .wrongNetwork: "wrong network"
        case .outsideRange: "address outside the range"
        case .clientHasReservation(let a): "client has reservation \(a)"
        case .reservedForAnotherClient: "address reserved for another host"
        case .inUse: "address in use"
        case .quarantined: "address declined recently"
        case .claimedElsewhere: "address held by another client in the lease database"
        case .invalidAddress: "address not assignable"
        }
    }
}

/// Why a request got no answer.
public enum IgnoreReason: Sendable, Equatable, CustomStringConvertible {
    case notARequest
    case unknownMessageType(UInt8)
    /// OFFER/ACK/NAK sent to a server port.
    case serverMessage(DHCPMessageType)
    case dhcpDisabled
    case bootpDisabled
    /// giaddr matches no pool.
    case noPoolForRelay(IPv4Address)
    /// pxe-only pool and the client is neither network-booting nor a known host.
    case notNetworkBootClient
    case poolExhausted
    /// SELECTING REQUEST naming another server's id; our offer was released.
    case otherServerSelected(IPv4Address)
    /// RELEASE/DECLINE carrying another server's id.
    case notForThisServer(IPv4Address)
    /// REQUEST with neither option 50 nor ciaddr, or RELEASE/INFORM/DECLINE without an address.
    case missingAddress
    /// Non-authoritative, and the request is about an address we know nothing of.
    case notAuthoritative
    /// RELEASE/DECLINE for an address this client does not hold.
    case noMatchingLease
    /// BOOTP from a MAC with no reserved address.
    case unknownBOOTPClient
    /// BOOTP reservation outside the network the request came from.
    case reservationNotOnNetwork(IPv4Address)
    /// No usable chaddr.
    case noHardwareAddress
    /// Proxy mode: a message type a proxy does not answer (it hands out no addresses).
    case notForProxy(DHCPMessageType)
    /// Proxy mode: the boot table has nothing for this client.
    case noBootFile
    /// The lease database cannot take writes, and the request needs one (a new address, a
    /// release, a decline): no answer until it is back.
    case leaseStoreUnavailable

    public var description: String {
        switch self {
        case .notARequest: "not a BOOTREQUEST"
        case .unknownMessageType(let t): "unknown DHCP message type \(t)"
        case .serverMessage(let t): "\(t) from a server"
        case .dhcpDisabled: "DHCP not served on this interface"
        case .bootpDisabled: "BOOTP not served on this interface"
        case .noPoolForRelay(let g): "no pool for relay \(g)"
        case .notNetworkBootClient: "not a network-boot client (pxe-only)"
        case .poolExhausted: "no free address"
        case .otherServerSelected(let s): "client selected server \(s)"
        case .notForThisServer(let s): "addressed to server \(s)"
        case .missingAddress: "no address in request"
        case .notAuthoritative: "no record of client (not authoritative)"
        case .noMatchingLease: "no matching lease"
        case .unknownBOOTPClient: "BOOTP client without reservation"
        case .reservationNotOnNetwork(let a): "reservation \(a) not on this network"
        case .noHardwareAddress: "no hardware address"
        case .notForProxy(let t): "\(t) is not answered by a proxy"
        case .noBootFile: "no boot file for this client"
        case .leaseStoreUnavailable: "lease database unavailable: no new addresses"
        }
    }
}

/// What happened, for logs and counters.
public enum DHCPEvent: Sendable, Equatable {
    case offered(IPv4Address)
    case acknowledged(IPv4Address)
    case negativelyAcknowledged(IPv4Address, NakReason)
    case released(IPv4Address)
    case declined(IPv4Address)
    case informed
    case bootpReplied(IPv4Address)
    /// Proxy DHCP: boot information for a PXE/HTTP client on port 67, no address.
    case proxyOffered
    /// Proxy DHCP: an ACK with the boot file, on the boot server port (4011) or to a port-67
    /// REQUEST that named this server.
    case proxyAcknowledged(bootServer: Bool)
    case ignored(IgnoreReason)
}

extension DHCPEvent {
    /// An OFFER of either kind (address or proxy).
    public var isOffer: Bool {
        switch self {
        case .offered, .proxyOffered: true
        default: false
        }
    }
}

/// Result of one request. The I/O layer must durably persist `leaseChanges` BEFORE it sends
/// `replies`.
public struct DHCPOutcome: Sendable, Equatable {
    public var replies: [DHCPReply]
    public var leaseChanges: [LeaseRecord]
    /// What each of `leaseChanges` replaces in the engine's book (nil: no record), so a change
    /// that could not be persisted can be taken back (`DHCPServer.persistFailed`).
    public var replacedRecords: [LeaseRecord?] = []
    public var event: DHCPEvent
    /// The boot file the reply names and why (nil: no boot information was sent).
    public var boot: BootDecision?

    public init(replies: [DHCPReply] = [], leaseChanges: [LeaseRecord] = [], event: DHCPEvent,
                boot: BootDecision? = nil) {
        self.replies = replies
        self.leaseChanges = leaseChanges
        self.event = event
        self.boot = boot
    }

    public static func ignored(_ why: IgnoreReason) -> DHCPOutcome { DHCPOutcome(event: .ignored(why)) }

    /// The single reply, if there is exactly one.
    public var reply: DHCPReply? { replies.count == 1 ? replies.first : nil }
}
