import NIOCore
import Testing
@testable import TFTP

let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000)
func at(_ seconds: Double) -> NIODeadline { t0 + .nanoseconds(Int64(seconds * 1e9)) }

func bytes(_ n: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) } }

func params(block: Int = 512, window: Int = 1) -> TransferParameters {
    var p = TransferParameters()
    p.blockSize = block
    p.windowSize = window
    return p
}

func dataBlocks(_ action: SessionAction) -> [UInt16] {
    guard case .send(let packets) = action else { return [] }
    return packets.compactMap { if case .data(let b, _) = $0 { b } else { nil } }
}

/// Reads every DATA block out of `session`, ACKing each window; returns the reassembled bytes.
func drain<S: BlockSource>(_ s: inout SendSession<S>, first: SessionAction) -> ([UInt8], SessionAction) {
    var out: [UInt8] = []
    var action = first
    var now = 0.0
    while case .send(let packets) = action {
        var last: UInt16 = 0
        for p in packets { if case .data(let b, let payload) = p { out += payload.readableBytesView; last = b } }
        now += 0.001
        action = s.received(.ack(block: last), now: at(now))
    }
    return (out, action)
}

@Suite struct SendSessionTests {
    let policy = RetransmitPolicy(timeout: .seconds(1), maxTimeout: .seconds(4), retries: 3)

    @Test func lockstepSendsWholeFileAndFinishesOnLastAck() {
        let file = bytes(1100)
        var s = SendSession(source: MemorySource(file), parameters: params(), optionAck: nil, policy: policy)
        let first = s.start(now: t0)
        #expect(dataBlocks(first) == [1])
        let (got, end) = drain(&s, first: first)
        #expect(got == file)
        #expect(end == .finish(.completed, send: []))
    }

    @Test func exactMultipleEndsWithEmptyBlock() {
        var s = SendSession(source: MemorySource(bytes(1024)), parameters: params(), optionAck: nil, policy: policy)
        #expect(dataBlocks(s.start(now: t0)) == [1])
        #expect(dataBlocks(s.received(.ack(block: 1), now: t0)) == [2])
        let last = s.received(.ack(block: 2), now: t0)
        #expect(last == .send([.data(block: 3, payload: ByteBuffer())]))
        #expect(s.received(.ack(block: 3), now: t0) == .finish(.completed, send: []))
    }

    @Test func duplicateAckNeverResends() {
        // RFC 1123 4.2.3.1: the Sorcerer's Apprentice bug is resending on a duplicate ACK.
        var s = SendSession(source: MemorySource(bytes(2000)), parameters: params(), optionAck: nil, policy: policy)
        _ = s.start(now: t0)
        #expect(dataBlocks(s.received(.ack(block: 1), now: t0)) == [2])
        #expect(s.received(.ack(block: 1), now: t0) == .none)
        #expect(s.received(.ack(block: 0), now: t0) == .none)
        #expect(s.received(.ack(block: 9), now: t0) == .none)   // never sent: ignored
        #expect(s.stats.retransmits == 0)
    }

    @Test func timeoutResendsWithBackoffThenGivesUp() {
        var s = SendSession(source: MemorySource(bytes(2000)), parameters: params(), optionAck: nil, policy: policy)
        _ = s.start(now: t0)
        #expect(s.tick(now: at(0.5)) == .none)
        #expect(dataBlocks(s.tick(now: at(1.0))) == [1])
        #expect(s.nextDeadline == at(3.0))            // doubled
        #expect(dataBlocks(s.tick(now: at(3.0))) == [1])
        #expect(s.nextDeadline == at(7.0))            // capped at 4 s
        #expect(dataBlocks(s.tick(now: at(7.0))) == [1])
        #expect(s.tick(now: at(11.0)) == .finish(.timedOut, send: [.error(.notDefined, "timed out")]))
        #expect(s.stats.retransmits == 3)
    }

    @Test func missingFinalAckIsNotAnError() {
        var s = SendSession(source: MemorySource(bytes(100)), parameters: params(), optionAck: nil, policy: policy)
        _ = s.start(now: t0)
        var now = 0.0
        var action = SessionAction.none
        for _ in 0..<4 { now += 10; action = s.tick(now: at(now)) }
        #expect(action == .finish(.completedUnconfirmed, send: []))
    }

    @Test func oackHandshakeWaitsForAckZero() {
        var s = SendSession(source: MemorySource(bytes(600)), parameters: params(), optionAck: [TFTPOption("tsize", "600")], policy: policy)
        #expect(s.start(now: t0) == .send([.optionAck([TFTPOption("tsize", "600")])]))
        #expect(s.received(.ack(block: 1), now: t0) == .none)
        #expect(s.tick(now: at(1)) == .send([.optionAck([TFTPOption("tsize", "600")])]))
        #expect(dataBlocks(s.received(.ack(block: 0), now: at(1.1))) == [1])
    }

    @Test func tsizeProbeAbortIsQuiet() {
        var s = SendSession(source: MemorySource(bytes(600)), parameters: params(), optionAck: [TFTPOption("tsize", "600")], policy: policy)
        _ = s.start(now: t0)
        #expect(s.received(.error(code: 8, message: "tsize"), now: t0) == .finish(.sizeProbe(code: 8, message: "tsize"), send: []))
        #expect(s.isFinished)
        #expect(TransferOutcome.sizeProbe(code: 8, message: "").isFailure == false)
    }

    /// An ERROR after an OACK without tsize, or once data flows, is the client giving up.
    @Test func errorsThatAreNotSizeProbes() {
        var s = SendSession(source: MemorySource(bytes(600)), parameters: params(), optionAck: [TFTPOption("blksize", "512")], policy: policy)
        _ = s.start(now: t0)
        #expect(s.received(.error(code: 8, message: "no"), now: t0) == .finish(.peerError(code: 8, message: "no"), send: []))
        var t = SendSession(source: MemorySource(bytes(600)), parameters: params(), optionAck: [TFTPOption("tsize", "600")], policy: policy)
        _ = t.start(now: t0)
        _ = t.received(.ack(block: 0), now: t0)
        #expect(t.received(.error(code: 0, message: "abort"), now: t0) == .finish(.peerError(code: 0, message: "abort"), send: []))
    }

    @Test func blockNumbersRollOverToZero() {
        let blocks = 70_000
        var s = SendSession(source: MemorySource(bytes(blocks * 8 + 3)), parameters: params(block: 8), optionAck: nil, policy: policy)
        let (got, end) = drain(&s, first: s.start(now: t0))
        #expect(got.count == blocks * 8 + 3)
        #expect(end == .finish(.completed, send: []))
        #expect(s.stats.blocks == blocks + 1)
    }

    @Test func windowSendsBurstAndAdvancesOnAck() {
        var s = SendSession(source: MemorySource(bytes(512 * 10 + 1)), parameters: params(window: 4), optionAck: nil, policy: policy)
        #expect(dataBlocks(s.start(now: t0)) == [1, 2, 3, 4])
        #expect(dataBlocks(s.received(.ack(block: 4), now: t0)) == [5, 6, 7, 8])
        // The receiver lost block 6: it ACKs 5, so the window restarts at 6.
        #expect(dataBlocks(s.received(.ack(block: 5), now: t0)) == [6, 7, 8, 9])
        #expect(dataBlocks(s.received(.ack(block: 5), now: t0)) == [])       // duplicate: nothing
        #expect(dataBlocks(s.tick(now: at(1))) == [6, 7, 8, 9])            // timeout: resend window
        #expect(dataBlocks(s.received(.ack(block: 9), now: at(1.1))) == [10, 11])
        #expect(s.received(.ack(block: 11), now: at(1.2)) == .finish(.completed, send: []))
    }

    @Test func windowAcrossRollover() {
        var s = SendSession(source: MemorySource(bytes(8 * 65540)), parameters: params(block: 8, window: 7), optionAck: nil, policy: policy)
        let (got, end) = drain(&s, first: s.start(now: t0))
        #expect(got.count == 8 * 65540)
        #expect(end == .finish(.completed, send: []))
    }

    @Test func unexpectedPacketIsIllegalOperation() {
        var s = SendSession(source: MemorySource(bytes(10)), parameters: params(), optionAck: nil, policy: policy)
        _ = s.start(now: t0)
        guard case .finish(.failed, let send) = s.received(.data(block: 1, payload: ByteBuffer()), now: t0) else {
            Issue.record("DATA to a sender must fail the session"); return
        }
        #expect(send == [.error(.illegalOperation, "unexpected packet")])
    }

    @Test func clientPutAcceptsOackOrAckZero() {
        let req = TFTPRequest(filename: "x", mode: .octet, options: [TFTPOption("blksize", "1024")])
        var s = SendSession(source: MemorySource(bytes(1500)), writeRequest: req, policy: policy)
        #expect(s.start(now: t0) == .send([.writeRequest(req)]))
        guard case .send(let p) = s.received(.optionAck([TFTPOption("blksize", "1000")]), now: t0),
              case .data(1, let payload) = p.first else { Issue.record("no data after OACK"); return }
        #expect(payload.readableBytes == 1000)
        var plain = SendSession(source: MemorySource(bytes(10)), writeRequest: req, policy: policy)
        _ = plain.start(now: t0)
        #expect(dataBlocks(plain.received(.ack(block: 0), now: t0)) == [1])
        var bad = SendSession(source: MemorySource(bytes(10)), writeRequest: req, policy: policy)
        _ = bad.start(now: t0)
        guard case .finish(.failed, let send) = bad.received(.optionAck([TFTPOption("blksize", "4096")]), now: t0) else {
            Issue.record("raised blksize must be refused"); return
        }
        #expect(send.first?.opcode == 5)
    }
}

@Suite struct ReceiveSessionTests {
    let policy = RetransmitPolicy(timeout: .seconds(1), maxTimeout: .seconds(4), retries: 3)
    func data(_ b: UInt16, _ n: Int) -> TFTPPacket { .data(block: b, payload: ByteBuffer(bytes: bytes(n))) }

    @Test func serverWriteAcksEachBlockAndFinishes() {
        var r = ReceiveSession(sink: MemorySink(), parameters: params(), optionAck: nil, policy: policy)
        #expect(r.start(now: t0) == .send([.ack(block: 0)]))
        #expect(r.received(data(1, 512), now: t0) == .send([.ack(block: 1)]))
        #expect(r.received(data(2, 10), now: t0) == .finish(.completed, send: [.ack(block: 2)]))
        #expect(r.sink.bytes.count == 522 && r.sink.finished)
    }

    @Test func duplicateDataIsReAckedNotRewritten() {
        var r = ReceiveSession(sink: MemorySink(), parameters: params(), optionAck: nil, policy: policy)
        _ = r.start(now: t0)
        _ = r.received(data(1, 512), now: t0)
        #expect(r.received(data(1, 512), now: t0) == .send([.ack(block: 1)]))
        #expect(r.sink.bytes.count == 512)
    }

    @Test func lostDataIsRecoveredByTimeoutReAck() {
        var r = ReceiveSession(sink: MemorySink(), parameters: params(), optionAck: nil, policy: policy)
        _ = r.start(now: t0)
        _ = r.received(data(1, 512), now: t0)
        #expect(r.tick(now: at(1)) == .send([.ack(block: 1)]))
        #expect(r.received(data(2, 1), now: at(1.5)) == .finish(.completed, send: [.ack(block: 2)]))
    }

    @Test func windowedReceiveAcksAtWindowEndAndOnGap() {
        var r = ReceiveSession(sink: MemorySink(), parameters: params(window: 3), optionAck: [TFTPOption("windowsize", "3")], policy: policy)
        #expect(r.start(now: t0) == .send([.optionAck([TFTPOption("windowsize", "3")])]))
        #expect(r.received(data(1, 512), now: t0) == .none)
        #expect(r.received(data(2, 512), now: t0) == .none)
        #expect(r.received(data(3, 512), now: t0) == .send([.ack(block: 3)]))
        #expect(r.received(data(5, 512), now: t0) == .send([.ack(block: 3)]))   // 4 lost
        #expect(r.received(data(6, 512), now: t0) == .none)                      // said once
        #expect(r.received(data(4, 512), now: t0) == .none)
        #expect(r.received(data(5, 512), now: t0) == .none)
        #expect(r.received(data(6, 100), now: t0) == .finish(.completed, send: [.ack(block: 6)]))
        #expect(r.sink.bytes.count == 512 * 5 + 100)
    }

    @Test func clientGetWithOackAndWithout() {
        let req = TFTPRequest(filename: "f", mode: .octet, options: [TFTPOption("blksize", "1024"), TFTPOption("tsize", "0")])
        var r = ReceiveSession(sink: MemorySink(), readRequest: req, policy: policy)
        #expect(r.start(now: t0) == .send([.readRequest(req)]))
        #expect(r.tick(now: at(1)) == .send([.readRequest(req)]))
        #expect(r.received(.optionAck([TFTPOption("blksize", "1024"), TFTPOption("tsize", "1030")]), now: at(1.1)) == .send([.ack(block: 0)]))
        #expect(r.parameters.transferSize == 1030)
        // Our ACK 0 got lost: the server repeats its OACK.
        #expect(r.received(.optionAck([TFTPOption("blksize", "1024")]), now: at(1.2)) == .send([.ack(block: 0)]))
        #expect(r.received(data(1, 1024), now: at(1.3)) == .send([.ack(block: 1)]))
        #expect(r.received(data(2, 6), now: at(1.4)) == .finish(.completed, send: [.ack(block: 2)]))

        // A server that ignores options answers with DATA 1 at 512 bytes.
        var plain = ReceiveSession(sink: MemorySink(), readRequest: req, policy: policy)
        _ = plain.start(now: t0)
        #expect(plain.received(data(1, 512), now: t0) == .send([.ack(block: 1)]))
        #expect(plain.parameters.blockSize == 512)
    }

    @Test func oversizedBlockIsRefused() {
        var r = ReceiveSession(sink: MemorySink(), parameters: params(), optionAck: nil, policy: policy)
        _ = r.start(now: t0)
        guard case .finish(.failed, _) = r.received(data(1, 513), now: t0) else { Issue.record("oversized accepted"); return }
    }

    @Test func rolloverOnReceive() {
        var r = ReceiveSession(sink: MemorySink(), parameters: params(block: 8), optionAck: nil, policy: policy)
        _ = r.start(now: t0)
        var absolute = 1
        var action = SessionAction.none
        while absolute <= 70_000 {
            action = r.received(data(UInt16(truncatingIfNeeded: absolute), absolute == 70_000 ? 3 : 8), now: t0)
            absolute += 1
        }
        #expect(action == .finish(.completed, send: [.ack(block: UInt16(truncatingIfNeeded: 70_000))]))
        #expect(r.sink.bytes.count == 69_999 * 8 + 3)
    }

    @Test func gaveUpAfterRetries() {
        var r = ReceiveSession(sink: MemorySink(), parameters: params(), optionAck: nil, policy: policy)
        _ = r.start(now: t0)
        _ = r.received(data(1, 512), now: t0)
        var last = SessionAction.none
        var now = 0.0
        for _ in 0..<4 { now += 10; last = r.tick(now: at(now)) }
        #expect(last == .finish(.timedOut, send: [.error(.notDefined, "timed out")]))
    }
}
