import DHCP
import Logging
import NIOCore
import NIOPosix
import PXEConfig
import TFTP

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

    public init(configuration: PXEConfiguration, configPath: String?, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                logger: Logger) {
        self.configuration = configuration
        self.configPath = configPath
        self.group = group
        self.logger = logger
        self.resources = EngineResources(logger: logger)
    }

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
        let change = ConfigDiff.describe(from: previous, to: next)
        if failures.isEmpty {
            logger.notice("reload applied: \(change)")
            return .applied(change)
        }
        for f in failures { logger.error("reload: \(f)") }
        logger.notice("reload applied with errors: \(change)")
        return .partial(change, failures)
    }

    /// Stops every engine; work in flight gets `grace` to finish.
    public func stop(grace: TimeAmount = .seconds(5)) async {
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
                    if try await running.apply(plan) == .applied { continue }
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
