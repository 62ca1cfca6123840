@testable import DHCP
import PXEConfig
import Testing

@Suite struct BootPolicyTests {
    let policy = BootPolicy(table: makeBootTable())

    func info(_ options: [DHCPOption]) -> PXEClientInfo { PXEClientInfo(options: DHCPOptions(options)) }

    static let matrix: [(String, [DHCPOption], String, BootDecision.Source)] = [
        ("BIOS (93=0)", Firmware.pxe(arch: 0).options, "undionly.kpxe", .architecture(.bios)),
        ("UEFI IA32 (93=6)", Firmware.pxe(arch: 6).options, "ipxe32.efi", .architecture(.uefiIA32)),
        ("UEFI x64 (93=7)", Firmware.pxe(arch: 7).options, "ipxe.efi", .architecture(.uefiX64)),
        ("EFI BC (93=9) is x64", Firmware.pxe(arch: 9).options, "ipxe.efi", .architecture(.uefiX64)),
        ("UEFI ARM64 (93=11)", Firmware.pxe(arch: 11).options, "ipxe-arm64.efi", .architecture(.uefiArm64)),
        ("unknown arch falls back to default", Firmware.pxe(arch: 25).options, "pxelinux.0", .defaultEntry),
        ("iPXE raw user class", [DHCPOption(.userClass, Array("iPXE".utf8))] + Firmware.pxe(arch: 7).options,
         "boot.ipxe", .ipxe),
        ("iPXE RFC 3004 user class", [DHCPOption(.userClass, [3] + Array("foo".utf8) + [4] + Array("iPXE".utf8))]
            + Firmware.pxe(arch: 0).options, "boot.ipxe", .ipxe),
        ("option 175 alone marks iPXE", [DHCPOption(.ipxeEncapsulated, [1, 1, 1])] + Firmware.pxe(arch: 0).options,
         "boot.ipxe", .ipxe),
        ("arch from option 60 when 93 is absent",
         [DHCPOption(.vendorClassIdentifier, Array("PXEClient:Arch:00007:UNDI:003016".utf8))], "ipxe.efi",
         .architecture(.uefiX64)),
        ("no arch at all", [DHCPOption(.vendorClassIdentifier, Array("PXEClient".utf8))], "pxelinux.0", .defaultEntry),
        ("other user class is not iPXE", [DHCPOption(.userClass, Array("pixiecore".utf8))] + Firmware.pxe(arch: 0).options,
         "undionly.kpxe", .architecture(.bios)),
    ]

    @Test(arguments: 0..<matrix.count)
    func bootFile(_ i: Int) {
        let (name, options, file, source) = Self.matrix[i]
        let d = policy.decide(host: nil, client: info(options), serverAddress: serverIP)
        #expect(d.file == file, "\(name)")
        #expect(d.source == source, "\(name)")
        #expect(d.nextServer == serverIP)
    }

    @Test func hostBootWinsOverEverything() {
        let h = host("52:54:00:00:00:01", boot: "special.efi")
        let d = policy.decide(host: h, client: info(Firmware.ipxe.options), serverAddress: serverIP)
        #expect(d.file == "special.efi" && d.nextServer == serverIP && d.source == .host)
    }

    @Test func hostWithoutBootUsesTheTable() {
        let h = host("52:54:00:00:00:01", ip: "10.0.0.5")
        #expect(policy.decide(host: h, client: info(Firmware.pxe(arch: 7).options), serverAddress: serverIP).file == "ipxe.efi")
    }

    @Test func nextServerFromTable() {
        var t = makeBootTable()
        t.nextServer = ip("10.0.0.9")
        let d = BootPolicy(table: t).decide(host: nil, client: info([]), serverAddress: serverIP)
        #expect(d.nextServer == ip("10.0.0.9"))
    }

    @Test func missingEntriesFallThrough() {
        var t = BootTable()
        t.default = "fallback.0"
        // iPXE with no boot.ipxe and an arch with no entry: default.
        let d = BootPolicy(table: t).decide(host: nil, client: info(Firmware.ipxe.options), serverAddress: serverIP)
        #expect(d.file == "fallback.0")
        #expect(d.source == .defaultEntry)
        let none = BootPolicy(table: BootTable()).decide(host: nil, client: info([]), serverAddress: serverIP)
        #expect(none.file == nil)
        #expect(none.source == .none)
    }

    @Test func bootpOrder() {
        #expect(policy.decideBOOTP(host: nil, serverAddress: serverIP).file == "pxelinux.0")
        var t = BootTable()
        t.bios = "legacy.0"
        #expect(BootPolicy(table: t).decideBOOTP(host: nil, serverAddress: serverIP).file == "legacy.0")
        #expect(policy.decideBOOTP(host: host("52:54:00:00:00:01", boot: "h.0"), serverAddress: serverIP).file == "h.0")
    }

    @Test func clientInfo() {
        let http = info(Firmware.http(arch: 16).options)
        #expect(http.isHTTPClient && !http.isPXEClient && http.isNetworkBoot)
        #expect(http.architecture == .uefiX64HTTP)
        let plain = info([DHCPOption(.vendorClassIdentifier, Array("MSFT 5.0".utf8))])
        #expect(!plain.isNetworkBoot)
        // 97 must be 17 bytes of type 0; a MAC in 97 is not a GUID.
        #expect(info([DHCPOption(.clientMachineIdentifier, [0] + Array(repeating: 1, count: 16))]).machineIdentifier != nil)
        #expect(info([DHCPOption(.clientMachineIdentifier, [1, 2, 3, 4, 5, 6])]).machineIdentifier == nil)
        #expect(info([DHCPOption(.clientMachineIdentifier, [1] + Array(repeating: 1, count: 16))]).machineIdentifier == nil)
        // Malformed 93 and 60 do not trap and give no arch.
        #expect(info([DHCPOption(.clientSystemArchitecture, [7])]).architectureCode == nil)
        #expect(info([DHCPOption(.vendorClassIdentifier, Array("PXEClient:Arch:999999:x".utf8))]).architectureCode == nil)
        #expect(info([DHCPOption(.userClass, [200, 1])]).isIPXE == false)
    }
}
