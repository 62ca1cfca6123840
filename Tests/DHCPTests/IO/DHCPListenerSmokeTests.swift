@testable import DHCP
import NIOCore
import PXEConfig
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A blocking UDP socket on 127.0.0.1 (loopback only; nothing leaves the host).
final class LoopbackUDP {
    let fd: CInt

    init() throws {
        fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        var addr = Self.address(port: 0)
        let r = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try #require(fd >= 0 && r == 0)
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    static func address(port: UInt16) -> sockaddr_in {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = port.bigEndian
        a.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return a
    }

    func send(_ bytes: [UInt8], to port: UInt16) {
        var a = Self.address(port: port)
        _ = withUnsafePointer(to: &a) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                bytes.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, sa, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
    }

    /// The next datagram, or nil after the 5 s timeout.
    func receive() -> [UInt8]? {
        var buf = [UInt8](repeating: 0, count: 2048)
        let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return n > 0 ? Array(buf.prefix(n)) : nil
    }

    func receiveMessage() -> DHCPMessage? { receive().flatMap { try? DHCPMessage.decode(bytes: $0) } }
}

/// One end-to-end run on loopback: requests arrive "through a relay" at 127.0.0.1 so every reply
/// is unicast back to it; no broadcast is ever sent.
@Suite struct DHCPListenerSmokeTests {
    func settings(hosts: [HostEntry] = []) -> DHCPServiceConfig {
        var pool = makePool()
        var loop = DHCPPoolConfig(subnet: IPv4Network("127.0.0.0/8")!, rangeStart: ip("127.0.0.100"),
                                  rangeEnd: ip("127.0.0.150"))
        loop.leaseTime = 600
        pool.relayPools = [loop]
        return makeSettings(pool: pool, hosts: hosts)
    }

    @Test func doraOverLoopbackPersistsBeforeAcking() async throws {
        let dir = ScratchDirectory()
        let path = dir.file("leases")
        let (store, _) = try LeaseStore.open(path: path)
        let listener = try await DHCPListener.start(settings: settings(), port: 0, leases: store,
                                                    bindAddress: "127.0.0.1", bindToDevice: false)
        let port = try #require(listener.localAddress?.port).map { UInt16($0) }
        let server = try #require(port)
        let client = try LoopbackUDP()

        let c = relayed("52:54:00:00:00:01")
        client.send(c.discover().encode(), to: server)
        let offer = try #require(client.receiveMessage())
        #expect(offer.options.messageType == .offer)
        #expect(offer.yiaddr >= ip("127.0.0.100") && offer.yiaddr <= ip("127.0.0.150"))
        #expect(offer.fileName == "undionly.kpxe")

        client.send(c.select(offer.yiaddr).encode(), to: server)
        let ack = try #require(client.receiveMessage())
        #expect(ack.options.messageType == .ack)
        #expect(ack.yiaddr == offer.yiaddr)
        // The record was durable before the ACK left.
        #expect(try LeaseStore.readLeases(path: path).leases.map(\.ip) == [offer.yiaddr])

        // Malformed datagrams are dropped and counted.
        client.send([1, 2, 3], to: server)
        client.send(Array(c.discover().encode().prefix(250)) + [12, 200], to: server)

        // A burst of REQUESTs: group commit, every ACK still after its record.
        let burst = (0..<12).map { i in relayed("52:54:00:00:01:\(i < 10 ? "0" : "")\(i)") }
        for (i, b) in burst.enumerated() { client.send(b.initReboot(IPv4Address(127, 0, 0, 130 + UInt8(i))).encode(), to: server) }
        var acked: Set<IPv4Address> = []
        for _ in burst {
            guard let m = client.receiveMessage() else { break }
            #expect(m.options.messageType == .ack)
            acked.insert(m.yiaddr)
        }
        #expect(acked.count == burst.count)
        let onDisk = Set(try LeaseStore.readLeases(path: path).leases.map(\.ip))
        #expect(acked.isSubset(of: onDisk))

        // Reload: a new reservation changes the next OFFER; the lease survives.
        await listener.apply(settings: settings(hosts: [host("52:54:00:00:00:01", ip: "127.0.0.120")]))
        client.send(c.discover().encode(), to: server)
        #expect(client.receiveMessage()?.yiaddr == ip("127.0.0.120"))
        #expect(await listener.currentLeases().contains { $0.ip == offer.yiaddr })

        let stats = listener.stats
        #expect(stats.malformed == 2)
        #expect(stats.offers == 2)
        #expect(stats.acks == 13)
        #expect(stats.sent == 15)
        #expect(stats.persistErrors == 0)
        #expect(stats.received == 17)
        await listener.stop()
        store.close()
    }

    /// A burst must not overflow the default ~200 KiB queue: the socket asks for 4 MiB (the kernel
    /// caps SO_RCVBUF at rmem_max; SO_RCVBUFFORCE, as root, does not), and getsockopt reports double.
    @Test func receiveBufferIsLarge() async throws {
        let listener = try await DHCPListener.start(settings: settings(), port: 0, leases: nil,
                                                    bindAddress: "127.0.0.1", bindToDevice: false)
        let size = try await listener.receiveBufferSize()
        let rmemMax = (try? FileIO.readFile("/proc/sys/net/core/rmem_max")).flatMap { $0 }
            .flatMap { Int(String(decoding: $0.filter { (48...57).contains($0) }, as: UTF8.self)) } ?? 212_992
        let floor = geteuid() == 0 ? DHCPListener.receiveBufferBytes : min(DHCPListener.receiveBufferBytes, rmemMax)
        #expect(size >= floor)
        await listener.stop()
    }

    @Test func socketAddressConversionsSkipText() {
        let a = DHCPChannelHandler.socketAddress(ip("10.79.0.2"), port: 67)
        #expect(a.port == 67)
        #expect(a.ipAddress == "10.79.0.2")
        #expect(DHCPChannelHandler.ipv4(a) == ip("10.79.0.2"))
        #expect(DHCPChannelHandler.ipv4(try! SocketAddress(ipAddress: "255.255.255.255", port: 68)) == .broadcast)
        #expect(DHCPChannelHandler.ipv4(try! SocketAddress(ipAddress: "::1", port: 68)) == nil)
    }
}
