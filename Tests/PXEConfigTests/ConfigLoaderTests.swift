import Testing
@testable import PXEConfig

/// Decoding: key names, value types, defaults and inheritance.
@Suite struct ConfigLoaderTests {
    let root = Scratch.directory

    @Test func emptyConfigIsValid() throws {
        let config = try #require(load(""))
        var expected = PXEConfiguration()
        expected.source = "t.yaml"
        #expect(config == expected)
        #expect(config.summary() == "t.yaml: 0 interfaces, 0 hosts, boot table 0 entries")
    }

    @Test func nullSectionsMeanDefaults() throws {
        let config = try #require(load("log-level:\ntftp:\ninterfaces:\nboot:\nhosts:\n"))
        #expect(config.tftp == TFTPSettings())
        #expect(config.interfaces.isEmpty && config.hosts.isEmpty)
    }

    @Test func unknownKeySuggestsTheClosestOne() {
        #expect(messages("tftp:\n  rooot: /x\n") == ["t.yaml:2:3: tftp: unknown key 'rooot' (did you mean 'root'?)"])
        #expect(messages("tftp:\n  blksize: 512\n") == ["t.yaml:2:3: tftp: unknown key 'blksize' (did you mean 'blksize-max'?)"])
        #expect(messages("log_level: info\n") == ["t.yaml:1:1: unknown key 'log_level' (did you mean 'log-level'?)"])
    }

    @Test func unknownKeyAtTheWrongLevelNamesItsSection() {
        #expect(messages("root: /x\n") == ["t.yaml:1:1: unknown key 'root' here (it belongs under 'tftp')"])
        #expect(messages("interfaces:\n  eth1:\n    subnet: 10.0.0.0/24\n")
                == ["t.yaml:3:5: interfaces.eth1: unknown key 'subnet' here (it belongs under 'dhcp')"])
    }

    @Test func unknownKeyWithoutAGuessListsTheKeys() {
        #expect(messages("boot:\n  zzz: 1\n")
                == ["t.yaml:2:3: boot: unknown key 'zzz' (expected one of: next-server, bios, uefi-x64, uefi-ia32, uefi-arm64, uefi-x64-http, uefi-ia32-http, uefi-arm64-http, ipxe, default)"])
    }

    @Test(arguments: [("true", true), ("False", false), ("yes", true), ("NO", false), ("on", true), ("Off", false)])
    func booleanSpellings(text: String, value: Bool) throws {
        let config = try #require(load("tftp:\n  uploads: \(text)\n  root: \(root)\n"))
        #expect(config.tftp.uploads == value)
    }

    @Test(arguments: ["maybe", "1", "y", "enabled"])
    func otherBooleansAreRejected(text: String) {
        #expect(messages("tftp:\n  uploads: \(text)\n")
                == ["t.yaml:2:12: tftp.uploads: expected a boolean (true/false, yes/no, on/off), found '\(text)'"])
    }

    @Test(arguments: ["0x45", "069", "1_000", "1.5", "+5", "1e3", "five", "''"])
    func integersAreDecimalOnly(text: String) {
        let shown = text == "''" ? "" : text
        #expect(messages("tftp:\n  retries: \(text)\n") == ["t.yaml:2:12: tftp.retries: expected a decimal integer, found '\(shown)'"])
    }

    @Test func integerRanges() {
        #expect(messages("tftp:\n  blksize-max: 7\n") == ["t.yaml:2:16: tftp.blksize-max: 7 is out of range 8..65464"])
        #expect(messages("tftp:\n  windowsize-max: 65536\n") == ["t.yaml:2:19: tftp.windowsize-max: 65536 is out of range 1..65535"])
        #expect(messages("tftp:\n  timeout: 256\n") == ["t.yaml:2:12: tftp.timeout: 256 is out of range 1..255"])
        #expect(messages("tftp:\n  retries: -1\n") == ["t.yaml:2:12: tftp.retries: -1 is out of range 1..100"])
        #expect(messages("tftp:\n  max-sessions: 99999999999999999999999\n")
                == ["t.yaml:2:17: tftp.max-sessions: 99999999999999999999999 is out of range 1..100000"])
    }

    @Test func typeMismatchNamesExpectedAndFound() {
        #expect(messages("tftp: yes\n") == ["t.yaml:1:7: tftp: expected a mapping, found 'yes'"])
        #expect(messages("hosts: {mac: 1}\n") == ["t.yaml:1:8: hosts: expected a list, found a mapping"])
        #expect(messages("tftp:\n  port: [69]\n") == ["t.yaml:2:9: tftp.port: expected a decimal integer, found a list"])
        #expect(messages("boot:\n  bios: {a: b}\n") == ["t.yaml:2:9: boot.bios: expected a text value, found a mapping"])
        #expect(messages("- a\n- b\n") == ["t.yaml:1:1: expected a mapping, found a list"])
        #expect(messages("interfaces: [eth0]\n") == ["t.yaml:1:13: interfaces: expected a mapping of interface names, found a list"])
        #expect(messages("interfaces:\n  eth1:\n    tftp: maybe\n")
                == ["t.yaml:3:11: interfaces.eth1.tftp: expected true, false or a mapping of TFTP settings, found 'maybe'"])
    }

    @Test func logLevels() throws {
        #expect(try #require(load("log-level: Warning\n")).logLevel == .warning)
        #expect(messages("log-level: verbose\n")
                == ["t.yaml:1:12: log-level: unknown log level 'verbose' (expected debug, info, notice, warning or error)"])
    }

    @Test func tftpDefaultsAreInheritedAndOverridden() throws {
        let yaml = """
        tftp:
          root: \(root)
          port: 6969
          uploads: on
          overwrite: yes
          rfc1350: true
          blksize-max: 512
          windowsize-max: 8
          timeout: 3
          retries: 7
          max-sessions: 10
          port-range: 40000:40010
        interfaces:
          eth1:
            tftp: true
          eth2:
            tftp: false
          eth3:
            tftp: {port: 7070, root: \(root)/lab}
          eth4: {}
        """
        let config = try #require(load(yaml))
        var expected = TFTPSettings()
        expected.root = root
        expected.port = 6969
        expected.uploads = true
        expected.overwrite = true
        expected.rfc1350 = true
        expected.blksizeMax = 512
        expected.windowsizeMax = 8
        expected.timeout = 3
        expected.retries = 7
        expected.maxSessions = 10
        expected.portRange = 40000...40010
        #expect(config.tftp == expected)
        #expect(config.interfaces.map(\.name) == ["eth1", "eth2", "eth3", "eth4"])
        #expect(config.interfaces[0].tftp == expected)
        #expect(config.interfaces[1].tftp == nil)
        var eth3 = expected
        eth3.port = 7070
        eth3.root = root + "/lab"
        #expect(config.interfaces[2].tftp == eth3)
        #expect(config.interfaces[3].tftp == nil)
        #expect(config.summary() == "t.yaml: 4 interfaces (eth1: tftp, eth2: off, eth3: tftp, eth4: off), 0 hosts, boot table 0 entries")
    }

    @Test func portRangeSyntax() throws {
        #expect(try #require(load("tftp:\n  root: \(root)\n  port-range: 50000-50100\n")).tftp.portRange == 50000...50100)
        #expect(messages("tftp:\n  port-range: 50100-50000\n") == ["t.yaml:2:15: tftp.port-range: low port 50100 is greater than high port 50000"])
        #expect(messages("tftp:\n  port-range: 50000\n") == ["t.yaml:2:15: tftp.port-range: expected a port range like 50000-50100, found '50000'"])
        #expect(messages("tftp:\n  port-range: 1-70000\n") == ["t.yaml:2:17: tftp.port-range: 70000 is out of range 1..65535"])
    }

    @Test func dnsTakesOneAddressOrAList() throws {
        let yaml = """
        interfaces:
          eth1:
            dhcp: {subnet: 10.0.0.0/24, range: 10.0.0.100-10.0.0.199, dns: 10.0.0.1}
          eth2:
            dhcp: {subnet: 10.0.1.0/24, range: 10.0.1.100-10.0.1.199, dns: [10.0.1.1, 10.0.1.2]}
        """
        let config = try #require(load(yaml))
        #expect(config.interfaces[0].dhcp?.dns == [IPv4Address(10, 0, 0, 1)])
        #expect(config.interfaces[1].dhcp?.dns == [IPv4Address(10, 0, 1, 1), IPv4Address(10, 0, 1, 2)])
        #expect(messages("interfaces:\n  eth1:\n    dhcp: {subnet: 10.0.0.0/24, range: 10.0.0.100-10.0.0.199, dns: [10.0.0.1, x]}\n")
                == ["t.yaml:3:79: interfaces.eth1.dhcp.dns[1]: 'x' is not a valid IPv4 address"])
    }

    @Test func missingRequiredKeys() {
        #expect(messages("interfaces:\n  eth1:\n    dhcp:\n      router: 10.0.0.1\n") == [
            "t.yaml:4:7: interfaces.eth1.dhcp: missing required key 'subnet'",
            "t.yaml:4:7: interfaces.eth1.dhcp: missing required key 'range'",
        ])
        #expect(messages("hosts:\n  - ip: 10.0.0.1\n  - mac:\n") == [
            "t.yaml:2:5: hosts[0]: missing required key 'mac'",
            "t.yaml:3:5: hosts[1].mac: a value is required",
        ])
        #expect(messages("hosts:\n  -\n") == ["t.yaml:2:4: hosts[0]: expected a mapping with at least 'mac', found an empty value"])
    }

    @Test func relayPoolsInheritPxeOnlyAndPort() throws {
        let yaml = """
        interfaces:
          eth1:
            dhcp:
              subnet: 10.0.0.0/24
              range: 10.0.0.100-10.0.0.199
              pxe-only: yes
              port: 6767
              relay-subnets:
                - {subnet: 10.1.0.0/24, range: 10.1.0.10-10.1.0.20, lease-time: 60}
        """
        let pool = try #require(load(yaml)?.interfaces.first?.dhcp)
        #expect(pool.pxeOnly && pool.port == 6767)
        let relay = try #require(pool.relayPools.first)
        #expect(relay.subnet == IPv4Network("10.1.0.0/24"))
        #expect(relay.rangeStart == IPv4Address(10, 1, 0, 10) && relay.rangeEnd == IPv4Address(10, 1, 0, 20))
        #expect(relay.pxeOnly && relay.port == 6767 && relay.leaseTime == 60)
        #expect(relay.relayPools.isEmpty)
    }

    @Test func relayPoolsRejectInterfaceOnlyKeys() {
        let yaml = """
        interfaces:
          eth1:
            dhcp:
              subnet: 10.0.0.0/24
              range: 10.0.0.100-10.0.0.199
              relay-subnets:
                - {subnet: 10.1.0.0/24, range: 10.1.0.10-10.1.0.20, port: 68}
        """
        #expect(messages(yaml) == [
            "t.yaml:7:61: interfaces.eth1.dhcp.relay-subnets[0]: unknown key 'port' here (relay subnets share the interface's dhcp.port)",
        ])
    }

    @Test func anchorsShareSettingsAcrossPools() throws {
        let yaml = """
        interfaces:
          eth1:
            dhcp:
              subnet: 10.0.0.0/24
              range: 10.0.0.100-10.0.0.199
              dns: &dns [10.0.0.53]
              relay-subnets:
                - subnet: 10.1.0.0/24
                  range: 10.1.0.100-10.1.0.199
                  dns: *dns
        """
        let pool = try #require(load(yaml)?.interfaces.first?.dhcp)
        #expect(pool.relayPools.first?.dns == [IPv4Address(10, 0, 0, 53)])
    }

    @Test func hostsDecode() throws {
        let yaml = """
        interfaces:
          eth1:
            dhcp: {subnet: 10.0.0.0/24, range: 10.0.0.100-10.0.0.199}
        hosts:
          - mac: 52:54:00:AB:CD:01
            ip: 10.0.0.10
            hostname: node01.lab.internal
            boot: node01/grubx64.efi
          - mac: 52-54-00-ab-cd-02
            ip: 10.0.0.150
            allow-in-range: true
        """
        let hosts = try #require(load(yaml)).hosts
        #expect(hosts.count == 2)
        #expect(hosts[0].mac == MACAddress("52:54:00:ab:cd:01"))
        #expect(hosts[0].ip == IPv4Address(10, 0, 0, 10))
        #expect(hosts[0].hostname == "node01.lab.internal")
        #expect(hosts[0].boot == "node01/grubx64.efi")
        #expect(hosts[0].allowInRange == false)
        #expect(hosts[1].mac.description == "52:54:00:ab:cd:02")
        #expect(hosts[1].allowInRange)
    }

    @Test func quotedScalarsAreAcceptedForTypedValues() throws {
        let config = try #require(load("tftp:\n  root: '\(root)'\n  port: \"6969\"\n  uploads: 'yes'\n"))
        #expect(config.tftp.port == 6969 && config.tftp.uploads)
    }

    @Test func nonScalarKeysAreRejected() {
        #expect(messages("? [a, b]\n: 1\n") == ["t.yaml:1:3: a key must be a plain value, found a list"])
    }

    @Test func proxyDHCPNeedsNoPool() throws {
        let config = try #require(load("""
        interfaces:
          eth1:
            dhcp: {proxy: true}
          eth2:
            dhcp: {proxy: yes, port: 1067}
        """))
        #expect(config.interfaces[0].dhcp == nil)
        #expect(config.interfaces[0].dhcpProxy == ProxyDHCPConfig())
        #expect(config.interfaces[1].dhcpProxy?.port == 1067 && config.interfaces[1].dhcpProxy?.bootServerPort == 4011)
        // proxy: false is an ordinary pool.
        let pool = try #require(load("interfaces:\n  eth1:\n    dhcp: {proxy: false, subnet: 10.0.0.0/24, range: 10.0.0.100-10.0.0.199}\n"))
        #expect(pool.interfaces[0].dhcp != nil && pool.interfaces[0].dhcpProxy == nil)
    }

    @Test func proxyDHCPRefusesPoolKeysWithTheReason() {
        let yaml = """
        interfaces:
          eth1:
            dhcp:
              proxy: true
              pxe-only: true
              range: 10.0.0.100-10.0.0.199
              proxi: 1
        """
        #expect(messages(yaml) == [
            "t.yaml:5:7: interfaces.eth1.dhcp.pxe-only: pxe-only does not apply with proxy: true (a proxy answers only PXE and HTTP boot clients, and hands out no addresses)",
            "t.yaml:6:7: interfaces.eth1.dhcp.range: 'range' does not apply with proxy: true (the site's DHCP server hands out addresses; pxed adds only boot information)",
            "t.yaml:7:7: interfaces.eth1.dhcp: unknown key 'proxi' (did you mean 'proxy'?)",
        ])
    }

    @Test func httpInheritsAndOverrides() throws {
        let config = try #require(load("""
        tftp: {root: /srv/tftp}
        http: {port: 8080, max-connections: 50}
        interfaces:
          eth1: {tftp: true, http: true}
          eth2: {tftp: true, http: {port: 81, root: /tmp}}
          eth3: {tftp: true, http: false}
          eth4: {tftp: true}
        """))
        #expect(config.http?.port == 8080)
        #expect(config.interfaces[0].http?.port == 8080 && config.interfaces[0].http?.maxConnections == 50)
        #expect(config.interfaces[0].http?.root == nil)   // the interface's TFTP root
        #expect(config.interfaces[1].http?.port == 81 && config.interfaces[1].http?.root == "/tmp")
        #expect(config.interfaces[1].http?.maxConnections == 50)
        #expect(config.interfaces[2].http == nil && config.interfaces[3].http == nil)
    }

    @Test func httpWithoutAnyRootIsAnError() {
        #expect(messages("interfaces:\n  eth1:\n    http: true\n") == [
            "t.yaml:3:11: interfaces.eth1.http: HTTP needs a root: set http.root (here or at the top), or serve TFTP on this interface (HTTP then serves the TFTP root)",
        ])
        #expect(messages("http: {port: 0}\n").first?.contains("http.port") == true)
    }

    @Test func dhcp6AndAddress6() throws {
        let config = try #require(load("""
        interfaces:
          eth1:
            address6: fd00:1::1
            dhcp6: {prefix: fd00:1::/64, range: fd00:1::100-fd00:1::1ff, dns: fd00:1::1, lease-time: 600, preferred-time: 300,
                    boot-params: ["console=ttyS0", "ip=dhcp6"]}
          eth2: {address6: off}
          eth3: {}
        hosts:
          - {mac: 52:54:00:00:00:01, ip6: fd00:1::10}
          - {mac: 52:54:00:00:00:02, ip6: fd00:1::11, duid: "00:04:aa:bb:cc:dd"}
        """))
        let d = try #require(config.interfaces[0].dhcp6)
        #expect(d.prefix == IPv6Address("fd00:1::") && d.prefixLength == 64 && d.rangeEnd == IPv6Address("fd00:1::1ff"))
        #expect(d.dns == [IPv6Address("fd00:1::1")!] && d.leaseTime == 600 && d.preferredTime == 300 && !d.rapidCommit)
        #expect(d.bootParameters == ["console=ttyS0", "ip=dhcp6"])
        #expect(config.interfaces[0].address6 == .address(IPv6Address("fd00:1::1")!))
        #expect(config.interfaces[1].address6 == .off && config.interfaces[2].address6 == .auto)
        #expect(config.hosts[0].ip6 == IPv6Address("fd00:1::10") && config.hosts[0].duid == nil)
        #expect(config.hosts[1].duid == [0, 4, 0xAA, 0xBB, 0xCC, 0xDD])
    }

    @Test func dhcp6Errors() {
        let m = messages("""
        interfaces:
          eth1:
            address6: fe80::1
            dhcp6: {prefix: fd00:1::/64, range: fd00:2::1-fd00:2::9, preferred-time: 900, lease-time: 600}
          eth2:
            dhcp6:
              prefix: "fd00:1::"
              range: x
              boot-params: ["", ok]
        """)
        #expect(m.contains { $0.contains("interfaces.eth1.address6: 'fe80::1' is link-local") })
        #expect(m.contains { $0.contains("interfaces.eth1.dhcp6.range: range is not inside fd00:1::/64") })
        #expect(m.contains { $0.contains("interfaces.eth1.dhcp6.preferred-time: preferred-time 900 is longer than lease-time 600") })
        #expect(m.contains { $0.contains("interfaces.eth2.dhcp6.prefix: 'fd00:1::' is not an IPv6 prefix") })
        #expect(m.contains { $0.contains("interfaces.eth2.dhcp6.range: 'x' is not a range of IPv6 addresses") })
        #expect(m.contains { $0.contains("interfaces.eth2.dhcp6.boot-params[0]: an empty boot parameter") })
    }
}
