// One-line description of a configuration, for `pxed check` and the start-up/reload log line.

extension PXEConfiguration {
    /// e.g. `pxed.yaml: 2 interfaces (eth1: tftp dhcp bootp, eth2: tftp), 3 hosts, boot table 5 entries`.
    /// Boot table entries are the file names (next-server is not counted).
    /// A PostgreSQL lease store is named at the end (the journal, the default, is not).
    public func summary() -> String {
        func count(_ n: Int, _ one: String, _ many: String? = nil) -> String { "\(n) \(n == 1 ? one : many ?? one + "s")" }

        var text = "\(source): \(count(interfaces.count, "interface"))"
        if !interfaces.isEmpty {
            let parts = interfaces.map { iface -> String in
                var services: [String] = []
                if iface.tftp != nil { services.append("tftp") }
                if iface.http != nil { services.append("http") }
                if iface.dhcp != nil { services.append("dhcp") }
                if iface.dhcpProxy != nil { services.append("proxy-dhcp") }
                if iface.dhcp6 != nil { services.append("dhcp6") }
                if iface.bootp { services.append("bootp") }
                return "\(iface.name): \(services.isEmpty ? "off" : services.joined(separator: " "))"
            }
            text += " (\(parts.joined(separator: ", ")))"
        }
        let entries = [boot.bios, boot.uefiX64, boot.uefiIA32, boot.uefiArm64, boot.uefiX64HTTP, boot.uefiIA32HTTP,
                       boot.uefiArm64HTTP, boot.ipxe, boot.default]
            .compactMap { $0 }.count
        text += ", \(count(hosts.count, "host")), boot table \(count(entries, "entry", "entries"))"
        if leaseStore.backend == .postgresql, let pg = leaseStore.postgres { text += ", leases in \(pg.displayURL)" }
        return text
    }
}
