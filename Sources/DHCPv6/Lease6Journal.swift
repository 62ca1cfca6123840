#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import NIOConcurrencyHelpers
import PXEConfig

/// DHCPv6 leases on disk: one line per record, appended and fdatasync'ed before the REPLY that
/// grants it leaves (the same rule as the DHCPv4 store). The latest line per address wins on
/// load; a torn last line (a crash mid-write) is skipped. Lines:
/// `v6 ADDRESS DUID-HEX IAID EXPIRY STATE`.
public final class Lease6Journal: @unchecked Sendable {
    public let path: String
    private var fd: Int32
    private let lock = NIOLock()

    public enum Failure: Error, CustomStringConvertible {
        case open(String, String)
        case write(String)
        public var description: String {
            switch self {
            case .open(let p, let e): "cannot open \(p): \(e)"
            case .write(let e): "write failed: \(e)"
            }
        }
    }

    /// Opens (creating) the journal and returns the records it holds.
    public static func open(path: String) throws -> (Lease6Journal, [Lease6]) {
        let records = load(path)
        let fd = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Failure.open(path, String(cString: strerror(errno))) }
        return (Lease6Journal(path: path, fd: fd), records)
    }

    private init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Appends the records and makes them durable.
    public func append(_ records: [Lease6]) throws {
        guard !records.isEmpty else { return }
        let text = records.map(Self.line).joined()
        try lock.withLock {
            var bytes = Array(text.utf8)
            var written = 0
            while written < bytes.count {
                let n = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw Failure.write(String(cString: strerror(errno)))
                }
                written += n
            }
            guard fdatasync(fd) == 0 else { throw Failure.write("fdatasync: \(String(cString: strerror(errno)))") }
            bytes.removeAll()
        }
    }

    static func line(_ l: Lease6) -> String {
        "v6 \(l.address) \(hex(l.duid)) \(l.iaid) \(l.expiry) \(l.state.rawValue)\n"
    }

    static func load(_ path: String) -> [Lease6] {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            data += buffer[0..<n]
        }
        var latest: [IPv6Address: Lease6] = [:]
        var order: [IPv6Address] = []
        for lineBytes in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
            let f = String(decoding: lineBytes, as: UTF8.self).split(separator: " ")
            guard f.count == 6, f[0] == "v6", let a = IPv6Address(f[1]), let duid = unhex(f[2]), let iaid = UInt32(f[3]),
                  let expiry = Int64(f[4]), let state = Lease6.State(rawValue: String(f[5])) else { continue }
            if latest[a] == nil { order.append(a) }
            latest[a] = Lease6(duid: duid, iaid: iaid, address: a, expiry: expiry, state: state)
        }
        return order.compactMap { latest[$0] }
    }

    static func hex(_ b: [UInt8]) -> String {
        let d = Array("0123456789abcdef".utf8)
        return String(decoding: b.flatMap { [d[Int($0 >> 4)], d[Int($0 & 15)]] }, as: UTF8.self)
    }

    static func unhex(_ s: Substring) -> [UInt8]? {
        let u = Array(s.utf8)
        guard u.count % 2 == 0, !u.isEmpty else { return nil }
        var out: [UInt8] = []
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
        case 48...57: c - 48
        case 97...102: c - 87
        case 65...70: c - 55
        default: nil
        }
    }
}
