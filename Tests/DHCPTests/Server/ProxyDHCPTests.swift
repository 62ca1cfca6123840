@testable import DHCP
import PXEConfig
import Testing

/// Proxy DHCP as state-machine scripts: the bytes of the port-67 proxy offer and of the
/// boot server's (4011) ACK for each kind of client, and what a proxy must leave unanswered.
@Suite struct ProxyDHCPTests {
    static let uuid: [UInt8] = [0] + Array(1...16)
    let tftpServer = ip("10.0.0.9")

    func proxySettings(nextServer: IPv4Address? = nil, hosts: [HostEntry] = []) -> DHCPServiceConfig {
        var s = makeSettings(pool: nil, hosts: hosts)
        s.proxy = ProxyDHCPConfig()
        s.boot.nextServer = nextServer
        return s
    }

    func client(_ m: String, _ firmware: Firmware, uuid: [UInt8]? = ProxyDHCPTests.uuid) -> TestClient {
        var c = TestClient(m, firmware: firmware)
        if let uuid { c.extra = [DHCPOption(.clientMachineIdentifier, uuid)] }
        return c
    }

    /// Checks shared by every proxy reply: no address, no lease options, 54, 60, the client's fields.
    func expectProxyShape(_ o: DHCPMessage, type: DHCPMessageType, vendorClass: String = "PXEClient",
                          of c: TestClient) {
        #expect(o.op == .bootReply && o.xid == c.xid)
        #expect(o.yiaddr == .any)
        #expect(o.chaddr.prefix(6).elementsEqual(c.chaddr))
        #expect(o.options.messageType == type)
        #expect(o.options.serverIdentifier == serverIP)
        #expect(o.options.string(.vendorClassIdentifier) == vendorClass)
        #expect(!o.options.contains(.leaseTime) && !o.options.contains(.subnetMask) && !o.options.contains(.router))
    }

    @Test func biosOfferCarriesDiscoveryControlAndTheFile() throws {
        var s = DHCPServer(settings: proxySettings(nextServer: tftpServer))
        let c = client("52:54:00:00:01:00", .pxe(arch: 0))
        let out = s.handle(c.discover(), context: broadcastContext, now: t0)
        #expect(out.event == .proxyOffered && out.leaseChanges.isEmpty)
        let o = try #require(out.wire)
        expectProxyShape(o, type: .offer, of: c)
        #expect(o.isBroadcastFlagSet)
        #expect(out.reply?.destination == .broadcast)
        #expect(o.siaddr == tftpServer)
        #expect(o.fileName == "undionly.kpxe")
        #expect(o.options[.vendorSpecific] == [6, 1, 8, 255])
        #expect(o.options[.clientMachineIdentifier] == Self.uuid)
        #expect(o.options.string(.bootfileName) == "undionly.kpxe")   // asked for in option 55
        #expect(s.leases.isEmpty)
    }

    /// edk2 treats any PXE sub-option in 43 as a PXE 1.0 menu offer and sends its 4011 request to
    /// siaddr: the UEFI offer has no 43 and names pxed, whatever the TFTP server is.
    @Test func uefiOfferHasNoOption43AndNamesPxedAsTheBootServer() throws {
        var s = DHCPServer(settings: proxySettings(nextServer: tftpServer))
        for arch: UInt16 in [6, 7, 9, 11] {
            let c = client("52:54:00:00:02:0\(arch % 10)", .pxe(arch: arch))
            let o = try #require(s.handle(c.discover(), context: broadcastContext, now: t0).wire)
            expectProxyShape(o, type: .offer, of: c)
            #expect(!o.options.contains(.vendorSpecific), "arch \(arch)")
            #expect(o.siaddr == serverIP, "arch \(arch)")
            #expect(o.options[.clientMachineIdentifier] == Self.uuid)
        }
    }

    @Test func bootServerAckForUEFIComesBackToItsSourcePort() throws {
        var s = DHCPServer(settings: proxySettings(nextServer: tftpServer))
        let c = client("52:54:00:00:02:07", .pxe(arch: 7))
        let request = c.message(.request, ciaddr: ip("10.0.0.150"))
        let from = RequestContext(interface: "eth0", sourceAddress: ip("10.0.0.150"), sourcePort: 4011, arrivedAsBroadcast: false)
        let out = s.handleBootServer(request, context: from, now: t0)
        #expect(out.event == .proxyAcknowledged(bootServer: true))
        let a = try #require(out.wire)
        expectProxyShape(a, type: .ack, of: c)
        #expect(a.ciaddr == ip("10.0.0.150"))
        #expect(a.siaddr == tftpServer)
        #expect(a.fileName == "ipxe.efi")
        #expect(!a.options.contains(.vendorSpecific))
        #expect(a.options[.clientMachineIdentifier] == Self.uuid)
        #expect(out.reply?.destination == ReplyDestination(kind: .clientAddress, address: ip("10.0.0.150"), port: 4011))
        // iPXE asks from port 68: the answer goes there.
        let from68 = RequestContext(interface: "eth0", sourceAddress: ip("10.0.0.150"), sourcePort: 68, arrivedAsBroadcast: false)
        #expect(s.handleBootServer(request, context: from68, now: t0).reply?.destination.port == 68)
    }

    /// Rule for a bad or missing option 97 on 4011: answer, and leave 97 out (never echo garbage).
    @Test(arguments: [nil, Array(repeating: UInt8(7), count: 16), [1] + Array(repeating: UInt8(7), count: 16)])
    func bootServerAnswersWithoutAValidUUIDAndLeavesItOut(_ uuid: [UInt8]?) throws {
        var s = DHCPServer(settings: proxySettings())
        let c = client("52:54:00:00:02:17", .pxe(arch: 7), uuid: uuid)
        let from = RequestContext(interface: "eth0", sourceAddress: ip("10.0.0.151"), sourcePort: 4011, arrivedAsBroadcast: false)
        let a = try #require(s.handleBootServer(c.message(.request, ciaddr: ip("10.0.0.151")), context: from, now: t0).wire)
        #expect(a.options.messageType == .ack && a.fileName == "ipxe.efi")
        #expect(!a.options.contains(.clientMachineIdentifier))
    }

    @Test func bootServerEchoesABootItem() throws {
        var s = DHCPServer(settings: proxySettings())
        var c = client("52:54:00:00:01:01", .pxe(arch: 0))
        c.extra.append(DHCPOption(.vendorSpecific, [71, 4, 0x80, 0x00, 0x00, 0x00, 255]))
        let from = RequestContext(interface: "eth0", sourceAddress: ip("10.0.0.152"), sourcePort: 4011, arrivedAsBroadcast: false)
        let a = try #require(s.handleBootServer(c.message(.request, ciaddr: ip("10.0.0.152")), context: from, now: t0).wire)
        #expect(a.options[.vendorSpecific] == [71, 4, 0x80, 0x00, 0x00, 0x00, 255])
        #expect(a.fileName == "undionly.kpxe")
    }

    @Test func ipxeGetsTheScriptDirectly() throws {
        var s = DHCPServer(settings: proxySettings(nextServer: tftpServer))
        let c = client("52:54:00:00:03:00", .ipxe)
        let o = try #require(s.handle(c.discover(), context: broadcastContext, now: t0).wire)
        expectProxyShape(o, type: .offer, of: c)
        #expect(o.fileName == "boot.ipxe" && o.siaddr == tftpServer)
        #expect(!o.options.contains(.vendorSpecific))
    }

    @Test func httpClientGetsItsURIIn67() throws {
        let h = host("52:54:00:00:04:00", boot: "http://10.0.0.1/boot.efi")
        var s = DHCPServer(settings: proxySettings(hosts: [h]))
        var c = client("52:54:00:00:04:00", .http(arch: 16))
        c.requestList = [1, 3, 6]
        let o = try #require(s.handle(c.discover(), context: broadcastContext, now: t0).wire)
        expectProxyShape(o, type: .offer, vendorClass: "HTTPClient", of: c)
        #expect(o.fileName == "http://10.0.0.1/boot.efi")
        #expect(o.options.string(.bootfileName) == "http://10.0.0.1/boot.efi")
        #expect(!o.options.contains(.vendorSpecific))
    }

    @Test func aReservationPicksItsBootFile() throws {
        let h = host("52:54:00:00:05:00", boot: "special.efi")
        var s = DHCPServer(settings: proxySettings(hosts: [h]))
        let o = try #require(s.handle(client("52:54:00:00:05:00", .pxe(arch: 7)).discover(), context: broadcastContext, now: t0).wire)
        #expect(o.fileName == "special.efi" && o.yiaddr == .any)
    }

    @Test func whatAProxyLeavesAlone() {
        var s = DHCPServer(settings: proxySettings())
        let plain = TestClient("52:54:00:00:06:00", firmware: .plain)
        #expect(s.handle(plain.discover(), context: broadcastContext, now: t0).ignoreReason == .notNetworkBootClient)
        let pxe = client("52:54:00:00:06:01", .pxe(arch: 7))
        // A REQUEST for the site's server, or with no server id (INIT-REBOOT, renewal): not ours.
        #expect(s.handle(pxe.select(ip("10.0.0.2"), server: ip("10.0.0.2")), context: broadcastContext, now: t0).ignoreReason
                == .otherServerSelected(ip("10.0.0.2")))
        #expect(s.handle(pxe.initReboot(ip("10.0.0.150")), context: broadcastContext, now: t0).ignoreReason == .notForProxy(.request))
        #expect(s.handle(pxe.decline(ip("10.0.0.150")), context: broadcastContext, now: t0).ignoreReason == .notForProxy(.decline))
        // On 4011: a DISCOVER, or a client that is not PXE, gets nothing.
        let from = RequestContext(interface: "eth0", sourceAddress: ip("10.0.0.150"), sourcePort: 4011, arrivedAsBroadcast: false)
        #expect(s.handleBootServer(pxe.discover(), context: from, now: t0).ignoreReason == .notForProxy(.discover))
        #expect(s.handleBootServer(plain.message(.request, ciaddr: ip("10.0.0.150")), context: from, now: t0).ignoreReason
                == .notNetworkBootClient)
        #expect(s.leases.isEmpty)
    }

    @Test func aRequestNamingThisServerGetsAProxyAck() throws {
        var s = DHCPServer(settings: proxySettings())
        let c = client("52:54:00:00:07:00", .pxe(arch: 0))
        let out = s.handle(c.select(.any, server: serverIP), context: broadcastContext, now: t0)
        #expect(out.event == .proxyAcknowledged(bootServer: false))
        let a = try #require(out.wire)
        expectProxyShape(a, type: .ack, of: c)
        #expect(a.fileName == "undionly.kpxe")
    }

    @Test func noBootFileNoAnswer() {
        var settings = proxySettings()
        settings.boot = BootTable()
        var s = DHCPServer(settings: settings)
        #expect(s.handle(client("52:54:00:00:08:00", .pxe(arch: 7)).discover(), context: broadcastContext, now: t0).ignoreReason
                == .noBootFile)
    }
}
