import DHCP
import FuzzSupport
import PXEConfig

/// DHCP/BOOTP messages: decode never traps; encoding is stable (encode(decode(encode(m))) equals
/// encode(m)) and keeps every option; the server engine answers any decodable message without
/// trapping, with replies of at least 300 bytes.
let settings: DHCPServiceConfig = {
    var pool = DHCPPoolConfig(subnet: IPv4Network("10.0.0.0/24")!, rangeStart: IPv4Address("10.0.0.100")!,
                              rangeEnd: IPv4Address("10.0.0.110")!)
    pool.router = IPv4Address("10.0.0.1")
    pool.dns = [IPv4Address("10.0.0.1")!]
    pool.relayPools = [DHCPPoolConfig(subnet: IPv4Network("10.1.0.0/24")!, rangeStart: IPv4Address("10.1.0.10")!,
                                      rangeEnd: IPv4Address("10.1.0.20")!)]
    var host = HostEntry(mac: MACAddress("52:54:00:00:00:01")!)
    host.ip = IPv4Address("10.0.0.10")
    var boot = BootTable()
    boot.bios = "undionly.kpxe"
    boot.uefiX64 = "ipxe.efi"
    boot.ipxe = "http://10.0.0.1/boot.ipxe"
    boot.default = "pxelinux.0"
    return DHCPServiceConfig(interfaceName: "eth0", serverAddress: IPv4Address("10.0.0.1")!, pool: pool, bootp: true,
                             hosts: [host], boot: boot)
}()

/// The same boot table and host in proxy mode (no pool): port 67 and the boot server (4011).
let proxySettings: DHCPServiceConfig = {
    var s = settings
    s.pool = nil
    s.proxy = ProxyDHCPConfig()
    return s
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDHCP(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let message = try? DHCPMessage.decode(bytes: bytes) else { return 0 }
    if message.hasMagicCookie {
        let first = message.encode(maxSize: DHCPMessage.maximumDatagram)
        guard let decoded = try? DHCPMessage.decode(bytes: first) else {
            FuzzDriver.require(false, "our own encoding does not decode")
            return 0
        }
        FuzzDriver.require(decoded.options == message.options, "options changed in a round trip")
        FuzzDriver.require(decoded.encode(maxSize: DHCPMessage.maximumDatagram) == first, "encoding not stable")
        FuzzDriver.require(first.count >= DHCPMessage.minimumSize, "message shorter than 300 bytes")
    }
    var engine = DHCPServer(settings: settings)
    let context = RequestContext(interface: "eth0", sourceAddress: IPv4Address(bytes: bytes.prefix(4)),
                                 sourcePort: size % 2 == 0 ? 68 : 67, arrivedAsBroadcast: size % 3 == 0)
    for now in [1000.0, 1001.0] {
        let outcome = engine.handle(message, context: context, now: now)
        for reply in outcome.replies {
            let encoded = reply.encoded()
            FuzzDriver.require(encoded.count >= DHCPMessage.minimumSize, "reply shorter than 300 bytes")
            FuzzDriver.require((try? DHCPMessage.decode(bytes: encoded)) != nil, "reply does not decode")
        }
    }
    var proxy = DHCPServer(settings: proxySettings)
    for outcome in [proxy.handle(message, context: context, now: 1000), proxy.handleBootServer(message, context: context, now: 1000)] {
        FuzzDriver.require(outcome.leaseChanges.isEmpty, "a proxy recorded a lease")
        for reply in outcome.replies {
            let encoded = reply.encoded()
            FuzzDriver.require(encoded.count >= DHCPMessage.minimumSize, "proxy reply shorter than 300 bytes")
            let decoded = try? DHCPMessage.decode(bytes: encoded)
            FuzzDriver.require(decoded != nil, "proxy reply does not decode")
            // BOOTP replies to reserved hosts (bootp: true) still carry their address; DHCP ones never.
            if let decoded, decoded.isDHCP {
                FuzzDriver.require(decoded.yiaddr == .any, "a proxy DHCP reply carried an address")
            }
        }
    }
    return 0
}

@main struct FuzzDHCPMain {
    static func main() { FuzzDriver.main(fuzzDHCP) }
}
