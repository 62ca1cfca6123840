@testable import DHCP
import PXEConfig
import Testing

/// The engine's half of shared leases and of a lease store that fails: taking back changes that
/// were not persisted, NAKing a lost claim, answering only from committed leases during an
/// outage, and the per-server choice of candidate addresses.
@Suite struct SharedLeasesTests {
    func shared(_ address: String = "10.0.0.1") -> DHCPServiceConfig {
        var s = DHCPServiceConfig(interfaceName: "eth0", serverAddress: ip(address), pool: makePool(), boot: makeBootTable())
        s.sharedLeases = true
        return s
    }

    /// DISCOVER + REQUEST, returning the REQUEST's outcome (its changes not yet "persisted").
    func dora(_ server: inout DHCPServer, _ c: TestClient, now: Double = t0) throws -> DHCPOutcome {
        let offered = try #require(server.handle(c.discover(), context: broadcastContext, now: now).offeredAddress)
        return server.handle(c.select(offered, server: server.settings.serverAddress), context: broadcastContext, now: now)
    }

    @Test func aNewLeaseThatWasNotPersistedIsForgotten() throws {
        var server = DHCPServer(settings: makeSettings())
        let c = TestClient("52:54:00:00:00:01")
        let outcome = try dora(&server, c)
        let a = try #require(outcome.ackedAddress)
        #expect(outcome.replacedRecords == [nil])
        server.persistFailed(outcome.leaseChanges, replaced: outcome.replacedRecords)
        #expect(server.lease(for: c.identity) == nil)
        #expect(server.leases.isEmpty)
        // The address is free again, for anyone.
        let other = TestClient("52:54:00:00:00:02")
        #expect(server.handle(other.initReboot(a), context: broadcastContext, now: t0).ackedAddress == a)
    }

    @Test func aRenewalThatWasNotPersistedKeepsTheCommittedExpiry() throws {
        var server = DHCPServer(settings: makeSettings())
        let c = TestClient("52:54:00:00:00:01")
        let a = try #require(try dora(&server, c).ackedAddress)
        let committed = try #require(server.lease(for: c.identity))
        let renewal = server.handle(c.renew(a), context: unicastContext(from: a), now: t0 + 1000)
        #expect(server.lease(for: c.identity)?.expiry == committed.expiry + 1000)
        server.persistFailed(renewal.leaseChanges, replaced: renewal.replacedRecords)
        #expect(server.lease(for: c.identity) == committed)
    }

    @Test func aClientThatMovedGetsItsOldLeaseBack() throws {
        var server = DHCPServer(settings: makeSettings())
        let c = TestClient("52:54:00:00:00:01")
        let a = try #require(try dora(&server, c).ackedAddress)
        let before = server.leases
        let moved = ip("10.0.0.180")
        let outcome = server.handle(c.initReboot(moved), context: broadcastContext, now: t0 + 10)
        #expect(outcome.ackedAddress == moved)
        #expect(outcome.leaseChanges.count == 2)   // the old address released, the new one bound
        server.persistFailed(outcome.leaseChanges, replaced: outcome.replacedRecords)
        #expect(server.leases == before)
        #expect(server.lease(for: c.identity)?.ip == a)
    }

    @Test func duringAnOutageKnownClientsKeepWhatIsLeftOfTheirLease() throws {
        var server = DHCPServer(settings: makeSettings())
        let known = TestClient("52:54:00:00:00:01")
        let a = try #require(try dora(&server, known).ackedAddress)
        let expiry = try #require(server.lease(for: known.identity)).expiry
        server.leaseStoreAvailable = false
        let later = t0 + 600

        // A renewal: an ACK for the seconds left, and nothing to persist.
        let renewal = server.handle(known.renew(a), context: unicastContext(from: a), now: later)
        #expect(renewal.ackedAddress == a)
        #expect(renewal.leaseChanges.isEmpty)
        #expect(renewal.wire?.options.uint32(.leaseTime) == UInt32(expiry - Int64(later)))
        #expect(server.lease(for: known.identity)?.expiry == expiry)
        // A rebooted known client: its own address offered and ACKed the same way.
        let offer = server.handle(known.discover(), context: broadcastContext, now: later)
        #expect(offer.offeredAddress == a)
        #expect(offer.wire?.options.uint32(.leaseTime) == UInt32(expiry - Int64(later)))
        #expect(server.handle(known.select(a), context: broadcastContext, now: later).ackedAddress == a)

        // Everything that needs a write goes unanswered.
        let stranger = TestClient("52:54:00:00:00:02")
        #expect(server.handle(stranger.discover(), context: broadcastContext, now: later).ignoreReason == .leaseStoreUnavailable)
        #expect(server.handle(stranger.initReboot(ip("10.0.0.150")), context: broadcastContext, now: later).ignoreReason
            == .leaseStoreUnavailable)
        #expect(server.handle(known.release(a), context: unicastContext(from: a), now: later).ignoreReason == .leaseStoreUnavailable)
        #expect(server.handle(known.decline(a), context: broadcastContext, now: later).ignoreReason == .leaseStoreUnavailable)
        // A lease that ran out is not renewed.
        #expect(server.handle(known.renew(a), context: unicastContext(from: a), now: Double(expiry) + 1).ignoreReason
            == .leaseStoreUnavailable)

        server.leaseStoreAvailable = true
        #expect(server.handle(stranger.discover(), context: broadcastContext, now: later).offeredAddress != nil)
    }

    @Test func aLostClaimIsNAKedAndTheHolderIsLearnt() throws {
        var server = DHCPServer(settings: shared())
        let loser = TestClient("52:54:00:00:00:01")
        let outcome = try dora(&server, loser)
        let a = try #require(outcome.ackedAddress)
        // The database says another client (another server's) holds `a`.
        let holder = Lease(clientKey: .hardwareAddress(mac("52:54:00:00:00:99").bytes), mac: mac("52:54:00:00:00:99"),
                           ip: a, expiry: Int64(t0) + 3600, state: .active)
        server.persistFailed(outcome.leaseChanges, replaced: outcome.replacedRecords)
        server.learn([holder])
        let nak = server.claimLost(loser.select(a), ip: a, context: broadcastContext, now: t0)
        #expect(nak.nakReason == .claimedElsewhere)
        #expect(nak.wire?.options.messageType == .nak)
        #expect(nak.reply?.destination.isBroadcast == true)
        // The client starts again and is offered another address.
        let again = server.handle(loser.discover(), context: broadcastContext, now: t0 + 1).offeredAddress
        #expect(again != nil && again != a)
        #expect(server.book.lease(at: a) == holder)
    }

    @Test func serversSharingLeasesStartFromDifferentAddresses() throws {
        var a = DHCPServer(settings: shared("10.0.0.1"))
        var b = DHCPServer(settings: shared("10.0.0.2"))
        var same = 0
        for i in 0..<50 {
            let c = TestClient("52:54:00:00:10:\(i < 10 ? "0" : "")\(i)")
            let fromA = a.handle(c.discover(), context: broadcastContext, now: t0).offeredAddress
            let fromB = b.handle(c.discover(), context: broadcastContext, now: t0).offeredAddress
            #expect(fromA != nil && fromB != nil)
            if fromA == fromB { same += 1 }
        }
        // Two independent picks in a pool of 100 agree about once in 100 tries.
        #expect(same <= 5)
        // Each server's choice is its own and stable.
        let c = TestClient("52:54:00:00:10:01")
        var again = DHCPServer(settings: shared("10.0.0.1"))
        #expect(again.handle(c.discover(), context: broadcastContext, now: t0).offeredAddress
            == a.handle(c.discover(), context: broadcastContext, now: t0).offeredAddress)
    }

    @Test func serversWithSharesNeverPickTheSameNewAddress() throws {
        // Two servers that have not seen each other's leases yet, 60 clients each, one 100-address
        // pool: each stays in its own half (offsets of its parity), so no address is offered twice.
        var a = DHCPServer(settings: shared("10.0.0.1"))
        var b = DHCPServer(settings: shared("10.0.0.2"))
        a.allocationShare = AllocationShare(index: 0, count: 2)
        b.allocationShare = AllocationShare(index: 1, count: 2)
        var fromA: Set<IPv4Address> = [], fromB: Set<IPv4Address> = []
        for i in 0..<40 {
            let ca = TestClient("52:54:00:00:20:\(i < 10 ? "0" : "")\(i)")
            let cb = TestClient("52:54:00:00:30:\(i < 10 ? "0" : "")\(i)")
            fromA.insert(try #require(try dora(&a, ca).ackedAddress))
            fromB.insert(try #require(try dora(&b, cb).ackedAddress))
        }
        #expect(fromA.count == 40 && fromB.count == 40)
        #expect(fromA.isDisjoint(with: fromB))
        #expect(fromA.allSatisfy { ($0.value - ip("10.0.0.100").value) % 2 == 0 })
        #expect(fromB.allSatisfy { ($0.value - ip("10.0.0.100").value) % 2 == 1 })
        // A share that is full: the rest of the pool is still used (the claim decides).
        for i in 40..<60 {
            let ca = TestClient("52:54:00:00:20:\(i)")
            #expect(try dora(&a, ca).ackedAddress != nil)
        }
    }

    @Test func withSharedLeasesAnUnknownAddressInTheRangeIsLeftToTheClaim() {
        // Non-authoritative (pxe-only): a journal engine ignores a REBINDING client it has no record
        // of; with shared leases the address may be another server's lease, so the claim decides.
        var pool = makePool(pxeOnly: true)
        pool.pxeOnly = true
        var settings = DHCPServiceConfig(interfaceName: "eth0", serverAddress: serverIP, pool: pool, boot: makeBootTable())
        let c = TestClient("52:54:00:00:00:01")
        var journal = DHCPServer(settings: settings)
        #expect(journal.handle(c.renew(ip("10.0.0.150")), context: broadcastContext, now: t0).ignoreReason == .notAuthoritative)
        settings.sharedLeases = true
        var sharing = DHCPServer(settings: settings)
        let ack = sharing.handle(c.renew(ip("10.0.0.150")), context: broadcastContext, now: t0)
        #expect(ack.ackedAddress == ip("10.0.0.150"))
        #expect(ack.leaseChanges.map(\.ip) == [ip("10.0.0.150")])
        // Outside the range it is still none of this server's business.
        #expect(sharing.handle(c.renew(ip("10.0.0.20")), context: broadcastContext, now: t0).ignoreReason == .notAuthoritative)
    }
}
