import PXEConfig

/// `pxed IFACE ROOT BOOTFILE`: the seed's one-call PXE server as an in-memory configuration.
public enum OneCallMode {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public static func configuration(interface: String, root: String, bootFile: String, rfc1350: Bool,
                                     gateway: IPv4Address?, nameServers: [IPv4Address], answerAll: Bool,
                                     tftpPort: UInt16 = 69, dhcpPort: UInt16 = 67,
                                     leaseFile: String = "/var/lib/pxed/leases") throws -> PXEConfiguration {
        let found: NetworkInterfaces.Found
        do { found = try NetworkInterfaces.firstIPv4(of: interface) } catch { throw Failure(description: "\(error)") }
        guard found.network.prefixLength <= 30 else {
            throw Failure(description: "\(interface) has a /\(found.network.prefixLength) network: no room for a DHCP pool")
        }
        // The pool is the larger side of the subnet around our own address.
        let first = found.network.network.value + 1, last = found.network.broadcastAddress.value - 1
        let me = found.address.value
        let (start, end) = (me - first >= last - me) ? (first, me - 1) : (me + 1, last)
        var pool = DHCPPoolConfig(subnet: found.network, rangeStart: IPv4Address(start), rangeEnd: IPv4Address(end))
        pool.router = gateway
        pool.dns = nameServers
        pool.pxeOnly = !answerAll
        pool.port = dhcpPort
        var tftp = TFTPSettings()
        tftp.root = root
        tftp.port = tftpPort
        tftp.rfc1350 = rfc1350
        var iface = InterfaceConfig(name: interface)
        iface.address = found.address
        iface.tftp = tftp
        iface.dhcp = pool
        var config = PXEConfiguration()
        config.source = "<one-call>"
        config.tftp = tftp
        config.interfaces = [iface]
        config.boot.default = bootFile
        config.leaseFile = leaseFile
        return config
    }
}
