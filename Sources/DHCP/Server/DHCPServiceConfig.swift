import PXEConfig

/// Everything one interface's DHCP/BOOTP engine needs: an immutable generation built from the
/// shared configuration. `DHCPServer.apply(settings:)` swaps it without touching leases.
public struct DHCPServiceConfig: Sendable, Equatable {
    public var interfaceName: String
    /// Our address on the interface: option 54, and next-server unless `boot.nextServer` is set.
    public var serverAddress: IPv4Address
    /// The interface's own network (subnet mask for BOOTP replies when no DHCP pool covers them).
    public var interfaceNetwork: IPv4Network?
    /// The interface's DHCP pool (with its `relayPools`); nil: DHCP is not served here.
    public var pool: DHCPPoolConfig?
    /// Proxy DHCP (boot information only, plus the boot server on 4011); exclusive with `pool`.
    public var proxy: ProxyDHCPConfig?
    /// `http://ADDR:PORT` of this interface's HTTP engine, for HTTP Boot URLs (nil: no HTTP).
    public var httpBase: String? = nil
    /// Answer BOOTP (RFC 951) requests from hosts with a reservation.
    public var bootp: Bool
    /// Router for BOOTP replies whose address is not in a DHCP pool (else the pool's router).
    public var bootpRouter: IPv4Address?
    public var hosts: [HostEntry]
    public var boot: BootTable
    /// TFTP root; when set, BOOTP replies carry option 13 for boot files found under it.
    public var tftpRoot: String?
    /// Seconds an offered address stays reserved for the client it was offered to.
    public var offerHoldTime: Double = 30
    /// Seconds a declined address stays out of use.
    public var declineQuarantine: Double = 600
    /// Key leases by chaddr even when the client sends option 61.
    public var ignoreClientIdentifier: Bool = false
    /// NAK requests for addresses we have no record of when they are wrong for the network.
    /// Off for pxe-only pools, where another DHCP server usually owns the ordinary clients.
    public var authoritative: Bool
    /// Other servers write to the same leases (a shared database): scan the pool from an origin
    /// salted with this server's address, so two servers rarely offer one address, and let the
    /// database's claim decide on addresses this engine has no record of.
    public var sharedLeases: Bool = false

    public init(
        interfaceName: String, serverAddress: IPv4Address, interfaceNetwork: IPv4Network? = nil,
        pool: DHCPPoolConfig?, bootp: Bool = false, bootpRouter: IPv4Address? = nil, hosts: [HostEntry] = [],
        boot: BootTable = BootTable(), tftpRoot: String? = nil, authoritative: Bool? = nil,
        proxy: ProxyDHCPConfig? = nil
    ) {
        self.interfaceName = interfaceName
        self.serverAddress = serverAddress
        self.interfaceNetwork = interfaceNetwork ?? pool?.subnet
        self.pool = pool
        self.bootp = bootp
        self.bootpRouter = bootpRouter
        self.hosts = hosts
        self.boot = boot
        self.tftpRoot = tftpRoot
        self.authoritative = authoritative ?? !(pool?.pxeOnly ?? false)
        self.proxy = proxy
    }

    /// UDP port to listen on.
    public var port: UInt16 { proxy?.port ?? pool?.port ?? 67 }
}
