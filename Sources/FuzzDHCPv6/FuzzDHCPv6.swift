import DHCPv6
import FuzzSupport
import PXEConfig

/// DHCPv6 datagrams: decoding never traps; a decoded message re-encodes to the same bytes; the
/// server answers any datagram (client, relay, garbage) without trapping, every reply decodes,
/// and a reply to a relay is a RELAY-REPL.
let settings: DHCPv6Settings = {
    var s = DHCPv6Settings(interfaceName: "eth0", serverDUID: DHCPv6Settings.duidLL(MACAddress("02:00:00:00:00:01")!),
                           prefix: IPv6Address("fd00:1::")!, prefixLength: 64,
                           rangeStart: IPv6Address("fd00:1::100")!, rangeEnd: IPv6Address("fd00:1::10f")!)
    s.dns = [IPv6Address("fd00:1::1")!]
    s.domain = "lab.internal"
    s.rapidCommit = true
    s.boot.uefiX64 = "snponly.efi"
    s.boot.ipxe = "boot.ipxe"
    s.tftpBase = "tftp://[fd00:1::1]"
    s.httpBase = "http://[fd00:1::1]"
    s.reservationsByMAC[MACAddress("52:54:00:00:00:01")!] = IPv6Address("fd00:1::10")!
    return s
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDHCPv6(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let m = try? DHCPv6Message.decode(bytes) {
        let again = m.encode()
        FuzzDriver.require((try? DHCPv6Message.decode(again)) == m, "re-encoded message decodes differently")
    }
    var engine = DHCPv6Server(settings: settings)
    for now in [1000.0, 5000.0] {
        let out = engine.handle(bytes, now: now)
        guard let reply = out.reply else { continue }
        if bytes.first == DHCPv6MessageType.relayForward.rawValue {
            FuzzDriver.require((try? DHCPv6RelayMessage.decode(reply))?.type == .relayReply, "relay answered without RELAY-REPL")
        } else {
            FuzzDriver.require((try? DHCPv6Message.decode(reply)) != nil, "reply does not decode")
        }
        for l in out.leaseChanges {
            FuzzDriver.require(l.state != .active || settings.inRangeOrReserved(l.address), "leased an address outside the range")
        }
    }
    return 0
}

extension DHCPv6Settings {
    func inRangeOrReserved(_ a: IPv6Address) -> Bool {
        (!(a < rangeStart) && !(rangeEnd < a)) || reservationsByMAC.values.contains(a) || reservationsByDUID.values.contains(a)
    }
}

@main struct FuzzDHCPv6Main {
    static func main() { FuzzDriver.main(fuzzDHCPv6) }
}
