import DHCP
@testable import DHCPv6
import PXEConfig
import Testing

func ip6(_ s: String) -> IPv6Address {
    guard let a = IPv6Address(s) else { fatalError("bad test address \(s)") }
    return a
}

let t0: Double = 1_750_000_000
let serverDUID: [UInt8] = DHCPv6Settings.duidLL(MACAddress("02:00:00:00:00:01")!)

func settings() -> DHCPv6Settings {
    var s = DHCPv6Settings(interfaceName: "eth0", serverDUID: serverDUID, prefix: ip6("fd00:1::"), prefixLength: 64,
                           rangeStart: ip6("fd00:1::100"), rangeEnd: ip6("fd00:1::1ff"))
    s.dns = [ip6("fd00:1::1")]
    s.boot.uefiX64 = "snponly.efi"
    s.boot.ipxe = "http://[fd00:1::1]/boot.ipxe"
    s.tftpBase = "tftp://[fd00:1::1]"
    s.httpBase = "http://[fd00:1::1]"
    return s
}

/// A scripted DHCPv6 client.
struct Client6 {
    var duid: [UInt8]
    var iaid: UInt32 = 1
    var xid: UInt32 = 0x123456
    var extra: [DHCPv6Option] = []

    init(mac: String) { duid = DHCPv6Settings.duidLL(MACAddress(mac)!) }

    func message(_ type: DHCPv6MessageType, server: [UInt8]? = nil, addresses: [IPv6Address] = [],
                 rapid: Bool = false) -> [UInt8] {
        var o = [DHCPv6Option(.clientID, duid)]
        if let server { o.append(DHCPv6Option(.serverID, server)) }
        o.append(DHCPv6Option(.iaNA, IANA(iaid: iaid, options: addresses.map { IANA.address($0, preferred: 0, valid: 0) }).encoded()))
        o.append(DHCPv6Option(.elapsedTime, [0, 0]))
        if rapid { o.append(DHCPv6Option(.rapidCommit, [])) }
        return DHCPv6Message(type: type, transactionID: xid, options: o + extra).encode()
    }
}

extension DHCPv6Outcome {
    var message: DHCPv6Message? { reply.flatMap { try? DHCPv6Message.decode($0) } }
    var address: IPv6Address? { message.flatMap { m in m.first(.iaNA).flatMap { try? IANA(decoding: $0) }?.requestedAddresses.first } }
    var iaStatus: UInt16? {
        guard let ia = message?.first(.iaNA).flatMap({ try? IANA(decoding: $0) }),
              let s = ia.options.first(where: { $0.code == .statusCode })?.data, s.count >= 2 else { return nil }
        return UInt16(s[0]) << 8 | UInt16(s[1])
    }
}

@Suite struct DHCPv6ServerTests {
    @Test func solicitAdvertiseRequestReply() throws {
        var s = DHCPv6Server(settings: settings())
        let c = Client6(mac: "52:54:00:00:06:01")
        let adv = s.handle(c.message(.solicit), now: t0)
        #expect(adv.event == .advertised && adv.leaseChanges.isEmpty)
        let m = try #require(adv.message)
        #expect(m.type == .advertise && m.transactionID == c.xid)
        #expect(m.first(.serverID) == serverDUID && m.first(.clientID) == c.duid)
        let offered = try #require(adv.address)
        #expect(s.settings.inRange(offered))
        #expect(m.first(.dnsServers) == ip6("fd00:1::1").bytes)
        let ia = try #require(m.first(.iaNA).flatMap { try? IANA(decoding: $0) })
        #expect(ia.iaid == 1 && ia.t1 == 1500 && ia.t2 == 2400)

        let rep = s.handle(c.message(.request, server: serverDUID, addresses: [offered]), now: t0 + 1)
        #expect(rep.message?.type == .reply && rep.address == offered)
        #expect(rep.leaseChanges.map(\.address) == [offered] && rep.leaseChanges.first?.state == .active)
        // The same client asks again: same address.
        #expect(s.handle(c.message(.solicit), now: t0 + 2).address == offered)
        // Another client: another address.
        let other = s.handle(Client6(mac: "52:54:00:00:06:02").message(.solicit), now: t0 + 2)
        #expect(other.address != nil && other.address != offered)
    }

    @Test func rapidCommitOnlyWhenEnabled() throws {
        var off = DHCPv6Server(settings: settings())
        let c = Client6(mac: "52:54:00:00:06:03")
        #expect(off.handle(c.message(.solicit, rapid: true), now: t0).message?.type == .advertise)
        var on = settings()
        on.rapidCommit = true
        var s = DHCPv6Server(settings: on)
        let r = s.handle(c.message(.solicit, rapid: true), now: t0)
        #expect(r.message?.type == .reply && r.message?.first(.rapidCommit) != nil && r.leaseChanges.count == 1)
    }

    @Test func renewRebindReleaseDecline() throws {
        var s = DHCPv6Server(settings: settings())
        let c = Client6(mac: "52:54:00:00:06:04")
        let a = try #require(s.handle(c.message(.request, server: serverDUID), now: t0).address)
        let renew = s.handle(c.message(.renew, server: serverDUID, addresses: [a]), now: t0 + 1000)
        #expect(renew.address == a && renew.leaseChanges.first?.expiry == Int64(t0) + 1000 + 3600)
        #expect(s.handle(c.message(.rebind, addresses: [a]), now: t0 + 2000).address == a)
        // An IA the server never bound: NoBinding.
        var stranger = Client6(mac: "52:54:00:00:06:05")
        stranger.iaid = 9
        #expect(s.handle(stranger.message(.renew, server: serverDUID, addresses: [a]), now: t0).iaStatus == DHCPv6Status.noBinding.rawValue)
        let rel = s.handle(c.message(.release, server: serverDUID, addresses: [a]), now: t0 + 3000)
        #expect(rel.leaseChanges.first?.state == .released)
        #expect(rel.message?.first(.statusCode)?.prefix(2) == [0, 0])
        // Declined addresses are not offered again while quarantined.
        let b = try #require(s.handle(c.message(.request, server: serverDUID), now: t0 + 3001).address)
        _ = s.handle(c.message(.decline, server: serverDUID, addresses: [b]), now: t0 + 3002)
        let next = s.handle(c.message(.solicit), now: t0 + 3003)
        #expect(next.address != nil && next.address != b)
    }

    @Test func whatIsIgnored() {
        var s = DHCPv6Server(settings: settings())
        let c = Client6(mac: "52:54:00:00:06:06")
        #expect(s.handle(c.message(.request, server: [0, 3, 0, 1, 9, 9, 9, 9, 9, 9]), now: t0).reply == nil)   // another server
        #expect(s.handle(c.message(.solicit, server: serverDUID), now: t0).reply == nil)
        #expect(s.handle(DHCPv6Message(type: .solicit, transactionID: 1).encode(), now: t0).reply == nil)   // no Client ID
        #expect(s.handle(DHCPv6Message(type: .advertise, transactionID: 1).encode(), now: t0).reply == nil)
        #expect(s.handle([99, 0, 0, 1], now: t0).reply == nil)          // unknown type
        #expect(s.handle([1, 0, 0], now: t0).reply == nil)              // truncated header
        #expect(s.handle([1, 0, 0, 1, 0, 1, 0, 9, 1], now: t0).reply == nil)   // option longer than the packet
    }

    @Test func confirmAndInformationRequest() throws {
        var s = DHCPv6Server(settings: settings())
        let c = Client6(mac: "52:54:00:00:06:07")
        let ok = s.handle(c.message(.confirm, addresses: [ip6("fd00:1::123")]), now: t0)
        #expect(ok.message?.first(.statusCode)?.prefix(2) == [0, 0])
        let off = s.handle(c.message(.confirm, addresses: [ip6("fd00:2::1")]), now: t0)
        #expect(off.message?.first(.statusCode)?.prefix(2) == [0, UInt8(DHCPv6Status.notOnLink.rawValue)])
        let info = s.handle(DHCPv6Message(type: .informationRequest, transactionID: 7, options: [DHCPv6Option(.clientID, c.duid)]).encode(), now: t0)
        #expect(info.message?.type == .reply && info.message?.first(.dnsServers) != nil && info.message?.first(.iaNA) == nil)
    }

    @Test func netbootURLs() throws {
        var s = DHCPv6Server(settings: settings())
        var uefi = Client6(mac: "52:54:00:00:06:08")
        uefi.extra = [DHCPv6Option(.clientArchitecture, [0, 7]), DHCPv6Option(.optionRequest, [0, 59, 0, 23])]
        #expect(s.handle(uefi.message(.solicit), now: t0).message?.first(.bootFileURL) == Array("tftp://[fd00:1::1]/snponly.efi".utf8))
        // No option 61, but the PXE vendor class (enterprise 343).
        var vendor = Client6(mac: "52:54:00:00:06:09")
        let text = Array("PXEClient:Arch:00007:UNDI:003000".utf8)
        vendor.extra = [DHCPv6Option(.vendorClass, [0, 0, 1, 87, 0, UInt8(text.count)] + text)]
        #expect(s.handle(vendor.message(.solicit), now: t0).bootURL == "tftp://[fd00:1::1]/snponly.efi")
        // iPXE gets its script; HTTP Boot (16) an http URL; a plain client nothing.
        var ipxe = Client6(mac: "52:54:00:00:06:0a")
        ipxe.extra = [DHCPv6Option(.clientArchitecture, [0, 7]), DHCPv6Option(.userClass, [0, 4] + Array("iPXE".utf8))]
        #expect(s.handle(ipxe.message(.solicit), now: t0).bootURL == "http://[fd00:1::1]/boot.ipxe")
        var http = Client6(mac: "52:54:00:00:06:0b")
        http.extra = [DHCPv6Option(.clientArchitecture, [0, 16])]
        #expect(s.handle(http.message(.solicit), now: t0).bootURL == "http://[fd00:1::1]/snponly.efi")
        #expect(s.handle(Client6(mac: "52:54:00:00:06:0c").message(.solicit), now: t0).message?.first(.bootFileURL) == nil)
        // No parameters configured: no option 60.
        #expect(s.handle(uefi.message(.solicit), now: t0).message?.first(.bootFileParameters) == nil)
    }

    @Test func bootFileParameters() throws {
        var set = settings()
        set.bootParameters = ["console=ttyS0", "root=/dev/nfs"]
        var s = DHCPv6Server(settings: set)
        var uefi = Client6(mac: "52:54:00:00:06:0d")
        uefi.extra = [DHCPv6Option(.clientArchitecture, [0, 7])]
        // RFC 5970: each parameter as a 16-bit length and its bytes, in order, beside option 59.
        let want: [UInt8] = [0, 13] + Array("console=ttyS0".utf8) + [0, 13] + Array("root=/dev/nfs".utf8)
        let advertise = try #require(s.handle(uefi.message(.solicit), now: t0).message)
        #expect(advertise.first(.bootFileParameters) == want && advertise.first(.bootFileURL) != nil)
        let reply = try #require(s.handle(uefi.message(.request, server: serverDUID), now: t0).message)
        #expect(reply.first(.bootFileParameters) == want)
        // A client that is not network-booting gets neither.
        #expect(s.handle(Client6(mac: "52:54:00:00:06:0e").message(.solicit), now: t0).message?.first(.bootFileParameters) == nil)
    }

    @Test func reservationsByDUIDAndMAC() throws {
        var set = settings()
        let byMAC = Client6(mac: "52:54:00:00:06:10")
        let byDUID = Client6(mac: "52:54:00:00:06:11")
        set.reservationsByMAC[MACAddress("52:54:00:00:06:10")!] = ip6("fd00:1::10")
        set.reservationsByDUID[byDUID.duid] = ip6("fd00:1::11")
        var s = DHCPv6Server(settings: set)
        #expect(s.handle(byMAC.message(.solicit), now: t0).address == ip6("fd00:1::10"))
        #expect(s.handle(byDUID.message(.request, server: serverDUID), now: t0).address == ip6("fd00:1::11"))
        // Another client asking for a reserved address does not get it.
        let c = Client6(mac: "52:54:00:00:06:12")
        #expect(s.handle(c.message(.solicit, addresses: [ip6("fd00:1::10")]), now: t0).address != ip6("fd00:1::10"))
    }

    @Test func relayForwardNestingAndLimits() throws {
        var s = DHCPv6Server(settings: settings())
        let c = Client6(mac: "52:54:00:00:06:13")
        let inner = c.message(.solicit)
        let relay = DHCPv6RelayMessage(type: .relayForward, hopCount: 0, linkAddress: ip6("fd00:1::"), peerAddress: ip6("fe80::1"),
                                       options: [DHCPv6Option(.interfaceID, [1, 2, 3])], inner: inner)
        let out = s.handle(relay.encode(), now: t0)
        let reply = try DHCPv6RelayMessage.decode(try #require(out.reply))
        #expect(reply.type == .relayReply && reply.peerAddress == ip6("fe80::1") && reply.options.first?.data == [1, 2, 3])
        #expect(try DHCPv6Message.decode(reply.inner).type == .advertise)
        // Nested nine deep: refused.
        var bytes = inner
        for _ in 0..<9 {
            bytes = DHCPv6RelayMessage(type: .relayForward, hopCount: 0, linkAddress: ip6("fd00:1::"), peerAddress: ip6("fe80::1"),
                                       options: [], inner: bytes).encode()
        }
        #expect(s.handle(bytes, now: t0).reply == nil)
        // A relay message without its Relay Message option, or truncated: refused.
        #expect(s.handle(Array(relay.encode().prefix(30)), now: t0).reply == nil)
        #expect(s.handle([12, 0] + Array(repeating: 0, count: 32), now: t0).reply == nil)
    }

    @Test func leasesSurviveARestart() throws {
        var s = DHCPv6Server(settings: settings())
        let c = Client6(mac: "52:54:00:00:06:14")
        let a = try #require(s.handle(c.message(.request, server: serverDUID), now: t0).address)
        var again = DHCPv6Server(settings: settings(), leases: s.leases)
        #expect(again.handle(c.message(.solicit), now: t0 + 10).address == a)
    }

    @Test func codecRoundTrip() throws {
        let m = DHCPv6Message(type: .reply, transactionID: 0xABCDEF, options: [DHCPv6Option(.serverID, serverDUID), DHCPv6Option(.rapidCommit, [])])
        #expect(try DHCPv6Message.decode(m.encode()) == m)
        #expect(IPv6Address("fd00:1::1")?.description == "fd00:1::1")
        #expect(IPv6Address("fe80::1")?.isLinkLocal == true && IPv6Address("2001:db8::1")?.isGlobalUnicast == true)
        #expect(IPv6Address("10.0.0.1") == nil && IPv6Address("fe80::1%eth0") == nil)
    }
}
