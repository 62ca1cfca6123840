/// Renders leases as a fixed-width text table for `pxed leases`.
public enum LeaseTable {
    public static let columns = ["MAC", "IP", "HOSTNAME", "EXPIRES", "STATE"]

    /// One row per lease, sorted by address. `now` is Unix seconds and decides "expired".
    public static func format(_ leases: [Lease], now: Double) -> String {
        let rows = leases.sorted { $0.ip < $1.ip }.map { l in
            [l.mac?.description ?? "-", l.ip.description, l.hostname ?? "-",
             expiryText(l.expiry, now: now), stateText(l.state, expiry: l.expiry, now: now)]
        }
        return render(columns, rows)
    }

    public static let columns6 = ["DUID", "IAID", "IPV6", "EXPIRES", "STATE"]

    /// The DHCPv6 leases, one row per address, sorted by address.
    public static func format(_ leases: [Lease6], now: Double) -> String {
        let rows = leases.sorted { $0.address < $1.address }.map { l in
            [ClientKey.hex(l.duid), String(l.iaid), l.address.description,
             expiryText(l.expiry, now: now), stateText(l.state, expiry: l.expiry, now: now)]
        }
        return render(columns6, rows)
    }

    /// A fixed-width text table: two spaces between columns, the last column unpadded.
    public static func render(_ columns: [String], _ rows: [[String]]) -> String {
        var widths = columns.map(\.count)
        for r in rows { for (i, cell) in r.enumerated() { widths[i] = max(widths[i], cell.count) } }
        func row(_ cells: [String]) -> String {
            var line = ""
            for (i, cell) in cells.enumerated() {
                line += i == cells.count - 1 ? cell : cell + String(repeating: " ", count: widths[i] - cell.count + 2)
            }
            return line + "\n"
        }
        return row(columns) + rows.map(row).joined()
    }

    public static func stateText(_ l: Lease, now: Double) -> String { stateText(l.state, expiry: l.expiry, now: now) }

    public static func stateText(_ state: LeaseState, expiry: Int64, now: Double) -> String {
        switch state {
        case .active: Double(expiry) > now ? "active" : "expired"
        case .released: "released"
        case .declined: Double(expiry) > now ? "declined" : "declined (expired)"
        }
    }

    /// `2026-07-01 12:00:00Z (in 59m 10s)` or `… (3m 2s ago)`.
    public static func expiryText(_ expiry: Int64, now: Double) -> String {
        let delta = expiry - Int64(now.rounded(.down))
        let rel = delta >= 0 ? "in " + duration(delta) : duration(-delta) + " ago"
        return utcTimestamp(expiry) + " (" + rel + ")"
    }

    static func duration(_ seconds: Int64) -> String {
        let d = seconds / 86_400, h = seconds / 3600 % 24, m = seconds / 60 % 60, s = seconds % 60
        if d > 0 { return "\(d)d \(h)h" }
        if h > 0 { return "\(h)h \(m)m" }
        if m > 0 { return "\(m)m \(s)s" }
        return "\(s)s"
    }

    /// Unix seconds as `YYYY-MM-DD hh:mm:ssZ` (proleptic Gregorian, UTC), without Foundation.
    public static func utcTimestamp(_ t: Int64) -> String {
        let days = t >= 0 ? t / 86_400 : (t - 86_399) / 86_400
        let secs = t - days * 86_400
        // Days to civil date (Howard Hinnant's algorithm).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(year)-\(two(month))-\(two(day)) \(two(secs / 3600)):\(two(secs / 60 % 60)):\(two(secs % 60))Z"
    }
}
