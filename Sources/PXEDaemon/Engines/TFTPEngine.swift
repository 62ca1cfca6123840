import CoreMetrics
import Logging
import NIOCore
import PXEConfig
import TFTP

/// The TFTP engine of one interface: a `TFTPServer` and the mapping from the file's `tftp:`
/// settings to the server's configuration (the one place that mapping lives).
public final class TFTPEngine: Engine {
    public let server: TFTPServer

    init(server: TFTPServer) { self.server = server }

    /// The server configuration for `settings` on `interface` at `address`.
    public static func configuration(_ settings: TFTPSettings, interface: String, address: String) -> TFTPServerConfiguration {
        var c = TFTPServerConfiguration(root: settings.root, address: address, port: Int(settings.port))
        c.uploads = settings.uploads
        c.overwrite = settings.overwrite
        c.limits.rfc1350 = settings.rfc1350
        c.limits.blockSizeMax = settings.blksizeMax
        c.limits.windowSizeMax = settings.windowsizeMax
        c.timeout = settings.timeout
        c.retries = settings.retries
        c.maxSessions = settings.maxSessions
        c.portRange = settings.portRange.map { Int($0.lowerBound)...Int($0.upperBound) }
        c.label = interface
        return c
    }

    public func apply(_ plan: any EnginePlan) async throws -> EngineApplyResult {
        guard let plan = plan as? Plan else { return .restart }
        let current = server.configuration
        // A new address or port needs a new socket; transfers on the old one finish first.
        guard current.address == plan.configuration.address, current.port == plan.configuration.port else { return .restart }
        try server.apply(plan.configuration)
        return .applied
    }

    public func stopListening() async { await server.stopListening() }
    public func stop(grace: TimeAmount) async { await server.stop(grace: grace) }

    public func counters() -> [EngineCounter] {
        let s = server.stats
        return [
            EngineCounter("active", s.active, .gauge), EngineCounter("started", s.started),
            EngineCounter("completed", s.completed), EngineCounter("failed", s.failed),
            EngineCounter("size-probes", s.probed),
            EngineCounter("refused", s.refused), EngineCounter("evicted", s.evicted),
            EngineCounter("bytes", s.bytesServed), EngineCounter("malformed", s.malformed),
        ]
    }

    public func observe() async -> EngineObservation {
        var o = EngineObservation()
        o.transfers = server.activeTransfers
        o.activeTransfers = server.stats.active
        return o
    }

    struct Plan: EnginePlan {
        let key: EngineKey
        let configuration: TFTPServerConfiguration
        let metrics: any MetricsFactory

        func start(group: any EventLoopGroup, logger: Logger) async throws -> any Engine {
            let server = try await TFTPServer.start(group: group, configuration: configuration, logger: logger, metrics: metrics,
                                                    metricLabels: [("interface", key.interface)])
            logger.info("\(key): serving \(configuration.root) on \(SocketAddress.hostAndPort(configuration.address, configuration.port))\(configuration.limits.rfc1350 ? " (RFC 1350 only)" : "")")
            return TFTPEngine(server: server)
        }
    }
}

extension TFTPEngine: EngineKind {
    public static let name = "tftp"

    public static func plans(for generation: PXEConfiguration, interface: ResolvedInterface,
                             resources: EngineResources) -> [any EnginePlan] {
        guard let settings = interface.config.tftp else { return [] }
        return interface.servedAddresses.map { served in
            Plan(key: EngineKey(kind: name, interface: interface.config.name, family: served.family),
                 configuration: configuration(settings, interface: interface.config.name, address: served.address),
                 metrics: resources.metrics)
        }
    }
}
