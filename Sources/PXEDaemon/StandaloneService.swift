import Logging
import ServiceLifecycle
import UnixSignals
#if canImport(Glibc)
import Glibc
#endif

/// Runs `body` until SIGTERM or SIGINT, then calls `shutdown`. For the single-engine tools
/// (ptftpd, pdhcpd, pbootpd); the `pxed` daemon has its own supervisor.
public struct StandaloneService: Service {
    let body: @Sendable () async throws -> Void
    let shutdown: @Sendable () async -> Void

    public init(start body: @escaping @Sendable () async throws -> Void, stop shutdown: @escaping @Sendable () async -> Void) {
        self.body = body
        self.shutdown = shutdown
    }

    public func run() async throws {
        try await body()
        try? await gracefulShutdown()
        await shutdown()
    }

    /// Runs the service with SIGTERM/SIGINT as graceful shutdown. SIGHUP is ignored.
    public static func runUntilSignalled(_ service: StandaloneService, logger: Logger) async throws {
        signal(SIGHUP, SIG_IGN)
        signal(SIGPIPE, SIG_IGN)
        Daemon.raiseOpenFileLimit()
        let group = ServiceGroup(configuration: .init(services: [.init(service: service)],
                                                      gracefulShutdownSignals: [.sigterm, .sigint],
                                                      logger: logger))
        try await group.run()
    }
}
