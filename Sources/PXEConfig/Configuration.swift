// The typed, validated configuration: one immutable generation of /etc/pxed.yaml.
// A running transfer or lease keeps the generation it started with; reload swaps in a new one.

public enum LogLevel: String, Sendable, Equatable, CaseIterable {
    case debug, info, notice, warning, error
}

/// TFTP settings: `tftp:` at the top level gives the defaults, an interface may override any key.
public struct TFTPSettings: Sendable, Equatable {
    public var root: String = "/srv/tftp"
    public var port: UInt16 = 69
    public var uploads: Bool = false
    /// Uploads may replace an existing file only when this is set too.
    public var overwrite: Bool = false
    public var rfc1350: Bool = false
    public var blksizeMax: Int = 1468
    public var windowsizeMax: Int = 64
    /// Seconds before the first retransmit.
    public var timeout: Int = 1
    public var retries: Int = 5
    public var maxSessions: Int = 500
    /// Ports for per-transfer sockets (firewalls); nil means any ephemeral port.
    public var portRange: ClosedRange<UInt16>? = nil

    public init() {}
}

/// HTTP settings: `http:` at the top level gives the defaults, an interface may override any key
/// (`interfaces.NAME.http: true | false | {...}`). Off unless configured.
/// `metrics: {listen: ADDRESS:PORT}`: the Prometheus endpoint (`GET /metrics`).
public struct MetricsSettings: Sendable, Equatable {
    /// An IPv4 or IPv6 literal; `0.0.0.0` for `:PORT`.
    public var address: String
    public var port: UInt16

    public init(address: String, port: UInt16) {
        self.address = address
        self.port = port
    }

    /// `127.0.0.1:9167`, `[::1]:9167`.
    public var listenText: String { address.contains(":") ? "[\(address)]:\(port)" : "\(address):\(port)" }
}

public struct HTTPSettings: Sendable, Equatable {
    public var port: UInt16 = 80
    /// nil: the TFTP root of the same interface (the same files over both protocols).
    public var root: String? = nil
    /// Connections served at once; more are closed at once (a client retries).
    public var maxConnections: Int = 1000

    public init() {}
}

/// A DHCP pool served on one interface (or, for relayed requests, chosen by giaddr).
public struct DHCPPoolConfig: Sendable, Equatable {
    public var subnet: IPv4Network
    public var rangeStart: IPv4Address
    public var rangeEnd: IPv4Address
    public var router: IPv4Address? = nil
    public var dns: [IPv4Address] = []
    public var domain: String? = nil
    public var leaseTime: Int = 3600
    /// Answer only network-booting clients (option 60 PXEClient/HTTPClient) or known hosts.
    public var pxeOnly: Bool = false
    /// UDP port to listen on (67 normally; tests use a high port).
    public var port: UInt16 = 67
    /// Extra subnets reached through relays (giaddr inside one of them selects it).
    public var relayPools: [DHCPPoolConfig] = []

    public init(subnet: IPv4Network, rangeStart: IPv4Address, rangeEnd: IPv4Address) {
        self.subnet = subnet
        self.rangeStart = rangeStart
        self.rangeEnd = rangeEnd
    }
}

/// `dhcp: {proxy: true}`: proxy DHCP (PXE 2.1) beside the site's own DHCP server. pxed hands out
/// no addresses: it answers PXE and HTTP boot clients on `port` with boot information only, and
/// runs the PXE boot server on `bootServerPort` (4011), where UEFI firmware asks for its file.
public struct ProxyDHCPConfig: Sendable, Equatable {
    public var port: UInt16 = 67
    public var bootServerPort: UInt16 = 4011

    public init() {}
}

/// A DHCPv6 pool on one interface (`interfaces.NAME.dhcp6`): IA_NA addresses from `range`.
public struct DHCPv6PoolConfig: Sendable, Equatable {
    public var prefix: IPv6Address
    public var prefixLength: Int
    public var rangeStart: IPv6Address
    public var rangeEnd: IPv6Address
    public var dns: [IPv6Address] = []
    public var domain: String? = nil
    /// Valid lifetime, seconds.
    public var leaseTime: Int = 3600
    /// Preferred lifetime, seconds (at most the valid lifetime).
    public var preferredTime: Int = 3000
    public var rapidCommit: Bool = false
    /// RFC 5970 option 60, sent beside the boot file URL: parameters for the loaded image (a
    /// kernel command line, for instance), in order.
    public var bootParameters: [String] = []

    public init(prefix: IPv6Address, prefixLength: Int, rangeStart: IPv6Address, rangeEnd: IPv6Address) {
        self.prefix = prefix
        self.prefixLength = prefixLength
        self.rangeStart = rangeStart
        self.rangeEnd = rangeEnd
    }
}

/// Where TFTP and HTTP also listen over IPv6 on an interface.
public enum IPv6Listening: Sendable, Equatable {
    /// The interface's first global or unique-local address when the engines start; none: IPv4 only.
    case auto
    /// Not at all (`address6: off`).
    case off
    case address(IPv6Address)
}

public struct InterfaceConfig: Sendable, Equatable {
    public var name: String
    /// nil: the interface's first IPv4 address, looked up when the engine starts.
    public var address: IPv4Address? = nil
    /// IPv6 for TFTP and HTTP (`address6:`; left out: `.auto`).
    public var address6: IPv6Listening = .auto
    /// nil: no TFTP server on this interface.
    public var tftp: TFTPSettings? = nil
    /// nil: no HTTP server on this interface.
    public var http: HTTPSettings? = nil
    public var bootp: Bool = false
    public var dhcp: DHCPPoolConfig? = nil
    /// Proxy DHCP instead of a pool (the two exclusive: `dhcp` is nil when this is set).
    public var dhcpProxy: ProxyDHCPConfig? = nil
    /// DHCPv6 on this interface.
    public var dhcp6: DHCPv6PoolConfig? = nil

    public init(name: String) { self.name = name }
}

/// What a network-booting client is told to load, unless its host entry says otherwise.
public struct BootTable: Sendable, Equatable {
    public var nextServer: IPv4Address? = nil
    public var bios: String? = nil
    public var uefiX64: String? = nil
    public var uefiIA32: String? = nil
    public var uefiArm64: String? = nil
    /// UEFI HTTP Boot (option 93 = 16, 15, 19): a URL, or a path served by this interface's HTTP
    /// engine. Unset: the TFTP entry of the same architecture over HTTP, when HTTP is on.
    public var uefiX64HTTP: String? = nil
    public var uefiIA32HTTP: String? = nil
    public var uefiArm64HTTP: String? = nil
    public var ipxe: String? = nil
    public var `default`: String? = nil

    public init() {}
}

public struct HostEntry: Sendable, Equatable {
    public var mac: MACAddress
    public var ip: IPv4Address? = nil
    /// A DHCPv6 reservation for this MAC (matched through the client's DUID-LL/LLT), or for
    /// `duid` when given (any DUID type: UUID, enterprise, a DUID-LLT from another NIC).
    public var ip6: IPv6Address? = nil
    public var duid: [UInt8]? = nil
    public var hostname: String? = nil
    public var boot: String? = nil
    /// The reservation may sit inside a dynamic range (the pool then skips it).
    public var allowInRange: Bool = false

    public init(mac: MACAddress) { self.mac = mac }
}

/// `lease-store:`: where DHCP leases are kept. The journal (a local append-only file, the
/// default; `lease-file:` names it) or a PostgreSQL database several servers share.
public struct LeaseStoreSettings: Sendable, Equatable {
    public enum Backend: String, Sendable, Equatable, CaseIterable {
        case journal, postgresql
    }

    public var backend: Backend = .journal
    /// Set for `backend: postgresql`.
    public var postgres: PostgresSettings? = nil

    public init() {}
}

/// A PostgreSQL lease database: `url: postgresql://USER@HOST:PORT/DATABASE`, the password in
/// `password-file:` (never in the URL, which logs and `ps` would show).
public struct PostgresSettings: Sendable, Equatable {
    public var host: String
    public var port: Int = 5432
    public var user: String
    public var database: String
    /// The file holding the password (its first line); nil: connect without one (trust or
    /// peer authentication).
    public var passwordFile: String? = nil
    /// Connections kept open to the database.
    public var poolSize: Int = 4
    /// Seconds to wait for a connection before giving up (start-up, `pxed db init`).
    public var connectTimeout: Int = 5

    public init(host: String, port: Int = 5432, user: String, database: String) {
        self.host = host
        self.port = port
        self.user = user
        self.database = database
    }

    /// The URL without secrets, for logs and `pxed check`.
    public var displayURL: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return "postgresql://\(user)@\(h):\(port)/\(database)"
    }
}

public struct PXEConfiguration: Sendable, Equatable {
    /// Path of the file this generation came from ("<memory>" for the one-call mode).
    public var source: String = "<memory>"
    public var logLevel: LogLevel = .info
    /// The journal's file (`lease-file:`, or `lease-store: {backend: journal, file: ...}`).
    public var leaseFile: String = "/var/lib/pxed/leases"
    public var leaseStore: LeaseStoreSettings = LeaseStoreSettings()
    public var tftp: TFTPSettings = TFTPSettings()
    /// The top-level `http:` (defaults for the interfaces); nil when the file has none.
    public var http: HTTPSettings? = nil
    public var interfaces: [InterfaceConfig] = []
    public var boot: BootTable = BootTable()
    public var hosts: [HostEntry] = []
    /// nil: no metrics endpoint (the default).
    public var metrics: MetricsSettings? = nil
    /// Where `pxed status` reaches the running daemon (a Unix socket, root only).
    public var controlSocket: String = PXEConfiguration.defaultControlSocket

    public static let defaultControlSocket = "/run/pxed/control.sock"

    public init() {}
}
