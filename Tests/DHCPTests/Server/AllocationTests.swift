@testable import DHCP
import PXEConfig
import Testing

/// Address choice in a pool that is nearly all leased: never-used addresses are found through the
/// book's record bitmap, the same way from any start point, and only a pool with none left falls
/// back to the longest-unused record.
@Suite struct AllocationTests {
    func lease(_ ip: IPv4Address, _ n: Int, expiry: Int64 = Int64(t0) + 3600, state: LeaseState = .active) -> Lease {
        let bytes: [UInt8] = [0x02, 0x99, 0, 0, UInt8(n >> 8), UInt8(n & 0xFF)]
        return Lease(clientKey: .hardwareAddress(bytes), mac: MACAddress(bytes: bytes), ip: ip, expiry: expiry, state: state)
    }

    @Test func firstUnrecordedSkipsWordsAndWraps() {
        let base = ip("10.0.0.0").value
        var leases: [Lease] = []
        // 10.0.0.0 ... 10.0.1.43 recorded (300 addresses, several whole words), 10.0.1.44 free,
        // 10.0.1.45 ... 10.0.1.99 recorded.
        for i in 0..<300 where i != 300 { leases.append(lease(IPv4Address(base + UInt32(i)), i)) }
        for i in 301..<356 { leases.append(lease(IPv4Address(base + UInt32(i)), i)) }
        let book = LeaseBook(leases)
        let all: (UInt32) -> Bool = { _ in true }
        #expect(book.firstUnrecorded(base, base + 355, from: base + 10, usable: all) == base + 300)
        #expect(book.firstUnrecorded(base, base + 355, from: base + 301, usable: all) == base + 300)   // wrapped
        #expect(book.firstUnrecorded(base, base + 299, from: base, usable: all) == nil)
        #expect(book.firstUnrecorded(base, base + 400, from: base + 301, usable: all) == base + 356)
        // An unusable candidate (say, offered to another client) is passed over.
        #expect(book.firstUnrecorded(base, base + 400, from: base, usable: { $0 != base + 300 }) == base + 356)
        #expect(book.firstUnrecorded(base + 5, base + 4, from: base, usable: all) == nil)
    }

    @Test func discoverFindsTheOneFreeAddressOfANearlyFullPool() throws {
        let pool = makePool(start: "10.0.0.10", end: "10.0.0.249")
        var leases: [Lease] = []
        for (n, a) in (pool.rangeStart.value...pool.rangeEnd.value).enumerated() where a != ip("10.0.0.200").value {
            leases.append(lease(IPv4Address(a), n))
        }
        var s = DHCPServer(settings: makeSettings(pool: pool), leases: leases)
        let offer = s.handle(TestClient("52:54:00:00:aa:01").discover(), context: broadcastContext, now: t0)
        #expect(offer.offeredAddress == ip("10.0.0.200"))
        // The next new client finds nothing: all bound, one offered.
        #expect(s.handle(TestClient("52:54:00:00:aa:02").discover(), context: broadcastContext, now: t0).ignoreReason == .poolExhausted)
    }

    @Test func aPoolWithNoNeverUsedAddressReusesTheLongestExpired() throws {
        let pool = makePool(start: "10.0.0.10", end: "10.0.0.19")
        var leases: [Lease] = []
        for (n, a) in (pool.rangeStart.value...pool.rangeEnd.value).enumerated() {
            // All expired; 10.0.0.15 longest ago.
            let expiry = Int64(t0) - (a == ip("10.0.0.15").value ? 9000 : 100 + Int64(n))
            leases.append(lease(IPv4Address(a), n, expiry: expiry))
        }
        var s = DHCPServer(settings: makeSettings(pool: pool), leases: leases)
        #expect(s.handle(TestClient("52:54:00:00:aa:03").discover(), context: broadcastContext, now: t0).offeredAddress
                == ip("10.0.0.15"))
    }
}
