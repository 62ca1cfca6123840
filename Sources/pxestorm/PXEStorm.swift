import ArgumentParser
import BootStorm
import PXEConfig

/// `pxestorm`: N machines booting at once against a PXE server (see bench/bootstorm.sh).
@main
struct PXEStorm: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pxestorm",
        abstract: "Simulate N machines powering on at once: DORA through a relay, then TFTP (and HTTP) downloads.",
        discussion: "Prints one line of JSON: machines, ok, failed, last_s, median_s, retransmits, failure reasons and each machine's finish time.")

    @Option(help: "Machines booting at once.") var machines: Int = 50
    @Option(help: "The server's address (DHCP, TFTP and HTTP).") var server: String
    @Option(help: "The relay agent's address on this host (port 67 is bound on it; it is the giaddr).") var relay: String
    @Option(help: "The file downloaded after the boot file.") var kernel: String = "kernel"
    @Option(help: "Also fetch both files over HTTP from this port.") var httpPort: Int?
    @Option(help: "Directory with the served files, to check every download's bytes.") var verify: String?
    @Option(help: "First MAC number (52:54:01:xx:xx:xx).") var macBase: Int = 0
    @Option(help: "TFTP retransmit timeout, seconds.") var tftpTimeout: Int = 1
    @Option(help: "No DHCP: fetch this boot file (then the kernel) from --server straight away.") var bootFile: String?

    func validate() throws {
        guard (1...100_000).contains(machines) else { throw ValidationError("--machines must be 1 to 100000") }
        guard IPv4Address(server) != nil, IPv4Address(relay) != nil else { throw ValidationError("--server and --relay take IPv4 addresses") }
    }

    func run() async throws {
        var plan = StormPlan(machines: machines, server: IPv4Address(server)!, relay: IPv4Address(relay)!, kernel: kernel)
        plan.httpPort = httpPort
        plan.macBase = macBase
        plan.tftpTimeout = tftpTimeout
        plan.bootFileWithoutDHCP = bootFile
        if let dir = verify { plan.expected = BootStorm.digests(ofFilesIn: dir) }
        let report = try await BootStorm.run(plan)
        print(report.json)
    }
}
