/// Group commit, the bookkeeping half: while one durable write is in flight, what arrives waits and
/// goes in the next write together, so N replies cost one fdatasync instead of N. The listener
/// does the write (on a thread pool) and sends each item's replies when its batch is durable.
public struct GroupCommitQueue<Item> {
    private var waiting: [Item] = []
    private var writing = false

    public init() {}

    /// Queues an item; returns the batch to write now when no write is in flight.
    public mutating func enqueue(_ item: Item) -> [Item]? {
        waiting.append(item)
        return takeBatchIfIdle()
    }

    /// The write in flight finished (durable or failed); returns the next batch to write, if any.
    public mutating func writeFinished() -> [Item]? {
        writing = false
        return takeBatchIfIdle()
    }

    /// Takes everything waiting without starting a write (the store failed: the waiting items
    /// are abandoned, not written).
    public mutating func takeWaiting() -> [Item] {
        defer { waiting = [] }
        return waiting
    }

    public var isWriting: Bool { writing }
    public var waitingCount: Int { waiting.count }

    private mutating func takeBatchIfIdle() -> [Item]? {
        guard !writing, !waiting.isEmpty else { return nil }
        writing = true
        defer { waiting = [] }
        return waiting
    }
}
