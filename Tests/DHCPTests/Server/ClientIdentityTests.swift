@testable import DHCP
import PXEConfig
import Testing

/// One machine, several DHCP clients per power-on (firmware, iPXE/GRUB, the OS), each naming
/// itself differently: the identity rules of `ClientIdentity` keep it on one address.
@Suite struct ClientIdentityTests {
    static let machine = "52:54:00:97:00:42"
    /// The firmware's PXE client: no option 61.
    let firmware = TestClient(machine, firmware: .pxe(arch: 7))
    /// iPXE and udhcpc: option 61 = hardware type 1 + MAC.
    var ipxe: TestClient {
        var c = TestClient(Self.machine, firmware: .ipxe)
        c.clientID = [1] + mac(Self.machine).bytes
        return c
    }
    /// systemd-networkd: option 61 = 0xFF + IAID + DUID.
    var osWithDUID: TestClient {
        var c = TestClient(Self.machine, firmware: .plain)
        c.clientID = [0xFF, 0, 0, 0, 1, 0, 4] + Array(repeating: 0xAB, count: 16)
        return c
    }
    var osWithMAC: TestClient {
        var c = TestClient(Self.machine, firmware: .plain)
        c.clientID = [1] + mac(Self.machine).bytes
        return c
    }

    let reserved = host(machine, ip: "10.0.0.42", name: "node42")

    func activeLeases(_ s: DHCPServer, now: Double) -> [Lease] {
        s.leases.filter { $0.mac == mac(Self.machine) && $0.isBound(now: now) }
    }

    @Test func anIdentifierThatRepeatsTheMACKeysLikeTheMAC() {
        #expect(ipxe.key == firmware.key)
        #expect(ipxe.key == .hardwareAddress(mac(Self.machine).bytes))
        #expect(osWithDUID.key != firmware.key)
        // Type 1 with a different address, or the right address under another type, is an identifier.
        var other = firmware
        other.clientID = [1, 1, 2, 3, 4, 5, 6]
        #expect(!other.key.isHardwareAddress)
        other.clientID = [6] + mac(Self.machine).bytes
        #expect(!other.key.isHardwareAddress)
    }

    @Test func sameClientRules() {
        let m = mac(Self.machine), n = mac("52:54:00:00:00:99")
        let hw = ClientKey.hardwareAddress(m.bytes), duid = ClientKey.clientIdentifier([0xFF, 1]),
            duid2 = ClientKey.clientIdentifier([0xFF, 2])
        #expect(ClientIdentity(key: hw, mac: m).isSameClient(key: duid, mac: m))      // rule 3
        #expect(ClientIdentity(key: duid, mac: m).isSameClient(key: hw, mac: m))      // rule 3
        #expect(!ClientIdentity(key: duid, mac: m).isSameClient(key: duid2, mac: m))  // rule 2
        #expect(!ClientIdentity(key: hw, mac: m).isSameClient(key: duid, mac: n))
        #expect(ClientIdentity(key: duid, mac: n).isSameClient(key: duid, mac: m))    // the id is the identity
        #expect(!ClientIdentity(key: hw, mac: nil).isSameClient(key: duid, mac: nil))
    }

    /// The bug from issue 13: the OS held the reserved address under its client identifier, and
    /// the firmware (no option 61) was offered a pool address.
    @Test(arguments: ["mac-id", "duid"])
    func reservedMachineKeepsItsAddressFromOSToFirmware(_ osKind: String) throws {
        let os = osKind == "duid" ? osWithDUID : osWithMAC
        var s = DHCPServer(settings: makeSettings(hosts: [reserved]))
        #expect(bind(&s, os, now: t0) == ip("10.0.0.42"))
        // Next power-on, within the lease: firmware, iPXE, then the OS again.
        let t1 = t0 + 600
        #expect(bind(&s, firmware, now: t1) == ip("10.0.0.42"))
        #expect(bind(&s, ipxe, now: t1 + 20) == ip("10.0.0.42"))
        #expect(bind(&s, os, now: t1 + 60) == ip("10.0.0.42"))
        #expect(activeLeases(s, now: t1 + 60).map(\.ip) == [ip("10.0.0.42")])
        // The OS renews the lease it holds, whatever key the last ACK stored.
        #expect(s.handle(os.renew(ip("10.0.0.42")), context: unicastContext(from: ip("10.0.0.42")),
                         now: t1 + 90).ackedAddress == ip("10.0.0.42"))
    }

    @Test(arguments: ["mac-id", "duid"])
    func reservedMachineKeepsItsAddressFromFirmwareToOS(_ osKind: String) throws {
        let os = osKind == "duid" ? osWithDUID : osWithMAC
        var s = DHCPServer(settings: makeSettings(hosts: [reserved]))
        #expect(bind(&s, firmware, now: t0) == ip("10.0.0.42"))
        #expect(bind(&s, ipxe, now: t0 + 20) == ip("10.0.0.42"))
        #expect(bind(&s, os, now: t0 + 60) == ip("10.0.0.42"))
        #expect(activeLeases(s, now: t0 + 60).map(\.ip) == [ip("10.0.0.42")])
    }

    /// A lease left from before the fix (the firmware on a pool address) is given back when the
    /// machine takes its reservation: one address per machine.
    @Test func aStrayPoolLeaseIsReleasedWhenTheReservationIsTaken() throws {
        let m = mac(Self.machine)
        let old = [Lease(clientKey: .clientIdentifier([1] + m.bytes), mac: m, ip: ip("10.0.0.42"),
                         expiry: Int64(t0) + 3000, state: .active),
                   Lease(clientKey: .hardwareAddress(m.bytes), mac: m, ip: ip("10.0.0.121"),
                         expiry: Int64(t0) + 3600, state: .active)]
        var s = DHCPServer(settings: makeSettings(hosts: [reserved]), leases: old)
        let offer = s.handle(firmware.discover(), context: broadcastContext, now: t0 + 10)
        #expect(offer.offeredAddress == ip("10.0.0.42"))
        let ack = s.handle(firmware.select(ip("10.0.0.42")), context: broadcastContext, now: t0 + 11)
        #expect(ack.ackedAddress == ip("10.0.0.42"))
        #expect(ack.leaseChanges.contains { $0.ip == ip("10.0.0.121") && $0.state == .released })
        #expect(activeLeases(s, now: t0 + 11).map(\.ip) == [ip("10.0.0.42")])
    }

    /// Without a reservation: firmware → iPXE → OS (DUID) → next power-on, one address throughout.
    @Test func unreservedMachineKeepsOneAddressThroughTheBootChain() throws {
        var s = DHCPServer(settings: makeSettings())
        let a = try #require(bind(&s, firmware, now: t0))
        #expect(bind(&s, ipxe, now: t0 + 20) == a)
        #expect(bind(&s, osWithDUID, now: t0 + 60) == a)
        #expect(bind(&s, firmware, now: t0 + 900) == a)
        #expect(bind(&s, ipxe, now: t0 + 920) == a)
        #expect(bind(&s, osWithDUID, now: t0 + 960) == a)
        #expect(activeLeases(s, now: t0 + 960).map(\.ip) == [a])
        // And after the lease has run out: the expired record still names the machine.
        #expect(bind(&s, firmware, now: t0 + 960 + 7200) == a)
    }

    /// Rule 2 stays: two operating systems of one machine with their own DUIDs hold two leases at
    /// once when nothing keyed by the MAC came between them.
    @Test func twoIdentifiersOnOneMACAreTwoClients() throws {
        var s = DHCPServer(settings: makeSettings())
        var second = osWithDUID
        second.clientID = [0xFF, 0, 0, 0, 2, 0, 4] + Array(repeating: 0xCD, count: 16)
        let a = try #require(bind(&s, osWithDUID))
        let b = try #require(bind(&s, second))
        #expect(a != b)
        #expect(s.lease(for: osWithDUID.identity)?.ip == a)
        #expect(s.lease(for: second.identity)?.ip == b)
    }

    /// Rule 4 is about the reserved MAC only: another machine's lease on an address reserved later
    /// still blocks it, and the reserved machine is not handed that lease.
    @Test func aReservationDoesNotTakeAnotherMachinesLease() throws {
        let other = TestClient("52:54:00:00:00:77", firmware: .plain)
        var s = DHCPServer(settings: makeSettings())
        let taken = try #require(bind(&s, other))
        s.apply(settings: makeSettings(hosts: [host(Self.machine, ip: taken.description)]))
        let got = try #require(bind(&s, firmware, now: t0 + 5))
        #expect(got != taken)
        #expect(s.lease(for: other.identity)?.ip == taken)
    }

    /// A release or decline from the OS matches the lease the firmware re-keyed.
    @Test func theOSReleasesWhatTheFirmwareBound() throws {
        var s = DHCPServer(settings: makeSettings())
        let a = try #require(bind(&s, osWithDUID, now: t0))
        #expect(bind(&s, firmware, now: t0 + 600) == a)
        let r = s.handle(osWithDUID.release(a), context: unicastContext(from: a), now: t0 + 700)
        #expect(r.leaseChanges.first?.state == .released)
        #expect(activeLeases(s, now: t0 + 700).isEmpty)
    }

    /// Lease files written before rule 1 hold `id:01<mac>` keys: they load as the MAC's.
    @Test func oldEthernetIdentifierRecordsLoadAsTheMACs() throws {
        let m = mac(Self.machine)
        let old = Lease(clientKey: .clientIdentifier([1] + m.bytes), mac: m, ip: ip("10.0.0.130"),
                        expiry: Int64(t0) + 3600, state: .active)
        var s = DHCPServer(settings: makeSettings(), leases: [old])
        #expect(s.lease(for: firmware.key)?.ip == ip("10.0.0.130"))
        #expect(s.handle(firmware.discover(), context: broadcastContext, now: t0 + 5).offeredAddress == ip("10.0.0.130"))
    }

    @Test func unknownArchitectureGetsTheDefaultFile() throws {
        var s = DHCPServer(settings: makeSettings())
        let odd = TestClient("52:54:00:00:00:42", firmware: .pxe(arch: 42))
        let offer = s.handle(odd.discover(), context: broadcastContext, now: t0)
        #expect(offer.wire?.fileName == "pxelinux.0")
        #expect(offer.boot?.unknownArchitectureCode == 42)
        #expect(offer.boot?.reason == "default")
        let known = s.handle(firmware.discover(), context: broadcastContext, now: t0)
        #expect(known.boot?.unknownArchitectureCode == nil)
        #expect(known.boot?.reason == "uefi-x64")
        // A known architecture without its own row also gets the default, but is not "unknown".
        var table = makeBootTable()
        table.uefiX64 = nil
        var settings = makeSettings()
        settings.boot = table
        var s2 = DHCPServer(settings: settings)
        let fallback = s2.handle(firmware.discover(), context: broadcastContext, now: t0)
        #expect(fallback.boot?.file == "pxelinux.0" && fallback.boot?.unknownArchitectureCode == nil)
    }
}
