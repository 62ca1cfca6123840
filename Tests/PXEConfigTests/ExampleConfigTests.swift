import Foundation
import Testing
@testable import PXEConfig

/// The shipped example files stay valid and mean what their comments say.
@Suite struct ExampleConfigTests {
    let examplePath = repositoryRoot + "/etc/pxed.yaml"
    let demoPath = repositoryRoot + "/etc/pxed-demo.yaml"

    @Test func exampleHasNoErrorsBesidesAMissingTFTPRoot() {
        do {
            _ = try PXEConfig.load(path: examplePath)
        } catch {
            // /srv/tftp is usually absent on a build machine; nothing else may be wrong.
            #expect(error.errors.map(\.message) == ["TFTP root /srv/tftp does not exist"])
        }
    }

    @Test func exampleDecodesToTheDocumentedValues() throws {
        let text = try String(contentsOfFile: examplePath, encoding: .utf8)
            .replacingOccurrences(of: "root: /srv/tftp", with: "root: \(Scratch.directory)")
        let config = try PXEConfig.parse(text: text, filename: examplePath)

        #expect(config.source == examplePath)
        #expect(config.logLevel == .info)
        #expect(config.leaseFile == "/var/lib/pxed/leases")

        var tftp = TFTPSettings()
        tftp.root = Scratch.directory
        tftp.portRange = 50000...50100
        #expect(config.tftp == tftp)

        #expect(config.interfaces.map(\.name) == ["eth1", "eth2"])
        let eth1 = config.interfaces[0]
        #expect(eth1.address == IPv4Address(10, 0, 0, 1))
        var eth1TFTP = tftp
        eth1TFTP.maxSessions = 200
        #expect(eth1.tftp == eth1TFTP)
        #expect(eth1.bootp)

        var pool = DHCPPoolConfig(subnet: IPv4Network(network: IPv4Address(10, 0, 0, 0), prefixLength: 24),
                                  rangeStart: IPv4Address(10, 0, 0, 100), rangeEnd: IPv4Address(10, 0, 0, 199))
        pool.router = IPv4Address(10, 0, 0, 1)
        pool.dns = [IPv4Address(10, 0, 0, 1), IPv4Address(10, 0, 0, 2)]
        pool.domain = "lab.internal"
        var relay = DHCPPoolConfig(subnet: IPv4Network(network: IPv4Address(10, 1, 0, 0), prefixLength: 24),
                                   rangeStart: IPv4Address(10, 1, 0, 100), rangeEnd: IPv4Address(10, 1, 0, 199))
        relay.router = IPv4Address(10, 1, 0, 1)
        relay.dns = [IPv4Address(10, 0, 0, 1)]
        relay.domain = "lab2.internal"
        relay.leaseTime = 7200
        pool.relayPools = [relay]
        #expect(eth1.dhcp == pool)

        let eth2 = config.interfaces[1]
        #expect(eth2.address == nil && eth2.tftp == tftp && !eth2.bootp && eth2.dhcp == nil)

        var boot = BootTable()
        boot.nextServer = IPv4Address(10, 0, 0, 1)
        boot.bios = "undionly.kpxe"
        boot.uefiX64 = "snponly.efi"
        boot.uefiIA32 = "ipxe-ia32.efi"
        boot.uefiArm64 = "grubnetaa64.efi"
        boot.uefiX64HTTP = "snponly.efi"
        boot.uefiIA32HTTP = "ipxe-ia32.efi"
        boot.uefiArm64HTTP = "http://10.0.0.1/grubnetaa64.efi"
        boot.ipxe = "http://10.0.0.1/boot.ipxe"
        boot.default = "pxelinux.0"
        #expect(config.boot == boot)

        #expect(config.hosts.count == 3)
        let node01 = try #require(config.hosts.first)
        #expect(node01.mac == MACAddress("52:54:00:00:00:01"))
        #expect(node01.ip == IPv4Address(10, 0, 0, 10))
        #expect(node01.hostname == "node01" && node01.boot == "node01/grubx64.efi" && !node01.allowInRange)
        #expect(config.hosts[1].ip == IPv4Address(10, 0, 0, 150) && config.hosts[1].allowInRange)
        #expect(config.hosts[2].mac == MACAddress("52:54:00:00:00:03") && config.hosts[2].ip == nil)

        #expect(config.summary() == "\(examplePath): 2 interfaces (eth1: tftp http dhcp dhcp6 bootp, eth2: tftp), 3 hosts, boot table 9 entries")
    }

    @Test func exampleUsesEveryKey() throws {
        let text = try String(contentsOfFile: examplePath, encoding: .utf8)
        let allKeys = ConfigKeys.top + ConfigKeys.tftp + ConfigKeys.interface + ConfigKeys.pool
            + ConfigKeys.relayPool + ConfigKeys.boot + ConfigKeys.host + ConfigKeys.http + ConfigKeys.dhcp6
        for key in Set(allKeys) {
            #expect(text.contains("\n  \(key):") || text.contains("\n\(key):") || text.contains(" \(key):"), "example lacks '\(key)'")
        }
    }

    @Test func demoLoadsAsIs() throws {
        let config = try PXEConfig.load(path: demoPath)
        let expectedRoot = repositoryRoot + "/etc/demo-tftp"
        #expect(config.tftp.root == expectedRoot)
        #expect(config.tftp.port == 6969)
        #expect(config.interfaces.count == 1)
        let lo = try #require(config.interfaces.first)
        #expect(lo.name == "lo" && lo.address == IPv4Address(127, 0, 0, 1))
        #expect(lo.tftp?.root == expectedRoot && lo.tftp?.port == 6969)
        #expect(lo.dhcp == nil && !lo.bootp)
        #expect(FileManager.default.fileExists(atPath: expectedRoot + "/README.txt"))
    }
}
