#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import CoreMetrics
import NIOConcurrencyHelpers
import NIOCore
import PXEConfig

public struct LeaseStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    public var operation: String
    public var path: String
    public var errno: Int32

    public init(operation: String, path: String, errno: Int32) {
        self.operation = operation
        self.path = path
        self.errno = errno
    }

    public var description: String {
        "\(operation) \(path): \(String(cString: strerror(errno))) (errno \(errno))"
    }
}

/// The durable lease database of DHCPv4 and DHCPv6: an append-only journal of `LeaseJournal` lines.
///
/// - `append(_:)` writes a whole batch with one `write` and one `fdatasync` (group commit); it
///   returns only once the records are on disk, so the caller may then send the ACKs.
/// - When the journal holds many more lines than live records it is compacted: the current state
///   is written to `<path>.tmp`, fsynced, renamed over the journal, and the directory fsynced.
/// - `open` replays the journal; a torn or corrupt record is skipped and reported as a warning,
///   and the file is compacted at once so new records never follow a torn line.
///
/// Thread-safe: all state is behind one lock, and appends from several listeners serialise.
public final class LeaseStore: Sendable {
    public let path: String
    /// Compact once the journal holds more than this many records (and twice the live count).
    public let compactionThreshold: Int

    private struct State {
        var fd: CInt
        /// The latest record per address.
        var current: [IPv4Address: Lease]
        var current6: [IPv6Address: Lease6]
        /// Record lines in the journal file.
        var journalRecords: Int
    }

    private let state: NIOLockedValueBox<State>
    private let recorderBox: NIOLockedValueBox<Recorder>
    private var recorder: Recorder { recorderBox.withLockedValue { $0 } }

    /// Records to another factory from now on (metrics turned on or off by a reload).
    public func useMetrics(_ factory: any MetricsFactory) { recorderBox.withLockedValue { $0 = Recorder(factory) } }

    /// The store's metrics (`DHCPMetrics`): commits, records, write+fdatasync time, errors, compactions.
    struct Recorder: Sendable {
        let commits: Counter
        let records: Counter
        let errors: Counter
        let fsync: Timer
        let compactions: Counter
        init(_ factory: any MetricsFactory) {
            commits = DHCPMetrics.commits.counter(factory: factory)
            records = DHCPMetrics.recordsCommitted.counter(factory: factory)
            errors = DHCPMetrics.commitErrors.counter(factory: factory)
            fsync = DHCPMetrics.fsyncDuration.timer(factory: factory)
            compactions = DHCPMetrics.compactions.counter(factory: factory)
        }
    }

    private init(path: String, compactionThreshold: Int, state: State, metrics: any MetricsFactory) {
        self.path = path
        self.compactionThreshold = compactionThreshold
        self.state = NIOLockedValueBox(state)
        self.recorderBox = NIOLockedValueBox(Recorder(metrics))
    }

    deinit {
        state.withLockedValue { s in
            if s.fd >= 0 { _ = Glibc_close(s.fd) }
            s.fd = -1
        }
    }

    /// Opens (creating the file and its directory if needed) and replays the journal.
    public static func open(path: String, compactionThreshold: Int = 10_000, metrics: any MetricsFactory = NOOPMetricsHandler.instance)
        throws(LeaseStoreError) -> (store: LeaseStore, warnings: [LeaseJournalWarning])
    {
        try FileIO.makeDirectories(FileIO.directory(of: path))
        let contents = try readJournal(path: path)
        var current: [IPv4Address: Lease] = [:]
        for r in contents.records { current[r.ip] = r }
        var current6: [IPv6Address: Lease6] = [:]
        for r in contents.records6 { current6[r.address] = r }
        // Development builds kept DHCPv6 leases beside the file, in `<path>.v6`: fold them in
        // (the journal's own records are newer) and drop that file once they are durable here.
        let legacy = try LegacyLease6File.read(path + LegacyLease6File.suffix)
        for r in legacy ?? [] where current6[r.address] == nil { current6[r.address] = r }
        let fd = try FileIO.openForAppend(path)
        let records = contents.records.count + contents.records6.count
        let store = LeaseStore(path: path, compactionThreshold: max(1, compactionThreshold),
                               state: State(fd: fd, current: current, current6: current6, journalRecords: records),
                               metrics: metrics)
        if !contents.warnings.isEmpty || legacy != nil || records > store.compactionLimit(live: current.count + current6.count) {
            try store.compact()
        }
        if legacy != nil { _ = unlink(path + LegacyLease6File.suffix) }
        return (store, contents.warnings)
    }

    /// Reads a lease file without opening it for writing (for `pxed leases`). A missing file is an
    /// empty database. Returns the latest record per address, sorted by address.
    public static func readLeases(path: String) throws(LeaseStoreError) -> (leases: [Lease], warnings: [LeaseJournalWarning]) {
        let all = try readAll(path: path)
        return (all.leases, all.warnings)
    }

    /// Both kinds of lease in a lease file, the latest record per address, sorted by address.
    public static func readAll(path: String) throws(LeaseStoreError)
        -> (leases: [Lease], leases6: [Lease6], warnings: [LeaseJournalWarning])
    {
        let contents = try readJournal(path: path)
        var current: [IPv4Address: Lease] = [:]
        for r in contents.records { current[r.ip] = r }
        var current6: [IPv6Address: Lease6] = [:]
        for r in contents.records6 { current6[r.address] = r }
        for r in (try LegacyLease6File.read(path + LegacyLease6File.suffix)) ?? [] where current6[r.address] == nil {
            current6[r.address] = r
        }
        return (current.values.sorted { $0.ip < $1.ip }, current6.values.sorted { $0.address < $1.address }, contents.warnings)
    }

    /// The latest record per address, sorted by address.
    public var leases: [Lease] {
        state.withLockedValue { $0.current.values.sorted { $0.ip < $1.ip } }
    }

    /// The latest DHCPv6 record per address, sorted by address.
    public var leases6: [Lease6] {
        state.withLockedValue { $0.current6.values.sorted { $0.address < $1.address } }
    }

    /// Number of record lines currently in the journal file.
    public var journalRecordCount: Int { state.withLockedValue { $0.journalRecords } }

    /// Durably appends a batch: one write, one fdatasync. Compacts afterwards when due (a failed
    /// compaction is not an error for the batch, which is already durable).
    public func append(_ records: [Lease]) throws(LeaseStoreError) {
        try append(records.map(LeaseJournal.line(for:)), count: records.count) { s in
            for r in records { s.current[r.ip] = r }
        }
    }

    /// The same for DHCPv6 records: same file, same write, same fdatasync.
    public func append(_ records: [Lease6]) throws(LeaseStoreError) {
        try append(records.map(LeaseJournal.line(for:)), count: records.count) { s in
            for r in records { s.current6[r.address] = r }
        }
    }

    private func append(_ lines: [String], count: Int, apply: (inout State) -> Void) throws(LeaseStoreError) {
        guard count > 0 else { return }
        let text = lines.joined()
        let path = self.path
        let recorder = self.recorder
        let result = state.withLockedValue { s -> Result<Bool, LeaseStoreError> in
            guard s.fd >= 0 else { return .failure(LeaseStoreError(operation: "append to closed", path: path, errno: EBADF)) }
            let started = NIODeadline.now()
            do throws(LeaseStoreError) {
                try FileIO.writeAll(s.fd, Array(text.utf8), path: path)
            } catch {
                recorder.errors.increment()
                return .failure(error)
            }
            guard fdatasync(s.fd) == 0 else {
                recorder.errors.increment()
                return .failure(LeaseStoreError(operation: "fdatasync", path: path, errno: errno))
            }
            recorder.fsync.recordNanoseconds((NIODeadline.now() - started).nanoseconds)
            recorder.commits.increment()
            recorder.records.increment(by: count)
            apply(&s)
            s.journalRecords += count
            return .success(s.journalRecords > compactionLimit(live: s.current.count + s.current6.count))
        }
        let needsCompaction = try result.get()
        if needsCompaction { try? compact() }
    }

    /// Rewrites the journal as one record per address (dropping expired quarantine records).
    public func compact(now: Int64? = nil) throws(LeaseStoreError) {
        let path = self.path
        let recorder = self.recorder
        let cutoff = now ?? Int64(FileIO.unixTime())
        let result = state.withLockedValue { s -> Result<Void, LeaseStoreError> in
            let keep = s.current.values
                .filter { !($0.state == .declined && $0.expiry <= cutoff) }
                .sorted { $0.ip < $1.ip }
            let keep6 = s.current6.values
                .filter { !($0.state == .declined && $0.expiry <= cutoff) }
                .sorted { $0.address < $1.address }
            let text = LeaseJournal.header + keep.map(LeaseJournal.line(for:)).joined()
                + keep6.map(LeaseJournal.line(for:)).joined()
            let tmp = path + ".tmp"
            do throws(LeaseStoreError) {
                let tfd = try FileIO.openTruncating(tmp)
                do throws(LeaseStoreError) {
                    try FileIO.writeAll(tfd, Array(text.utf8), path: tmp)
                    guard fsync(tfd) == 0 else { throw LeaseStoreError(operation: "fsync", path: tmp, errno: errno) }
                    _ = Glibc_close(tfd)
                } catch {
                    _ = Glibc_close(tfd)
                    _ = unlink(tmp)
                    throw error
                }
                guard rename(tmp, path) == 0 else {
                    let e = errno
                    _ = unlink(tmp)
                    throw LeaseStoreError(operation: "rename", path: tmp, errno: e)
                }
                try FileIO.syncDirectory(FileIO.directory(of: path))
                let newFD = try FileIO.openForAppend(path)
                if s.fd >= 0 { _ = Glibc_close(s.fd) }
                s.fd = newFD
            } catch {
                return .failure(error)
            }
            s.current = Dictionary(keep.map { ($0.ip, $0) }, uniquingKeysWith: { _, b in b })
            s.current6 = Dictionary(keep6.map { ($0.address, $0) }, uniquingKeysWith: { _, b in b })
            s.journalRecords = keep.count + keep6.count
            recorder.compactions.increment()
            return .success(())
        }
        try result.get()
    }

    /// Closes the file; later appends fail.
    public func close() {
        state.withLockedValue { s in
            if s.fd >= 0 { _ = Glibc_close(s.fd) }
            s.fd = -1
        }
    }

    private func compactionLimit(live: Int) -> Int { max(compactionThreshold, 2 * live) }

    private static func readJournal(path: String) throws(LeaseStoreError) -> LeaseJournal.Contents {
        guard let bytes = try FileIO.readFile(path) else { return LeaseJournal.Contents() }
        return LeaseJournal.parseAll(bytes)
    }
}

/// The separate DHCPv6 lease file of development builds (`v6 ADDRESS DUID-HEX IAID EXPIRY STATE`
/// lines, no checksum), read once to carry its leases into the shared journal.
enum LegacyLease6File {
    static let suffix = ".v6"

    /// The latest record per address, or nil when there is no such file.
    static func read(_ path: String) throws(LeaseStoreError) -> [Lease6]? {
        guard let bytes = try FileIO.readFile(path) else { return nil }
        var latest: [IPv6Address: Lease6] = [:]
        for line in bytes.split(separator: UInt8(ascii: "\n")) {
            let f = String(decoding: line, as: UTF8.self).split(separator: " ").map(String.init)
            guard f.count == 6, f[0] == "v6", let a = IPv6Address(f[1]), let duid = LeaseJournal.unhex(f[2]), !duid.isEmpty,
                  let iaid = UInt32(f[3]), let expiry = Int64(f[4]), let state = LeaseState(rawValue: f[5]) else { continue }
            latest[a] = Lease6(duid: duid, iaid: iaid, address: a, expiry: expiry, state: state)
        }
        return Array(latest.values)
    }
}

/// Thin POSIX helpers with typed errors.
enum FileIO {
    static func unixTime() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let dir = String(path[..<slash])
        return dir.isEmpty ? "/" : dir
    }

    static func makeDirectories(_ dir: String) throws(LeaseStoreError) {
        var st = stat()
        if stat(dir, &st) == 0 { return }
        let parent = directory(of: dir)
        if parent != dir { try makeDirectories(parent) }
        if mkdir(dir, 0o755) != 0 && errno != EEXIST {
            throw LeaseStoreError(operation: "mkdir", path: dir, errno: errno)
        }
    }

    static func openForAppend(_ path: String) throws(LeaseStoreError) -> CInt {
        let fd = Glibc_open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw LeaseStoreError(operation: "open", path: path, errno: errno) }
        return fd
    }

    static func openTruncating(_ path: String) throws(LeaseStoreError) -> CInt {
        let fd = Glibc_open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw LeaseStoreError(operation: "open", path: path, errno: errno) }
        return fd
    }

    static func writeAll(_ fd: CInt, _ bytes: [UInt8], path: String) throws(LeaseStoreError) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw LeaseStoreError(operation: "write", path: path, errno: errno)
            }
            offset += n
        }
    }

    /// The whole file, or nil when it does not exist.
    static func readFile(_ path: String) throws(LeaseStoreError) -> [UInt8]? {
        let fd = Glibc_open(path, O_RDONLY | O_CLOEXEC, 0)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw LeaseStoreError(operation: "open", path: path, errno: errno)
        }
        defer { _ = Glibc_close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw LeaseStoreError(operation: "read", path: path, errno: errno)
            }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return out
    }

    static func syncDirectory(_ dir: String) throws(LeaseStoreError) {
        let fd = Glibc_open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0)
        guard fd >= 0 else { throw LeaseStoreError(operation: "open directory", path: dir, errno: errno) }
        defer { _ = Glibc_close(fd) }
        guard fsync(fd) == 0 else { throw LeaseStoreError(operation: "fsync directory", path: dir, errno: errno) }
    }

    /// The size of a regular file, or nil.
    static func regularFileSize(_ path: String) -> Int? {
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Int(st.st_size)
    }
}

// `open`/`close` are also names of our own methods; these aliases keep call sites unambiguous.
@inline(__always) func Glibc_open(_ path: String, _ flags: CInt, _ mode: mode_t) -> CInt { open(path, flags, mode) }
@inline(__always) func Glibc_close(_ fd: CInt) -> CInt { close(fd) }
