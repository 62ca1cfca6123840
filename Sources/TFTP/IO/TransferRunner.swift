import CLinuxEvents
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Runs server transfers on a few threads, each serving many transfers through one epoll set
/// (level-triggered) and one deadline heap.
///
/// Why not a thread per transfer (what pxed did first): at a boot storm's 1,000 transfers that
/// is 1,000 threads of about 67 KiB resident each, and 1,000 runnable threads leave the DHCP
/// event loop a thousandth of the CPU. Why not the NIO event loops: a lockstep block through a
/// channel pipeline costs several times the user time of a plain recv() and send(). A worker
/// here pays one epoll_wait per batch of ready sockets, then one recv() and one send() per block,
/// as the thread did.
///
/// A worker blocks only in epoll_wait, in a send whose socket buffer is full (which paces a
/// window; it drains at link speed) and in an upload's commit (fsync before the final ACK).
public final class TransferRunner: Sendable {
    private let workers: [TransferWorker]

    /// The runner every TFTP server of the process shares unless given another: one worker per
    /// core, started on first use and left running (idle workers sleep in epoll_wait).
    public static let shared = TransferRunner(threads: System.coreCount)

    /// - Parameter threads: the number of workers (at least one).
    public init(threads: Int) {
        workers = (0..<max(1, threads)).map { _ in TransferWorker() }
    }

    /// Hands a transfer to the least loaded worker, which sets up its socket and starts it.
    /// False if the worker's thread could not be started (the transfer was not taken).
    func start(_ transfer: some PolledTransfer) -> Bool {
        let worker = workers.min { $0.load < $1.load }!
        return worker.adopt(transfer)
    }
}

/// What a runner worker drives: a transfer on a socket of its own (plus, once connected, a
/// companion that answers other TIDs), moved on by readiness and deadlines. Never blocks
/// waiting for the peer. Touched only by its worker's thread once handed over.
protocol PolledTransfer: Sendable {
    var socketFD: Int32 { get }
    /// -1 while there is none.
    var companionFD: Int32 { get }
    var nextDeadline: NIODeadline? { get }
    /// The session is over: the worker closes the sockets and forgets the transfer.
    var isClosing: Bool { get }
    /// Asked to end from outside (eviction, server stop, a cancelled client task).
    var isCancelled: Bool { get }
    /// Sets up the socket and sends the first packet.
    mutating func begin(_ scratch: inout TransferScratch)
    mutating func readable(_ scratch: inout TransferScratch)
    mutating func companionReadable()
    mutating func deadlineReached(now: NIODeadline, _ scratch: inout TransferScratch)
    /// Ends the transfer as cancelled (before `begin`, or whenever `isCancelled` is seen).
    mutating func abort()
    /// Closes the sockets; the outcome has been settled by then.
    mutating func close()
}

/// One thread, its epoll set and the transfers it serves.
final class TransferWorker: @unchecked Sendable {
    // @unchecked: `slots`, `generations`, `heap`, `free` and `scratch` belong to the worker's thread alone; the inbox
    // (locked), `started` (locked) and `active` (atomic) are how other threads reach it.
    private let epoll: Int32
    private let wakeFD: Int32
    private let inbox = NIOLockedValueBox<(transfers: [any PolledTransfer], started: Bool)>(([], false))
    private let active = Atomic<Int>(0)
    private var slots: [Slot?] = []
    /// Per slot, bumped each time it takes a new transfer.
    private var generations: [UInt32] = []
    private var free: [Int] = []
    private var heap = DeadlineHeap()
    private var scratch = TransferScratch()

    private struct Slot {
        var transfer: any PolledTransfer
        /// The companion socket in the epoll set (-1: none yet; a client's comes with the
        /// server's first reply).
        var watchedCompanion: Int32 = -1
        /// The deadline of this transfer's pending heap entry, if it has one.
        var scheduled: NIODeadline?
    }

    /// epoll's user data: the slot, its generation (a slot reused within one batch of events
    /// does not take its predecessor's), and whether the event is the companion's.
    private static let wakeToken = UInt64.max
    private static func token(slot: Int, generation: UInt32, companion: Bool) -> UInt64 {
        UInt64(generation) << 32 | UInt64(slot) << 1 | (companion ? 1 : 0)
    }

    init() {
        epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        wakeFD = eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK))
        precondition(epoll >= 0 && wakeFD >= 0, "epoll_create1/eventfd failed: errno \(errno)")
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.u64 = TransferWorker.wakeToken
        epoll_ctl(epoll, EPOLL_CTL_ADD, wakeFD, &event)
    }

    var load: Int { active.load(ordering: .relaxed) }

    func adopt(_ transfer: any PolledTransfer) -> Bool {
        active.add(1, ordering: .relaxed)
        let taken = inbox.withLockedValue { box -> Bool in
            if !box.started {
                // The thread starts with the first transfer; a runner never used costs nothing.
                guard spawnThread({ [self] in run() }) else { return false }
                box.started = true
            }
            box.transfers.append(transfer)
            return true
        }
        guard taken else {
            active.subtract(1, ordering: .relaxed)
            return false
        }
        var one: UInt64 = 1
        _ = Glibc.write(wakeFD, &one, 8)
        return true
    }

    private func run() {
        var events = [epoll_event](repeating: epoll_event(), count: 128)
        while true {
            let timeout = heap.first.map { TransferWorker.milliseconds(until: $0.deadline) } ?? -1
            let n = events.withUnsafeMutableBufferPointer { epoll_wait(epoll, $0.baseAddress, Int32($0.count), timeout) }
            if n < 0 && errno != EINTR { fatalError("epoll_wait failed: errno \(errno)") }
            for i in 0..<max(0, Int(n)) {
                let token = events[i].data.u64
                if token == TransferWorker.wakeToken {
                    adoptWaiting()
                    continue
                }
                let slot = Int(token & 0xFFFF_FFFF) >> 1
                guard slot < slots.count, slots[slot] != nil, generations[slot] == UInt32(token >> 32) else { continue }
                if token & 1 == 1 {
                    slots[slot]!.transfer.companionReadable()
                } else {
                    slots[slot]!.transfer.readable(&scratch)
                    settle(slot)
                }
            }
            fireDeadlines()
        }
    }

    /// Takes the transfers handed over since the last wake-up and starts them.
    private func adoptWaiting() {
        var count: UInt64 = 0
        _ = Glibc.read(wakeFD, &count, 8)
        let waiting = inbox.withLockedValue { box -> [any PolledTransfer] in
            defer { box.transfers.removeAll(keepingCapacity: true) }
            return box.transfers
        }
        for var transfer in waiting {
            if transfer.isCancelled {
                transfer.abort()
            } else {
                transfer.begin(&scratch)
            }
            let slot: Int
            if let reused = free.popLast() {
                slot = reused
            } else {
                slots.append(nil)
                generations.append(0)
                slot = slots.count - 1
            }
            generations[slot] &+= 1
            let generation = generations[slot]
            let (fd, closing) = (transfer.socketFD, transfer.isClosing)
            slots[slot] = Slot(transfer: transfer, scheduled: nil)
            if !closing {
                watch(fd, token: TransferWorker.token(slot: slot, generation: generation, companion: false))
            }
            settle(slot)
        }
    }

    private func watch(_ fd: Int32, token: UInt64) {
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.u64 = token
        epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event)
    }

    /// After a transfer acted: closes it if its session is over, or makes sure the heap holds
    /// an entry no later than its next deadline. An earlier entry is kept (when it comes due,
    /// the transfer is simply scheduled again), so lockstep pushes about one entry per timeout
    /// period rather than one per block. (The slot is reached through the array each time, not
    /// copied out: a copy would share the transfer's buffers and make its next write copy them.)
    private func settle(_ slot: Int) {
        // One in-place access for all three reads: reading them through `slots[slot]!` one by
        // one copied the whole transfer out of its existential box each time (seen in perf).
        let (closing, companion, deadline) = Self.status(of: &slots[slot]!.transfer)
        if closing {
            // Closing a descriptor takes it out of the epoll set.
            slots[slot]!.transfer.close()
            slots[slot] = nil
            free.append(slot)
            active.subtract(1, ordering: .relaxed)
            return
        }
        if companion != slots[slot]!.watchedCompanion, companion >= 0 {
            slots[slot]!.watchedCompanion = companion
            watch(companion, token: TransferWorker.token(slot: slot, generation: generations[slot], companion: true))
        }
        guard let deadline else { return }
        if let scheduled = slots[slot]!.scheduled, scheduled <= deadline { return }
        slots[slot]!.scheduled = deadline
        heap.push(DeadlineHeap.Entry(deadline: deadline, slot: slot, generation: generations[slot]))
    }

    private static func status(of transfer: inout some PolledTransfer) -> (Bool, Int32, NIODeadline?) {
        (transfer.isClosing, transfer.companionFD, transfer.nextDeadline)
    }

    private func fireDeadlines() {
        let now = NIODeadline.now()
        while let first = heap.first, first.deadline <= now {
            heap.pop()
            let slot = first.slot
            guard slot < slots.count, slots[slot] != nil, generations[slot] == first.generation,
                  slots[slot]!.scheduled == first.deadline else { continue }
            slots[slot]!.scheduled = nil
            slots[slot]!.transfer.deadlineReached(now: now, &scratch)
            settle(slot)
        }
    }

    /// epoll_wait's timeout: whole milliseconds, rounded up so a deadline is never woken early
    /// over and over.
    private static func milliseconds(until deadline: NIODeadline) -> Int32 {
        let nanoseconds = (deadline - .now()).nanoseconds
        guard nanoseconds > 0 else { return 0 }
        return Int32(min((nanoseconds + 999_999) / 1_000_000, 60_000))
    }
}

/// A binary min-heap of transfer deadlines.
struct DeadlineHeap {
    struct Entry: Equatable {
        var deadline: NIODeadline
        var slot: Int
        var generation: UInt32
    }

    private var entries: [Entry] = []

    var first: Entry? { entries.first }
    var count: Int { entries.count }

    mutating func push(_ entry: Entry) {
        entries.append(entry)
        var child = entries.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard entries[child].deadline < entries[parent].deadline else { break }
            entries.swapAt(child, parent)
            child = parent
        }
    }

    @discardableResult
    mutating func pop() -> Entry? {
        guard !entries.isEmpty else { return nil }
        let top = entries[0]
        let last = entries.removeLast()
        guard !entries.isEmpty else { return top }
        entries[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < entries.count, entries[left].deadline < entries[smallest].deadline { smallest = left }
            if right < entries.count, entries[right].deadline < entries[smallest].deadline { smallest = right }
            guard smallest != parent else { break }
            entries.swapAt(parent, smallest)
            parent = smallest
        }
        return top
    }
}

/// Runs `body` on a new detached thread with a small stack (a worker needs little). False if
/// the system would not give a thread.
func spawnThread(_ body: @escaping @Sendable () -> Void) -> Bool {
    final class Box {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
    var attributes = pthread_attr_t()
    pthread_attr_init(&attributes)
    defer { pthread_attr_destroy(&attributes) }
    pthread_attr_setstacksize(&attributes, 512 << 10)
    pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
    let box = Unmanaged.passRetained(Box(body)).toOpaque()
    var thread = pthread_t()
    let rc = pthread_create(&thread, &attributes, { argument in
        let box = Unmanaged<Box>.fromOpaque(argument!).takeRetainedValue()
        box.body()
        return nil
    }, box)
    if rc != 0 {
        Unmanaged<Box>.fromOpaque(box).release()
        return false
    }
    return true
}
