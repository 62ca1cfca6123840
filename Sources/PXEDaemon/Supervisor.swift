import DHCP
import Logging
import NIOCore
import NIOPosix
import PXEConfig
import TFTP

/// Runs the engines a configuration asks for (TFTP per interface, DHCP/BOOTP per interface) and
/// swaps configuration generations on reload.
///
/// A reload is all or nothing up to the file: a file that does not load or validate changes
/// nothing. A valid one is applied engine by engine; an engine that cannot start (port taken,
/// interface gone) is logged and the rest still applies.
public actor Supervisor {
    public private(set) var configuration: PXEConfiguration
    public let configPath: String?
    private let group: any EventLoopGroup
    private let logger: Logger
    private var tftp: [String: TFTPServer] = [:]
    private var dhcp: [String: DHCPListener] = [:]
    private var leaseStore: LeaseStore?
    private var reloads = 0

    public init(configuration: PXEConfiguration, configPath: String?, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                logger: Logger) {
        self.configuration = configuration
        self.configPath = configPath
        self.group = group
        self.logger = logger
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
        let failures = await applyEngines(configuration, previous: nil)
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
        let failures = await applyEngines(next, previous: previous)
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

    /// Stops every engine; transfers in flight get `grace` to finish.
    public func stop(grace: TimeAmount = .seconds(5)) async {
        await withTaskGroup(of: Void.self) { g in
            for server in tftp.values { g.addTask { await server.stop(grace: grace) } }
            for listener in dhcp.values { g.addTask { await listener.stop() } }
        }
        tftp.removeAll()
        dhcp.removeAll()
        leaseStore = nil
    }

    /// One line per engine, for SIGUSR1.
    public func statusLines() -> [String] {
        var lines: [String] = []
        for (name, server) in tftp.sorted(by: { $0.key < $1.key }) {
            let s = server.stats
            lines.append("tftp \(name): active=\(s.active) started=\(s.started) completed=\(s.completed) failed=\(s.failed) refused=\(s.refused) evicted=\(s.evicted) bytes=\(s.bytesServed) malformed=\(s.malformed)")
        }
        for (name, listener) in dhcp.sorted(by: { $0.key < $1.key }) {
            let s = listener.stats
            lines.append("dhcp \(name): received=\(s.received) offers=\(s.offers) acks=\(s.acks) naks=\(s.naks) bootp=\(s.bootpReplies) malformed=\(s.malformed) ignored=\(s.ignored) leases=\(leaseStore?.leases.count ?? 0)")
        }
        if lines.isEmpty { lines.append("no engines running") }
        lines.append("reloads=\(reloads)")
        return lines
    }

    public var tftpServers: [String: TFTPServer] { tftp }
    public var dhcpListeners: [String: DHCPListener] { dhcp }

    // MARK: - Engines

    private func applyEngines(_ next: PXEConfiguration, previous: PXEConfiguration?) async -> [String] {
        var failures: [String] = []
        let nextByName = Dictionary(next.interfaces.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })

        // Stop engines whose interface or service went away.
        for (name, server) in tftp where nextByName[name]?.tftp == nil {
            tftp[name] = nil
            await server.stop()
            logger.info("tftp \(name): stopped")
        }
        for (name, listener) in dhcp where !(nextByName[name].map { $0.dhcp != nil || $0.bootp } ?? false) {
            dhcp[name] = nil
            await listener.stop()
            logger.info("dhcp \(name): stopped")
        }

        if next.interfaces.contains(where: { $0.dhcp != nil || $0.bootp }) {
            if leaseStore == nil || leaseStore?.path != next.leaseFile {
                do {
                    let (store, warnings) = try LeaseStore.open(path: next.leaseFile)
                    for w in warnings { logger.warning("lease file \(next.leaseFile): \(w)") }
                    leaseStore = store
                } catch {
                    failures.append("lease file \(next.leaseFile): \(error)")
                }
            }
        }

        for interface in next.interfaces {
            let address: IPv4Address
            var network: IPv4Network? = nil
            if let a = interface.address {
                address = a
            } else {
                do {
                    let found = try NetworkInterfaces.firstIPv4(of: interface.name)
                    address = found.address
                    network = found.network
                } catch {
                    failures.append("\(interface.name): \(error)")
                    continue
                }
            }
            if let settings = interface.tftp {
                if let f = await ensureTFTP(interface.name, address: address, settings: settings) { failures.append(f) }
            }
            if interface.dhcp != nil || interface.bootp {
                let settings = DHCPServiceConfig(configuration: next, interface: interface, serverAddress: address,
                                                 tftpRoot: interface.tftp?.root, interfaceNetwork: network)
                if let f = await ensureDHCP(interface.name, settings: settings) { failures.append(f) }
            }
        }
        return failures
    }

    private func tftpConfiguration(_ name: String, address: IPv4Address, settings: TFTPSettings) -> TFTPServerConfiguration {
        var c = TFTPServerConfiguration(root: settings.root, address: address.description, port: Int(settings.port))
        c.uploads = settings.uploads
        c.overwrite = settings.overwrite
        c.limits.rfc1350 = settings.rfc1350
        c.limits.blockSizeMax = settings.blksizeMax
        c.limits.windowSizeMax = settings.windowsizeMax
        c.timeout = settings.timeout
        c.retries = settings.retries
        c.maxSessions = settings.maxSessions
        c.portRange = settings.portRange.map { Int($0.lowerBound)...Int($0.upperBound) }
        c.label = name
        return c
    }

    private func ensureTFTP(_ name: String, address: IPv4Address, settings: TFTPSettings) async -> String? {
        let config = tftpConfiguration(name, address: address, settings: settings)
        if let running = tftp[name] {
            let current = running.configuration
            if current.address == config.address && current.port == config.port {
                do { try running.apply(config) } catch { return "tftp \(name): \(error)" }
                return nil
            }
            // A new address or port needs a new socket; transfers on the old one finish first.
            tftp[name] = nil
            let old = running
            Task { await old.stop() }
        }
        do {
            tftp[name] = try await TFTPServer.start(group: group, configuration: config, logger: logger)
            logger.info("tftp \(name): serving \(config.root) on \(config.address):\(config.port)\(config.limits.rfc1350 ? " (RFC 1350 only)" : "")")
            return nil
        } catch {
            return "tftp \(name): \(error)"
        }
    }

    private func ensureDHCP(_ name: String, settings: DHCPServiceConfig) async -> String? {
        if let running = dhcp[name] {
            // Same socket and same lease file: swap the configuration in place (leases and held
            // offers kept). A new port needs a new socket; a new lease file needs an engine that
            // persists to it and starts from its records.
            if running.localAddress?.port == Int(settings.port) && running.leaseStore === leaseStore {
                await running.apply(settings: settings)
                return nil
            }
            dhcp[name] = nil
            await running.stop()
        }
        do {
            dhcp[name] = try await DHCPListener.start(group: group, settings: settings, port: settings.port,
                                                      leases: leaseStore, logger: logger)
            return nil
        } catch {
            return "dhcp \(name): cannot listen on port \(settings.port): \(error)"
        }
    }
}
