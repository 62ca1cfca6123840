import Foundation
import Logging
import PXEConfig
import Testing
import TFTP
@testable import PXEDaemon

@Suite struct ConfigDiffTests {
    func config(root: String = "/a", hosts: [String] = []) -> PXEConfiguration {
        var c = PXEConfiguration()
        var i = InterfaceConfig(name: "eth1")
        var t = TFTPSettings()
        t.root = root
        i.tftp = t
        c.interfaces = [i]
        c.hosts = hosts.map { HostEntry(mac: MACAddress($0)!) }
        return c
    }

    @Test func noChange() {
        #expect(ConfigDiff.describe(from: config(), to: config()) == "no changes")
    }

    @Test func rootAndHostsChange() {
        let d = ConfigDiff.describe(from: config(root: "/a", hosts: ["52:54:00:00:00:01"]),
                                    to: config(root: "/b", hosts: ["52:54:00:00:00:01", "52:54:00:00:00:02"]))
        #expect(d == "eth1: tftp root /a -> /b; hosts 1 -> 2 (+1 -0 ~0)")
    }

    @Test func interfacesAddedAndRemoved() {
        var next = config()
        next.interfaces[0].name = "eth2"
        #expect(ConfigDiff.describe(from: config(), to: next) == "interfaces added: eth2; interfaces removed: eth1")
    }

    @Test func largeHostListsStayFast() {
        let macs = (0..<10_000).map { String(format: "52:54:00:%02x:%02x:00", $0 >> 8 & 255, $0 & 255) }
        let clock = ContinuousClock()
        let elapsed = clock.measure { _ = ConfigDiff.describe(from: config(hosts: macs), to: config(hosts: macs.reversed())) }
        // Linear work: far below a second even in a debug build (quadratic took many seconds).
        #expect(elapsed < .seconds(2))
    }
}

@Suite struct OneCallModeTests {
    @Test func loopbackBuildsAValidConfig() throws {
        let c = try OneCallMode.configuration(interface: "lo", root: "/tmp", bootFile: "pxelinux.0", rfc1350: true,
                                              gateway: IPv4Address("127.0.0.1"), nameServers: [], answerAll: false)
        let iface = try #require(c.interfaces.first)
        #expect(iface.address == IPv4Address("127.0.0.1"))
        #expect(iface.tftp?.rfc1350 == true && iface.tftp?.root == "/tmp")
        let pool = try #require(iface.dhcp)
        #expect(pool.pxeOnly)
        #expect(pool.subnet == IPv4Network("127.0.0.0/8"))
        #expect(!(pool.rangeStart...pool.rangeEnd).contains(IPv4Address("127.0.0.1")!))
        #expect(c.boot.default == "pxelinux.0")
    }

    @Test func missingInterfaceIsAClearError() {
        #expect(throws: OneCallMode.Failure.self) {
            try OneCallMode.configuration(interface: "nosuchif0", root: "/tmp", bootFile: "x", rfc1350: false,
                                          gateway: nil, nameServers: [], answerAll: false)
        }
    }
}

@Suite(.serialized) struct SupervisorTests {
    @Test func reloadSwapsRootAndRejectsBrokenFiles() async throws {
        let dir = NSTemporaryDirectory() + "pxed-sup-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir + "/a", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir + "/b", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "A".write(toFile: dir + "/a/f", atomically: true, encoding: .utf8)
        try "B".write(toFile: dir + "/b/f", atomically: true, encoding: .utf8)
        let port = 17_800 + Int.random(in: 0..<100)
        func yaml(_ root: String) -> String {
            "tftp:\n  root: \(root)\n  port: \(port)\ninterfaces:\n  lo:\n    address: 127.0.0.1\n    tftp: true\n"
        }
        let path = dir + "/pxed.yaml"
        try yaml(dir + "/a").write(toFile: path, atomically: true, encoding: .utf8)
        var logger = Logger(label: "t")
        logger.logLevel = .critical
        let supervisor = Supervisor(configuration: try PXEConfig.load(path: path), configPath: path, logger: logger)
        try await supervisor.start()
        let client = TFTPClient(host: "127.0.0.1", port: port)
        #expect(try await client.get("f").0 == Array("A".utf8))

        try yaml(dir + "/b").write(toFile: path, atomically: true, encoding: .utf8)
        guard case .applied(let change) = await supervisor.reload() else { Issue.record("reload not applied"); return }
        #expect(change.contains("tftp root"))
        #expect(try await client.get("f").0 == Array("B".utf8))

        try "tftp: [\n".write(toFile: path, atomically: true, encoding: .utf8)
        guard case .rejected(let errors) = await supervisor.reload() else { Issue.record("broken file applied"); return }
        #expect(errors.first?.hasPrefix(path + ":") == true)
        #expect(try await client.get("f").0 == Array("B".utf8))

        // Removing the interface stops its engine.
        try "log-level: info\n".write(toFile: path, atomically: true, encoding: .utf8)
        _ = await supervisor.reload()
        #expect(await supervisor.engineKeys.isEmpty)
        await supervisor.stop(grace: .zero)
    }
}
