import CoreMetrics
import DHCP
import DHCPv6
import HTTPBoot
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import PXEConfig
import PXEMetrics
import Prometheus
import TFTP
#if canImport(Glibc)
import Glibc
#endif

/// Runs the engines a configuration asks for and swaps configuration generations on reload.
///
/// Each engine kind turns a generation into plans, one per engine it wants on an interface; the
/// supervisor keeps the running engines by key and diffs generations without knowing any kind:
/// an engine no longer planned stops, a planned one that runs takes its new plan in place (or is
/// replaced when the plan needs a new socket), a new one starts.
///
/// A reload is all or nothing up to the file: a file that does not load or validate changes
/// nothing. A valid one is applied engine by engine; an engine that cannot start (port taken,
/// interface gone) is logged and the rest still applies.
public actor Supervisor {
    /// Every engine kind the daemon runs, in the order they are applied.
    public static let kinds: [any EngineKind.Type] = [TFTPEngine.self, HTTPEngine.self, DHCPEngine.self, DHCPv6Engine.self]

    public private(set) var configuration: PXEConfiguration
    public let configPath: String?
    private let group: any EventLoopGroup
    private let logger: Logger
    private var engines: [EngineKey: any Engine] = [:]
    private let resources: EngineResources
    private var reloads = 0

    /// Where every metric lives; exposed at `metrics.listen` when set.
    public let registry = PrometheusCollectorRegistry()
    private let catalogFactory: CatalogMetricsFactory
    private let daemonMetrics: DaemonRecorder
    /// Whether the running engines record to the registry (they were started with `metrics:` set).
    private var enginesRecordMetrics = false
    private var metricsServer: HTTPBootServer?
    private let startedAt = Supervisor.unixTime()
    /// 1 at start, +1 per reload applied (in full or in part).
    public private(set) var generation = 1
    public private(set) var lastReload: DaemonStatus.ReloadStatus?

    public init(configuration: PXEConfiguration, configPath: String?, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                logger: Logger) {
        self.configuration = configuration
        self.configPath = configPath
        self.group = group
        self.logger = logger
        self.resources = EngineResources(logger: logger)
        self.catalogFactory = CatalogMetricsFactory(registry: registry)
        self.daemonMetrics = DaemonRecorder(factory: catalogFactory, version: PXEVersion.current)
        daemonMetrics.generation.set(1)
        daemonMetrics.lastReload.set(startedAt)
        daemonMetrics.lastReloadSuccess.set(1)
    }

    static func unixTime() -> Double { DHCPListener.unixTime() }

    public enum StartError: Error, CustomStringConvertible {
        case engines([String])
        public var description: String {
            switch self {
            case .engines(let e): e.joined(separator: "\n")
            }
        }
    }

    /// Starts every engine. At start-up any failure is fatal: the admin must see it at once.
    public func start() async throws {
        let failures = await applyEngines(configuration)
        if !failures.isEmpty {
            await stop(grace: .zero)
            throw StartError.engines(failures)
        }
        logger.info("pxed started: \(configuration.summary())")
    }

    public enum ReloadResult: Sendable, Equatable {
        case applied(String)
        case rejected([String])
        case partial(String, [String])
    }

    /// Re-reads the config file and applies what changed.
    @discardableResult
    public func reload() async -> ReloadResult {
        guard let path = configPath else {
            logger.notice("reload: no configuration file (one-call mode); nothing to do")
            return .applied("nothing")
        }
        let next: PXEConfiguration
        let clock = ContinuousClock()
        let started = clock.now
        do {
            next = try PXEConfig.load(path: path)
        } catch {
            let lines = error.errors.map(\.description)
            for line in lines { logger.error("reload rejected: \(line)") }
            logger.error("reload rejected: \(lines.count) error(s); the previous configuration keeps serving")
            noteReload("rejected", lines.joined(separator: "; "))
            return .rejected(lines)
        }
        let loaded = clock.now
        let result = await apply(next)
        logger.info("reload: file read and validated in \(Supervisor.ms(loaded - started)), applied in \(Supervisor.ms(clock.now - loaded))")
        return result
    }

    static func ms(_ d: Duration) -> String {
        let (s, atto) = d.components
        let micro = s * 1_000_000 + atto / 1_000_000_000_000
        return "\(micro / 1000).\(micro % 1000 / 100) ms"
    }

    /// Applies a new, already validated generation.
    public func apply(_ next: PXEConfiguration) async -> ReloadResult {
        let previous = configuration
        let failures = await applyEngines(next)
        configuration = next
        reloads += 1
        generation += 1
        daemonMetrics.generation.set(generation)
        let change = ConfigDiff.describe(from: previous, to: next)
        if failures.isEmpty {
            logger.notice("reload applied: \(change)")
            noteReload("applied", change)
            return .applied(change)
        }
        for f in failures { logger.error("reload: \(f)") }
        logger.notice("reload applied with errors: \(change)")
        noteReload("partial", change + "; errors: " + failures.joined(separator: "; "))
        return .partial(change, failures)
    }

    private func noteReload(_ result: String, _ detail: String) {
        let now = Supervisor.unixTime()
        lastReload = DaemonStatus.ReloadStatus(at: now, result: result, detail: detail)
        switch result {
        case "applied": daemonMetrics.reloadsApplied.increment()
        case "partial": daemonMetrics.reloadsPartial.increment()
        default: daemonMetrics.reloadsRejected.increment()
        }
        daemonMetrics.lastReload.set(now)
        daemonMetrics.lastReloadSuccess.set(result == "applied" ? 1 : 0)
    }

    /// Stops every engine; work in flight gets `grace` to finish.
    public func stop(grace: TimeAmount = .seconds(5)) async {
        if let m = metricsServer {
            metricsServer = nil
            await m.stop(grace: .zero)
        }
        let running = Array(engines.values)
        engines.removeAll()
        await withTaskGroup(of: Void.self) { g in
            for engine in running { g.addTask { await engine.stop(grace: grace) } }
        }
        resources.removeAll()
    }

    /// One line per engine, for SIGUSR1.
    public func statusLines() -> [String] {
        var lines = orderedKeys(engines.keys).compactMap { key in engines[key].map { "\(key): \($0.statusText())" } }
        if lines.isEmpty { lines.append("no engines running") }
        lines.append("reloads=\(reloads)")
        return lines
    }

    /// The engines running now, in the order they were applied.
    public var engineKeys: [EngineKey] { orderedKeys(engines.keys) }

    public func engine(_ key: EngineKey) -> (any Engine)? { engines[key] }

    private func orderedKeys(_ keys: some Sequence<EngineKey>) -> [EngineKey] {
        let rank = Dictionary(uniqueKeysWithValues: Self.kinds.enumerated().map { ($0.element.name, $0.offset) })
        return keys.sorted { (rank[$0.kind] ?? .max, $0.interface, $0.family) < (rank[$1.kind] ?? .max, $1.interface, $1.family) }
    }

    // MARK: - Engines

    private func applyEngines(_ next: PXEConfiguration) async -> [String] {
        var failures: [String] = []
        var plans: [any EnginePlan] = []
        var unresolved: Set<String> = []
        resources.beginGeneration()
        defer { resources.endGeneration() }
        // Metrics on or off: engines record through the factory they started with, so turning
        // metrics on or off restarts them (leases are on disk; transfers in flight finish).
        let recordMetrics = next.metrics != nil
        let restartAll = recordMetrics != enginesRecordMetrics
        enginesRecordMetrics = recordMetrics
        resources.metrics = recordMetrics ? catalogFactory : NOOPMetricsHandler.instance
        if restartAll, let store = resources.existing(DHCPEngine.leaseStoreKey(next.leaseFile), as: LeaseStore.self) {
            store.useMetrics(resources.metrics)
        }
        if let failure = await applyMetricsListener(next.metrics) { failures.append(failure) }

        for interface in next.interfaces {
            let resolved: ResolvedInterface
            if let address = interface.address {
                resolved = ResolvedInterface(config: interface, address: address, network: nil)
            } else {
                do {
                    let found = try NetworkInterfaces.firstIPv4(of: interface.name)
                    resolved = ResolvedInterface(config: interface, address: found.address, network: found.network)
                } catch NetworkInterfaces.LookupError.noIPv4 where interface.needsIPv4 == false {
                    // An IPv6-only link (DHCPv6, or TFTP/HTTP on address6 only): nothing to serve on IPv4.
                    resolved = ResolvedInterface(config: interface, address: .any, network: nil)
                } catch {
                    failures.append("\(interface.name): \(error)")
                    unresolved.insert(interface.name)
                    continue
                }
            }
            var withSix = resolved
            switch interface.address6 {
            case .off: withSix.address6 = nil
            case .address(let a): withSix.address6 = a
            case .auto: withSix.address6 = NetworkInterfaces.firstIPv6(of: interface.name)
            }
            for kind in Self.kinds {
                plans += kind.plans(for: next, interface: withSix, resources: resources)
            }
        }
        let planned = Set(plans.map(\.key))

        // Stop engines no longer planned (an interface whose address could not be looked up
        // keeps what it runs).
        for (key, engine) in engines where !planned.contains(key) && !unresolved.contains(key.interface) {
            engines[key] = nil
            await engine.stop(grace: .seconds(5))
            logger.info("\(key): stopped")
        }

        for plan in plans {
            if let running = engines[plan.key] {
                do {
                    if !restartAll, try await running.apply(plan) == .applied { continue }
                } catch {
                    failures.append("\(plan.key): \(error)")
                    continue
                }
                // Replaced: the old one frees its socket now and finishes its work meanwhile.
                engines[plan.key] = nil
                await running.stopListening()
                Task { await running.stop(grace: .seconds(5)) }
            }
            do {
                engines[plan.key] = try await plan.start(group: group, logger: logger)
            } catch {
                failures.append("\(plan.key): \(error)")
            }
        }
        return failures
    }
}

// MARK: - Observability

extension Supervisor {
    /// Starts, moves or stops the metrics listener; returns a failure to report.
    private func applyMetricsListener(_ settings: MetricsSettings?) async -> String? {
        if let running = metricsServer {
            let c = running.configuration
            if let settings, c.address == settings.address, c.port == Int(settings.port) { return nil }
            metricsServer = nil
            await running.stop(grace: .zero)
            logger.info("metrics: stopped listening on \(MetricsSettings(address: c.address, port: UInt16(c.port)).listenText)")
        }
        guard let settings else { return nil }
        do {
            // No file root: the one thing served is the route.
            let config = HTTPBootConfiguration(address: settings.address, port: Int(settings.port), root: "", maxConnections: 64)
            // A scrape a second would flood the log at info: only errors (notice) are logged.
            var quiet = logger
            quiet.logLevel = max(logger.logLevel, .notice)
            metricsServer = try await HTTPBootServer.start(group: group, configuration: config, routes: [MetricsRoute(supervisor: self)],
                                                           logger: quiet)
            logger.info("metrics: serving Prometheus metrics on http://\(settings.listenText)/metrics")
            return nil
        } catch {
            return "metrics: cannot listen on \(settings.listenText): \(error)"
        }
    }

    /// The exposition: gauges read from the engines now, then everything in the registry.
    public func scrape() async -> [UInt8] {
        daemonMetrics.refreshProcess()
        let factory = resources.metrics
        var tftpActive: [String: Int] = [:]
        for (key, engine) in orderedKeys(engines.keys).compactMap({ k in engines[k].map { (k, $0) } }) {
            let o = await engine.observe()
            for p in o.pools {
                let labels = [("interface", key.interface), ("pool", p.pool)]
                DHCPMetrics.poolSize.gauge(labels, factory: factory).set(p.size)
                DHCPMetrics.poolAssigned.gauge(labels, factory: factory).set(p.assigned)
                DHCPMetrics.poolFree.gauge(labels, factory: factory).set(p.free)
            }
            if let p = o.pool6 {
                let labels = [("interface", key.interface), ("pool", p.pool)]
                DHCPv6Metrics.poolSize.gauge(labels, factory: factory).set(p.size)
                DHCPv6Metrics.poolAssigned.gauge(labels, factory: factory).set(p.assigned)
            }
            if let n = o.activeTransfers { tftpActive[key.interface, default: 0] += n }
        }
        for (interface, n) in tftpActive { TFTPMetrics.active.gauge([("interface", interface)], factory: factory).set(n) }
        return registry.emitToBuffer()
    }

    /// What `pxed status` prints.
    public func status() async -> DaemonStatus {
        let now = Supervisor.unixTime()
        var engineStatus: [DaemonStatus.EngineStatus] = []
        var pools: [DaemonStatus.PoolStatus] = []
        var transfers: [DaemonStatus.TransferStatus] = []
        for key in orderedKeys(engines.keys) {
            guard let engine = engines[key] else { continue }
            engineStatus.append(.init(kind: key.kind, interface: key.interface, family: key.family,
                                      counters: Dictionary(engine.counters().map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })))
            let o = await engine.observe()
            for p in o.pools {
                pools.append(.init(interface: key.interface, family: "ipv4", pool: p.pool, size: Double(p.size), assigned: p.assigned,
                                   offered: p.offered, quarantined: p.quarantined, free: Double(p.free)))
            }
            if let p = o.pool6 {
                pools.append(.init(interface: key.interface, family: "ipv6", pool: p.pool, size: p.size, assigned: p.assigned,
                                   offered: 0, quarantined: 0, free: max(0, p.size - Double(p.assigned))))
            }
            for t in o.transfers {
                transfers.append(.init(protocol: key.kind, interface: key.interface, client: t.client, file: t.filename,
                                       upload: !t.isRead, bytes: t.bytes, size: t.size, seconds: t.seconds,
                                       bytesPerSecond: t.bytes.map { t.seconds > 0 ? Double($0) / t.seconds : 0 },
                                       blockSize: t.blockSize, windowSize: t.windowSize))
            }
        }
        var leases = DaemonStatus.LeaseCounts(active: 0, total: 0, active6: 0, total6: 0)
        if configuration.leaseStore.backend == .postgresql {
            // The database is the record; what this server knows of it is its engines' books
            // (its own leases and the others' it has read), without a query per status.
            var v4: [IPv4Address: Lease] = [:]
            for engine in engines.values {
                guard let dhcp = engine as? DHCPEngine, dhcp.listener.backend != nil else { continue }
                for l in await dhcp.listener.currentLeases() { v4[l.ip] = l }
            }
            leases = .init(active: v4.values.filter { $0.isBound(now: now) }.count, total: v4.count, active6: 0, total6: 0)
        } else if let store = resources.existing(DHCPEngine.leaseStoreKey(configuration.leaseFile), as: LeaseStore.self) {
            let v4 = store.leases, v6 = store.leases6
            leases = .init(active: v4.filter { $0.isBound(now: now) }.count, total: v4.count,
                           active6: v6.filter { $0.isBound(now: now) }.count, total6: v6.count)
        }
        return DaemonStatus(version: PXEVersion.current, pid: Int(getpid()), now: now, uptimeSeconds: now - startedAt,
                            configFile: configPath.map(Supervisor.absolute), generation: generation, lastReload: lastReload,
                            metricsListen: metricsServer == nil ? nil : configuration.metrics?.listenText,
                            engines: engineStatus, pools: pools, transfers: transfers, leases: leases)
    }
}

/// `GET /metrics` on the metrics listener.
struct MetricsRoute: HTTPRoute {
    let supervisor: Supervisor

    func matches(_ head: HTTPRequestHead) -> Bool {
        head.uri == "/metrics" || head.uri.hasPrefix("/metrics?")
    }

    func respond(to head: HTTPRequestHead) async -> HTTPRouteResponse {
        HTTPRouteResponse(contentType: "text/plain; version=0.0.4; charset=utf-8", body: await supervisor.scrape())
    }
}

/// The version pxed reports (`pxed_build_info`, `pxed status`); packaging/VERSION carries the same.
public enum PXEVersion {
    public static let current = "0.1.0"
}

extension Supervisor {
    /// The file's absolute path (the daemon may have been started with a relative one).
    static func absolute(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
