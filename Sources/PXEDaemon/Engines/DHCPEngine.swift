import CoreMetrics
import DHCP
import LeaseDatabase
import Logging
import NIOCore
import PXEConfig

/// The DHCP/BOOTP engine of one interface: a `DHCPListener` over the shared lease store, and the
/// mapping from the file (pool, reservations, boot table) to the engine's settings (the one
/// place that mapping lives).
public final class DHCPEngine: Engine {
    public let listener: DHCPListener

    init(listener: DHCPListener) { self.listener = listener }

    /// The engine's settings for one interface of a generation.
    /// - Parameters:
    ///   - tftpRoot: where boot files are found, for BOOTP option 13 (default: the TFTP root
    ///     served on this interface; nil there: no option 13).
    public static func settings(_ generation: PXEConfiguration, interface: ResolvedInterface,
                                tftpRoot: String? = nil) -> DHCPServiceConfig {
        let config = interface.config
        var settings = DHCPServiceConfig(interfaceName: config.name, serverAddress: interface.address,
                                 interfaceNetwork: interface.network, pool: config.dhcp, bootp: config.bootp,
                                 bootpRouter: config.dhcp?.router, hosts: generation.hosts, boot: generation.boot,
                                 tftpRoot: tftpRoot ?? config.tftp?.root, proxy: config.dhcpProxy)
        if let http = config.http {
            settings.httpBase = "http://\(interface.address)" + (http.port == 80 ? "" : ":\(http.port)")
        }
        return settings
    }

    /// Opens the lease file (or returns the one already open for it), logging what recovery found.
    static func leaseStoreKey(_ path: String) -> String { "lease-store:\(path)" }

    static func leaseStore(_ path: String, resources: EngineResources, logger: Logger) throws -> LeaseStore {
        do {
            return try resources.shared(leaseStoreKey(path)) {
                let (store, warnings) = try LeaseStore.open(path: path, metrics: resources.metrics)
                for w in warnings { logger.warning("lease file \(path): \(w)") }
                return store
            }
        } catch {
            throw EngineError("lease file \(path): \(error)")
        }
    }

    /// The DHCPv4 lease backend of a generation: the journal, or the shared database (one pool
    /// per URL, opened once and kept across reloads that keep the URL).
    static func leaseBackend(_ generation: LeaseStoreSettings, leaseFile: String, resources: EngineResources,
                             logger: Logger) async throws -> any LeaseBackend {
        guard generation.backend == .postgresql, let settings = generation.postgres else {
            return try leaseStore(leaseFile, resources: resources, logger: logger)
        }
        do {
            return try await resources.shared("lease-db:\(settings.displayURL)") { () async throws -> PostgresLeaseBackend in
                let (backend, loadError) = try await PostgresLeaseBackend.open(settings: settings, logger: logger)
                if let loadError {
                    logger.error("\(loadError): DHCP answers no new clients until the database can be read; retrying")
                } else {
                    logger.info("DHCPv4 leases in \(settings.displayURL)", metadata: ["leases": "\(backend.initialLeases.count)"])
                }
                return backend
            }
        } catch {
            throw EngineError("lease-store \(settings.displayURL): \(error)")
        }
    }

    public func apply(_ plan: any EnginePlan) async throws -> EngineApplyResult {
        guard let plan = plan as? Plan else { return .restart }
        // Same socket and same lease file: swap the settings in place (leases and held offers
        // kept). A new port needs a new socket; a new lease file an engine that starts from its
        // records and persists to it. Proxy mode on or off opens or closes the boot server socket.
        let store = try await plan.store()
        guard listener.localAddress?.port == Int(plan.settings.port), listener.backend === store,
              listener.bootServerAddress?.port == plan.settings.proxy.map({ Int($0.bootServerPort) })
        else { return .restart }
        await listener.apply(settings: plan.settings)
        return .applied
    }

    public func stopListening() async { await listener.stop() }
    public func stop(grace: TimeAmount) async { await listener.stop() }

    public func counters() -> [EngineCounter] {
        let s = listener.stats
        return [
            EngineCounter("received", s.received), EngineCounter("offers", s.offers), EngineCounter("acks", s.acks),
            EngineCounter("naks", s.naks), EngineCounter("bootp", s.bootpReplies), EngineCounter("malformed", s.malformed),
            EngineCounter("proxy-offers", s.proxyOffers), EngineCounter("proxy-acks", s.proxyAcks),
            EngineCounter("ignored", s.ignored), EngineCounter("leases", (listener.backend as? LeaseStore)?.leases.count ?? 0, .gauge),
            EngineCounter("releases", s.releases), EngineCounter("declines", s.declines), EngineCounter("informs", s.informs),
            EngineCounter("sent", s.sent), EngineCounter("send-errors", s.sendErrors),
            EngineCounter("persist-errors", s.persistErrors), EngineCounter("arp-fallbacks", s.arpFallbacks),
        ]
    }

    public func observe() async -> EngineObservation {
        var o = EngineObservation()
        o.pools = await listener.poolUsage()
        return o
    }

    struct Plan: EnginePlan {
        let key: EngineKey
        let settings: DHCPServiceConfig
        let leaseFile: String
        let leaseStore: LeaseStoreSettings
        let resources: EngineResources
        let logger: Logger
        let metrics: any MetricsFactory

        func store() async throws -> any LeaseBackend {
            try await DHCPEngine.leaseBackend(leaseStore, leaseFile: leaseFile, resources: resources, logger: logger)
        }

        func start(group: any EventLoopGroup, logger: Logger) async throws -> any Engine {
            let store = try await store()
            do {
                let listener = try await DHCPListener.start(group: group, settings: settings, port: settings.port,
                                                            leases: store, logger: logger, metrics: metrics)
                return DHCPEngine(listener: listener)
            } catch {
                throw EngineError("cannot listen on port \(settings.port): \(error)")
            }
        }
    }
}

extension DHCPEngine: EngineKind {
    public static let name = "dhcp"

    public static func plans(for generation: PXEConfiguration, interface: ResolvedInterface,
                             resources: EngineResources) -> [any EnginePlan] {
        guard interface.config.dhcp != nil || interface.config.dhcpProxy != nil || interface.config.bootp else { return [] }
        var settings = settings(generation, interface: interface)
        settings.sharedLeases = generation.leaseStore.backend == .postgresql
        return [Plan(key: EngineKey(kind: name, interface: interface.config.name),
                     settings: settings, leaseFile: generation.leaseFile,
                     leaseStore: generation.leaseStore,
                     resources: resources, logger: resources.logger, metrics: resources.metrics)]
    }
}
