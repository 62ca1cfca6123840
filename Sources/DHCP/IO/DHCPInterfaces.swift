import NIOCore
import PXEConfig

/// An interface's IPv4 address and network, as the kernel reports them.
public struct DHCPInterfaceAddress: Sendable, Equatable {
    public var name: String
    public var address: IPv4Address
    public var network: IPv4Network
    public var index: Int

    public init(name: String, address: IPv4Address, network: IPv4Network, index: Int) {
        self.name = name
        self.address = address
        self.network = network
        self.index = index
    }

    /// The first IPv4 address of interface `name`, or nil when it has none.
    public static func lookup(_ name: String) throws -> DHCPInterfaceAddress? {
        for device in try System.enumerateDevices() where device.name == name {
            guard let ip = device.address?.ipAddress.flatMap({ IPv4Address($0) }) else { continue }
            let mask = device.netmask?.ipAddress.flatMap { IPv4Address($0) } ?? IPv4Address(0xFFFF_FFFF)
            let prefix = mask.value.nonzeroBitCount
            return DHCPInterfaceAddress(name: name, address: ip,
                                        network: IPv4Network(network: ip, prefixLength: prefix),
                                        index: device.interfaceIndex)
        }
        return nil
    }
}
