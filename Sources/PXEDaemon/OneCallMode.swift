import PXEConfig

/// The one-interface servers as in-memory configurations: `pxed IFACE ROOT BOOTFILE` (the seed's
/// one-call PXE server), `pdhcpd` and `pbootpd`. All three build their configuration here, from
/// the interface's own address and network, with one default-pool rule.
public enum OneCallMode {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        /// For the standalone tools: 69 (EX_UNAVAILABLE) when the interface has no address,
        /// 64 (EX_USAGE) when the command line asks for something the interface cannot give.
        public var exitCode: Int32 = 64
    }

    /// DHCP on the interface.
    public struct DHCPSetup: Sendable {
        /// nil: the larger side of the interface's subnet around our own address.
        public var range: (IPv4Address, IPv4Address)? = nil
        public var router: IPv4Address? = nil
        public var nameServers: [IPv4Address] = []
        /// Answer only network-booting clients and listed hosts.
        public var pxeOnly = true
        public var port: UInt16 = 67
        public var leaseTime = 3600
        /// Proxy DHCP beside the site's DHCP server: boot information only, no pool (range,
        /// router, name servers and answer-all do not apply).
        public var proxy = false
        public init() {}
    }

    /// Everything a one-interface server runs.
    public struct Setup: Sendable {
        public var interface: String
        public var bootFile: String
        public var nextServer: IPv4Address? = nil
        /// nil: no TFTP server.
        public var tftp: TFTPSettings? = nil
        /// nil: no DHCP.
        public var dhcp: DHCPSetup? = nil
        /// BOOTP answers for these reservations (nil: no BOOTP).
        public var bootpHosts: [HostEntry]? = nil
        public var leaseFile = "/var/lib/pxed/leases"
        public init(interface: String, bootFile: String) {
            self.interface = interface
            self.bootFile = bootFile
        }
    }

    /// The configuration for `setup`, with the interface as found (address and network).
    public static func configuration(_ setup: Setup) throws -> (PXEConfiguration, ResolvedInterface) {
        let found: NetworkInterfaces.Found
        do { found = try NetworkInterfaces.firstIPv4(of: setup.interface) } catch { throw Failure(description: "\(error)", exitCode: 69) }
        var iface = InterfaceConfig(name: setup.interface)
        iface.address = found.address
        iface.tftp = setup.tftp
        if let dhcp = setup.dhcp {
            if dhcp.proxy {
                var proxy = ProxyDHCPConfig()
                proxy.port = dhcp.port
                iface.dhcpProxy = proxy
            } else {
                iface.dhcp = try pool(dhcp, found: found)
            }
        }
        var config = PXEConfiguration()
        config.source = "<one-call>"
        if let tftp = setup.tftp { config.tftp = tftp }
        if let hosts = setup.bootpHosts {
            iface.bootp = true
            config.hosts = hosts
        }
        config.interfaces = [iface]
        config.boot.default = setup.bootFile
        config.boot.nextServer = setup.nextServer
        config.leaseFile = setup.leaseFile
        return (config, ResolvedInterface(config: iface, address: found.address, network: found.network))
    }

    static func pool(_ setup: DHCPSetup, found: NetworkInterfaces.Found) throws -> DHCPPoolConfig {
        let subnet = found.network
        let start: IPv4Address, end: IPv4Address
        if let (a, b) = setup.range {
            guard subnet.contains(a), subnet.contains(b) else {
                throw Failure(description: "range \(a)-\(b) is not inside \(subnet) on \(found.name)")
            }
            (start, end) = (a, b)
        } else {
            guard subnet.prefixLength <= 30 else {
                throw Failure(description: "\(found.name) has a /\(subnet.prefixLength) network: no room for a DHCP pool")
            }
            // The larger side of the subnet around our own address: never our address, and one
            // contiguous range.
            let first = subnet.network.value + 1, last = subnet.broadcastAddress.value - 1
            let me = found.address.value
            (start, end) = (me - first >= last - me) ? (IPv4Address(first), IPv4Address(me - 1)) : (IPv4Address(me + 1), IPv4Address(last))
        }
        var pool = DHCPPoolConfig(subnet: subnet, rangeStart: start, rangeEnd: end)
        pool.router = setup.router
        pool.dns = setup.nameServers
        pool.pxeOnly = setup.pxeOnly
        pool.port = setup.port
        pool.leaseTime = setup.leaseTime
        return pool
    }

    /// `pxed IFACE ROOT BOOTFILE`: TFTP and (PXE-only unless `answerAll`) DHCP on IFACE.
    public static func configuration(interface: String, root: String, bootFile: String, rfc1350: Bool,
                                     gateway: IPv4Address?, nameServers: [IPv4Address], answerAll: Bool,
                                     tftpPort: UInt16 = 69, dhcpPort: UInt16 = 67,
                                     leaseFile: String = "/var/lib/pxed/leases", proxy: Bool = false) throws -> PXEConfiguration {
        if proxy {
            let clash = [gateway != nil ? "-g" : nil, nameServers.isEmpty ? nil : "-n", answerAll ? "-a" : nil].compactMap { $0 }
            guard clash.isEmpty else {
                throw Failure(description: "\(clash.joined(separator: ", ")) does not apply with --proxy: the site's DHCP server hands out addresses and network settings")
            }
        }
        var tftp = TFTPSettings()
        tftp.root = root
        tftp.port = tftpPort
        tftp.rfc1350 = rfc1350
        var dhcp = DHCPSetup()
        dhcp.router = gateway
        dhcp.nameServers = nameServers
        dhcp.pxeOnly = !answerAll
        dhcp.port = dhcpPort
        dhcp.proxy = proxy
        var setup = Setup(interface: interface, bootFile: bootFile)
        setup.tftp = tftp
        setup.dhcp = dhcp
        setup.leaseFile = leaseFile
        return try configuration(setup).0
    }
}
