import ArgumentParser
import Logging
import NIOPosix
import PXEConfig
import PXEDaemon
import TFTP

@main
struct PTFTPD: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ptftpd",
        abstract: "A TFTP server (RFC 1350, 2347, 2348, 2349, 7440) serving ROOT on IFACE.",
        discussion: "Files are served read-only unless --upload is given. Every path stays inside ROOT.")

    @Option(name: .shortAndLong, help: "UDP port to listen on.") var port: Int = 69
    @Option(name: .shortAndLong, help: "Address to listen on (default: the first IPv4 address of IFACE).") var address: String?
    @Flag(name: .shortAndLong, help: "Strict RFC 1350: no option negotiation at all.") var rfc1350 = false
    @Flag(name: .shortAndLong, help: "Log every transfer and refusal.") var verbose = false
    @Flag(help: "Allow write requests (uploads).") var upload = false
    @Flag(help: "Let uploads replace existing files.") var overwrite = false
    @Option(help: "Ports for transfer sockets, LOW:HIGH (for firewalls).") var portRange: String?
    @Option(help: "Largest blksize granted (8..65464).") var blksizeMax: Int = 1468
    @Option(help: "Largest windowsize granted (1..65535).") var windowsizeMax: Int = 64
    @Option(help: "Most transfers at once.") var maxSessions: Int = 500
    @Option(help: "Seconds before the first retransmit.") var timeout: Int = 1
    @Option(help: "Retransmissions before a transfer is abandoned.") var retries: Int = 5
    @Argument(help: "Network interface to serve on (e.g. eth0, lo).") var iface: String
    @Argument(help: "TFTP root directory.") var root: String

    func validate() throws {
        guard (1...65535).contains(port) else { throw ValidationError("--port must be 1...65535") }
        guard (8...65464).contains(blksizeMax) else { throw ValidationError("--blksize-max must be 8...65464") }
        guard (1...65535).contains(windowsizeMax) else { throw ValidationError("--windowsize-max must be 1...65535") }
        guard (1...100_000).contains(maxSessions) else { throw ValidationError("--max-sessions must be 1...100000") }
        guard (1...255).contains(timeout) else { throw ValidationError("--timeout must be 1...255") }
        guard (1...100).contains(retries) else { throw ValidationError("--retries must be 1...100") }
        if let portRange, parsePortRange(portRange) == nil { throw ValidationError("--port-range must be LOW:HIGH with 1 <= LOW <= HIGH <= 65535") }
    }

    func parsePortRange(_ s: String) -> ClosedRange<Int>? {
        let parts = s.split(whereSeparator: { $0 == ":" || $0 == "-" })
        guard parts.count == 2, let lo = Int(parts[0]), let hi = Int(parts[1]), 1 <= lo, lo <= hi, hi <= 65535 else { return nil }
        return lo...hi
    }

    func run() async throws {
        let logger = DaemonLogging.makeLogger(label: "ptftpd", level: verbose ? .debug : .info)
        var host = address
        if host == nil {
            do { host = try NetworkInterfaces.firstIPv4(of: iface).address.description } catch {
                throw ValidationError("\(error)")
            }
        }
        var settings = TFTPSettings()
        settings.root = root
        settings.port = UInt16(port)
        settings.uploads = upload
        settings.overwrite = overwrite
        settings.rfc1350 = rfc1350
        settings.blksizeMax = blksizeMax
        settings.windowsizeMax = windowsizeMax
        settings.maxSessions = maxSessions
        settings.timeout = timeout
        settings.retries = retries
        settings.portRange = portRange.flatMap(parsePortRange).map { UInt16($0.lowerBound)...UInt16($0.upperBound) }
        let config = TFTPEngine.configuration(settings, interface: iface, address: host ?? "0.0.0.0")
        let server: TFTPServer
        do {
            server = try await TFTPServer.start(group: MultiThreadedEventLoopGroup.singleton, configuration: config, logger: logger)
        } catch {
            logger.error("\(error)")
            throw ExitCode(1)
        }
        logger.info("serving \(root) on \(server.listenAddress)\(rfc1350 ? " (RFC 1350 only)" : "")\(upload ? ", uploads allowed" : "")")
        let service = StandaloneService(start: {}, stop: { await server.stop() })
        try await StandaloneService.runUntilSignalled(service, logger: logger)
    }
}


