// Rules for single values (names, boot files) and the checks that relate several values
// (ranges vs subnets, reservations vs pools, duplicates, overlaps, TFTP roots on disk).

/// Where a pool came from, kept by the loader for the cross-field checks.
struct PoolSource {
    /// The interface a pool is served on; only the interface's own pool (not a relay) has one.
    struct Owner {
        var interface: String
        var address: IPv4Address?
        var addressMark: YAMLNode.Mark?
    }

    var pool: DHCPPoolConfig
    var path: String
    var owner: Owner?
    var subnetMark: YAMLNode.Mark
    var range: ConfigLoader.AddressRange
    var routerMark: YAMLNode.Mark?

    func path(_ key: String) -> String { "\(path).\(key)" }
    var rangeText: String { "\(pool.rangeStart)-\(pool.rangeEnd)" }

    func rangeContains(_ a: IPv4Address) -> Bool { pool.rangeStart <= a && a <= pool.rangeEnd }
}

struct HostSource {
    var host: HostEntry
    var path: String
    var mark: YAMLNode.Mark
    var macMark: YAMLNode.Mark
    var ipMark: YAMLNode.Mark?
}

struct RootSource {
    /// Resolved (absolute when it was relative).
    var root: String
    /// As written in the file.
    var written: String
    var mark: YAMLNode.Mark
    var path: String
    /// The built-in default, never written in the file.
    var isDefault: Bool

    var display: String {
        if isDefault { return "\(root) (the default)" }
        return written == root ? root : "\(written) (\(root))"
    }
}

/// Checks of single values; each returns the problem as a message, nil when the value is fine.
enum Rules {

    /// Linux's dev_valid_name: 1...15 bytes, not "." or "..", no '/', ':' or whitespace.
    static func interfaceNameProblem(_ name: String) -> String? {
        let ok = !name.isEmpty && name.utf8.count <= 15 && name != "." && name != ".."
            && !name.contains(where: { $0 == "/" || $0 == ":" || $0.isWhitespace || $0 == "\0" })
        return ok ? nil : "'\(name)' is not a valid interface name (1-15 characters, no '/', ':' or whitespace)"
    }

    /// A file name or URL given to clients; it must not climb out of the TFTP root.
    static func bootFileProblem(_ s: String) -> String? {
        if s.isEmpty { return "boot file name must not be empty" }
        if s.contains("\0") { return "boot file name must not contain NUL" }
        if s.split(whereSeparator: { $0 == "/" || $0 == "\\" }).contains("..") {
            return "boot file name '\(s)' must not contain '..' path components"
        }
        // DHCP option 67 holds at most 255 bytes.
        if s.utf8.count > 255 { return "boot file name is longer than 255 bytes" }
        return nil
    }

    static let labelRule = "labels of 1-63 letters, digits or '-', not starting or ending with '-'"

    /// A host name: one DNS label, or several separated by dots.
    static func hostnameProblem(_ s: String) -> String? {
        isDNSName(s) ? nil : "'\(s)' is not a valid hostname (\(labelRule))"
    }

    static func domainProblem(_ s: String) -> String? {
        isDNSName(s) ? nil : "'\(s)' is not a valid domain name (\(labelRule), separated by dots)"
    }

    static func isDNSName(_ s: String) -> Bool {
        // Bytes, not Characters: this runs once per host entry on every load and reload.
        let bytes = s.utf8
        guard !bytes.isEmpty, bytes.count <= 253 else { return false }
        var labelLength = 0
        var previous: UInt8 = UInt8(ascii: ".")
        for b in bytes {
            if b == UInt8(ascii: ".") {
                guard labelLength > 0, previous != UInt8(ascii: "-") else { return false }
                labelLength = 0
            } else {
                let ok = (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
                    || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || b == UInt8(ascii: "-")
                guard ok, !(labelLength == 0 && b == UInt8(ascii: "-")) else { return false }
                labelLength += 1
                guard labelLength <= 63 else { return false }
            }
            previous = b
        }
        return labelLength > 0 && previous != UInt8(ascii: "-")
    }
}

extension ConfigLoader {
    mutating func validate(fileKind: (String) -> FileSystem.Kind) {
        checkPools()
        checkOverlaps()
        checkHosts()
        checkRoots(fileKind)
    }

    /// Each pool on its own: range order and bounds, router and interface address.
    private mutating func checkPools() {
        for p in pools {
            let subnet = p.pool.subnet
            if p.pool.rangeStart > p.pool.rangeEnd {
                fail(p.range.mark, p.path("range"), "range start \(p.pool.rangeStart) is after range end \(p.pool.rangeEnd)")
            }
            for (address, mark) in [(p.pool.rangeStart, p.range.startMark), (p.pool.rangeEnd, p.range.endMark)] {
                if let problem = Self.placement(of: address, in: subnet) { fail(mark, p.path("range"), problem) }
            }
            if let router = p.pool.router, let mark = p.routerMark, !subnet.contains(router) {
                fail(mark, p.path("router"), "router \(router) is outside subnet \(subnet)")
            }
            if let owner = p.owner, let address = owner.address, let mark = owner.addressMark {
                let path = "interfaces.\(owner.interface).address"
                if !subnet.contains(address) {
                    fail(mark, path, "address \(address) is outside subnet \(subnet)")
                } else if p.rangeContains(address) {
                    fail(mark, path, "address \(address) is inside the dynamic range \(p.rangeText)")
                }
            }
        }
    }

    /// Why `address` cannot be handed out in `subnet`, if it cannot. /31 and /32 have no
    /// network or broadcast address (RFC 3021).
    static func placement(of address: IPv4Address, in subnet: IPv4Network) -> String? {
        if !subnet.contains(address) { return "\(address) is outside subnet \(subnet)" }
        guard subnet.prefixLength < 31 else { return nil }
        if address == subnet.network { return "\(address) is the network address of \(subnet)" }
        if address == subnet.broadcastAddress { return "\(address) is the broadcast address of \(subnet)" }
        return nil
    }

    /// A request must map to exactly one pool, so no two subnets (interfaces or relays) may overlap.
    private mutating func checkOverlaps() {
        for (j, b) in pools.enumerated() {
            for a in pools[..<j] {
                let x = a.pool.subnet, y = b.pool.subnet
                if x.contains(y.network) || y.contains(x.network) {
                    fail(b.subnetMark, b.path("subnet"),
                         "subnet \(y) overlaps subnet \(x) of \(a.path) (line \(a.subnetMark.line))")
                }
            }
        }
    }

    /// Reservations: unique MACs and IPs, each IP inside a configured subnet and not in its dynamic range.
    private mutating func checkHosts() {
        // Indexes, not copies: this runs over every reservation on every reload.
        var byMAC: [MACAddress: Int] = [:]
        var byIP: [IPv4Address: Int] = [:]
        byMAC.reserveCapacity(hosts.count)
        byIP.reserveCapacity(hosts.count)
        for i in hosts.indices {
            let mac = hosts[i].host.mac
            if let other = byMAC[mac] {
                fail(hosts[i].macMark, "\(hosts[i].path).mac", "duplicate MAC \(mac) (already used by the host at line \(hosts[other].mark.line))")
            } else {
                byMAC[mac] = i
            }
            guard let ip = hosts[i].host.ip, let ipMark = hosts[i].ipMark else { continue }
            if let other = byIP[ip] {
                fail(ipMark, "\(hosts[i].path).ip", "duplicate IP \(ip) (already used by the host at line \(hosts[other].mark.line))")
            } else {
                byIP[ip] = i
            }
            var inSomeSubnet = false
            for k in pools.indices where pools[k].pool.subnet.contains(ip) {
                inSomeSubnet = true
                if let problem = Self.placement(of: ip, in: pools[k].pool.subnet) {
                    fail(ipMark, "\(hosts[i].path).ip", problem)
                } else if let owner = pools[k].owner, owner.address == ip {
                    fail(ipMark, "\(hosts[i].path).ip", "\(ip) is the address of interface \(owner.interface)")
                } else if pools[k].rangeContains(ip) && !hosts[i].host.allowInRange {
                    fail(ipMark, "\(hosts[i].path).ip", "\(ip) is inside the dynamic range \(pools[k].rangeText) of \(pools[k].path); set allow-in-range: true to reserve it anyway")
                }
            }
            if !inSomeSubnet {
                fail(ipMark, "\(hosts[i].path).ip", "\(ip) is not inside any configured DHCP subnet")
            }
        }
    }

    private mutating func checkRoots(_ fileKind: (String) -> FileSystem.Kind) {
        for r in roots {
            let kind = r.path == "http.root" || r.path.hasSuffix(".http.root") ? "HTTP" : "TFTP"
            switch fileKind(r.root) {
            case .directory: break
            case .missing: fail(r.mark, r.path, "\(kind) root \(r.display) does not exist")
            case .notDirectory: fail(r.mark, r.path, "\(kind) root \(r.display) is not a directory")
            case .inaccessible(let why): fail(r.mark, r.path, "cannot access \(kind) root \(r.display): \(why)")
            }
        }
    }
}
