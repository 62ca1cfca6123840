// pbootpd: a BOOTP (RFC 951/1497) server for statically reserved hosts on one interface.
import ArgumentParser
import DHCP
import Logging
import PXEConfig
import PXEDaemon


@main
struct PBOOTPD: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pbootpd",
        abstract: "Serve BOOTP to reserved hosts on one interface.",
        discussion: "Only MAC addresses given with --host are answered; BOOTP has no dynamic leases here.")

    @Option(name: .customLong("host"), help: "A reservation MAC=IP, for example 52:54:00:12:34:56=10.0.0.20 (repeatable).")
    var hosts: [String] = []

    @Option(name: .customLong("tftp-root"), help: "TFTP root; when given, replies carry the boot file size (option 13).")
    var tftpRoot: String?

    @OptionGroup var common: BootServerOptions

    func validate() throws {
        _ = try parseHosts()
    }

    func parseHosts() throws -> [HostEntry] {
        var seen: Set<MACAddress> = []
        return try hosts.map { text in
            let parts = text.split(separator: "=", omittingEmptySubsequences: false)
            guard parts.count == 2, let mac = MACAddress(parts[0]), let ip = IPv4Address(parts[1]) else {
                throw ValidationError("--host: expected MAC=IP, for example 52:54:00:12:34:56=10.0.0.20; got '\(text)'")
            }
            guard seen.insert(mac).inserted else { throw ValidationError("--host: \(mac) given twice") }
            var h = HostEntry(mac: mac)
            h.ip = ip
            return h
        }
    }

    func run() async throws {
        let logger = common.logger(label: "pbootpd")
        let reservations = try parseHosts()
        let (config, nic) = try common.configuration(logger: logger) { setup in setup.bootpHosts = reservations }
        if reservations.isEmpty { logger.warning("no --host given: every request will be ignored") }
        let network = nic.network ?? IPv4Network(network: nic.address, prefixLength: 32)
        for h in reservations where !(h.ip.map(network.contains) ?? false) {
            logger.warning("\(h.mac) = \(h.ip.map { "\($0)" } ?? "-") is outside \(network); it will not be answered")
        }
        var settings = DHCPEngine.settings(config, interface: nic, tftpRoot: tftpRoot)
        settings.bootpRouter = try common.gatewayAddress()
        let listener = try await DHCPListener.start(settings: settings, port: UInt16(common.port), leases: nil, logger: logger)
        logger.info("BOOTP on \(common.interface) (\(nic.address)) for \(reservations.count) host(s), boot file \(common.bootfile)")
        try await BootServerOptions.serveUntilSignalled(listener, logger: logger) { s in
            "received \(s.received), replies \(s.bootpReplies), ignored \(s.ignored), malformed \(s.malformed)"
        }
    }
}
