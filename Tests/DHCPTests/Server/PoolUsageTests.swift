@testable import DHCP
import PXEConfig
import Testing

/// Pool usage for the gauges and `pxed status`: leases, quarantine and held offers per range.
@Suite struct PoolUsageTests {
    @Test func countsLeasesOffersAndQuarantine() throws {
        var s = DHCPServer(settings: makeSettings(pool: makePool(start: "10.0.0.100", end: "10.0.0.109")))
        #expect(s.poolUsage(now: t0) == [PoolUsage(pool: "10.0.0.0/24", rangeStart: ip("10.0.0.100"), rangeEnd: ip("10.0.0.109"),
                                                   size: 10, assigned: 0, quarantined: 0, offered: 0)])
        // Two clients bound, one holding an offer, one address declined.
        for m in ["52:54:00:00:00:01", "52:54:00:00:00:02"] {
            let c = TestClient(m)
            let offer = try #require(s.handle(c.discover(), context: broadcastContext, now: t0).offeredAddress)
            #expect(s.handle(c.select(offer), context: broadcastContext, now: t0).leaseChanges.count == 1)
        }
        let held = TestClient("52:54:00:00:00:03")
        #expect(s.handle(held.discover(), context: broadcastContext, now: t0).offeredAddress != nil)
        let decliner = TestClient("52:54:00:00:00:04")
        let offer = try #require(s.handle(decliner.discover(), context: broadcastContext, now: t0).offeredAddress)
        _ = s.handle(decliner.select(offer), context: broadcastContext, now: t0)
        _ = s.handle(decliner.decline(offer), context: broadcastContext, now: t0)
        let u = try #require(s.poolUsage(now: t0 + 1).first)
        #expect(u.assigned == 2 && u.offered == 1 && u.quarantined == 1 && u.free == 7)
        // After the lease time, nothing is assigned any more (the offer is long gone too).
        let later = try #require(s.poolUsage(now: t0 + 7200).first)
        #expect(later.assigned == 0 && later.offered == 0 && later.quarantined == 0 && later.free == 10)
    }

    @Test func relayPoolsAreCountedApart() throws {
        var pool = makePool()
        var remote = DHCPPoolConfig(subnet: IPv4Network("10.9.0.0/24")!, rangeStart: ip("10.9.0.10"), rangeEnd: ip("10.9.0.19"))
        remote.leaseTime = 600
        pool.relayPools = [remote]
        var s = DHCPServer(settings: makeSettings(pool: pool))
        var c = TestClient("52:54:00:00:00:09")
        c.giaddr = ip("10.9.0.1")
        let offer = try #require(s.handle(c.discover(), context: unicastContext(from: ip("10.9.0.1")), now: t0).offeredAddress)
        _ = s.handle(c.select(offer), context: unicastContext(from: ip("10.9.0.1")), now: t0)
        let u = s.poolUsage(now: t0 + 1)
        #expect(u.map(\.pool) == ["10.0.0.0/24", "10.9.0.0/24"])
        #expect(u.map(\.assigned) == [0, 1] && u[1].size == 10)
    }
}
