@testable import DHCP
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PXEConfig
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A lease backend whose answers the test sets: commit, lose to a holder, or be unreachable.
final class ScriptedBackend: LeaseBackend {
    enum Mode: Sendable { case commit, lose(Lease), unavailable }
    private let state = NIOLockedValueBox<(mode: Mode, committed: [Lease], probes: Int)>((.commit, [], 0))

    var mode: Mode {
        get { state.withLockedValue { $0.mode } }
        set { state.withLockedValue { $0.mode = newValue } }
    }
    var committed: [Lease] { state.withLockedValue { $0.committed } }
    var probes: Int { state.withLockedValue { $0.probes } }

    var initialLeases: [Lease] { [] }
    var isLoaded: Bool { true }
    var isShared: Bool { false }

    func persist(_ records: [Lease], now: Int64, on eventLoop: any EventLoop) -> EventLoopFuture<[LeaseVerdict]> {
        eventLoop.makeSucceededFuture(verdicts(records))
    }

    private func verdicts(_ records: [Lease]) -> [LeaseVerdict] {
        state.withLockedValue { s in
            switch s.mode {
            case .commit:
                s.committed += records
                return records.map { _ in .committed }
            case .lose(let holder):
                return records.map { $0.ip == holder.ip ? .lost(holder: holder) : .committed }
            case .unavailable:
                return records.map { _ in .unavailable(reason: "scripted outage") }
            }
        }
    }

    func changesFromOtherServers() async -> [Lease]? { nil }
    var allocationShare: AllocationShare { .whole }

    func probe() async -> Bool {
        state.withLockedValue { s in
            s.probes += 1
            if case .unavailable = s.mode { return false }
            return true
        }
    }
}

// The blocking receive runs on NIO's thread pool, not on a Swift concurrency thread: the
// listener's probes are tasks, and two tests blocked in recv() would hold both of this
// machine's cooperative threads.
extension LoopbackUDP: @unchecked Sendable {
    func next() async -> DHCPMessage? {
        try? await NIOThreadPool.singleton.runIfActive { self.receiveMessage() }
    }

    func setTimeout(_ seconds: Double) {
        var tv = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - seconds.rounded(.down)) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }
}

/// The listener's side of the verdicts, over a real socket on loopback.
@Suite struct LeaseBackendListenerTests {
    func start(_ backend: ScriptedBackend) async throws -> (DHCPListener, UInt16) {
        var loop = DHCPPoolConfig(subnet: IPv4Network("127.0.0.0/8")!, rangeStart: ip("127.0.0.100"), rangeEnd: ip("127.0.0.150"))
        loop.leaseTime = 600
        var pool = makePool()
        pool.relayPools = [loop]
        let listener = try await DHCPListener.start(settings: makeSettings(pool: pool), port: 0, leases: backend,
                                                    bindAddress: "127.0.0.1", bindToDevice: false)
        return (listener, UInt16(try #require(listener.localAddress?.port)))
    }

    @Test func aLostClaimTurnsTheACKIntoANAK() async throws {
        let backend = ScriptedBackend()
        let (listener, port) = try await start(backend)
        let client = try LoopbackUDP()
        let c = relayed("52:54:00:00:00:01")
        client.send(c.discover().encode(), to: port)
        let offer = try #require(await client.next())
        backend.mode = .lose(Lease(clientKey: .hardwareAddress([2, 0, 0, 0, 0, 9]), mac: nil, ip: offer.yiaddr,
                                   expiry: Int64(DHCPListener.unixTime()) + 600, state: .active))
        client.send(c.select(offer.yiaddr).encode(), to: port)
        let nak = try #require(await client.next())
        #expect(nak.options.messageType == .nak)
        #expect(listener.stats.naks == 1 && listener.stats.acks == 0)
        // The client starts again: another address, which commits.
        backend.mode = .commit
        client.send(c.discover().encode(), to: port)
        let second = try #require(await client.next())
        #expect(second.yiaddr != offer.yiaddr)
        client.send(c.select(second.yiaddr).encode(), to: port)
        #expect(await client.next()?.options.messageType == .ack)
        #expect(backend.committed.map(\.ip) == [second.yiaddr])
        await listener.stop()
    }

    @Test func anOutageAnswersOnlyFromCommittedLeasesUntilAProbeSucceeds() async throws {
        let backend = ScriptedBackend()
        let (listener, port) = try await start(backend)
        let client = try LoopbackUDP()
        let known = relayed("52:54:00:00:00:01")
        client.send(known.discover().encode(), to: port)
        let offer = try #require(await client.next())
        client.send(known.select(offer.yiaddr).encode(), to: port)
        #expect(await client.next()?.options.messageType == .ack)

        backend.mode = .unavailable
        client.setTimeout(0.5)
        // The first write fails: no reply, and the engine falls back to committed leases.
        client.send(known.initReboot(offer.yiaddr).encode(), to: port)
        #expect(await client.next() == nil)
        #expect(listener.stats.persistErrors == 1)
        // The client tries again: its committed lease, for what is left of it.
        client.send(known.initReboot(offer.yiaddr).encode(), to: port)
        let ack = try #require(await client.next())
        #expect(ack.options.messageType == .ack && ack.yiaddr == offer.yiaddr)
        #expect((ack.options.uint32(.leaseTime) ?? 0) <= 600)
        // A new client gets nothing.
        let stranger = relayed("52:54:00:00:00:02")
        client.send(stranger.discover().encode(), to: port)
        #expect(await client.next() == nil)
        #expect(backend.probes >= 1)

        // The store comes back: the next probe (back-off 0.25, 0.5, 1 s ...) restores service.
        backend.mode = .commit
        client.setTimeout(1)
        var served = false
        for _ in 0..<8 where !served {
            client.send(stranger.discover().encode(), to: port)
            served = await client.next()?.options.messageType == .offer
        }
        #expect(served)
        await listener.stop()
    }
}
