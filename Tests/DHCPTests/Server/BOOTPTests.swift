@testable import DHCP
import PXEConfig
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite struct BOOTPTests {
    let known = host("52:54:00:00:00:01", ip: "10.0.0.21", name: "legacy1")

    func settings(bootp: Bool = true, hosts: [HostEntry]? = nil, pool: DHCPPoolConfig? = makePool(),
                  tftpRoot: String? = "/srv/tftp") -> DHCPServiceConfig {
        makeSettings(pool: pool, hosts: hosts ?? [known], bootp: bootp, tftpRoot: tftpRoot)
    }

    /// A BOOTP request as RFC 951 defines it: no option 53.
    func request(_ m: String = "52:54:00:00:00:01", cookie: Bool = true) throws -> DHCPMessage {
        var p = RawPacket()
        p.chaddr = mac(m).bytes
        p.cookie = cookie
        p.end = cookie
        p.xid = 0xB007_0001
        return try DHCPMessage.decode(bytes: p.bytes)
    }

    @Test func withCookie() throws {
        var s = DHCPServer(settings: settings(), bootFileSize: { root, file in
            root == "/srv/tftp" && file == "pxelinux.0" ? 26_140 : nil
        })
        let r = s.handle(try request(), context: broadcastContext, now: t0)
        #expect(r.event == .bootpReplied(ip("10.0.0.21")))
        #expect(r.leaseChanges.isEmpty)
        let bytes = try #require(r.reply?.encoded())
        #expect(bytes.count == 300)
        let m = try DHCPMessage.decode(bytes: bytes)
        #expect(m.op == .bootReply)
        #expect(!m.isDHCP)
        #expect(m.xid == 0xB007_0001)
        #expect(m.yiaddr == ip("10.0.0.21"))
        #expect(m.siaddr == serverIP)
        #expect(m.fileName == "pxelinux.0")
        #expect(m.hasMagicCookie)
        #expect(m.options.ipv4Address(.subnetMask) == ip("255.255.255.0"))
        #expect(m.options.ipv4Address(.router) == ip("10.0.0.254"))
        #expect(m.options.hostName == "legacy1")
        #expect(m.options.uint16(.bootFileSize) == 52)   // 26140 bytes = 51.05 blocks → 52
        #expect(!m.options.contains(.serverIdentifier))
        #expect(r.reply?.destination == ReplyDestination(kind: .newAddress, address: ip("10.0.0.21"), port: 68,
                                                         hardwareAddress: mac("52:54:00:00:00:01").bytes))
    }

    @Test func withoutCookie() throws {
        var s = DHCPServer(settings: settings(), bootFileSize: { _, _ in nil })
        let req = try request(cookie: false)
        #expect(!req.hasMagicCookie)
        let r = s.handle(req, context: broadcastContext, now: t0)
        #expect(r.event == .bootpReplied(ip("10.0.0.21")))
        let bytes = try #require(r.reply?.encoded())
        #expect(bytes.count == 300)
        let m = try DHCPMessage.decode(bytes: bytes)
        #expect(m.yiaddr == ip("10.0.0.21"))
        #expect(!m.options.contains(.bootFileSize))   // file size unknown
    }

    @Test func unknownMACIsIgnored() throws {
        var s = DHCPServer(settings: settings())
        #expect(s.handle(try request("52:54:00:00:00:99"), context: broadcastContext, now: t0).ignoreReason
                == .unknownBOOTPClient)
        // A host entry without an address is not a BOOTP reservation either.
        var s2 = DHCPServer(settings: settings(hosts: [host("52:54:00:00:00:01", boot: "x")]))
        #expect(s2.handle(try request(), context: broadcastContext, now: t0).ignoreReason == .unknownBOOTPClient)
    }

    @Test func disabledOnThisInterface() throws {
        var s = DHCPServer(settings: settings(bootp: false))
        #expect(s.handle(try request(), context: broadcastContext, now: t0).ignoreReason == .bootpDisabled)
    }

    @Test func reservationOnAnotherNetworkIsIgnored() throws {
        var s = DHCPServer(settings: settings(hosts: [host("52:54:00:00:00:01", ip: "192.168.7.7")]))
        #expect(s.handle(try request(), context: broadcastContext, now: t0).ignoreReason
                == .reservationNotOnNetwork(ip("192.168.7.7")))
    }

    @Test func bootpOnlyInterface() throws {
        // pbootpd: no DHCP pool; the interface network and a router come from the settings.
        var boot = BootTable()
        boot.default = "boot.0"
        let cfg = DHCPServiceConfig(interfaceName: "eth0", serverAddress: serverIP,
                                    interfaceNetwork: IPv4Network("10.0.0.0/24")!, pool: nil, bootp: true,
                                    bootpRouter: ip("10.0.0.254"), hosts: [known], boot: boot)
        var s = DHCPServer(settings: cfg)
        let m = try #require(s.handle(try request(), context: broadcastContext, now: t0).wire)
        #expect(m.fileName == "boot.0")
        #expect(m.options.ipv4Address(.router) == ip("10.0.0.254"))
        #expect(m.options.ipv4Address(.subnetMask) == ip("255.255.255.0"))
        // DHCP is not served there.
        #expect(s.handle(TestClient("52:54:00:00:00:01").discover(), context: broadcastContext, now: t0).ignoreReason
                == .dhcpDisabled)
    }

    @Test func broadcastFlagAndRelay() throws {
        var s = DHCPServer(settings: settings())
        var req = try request()
        req.isBroadcastFlagSet = true
        #expect(s.handle(req, context: broadcastContext, now: t0).reply?.destination == .broadcast)
        req.giaddr = ip("10.0.0.254")
        req.hops = 2
        let r = s.handle(req, context: broadcastContext, now: t0)
        #expect(r.reply?.destination == ReplyDestination(kind: .relay, address: ip("10.0.0.254"), port: 67))
        #expect(r.wire?.hops == 2)
    }

    @Test func hostBootAndNextServer() throws {
        var table = makeBootTable()
        table.nextServer = ip("10.0.0.9")
        var cfg = settings(hosts: [host("52:54:00:00:00:01", ip: "10.0.0.21", boot: "mine.0")])
        cfg.boot = table
        var s = DHCPServer(settings: cfg)
        let m = try #require(s.handle(try request(), context: broadcastContext, now: t0).wire)
        #expect(m.fileName == "mine.0")
        #expect(m.siaddr == ip("10.0.0.9"))
    }

    @Test func realFileSizeUnderTFTPRoot() throws {
        let root = "/tmp/pxed-dhcp-bootp-\(getpid())"
        mkdir(root, 0o755)
        defer { unlink(root + "/pxelinux.0"); rmdir(root) }
        let fd = open(root + "/pxelinux.0", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let data = [UInt8](repeating: 0x90, count: 1024)
        _ = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        #expect(DHCPServer.statBootFile(root, "pxelinux.0") == 1024)
        #expect(DHCPServer.statBootFile(root, "/pxelinux.0") == 1024)
        #expect(DHCPServer.statBootFile(root, "../etc/passwd") == nil)
        #expect(DHCPServer.statBootFile(root, "missing") == nil)
        #expect(DHCPServer.statBootFile("/tmp", "") == nil)
        var s = DHCPServer(settings: settings(tftpRoot: root))
        #expect(s.handle(try request(), context: broadcastContext, now: t0).wire?.options.uint16(.bootFileSize) == 2)
    }
}
