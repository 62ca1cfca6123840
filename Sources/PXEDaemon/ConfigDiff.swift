import PXEConfig

/// One line that says what a reload changed, for the log.
public enum ConfigDiff {
    public static func describe(from old: PXEConfiguration, to new: PXEConfiguration) -> String {
        var parts: [String] = []
        let oldNames = Set(old.interfaces.map(\.name)), newNames = Set(new.interfaces.map(\.name))
        let added = newNames.subtracting(oldNames).sorted(), removed = oldNames.subtracting(newNames).sorted()
        if !added.isEmpty { parts.append("interfaces added: \(added.joined(separator: ", "))") }
        if !removed.isEmpty { parts.append("interfaces removed: \(removed.joined(separator: ", "))") }
        for n in new.interfaces where oldNames.contains(n.name) {
            guard let o = old.interfaces.first(where: { $0.name == n.name }), o != n else { continue }
            var what: [String] = []
            if o.tftp != n.tftp {
                if o.tftp?.root != n.tftp?.root { what.append("tftp root \(o.tftp?.root ?? "off") -> \(n.tftp?.root ?? "off")") } else { what.append("tftp settings") }
            }
            if o.http != n.http { what.append(n.http == nil ? "http off" : o.http == nil ? "http on" : "http settings") }
            if o.dhcp != n.dhcp { what.append("dhcp pool") }
            if o.dhcp6 != n.dhcp6 { what.append(n.dhcp6 == nil ? "dhcp6 off" : o.dhcp6 == nil ? "dhcp6 on" : "dhcp6 pool") }
            if o.address6 != n.address6 { what.append("address6") }
            if o.dhcpProxy != n.dhcpProxy { what.append(n.dhcpProxy != nil ? "proxy dhcp on" : "proxy dhcp off") }
            if o.bootp != n.bootp { what.append("bootp \(n.bootp ? "on" : "off")") }
            if o.address != n.address { what.append("address") }
            parts.append("\(n.name): \(what.joined(separator: ", "))")
        }
        if old.hosts != new.hosts {
            let oldMACs = Set(old.hosts.map(\.mac)), newMACs = Set(new.hosts.map(\.mac))
            // By MAC through a dictionary: a reload with 10,000 hosts must stay linear.
            let oldByMAC = Dictionary(old.hosts.map { ($0.mac, $0) }, uniquingKeysWith: { a, _ in a })
            let changed = new.hosts.filter { h in oldByMAC[h.mac].map { $0 != h } ?? false }.count
            parts.append("hosts \(old.hosts.count) -> \(new.hosts.count) (+\(newMACs.subtracting(oldMACs).count) -\(oldMACs.subtracting(newMACs).count) ~\(changed))")
        }
        if old.boot != new.boot { parts.append("boot table") }
        if old.logLevel != new.logLevel { parts.append("log-level \(new.logLevel.rawValue) (takes effect on restart)") }
        if old.leaseFile != new.leaseFile { parts.append("lease-file \(new.leaseFile)") }
        if old.leaseStore != new.leaseStore {
            parts.append("lease-store " + (new.leaseStore.postgres?.displayURL ?? new.leaseStore.backend.rawValue))
        }
        if old.metrics != new.metrics { parts.append(new.metrics.map { "metrics on \($0.listenText)" } ?? "metrics off") }
        if old.controlSocket != new.controlSocket { parts.append("control-socket \(new.controlSocket) (takes effect on restart)") }
        return parts.isEmpty ? "no changes" : parts.joined(separator: "; ")
    }
}
