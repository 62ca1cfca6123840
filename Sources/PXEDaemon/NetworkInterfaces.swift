#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
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

    /// The first global, else unique-local, IPv6 address of `name` (nil: none, or no such interface).
    public static func firstIPv6(of name: String) -> IPv6Address? {
        guard let devices = try? System.enumerateDevices() else { return nil }
        let candidates = devices.filter { $0.name == name }.compactMap { d -> IPv6Address? in
            guard let address = d.address, case .v6 = address, let text = address.ipAddress else { return nil }
            return IPv6Address(text.split(separator: "%").first ?? "")
        }
        return candidates.first(where: \.isGlobalUnicast) ?? candidates.first(where: \.isUniqueLocal)
    }

    /// The interface's hardware address (`/sys/class/net/NAME/address`), for the DHCPv6 DUID-LL.
    public static func macAddress(of name: String) -> MACAddress? {
        guard !name.contains("/"), !name.isEmpty else { return nil }
        let fd = open("/sys/class/net/\(name)/address", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return nil }
        let text = String(decoding: buffer[0..<n], as: UTF8.self)
        return MACAddress(text.split(separator: "\n").first ?? "")
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
