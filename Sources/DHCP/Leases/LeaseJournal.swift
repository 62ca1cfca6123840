import PXEConfig

/// A problem found while reading the lease journal. The record is skipped; the caller logs it.
public struct LeaseJournalWarning: Sendable, Equatable, CustomStringConvertible {
    public enum Reason: Error, Sendable, Equatable {
        /// The last line has no newline: a write torn by a crash or power loss.
        case tornTail
        /// The line's CRC-32 does not match its contents.
        case checksumMismatch
        /// The line does not have the expected shape.
        case malformed(String)
    }

    /// 1-based line number.
    public var line: Int
    public var reason: Reason

    public init(line: Int, reason: Reason) {
        self.line = line
        self.reason = reason
    }

    public var description: String {
        switch reason {
        case .tornTail: "lease file line \(line): incomplete last record (torn write), skipped"
        case .checksumMismatch: "lease file line \(line): checksum mismatch, record skipped"
        case .malformed(let why): "lease file line \(line): \(why), record skipped"
        }
    }
}

/// The text form of lease records: one record per line, DHCPv4 and DHCPv6 in one file,
///
///     1 <ip> <state> <expiry> <mac|-> <client-key> <hostname|-> *<crc32>
///     6 <ipv6> <state> <expiry> <duid-hex> <iaid> *<crc32>
///
/// where text fields are percent-encoded (so they never contain spaces), `expiry` is Unix seconds,
/// and the CRC-32 (IEEE, lower-case hex) covers everything before ` *`. Lines starting with `#`
/// are comments. The first field says the record's kind (and version).
public enum LeaseJournal {
    public static let header = "# pxed lease journal, one record per line; the last record for an address wins\n"

    /// What a journal holds, in file order.
    public struct Contents: Sendable, Equatable {
        public var records: [Lease] = []
        public var records6: [Lease6] = []
        public var warnings: [LeaseJournalWarning] = []
    }

    public static func line(for lease: Lease) -> String {
        sealed([
            "1", lease.ip.description, lease.state.rawValue, String(lease.expiry),
            lease.mac?.description ?? "-", escape(lease.clientKey.rawValue),
            lease.hostname.map { $0.isEmpty ? "-" : escape($0) } ?? "-",
        ].joined(separator: " "))
    }

    public static func line(for lease: Lease6) -> String {
        sealed(["6", lease.address.description, lease.state.rawValue, String(lease.expiry),
                hex(lease.duid), String(lease.iaid)].joined(separator: " "))
    }

    static func sealed(_ body: String) -> String {
        body + " *" + crcHex(CRC32.checksum(Array(body.utf8))) + "\n"
    }

    /// The DHCPv4 records of a journal (see `parseAll`).
    public static func parse(_ bytes: [UInt8]) -> (records: [Lease], warnings: [LeaseJournalWarning]) {
        let c = parseAll(bytes)
        return (c.records, c.warnings)
    }

    /// Parses a whole journal. Comment and blank lines are skipped silently, bad records with a warning.
    public static func parseAll(_ bytes: [UInt8]) -> Contents {
        var contents = Contents()
        var lineNumber = 0
        var start = 0
        while start < bytes.count {
            lineNumber += 1
            let newline = bytes[start...].firstIndex(of: UInt8(ascii: "\n"))
            let end = newline ?? bytes.count
            let line = bytes[start..<end]
            start = end + 1
            if line.isEmpty || line.first == UInt8(ascii: "#") { continue }
            guard newline != nil else {
                contents.warnings.append(LeaseJournalWarning(line: lineNumber, reason: .tornTail))
                break
            }
            switch parseLine(line) {
            case .success(.v4(let lease)): contents.records.append(lease)
            case .success(.v6(let lease)): contents.records6.append(lease)
            case .failure(let reason): contents.warnings.append(LeaseJournalWarning(line: lineNumber, reason: reason))
            }
        }
        return contents
    }

    enum Record { case v4(Lease), v6(Lease6) }

    static func parseLine(_ line: ArraySlice<UInt8>) -> Result<Record, LeaseJournalWarning.Reason> {
        let marker: [UInt8] = [UInt8(ascii: " "), UInt8(ascii: "*")]
        guard line.count > 11 else { return .failure(.malformed("line too short")) }
        let crcStart = line.endIndex - 8
        guard line[(crcStart - 2)..<crcStart].elementsEqual(marker) else {
            return .failure(.malformed("no checksum"))
        }
        guard let stored = UInt32(String(decoding: line[crcStart...], as: UTF8.self), radix: 16) else {
            return .failure(.malformed("bad checksum field"))
        }
        let body = line[line.startIndex..<(crcStart - 2)]
        guard CRC32.checksum(body) == stored else { return .failure(.checksumMismatch) }

        let fields = body.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
            .map { String(decoding: $0, as: UTF8.self) }
        switch fields.first {
        case "1": return parseV4(fields).map(Record.v4)
        case "6": return parseV6(fields).map(Record.v6)
        default: return .failure(.malformed("unknown record version \(fields[0])"))
        }
    }

    static func parseV6(_ fields: [String]) -> Result<Lease6, LeaseJournalWarning.Reason> {
        guard fields.count == 6 else { return .failure(.malformed("expected 6 fields, found \(fields.count)")) }
        guard let address = IPv6Address(fields[1]) else { return .failure(.malformed("bad IPv6 address")) }
        guard let state = LeaseState(rawValue: fields[2]) else { return .failure(.malformed("bad state")) }
        guard let expiry = Int64(fields[3]) else { return .failure(.malformed("bad expiry")) }
        guard let duid = unhex(fields[4]), !duid.isEmpty else { return .failure(.malformed("bad DUID")) }
        guard let iaid = UInt32(fields[5]) else { return .failure(.malformed("bad IAID")) }
        return .success(Lease6(duid: duid, iaid: iaid, address: address, expiry: expiry, state: state))
    }

    static func parseV4(_ fields: [String]) -> Result<Lease, LeaseJournalWarning.Reason> {
        guard fields.count == 7 else { return .failure(.malformed("expected 7 fields, found \(fields.count)")) }
        guard let ip = IPv4Address(fields[1]) else { return .failure(.malformed("bad address")) }
        guard let state = LeaseState(rawValue: fields[2]) else { return .failure(.malformed("bad state")) }
        guard let expiry = Int64(fields[3]) else { return .failure(.malformed("bad expiry")) }
        guard let mac = Self.dashOrValue(fields[4], { MACAddress($0) }) else { return .failure(.malformed("bad MAC address")) }
        guard let key = unescape(fields[5]), !key.isEmpty else { return .failure(.malformed("bad client key")) }
        guard let hostname = Self.dashOrValue(fields[6], unescape) else { return .failure(.malformed("bad hostname")) }
        return .success(Lease(clientKey: ClientKey(rawValue: key), mac: mac, ip: ip, hostname: hostname,
                              expiry: expiry, state: state))
    }

    /// A field where "-" stands for nothing: `.some(nil)` for "-", `.some(value)` when it
    /// parses, nil when it does not (a malformed record).
    static func dashOrValue<T>(_ field: String, _ parse: (String) -> T?) -> T?? {
        if field == "-" { return .some(nil) }
        return parse(field).map { .some($0) }
    }

    static func hex(_ bytes: [UInt8]) -> String { ClientKey.hex(bytes) }

    static func unhex(_ s: String) -> [UInt8]? {
        let u = Array(s.utf8)
        guard u.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(u.count / 2)
        var i = 0
        while i < u.count {
            guard let hi = nibble(u[i]), let lo = nibble(u[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }

    static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    static func crcHex(_ v: UInt32) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 8 - s.count) + s
    }

    /// Percent-encodes everything except letters, digits and `.`, `_`, `:`, `-`.
    static func escape(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"),
                 UInt8(ascii: ":"), UInt8(ascii: "-"):
                out.unicodeScalars.append(Unicode.Scalar(b))
            default:
                out += "%" + (b < 16 ? "0" : "") + String(b, radix: 16, uppercase: true)
            }
        }
        // A lone "-" means "none" in the file.
        return out == "-" ? "%2D" : out
    }

    static func unescape(_ s: String) -> String? {
        var out: [UInt8] = []
        var bytes = s.utf8.makeIterator()
        while let b = bytes.next() {
            if b == UInt8(ascii: "%") {
                guard let h = bytes.next(), let l = bytes.next(),
                      let v = UInt8(String(decoding: [h, l], as: UTF8.self), radix: 16) else { return nil }
                out.append(v)
            } else {
                out.append(b)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// CRC-32 (IEEE 802.3, reflected, as zlib computes it).
enum CRC32 {
    static let table: [UInt32] = (0..<256).map { i in
        var c = UInt32(i)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func checksum<C: Collection<UInt8>>(_ bytes: C) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes { crc = table[Int((crc ^ UInt32(b)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }
}
