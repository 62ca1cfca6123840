import NIOCore
import NIOPosix

/// What became of one lease record the listener asked a backend to persist.
public enum LeaseVerdict: Sendable, Equatable {
    /// Durable: its reply may leave.
    case committed
    /// A shared database refused the claim: another client holds the address (`holder`, when
    /// the database said who). An ACK for it becomes a NAK.
    case lost(holder: Lease?)
    /// Not written (the database is unreachable, the disk failed; `reason` says which): no reply
    /// may leave for it.
    case unavailable(reason: String)
}

/// Where the DHCPv4 engine's lease records go before their replies leave: the local journal, or a
/// database shared by several servers. The listener calls `persist` with a whole group-commit
/// batch, one call at a time per listener, and sends each reply only when its records committed.
public protocol LeaseBackend: AnyObject, Sendable {
    /// The records the engine starts from.
    var initialLeases: [Lease] { get }
    /// Whether `initialLeases` is everything: false when a database could not be read at start,
    /// and then the listener serves nothing new until `probe` and `changesFromOtherServers`
    /// (which then returns every record) succeed.
    var isLoaded: Bool { get }
    /// Persists `records` (in order; a later record for an address supersedes an earlier one) and
    /// says, per record, what became of it, on `eventLoop`. Never fails: a failure is a verdict.
    /// A future, not `async`: the reply path stays on the event loop and its thread pool, and
    /// never waits for a Swift concurrency thread that something else may be holding.
    func persist(_ records: [Lease], now: Int64, on eventLoop: any EventLoop) -> EventLoopFuture<[LeaseVerdict]>
    /// Whether other servers write to the same leases: then the engine scans the pool from a
    /// per-server origin, learns others' changes through `changesSince`, and may not trust its
    /// own view of an address until a claim committed.
    var isShared: Bool { get }
    /// Records other servers changed since the previous call (the first call: since startup);
    /// nil when the backend cannot tell now (unreachable) or is not shared.
    func changesFromOtherServers() async -> [Lease]?
    /// Whether the backend can take writes now (after a failure, the listener asks with back-off).
    func probe() async -> Bool
    /// This server's share of new addresses among the servers writing to the same leases (from
    /// the rows they wrote lately): `index` of `count`. (0, 1) when alone or not shared.
    var allocationShare: AllocationShare { get }
}

/// Which part of a pool a server prefers when several share the leases: offsets that are
/// `index` modulo `count`, so servers that have not yet seen each other's newest leases still
/// pick different addresses.
public struct AllocationShare: Sendable, Equatable {
    public var index: Int
    public var count: Int
    public init(index: Int, count: Int) {
        self.count = max(1, count)
        self.index = min(max(0, index), self.count - 1)
    }
    public static let whole = AllocationShare(index: 0, count: 1)
}

extension LeaseStore: LeaseBackend {
    public var initialLeases: [Lease] { leases }
    public var isLoaded: Bool { true }

    /// The journal: one append (one fdatasync) on the thread pool for the whole batch.
    public func persist(_ records: [Lease], now: Int64, on eventLoop: any EventLoop) -> EventLoopFuture<[LeaseVerdict]> {
        NIOThreadPool.singleton.runIfActive(eventLoop: eventLoop) {
            try self.append(records)
        }.map { Array(repeating: LeaseVerdict.committed, count: records.count) }
        .recover { Array(repeating: .unavailable(reason: "\($0)"), count: records.count) }
    }

    public var isShared: Bool { false }
    public func changesFromOtherServers() async -> [Lease]? { nil }
    /// A journal that failed a write is tried again with the next batch.
    public func probe() async -> Bool { true }
    public var allocationShare: AllocationShare { .whole }
}
