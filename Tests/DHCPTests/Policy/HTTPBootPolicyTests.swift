@testable import DHCP
import PXEConfig
import Testing

/// UEFI HTTP Boot clients (option 60 HTTPClient, option 93 = 15, 16, 19) get a URL.
@Suite struct HTTPBootPolicyTests {
    func info(_ firmware: Firmware) -> PXEClientInfo {
        var o = DHCPOptions()
        for opt in firmware.options { o[opt.code] = opt.data }
        return PXEClientInfo(options: o)
    }

    @Test func derivedFromTheTFTPEntryWhenHTTPIsOn() {
        let p = BootPolicy(table: makeBootTable(), httpBase: "http://10.0.0.1:8080")
        let d = p.decide(host: nil, client: info(.http(arch: 16)), serverAddress: serverIP)
        #expect(d.file == "http://10.0.0.1:8080/ipxe.efi")
        #expect(d.source == .architecture(.uefiX64HTTP) && d.reason == "uefi-x64-http")
        #expect(p.decide(host: nil, client: info(.http(arch: 19)), serverAddress: serverIP).file == "http://10.0.0.1:8080/ipxe-arm64.efi")
        #expect(p.decide(host: nil, client: info(.http(arch: 15)), serverAddress: serverIP).file == "http://10.0.0.1:8080/ipxe32.efi")
    }

    @Test func ownEntryWinsAndURLsStayAsWritten() {
        var t = makeBootTable()
        t.uefiX64HTTP = "efi/shimx64.efi"
        t.uefiArm64HTTP = "http://mirror.example/arm64.efi"
        let p = BootPolicy(table: t, httpBase: "http://10.0.0.1")
        #expect(p.decide(host: nil, client: info(.http(arch: 16)), serverAddress: serverIP).file == "http://10.0.0.1/efi/shimx64.efi")
        #expect(p.decide(host: nil, client: info(.http(arch: 19)), serverAddress: serverIP).file == "http://mirror.example/arm64.efi")
        // A host's boot may be a URL, or a path made into one.
        let h = host("52:54:00:00:00:01", boot: "hosts/a.efi")
        #expect(p.decide(host: h, client: info(.http(arch: 16)), serverAddress: serverIP).file == "http://10.0.0.1/hosts/a.efi")
        // PXE clients keep plain names.
        #expect(p.decide(host: nil, client: info(.pxe(arch: 7)), serverAddress: serverIP).file == "ipxe.efi")
    }

    @Test func withoutHTTPNoDerivedEntry() {
        let p = BootPolicy(table: makeBootTable())
        let d = p.decide(host: nil, client: info(.http(arch: 16)), serverAddress: serverIP)
        #expect(d.source == .defaultEntry && d.file == "pxelinux.0")
    }

    @Test func offerCarriesHTTPClientAndTheURLIn67() throws {
        var settings = makeSettings()
        settings.httpBase = "http://10.0.0.1"
        var s = DHCPServer(settings: settings)
        var c = TestClient("52:54:00:00:00:16", firmware: .http(arch: 16))
        c.requestList = [1, 3, 6]   // 67 not asked for: HTTP Boot gets it anyway
        let o = try #require(s.handle(c.discover(), context: broadcastContext, now: t0).wire)
        #expect(o.options.string(.vendorClassIdentifier) == "HTTPClient")
        #expect(o.options.string(.bootfileName) == "http://10.0.0.1/ipxe.efi")
        #expect(o.fileName == "http://10.0.0.1/ipxe.efi")
    }
}
