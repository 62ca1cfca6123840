@testable import DHCP
import PXEConfig
import Testing

/// One script per item of the RFC 2131 / PXE checklist.
@Suite struct DHCPServerTests {
    let pxe = TestClient("52:54:00:00:00:01")

    func inRange(_ a: IPv4Address?) -> Bool {
        guard let a else { return false }
        return a >= ip("10.0.0.100") && a <= ip("10.0.0.199")
    }

    // MARK: DORA

    @Test func discoverOfferRequestAck() throws {
        var s = DHCPServer(settings: makeSettings())
        let offer = s.handle(pxe.discover(), context: broadcastContext, now: t0)
        let offered = try #require(offer.offeredAddress)
        #expect(inRange(offered))
        #expect(offer.leaseChanges.isEmpty)
        let o = try #require(offer.wire)
        #expect(o.op == .bootReply)
        #expect(o.xid == pxe.xid)
        #expect(o.yiaddr == offered)
        #expect(o.ciaddr == .any)
        #expect(o.options.messageType == .offer)
        #expect(o.options.serverIdentifier == serverIP)
        #expect(o.options.uint32(.leaseTime) == 3600)
        #expect(o.options.uint32(.renewalTime) == 1800)
        #expect(o.options.uint32(.rebindingTime) == 3150)
        #expect(o.options.ipv4Address(.subnetMask) == ip("255.255.255.0"))
        #expect(o.options.ipv4Address(.router) == ip("10.0.0.254"))
        #expect(o.options.ipv4Addresses(.domainNameServer) == [ip("10.0.0.53"), ip("10.0.0.54")])
        #expect(o.options.string(.domainName) == "lab.example")
        #expect(o.chaddr.prefix(6).elementsEqual(pxe.chaddr))
        // No broadcast flag, no ciaddr, no relay: unicast to yiaddr with an ARP entry.
        #expect(offer.reply?.destination == ReplyDestination(kind: .newAddress, address: offered, port: 68,
                                                             hardwareAddress: pxe.chaddr))
        #expect(offer.reply.map { $0.encoded().count >= 300 } == true)

        let ack = s.handle(pxe.select(offered), context: broadcastContext, now: t0 + 1)
        #expect(ack.ackedAddress == offered)
        let a = try #require(ack.wire)
        #expect(a.options.messageType == .ack)
        #expect(a.yiaddr == offered)
        #expect(ack.leaseChanges == [Lease(clientKey: pxe.key, mac: mac("52:54:00:00:00:01"), ip: offered,
                                           expiry: Int64(t0) + 1 + 3600, state: .active)])
        #expect(s.lease(for: pxe.key)?.ip == offered)
    }

    @Test func offersAreHeldSoTwoClientsNeverShareAnAddress() throws {
        var s = DHCPServer(settings: makeSettings(pool: makePool(start: "10.0.0.100", end: "10.0.0.100")))
        let a = TestClient("52:54:00:00:00:0a"), b = TestClient("52:54:00:00:00:0b")
        #expect(s.handle(a.discover(), context: broadcastContext, now: t0).offeredAddress == ip("10.0.0.100"))
        #expect(s.handle(b.discover(), context: broadcastContext, now: t0 + 1).ignoreReason == .poolExhausted)
        // A repeated DISCOVER from the same client gets the same held address.
        #expect(s.handle(a.discover(), context: broadcastContext, now: t0 + 2).offeredAddress == ip("10.0.0.100"))
        #expect(s.nextDeadline == t0 + 2 + 30)
        // B cannot take it by REQUESTing it either.
        #expect(s.handle(b.select(ip("10.0.0.100")), context: broadcastContext, now: t0 + 3).nakReason == .inUse)
        // Once the hold lapses it is free again.
        #expect(s.handle(b.discover(), context: broadcastContext, now: t0 + 40).offeredAddress == ip("10.0.0.100"))
    }

    @Test func requestForAnotherServerIsIgnoredAndOfferReleased() throws {
        var s = DHCPServer(settings: makeSettings(pool: makePool(start: "10.0.0.100", end: "10.0.0.100")))
        let a = TestClient("52:54:00:00:00:0a"), b = TestClient("52:54:00:00:00:0b")
        let offered = try #require(s.handle(a.discover(), context: broadcastContext, now: t0).offeredAddress)
        let other = ip("10.0.0.2")
        let r = s.handle(a.select(offered, server: other), context: broadcastContext, now: t0 + 1)
        #expect(r.event == .ignored(.otherServerSelected(other)))
        #expect(r.replies.isEmpty && r.leaseChanges.isEmpty)
        #expect(s.heldOffer(for: a.key, now: t0 + 1) == nil)
        #expect(s.handle(b.discover(), context: broadcastContext, now: t0 + 2).offeredAddress == offered)
    }

    @Test func selectingWithExpiredOfferStillAcksAFreeAddress() {
        var s = DHCPServer(settings: makeSettings())
        let offered = s.handle(pxe.discover(), context: broadcastContext, now: t0).offeredAddress
        #expect(offered != nil)
        #expect(s.handle(pxe.select(offered!), context: broadcastContext, now: t0 + 300).ackedAddress == offered)
    }

    @Test func selectingAnAddressOutsideTheRangeIsNaked() throws {
        var s = DHCPServer(settings: makeSettings())
        let r = s.handle(pxe.select(ip("10.0.0.20")), context: broadcastContext, now: t0)
        #expect(r.nakReason == .outsideRange)
        let nak = try #require(r.wire)
        #expect(nak.options.messageType == .nak)
        #expect(nak.options.serverIdentifier == serverIP)
        #expect(nak.yiaddr == .any && nak.ciaddr == .any && nak.siaddr == .any)
        #expect(nak.fileName == nil)
        #expect(!nak.options.contains(.leaseTime))
        #expect(r.reply?.destination == .broadcast)
        #expect(r.leaseChanges.isEmpty)
    }

    // MARK: INIT-REBOOT

    @Test func initRebootRightSubnetIsAcked() {
        var s = DHCPServer(settings: makeSettings())
        let bound = bind(&s, pxe)
        #expect(bound != nil)
        let r = s.handle(pxe.initReboot(bound!), context: broadcastContext, now: t0 + 100)
        #expect(r.ackedAddress == bound)
        #expect(r.leaseChanges.first?.expiry == Int64(t0) + 100 + 3600)
    }

    @Test func initRebootWrongSubnetIsNakedByBroadcast() throws {
        var s = DHCPServer(settings: makeSettings())
        bind(&s, pxe)
        let r = s.handle(pxe.initReboot(ip("192.168.1.50")), context: broadcastContext, now: t0 + 100)
        #expect(r.nakReason == .wrongNetwork)
        #expect(r.reply?.destination == .broadcast)
        #expect(r.wire?.options.messageType == .nak)
    }

    @Test func initRebootForSomeoneElsesAddressIsNaked() {
        var s = DHCPServer(settings: makeSettings())
        let a = TestClient("52:54:00:00:00:0a")
        let taken = bind(&s, a)
        #expect(taken != nil)
        #expect(s.handle(pxe.initReboot(taken!), context: broadcastContext, now: t0 + 5).nakReason == .inUse)
    }

    @Test func initRebootUnknownButFreeIsAckedWhenAuthoritative() {
        var s = DHCPServer(settings: makeSettings())
        #expect(s.handle(pxe.initReboot(ip("10.0.0.150")), context: broadcastContext, now: t0).ackedAddress == ip("10.0.0.150"))
    }

    @Test func nonAuthoritativeServerStaysSilentAboutStrangers() {
        var s = DHCPServer(settings: makeSettings(pool: makePool(pxeOnly: true)))
        #expect(!s.settings.authoritative)
        #expect(s.handle(pxe.initReboot(ip("192.168.1.50")), context: broadcastContext, now: t0).ignoreReason == .notAuthoritative)
        #expect(s.handle(pxe.initReboot(ip("10.0.0.150")), context: broadcastContext, now: t0).ignoreReason == .notAuthoritative)
    }

    // MARK: RENEWING / REBINDING

    @Test func renewIsUnicastToCiaddr() throws {
        var s = DHCPServer(settings: makeSettings())
        let bound = try #require(bind(&s, pxe))
        let r = s.handle(pxe.renew(bound), context: unicastContext(from: bound), now: t0 + 1800)
        #expect(r.ackedAddress == bound)
        #expect(r.reply?.destination == ReplyDestination(kind: .clientAddress, address: bound, port: 68))
        let ack = try #require(r.wire)
        #expect(ack.ciaddr == bound)
        #expect(ack.yiaddr == bound)
        #expect(r.leaseChanges.map(\.expiry) == [Int64(t0) + 1800 + 3600])
    }

    @Test func rebindIsAckedAndARebindForATakenAddressIsNaked() throws {
        var s = DHCPServer(settings: makeSettings())
        let bound = try #require(bind(&s, pxe))
        let r = s.handle(pxe.renew(bound), context: broadcastContext, now: t0 + 3200)
        #expect(r.ackedAddress == bound)
        #expect(r.reply?.destination.kind == .clientAddress)
        let other = TestClient("52:54:00:00:00:0b")
        let n = s.handle(other.renew(bound), context: broadcastContext, now: t0 + 3201)
        #expect(n.nakReason == .inUse)
        #expect(n.reply?.destination == .broadcast)
    }

    @Test func renewAfterExpiryGetsTheAddressBackIfFree() throws {
        var s = DHCPServer(settings: makeSettings())
        let bound = try #require(bind(&s, pxe))
        #expect(s.handle(pxe.renew(bound), context: unicastContext(from: bound), now: t0 + 7200).ackedAddress == bound)
    }

    // MARK: RELEASE / DECLINE / INFORM

    @Test func releaseFreesTheAddressButRemembersTheClient() throws {
        var s = DHCPServer(settings: makeSettings(pool: makePool(start: "10.0.0.100", end: "10.0.0.101")))
        let bound = try #require(bind(&s, pxe))
        let r = s.handle(pxe.release(bound), context: unicastContext(from: bound), now: t0 + 10)
        #expect(r.event == .released(bound))
        #expect(r.replies.isEmpty)
        #expect(r.leaseChanges.count == 1)
        #expect(r.leaseChanges.first?.state == .released)
        #expect(r.leaseChanges.first?.expiry == Int64(t0) + 10)
        // Same client comes back: same address.
        #expect(s.handle(pxe.discover(), context: broadcastContext, now: t0 + 20).offeredAddress == bound)
        // A second RELEASE matches nothing.
        #expect(s.handle(pxe.release(bound), context: broadcastContext, now: t0 + 21).ignoreReason == .noMatchingLease)
        // Someone else may now request it.
        let other = TestClient("52:54:00:00:00:0b")
        #expect(s.handle(other.initReboot(bound), context: broadcastContext, now: t0 + 80).ackedAddress == bound)
    }

    @Test func releaseFromAnotherClientOrServerIsIgnored() throws {
        var s = DHCPServer(settings: makeSettings())
        let bound = try #require(bind(&s, pxe))
        let other = TestClient("52:54:00:00:00:0b")
        #expect(s.handle(other.release(bound), context: broadcastContext, now: t0 + 1).ignoreReason == .noMatchingLease)
        var foreign = pxe.release(bound)
        foreign.options.set(.serverIdentifier, ipv4: ip("10.0.0.2"))
        #expect(s.handle(foreign, context: broadcastContext, now: t0 + 1).ignoreReason == .notForThisServer(ip("10.0.0.2")))
        #expect(s.lease(for: pxe.key)?.state == .active)
    }

    @Test func declineQuarantinesTheAddress() throws {
        var settings = makeSettings(pool: makePool(start: "10.0.0.100", end: "10.0.0.101"))
        settings.declineQuarantine = 600
        var s = DHCPServer(settings: settings)
        let bound = try #require(bind(&s, pxe))
        let d = s.handle(pxe.decline(bound), context: broadcastContext, now: t0 + 1)
        #expect(d.event == .declined(bound))
        #expect(d.replies.isEmpty)
        #expect(d.leaseChanges == [Lease(clientKey: pxe.key, mac: mac("52:54:00:00:00:01"), ip: bound,
                                         expiry: Int64(t0) + 601, state: .declined)])
        // Nobody gets it during the quarantine, the decliner included.
        let next = s.handle(pxe.discover(), context: broadcastContext, now: t0 + 2).offeredAddress
        #expect(next != nil && next != bound)
        let other = TestClient("52:54:00:00:00:0b")
        #expect(s.handle(other.discover(), context: broadcastContext, now: t0 + 3).ignoreReason == .poolExhausted)
        #expect(s.handle(other.initReboot(bound), context: broadcastContext, now: t0 + 4).nakReason == .quarantined)
        // After it, the address can be used again.
        #expect(s.handle(other.initReboot(bound), context: broadcastContext, now: t0 + 700).ackedAddress == bound)
    }

    @Test func declineOfAnOfferedAddress() throws {
        var s = DHCPServer(settings: makeSettings())
        let offered = try #require(s.handle(pxe.discover(), context: broadcastContext, now: t0).offeredAddress)
        #expect(s.handle(pxe.decline(offered), context: broadcastContext, now: t0 + 1).event == .declined(offered))
        let stranger = TestClient("52:54:00:00:00:0b")
        #expect(s.handle(stranger.decline(ip("10.0.0.150")), context: broadcastContext, now: t0 + 1).ignoreReason
                == .noMatchingLease)
    }

    @Test func informGetsAnAckWithoutLease() throws {
        var s = DHCPServer(settings: makeSettings())
        let here = ip("10.0.0.77")
        let r = s.handle(pxe.inform(here), context: unicastContext(from: here), now: t0)
        #expect(r.event == .informed)
        #expect(r.leaseChanges.isEmpty)
        let ack = try #require(r.wire)
        #expect(ack.options.messageType == .ack)
        #expect(ack.yiaddr == .any)
        #expect(ack.ciaddr == here)
        #expect(!ack.options.contains(.leaseTime))
        #expect(!ack.options.contains(.renewalTime) && !ack.options.contains(.rebindingTime))
        #expect(ack.options.serverIdentifier == serverIP)
        #expect(ack.options.ipv4Address(.subnetMask) != nil)
        #expect(r.reply?.destination == ReplyDestination(kind: .clientAddress, address: here, port: 68))
        #expect(s.leases.isEmpty)
        #expect(s.handle(pxe.inform(.any), context: broadcastContext, now: t0).ignoreReason == .missingAddress)
    }

    // MARK: Client identity and allocation

    @Test func clientIdentifierKeysTheLease() throws {
        var s = DHCPServer(settings: makeSettings())
        var a = TestClient("52:54:00:00:00:01")
        a.clientID = [0xFF, 1, 2, 3, 4]
        var b = a
        b.clientID = [0xFF, 9, 9, 9, 9]   // same MAC, different client-id: a different client
        let la = try #require(bind(&s, a))
        let lb = try #require(bind(&s, b))
        #expect(la != lb)
        #expect(s.lease(for: .clientIdentifier([0xFF, 1, 2, 3, 4]))?.ip == la)
        #expect(s.lease(for: .hardwareAddress(a.chaddr)) == nil)
        // Option 61 is echoed (RFC 6842).
        #expect(s.handle(a.renew(la), context: unicastContext(from: la), now: t0 + 5).wire?.options.clientIdentifier
                == [0xFF, 1, 2, 3, 4])
        // With ignoreClientIdentifier the MAC is the key.
        var settings = makeSettings()
        settings.ignoreClientIdentifier = true
        var s2 = DHCPServer(settings: settings)
        bind(&s2, a)
        #expect(s2.lease(for: .hardwareAddress(a.chaddr)) != nil)
    }

    @Test func reservationWins() throws {
        let reserved = host("52:54:00:00:00:01", ip: "10.0.0.50", name: "node1")
        var s = DHCPServer(settings: makeSettings(hosts: [reserved]))
        var c = pxe
        c.extra = [DHCPOption(.requestedIPAddress, ip("10.0.0.120").bytes)]
        let offer = s.handle(c.discover(), context: broadcastContext, now: t0)
        #expect(offer.offeredAddress == ip("10.0.0.50"))   // outside the range, but reserved
        #expect(offer.wire?.options.hostName == "node1")     // 12 was requested in 55
        #expect(s.handle(pxe.select(ip("10.0.0.120")), context: broadcastContext, now: t0).nakReason
                == .clientHasReservation(ip("10.0.0.50")))
        let ack = s.handle(pxe.select(ip("10.0.0.50")), context: broadcastContext, now: t0)
        #expect(ack.ackedAddress == ip("10.0.0.50"))
        #expect(ack.leaseChanges.first?.hostname == "node1")
        // Nobody else can have it.
        let other = TestClient("52:54:00:00:00:0b")
        #expect(s.handle(other.initReboot(ip("10.0.0.50")), context: broadcastContext, now: t0).nakReason
                == .reservedForAnotherClient)
    }

    @Test func reservedAddressesInsideTheRangeAreNotHandedOut() {
        // Pool of two; one is reserved for a host that is not here.
        let reserved = host("52:54:00:00:00:99", ip: "10.0.0.100")
        var s = DHCPServer(settings: makeSettings(pool: makePool(start: "10.0.0.100", end: "10.0.0.101"), hosts: [reserved]))
        #expect(s.handle(pxe.discover(), context: broadcastContext, now: t0).offeredAddress == ip("10.0.0.101"))
        #expect(s.handle(TestClient("52:54:00:00:00:0b").discover(), context: broadcastContext, now: t0).ignoreReason
                == .poolExhausted)
    }

    @Test func requestedAddressIsHonouredWhenFree() {
        var s = DHCPServer(settings: makeSettings())
        var c = pxe
        c.extra = [DHCPOption(.requestedIPAddress, ip("10.0.0.142").bytes)]
        #expect(s.handle(c.discover(), context: broadcastContext, now: t0).offeredAddress == ip("10.0.0.142"))
        c.extra = [DHCPOption(.requestedIPAddress, ip("10.0.0.5").bytes)]   // outside the range: ignored
        var s2 = DHCPServer(settings: makeSettings())
        #expect(inRange(s2.handle(c.discover(), context: broadcastContext, now: t0).offeredAddress))
    }

    @Test func stableAddressAcrossRestarts() throws {
        // Without leases: the MAC decides the starting point, so fresh engines agree.
        var a = DHCPServer(settings: makeSettings())
        var b = DHCPServer(settings: makeSettings())
        let first = a.handle(pxe.discover(), context: broadcastContext, now: t0).offeredAddress
        #expect(first != nil)
        #expect(b.handle(pxe.discover(), context: broadcastContext, now: t0 + 50).offeredAddress == first)
        // Different MACs spread out.
        let others = (2...9).compactMap { i in
            b.handle(TestClient("52:54:00:00:01:0\(i)").discover(), context: broadcastContext, now: t0).offeredAddress
        }
        #expect(Set(others).count == others.count)

        // With leases: a fresh engine from the same records gives the bound client its address,
        // even when the client asks for another one.
        var s = DHCPServer(settings: makeSettings())
        let other = TestClient("52:54:00:00:00:0b")
        let bo = try #require(bind(&s, other))
        let bound = try #require(bind(&s, pxe))
        var restarted = DHCPServer(settings: makeSettings(), leases: s.leases)
        var c = pxe
        c.extra = [DHCPOption(.requestedIPAddress, ip("10.0.0.180").bytes)]
        #expect(restarted.handle(c.discover(), context: broadcastContext, now: t0 + 100).offeredAddress == bound)
        #expect(restarted.handle(pxe.renew(bound), context: unicastContext(from: bound), now: t0 + 100).ackedAddress == bound)
        #expect(restarted.handle(pxe.initReboot(bo), context: broadcastContext, now: t0 + 100).nakReason == .inUse)
        // After expiry too (expired leases stay with their client while nobody else needs them).
        #expect(restarted.handle(pxe.discover(), context: broadcastContext, now: t0 + 99_999).offeredAddress == bound)
    }

    @Test func expiredLeasesAreReusedLast() throws {
        // Two addresses; .100 once leased to A and expired. C must get the never-used .101 first.
        let a = TestClient("52:54:00:00:00:0a")
        let expired = Lease(clientKey: a.key, mac: mac("52:54:00:00:00:0a"), ip: ip("10.0.0.100"),
                            expiry: Int64(t0) - 10, state: .active)
        var s = DHCPServer(settings: makeSettings(pool: makePool(start: "10.0.0.100", end: "10.0.0.101")), leases: [expired])
        for tail in ["0c", "0d", "0e", "0f", "10", "11"] {
            var probe = s
            #expect(probe.handle(TestClient("52:54:00:00:00:\(tail)").discover(), context: broadcastContext, now: t0)
                .offeredAddress == ip("10.0.0.101"))
        }
        let c = TestClient("52:54:00:00:00:0c")
        #expect(bind(&s, c) == ip("10.0.0.101"))
        // Only the expired one is left: it is reused.
        let d = TestClient("52:54:00:00:00:0d")
        #expect(bind(&s, d) == ip("10.0.0.100"))
        // A's old address now belongs to D.
        #expect(s.handle(a.discover(), context: broadcastContext, now: t0).ignoreReason == .poolExhausted)
    }

    @Test func movingToANewAddressReleasesTheOldOne() throws {
        var s = DHCPServer(settings: makeSettings())
        let old = try #require(bind(&s, pxe))
        s.apply(settings: makeSettings(hosts: [host("52:54:00:00:00:01", ip: "10.0.0.60")]))
        let r = s.handle(pxe.select(ip("10.0.0.60")), context: broadcastContext, now: t0 + 10)
        #expect(r.ackedAddress == ip("10.0.0.60"))
        #expect(r.leaseChanges.map(\.state) == [.released, .active])
        #expect(r.leaseChanges.first?.ip == old)
        #expect(s.lease(for: pxe.key)?.ip == ip("10.0.0.60"))
    }

    @Test func clientHostnameIsRecordedSafely() throws {
        var s = DHCPServer(settings: makeSettings())
        var c = pxe
        c.extra = [DHCPOption(.hostName, Array("web 01;rm -rf\u{1}".utf8) + Array(repeating: UInt8(ascii: "x"), count: 80))]
        let offered = try #require(s.handle(c.discover(), context: broadcastContext, now: t0).offeredAddress)
        let ack = s.handle(c.select(offered), context: broadcastContext, now: t0)
        let name = try #require(ack.leaseChanges.first?.hostname)
        #expect(name.hasPrefix("web01rm-rfxxx"))
        #expect(name.utf8.count == 63)
        // A host entry's name wins over the client's.
        var s2 = DHCPServer(settings: makeSettings(hosts: [host("52:54:00:00:00:01", name: "configured")]))
        #expect(bind(&s2, c) != nil)
        #expect(s2.lease(for: c.key)?.hostname == "configured")
    }

    // MARK: Routing and relays

    @Test func broadcastFlagMeansBroadcastReply() {
        var s = DHCPServer(settings: makeSettings())
        var c = pxe
        c.broadcastFlag = true
        let r = s.handle(c.discover(), context: broadcastContext, now: t0)
        #expect(r.reply?.destination == .broadcast)
        #expect(r.wire?.isBroadcastFlagSet == true)
    }

    @Test func nonEthernetClientGetsABroadcast() {
        var s = DHCPServer(settings: makeSettings())
        var m = pxe.discover()
        m.htype = 32   // InfiniBand: chaddr is not usable for ARP
        m.hlen = 0
        m.chaddr = []
        m.options[.clientIdentifier] = [0xFF, 0, 0, 0, 1]
        let r = s.handle(m, context: broadcastContext, now: t0)
        #expect(r.offeredAddress != nil)
        #expect(r.reply?.destination == .broadcast)
    }

    @Test func relayedRequestsUseTheRelayPoolAndEchoOption82() throws {
        var pool = makePool()
        var remote = DHCPPoolConfig(subnet: IPv4Network("10.20.0.0/24")!, rangeStart: ip("10.20.0.10"),
                                    rangeEnd: ip("10.20.0.20"))
        remote.router = ip("10.20.0.1")
        remote.leaseTime = 600
        pool.relayPools = [remote]
        var s = DHCPServer(settings: makeSettings(pool: pool))
        var c = pxe
        c.giaddr = ip("10.20.0.1")
        c.hops = 1
        let agent: [UInt8] = [1, 6, 0, 4, 0, 1, 0, 3, 2, 4, 0xDE, 0xAD, 0xBE, 0xEF]
        c.extra = [DHCPOption(.relayAgentInformation, agent)]
        let offer = s.handle(c.discover(), context: unicastContext(from: ip("10.20.0.1")), now: t0)
        let offered = try #require(offer.offeredAddress)
        #expect(offered >= ip("10.20.0.10") && offered <= ip("10.20.0.20"))
        #expect(offer.reply?.destination == ReplyDestination(kind: .relay, address: ip("10.20.0.1"), port: 67))
        let o = try #require(offer.wire)
        #expect(o.giaddr == ip("10.20.0.1"))
        #expect(o.hops == 1)
        #expect(o.options[.relayAgentInformation] == agent)
        #expect(o.options.entries.last?.code == .relayAgentInformation)
        #expect(o.options.ipv4Address(.router) == ip("10.20.0.1"))
        #expect(o.options.uint32(.leaseTime) == 600)
        #expect(o.options.serverIdentifier == serverIP)

        let ack = s.handle(c.select(offered), context: unicastContext(from: ip("10.20.0.1")), now: t0)
        #expect(ack.ackedAddress == offered)
        #expect(ack.wire?.options[.relayAgentInformation] == agent)

        // A NAK through the relay goes to the relay with the broadcast bit set.
        let nak = s.handle(c.initReboot(ip("10.0.0.150")), context: unicastContext(from: ip("10.20.0.1")), now: t0)
        #expect(nak.nakReason == .wrongNetwork)
        #expect(nak.reply?.destination.kind == .relay)
        #expect(nak.wire?.isBroadcastFlagSet == true)
        #expect(nak.wire?.options[.relayAgentInformation] == agent)

        // Unknown relay network: no answer.
        c.giaddr = ip("172.16.0.1")
        #expect(s.handle(c.discover(), context: broadcastContext, now: t0).ignoreReason == .noPoolForRelay(ip("172.16.0.1")))
    }

    @Test func routingRules() {
        var m = DHCPMessage(op: .bootRequest, xid: 1, chaddr: [1, 2, 3, 4, 5, 6])
        let y = ip("10.0.0.100")
        #expect(ReplyDestination.route(request: m, yiaddr: y).kind == .newAddress)
        m.isBroadcastFlagSet = true
        #expect(ReplyDestination.route(request: m, yiaddr: y) == .broadcast)
        m.ciaddr = ip("10.0.0.7")
        #expect(ReplyDestination.route(request: m, yiaddr: y) == ReplyDestination(kind: .clientAddress, address: m.ciaddr, port: 68))
        #expect(ReplyDestination.route(request: m, yiaddr: .any, isNak: true) == .broadcast)
        m.giaddr = ip("10.1.0.1")
        #expect(ReplyDestination.route(request: m, yiaddr: y) == ReplyDestination(kind: .relay, address: m.giaddr, port: 67))
        #expect(ReplyDestination.route(request: m, yiaddr: .any, isNak: true).kind == .relay)
    }

    @Test func maxMessageSizeIsCarriedToTheReply() {
        var s = DHCPServer(settings: makeSettings())
        var c = pxe
        c.extra = [DHCPOption(.maxMessageSize, [0x05, 0xC0])]
        #expect(s.handle(c.discover(), context: broadcastContext, now: t0).reply?.maxMessageSize == 1444)
        #expect(s.handle(pxe.discover(), context: broadcastContext, now: t0).reply?.maxMessageSize == 548)
    }

    // MARK: PXE

    @Test func pxeOnlyIgnoresOrdinaryClients() {
        let known = host("52:54:00:00:00:0c")
        var s = DHCPServer(settings: makeSettings(pool: makePool(pxeOnly: true), hosts: [known]))
        let laptop = TestClient("52:54:00:00:00:0b", firmware: .plain)
        #expect(s.handle(laptop.discover(), context: broadcastContext, now: t0).ignoreReason == .notNetworkBootClient)
        #expect(s.handle(laptop.select(ip("10.0.0.150")), context: broadcastContext, now: t0).ignoreReason
                == .notNetworkBootClient)
        #expect(s.handle(pxe.discover(), context: broadcastContext, now: t0).offeredAddress != nil)
        #expect(s.handle(TestClient("52:54:00:00:00:0d", firmware: .http(arch: 16)).discover(),
                         context: broadcastContext, now: t0).offeredAddress != nil)
        // A host entry counts as network booting.
        #expect(s.handle(TestClient("52:54:00:00:00:0c", firmware: .plain).discover(), context: broadcastContext,
                         now: t0).offeredAddress != nil)
    }

    @Test func answerAllServesOrdinaryClientsWithoutBootData() throws {
        var s = DHCPServer(settings: makeSettings())
        let laptop = TestClient("52:54:00:00:00:0b", firmware: .plain)
        let o = try #require(s.handle(laptop.discover(), context: broadcastContext, now: t0).wire)
        #expect(o.fileName == nil)
        #expect(o.siaddr == .any)
        #expect(!o.options.contains(.vendorClassIdentifier))
        #expect(!o.options.contains(.vendorSpecific))
    }

    @Test func pxeReplyCarriesBootData() throws {
        var s = DHCPServer(settings: makeSettings())
        var c = TestClient("52:54:00:00:00:07", firmware: .pxe(arch: 7))
        let uuid: [UInt8] = [0] + Array(1...16)
        c.extra = [DHCPOption(.clientMachineIdentifier, uuid)]
        let o = try #require(s.handle(c.discover(), context: broadcastContext, now: t0).wire)
        #expect(o.siaddr == serverIP)
        #expect(o.fileName == "ipxe.efi")
        #expect(o.options.vendorClassIdentifier == "PXEClient")
        #expect(o.options[.vendorSpecific] == [6, 1, 8, 255])
        #expect(o.options[.clientMachineIdentifier] == uuid)
        #expect(o.options.string(.tftpServerName) == "10.0.0.1")
        #expect(o.options.string(.bootfileName) == "ipxe.efi")
        // Without 66/67 in option 55 only siaddr/file carry it.
        c.requestList = [1, 3]
        let p = try #require(s.handle(c.discover(), context: broadcastContext, now: t0).wire)
        #expect(p.fileName == "ipxe.efi")
        #expect(!p.options.contains(.tftpServerName) && !p.options.contains(.bootfileName))
        #expect(!p.options.contains(.hostName) && !p.options.contains(.broadcastAddress))
        // Options 1, 3, 6, 15, 51, 54 are sent even with no option 55 at all (RPi bootcode.bin).
        c.requestList = []
        let q = try #require(s.handle(c.discover(), context: broadcastContext, now: t0).wire)
        for code: DHCPOptionCode in [.subnetMask, .router, .domainNameServer, .domainName, .leaseTime, .serverIdentifier] {
            #expect(q.options.contains(code), "option \(code)")
        }
    }

    @Test func invalidOption97IsNotEchoed() throws {
        var s = DHCPServer(settings: makeSettings())
        var c = pxe
        c.extra = [DHCPOption(.clientMachineIdentifier, [1, 2, 3, 4, 5, 6])]
        #expect(try #require(s.handle(c.discover(), context: broadcastContext, now: t0).wire)
            .options[.clientMachineIdentifier] == nil)
    }

    @Test func httpClientGetsHTTPClientEchoed() throws {
        var s = DHCPServer(settings: makeSettings())
        let c = TestClient("52:54:00:00:00:0d", firmware: .http(arch: 16))
        let o = try #require(s.handle(c.discover(), context: broadcastContext, now: t0).wire)
        #expect(o.options.vendorClassIdentifier == "HTTPClient")
        #expect(!o.options.contains(.vendorSpecific))
        #expect(o.fileName == "pxelinux.0")
    }

    static let bootMatrix: [(String, Firmware, [DHCPOption], HostEntry?, String)] = [
        ("host boot", .pxe(arch: 7), [], host("52:54:00:00:00:01", boot: "host.efi"), "host.efi"),
        ("iPXE raw", .ipxe, [], nil, "boot.ipxe"),
        ("iPXE RFC 3004", .pxe(arch: 0), [DHCPOption(.userClass, [4] + Array("iPXE".utf8))], nil, "boot.ipxe"),
        ("arch 7", .pxe(arch: 7), [], nil, "ipxe.efi"),
        ("arch 9", .pxe(arch: 9), [], nil, "ipxe.efi"),
        ("arch 0", .pxe(arch: 0), [], nil, "undionly.kpxe"),
        ("arch from 60", .plain, [DHCPOption(.vendorClassIdentifier, Array("PXEClient:Arch:00011:UNDI:003000".utf8))], nil,
         "ipxe-arm64.efi"),
        ("default", .plain, [DHCPOption(.vendorClassIdentifier, Array("PXEClient".utf8))], nil, "pxelinux.0"),
    ]

    @Test(arguments: 0..<bootMatrix.count)
    func bootFileInOffer(_ i: Int) throws {
        let (name, firmware, extra, h, file) = Self.bootMatrix[i]
        var s = DHCPServer(settings: makeSettings(hosts: h.map { [$0] } ?? []))
        var c = TestClient("52:54:00:00:00:01", firmware: firmware)
        c.extra = extra
        let o = try #require(s.handle(c.discover(), context: broadcastContext, now: t0).wire)
        #expect(o.fileName == file, "\(name)")
        #expect(o.options.string(.bootfileName) == file, "\(name)")
    }

    // MARK: Reload

    @Test func applyKeepsLeasesAndANewReservationChangesTheNextOffer() throws {
        var s = DHCPServer(settings: makeSettings())
        let other = TestClient("52:54:00:00:00:0b")
        let kept = try #require(bind(&s, other))
        let first = try #require(s.handle(pxe.discover(), context: broadcastContext, now: t0).offeredAddress)
        var next = makeSettings(hosts: [host("52:54:00:00:00:01", ip: "10.0.0.42", boot: "special.efi")])
        next.boot.default = "new-default.0"
        s.apply(settings: next)
        #expect(s.lease(for: other.key)?.ip == kept)
        let o = s.handle(pxe.discover(), context: broadcastContext, now: t0 + 1)
        #expect(o.offeredAddress == ip("10.0.0.42"))
        #expect(o.offeredAddress != first)
        #expect(o.wire?.fileName == "special.efi")
        #expect(s.handle(other.renew(kept), context: unicastContext(from: kept), now: t0 + 2).ackedAddress == kept)
        // The boot table applies from the next request too.
        let plain = TestClient("52:54:00:00:00:0e", firmware: .plain)
        var vc = plain
        vc.extra = [DHCPOption(.vendorClassIdentifier, Array("PXEClient".utf8))]
        #expect(s.handle(vc.discover(), context: broadcastContext, now: t0 + 3).wire?.fileName == "new-default.0")
    }

    @Test func applyCanTurnDHCPOff() {
        var s = DHCPServer(settings: makeSettings())
        s.apply(settings: makeSettings(pool: nil))
        #expect(s.handle(pxe.discover(), context: broadcastContext, now: t0).ignoreReason == .dhcpDisabled)
    }

    // MARK: Odds and ends

    @Test func serverMessagesAndUnknownTypesAreIgnored() {
        var s = DHCPServer(settings: makeSettings())
        #expect(s.handle(pxe.message(.offer), context: broadcastContext, now: t0).ignoreReason == .serverMessage(.offer))
        var m = pxe.discover()
        m.options[.messageType] = [42]
        #expect(s.handle(m, context: broadcastContext, now: t0).ignoreReason == .unknownMessageType(42))
        var reply = pxe.discover()
        reply.op = .bootReply
        #expect(s.handle(reply, context: broadcastContext, now: t0).ignoreReason == .notARequest)
        #expect(s.handle(pxe.message(.request), context: broadcastContext, now: t0).ignoreReason == .missingAddress)
    }

    @Test func absurdClockValuesDoNotTrap() {
        var s = DHCPServer(settings: makeSettings())
        for now in [Double.nan, .infinity, -.infinity, 1e300, -1e300] {
            _ = bind(&s, pxe, now: now)
            _ = s.handle(pxe.decline(ip("10.0.0.150")), context: broadcastContext, now: now)
        }
    }

    @Test func mutatedPacketsThroughTheEngineNeverTrap() {
        var rng = SplitMix64(seed: 42)
        var s = DHCPServer(settings: makeSettings(pool: makePool(start: "10.0.0.100", end: "10.0.0.110"),
                                                  hosts: [host("52:54:00:00:00:01", ip: "10.0.0.5")], bootp: true))
        let seeds = [pxe.discover(), pxe.select(ip("10.0.0.100")), pxe.renew(ip("10.0.0.100")),
                     pxe.decline(ip("10.0.0.100")), pxe.release(ip("10.0.0.100")), pxe.inform(ip("10.0.0.9"))]
            .map { $0.encode() }
        var handled = 0
        for i in 0..<5000 {
            var b = seeds[i % seeds.count]
            for _ in 0..<(1 + Int(rng.next() % 4)) {
                b[Int(rng.next() % UInt64(b.count))] = UInt8(truncatingIfNeeded: rng.next())
            }
            guard let m = try? DHCPMessage.decode(bytes: b) else { continue }
            let out = s.handle(m, context: broadcastContext, now: t0 + Double(i))
            for r in out.replies { #expect(r.encoded().count >= 300) }
            handled += 1
        }
        #expect(handled > 1000)
    }
}
