import ArgumentParser
import DHCP
import Logging
import PXEConfig

/// What pdhcpd and pbootpd share on their command lines: the interface to serve, the boot file,
/// where the TFTP server is, the router, the port, and logging.
public struct BootServerOptions: ParsableArguments {
    @Option(name: [.short, .customLong("tftp-server")], help: "Next-server (TFTP) address (default: the interface address).")
    public var tftpServer: String?

    @Option(name: [.short, .long], help: "Router (option 3) to hand out.")
    public var gateway: String?

    @Option(name: [.short, .long], help: "UDP port to listen on.")
    public var port: Int = 67

    @Flag(name: [.short, .long], help: "Log every packet.")
    public var verbose = false

    @Flag(name: [.short, .long], help: "Accepted for parity with the TFTP tools; DHCP and BOOTP carry no TFTP options.")
    public var rfc1350 = false

    @Argument(help: "Interface to serve (for example eth0).")
    public var interface: String

    @Argument(help: "Boot file name handed to clients.")
    public var bootfile: String

    public init() {}

    public func validate() throws {
        guard !interface.isEmpty, interface.utf8.count <= 15, !interface.contains("/") else {
            throw ValidationError("'\(interface)' is not a valid interface name (1-15 characters)")
        }
        guard !bootfile.isEmpty, bootfile.utf8.count <= 127 else {
            throw ValidationError("the boot file name must be 1-127 bytes")
        }
        guard (1...65535).contains(port) else { throw ValidationError("--port must be 1...65535") }
        _ = try tftpServerAddress()
        _ = try gatewayAddress()
    }

    public func tftpServerAddress() throws -> IPv4Address? { try Self.address(tftpServer, option: "--tftp-server") }
    public func gatewayAddress() throws -> IPv4Address? { try Self.address(gateway, option: "--gateway") }

    public static func address(_ text: String?, option: String) throws -> IPv4Address? {
        guard let text else { return nil }
        guard let a = IPv4Address(text) else { throw ValidationError("\(option): '\(text)' is not an IPv4 address") }
        return a
    }

    /// The configuration of this one-interface server (built as pxed's one-call mode builds its
    /// own), with the interface as found. `configure` adds the tool's own part (DHCP or BOOTP).
    /// Logs what is wrong and exits 69 (no such interface or no address) or 64.
    public func configuration(logger: Logger, _ configure: (inout OneCallMode.Setup) throws -> Void) throws -> (PXEConfiguration, ResolvedInterface) {
        var setup = OneCallMode.Setup(interface: interface, bootFile: bootfile)
        setup.nextServer = try tftpServerAddress()
        try configure(&setup)
        do {
            return try OneCallMode.configuration(setup)
        } catch let failure as OneCallMode.Failure {
            logger.error("\(failure)")
            throw ExitCode(failure.exitCode)
        }
    }

    /// Serves with `listener` until SIGTERM/SIGINT (swift-service-lifecycle's signal handling,
    /// as in ptftpd), then stops it and logs `summary` of its counters.
    public static func serveUntilSignalled(_ listener: DHCPListener, logger: Logger,
                                           summary: @escaping @Sendable (DHCPStats) -> String) async throws {
        let service = StandaloneService(start: {}, stop: {
            await listener.stop()
            logger.info("\(summary(listener.stats))")
        })
        try await StandaloneService.runUntilSignalled(service, logger: logger)
    }

    /// The daemon's log format on stderr, at debug level with --verbose, info otherwise.
    public func logger(label: String) -> Logger {
        DaemonLogging.makeLogger(label: label, level: verbose ? .debug : .info)
    }
}
