import Foundation
import Testing
@testable import PXEConfig

/// One test (at least) per validation rule, each with the exact message and position.
@Suite struct ValidationTests {
    let root = Scratch.directory

    /// One interface with a DHCP pool; `extra` is appended verbatim (hosts, boot, ...).
    func pool(subnet: String = "10.0.0.0/24", range: String = "10.0.0.100-10.0.0.199",
              address: String? = nil, router: String? = nil, extra: String = "") -> String {
        var yaml = "interfaces:\n  eth1:\n"
        if let address { yaml += "    address: \(address)\n" }
        yaml += "    dhcp:\n      subnet: \(subnet)\n      range: \(range)\n"
        if let router { yaml += "      router: \(router)\n" }
        return yaml + extra
    }

    @Test func validPoolLoads() throws {
        let config = try #require(load(pool(address: "10.0.0.1", router: "10.0.0.1")))
        let dhcp = try #require(config.interfaces.first?.dhcp)
        #expect(dhcp.subnet == IPv4Network("10.0.0.0/24"))
        #expect(dhcp.rangeStart == IPv4Address(10, 0, 0, 100))
        #expect(dhcp.rangeEnd == IPv4Address(10, 0, 0, 199))
        #expect(dhcp.router == IPv4Address(10, 0, 0, 1))
        #expect(dhcp.leaseTime == 3600 && dhcp.port == 67 && !dhcp.pxeOnly)
        #expect(config.interfaces.first?.address == IPv4Address(10, 0, 0, 1))
    }

    // MARK: Address and CIDR syntax

    @Test func addressSyntax() {
        #expect(messages(pool(address: "10.0.0.256")) == ["t.yaml:3:14: interfaces.eth1.address: '10.0.0.256' is not a valid IPv4 address"])
        #expect(messages(pool(router: "10.0.0")) == ["t.yaml:6:15: interfaces.eth1.dhcp.router: '10.0.0' is not a valid IPv4 address"])
        #expect(messages("boot:\n  next-server: 010.0.0.1\n") == ["t.yaml:2:16: boot.next-server: '010.0.0.1' is not a valid IPv4 address"])
    }

    @Test func subnetSyntax() {
        #expect(messages(pool(subnet: "10.0.0.5/24")) == ["t.yaml:4:15: interfaces.eth1.dhcp.subnet: '10.0.0.5/24' has host bits set (did you mean 10.0.0.0/24?)"])
        #expect(messages(pool(subnet: "10.0.0.0/33")) == ["t.yaml:4:15: interfaces.eth1.dhcp.subnet: '10.0.0.0/33' is not a valid subnet (expected CIDR like 10.0.0.0/24)"])
        #expect(messages(pool(subnet: "10.0.0.0")) == ["t.yaml:4:15: interfaces.eth1.dhcp.subnet: '10.0.0.0' is not a valid subnet (expected CIDR like 10.0.0.0/24)"])
    }

    @Test func rangeSyntax() {
        #expect(messages(pool(range: "10.0.0.100")) == ["t.yaml:5:14: interfaces.eth1.dhcp.range: expected an address range like 10.0.0.100-10.0.0.199, found '10.0.0.100'"])
        #expect(messages(pool(range: "10.0.0.100-10.0.0.x")) == ["t.yaml:5:25: interfaces.eth1.dhcp.range: '10.0.0.x' is not a valid IPv4 address"])
    }

    // MARK: Ranges

    @Test func rangeOutsideSubnetPointsAtTheBadEnd() {
        #expect(messages(pool(range: "10.0.1.5-10.0.0.199")) == [
            "t.yaml:5:14: interfaces.eth1.dhcp.range: range start 10.0.1.5 is after range end 10.0.0.199",
            "t.yaml:5:14: interfaces.eth1.dhcp.range: 10.0.1.5 is outside subnet 10.0.0.0/24",
        ])
        #expect(messages(pool(range: "10.0.0.100-10.0.1.5")) == ["t.yaml:5:25: interfaces.eth1.dhcp.range: 10.0.1.5 is outside subnet 10.0.0.0/24"])
        // Spaces around the dash are allowed and the column still points at the address.
        #expect(messages(pool(range: "10.0.0.100 - 10.0.1.5")) == ["t.yaml:5:27: interfaces.eth1.dhcp.range: 10.0.1.5 is outside subnet 10.0.0.0/24"])
    }

    @Test func rangeStartAfterEnd() {
        #expect(messages(pool(range: "10.0.0.199-10.0.0.100")) == ["t.yaml:5:14: interfaces.eth1.dhcp.range: range start 10.0.0.199 is after range end 10.0.0.100"])
    }

    @Test func rangeMustNotIncludeNetworkOrBroadcast() {
        #expect(messages(pool(range: "10.0.0.0-10.0.0.255")) == [
            "t.yaml:5:14: interfaces.eth1.dhcp.range: 10.0.0.0 is the network address of 10.0.0.0/24",
            "t.yaml:5:23: interfaces.eth1.dhcp.range: 10.0.0.255 is the broadcast address of 10.0.0.0/24",
        ])
        // A /31 (RFC 3021) has neither.
        #expect(errors(pool(subnet: "10.0.0.0/31", range: "10.0.0.0-10.0.0.1")).isEmpty)
    }

    // MARK: Interface address and router

    @Test func interfaceAddressMustBeInsideItsSubnet() {
        #expect(messages(pool(address: "10.0.1.1")) == ["t.yaml:3:14: interfaces.eth1.address: address 10.0.1.1 is outside subnet 10.0.0.0/24"])
    }

    @Test func interfaceAddressMustBeOutsideTheRange() {
        #expect(messages(pool(address: "10.0.0.150")) == ["t.yaml:3:14: interfaces.eth1.address: address 10.0.0.150 is inside the dynamic range 10.0.0.100-10.0.0.199"])
    }

    @Test func routerMustBeInsideTheSubnet() {
        #expect(messages(pool(router: "10.0.1.1")) == ["t.yaml:6:15: interfaces.eth1.dhcp.router: router 10.0.1.1 is outside subnet 10.0.0.0/24"])
    }

    // MARK: Overlaps

    @Test func overlappingSubnetsAcrossInterfaces() {
        let yaml = """
        interfaces:
          eth1:
            dhcp: {subnet: 10.0.0.0/24, range: 10.0.0.100-10.0.0.199}
          eth2:
            dhcp: {subnet: 10.0.0.0/16, range: 10.0.1.100-10.0.1.199}
        """
        #expect(messages(yaml) == ["t.yaml:5:20: interfaces.eth2.dhcp.subnet: subnet 10.0.0.0/16 overlaps subnet 10.0.0.0/24 of interfaces.eth1.dhcp (line 3)"])
    }

    @Test func overlappingRelaySubnet() {
        let yaml = pool(extra: "      relay-subnets:\n        - {subnet: 10.0.0.128/25, range: 10.0.0.200-10.0.0.210}\n")
        #expect(messages(yaml) == ["t.yaml:7:20: interfaces.eth1.dhcp.relay-subnets[0].subnet: subnet 10.0.0.128/25 overlaps subnet 10.0.0.0/24 of interfaces.eth1.dhcp (line 4)"])
    }

    @Test func relayRangeIsCheckedAgainstItsOwnSubnet() {
        let yaml = pool(extra: "      relay-subnets:\n        - {subnet: 10.1.0.0/24, range: 10.1.0.10-10.1.1.20}\n")
        #expect(messages(yaml) == ["t.yaml:7:50: interfaces.eth1.dhcp.relay-subnets[0].range: 10.1.1.20 is outside subnet 10.1.0.0/24"])
    }

    // MARK: Hosts

    @Test func reservationMustBeInsideAConfiguredSubnet() {
        #expect(messages(pool(extra: "hosts:\n  - mac: 52:54:00:00:00:01\n    ip: 10.0.5.10\n"))
                == ["t.yaml:8:9: hosts[0].ip: 10.0.5.10 is not inside any configured DHCP subnet"])
        // Relay subnets count as configured.
        #expect(errors(pool(extra: "      relay-subnets:\n        - {subnet: 10.1.0.0/24, range: 10.1.0.10-10.1.0.20}\nhosts:\n  - {mac: 52:54:00:00:00:01, ip: 10.1.0.5}\n")).isEmpty)
    }

    @Test func reservationInsideTheRangeNeedsAllowInRange() {
        #expect(messages(pool(extra: "hosts:\n  - mac: 52:54:00:00:00:01\n    ip: 10.0.0.150\n"))
                == ["t.yaml:8:9: hosts[0].ip: 10.0.0.150 is inside the dynamic range 10.0.0.100-10.0.0.199 of interfaces.eth1.dhcp; set allow-in-range: true to reserve it anyway"])
        #expect(errors(pool(extra: "hosts:\n  - mac: 52:54:00:00:00:01\n    ip: 10.0.0.150\n    allow-in-range: true\n")).isEmpty)
    }

    @Test func reservationMustNotBeTheNetworkBroadcastOrServerAddress() {
        #expect(messages(pool(extra: "hosts:\n  - {mac: 52:54:00:00:00:01, ip: 10.0.0.255}\n"))
                == ["t.yaml:7:34: hosts[0].ip: 10.0.0.255 is the broadcast address of 10.0.0.0/24"])
        #expect(messages(pool(address: "10.0.0.1", extra: "hosts:\n  - {mac: 52:54:00:00:00:01, ip: 10.0.0.1}\n"))
                == ["t.yaml:8:34: hosts[0].ip: 10.0.0.1 is the address of interface eth1"])
    }

    @Test func duplicateMACNamesTheOtherEntry() {
        let hosts = """
        hosts:
          - mac: 52:54:00:00:00:01
          - mac: 52:54:00:00:00:02
          - mac: 52-54-00-00-00-01
        """
        #expect(messages(hosts) == ["t.yaml:4:10: hosts[2].mac: duplicate MAC 52:54:00:00:00:01 (already used by the host at line 2)"])
    }

    @Test func duplicateIPNamesTheOtherEntry() {
        let hosts = """
        hosts:
          - mac: 52:54:00:00:00:01
            ip: 10.0.0.10
          - mac: 52:54:00:00:00:02
            ip: 10.0.0.10
        """
        #expect(messages(pool(extra: hosts)) == ["t.yaml:10:9: hosts[1].ip: duplicate IP 10.0.0.10 (already used by the host at line 7)"])
    }

    @Test(arguments: ["52:54:00:00:00", "52:54:00:00:00:0g", "5254.0000.0001", "52:54:00:00:00:001", "+2:54:00:00:00:01"])
    func macSyntax(mac: String) {
        #expect(messages("hosts:\n  - mac: \(mac)\n")
                == ["t.yaml:2:10: hosts[0].mac: '\(mac)' is not a valid MAC address (expected six hex pairs like 52:54:00:12:34:56)"])
    }

    @Test(arguments: ["node_01", "-node", "node-", "a..b", String(repeating: "x", count: 64), "nöde", "''"])
    func hostnamesMustBeDNSLabels(name: String) {
        let shown = name == "''" ? "" : name
        #expect(messages("hosts:\n  - mac: 52:54:00:00:00:01\n    hostname: \(name)\n")
                == ["t.yaml:3:15: hosts[0].hostname: '\(shown)' is not a valid hostname (labels of 1-63 letters, digits or '-', not starting or ending with '-')"])
    }

    @Test func validHostnames() {
        #expect(errors("hosts:\n  - {mac: 52:54:00:00:00:01, hostname: node-01}\n  - {mac: 52:54:00:00:00:02, hostname: n2.lab.example}\n").isEmpty)
    }

    @Test func domainMustBeADNSName() {
        #expect(messages(pool(extra: "      domain: lab_internal\n"))
                == ["t.yaml:6:15: interfaces.eth1.dhcp.domain: 'lab_internal' is not a valid domain name (labels of 1-63 letters, digits or '-', not starting or ending with '-', separated by dots)"])
    }

    // MARK: Numbers

    @Test func leaseTimeRange() {
        #expect(messages(pool(extra: "      lease-time: 59\n")) == ["t.yaml:6:19: interfaces.eth1.dhcp.lease-time: 59 is out of range 60..31536000"])
        #expect(messages(pool(extra: "      lease-time: 31536001\n")) == ["t.yaml:6:19: interfaces.eth1.dhcp.lease-time: 31536001 is out of range 60..31536000"])
        #expect(errors(pool(extra: "      lease-time: 31536000\n")).isEmpty)
    }

    @Test func portRange() {
        #expect(messages("tftp:\n  port: 0\n") == ["t.yaml:2:9: tftp.port: 0 is out of range 1..65535"])
        #expect(messages(pool(extra: "      port: 65536\n")) == ["t.yaml:6:13: interfaces.eth1.dhcp.port: 65536 is out of range 1..65535"])
        #expect(messages("interfaces:\n  lo:\n    tftp: {port: -69}\n") == ["t.yaml:3:18: interfaces.lo.tftp.port: -69 is out of range 1..65535"])
    }

    // MARK: TFTP roots

    @Test func tftpRootMustExist() {
        let missing = root + "/missing"
        #expect(messages("tftp:\n  root: \(missing)\n") == ["t.yaml:2:9: tftp.root: TFTP root \(missing) does not exist"])
        #expect(messages("interfaces:\n  eth1:\n    tftp:\n      root: \(missing)\n")
                == ["t.yaml:4:13: interfaces.eth1.tftp.root: TFTP root \(missing) does not exist"])
    }

    @Test func tftpRootMustBeADirectory() {
        #expect(messages("tftp:\n  root: \(Scratch.plainFile)\n") == ["t.yaml:2:9: tftp.root: TFTP root \(Scratch.plainFile) is not a directory"])
    }

    @Test func defaultRootIsCheckedOnceWhereFirstUsed() {
        // The built-in default is /srv/tftp, which may or may not exist here: pretend nothing does.
        func rootErrors(_ yaml: String) -> [String] {
            do {
                _ = try PXEConfig.parse(text: yaml, filename: "t.yaml", fileKind: { _ in .missing })
                return []
            } catch {
                return error.errors.map(\.description)
            }
        }
        #expect(rootErrors("interfaces:\n  eth1:\n    tftp: true\n  eth2:\n    tftp: {port: 6969}\n")
                == ["t.yaml:3:11: interfaces.eth1.tftp: TFTP root /srv/tftp (the default) does not exist"])
        // Not checked when no interface serves TFTP, nor where the interface sets its own root.
        #expect(rootErrors("interfaces:\n  eth1:\n    bootp: true\n    tftp: off\n").isEmpty)
        #expect(rootErrors("interfaces:\n  eth1:\n    tftp: {root: /x}\n")
                == ["t.yaml:3:18: interfaces.eth1.tftp.root: TFTP root /x does not exist"])
        #expect(rootErrors("tftp: {port: 69}\ninterfaces:\n  eth1:\n    tftp: yes\n")
                == ["t.yaml:4:11: interfaces.eth1.tftp: TFTP root /srv/tftp (the default) does not exist"])
    }

    @Test func inaccessibleRootIsReported() {
        do {
            _ = try PXEConfig.parse(text: "tftp:\n  root: /r\n", filename: "t.yaml", fileKind: { _ in .inaccessible("Permission denied") })
            Issue.record("loaded")
        } catch {
            #expect(error.description == "t.yaml:2:9: tftp.root: cannot access TFTP root /r: Permission denied")
        }
    }

    @Test func relativeRootIsResolvedAgainstTheConfigDirectory() throws {
        let dir = try Scratch.makeDirectory()
        try FileManager.default.createDirectory(atPath: dir + "/files", withIntermediateDirectories: true)
        let path = dir + "/pxed.yaml"
        try Data("lease-file: state/leases\ntftp:\n  root: ./files\ninterfaces:\n  lo:\n    tftp: {root: files/../files}\n".utf8)
            .write(to: URL(fileURLWithPath: path))
        let config = try PXEConfig.load(path: path)
        #expect(config.source == path)
        #expect(config.tftp.root == dir + "/files")
        #expect(config.interfaces.first?.tftp?.root == dir + "/files/../files")
        #expect(config.leaseFile == dir + "/state/leases")
    }

    @Test func relativeRootMessageShowsBothForms() throws {
        let dir = try Scratch.makeDirectory()
        #expect(messages("tftp:\n  root: nowhere\n", file: dir + "/p.yaml")
                == ["\(dir)/p.yaml:2:9: tftp.root: TFTP root nowhere (\(dir)/nowhere) does not exist"])
    }

    @Test func relativeFilenameResolvesAgainstTheCurrentDirectory() throws {
        let cwd = FileManager.default.currentDirectoryPath
        let config = try PXEConfig.parse(text: "lease-file: leases\n", filename: "conf/pxed.yaml")
        #expect(config.leaseFile == cwd + "/conf/leases")
    }

    // MARK: Boot files

    @Test func bootFileNames() {
        #expect(messages("boot:\n  bios: ''\n") == ["t.yaml:2:9: boot.bios: boot file name must not be empty"])
        #expect(messages("boot:\n  uefi-x64: ../etc/shadow\n") == ["t.yaml:2:13: boot.uefi-x64: boot file name '../etc/shadow' must not contain '..' path components"])
        #expect(messages("boot:\n  default: a/../../b\n") == ["t.yaml:2:12: boot.default: boot file name 'a/../../b' must not contain '..' path components"])
        #expect(messages("boot:\n  ipxe: \"a\\0b\"\n") == ["t.yaml:2:9: boot.ipxe: boot file name must not contain NUL"])
        #expect(messages("boot:\n  uefi-arm64: \(String(repeating: "a", count: 256))\n") == ["t.yaml:2:15: boot.uefi-arm64: boot file name is longer than 255 bytes"])
        #expect(messages("hosts:\n  - mac: 52:54:00:00:00:01\n    boot: x/../y\n") == ["t.yaml:3:11: hosts[0].boot: boot file name 'x/../y' must not contain '..' path components"])
        // Dots inside a name are fine.
        #expect(errors("boot:\n  bios: a..b/undionly.kpxe\n  ipxe: http://10.0.0.1/boot.ipxe\n").isEmpty)
    }

    // MARK: Interface names

    @Test(arguments: ["averyveryverylongname", "eth0/1", "eth0:1", "'eth 0'", ".."])
    func interfaceNames(name: String) {
        let shown = name == "'eth 0'" ? "eth 0" : name
        #expect(messages("interfaces:\n  \(name):\n    bootp: true\n")
                == ["t.yaml:2:3: interfaces: '\(shown)' is not a valid interface name (1-15 characters, no '/', ':' or whitespace)"])
    }

    // MARK: Everything at once

    @Test func allErrorsAreReportedInFileOrder() {
        let yaml = """
        log-level: loud
        tftp:
          port: 0
          root: /definitely/not/here
        interfaces:
          eth1:
            address: 10.0.1.1
            dhcp:
              subnet: 10.0.0.0/24
              range: 10.0.0.100-10.0.1.5
              lease-time: 10
        boot:
          bios: ../x
        hosts:
          - mac: 52:54:00:00:00:01
            ip: 10.9.9.9
          - mac: 52:54:00:00:00:01
            hostname: bad_name
        """
        #expect(messages(yaml) == [
            "t.yaml:1:12: log-level: unknown log level 'loud' (expected debug, info, notice, warning or error)",
            "t.yaml:3:9: tftp.port: 0 is out of range 1..65535",
            "t.yaml:4:9: tftp.root: TFTP root /definitely/not/here does not exist",
            "t.yaml:7:14: interfaces.eth1.address: address 10.0.1.1 is outside subnet 10.0.0.0/24",
            "t.yaml:10:25: interfaces.eth1.dhcp.range: 10.0.1.5 is outside subnet 10.0.0.0/24",
            "t.yaml:11:19: interfaces.eth1.dhcp.lease-time: 10 is out of range 60..31536000",
            "t.yaml:13:9: boot.bios: boot file name '../x' must not contain '..' path components",
            "t.yaml:16:9: hosts[0].ip: 10.9.9.9 is not inside any configured DHCP subnet",
            "t.yaml:17:10: hosts[1].mac: duplicate MAC 52:54:00:00:00:01 (already used by the host at line 15)",
            "t.yaml:18:15: hosts[1].hostname: 'bad_name' is not a valid hostname (labels of 1-63 letters, digits or '-', not starting or ending with '-')",
        ])
    }

    @Test func errorDescriptionFormat() {
        let withPath = ConfigError(file: "pxed.yaml", line: 14, column: 9, path: "interfaces.eth1.dhcp.range",
                                   message: "10.0.1.5 is outside subnet 10.0.0.0/24")
        #expect(withPath.description == "pxed.yaml:14:9: interfaces.eth1.dhcp.range: 10.0.1.5 is outside subnet 10.0.0.0/24")
        let noPath = ConfigError(file: "pxed.yaml", line: 2, column: 1, path: "", message: "tab character in indentation")
        #expect(noPath.description == "pxed.yaml:2:1: tab character in indentation")
        #expect(ConfigErrors(errors: [withPath, noPath]).description == withPath.description + "\n" + noPath.description)
    }
}
