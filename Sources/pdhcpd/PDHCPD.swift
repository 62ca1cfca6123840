// pdhcpd: a small PXE DHCP server for one interface (the pTFTPd `pxe` DHCP half, done properly).
import ArgumentParser
import DHCP
import Logging
import PXEConfig
import PXEDaemon


@main
struct PDHCPD: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pdhcpd",
        abstract: "Serve DHCP to network-booting clients on one interface.",
        discussion: """
            Leases are kept in --lease-file (append-only, fsynced before each ACK). By default only \
            PXE/HTTP-boot clients (option 60 PXEClient/HTTPClient) are answered; -a answers everyone. \
            The router option defaults to this server's address (use -g to name the real gateway).
            """)

    @Flag(name: [.short, .customLong("answer-all")], help: "Answer every DHCP client, not only PXE clients.")
    var answerAll = false

    @Flag(help: "Proxy DHCP beside the link's own DHCP server: boot information for PXE clients, no addresses, plus the PXE boot server on port 4011.")
    var proxy = false

    @Option(name: [.short, .customLong("name-server")], help: "DNS server to hand out (repeatable).")
    var nameServers: [String] = []

    @Option(help: "Dynamic range A-B (default: the larger side of the interface's subnet around this server's address).")
    var range: String?

    @Option(name: .customLong("lease-file"), help: "Lease database path.")
    var leaseFile = "/var/lib/pxed/leases"

    @Option(name: .customLong("lease-time"), help: "Lease time in seconds.")
    var leaseTime: Int = 3600

    @OptionGroup var common: BootServerOptions

    func validate() throws {
        if proxy {
            let clash = [answerAll ? "--answer-all" : nil, nameServers.isEmpty ? nil : "--name-server",
                         range != nil ? "--range" : nil, common.gateway != nil ? "--gateway" : nil].compactMap { $0 }
            guard clash.isEmpty else {
                throw ValidationError("\(clash.joined(separator: ", ")) does not apply with --proxy: the link's own DHCP server hands out addresses and network settings")
            }
        }
        guard (60...0x7FFF_FFFF).contains(leaseTime) else { throw ValidationError("--lease-time must be at least 60 seconds") }
        for ns in nameServers { _ = try BootServerOptions.address(ns, option: "--name-server") }
        _ = try parseRange()
        guard !leaseFile.isEmpty else { throw ValidationError("--lease-file must not be empty") }
    }

    func parseRange() throws -> (IPv4Address, IPv4Address)? {
        guard let range else { return nil }
        let parts = range.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let a = IPv4Address(parts[0]), let b = IPv4Address(parts[1]) else {
            throw ValidationError("--range: expected A-B, for example 10.0.0.100-10.0.0.199")
        }
        guard a <= b else { throw ValidationError("--range: \(a) is after \(b)") }
        return (a, b)
    }

    func run() async throws {
        let logger = common.logger(label: "pdhcpd")
        let range = try parseRange()
        let built = try common.configuration(logger: logger) { setup in
            var dhcp = OneCallMode.DHCPSetup()
            dhcp.range = range
            dhcp.router = try common.gatewayAddress()
            dhcp.nameServers = try nameServers.compactMap { try BootServerOptions.address($0, option: "--name-server") }
            dhcp.pxeOnly = !answerAll
            dhcp.port = UInt16(common.port)
            dhcp.leaseTime = leaseTime
            dhcp.proxy = proxy
            setup.dhcp = dhcp
            setup.leaseFile = leaseFile
        }
        var config = built.0
        let nic = built.1
        // Unlike pxed's one-call mode, pdhcpd names itself as the router unless told otherwise.
        if config.interfaces[0].dhcp?.router == nil { config.interfaces[0].dhcp?.router = nic.address }
        let settings = DHCPEngine.settings(config, interface: ResolvedInterface(config: config.interfaces[0], address: nic.address,
                                                                                network: nic.network))
        if proxy {
            let listener = try await DHCPListener.start(settings: settings, port: settings.port, leases: nil, logger: logger)
            logger.info("proxy DHCP on \(common.interface) (\(nic.address)), boot file \(common.bootfile); boot server on port \(settings.proxy?.bootServerPort ?? 4011)")
            try await BootServerOptions.serveUntilSignalled(listener, logger: logger) { s in
                "received \(s.received), proxy offers \(s.proxyOffers), proxy acks \(s.proxyAcks), malformed \(s.malformed)"
            }
            return
        }
        let pool = config.interfaces[0].dhcp!

        let store: LeaseStore
        do {
            let (s, warnings) = try LeaseStore.open(path: leaseFile)
            for w in warnings { logger.warning("\(w)") }
            store = s
        } catch {
            logger.error("cannot open lease file: \(error)")
            throw ExitCode(73)
        }
        defer { store.close() }

        let listener = try await DHCPListener.start(settings: settings, port: settings.port, leases: store, logger: logger)
        logger.info("serving \(pool.rangeStart)-\(pool.rangeEnd) on \(common.interface) (\(nic.address)), boot file \(common.bootfile)\(answerAll ? "" : ", PXE clients only")")
        try await BootServerOptions.serveUntilSignalled(listener, logger: logger) { s in
            "received \(s.received), offers \(s.offers), acks \(s.acks), naks \(s.naks), malformed \(s.malformed)"
        }
    }
}
