import NIOCore
import Testing
@testable import TFTP

/// The admission table as event -> decision scripts with fake time.
@Suite struct TFTPAdmissionTests {
    typealias ID = TFTPAdmission.SessionID

    /// Admits a request and opens its socket; returns its id.
    func admitAndOpen(_ a: inout TFTPAdmission, now: NIODeadline) -> ID? {
        guard case .admit(let id, _, _) = a.requestReceived(now: now), a.opened(id, now: now) else { return nil }
        return id
    }

    @Test func admitsUpToTheLimitThenRefusesWhenEveryTransferIsMoving() throws {
        var a = TFTPAdmission(maxSessions: 2)
        let one = try #require(admitAndOpen(&a, now: at(0)))
        let two = try #require(admitAndOpen(&a, now: at(1)))
        a.progressed(one)
        a.progressed(two)
        let result1 = a.requestReceived(now: at(2))
        #expect(result1 == .refuse(.error(.notDefined, "server busy")))
        #expect(a.stats.refused == 1 && a.stats.active == 2 && a.stats.started == 2)
        a.ended(one, .completed(bytes: 100))
        #expect(a.stats.completed == 1 && a.stats.bytesServed == 100 && a.stats.active == 1)
        guard case .admit(_, .ephemeral, evicting: nil) = a.requestReceived(now: at(3)) else {
            Issue.record("a free place was not given"); return
        }
    }

    /// A size probe frees its place and is counted as neither a completion nor a failure.
    @Test func aSizeProbeIsCountedApart() throws {
        var a = TFTPAdmission(maxSessions: 1)
        let probe = try #require(admitAndOpen(&a, now: at(0)))
        a.ended(probe, .probed)
        #expect(a.stats.probed == 1 && a.stats.failed == 0 && a.stats.completed == 0 && a.stats.active == 0)
        #expect(a.isEmpty)
    }

    @Test func aFullTableEvictsTheOldestTransferThatNeverProgressed() throws {
        var a = TFTPAdmission(maxSessions: 3)
        let moving = try #require(admitAndOpen(&a, now: at(0)))
        let idleOld = try #require(admitAndOpen(&a, now: at(1)))
        let idleNew = try #require(admitAndOpen(&a, now: at(2)))
        a.progressed(moving)
        guard case .admit(let fourth, _, evicting: let victim) = a.requestReceived(now: at(3)) else {
            Issue.record("not admitted"); return
        }
        #expect(victim == idleOld)
        #expect(a.stats.evicted == 1)
        let result2 = a.opened(fourth, now: at(3))
        #expect(result2)
        #expect(a.running == [moving, idleNew, fourth])
        // The evicted transfer's thread reports its end later: counted as failed, table untouched.
        a.ended(idleOld, .failed(bytes: 0))
        #expect(a.stats.failed == 1 && a.stats.active == 3)
        // Next eviction takes the next oldest idle one, never the moving one.
        guard case .admit(_, _, evicting: idleNew) = a.requestReceived(now: at(4)) else {
            Issue.record("wrong victim"); return
        }
    }

    @Test func transfersBeingOpenedCountButCannotBeEvicted() throws {
        var a = TFTPAdmission(maxSessions: 1)
        guard case .admit(let opening, _, nil) = a.requestReceived(now: at(0)) else { Issue.record("not admitted"); return }
        let result3 = a.requestReceived(now: at(1))
        #expect(result3 == .refuse(.error(.notDefined, "server busy")))
        // The jail refused the first one: its place is free again and it counts as refused.
        a.ended(opening, .refused)
        #expect(a.stats.refused == 2 && a.stats.started == 0 && a.isEmpty)
    }

    @Test func portRangeRotatesAndFallsThroughToTheNextPorts() {
        var a = TFTPAdmission(maxSessions: 10, portRange: 7000...7002)
        var firsts: [[Int]] = []
        for n in 0..<4 {
            guard case .admit(_, let ports, _) = a.requestReceived(now: at(Double(n))) else { continue }
            firsts.append(ports.candidates)
        }
        #expect(firsts == [[7000, 7001, 7002], [7001, 7002, 7000], [7002, 7000, 7001], [7000, 7001, 7002]])
    }

    @Test func stoppingRefusesNewRequestsAndDropsTransfersStillOpening() throws {
        var a = TFTPAdmission(maxSessions: 5)
        let running = try #require(admitAndOpen(&a, now: at(0)))
        guard case .admit(let opening, _, _) = a.requestReceived(now: at(1)) else { Issue.record("not admitted"); return }
        a.stopAccepting()
        let result4 = a.requestReceived(now: at(2))
        #expect(result4 == .refuse(.error(.notDefined, "server shutting down")))
        let result5 = a.opened(opening, now: at(2))
        #expect(!result5)
        #expect(a.running == [running] && !a.isEmpty)
        a.ended(running, .completed(bytes: 0))
        #expect(a.isEmpty)
    }

    @Test func aThreadThatCannotStartCountsAsFailed() throws {
        var a = TFTPAdmission(maxSessions: 5)
        let id = try #require(admitAndOpen(&a, now: at(0)))
        a.ended(id, .abandoned)
        #expect(a.stats.failed == 1 && a.stats.active == 0 && a.isEmpty)
        a.malformedRequest()
        #expect(a.stats.malformed == 1)
    }
}


/// The server side of a write: commit before the final ACK, then dally.
@Suite struct UploadCommitAndDallyTests {
    let policy = RetransmitPolicy(timeout: .seconds(1), maxTimeout: .seconds(4), retries: 3)
    func data(_ b: UInt16, _ n: Int) -> TFTPPacket { .data(block: b, payload: ByteBuffer(bytes: bytes(n))) }
    func session() -> ReceiveSession<MemorySink> {
        ReceiveSession(sink: MemorySink(), parameters: params(), optionAck: nil, policy: policy,
                       completion: .commitThenDally(.seconds(2)))
    }

    @Test func commitThenFinalAckThenDallyThenClose() {
        var r = session()
        #expect(r.start(now: t0) == .send([.ack(block: 0)]))
        #expect(r.received(data(1, 512), now: at(0.1)) == .send([.ack(block: 1)]))
        // The last block: nothing may be acknowledged before the file is durable.
        #expect(r.received(data(2, 10), now: at(0.2)) == .commit)
        #expect(r.sink.finished && r.sink.bytes.count == 522)
        #expect(r.nextDeadline == nil && !r.isFinished)
        // While committing, a resent last block gets no ACK and no timer runs.
        #expect(r.received(data(2, 10), now: at(0.25)) == .none)
        #expect(r.tick(now: at(9)) == .none)
        #expect(r.committed(now: at(0.3)) == .dally(.completed, send: [.ack(block: 2)], until: at(2.3)))
        #expect(r.isFinished && r.nextDeadline == at(2.3))
        // The client lost the final ACK and resends its last block: the ACK again, once per resend.
        #expect(r.received(data(2, 10), now: at(1.0)) == .send([.ack(block: 2)]))
        #expect(r.received(.ack(block: 9), now: at(1.1)) == .none)
        #expect(r.tick(now: at(2.0)) == .none)
        #expect(r.tick(now: at(2.3)) == .close)
        #expect(r.nextDeadline == nil)
        #expect(r.received(data(2, 10), now: at(2.5)) == .none)
    }

    @Test func aFailedCommitSendsAnErrorInsteadOfTheFinalAck() {
        var r = session()
        _ = r.start(now: t0)
        #expect(r.received(data(1, 100), now: at(0.1)) == .commit)
        #expect(r.commitFailed(code: .diskFull, message: "fsync failed", now: at(0.2))
                == .finish(.failed("fsync failed"), send: [.error(.diskFull, "fsync failed")]))
        #expect(r.isFinished && r.nextDeadline == nil)
        #expect(r.received(data(1, 100), now: at(0.5)) == .none)
    }

    @Test func noDallyTimeFinishesAtOnceAfterTheCommit() {
        var r = ReceiveSession(sink: MemorySink(), parameters: params(), optionAck: nil, policy: policy,
                               completion: .commitThenDally(.zero))
        _ = r.start(now: t0)
        #expect(r.received(data(1, 0), now: at(0.1)) == .commit)
        #expect(r.committed(now: at(0.2)) == .finish(.completed, send: [.ack(block: 1)]))
    }

    @Test func commitResultsOutsideACommitAreIgnored() {
        var r = session()
        _ = r.start(now: t0)
        #expect(r.committed(now: at(0.1)) == .none)
        #expect(r.commitFailed(code: .diskFull, message: "x", now: at(0.1)) == .none)
        #expect(r.received(data(1, 512), now: at(0.2)) == .send([.ack(block: 1)]))
    }
}

@Suite struct DeadlineHeapTests {
    @Test func popsInDeadlineOrder() {
        var heap = DeadlineHeap()
        var generator = SystemRandomNumberGenerator()
        let base = NIODeadline.now()
        let offsets = (0..<500).map { _ in Int64.random(in: 0..<10_000, using: &generator) }
        for (i, offset) in offsets.enumerated() {
            heap.push(DeadlineHeap.Entry(deadline: base + .milliseconds(offset), slot: i, generation: 1))
        }
        #expect(heap.count == 500)
        var popped: [Int64] = []
        while let entry = heap.pop() { popped.append((entry.deadline - base).nanoseconds / 1_000_000) }
        #expect(popped == offsets.sorted())
        #expect(heap.first == nil)
    }
}
