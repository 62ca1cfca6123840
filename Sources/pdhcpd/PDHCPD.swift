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

    @Option(name: [.short, .customLong("name-server")], help: "DNS server to hand out (repeatable).")
    var nameServers: [String] = []

    @Option(help: "Dynamic range A-B (default: the interface's subnet, minus this server).")
    var range: String?

    @Option(name: .customLong("lease-file"), help: "Lease database path.")
    var leaseFile = "/var/lib/pxed/leases"

    @Option(name: .customLong("lease-time"), help: "Lease time in seconds.")
    var leaseTime: Int = 3600

    @OptionGroup var common: BootServerOptions

    func validate() throws {
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
        let interface = common.interface, bootfile = common.bootfile, port = common.port

        let nic = try common.interfaceAddress(logger: logger)
        let subnet = nic.network
        let (start, end): (IPv4Address, IPv4Address)
        if let r = try parseRange() {
            guard subnet.contains(r.0), subnet.contains(r.1) else {
                logger.error("--range \(r.0)-\(r.1) is not inside \(subnet) on \(interface)")
                throw ExitCode.validationFailure
            }
            (start, end) = r
        } else {
            guard subnet.prefixLength <= 30 else {
                logger.error("\(interface) is on \(subnet), too small for a default range; give --range")
                throw ExitCode.validationFailure
            }
            (start, end) = (IPv4Address(subnet.network.value + 1), IPv4Address(subnet.broadcastAddress.value - 1))
        }

        var pool = DHCPPoolConfig(subnet: subnet, rangeStart: start, rangeEnd: end)
        pool.router = try common.gatewayAddress() ?? nic.address
        pool.dns = try nameServers.compactMap { try BootServerOptions.address($0, option: "--name-server") }
        pool.pxeOnly = !answerAll
        pool.port = UInt16(port)
        pool.leaseTime = leaseTime
        var iface = InterfaceConfig(name: interface)
        iface.address = nic.address
        iface.dhcp = pool
        var config = PXEConfiguration()
        config.leaseFile = leaseFile
        config.interfaces = [iface]
        config.boot.default = bootfile
        config.boot.nextServer = try common.tftpServerAddress()
        let settings = DHCPServiceConfig(configuration: config, interface: iface, serverAddress: nic.address,
                                         tftpRoot: nil, interfaceNetwork: subnet)

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

        let listener = try await DHCPListener.start(settings: settings, port: UInt16(port), leases: store, logger: logger)
        logger.info("serving \(start)-\(end) on \(interface) (\(nic.address)), boot file \(bootfile)\(answerAll ? "" : ", PXE clients only")")
        try await BootServerOptions.serveUntilSignalled(listener, logger: logger) { s in
            "received \(s.received), offers \(s.offers), acks \(s.acks), naks \(s.naks), malformed \(s.malformed)"
        }
    }
}
