/// Group commit, the bookkeeping half: while one durable write is in flight, what arrives waits and
/// goes in the next write together, so N replies cost one fdatasync instead of N. The listener
/// does the write (on a thread pool) and sends each item's replies when its batch is durable.
///
/// With a `window`, the first item of a batch also waits up to that long for companions before
/// its write starts (or until `maxBatch` items wait). On a disk that syncs in a tenth of a
/// millisecond, batches otherwise stay at one or two leases: thousands of fdatasyncs and thread
/// hops a second, CPU that the clients sharing the machine (and the link's relays) then lack.
public struct GroupCommitQueue<Item> {
    /// What the caller does next.
    public enum Next {
        /// Start this write now.
        case write([Item])
        /// Nothing to write before this time (seconds, the caller's clock): set a timer.
        case waitUntil(Double)
        /// A write is in flight, or nothing waits.
        case nothing
    }

    /// Seconds the first item of a batch may wait for companions (0: write at once).
    public var window: Double
    /// A batch this large starts at once.
    public var maxBatch: Int
    private var waiting: [Item] = []
    private var firstArrival = 0.0
    private var writing = false

    public init(window: Double = 0, maxBatch: Int = .max) {
        self.window = window
        self.maxBatch = max(1, maxBatch)
    }

    /// Queues an item that arrived at `now`.
    public mutating func enqueue(_ item: Item, now: Double) -> Next {
        if waiting.isEmpty { firstArrival = now }
        waiting.append(item)
        return decide(now: now)
    }

    /// The write in flight finished (durable or failed).
    public mutating func writeFinished(now: Double) -> Next {
        writing = false
        return decide(now: now)
    }

    /// The timer set for a `waitUntil` fired.
    public mutating func timerFired(now: Double) -> Next { decide(now: now) }

    /// Without a window: the batch to write now, if any (for callers that never wait).
    public mutating func enqueue(_ item: Item) -> [Item]? {
        if case .write(let batch) = enqueue(item, now: .infinity) { return batch }
        return nil
    }

    public mutating func writeFinished() -> [Item]? {
        if case .write(let batch) = writeFinished(now: .infinity) { return batch }
        return nil
    }

    /// Takes everything waiting without starting a write (the store failed: the waiting items
    /// are abandoned, not written).
    public mutating func takeWaiting() -> [Item] {
        defer { waiting = [] }
        return waiting
    }

    public var isWriting: Bool { writing }
    public var waitingCount: Int { waiting.count }

    private mutating func decide(now: Double) -> Next {
        guard !writing, !waiting.isEmpty else { return .nothing }
        let due = firstArrival + window
        guard waiting.count >= maxBatch || now >= due else { return .waitUntil(due) }
        writing = true
        defer { waiting = [] }
        return .write(waiting)
    }
}
