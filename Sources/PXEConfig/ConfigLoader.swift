// YAML tree -> PXEConfiguration. Decoding checks each value on its own (type, syntax, range);
// checks that relate several values live in Validation.swift and run afterwards on the records
// kept here. Every problem is collected; decoding carries on past a bad value.

/// The keys each section accepts: the schema's contract.
enum ConfigKeys {
    static let top = ["log-level", "lease-file", "lease-store", "tftp", "http", "interfaces", "boot", "hosts", "metrics",
                      "control-socket"]
    static let metrics = ["listen"]
    static let leaseStore = ["backend", "file", "url", "password-file", "pool-size", "connect-timeout"]
    static let http = ["port", "root", "max-connections"]
    static let tftp = ["root", "port", "uploads", "overwrite", "rfc1350", "blksize-max", "windowsize-max",
                       "timeout", "retries", "max-sessions", "port-range"]
    static let interface = ["address", "address6", "tftp", "http", "bootp", "dhcp", "dhcp6"]
    static let dhcp6 = ["prefix", "range", "dns", "domain", "lease-time", "preferred-time", "rapid-commit", "boot-params"]
    static let pool = ["subnet", "range", "router", "dns", "domain", "lease-time", "pxe-only", "port", "relay-subnets",
                       "proxy"]
    static let proxy = ["proxy", "port"]
    static let relayPool = ["subnet", "range", "router", "dns", "domain", "lease-time"]
    static let boot = ["next-server", "bios", "uefi-x64", "uefi-ia32", "uefi-arm64", "uefi-x64-http", "uefi-ia32-http",
                       "uefi-arm64-http", "ipxe", "default"]
    static let host = ["mac", "ip", "ip6", "duid", "hostname", "boot", "allow-in-range"]

    /// Keys that are valid, just not at this level, with a hint saying where they go.
    static let topElsewhere: [String: String] = {
        var m: [String: String] = [:]
        for k in tftp where k != "port" { m[k] = "it belongs under 'tftp'" }
        for k in boot { m[k] = "it belongs under 'boot'" }
        for k in ["subnet", "range", "router", "dns", "domain", "lease-time", "pxe-only", "relay-subnets"] {
            m[k] = "it belongs under 'interfaces.<name>.dhcp'"
        }
        for k in ["address", "address6", "bootp"] { m[k] = "it belongs under 'interfaces.<name>'" }
        m["max-connections"] = "it belongs under 'http'"
        for k in ["mac", "ip", "hostname", "allow-in-range"] { m[k] = "it belongs in a 'hosts' entry" }
        return m
    }()
    static let interfaceElsewhere: [String: String] = {
        var m: [String: String] = [:]
        for k in tftp where k != "port" { m[k] = "it belongs under 'tftp'" }
        for k in pool where k != "port" { m[k] = "it belongs under 'dhcp'" }
        return m
    }()
    static let relayElsewhere: [String: String] = [
        "pxe-only": "relay subnets share the interface's dhcp.pxe-only",
        "port": "relay subnets share the interface's dhcp.port",
        "relay-subnets": "relay subnets do not nest",
    ]
}

struct ConfigLoader {
    let file: String
    /// Absolute directory of the config file; relative paths are resolved against it.
    let baseDirectory: String
    var errors: [ConfigError] = []
    var config = PXEConfiguration()

    // Where values came from, for the cross-field checks.
    var pools: [PoolSource] = []
    var hosts: [HostSource] = []
    var roots: [RootSource] = []
    private var topRootWritten = false
    private var defaultRootRecorded = false

    init(file: String, baseDirectory: String) {
        self.file = file
        self.baseDirectory = baseDirectory
    }

    mutating func fail(_ mark: YAMLNode.Mark, _ path: String, _ message: String) {
        errors.append(ConfigError(file: file, line: mark.line, column: mark.column, path: path, message: message))
    }

    // MARK: - Sections

    mutating func decode(_ root: YAMLNode) {
        guard let top = fields(root, path: "", allowed: ConfigKeys.top, elsewhere: ConfigKeys.topElsewhere) else { return }

        if let n = top["log-level"], let s = string(n, top.path("log-level")) {
            if let level = LogLevel(rawValue: s.lowercased()) {
                config.logLevel = level
            } else {
                let names = LogLevel.allCases.map(\.rawValue)
                fail(n.mark, top.path("log-level"), "unknown log level '\(s)' (expected \(names.dropLast().joined(separator: ", ")) or \(names.last ?? ""))")
            }
        }
        if let n = top["lease-file"], let s = string(n, top.path("lease-file")) {
            if s.isEmpty || s.contains("\0") {
                fail(n.mark, top.path("lease-file"), "must be a non-empty path")
            } else {
                config.leaseFile = resolve(s)
            }
        }
        if let n = top["lease-store"], let f = fields(n, path: "lease-store", allowed: ConfigKeys.leaseStore) {
            decodeLeaseStore(f, leaseFileGiven: top["lease-file"] != nil)
        }
        // Read before the interfaces, which inherit from it whatever the key order.
        if let n = top["tftp"], let f = fields(n, path: "tftp", allowed: ConfigKeys.tftp) {
            topRootWritten = f.pair("root") != nil
            var settings = config.tftp
            decodeTFTP(f, into: &settings)
            config.tftp = settings
        }
        if let n = top["http"], let f = fields(n, path: "http", allowed: ConfigKeys.http) {
            var settings = HTTPSettings()
            decodeHTTP(f, into: &settings)
            config.http = settings
        }
        if let n = top["metrics"], let f = fields(n, path: "metrics", allowed: ConfigKeys.metrics) {
            if let l = require(f, "listen"), let text = string(l, f.path("listen")) {
                if let settings = Self.listenAddress(text) {
                    config.metrics = settings
                } else {
                    fail(l.mark, f.path("listen"), "'\(text)' is not ADDRESS:PORT (for example 127.0.0.1:9167, [::1]:9167 or :9167 for every address)")
                }
            }
        }
        if let n = top["control-socket"], let s = string(n, top.path("control-socket")) {
            // sockaddr_un holds 107 bytes of path.
            if !s.hasPrefix("/") || s.contains("\0") || s.utf8.count > 107 {
                fail(n.mark, top.path("control-socket"), "must be an absolute path of at most 107 bytes")
            } else {
                config.controlSocket = s
            }
        }
        if let n = top["interfaces"] { decodeInterfaces(n) }
        if let n = top["boot"] { decodeBoot(n) }
        if let n = top["hosts"] { decodeHosts(n) }
    }

    private mutating func decodeLeaseStore(_ f: Fields, leaseFileGiven: Bool) {
        var settings = LeaseStoreSettings()
        if let n = f["backend"], let text = string(n, f.path("backend")) {
            if let backend = LeaseStoreSettings.Backend(rawValue: text.lowercased()) {
                settings.backend = backend
            } else {
                fail(n.mark, f.path("backend"), "unknown backend '\(text)' (expected journal or postgresql)")
                return
            }
        }
        switch settings.backend {
        case .journal:
            for key in ["url", "password-file", "pool-size", "connect-timeout"] {
                if let n = f[key] { fail(n.mark, f.path(key), "only for backend: postgresql") }
            }
            if let n = f["file"], let text = string(n, f.path("file")) {
                if leaseFileGiven {
                    fail(n.mark, f.path("file"), "the journal's file is given twice: here and in lease-file (keep one)")
                } else if text.isEmpty || text.contains("\0") {
                    fail(n.mark, f.path("file"), "must be a non-empty path")
                } else {
                    config.leaseFile = resolve(text)
                }
            }
        case .postgresql:
            if let n = f["file"] { fail(n.mark, f.path("file"), "only for backend: journal") }
            guard let u = require(f, "url"), let text = string(u, f.path("url")) else { return }
            switch Self.postgresURL(text) {
            case .failure(let problem):
                fail(u.mark, f.path("url"), problem.message)
            case .success(var pg):
                if let n = f["password-file"], let path = string(n, f.path("password-file")) {
                    if path.isEmpty || path.contains("\0") {
                        fail(n.mark, f.path("password-file"), "must be a non-empty path")
                    } else {
                        pg.passwordFile = resolve(path)
                    }
                }
                pg.poolSize = integer(f, "pool-size", in: 1...64) ?? pg.poolSize
                pg.connectTimeout = integer(f, "connect-timeout", in: 1...300) ?? pg.connectTimeout
                settings.postgres = pg
            }
        }
        config.leaseStore = settings
    }

    struct URLProblem: Error { let message: String }

    /// `postgresql://USER@HOST[:PORT]/DATABASE` (`postgres://` too; `[V6]` hosts). A password in
    /// the URL is refused: it belongs in `password-file`, away from logs and `ps`.
    static func postgresURL(_ text: String) -> Result<PostgresSettings, URLProblem> {
        let example = "expected postgresql://USER@HOST:PORT/DATABASE"
        var rest: Substring
        if text.hasPrefix("postgresql://") {
            rest = text.dropFirst("postgresql://".count)
        } else if text.hasPrefix("postgres://") {
            rest = text.dropFirst("postgres://".count)
        } else {
            return .failure(URLProblem(message: "'\(text)' is not a PostgreSQL URL (\(example))"))
        }
        if rest.contains("?") { return .failure(URLProblem(message: "URL parameters are not supported (\(example))")) }
        guard let slash = rest.firstIndex(of: "/") else {
            return .failure(URLProblem(message: "the URL names no database (\(example))"))
        }
        let database = String(rest[rest.index(after: slash)...])
        rest = rest[..<slash]
        guard !database.isEmpty, !database.contains("/") else {
            return .failure(URLProblem(message: "the URL names no database (\(example))"))
        }
        guard let at = rest.lastIndex(of: "@") else {
            return .failure(URLProblem(message: "the URL names no user (\(example))"))
        }
        let userInfo = rest[..<at]
        var hostPort = rest[rest.index(after: at)...]
        if userInfo.contains(":") {
            return .failure(URLProblem(message: "a password in the URL is refused: put it in password-file (the URL is logged and shown by ps)"))
        }
        guard !userInfo.isEmpty else { return .failure(URLProblem(message: "the URL names no user (\(example))")) }
        var port = 5432
        var host: Substring
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else {
                return .failure(URLProblem(message: "unclosed [ in the host (\(example))"))
            }
            host = hostPort[hostPort.index(after: hostPort.startIndex)..<close]
            hostPort = hostPort[hostPort.index(after: close)...]
            if !hostPort.isEmpty && !hostPort.hasPrefix(":") {
                return .failure(URLProblem(message: "unexpected text after the host (\(example))"))
            }
        } else if let colon = hostPort.lastIndex(of: ":") {
            host = hostPort[..<colon]
            hostPort = hostPort[colon...]
        } else {
            host = hostPort
            hostPort = ""
        }
        if hostPort.hasPrefix(":") {
            guard let p = Int(hostPort.dropFirst()), (1...65535).contains(p) else {
                return .failure(URLProblem(message: "port '\(hostPort.dropFirst())' is not a number in 1-65535"))
            }
            port = p
        }
        guard !host.isEmpty, !host.contains(where: { $0 == " " || $0 == "/" || $0 == "@" }) else {
            return .failure(URLProblem(message: "the URL names no host (\(example))"))
        }
        return .success(PostgresSettings(host: String(host), port: port, user: String(userInfo), database: database))
    }

    /// `HOST:PORT`, `[V6]:PORT` or `:PORT` (every IPv4 address).
    static func listenAddress(_ text: String) -> MetricsSettings? {
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]), port > 0 else { return nil }
        var host = String(text[..<colon])
        if host.isEmpty { return MetricsSettings(address: "0.0.0.0", port: port) }
        if host.hasPrefix("[") && host.hasSuffix("]") {
            host = String(host.dropFirst().dropLast())
            guard IPv6Address(host) != nil else { return nil }
        } else if IPv4Address(host) == nil {
            return nil
        }
        return MetricsSettings(address: host, port: port)
    }

    private mutating func decodeTFTP(_ f: Fields, into s: inout TFTPSettings) {
        if let n = f["root"], let text = string(n, f.path("root")) {
            if text.isEmpty || text.contains("\0") {
                fail(n.mark, f.path("root"), "must be a non-empty path")
            } else {
                s.root = resolve(text)
                roots.append(RootSource(root: s.root, written: text, mark: n.mark, path: f.path("root"), isDefault: false))
            }
        }
        s.port = port(f, "port") ?? s.port
        s.uploads = bool(f, "uploads") ?? s.uploads
        s.overwrite = bool(f, "overwrite") ?? s.overwrite
        s.rfc1350 = bool(f, "rfc1350") ?? s.rfc1350
        s.blksizeMax = integer(f, "blksize-max", in: 8...65464) ?? s.blksizeMax
        s.windowsizeMax = integer(f, "windowsize-max", in: 1...65535) ?? s.windowsizeMax
        s.timeout = integer(f, "timeout", in: 1...255) ?? s.timeout
        s.retries = integer(f, "retries", in: 1...100) ?? s.retries
        s.maxSessions = integer(f, "max-sessions", in: 1...100_000) ?? s.maxSessions
        if let n = f["port-range"] { s.portRange = portRange(n, f.path("port-range")) ?? s.portRange }
    }

    private mutating func decodeHTTP(_ f: Fields, into s: inout HTTPSettings) {
        if let n = f["root"], let text = string(n, f.path("root")) {
            if text.isEmpty || text.contains("\0") {
                fail(n.mark, f.path("root"), "must be a non-empty path")
            } else {
                s.root = resolve(text)
                roots.append(RootSource(root: resolve(text), written: text, mark: n.mark, path: f.path("root"), isDefault: false))
            }
        }
        s.port = port(f, "port") ?? s.port
        s.maxConnections = integer(f, "max-connections", in: 1...100_000) ?? s.maxConnections
    }

    /// `http:` on an interface: true (the top-level settings, or the defaults), false, or a map of
    /// overrides. Without its own root it serves the interface's TFTP root.
    private mutating func interfaceHTTP(_ node: YAMLNode, path: String) -> HTTPSettings? {
        var settings = config.http ?? HTTPSettings()
        switch node.content {
        case .scalar(let s, _):
            guard let on = Self.parseBool(s) else {
                fail(node.mark, path, "expected true, false or a mapping of HTTP settings, found \(node.kindDescription)")
                return nil
            }
            if !on { return nil }
        case .mapping:
            guard let f = fields(node, path: path, allowed: ConfigKeys.http) else { return nil }
            decodeHTTP(f, into: &settings)
        case .sequence:
            fail(node.mark, path, "expected true, false or a mapping of HTTP settings, found a list")
            return nil
        }
        return settings
    }

    private mutating func decodeInterfaces(_ node: YAMLNode) {
        guard !node.isNull else { return }
        guard case .mapping(let pairs) = node.content else {
            fail(node.mark, "interfaces", "expected a mapping of interface names, found \(node.kindDescription)")
            return
        }
        for pair in pairs {
            guard let name = pair.key.scalarValue else {
                fail(pair.key.mark, "interfaces", "an interface name must be a plain value, found \(pair.key.kindDescription)")
                continue
            }
            let path = "interfaces.\(name)"
            if let problem = Rules.interfaceNameProblem(name) { fail(pair.key.mark, "interfaces", problem) }
            guard let f = fields(pair.value, path: path, allowed: ConfigKeys.interface,
                                 elsewhere: ConfigKeys.interfaceElsewhere) else { continue }

            var iface = InterfaceConfig(name: name)
            var addressMark: YAMLNode.Mark? = nil
            if let n = f["address"] {
                iface.address = ipv4(n, f.path("address"))
                addressMark = n.mark
            }
            if let n = f["address6"] { iface.address6 = address6(n, f.path("address6")) ?? iface.address6 }
            if let n = f["dhcp6"] { iface.dhcp6 = decodeDHCPv6(n, path: f.path("dhcp6")) }
            if let n = f["tftp"] { iface.tftp = interfaceTFTP(n, path: f.path("tftp")) }
            if let n = f["http"] {
                iface.http = interfaceHTTP(n, path: f.path("http"))
                if let http = iface.http, http.root == nil, iface.tftp == nil {
                    fail(n.mark, f.path("http"), "HTTP needs a root: set http.root (here or at the top), or serve TFTP on this interface (HTTP then serves the TFTP root)")
                }
            }
            iface.bootp = bool(f, "bootp") ?? iface.bootp
            if let n = f["dhcp"] {
                if n["proxy"].flatMap({ $0.scalarValue }).flatMap(Self.parseBool) == true {
                    iface.dhcpProxy = decodeProxy(n, path: f.path("dhcp"))
                } else {
                    let owner = PoolSource.Owner(interface: name, address: iface.address, addressMark: addressMark)
                    iface.dhcp = decodePool(n, path: f.path("dhcp"), owner: owner, parent: nil)
                }
            }
            config.interfaces.append(iface)
        }
    }

    /// `tftp:` on an interface: true (use the top-level settings), false, or a map of overrides.
    private mutating func interfaceTFTP(_ node: YAMLNode, path: String) -> TFTPSettings? {
        var settings = config.tftp
        var rootOverridden = false
        switch node.content {
        case .scalar(let s, _):
            guard let on = Self.parseBool(s) else {
                fail(node.mark, path, "expected true, false or a mapping of TFTP settings, found \(node.kindDescription)")
                return nil
            }
            if !on { return nil }
        case .mapping:
            guard let f = fields(node, path: path, allowed: ConfigKeys.tftp) else { return nil }
            rootOverridden = f.pair("root") != nil
            decodeTFTP(f, into: &settings)
        case .sequence:
            fail(node.mark, path, "expected true, false or a mapping of TFTP settings, found a list")
            return nil
        }
        // The built-in default root was never written down; check it once, where it is first used.
        if !rootOverridden && !topRootWritten && !defaultRootRecorded {
            defaultRootRecorded = true
            roots.append(RootSource(root: settings.root, written: settings.root, mark: node.mark, path: path, isDefault: true))
        }
        return settings
    }

    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: c - 48
        case 97...102: c - 87
        default: nil
        }
    }

    /// `dhcp6: {prefix, range, ...}`.
    private mutating func decodeDHCPv6(_ node: YAMLNode, path: String) -> DHCPv6PoolConfig? {
        guard let f = fields(node, path: path, allowed: ConfigKeys.dhcp6) else { return nil }
        let prefixNode = require(f, "prefix")
        let prefix: (IPv6Address, Int)? = prefixNode.flatMap { n in
            parsed(n, f.path("prefix"), expected: "an IPv6 prefix such as fd00:1::/64", { s -> (IPv6Address, Int)? in
                let parts = s.split(separator: "/")
                guard parts.count == 2, let a = IPv6Address(parts[0]), let len = Int(parts[1]), (8...128).contains(len) else { return nil }
                return (a, len)
            }) { "'\($0)' is not an IPv6 prefix (ADDRESS/LENGTH, for example fd00:1::/64)" }
        }
        let rangeNode = require(f, "range")
        let range: (IPv6Address, IPv6Address)? = rangeNode.flatMap { n in
            parsed(n, f.path("range"), expected: "START-END IPv6 addresses", { s -> (IPv6Address, IPv6Address)? in
                let parts = s.split(separator: "-", omittingEmptySubsequences: false)
                guard parts.count == 2, let a = IPv6Address(parts[0]), let b = IPv6Address(parts[1]) else { return nil }
                return (a, b)
            }) { "'\($0)' is not a range of IPv6 addresses (START-END)" }
        }
        var dns: [IPv6Address] = []
        if let n = f["dns"] {
            let items: [YAMLNode]
            if case .sequence(let seq) = n.content { items = seq } else { items = [n] }
            for (i, item) in items.enumerated() {
                if let a = parsed(item, f.path("dns") + (items.count > 1 ? "[\(i)]" : ""), expected: "an IPv6 address",
                                  IPv6Address.init, invalid: { "'\($0)' is not an IPv6 address" }) { dns.append(a) }
            }
        }
        var domain: String? = nil
        if let n = f["domain"], let s = string(n, f.path("domain")) {
            if let problem = Rules.domainProblem(s) { fail(n.mark, f.path("domain"), problem) } else { domain = s }
        }
        let lease = integer(f, "lease-time", in: 60...31_536_000)
        let preferred = integer(f, "preferred-time", in: 60...31_536_000)
        let rapid = bool(f, "rapid-commit")
        var bootParameters: [String] = []
        if let n = f["boot-params"] {
            let items: [YAMLNode]
            if case .sequence(let seq) = n.content { items = seq } else { items = [n] }
            for (i, item) in items.enumerated() {
                let where_ = f.path("boot-params") + (items.count > 1 ? "[\(i)]" : "")
                guard let s = string(item, where_) else { continue }
                // Each parameter travels with a 16-bit length; the whole option must fit a datagram.
                if s.isEmpty { fail(item.mark, where_, "an empty boot parameter (leave it out)") }
                else if s.utf8.count > 1024 { fail(item.mark, where_, "a boot parameter is at most 1024 bytes (\(s.utf8.count) given)") }
                else { bootParameters.append(s) }
            }
        }
        guard let (p, len) = prefix, let (start, end) = range, let prefixNode, let rangeNode else { return nil }
        var pool = DHCPv6PoolConfig(prefix: p, prefixLength: len, rangeStart: start, rangeEnd: end)
        pool.dns = dns
        pool.domain = domain
        pool.leaseTime = lease ?? pool.leaseTime
        pool.preferredTime = preferred ?? min(pool.preferredTime, pool.leaseTime * 5 / 6)
        pool.rapidCommit = rapid ?? false
        pool.bootParameters = bootParameters
        if !start.isWithin(p, length: len) || !end.isWithin(p, length: len) {
            fail(rangeNode.mark, f.path("range"), "range is not inside \(p)/\(len)")
        } else if end < start {
            fail(rangeNode.mark, f.path("range"), "\(start) is after \(end)")
        } else if start.bytes.prefix(8) != end.bytes.prefix(8) {
            fail(rangeNode.mark, f.path("range"), "a range must stay within one /64")
        }
        if pool.preferredTime > pool.leaseTime, let n = f["preferred-time"] {
            fail(n.mark, f.path("preferred-time"), "preferred-time \(pool.preferredTime) is longer than lease-time \(pool.leaseTime)")
        }
        _ = prefixNode
        return pool
    }

    /// `dhcp: {proxy: true}`: no pool. Pool keys are refused with the reason, not ignored: an
    /// admin who writes a range beside `proxy: true` expects addresses that will never be given.
    private mutating func decodeProxy(_ node: YAMLNode, path: String) -> ProxyDHCPConfig? {
        guard case .mapping(let pairs) = node.content else { return nil }
        for pair in pairs {
            guard let key = pair.key.scalarValue, !ConfigKeys.proxy.contains(key) else { continue }
            let at = "\(path).\(key)"
            if key == "pxe-only" {
                fail(pair.key.mark, at, "pxe-only does not apply with proxy: true (a proxy answers only PXE and HTTP boot clients, and hands out no addresses)")
            } else if ConfigKeys.pool.contains(key) {
                fail(pair.key.mark, at, "'\(key)' does not apply with proxy: true (the site's DHCP server hands out addresses; pxed adds only boot information)")
            } else {
                fail(pair.key.mark, path, Self.unknownKeyMessage(key, allowed: ConfigKeys.proxy, elsewhere: [:]))
            }
        }
        let f = Fields(node: node, path: path, allowed: ConfigKeys.proxy)
        var proxy = ProxyDHCPConfig()
        proxy.port = port(f, "port") ?? proxy.port
        return proxy
    }

    /// A DHCP pool: the interface's own (`parent` nil) or one of its relay subnets.
    private mutating func decodePool(_ node: YAMLNode, path: String, owner: PoolSource.Owner,
                                     parent: (pxeOnly: Bool, port: UInt16)?) -> DHCPPoolConfig? {
        let isRelay = parent != nil
        guard let f = fields(node, path: path, allowed: isRelay ? ConfigKeys.relayPool : ConfigKeys.pool,
                             elsewhere: isRelay ? ConfigKeys.relayElsewhere : [:]) else { return nil }

        let subnetNode = require(f, "subnet")
        let subnet = subnetNode.flatMap { network($0, f.path("subnet")) }
        let range = require(f, "range").flatMap { addressRange($0, f.path("range")) }
        let routerNode = f["router"]
        let router = routerNode.flatMap { ipv4($0, f.path("router")) }
        let dns = f["dns"].map { ipv4List($0, f.path("dns")) } ?? []
        var domain: String? = nil
        if let n = f["domain"], let s = string(n, f.path("domain")) {
            if let problem = Rules.domainProblem(s) { fail(n.mark, f.path("domain"), problem) } else { domain = s }
        }
        let leaseTime = integer(f, "lease-time", in: 60...31_536_000)
        let pxeOnly = parent?.pxeOnly ?? bool(f, "pxe-only") ?? false
        _ = bool(f, "proxy")   // `proxy: false` is a pool; a bad value is reported
        let listenPort = parent?.port ?? port(f, "port") ?? 67

        var pool: DHCPPoolConfig? = nil
        if let subnet, let subnetNode, let range {
            var p = DHCPPoolConfig(subnet: subnet, rangeStart: range.start, rangeEnd: range.end)
            p.router = router
            p.dns = dns
            p.domain = domain
            p.leaseTime = leaseTime ?? p.leaseTime
            p.pxeOnly = pxeOnly
            p.port = listenPort
            pool = p
            pools.append(PoolSource(pool: p, path: path, owner: isRelay ? nil : owner, subnetMark: subnetNode.mark,
                                    range: range, routerMark: routerNode?.mark))
        }
        if !isRelay, let n = f["relay-subnets"], let items = list(n, f.path("relay-subnets")) {
            var relays: [DHCPPoolConfig] = []
            for (i, item) in items.enumerated() {
                if let r = decodePool(item, path: "\(f.path("relay-subnets"))[\(i)]", owner: owner,
                                      parent: (pxeOnly, listenPort)) {
                    relays.append(r)
                }
            }
            pool?.relayPools = relays
        }
        return pool
    }

    private mutating func decodeBoot(_ node: YAMLNode) {
        guard let f = fields(node, path: "boot", allowed: ConfigKeys.boot) else { return }
        if let n = f["next-server"] { config.boot.nextServer = ipv4(n, f.path("next-server")) }
        config.boot.bios = bootFile(f, "bios")
        config.boot.uefiX64 = bootFile(f, "uefi-x64")
        config.boot.uefiIA32 = bootFile(f, "uefi-ia32")
        config.boot.uefiArm64 = bootFile(f, "uefi-arm64")
        config.boot.uefiX64HTTP = bootFile(f, "uefi-x64-http")
        config.boot.uefiIA32HTTP = bootFile(f, "uefi-ia32-http")
        config.boot.uefiArm64HTTP = bootFile(f, "uefi-arm64-http")
        config.boot.ipxe = bootFile(f, "ipxe")
        config.boot.default = bootFile(f, "default")
    }

    private mutating func decodeHosts(_ node: YAMLNode) {
        guard let items = list(node, "hosts") else { return }
        config.hosts.reserveCapacity(items.count)
        hosts.reserveCapacity(items.count)
        for (i, item) in items.enumerated() {
            let path = "hosts[\(i)]"
            if item.isNull {
                fail(item.mark, path, "expected a mapping with at least 'mac', found an empty value")
                continue
            }
            guard let f = fields(item, path: path, allowed: ConfigKeys.host) else { continue }
            let macNode = require(f, "mac")
            let mac = macNode.flatMap { macAddress($0, f.path("mac")) }
            let ipNode = f["ip"]
            let ip = ipNode.flatMap { ipv4($0, f.path("ip")) }
            let ip6 = f["ip6"].flatMap { n in
                parsed(n, f.path("ip6"), expected: "an IPv6 address", IPv6Address.init) { "'\($0)' is not an IPv6 address" }
            }
            let duid = f["duid"].flatMap { n in
                parsed(n, f.path("duid"), expected: "a DUID in hex", { s -> [UInt8]? in
                    let hex = Array(s.lowercased().utf8.filter { $0 != UInt8(ascii: ":") && $0 != UInt8(ascii: "-") })
                    guard hex.count >= 4, hex.count <= 260, hex.count % 2 == 0 else { return nil }
                    var out: [UInt8] = []
                    var i = 0
                    while i < hex.count {
                        guard let hi = Self.hexValue(hex[i]), let lo = Self.hexValue(hex[i + 1]) else { return nil }
                        out.append(hi << 4 | lo)
                        i += 2
                    }
                    return out
                }) { "'\($0)' is not a DUID (hex bytes, colons allowed, 2 to 130 bytes)" }
            }
            var hostname: String? = nil
            if let n = f["hostname"], let s = string(n, f.path("hostname")) {
                if let problem = Rules.hostnameProblem(s) { fail(n.mark, f.path("hostname"), problem) } else { hostname = s }
            }
            let boot = bootFile(f, "boot")
            let allowInRange = bool(f, "allow-in-range") ?? false

            guard let mac, let macNode else { continue }
            var host = HostEntry(mac: mac)
            host.ip = ip
            host.ip6 = ip6
            host.duid = duid
            host.hostname = hostname
            host.boot = boot
            host.allowInRange = allowInRange
            config.hosts.append(host)
            hosts.append(HostSource(host: host, path: path, mark: item.mark, macMark: macNode.mark, ipMark: ipNode?.mark))
        }
    }

    // MARK: - Structure helpers

    /// The recognised keys of one mapping. Null values (`key:` with nothing after it) read as absent.
    struct Fields {
        let node: YAMLNode
        let path: String
        /// The mapping's pairs, searched linearly: schema mappings hold a handful of keys (the YAML
        /// layer has already dropped duplicates), and a file with 10,000 host entries would
        /// otherwise build 10,000 lookup tables.
        private let pairs: [YAMLNode.Pair]
        /// Unknown keys were reported when the fields were read; they never read as present.
        private let allowed: [String]

        init(node: YAMLNode, path: String, allowed: [String]) {
            self.node = node
            self.path = path
            self.allowed = allowed
            if case .mapping(let pairs) = node.content { self.pairs = pairs } else { self.pairs = [] }
        }

        /// The pair for `key`, null value or not.
        func pair(_ key: String) -> YAMLNode.Pair? {
            for p in pairs where p.key.scalarValue == key { return allowed.contains(key) ? p : nil }
            return nil
        }

        subscript(key: String) -> YAMLNode? {
            guard let v = pair(key)?.value, !v.isNull else { return nil }
            return v
        }

        func path(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
    }

    /// Reads a mapping, reporting unknown keys at the key. A null node is an empty section.
    mutating func fields(_ node: YAMLNode, path: String, allowed: [String],
                         elsewhere: [String: String] = [:]) -> Fields? {
        if node.isNull { return Fields(node: node, path: path, allowed: allowed) }
        guard case .mapping(let pairs) = node.content else {
            fail(node.mark, path, "expected a mapping, found \(node.kindDescription)")
            return nil
        }
        for pair in pairs {
            guard let key = pair.key.scalarValue else {
                fail(pair.key.mark, path, "a key must be a plain value, found \(pair.key.kindDescription)")
                continue
            }
            if !allowed.contains(key) {
                fail(pair.key.mark, path, Self.unknownKeyMessage(key, allowed: allowed, elsewhere: elsewhere))
            }
        }
        return Fields(node: node, path: path, allowed: allowed)
    }

    mutating func require(_ f: Fields, _ key: String) -> YAMLNode? {
        if let v = f[key] { return v }
        if let pair = f.pair(key) {
            fail(pair.key.mark, f.path(key), "a value is required")
        } else {
            fail(f.node.mark, f.path, "missing required key '\(key)'")
        }
        return nil
    }

    /// A list; a null node is an empty one.
    mutating func list(_ node: YAMLNode, _ path: String) -> [YAMLNode]? {
        if node.isNull { return [] }
        guard case .sequence(let items) = node.content else {
            fail(node.mark, path, "expected a list, found \(node.kindDescription)")
            return nil
        }
        return items
    }

    static func unknownKeyMessage(_ key: String, allowed: [String], elsewhere: [String: String]) -> String {
        if let hint = elsewhere[key] { return "unknown key '\(key)' here (\(hint))" }
        if let guess = Self.closest(to: key, in: allowed) { return "unknown key '\(key)' (did you mean '\(guess)'?)" }
        return "unknown key '\(key)' (expected one of: \(allowed.joined(separator: ", ")))"
    }

    /// The allowed key a typo most likely meant: small edit distance, or a prefix ("blksize").
    static func closest(to key: String, in candidates: [String]) -> String? {
        let k = Array(key.lowercased())
        var best: (name: String, distance: Int)? = nil
        for c in candidates {
            let d = editDistance(k, Array(c))
            let close = d <= max(1, min(3, c.count / 3)) || (k.count >= 3 && (c.hasPrefix(key.lowercased()) || key.lowercased().hasPrefix(c)))
            if close, d < (best?.distance ?? Int.max) { best = (c, d) }
        }
        return best?.name
    }

    static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = Swift.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            }
            previous = current
        }
        return previous[b.count]
    }

    func resolve(_ path: String) -> String { PXEConfig.resolve(path, against: baseDirectory) }
}
