import HTTPBoot
import TFTP
import CoreMetrics
import Logging
import NIOCore
import PXEConfig

/// The HTTP engine of one interface: an `HTTPBootServer` on the interface's address, serving
/// the interface's HTTP root (by default its TFTP root: the same files over both protocols).
public final class HTTPEngine: Engine {
    public let server: HTTPBootServer

    init(server: HTTPBootServer) { self.server = server }

    /// The server configuration for `settings` on `interface` (the one place that mapping lives).
    public static func configuration(_ settings: HTTPSettings, interface: InterfaceConfig, address: String) -> HTTPBootConfiguration {
        HTTPBootConfiguration(address: address, port: Int(settings.port),
                              root: settings.root ?? interface.tftp?.root ?? TFTPSettings().root,
                              maxConnections: settings.maxConnections)
    }

    public func apply(_ plan: any EnginePlan) async throws -> EngineApplyResult {
        guard let plan = plan as? Plan else { return .restart }
        let current = server.configuration
        // A new address or port needs a new socket; downloads on the old one finish first.
        guard current.address == plan.configuration.address, current.port == plan.configuration.port else { return .restart }
        server.apply(plan.configuration)
        return .applied
    }

    public func stopListening() async { await server.stopListening() }
    public func stop(grace: TimeAmount) async { await server.stop(grace: grace) }

    public func counters() -> [EngineCounter] {
        let s = server.stats
        return [
            EngineCounter("connections", s.connections, .gauge), EngineCounter("requests", s.requests),
            EngineCounter("bytes", s.bytesServed), EngineCounter("partial", s.partial),
            EngineCounter("not-modified", s.notModified), EngineCounter("not-found", s.notFound),
            EngineCounter("forbidden", s.forbidden), EngineCounter("connections-refused", s.connectionsRefused),
        ]
    }

    public func observe() async -> EngineObservation {
        var o = EngineObservation()
        o.transfers = server.activeDownloads
        return o
    }

    struct Plan: EnginePlan {
        let key: EngineKey
        let configuration: HTTPBootConfiguration
        let metrics: any MetricsFactory

        func start(group: any EventLoopGroup, logger: Logger) async throws -> any Engine {
            do {
                let server = try await HTTPBootServer.start(group: group, configuration: configuration, logger: logger,
                                                            metrics: metrics, metricLabels: [("interface", key.interface)])
                logger.info("\(key): serving \(configuration.root) on http://\(SocketAddress.hostAndPort(configuration.address, configuration.port))/")
                return HTTPEngine(server: server)
            } catch {
                throw EngineError("cannot listen on \(configuration.address):\(configuration.port) (HTTP): \(error)")
            }
        }
    }
}

extension HTTPEngine: EngineKind {
    public static let name = "http"

    public static func plans(for generation: PXEConfiguration, interface: ResolvedInterface,
                             resources: EngineResources) -> [any EnginePlan] {
        guard let settings = interface.config.http else { return [] }
        return interface.servedAddresses.map { served in
            Plan(key: EngineKey(kind: name, interface: interface.config.name, family: served.family),
                 configuration: configuration(settings, interface: interface.config, address: served.address),
                 metrics: resources.metrics)
        }
    }
}
