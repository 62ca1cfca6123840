@testable import DHCP
import PXEConfig
import Testing

let t0: Double = 1_750_000_000

func ip(_ s: String) -> IPv4Address {
    guard let a = IPv4Address(s) else { fatalError("bad test address \(s)") }
    return a
}

func mac(_ s: String) -> MACAddress {
    guard let m = MACAddress(s) else { fatalError("bad test MAC \(s)") }
    return m
}

let serverIP = ip("10.0.0.1")

func makeBootTable() -> BootTable {
    var b = BootTable()
    b.bios = "undionly.kpxe"
    b.uefiX64 = "ipxe.efi"
    b.uefiIA32 = "ipxe32.efi"
    b.uefiArm64 = "ipxe-arm64.efi"
    b.ipxe = "boot.ipxe"
    b.default = "pxelinux.0"
    return b
}

func makePool(pxeOnly: Bool = false, start: String = "10.0.0.100", end: String = "10.0.0.199") -> DHCPPoolConfig {
    var p = DHCPPoolConfig(subnet: IPv4Network("10.0.0.0/24")!, rangeStart: ip(start), rangeEnd: ip(end))
    p.router = ip("10.0.0.254")
    p.dns = [ip("10.0.0.53"), ip("10.0.0.54")]
    p.domain = "lab.example"
    p.leaseTime = 3600
    p.pxeOnly = pxeOnly
    return p
}

func makeSettings(pool: DHCPPoolConfig? = makePool(), hosts: [HostEntry] = [], bootp: Bool = false,
                  tftpRoot: String? = nil) -> DHCPServiceConfig {
    DHCPServiceConfig(interfaceName: "eth0", serverAddress: serverIP, pool: pool, bootp: bootp, hosts: hosts,
                      boot: makeBootTable(), tftpRoot: tftpRoot)
}

func host(_ m: String, ip a: String? = nil, name: String? = nil, boot: String? = nil) -> HostEntry {
    var h = HostEntry(mac: mac(m))
    h.ip = a.map(ip)
    h.hostname = name
    h.boot = boot
    return h
}

let broadcastContext = RequestContext(interface: "eth0", sourceAddress: .any, sourcePort: 68, arrivedAsBroadcast: true)

func unicastContext(from a: IPv4Address) -> RequestContext {
    RequestContext(interface: "eth0", sourceAddress: a, sourcePort: 68, arrivedAsBroadcast: false)
}

/// Options a PXE ROM sends, reduced to what matters to the server.
enum Firmware {
    case plain
    case pxe(arch: UInt16)
    case ipxe
    case http(arch: UInt16)

    var options: [DHCPOption] {
        switch self {
        case .plain:
            return []
        case .pxe(let arch):
            let a = String(arch)
            let arch5 = String(repeating: "0", count: 5 - a.count) + a
            return [DHCPOption(.clientSystemArchitecture, [UInt8(arch >> 8), UInt8(arch & 0xFF)]),
                    DHCPOption(.vendorClassIdentifier, Array("PXEClient:Arch:\(arch5):UNDI:002001".utf8))]
        case .ipxe:
            return [DHCPOption(.clientSystemArchitecture, [0, 0]),
                    DHCPOption(.vendorClassIdentifier, Array("PXEClient:Arch:00000:UNDI:002001".utf8)),
                    DHCPOption(.userClass, Array("iPXE".utf8)),
                    DHCPOption(.ipxeEncapsulated, [0xB1, 0x05, 0x01, 0x80, 0x86, 0x10, 0x0E])]
        case .http(let arch):
            return [DHCPOption(.clientSystemArchitecture, [UInt8(arch >> 8), UInt8(arch & 0xFF)]),
                    DHCPOption(.vendorClassIdentifier, Array("HTTPClient:Arch:000\(arch):UNDI:003000".utf8))]
        }
    }
}

/// A scripted client: builds requests the way RFC 2131 §4.4 says each state does.
struct TestClient {
    var chaddr: [UInt8]
    var xid: UInt32 = 0xCAFE_0001
    var firmware: Firmware = .pxe(arch: 0)
    var clientID: [UInt8]? = nil
    var broadcastFlag = false
    var giaddr: IPv4Address = .any
    var hops: UInt8 = 0
    var extra: [DHCPOption] = []
    var requestList: [UInt8] = [1, 3, 6, 12, 15, 28, 43, 60, 66, 67]

    init(_ m: String, firmware: Firmware = .pxe(arch: 0)) {
        chaddr = mac(m).bytes
        self.firmware = firmware
    }

    var key: ClientKey { ClientKey(message: discover()) }
    var identity: ClientIdentity { ClientIdentity(key: key, mac: MACAddress(bytes: chaddr)) }

    func message(_ type: DHCPMessageType, ciaddr: IPv4Address = .any, requested: IPv4Address? = nil,
                 serverID: IPv4Address? = nil) -> DHCPMessage {
        var o = DHCPOptions()
        o.messageType = type
        if let requested { o.set(.requestedIPAddress, ipv4: requested) }
        if let serverID { o.set(.serverIdentifier, ipv4: serverID) }
        if let clientID { o[.clientIdentifier] = clientID }
        if !requestList.isEmpty { o[.parameterRequestList] = requestList }
        for opt in firmware.options { o[opt.code] = opt.data }
        for opt in extra { o[opt.code] = opt.data }
        var m = DHCPMessage(op: .bootRequest, hops: hops, xid: xid, ciaddr: ciaddr, giaddr: giaddr, chaddr: chaddr,
                            options: o)
        m.isBroadcastFlagSet = broadcastFlag
        return m
    }

    func discover() -> DHCPMessage { message(.discover) }
    /// SELECTING.
    func select(_ offered: IPv4Address, server: IPv4Address = serverIP) -> DHCPMessage {
        message(.request, requested: offered, serverID: server)
    }
    func initReboot(_ a: IPv4Address) -> DHCPMessage { message(.request, requested: a) }
    /// RENEWING and REBINDING look alike on the wire; the context (unicast/broadcast) differs.
    func renew(_ a: IPv4Address) -> DHCPMessage { message(.request, ciaddr: a) }
    func release(_ a: IPv4Address) -> DHCPMessage { message(.release, ciaddr: a, serverID: serverIP) }
    func decline(_ a: IPv4Address) -> DHCPMessage { message(.decline, requested: a, serverID: serverIP) }
    func inform(_ a: IPv4Address) -> DHCPMessage { message(.inform, ciaddr: a) }
}

extension DHCPOutcome {
    var offeredAddress: IPv4Address? {
        if case .offered(let a) = event { return a }
        return nil
    }
    var ackedAddress: IPv4Address? {
        if case .acknowledged(let a) = event { return a }
        return nil
    }
    var nakReason: NakReason? {
        if case .negativelyAcknowledged(_, let r) = event { return r }
        return nil
    }
    var ignoreReason: IgnoreReason? {
        if case .ignored(let r) = event { return r }
        return nil
    }
    /// The only reply, re-decoded from its wire bytes (so tests see exactly what a client would).
    var wire: DHCPMessage? {
        guard let r = reply else { return nil }
        return try? DHCPMessage.decode(bytes: r.encoded())
    }
}

/// A client whose requests arrive "through a relay" at 127.0.0.1, so every reply is unicast back
/// to the test's loopback socket.
func relayed(_ m: String) -> TestClient {
    var c = TestClient(m)
    c.giaddr = ip("127.0.0.1")
    return c
}

/// Runs DISCOVER + REQUEST and returns the bound address.
@discardableResult
func bind(_ server: inout DHCPServer, _ c: TestClient, now: Double = t0) -> IPv4Address? {
    guard let offered = server.handle(c.discover(), context: broadcastContext, now: now).offeredAddress else { return nil }
    return server.handle(c.select(offered), context: broadcastContext, now: now).ackedAddress
}

/// Builds raw packet bytes field by field, independently of the encoder.
struct RawPacket {
    var op: UInt8 = 1
    var htype: UInt8 = 1
    var hlen: UInt8 = 6
    var hops: UInt8 = 0
    var xid: UInt32 = 0x1234_5678
    var secs: UInt16 = 4
    var flags: UInt16 = 0
    var ciaddr: [UInt8] = [0, 0, 0, 0]
    var yiaddr: [UInt8] = [0, 0, 0, 0]
    var siaddr: [UInt8] = [0, 0, 0, 0]
    var giaddr: [UInt8] = [0, 0, 0, 0]
    var chaddr: [UInt8] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56]
    var sname: [UInt8] = []
    var file: [UInt8] = []
    var cookie = true
    /// Raw option bytes (TLVs), without END.
    var options: [UInt8] = []
    var end = true
    var padTo = 300

    static func tlv(_ code: UInt8, _ data: [UInt8]) -> [UInt8] { [code, UInt8(data.count)] + data }
    static func tlv(_ code: UInt8, _ text: String) -> [UInt8] { tlv(code, Array(text.utf8)) }

    var bytes: [UInt8] {
        var b: [UInt8] = [op, htype, hlen, hops]
        b += [UInt8(xid >> 24), UInt8(xid >> 16 & 0xFF), UInt8(xid >> 8 & 0xFF), UInt8(xid & 0xFF)]
        b += [UInt8(secs >> 8), UInt8(secs & 0xFF), UInt8(flags >> 8), UInt8(flags & 0xFF)]
        b += ciaddr + yiaddr + siaddr + giaddr
        b += chaddr + Array(repeating: 0, count: 16 - chaddr.count)
        b += sname + Array(repeating: 0, count: 64 - sname.count)
        b += file + Array(repeating: 0, count: 128 - file.count)
        if cookie { b += [99, 130, 83, 99] }
        b += options
        if end { b.append(255) }
        if b.count < padTo { b += Array(repeating: 0, count: padTo - b.count) }
        return b
    }
}
