@testable import DHCP
import PXEConfig
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A scratch directory per test, removed afterwards.
final class ScratchDirectory {
    let path: String
    private static let counter = Counter()

    init(_ name: String = #function) {
        let n = Self.counter.next()
        let safe = name.filter { $0.isLetter || $0.isNumber }
        path = "/tmp/pxed-dhcp-tests-\(getpid())-\(n)-\(safe)"
        mkdir(path, 0o755)
    }

    deinit {
        if let dir = opendir(path) {
            while let e = readdir(dir) {
                let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                if name != "." && name != ".." { unlink(path + "/" + name) }
            }
            closedir(dir)
        }
        rmdir(path)
    }

    func file(_ name: String) -> String { path + "/" + name }

    final class Counter: @unchecked Sendable {   // tests only; guarded by the lock
        private var value = 0
        private var lock = pthread_mutex_t()
        init() { pthread_mutex_init(&lock, nil) }
        func next() -> Int {
            pthread_mutex_lock(&lock)
            defer { pthread_mutex_unlock(&lock) }
            value += 1
            return value
        }
    }
}

func readText(_ path: String) -> String {
    guard let bytes = try? FileIO.readFile(path) else { return "" }
    return String(decoding: bytes, as: UTF8.self)
}

func writeText(_ path: String, _ text: String) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    let bytes = Array(text.utf8)
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    close(fd)
}

func lease(_ n: UInt8, key: String? = nil, state: LeaseState = .active, expiry: Int64 = 1_750_003_600,
           hostname: String? = nil) -> Lease {
    Lease(clientKey: ClientKey(rawValue: key ?? "hw:5254000000\(n < 16 ? "0" : "")\(String(n, radix: 16))"),
          mac: MACAddress(bytes: [0x52, 0x54, 0, 0, 0, n]), ip: IPv4Address(10, 0, 0, 100 + n),
          hostname: hostname, expiry: expiry, state: state)
}

@Suite struct LeaseStoreTests {
    @Test func appendAndReplay() throws {
        let dir = ScratchDirectory()
        let path = dir.file("leases")
        let records = [lease(1, hostname: "a"), lease(2), lease(3, state: .released)]
        do {
            let (store, warnings) = try LeaseStore.open(path: path)
            #expect(warnings.isEmpty)
            #expect(store.leases.isEmpty)
            try store.append(records)
            try store.append([Lease]())               // no-op
            #expect(store.journalRecordCount == 3)
            store.close()
            #expect(throws: LeaseStoreError.self) { try store.append([lease(4)]) }
        }
        let (again, warnings) = try LeaseStore.open(path: path)
        #expect(warnings.isEmpty)
        #expect(again.leases == records)
        #expect(try LeaseStore.readLeases(path: path).leases == records)
        // One line per record, each with its checksum.
        let lines = readText(path).split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines.allSatisfy { $0.hasPrefix("1 10.0.0.") && $0.dropLast(8).hasSuffix(" *") })
    }

    @Test func latestRecordPerAddressWins() throws {
        let dir = ScratchDirectory()
        let path = dir.file("leases")
        let (store, _) = try LeaseStore.open(path: path)
        try store.append([lease(1)])
        try store.append([lease(1, state: .released, expiry: 1_750_000_010)])
        try store.append([lease(1, key: "id:ff01", expiry: 1_750_009_999)])
        #expect(store.leases == [lease(1, key: "id:ff01", expiry: 1_750_009_999)])
        #expect(try LeaseStore.readLeases(path: path).leases == store.leases)
    }

    @Test func createsTheDirectory() throws {
        let dir = ScratchDirectory()
        let path = dir.path + "/sub/leases"
        defer { unlink(path); rmdir(dir.path + "/sub") }
        let (store, _) = try LeaseStore.open(path: path)
        try store.append([lease(1)])
        #expect(try LeaseStore.readLeases(path: path).leases.count == 1)
    }

    @Test func tornLastLineIsSkippedWithAWarning() throws {
        let dir = ScratchDirectory()
        let path = dir.file("leases")
        let good = LeaseJournal.line(for: lease(1)) + LeaseJournal.line(for: lease(2))
        let torn = String(LeaseJournal.line(for: lease(3)).dropLast(12))   // no newline, cut mid-checksum
        writeText(path, LeaseJournal.header + good + torn)

        let (read, readWarnings) = try LeaseStore.readLeases(path: path)
        #expect(read == [lease(1), lease(2)])
        #expect(readWarnings == [LeaseJournalWarning(line: 4, reason: .tornTail)])

        let (store, warnings) = try LeaseStore.open(path: path)
        #expect(warnings == [LeaseJournalWarning(line: 4, reason: .tornTail)])
        #expect(warnings.first?.description.contains("torn") == true)
        #expect(store.leases == [lease(1), lease(2)])
        // Opening compacted the file, so the next record does not land on the torn fragment.
        try store.append([lease(4)])
        let (after, afterWarnings) = try LeaseStore.readLeases(path: path)
        #expect(afterWarnings.isEmpty)
        #expect(after == [lease(1), lease(2), lease(4)])
    }

    @Test func corruptedMiddleLineIsSkipped() throws {
        let dir = ScratchDirectory()
        let path = dir.file("leases")
        var middle = LeaseJournal.line(for: lease(2, hostname: "middle"))
        middle = middle.replacing("middle", with: "muddle", maxReplacements: 1)   // bit rot: checksum no longer matches
        writeText(path, LeaseJournal.line(for: lease(1)) + middle + "garbage line\n" + LeaseJournal.line(for: lease(3)))
        let (store, warnings) = try LeaseStore.open(path: path)
        #expect(warnings == [LeaseJournalWarning(line: 2, reason: .checksumMismatch),
                             LeaseJournalWarning(line: 3, reason: .malformed("no checksum"))])
        #expect(store.leases == [lease(1), lease(3)])
    }

    @Test func recordsWithAValidChecksumButBadFieldsAreReported() {
        func signed(_ body: String) -> String { body + " *" + LeaseJournal.crcHex(CRC32.checksum(Array(body.utf8))) + "\n" }
        let text = signed("1 10.0.0.300 active 5 - hw:01 -")
            + signed("1 10.0.0.5 bogus 5 - hw:01 -")
            + signed("2 10.0.0.5 active 5 - hw:01 -")
            + signed("1 10.0.0.5 active soon - hw:01 -")
            + signed("1 10.0.0.5 active 5 zz:zz - -")
            + signed("1 10.0.0.5 active 5 - hw:01 - extra")
            + signed("1 10.0.0.5 active 5 - hw:01 %Z1")
            + signed("1 10.0.0.6 declined 5 - hw:01 -")
        let (records, warnings) = LeaseJournal.parse(Array(text.utf8))
        #expect(records.map(\.ip) == [IPv4Address(10, 0, 0, 6)])
        #expect(warnings.map(\.line) == [1, 2, 3, 4, 5, 6, 7])
    }

    @Test func compactionKeepsState() throws {
        let dir = ScratchDirectory()
        let path = dir.file("leases")
        let (store, _) = try LeaseStore.open(path: path, compactionThreshold: 4)
        for round in 0..<10 {
            try store.append([lease(1, expiry: 1_750_000_000 + Int64(round)), lease(2, expiry: 1_750_000_100 + Int64(round))])
            #expect(store.journalRecordCount <= 5)
        }
        let want = [lease(1, expiry: 1_750_000_009), lease(2, expiry: 1_750_000_109)]
        #expect(store.leases == want)
        #expect(try LeaseStore.readLeases(path: path) == (want, []))
        #expect(readText(path).hasPrefix("#"))
        #expect(try FileIO.readFile(path + ".tmp") == nil)
        // Appends after a compaction go to the new file.
        try store.append([lease(3)])
        #expect(try LeaseStore.readLeases(path: path).leases == want + [lease(3)])
    }

    @Test func compactionDropsExpiredQuarantine() throws {
        let dir = ScratchDirectory()
        let path = dir.file("leases")
        let (store, _) = try LeaseStore.open(path: path)
        try store.append([lease(1, state: .declined, expiry: 100), lease(2, state: .declined, expiry: 5_000),
                          lease(3, state: .released, expiry: 100)])
        try store.compact(now: 1000)
        #expect(store.leases.map(\.ip) == [IPv4Address(10, 0, 0, 102), IPv4Address(10, 0, 0, 103)])
        #expect(try LeaseStore.readLeases(path: path).leases == store.leases)
    }

    @Test func missingFileReadsAsEmpty() throws {
        let dir = ScratchDirectory()
        #expect(try LeaseStore.readLeases(path: dir.file("nothing")) == ([], []))
    }

    @Test func unwritablePathIsATypedError() {
        #expect(throws: LeaseStoreError.self) { try LeaseStore.open(path: "/proc/pxed-cannot-be-here/leases") }
    }

    @Test func textFieldsAreEscaped() throws {
        let dir = ScratchDirectory()
        let path = dir.file("leases")
        let odd = [lease(1, key: "id:00 ff", hostname: "my host %1 ünï"), lease(2, hostname: "-"), lease(3, hostname: "")]
        let (store, _) = try LeaseStore.open(path: path)
        try store.append(odd)
        let back = try LeaseStore.readLeases(path: path)
        #expect(back.warnings.isEmpty)
        #expect(back.leases[0] == odd[0])
        #expect(back.leases[1].hostname == "-")
        #expect(back.leases[2].hostname == nil)   // empty is stored as "none"
    }

    @Test func engineAndStoreAgreeAfterRestart() throws {
        let dir = ScratchDirectory()
        let path = dir.file("leases")
        var engine = DHCPServer(settings: makeSettings())
        let (store, _) = try LeaseStore.open(path: path)
        var bound: [IPv4Address] = []
        for i in 1...5 {
            let c = TestClient("52:54:00:00:00:0\(i)")
            let offer = engine.handle(c.discover(), context: broadcastContext, now: t0)
            let ack = engine.handle(c.select(try #require(offer.offeredAddress)), context: broadcastContext, now: t0)
            try store.append(ack.leaseChanges)       // durable before the ACK would be sent
            bound.append(try #require(ack.ackedAddress))
        }
        store.close()
        let (reopened, _) = try LeaseStore.open(path: path)
        var restarted = DHCPServer(settings: makeSettings(), leases: reopened.leases)
        for (i, a) in bound.enumerated() {
            let c = TestClient("52:54:00:00:00:0\(i + 1)")
            #expect(restarted.handle(c.discover(), context: broadcastContext, now: t0 + 60).offeredAddress == a)
        }
    }
}

@Suite struct LeaseTableTests {
    @Test func utcTimestamps() {
        #expect(LeaseTable.utcTimestamp(0) == "1970-01-01 00:00:00Z")
        #expect(LeaseTable.utcTimestamp(1_700_000_000) == "2023-11-14 22:13:20Z")
        #expect(LeaseTable.utcTimestamp(951_782_400) == "2000-02-29 00:00:00Z")
        #expect(LeaseTable.utcTimestamp(-1) == "1969-12-31 23:59:59Z")
    }

    @Test func format() {
        let now: Double = 1_750_000_000
        let leases = [
            lease(2, expiry: 1_749_999_000),
            lease(1, expiry: 1_750_003_600, hostname: "node1"),
            lease(3, state: .released, expiry: 1_749_990_000),
            lease(4, state: .declined, expiry: 1_750_000_600),
            Lease(clientKey: ClientKey(rawValue: "id:ff"), mac: nil, ip: IPv4Address(10, 0, 0, 9), expiry: 1_750_000_030,
                  state: .active),
        ]
        let text = LeaseTable.format(leases, now: now)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.count == 6)
        #expect(lines[0].hasPrefix("MAC"))
        #expect(lines[0].contains("IP") && lines[0].contains("HOSTNAME") && lines[0].contains("EXPIRES")
                && lines[0].hasSuffix("STATE"))
        // Sorted by address; columns line up.
        #expect(lines[1].hasPrefix("-"))
        #expect(lines[1].contains("10.0.0.9") && lines[1].hasSuffix("active") && lines[1].contains("(in 30s)"))
        #expect(lines[2].hasPrefix("52:54:00:00:00:01") && lines[2].contains("node1") && lines[2].contains("(in 1h 0m)"))
        #expect(lines[2].contains("2025-06-15 16:06:40Z"))
        #expect(lines[3].hasSuffix("expired") && lines[3].contains("(16m 40s ago)"))
        #expect(lines[4].hasSuffix("released"))
        #expect(lines[5].hasSuffix("declined"))
        let ipColumn = lines[0].firstRange(of: "IP")?.lowerBound.utf16Offset(in: lines[0])
        #expect(lines.dropFirst().allSatisfy { $0.firstRange(of: "10.0.0.")?.lowerBound.utf16Offset(in: $0) == ipColumn })
    }

    @Test func emptyTableIsJustTheHeader() {
        #expect(LeaseTable.format([Lease](), now: 0) == "MAC  IP  HOSTNAME  EXPIRES  STATE\n")
    }
}


func lease6(_ n: UInt8, state: LeaseState = .active, expiry: Int64 = 1_750_003_600) -> Lease6 {
    Lease6(duid: [0, 3, 0, 1, 0x52, 0x54, 0, 0, 6, n], iaid: UInt32(n), address: IPv6Address("fd00:1::\(n)")!,
           expiry: expiry, state: state)
}

/// DHCPv6 records live in the same file as DHCPv4's: one journal, one write order, one fsync.
@Suite struct SharedLeaseFileTests {
    @Test func bothFamiliesRoundTripThroughOneFile() throws {
        let dir = ScratchDirectory()
        let path = dir.file("leases")
        let (store, _) = try LeaseStore.open(path: path)
        try store.append([lease(1)])
        try store.append([lease6(1), lease6(2)])
        try store.append([lease6(1, state: .released)])
        let text = readText(path)
        #expect(text.contains("\n6 fd00:1::1 released 1750003600 0003000152540000060" + "1 1 *"))
        store.close()
        let all = try LeaseStore.readAll(path: path)
        #expect(all.leases == [lease(1)] && all.leases6 == [lease6(1, state: .released), lease6(2)] && all.warnings.isEmpty)
        let (again, warnings) = try LeaseStore.open(path: path)
        #expect(again.leases6 == [lease6(1, state: .released), lease6(2)] && warnings.isEmpty)
        #expect(try LeaseStore.readLeases(path: path).leases == [lease(1)])
    }

    @Test func compactionKeepsBothAndDropsExpiredQuarantine() throws {
        let dir = ScratchDirectory()
        let path = dir.file("leases")
        let (store, _) = try LeaseStore.open(path: path, compactionThreshold: 1_000)
        for _ in 0..<3 {
            try store.append([lease(1)])
            try store.append([lease6(1), lease6(2, state: .declined, expiry: 100)])
        }
        #expect(store.journalRecordCount == 9)
        try store.compact(now: 1_000)
        #expect(store.journalRecordCount == 2 && store.leases6 == [lease6(1)])
        let all = try LeaseStore.readAll(path: path)
        #expect(all.leases == [lease(1)] && all.leases6 == [lease6(1)])
    }

    @Test func corruptV6RecordsAreSkippedWithAWarning() throws {
        let dir = ScratchDirectory()
        let path = dir.file("leases")
        let good = LeaseJournal.line(for: lease6(3))
        var fields = good.split(separator: " ").map(String.init)
        fields[1] = "fd00:1::4"
        let flipped = fields.joined(separator: " ")   // same checksum, other address
        writeText(path, good + flipped + "6 fd00:1::5 active 1 zz 1 *00000000\n" + String(good.dropLast()))
        let all = try LeaseStore.readAll(path: path)
        #expect(all.leases6 == [lease6(3)])
        #expect(all.warnings.map(\.reason) == [.checksumMismatch, .checksumMismatch, .tornTail])
    }

    @Test func theDevelopmentBuildsV6FileIsFoldedInOnce() throws {
        let dir = ScratchDirectory()
        let path = dir.file("leases")
        let (first, _) = try LeaseStore.open(path: path)
        try first.append([lease6(7, state: .released)])
        first.close()
        // The older file knows 7 (older news) and 8; the journal's own record for 7 wins.
        writeText(path + ".v6", "v6 fd00:1::7 000300015254000006" + "07 7 1750003600 active\n"
                  + "v6 fd00:1::8 000300015254000006" + "08 8 1750003600 active\ngarbage\n")
        #expect(try LeaseStore.readAll(path: path).leases6 == [lease6(7, state: .released), lease6(8)])
        let (store, _) = try LeaseStore.open(path: path)
        #expect(store.leases6 == [lease6(7, state: .released), lease6(8)])
        #expect(access(path + ".v6", F_OK) != 0)
        store.close()
        #expect(try LeaseStore.readAll(path: path).leases6 == [lease6(7, state: .released), lease6(8)])
    }
}

@Suite struct GroupCommitQueueTests {
    @Test func oneWriteInFlightTheRestBatched() {
        var q = GroupCommitQueue<Int>()
        #expect(q.enqueue(1) == [1])
        #expect(q.enqueue(2) == nil && q.enqueue(3) == nil && q.waitingCount == 2)
        #expect(q.writeFinished() == [2, 3])
        #expect(q.isWriting)
        #expect(q.writeFinished() == nil && !q.isWriting)
        #expect(q.enqueue(4) == [4])
    }

    /// The first item of a group waits up to the window for companions; a full group goes at once;
    /// what arrives during a write waits for the window measured from its own first item.
    @Test func aWindowGathersAGroup() {
        var q = GroupCommitQueue<Int>(window: 0.001, maxBatch: 3)
        func due(_ n: GroupCommitQueue<Int>.Next) -> Double? { if case .waitUntil(let t) = n { t } else { nil } }
        func batch(_ n: GroupCommitQueue<Int>.Next) -> [Int]? { if case .write(let b) = n { b } else { nil } }
        #expect(due(q.enqueue(1, now: 10.0)) == 10.001)
        #expect(due(q.enqueue(2, now: 10.0004)) == 10.001)
        #expect(batch(q.timerFired(now: 10.001)) == [1, 2])
        #expect(q.isWriting)
        // During the write: queued, no timer needed until the write ends.
        if case .nothing = q.enqueue(3, now: 10.0012) {} else { Issue.record("a write is in flight") }
        // The write ends before 3's window: wait for the rest of it.
        #expect(due(q.writeFinished(now: 10.0015)) == 10.0022)
        #expect(due(q.enqueue(4, now: 10.0016)) == 10.0022)
        #expect(batch(q.enqueue(5, now: 10.0017)) == [3, 4, 5])   // maxBatch reached
        #expect(batch(q.writeFinished(now: 10.002)) == nil)
        // A late timer after the group left finds nothing.
        if case .nothing = q.timerFired(now: 10.0022) {} else { Issue.record("nothing waits") }
    }
}

@Suite struct ReplyPacerTests {
    @Test func aBurstLeavesAtOnceTheRestAtTheArrivalRate() {
        var p = ReplyPacer(now: 0)
        p.burst = 4
        p.minimumRate = 100
        p.headroom = 1.0
        // 20 requests a millisecond apart over 20 ms, then 10 ms more: 1,000 requests/s.
        var t = 0.0
        for _ in 0..<60 {
            p.requestArrived(now: t)
            t += 0.001
        }
        #expect(abs(p.arrivalRate - 1000) < 50)
        #expect(abs(p.rate - 1000) < 50)
        // A burst of 10 replies at once: 4 go, the next is due a millisecond later.
        var sent = 0
        for _ in 0..<10 where p.take(now: t) { sent += 1 }
        #expect(sent == 4)
        #expect(abs(p.nextTokenAt(now: t) - (t + 0.001)) < 0.0001)
        let early = p.take(now: t + 0.0005)
        let due = p.take(now: t + 0.0011)
        #expect(!early && due)
    }

    @Test func aQuietListenerAnswersAtOnceAndARisingLoadIsNotHeldBack() {
        var p = ReplyPacer(now: 0)
        p.minimumRate = 4000
        #expect(p.rate == 4000)
        var atOnce = 0
        for _ in 0..<16 where p.take(now: 0) { atOnce += 1 }
        #expect(atOnce == 16)
        // The load jumps to 20,000 requests/s: the first full window lifts the pace at once.
        var t = 0.0
        for _ in 0..<1100 {
            p.requestArrived(now: t)
            t += 0.00005
        }
        #expect(p.rate >= 1.25 * 19_000)
    }
}
