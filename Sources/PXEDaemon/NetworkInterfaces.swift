import NIOCore
import NIOPosix
import PXEConfig

/// Looks up interface addresses, so configs and one-call modes can name an interface instead of
/// an address.
public enum NetworkInterfaces {
    public struct Found: Sendable, Equatable {
        public var name: String
        public var address: IPv4Address
        public var network: IPv4Network
        public var index: Int
    }

    public enum LookupError: Error, CustomStringConvertible, Sendable {
        case noSuchInterface(String)
        case noIPv4(String)
        public var description: String {
            switch self {
            case .noSuchInterface(let n): "interface \(n) does not exist"
            case .noIPv4(let n): "interface \(n) has no IPv4 address"
            }
        }
    }

    /// The first IPv4 address of `name`, with its network.
    public static func firstIPv4(of name: String) throws -> Found {
        let devices = try System.enumerateDevices()
        let named = devices.filter { $0.name == name }
        guard !named.isEmpty else { throw LookupError.noSuchInterface(name) }
        for device in named {
            guard let address = device.address, case .v4 = address, let text = address.ipAddress,
                  let ip = IPv4Address(text) else { continue }
            var prefix = 32
            if let mask = device.netmask?.ipAddress, let m = IPv4Address(mask) {
                prefix = m.value.nonzeroBitCount
            }
            return Found(name: name, address: ip, network: IPv4Network(network: ip, prefixLength: prefix), index: device.interfaceIndex)
        }
        throw LookupError.noIPv4(name)
    }
}
