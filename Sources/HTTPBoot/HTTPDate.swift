/// HTTP dates (RFC 9110 5.6.7): `Sun, 06 Nov 1994 08:49:37 GMT` (IMF-fixdate), without Foundation.
/// Parsing accepts IMF-fixdate only; the two obsolete forms make a conditional header ignored,
/// which only costs a full response.
enum HTTPDate {
    static let days = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]   // 1970-01-01 was a Thursday
    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    static func format(_ t: Int64) -> String {
        let day = t >= 0 ? t / 86_400 : (t - 86_399) / 86_400
        let secs = t - day * 86_400
        let (y, m, d) = civil(fromDays: day)
        let weekday = days[Int(((day % 7) + 7) % 7)]
        func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(weekday), \(two(d)) \(months[Int(m) - 1]) \(y) \(two(secs / 3600)):\(two(secs / 60 % 60)):\(two(secs % 60)) GMT"
    }

    static func parse(_ text: String) -> Int64? {
        let p = text.trimmingSpaces().split(separator: " ")
        guard p.count == 6, p[5] == "GMT", p[0].hasSuffix(","),
              let d = Int64(p[1]), p[1].count == 2, let mi = months.firstIndex(of: String(p[2])),
              let y = Int64(p[3]), p[3].count == 4 else { return nil }
        let hms = p[4].split(separator: ":")
        guard hms.count == 3, hms.allSatisfy({ $0.count == 2 }), let h = Int64(hms[0]), let m = Int64(hms[1]),
              let s = Int64(hms[2]), h < 24, m < 60, s < 61, (1...31).contains(d) else { return nil }
        return days(fromCivil: y, Int64(mi + 1), d) * 86_400 + h * 3600 + m * 60 + s
    }

    /// Howard Hinnant's days-from-civil and civil-from-days.
    static func days(fromCivil y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civil(fromDays days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}
