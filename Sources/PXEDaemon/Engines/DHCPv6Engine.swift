import DHCP
import DHCPv6
import Logging
import NIOCore
import PXEConfig

/// The DHCPv6 engine of one interface: a `DHCPv6Listener` over the daemon's lease file (the same
/// `LeaseStore` as DHCPv4, so one file, one fsync order), and the mapping from `dhcp6:`, the boot
/// table and the reservations.
public final class DHCPv6Engine: Engine {
    public let listener: DHCPv6Listener

    init(listener: DHCPv6Listener) {
        self.listener = listener
    }

    /// The engine's settings (nil when the interface's MAC cannot be read for the server DUID).
    public static func settings(_ generation: PXEConfiguration, interface: ResolvedInterface, pool: DHCPv6PoolConfig) -> DHCPv6Settings? {
        let config = interface.config
        guard let mac = NetworkInterfaces.macAddress(of: config.name) else { return nil }
        var s = DHCPv6Settings(interfaceName: config.name, serverDUID: DHCPv6Settings.duidLL(mac), prefix: pool.prefix,
                               prefixLength: pool.prefixLength, rangeStart: pool.rangeStart, rangeEnd: pool.rangeEnd)
        s.dns = pool.dns
        s.domain = pool.domain
        s.validLifetime = UInt32(clamping: pool.leaseTime)
        s.preferredLifetime = UInt32(clamping: pool.preferredTime)
        s.rapidCommit = pool.rapidCommit
        s.bootParameters = pool.bootParameters
        s.boot = generation.boot
        for h in generation.hosts {
            guard let a = h.ip6 else { continue }
            if let duid = h.duid { s.reservationsByDUID[duid] = a } else { s.reservationsByMAC[h.mac] = a }
        }
        if let a6 = interface.address6 {
            if let tftp = config.tftp { s.tftpBase = "tftp://[\(a6)]" + (tftp.port == 69 ? "" : ":\(tftp.port)") }
            if let http = config.http { s.httpBase = "http://[\(a6)]" + (http.port == 80 ? "" : ":\(http.port)") }
        }
        return s
    }

    public func apply(_ plan: any EnginePlan) async throws -> EngineApplyResult {
        // A new lease file needs an engine that starts from its records.
        guard let plan = plan as? Plan, try plan.store() === listener.leaseStore else { return .restart }
        await listener.apply(settings: plan.settings)
        return .applied
    }

    public func observe() async -> EngineObservation {
        var o = EngineObservation()
        o.pool6 = await listener.poolUsage()
        return o
    }

    public func stopListening() async { await listener.stop() }
    public func stop(grace: TimeAmount) async { await listener.stop() }

    public func counters() -> [EngineCounter] {
        let s = listener.stats
        return [
            EngineCounter("received", s.received), EngineCounter("advertises", s.advertises),
            EngineCounter("replies", s.replies), EngineCounter("ignored", s.ignored),
            EngineCounter("persist-errors", s.persistErrors),
        ]
    }

    struct Plan: EnginePlan {
        let key: EngineKey
        let settings: DHCPv6Settings
        let leaseFile: String
        let backend: LeaseStoreSettings.Backend
        let resources: EngineResources
        let logger: Logger

        func store() throws -> LeaseStore {
            guard backend == .journal else {
                // Only DHCPv4 leases have a table so far; a journal beside the database would split
                // the site's DHCPv6 leases between servers without anyone noticing.
                throw EngineError("lease-store backend postgresql holds DHCPv4 leases only: DHCPv6 with a shared database is not built yet (use backend: journal, or leave out dhcp6)")
            }
            return try DHCPEngine.leaseStore(leaseFile, resources: resources, logger: logger)
        }

        func start(group: any EventLoopGroup, logger: Logger) async throws -> any Engine {
            // The records come from the store at each start: a restarted engine sees every record
            // its predecessor made durable (the predecessor has stopped listening by then).
            let store = try store()
            do {
                let listener = try await DHCPv6Listener.start(group: group, settings: settings, leaseStore: store,
                                                              leases: store.leases6, logger: logger, metrics: resources.metrics)
                return DHCPv6Engine(listener: listener)
            } catch {
                throw EngineError("DHCPv6 on \(settings.interfaceName): \(error)")
            }
        }
    }
}

extension DHCPv6Engine: EngineKind {
    public static let name = "dhcp6"

    public static func plans(for generation: PXEConfiguration, interface: ResolvedInterface,
                             resources: EngineResources) -> [any EnginePlan] {
        guard let pool = interface.config.dhcp6 else { return [] }
        guard let settings = settings(generation, interface: interface, pool: pool) else {
            resources.logger.error("dhcp6 \(interface.config.name): cannot read the interface's MAC for the server DUID")
            return []
        }
        return [Plan(key: EngineKey(kind: name, interface: interface.config.name), settings: settings,
                     leaseFile: generation.leaseFile, backend: generation.leaseStore.backend,
                     resources: resources, logger: resources.logger)]
    }
}
