import DHCP
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// What `pxed status` shows: the running daemon's engines, pools, transfers, leases and last
/// reload. The control socket sends it as JSON (`pxed status --json` prints that JSON as is).
public struct DaemonStatus: Codable, Sendable, Equatable {
    public var version: String
    public var pid: Int
    /// Unix seconds.
    public var now: Double
    public var uptimeSeconds: Double
    public var configFile: String?
    public var generation: Int
    public var lastReload: ReloadStatus?
    public var metricsListen: String?
    public var engines: [EngineStatus]
    public var pools: [PoolStatus]
    public var transfers: [TransferStatus]
    public var leases: LeaseCounts

    public struct ReloadStatus: Codable, Sendable, Equatable {
        /// Unix seconds.
        public var at: Double
        /// applied, partial or rejected.
        public var result: String
        /// What changed, or why the file was refused.
        public var detail: String
    }

    public struct EngineStatus: Codable, Sendable, Equatable {
        public var kind: String
        public var interface: String
        /// "" for IPv4 (or engines not tied to a family), "ipv6".
        public var family: String
        public var counters: [String: Int]
    }

    public struct PoolStatus: Codable, Sendable, Equatable {
        public var interface: String
        /// "ipv4" or "ipv6".
        public var family: String
        public var pool: String
        public var size: Double
        public var assigned: Int
        /// Held offers (DHCPv4).
        public var offered: Int
        public var quarantined: Int
        public var free: Double
    }

    public struct TransferStatus: Codable, Sendable, Equatable {
        /// "tftp" or "http".
        public var `protocol`: String
        public var interface: String
        public var client: String
        public var file: String
        public var upload: Bool
        /// Bytes so far (nil for HTTP: the kernel sends the file).
        public var bytes: Int?
        public var size: Int?
        public var seconds: Double
        /// Average since the start, bytes per second (nil when bytes are unknown).
        public var bytesPerSecond: Double?
        public var blockSize: Int?
        public var windowSize: Int?
    }

    public struct LeaseCounts: Codable, Sendable, Equatable {
        public var active: Int
        public var total: Int
        public var active6: Int
        public var total6: Int
    }

    public func json(pretty: Bool = false) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys] : [.sortedKeys]
        return (try? Array(encoder.encode(self))) ?? Array("{}".utf8)
    }

    public static func decode(_ bytes: [UInt8]) throws -> DaemonStatus {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(DaemonStatus.self, from: Data(bytes))
    }
}

/// The text form of a status, as `pxed status` prints it (and `--watch` redraws it).
public enum StatusText {
    public static func render(_ s: DaemonStatus) -> String {
        var out = "pxed \(s.version), pid \(s.pid), up \(duration(s.uptimeSeconds)); config \(s.configFile ?? "(one-call mode)"), generation \(s.generation)\n"
        if let r = s.lastReload {
            out += "last reload: \(r.result) \(duration(max(0, s.now - r.at))) ago: \(r.detail)\n"
        } else {
            out += "last reload: none since start\n"
        }
        out += "leases: \(s.leases.active) active of \(s.leases.total) records (IPv4), \(s.leases.active6) of \(s.leases.total6) (IPv6)"
        out += s.metricsListen.map { "; metrics on http://\($0)/metrics\n" } ?? "\n"
        out += "\n" + table(["ENGINE", "INTERFACE", "COUNTERS"], s.engines.map { e in
            let nonZero = e.counters.sorted { $0.key < $1.key }.filter { $0.value != 0 }
            return [e.kind + (e.family.isEmpty ? "" : " " + e.family), e.interface,
                    nonZero.isEmpty ? "(nothing yet)" : nonZero.map { "\($0.key)=\($0.value)" }.joined(separator: " ")]
        })
        if !s.pools.isEmpty {
            out += "\n" + table(["POOL", "INTERFACE", "SIZE", "ASSIGNED", "OFFERED", "FREE", "USED"], s.pools.map { p in
                [p.pool, p.interface, count(p.size), String(p.assigned), String(p.offered), count(p.free),
                 p.size > 0 ? percent(Double(p.assigned) / p.size) : "-"]
            })
        }
        out += "\n"
        if s.transfers.isEmpty {
            out += "no transfers in flight\n"
        } else {
            out += table(["PROTO", "CLIENT", "FILE", "PROGRESS", "RATE", "TIME"], s.transfers.map { t in
                let progress: String = switch (t.bytes, t.size) {
                case (let b?, let n?) where n > 0: "\(bytes(b)) / \(bytes(n)) \(percent(Double(b) / Double(n)))"
                case (let b?, _): bytes(b)
                case (nil, let n?): "\(bytes(n)) body"
                case (nil, nil): "-"
                }
                return [t.protocol + (t.upload ? " put" : ""), t.client, t.file, progress,
                        t.bytesPerSecond.map { bytes(Int($0)) + "/s" } ?? "-", duration(t.seconds)]
            })
        }
        return out
    }

    static func table(_ columns: [String], _ rows: [[String]]) -> String { LeaseTable.render(columns, rows) }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds)
        if s >= 86_400 { return "\(s / 86_400)d \(s / 3600 % 24)h" }
        if s >= 3600 { return "\(s / 3600)h \(s / 60 % 60)m" }
        if s >= 60 { return "\(s / 60)m \(s % 60)s" }
        return seconds < 10 ? "\(Double(Int(seconds * 10)) / 10)s" : "\(s)s"
    }

    static func bytes(_ n: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var v = Double(n), u = 0
        while v >= 1024 && u < units.count - 1 { v /= 1024; u += 1 }
        return u == 0 ? "\(n) B" : "\(Double(Int(v * 10)) / 10) \(units[u])"
    }

    static func count(_ v: Double) -> String { v < 1e15 ? String(Int(v)) : "2^\(Int(log2(v).rounded()))" }

    static func percent(_ f: Double) -> String { "\(Double(Int(f * 1000)) / 10)%" }
}
