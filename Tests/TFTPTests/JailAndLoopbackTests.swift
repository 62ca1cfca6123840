import Foundation
import NIOCore
import NIOPosix
import Logging
import Testing
@testable import TFTP

/// A throwaway directory tree: base/root (the TFTP root), base/root2 (a sibling), base/secret.
struct Fixture {
    let base: String
    var root: String { base + "/root" }

    init() throws {
        base = NSTemporaryDirectory() + "pxed-jail-\(UUID().uuidString)"
        let fm = FileManager.default
        try fm.createDirectory(atPath: base + "/root/sub", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: base + "/root2", withIntermediateDirectories: true)
        try "secret".write(toFile: base + "/secret", atomically: true, encoding: .utf8)
        try "sibling".write(toFile: base + "/root2/file", atomically: true, encoding: .utf8)
        try "ok".write(toFile: base + "/root/sub/file.txt", atomically: true, encoding: .utf8)
        try fm.createSymbolicLink(atPath: base + "/root/out", withDestinationPath: base + "/secret")
        try fm.createSymbolicLink(atPath: base + "/root/outdir", withDestinationPath: base + "/root2")
        try fm.createSymbolicLink(atPath: base + "/root/in", withDestinationPath: "sub/file.txt")
    }

    func remove() { try? FileManager.default.removeItem(atPath: base) }
}

@Suite struct PathJailTests {
    @Test(arguments: ["../secret", "sub/../../secret", "..\\secret", "a/\u{01}b", "", "/", "./.", "sub/..//..//x"])
    func refusedNames(_ name: String) throws {
        let f = try Fixture()
        defer { f.remove() }
        let jail = try PathJail(root: f.root)
        #expect(throws: PathJail.Refusal.self) { try jail.openForReading(name) }
    }

    @Test func symlinksLeavingTheRootAreRefusedButInsideOnesWork() throws {
        let f = try Fixture()
        defer { f.remove() }
        let jail = try PathJail(root: f.root)
        #expect(throws: PathJail.Refusal.accessViolation("outside the root")) { try jail.openForReading("out") }
        #expect(throws: PathJail.Refusal.accessViolation("outside the root")) { try jail.openForReading("outdir/file") }
        let inside = try jail.openForReading("in")
        close(inside.fd)
        #expect(inside.size == 2)
    }

    @Test func absoluteAndBackslashNamesMeanTheRoot() throws {
        let f = try Fixture()
        defer { f.remove() }
        let jail = try PathJail(root: f.root)
        let a = try jail.openForReading("/sub/file.txt"); close(a.fd)
        let b = try jail.openForReading("\\sub\\file.txt"); close(b.fd)
        #expect(throws: PathJail.Refusal.notFound) { try jail.openForReading("/etc/passwd") }
        #expect(throws: PathJail.Refusal.accessViolation("not a regular file")) { try jail.openForReading("sub") }
    }

    @Test func siblingPrefixIsNotInside() throws {
        let f = try Fixture()
        defer { f.remove() }
        // A jail whose check were a bare string prefix would accept root2 for root.
        let jail = try PathJail(root: f.root)
        #expect(throws: PathJail.Refusal.self) { try jail.openForReading("../root2/file") }
        #expect(throws: PathJail.Refusal.self) { try jail.createForWriting("outdir/new", overwrite: false) }
    }

    @Test func uploadsNeverFollowSymlinksOrOverwriteUnlessAllowed() throws {
        let f = try Fixture()
        defer { f.remove() }
        let jail = try PathJail(root: f.root)
        #expect(throws: PathJail.Refusal.accessViolation("target is a symbolic link")) { try jail.createForWriting("out", overwrite: true) }
        #expect(throws: PathJail.Refusal.exists) { try jail.createForWriting("sub/file.txt", overwrite: false) }
        let w = try jail.createForWriting("sub/new.bin", overwrite: false)
        _ = "data".withCString { write(w.fd, $0, 4) }
        try PathJail.commitUpload(fd: w.fd, temp: w.temp, final: w.final, overwrite: false)
        close(w.fd)
        #expect(try String(contentsOfFile: f.root + "/sub/new.bin", encoding: .utf8) == "data")
        #expect(!FileManager.default.fileExists(atPath: w.temp))
        #expect(try String(contentsOfFile: f.base + "/secret", encoding: .utf8) == "secret")
    }
}

/// A few transfers over real loopback sockets: the server and client libraries end to end.
@Suite(.serialized) struct LoopbackTests {
    func startServer(_ f: Fixture, runner: TransferRunner = .shared,
                     configure: (inout TFTPServerConfiguration) -> Void = { _ in }) async throws -> TFTPServer {
        var config = TFTPServerConfiguration(root: f.root, address: "127.0.0.1", port: 0)
        configure(&config)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return try await TFTPServer.start(group: MultiThreadedEventLoopGroup.singleton, configuration: config, logger: logger,
                                          runner: runner)
    }

    /// One runner thread interleaves many transfers (lockstep and windowed, downloads and
    /// uploads) and the retransmit timers of clients that went silent, which time out while the
    /// others carry on.
    @Test func oneRunnerThreadServesManyTransfersAndTheirTimers() async throws {
        let f = try Fixture()
        defer { f.remove() }
        let payload = (0..<100_003).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        _ = FileManager.default.createFile(atPath: f.root + "/data.bin", contents: Data(payload))
        let server = try await startServer(f, runner: TransferRunner(threads: 1)) {
            $0.uploads = true; $0.timeout = 1; $0.retries = 1
        }
        let raw = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        for _ in 0..<2 {
            let rrq = TFTPPacket.readRequest(TFTPRequest(filename: "data.bin", mode: .octet)).encoded()
            try await raw.writeAndFlush(AddressedEnvelope(remoteAddress: server.listenAddress, data: rrq))
        }
        let port = server.listenAddress.port!
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<40 {
                group.addTask {
                    var options = TFTPClientOptions()
                    options.blockSize = [512, 1468][i % 2]
                    options.windowSize = [1, 1, 8, 16][i % 4]
                    let client = TFTPClient(host: "127.0.0.1", port: port, options: options)
                    if i % 5 == 4 {
                        let put = try await client.put(f.root + "/data.bin", as: "sub/up-\(i).bin")
                        #expect(put.bytes == payload.count)
                    } else {
                        let (got, _) = try await client.get("data.bin")
                        #expect(got == payload)
                    }
                }
            }
            try await group.waitForAll()
        }
        for i in stride(from: 4, to: 40, by: 5) {
            #expect(FileManager.default.contents(atPath: f.root + "/sub/up-\(i).bin") == Data(payload))
        }
        // The silent clients' transfers give up after their retransmits (1 s, then 2 s).
        let deadline = NIODeadline.now() + .seconds(10)
        while server.stats.active > 0, NIODeadline.now() < deadline { try await Task.sleep(nanoseconds: 50_000_000) }
        #expect(server.stats.active == 0)
        #expect(server.stats.completed == 40)
        #expect(server.stats.failed == 2)
        try await raw.close()
        await server.stop(grace: .milliseconds(100))
    }

    // (1468, 64) and (8192, 16) exceed one GSO send (65,507 bytes): the writer must split them.
    @Test(arguments: [(512, 1), (1468, 1), (1468, 16), (8192, 4), (1468, 64), (8192, 16)])
    func getAndPutRoundTrip(block: Int, window: Int) async throws {
        let f = try Fixture()
        defer { f.remove() }
        let payload = (0..<300_001).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        _ = FileManager.default.createFile(atPath: f.root + "/data.bin", contents: Data(payload))
        let server = try await startServer(f) { $0.uploads = true; $0.limits.blockSizeMax = 8192 }
        var options = TFTPClientOptions()
        options.blockSize = block
        options.windowSize = window
        let client = TFTPClient(host: "127.0.0.1", port: server.listenAddress.port!, options: options)
        let (got, result) = try await client.get("data.bin")
        #expect(got == payload)
        #expect(result.parameters.blockSize == block && result.parameters.windowSize == window)
        #expect(result.parameters.transferSize == payload.count)
        let put = try await client.put(f.root + "/data.bin", as: "sub/copy-\(block)-\(window).bin")
        #expect(put.bytes == payload.count)
        #expect(FileManager.default.contents(atPath: f.root + "/sub/copy-\(block)-\(window).bin") == Data(payload))
        await server.stop(grace: .seconds(1))
    }

    /// Cancelling the task ends a client transfer at once (its socket is shut down and the
    /// runner forgets it), not after the retransmits run out.
    @Test func cancellingTheTaskEndsAClientTransfer() async throws {
        let silent = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        var options = TFTPClientOptions()
        options.timeout = 5
        let client = TFTPClient(host: "127.0.0.1", port: silent.localAddress!.port!, options: options)
        let task = Task { try await client.get("never") }
        try await Task.sleep(nanoseconds: 100_000_000)
        let cancelled = NIODeadline.now()
        task.cancel()
        await #expect(throws: TFTPClientError.transfer(.failed("cancelled"))) { try await task.value }
        #expect(NIODeadline.now() - cancelled < .seconds(1))
        try await silent.close()
    }

    @Test func refusalsReachTheClient() async throws {
        let f = try Fixture()
        defer { f.remove() }
        let server = try await startServer(f)
        let client = TFTPClient(host: "127.0.0.1", port: server.listenAddress.port!)
        await #expect(throws: TFTPClientError.transfer(.peerError(code: 1, message: "file not found"))) { try await client.get("nope") }
        await #expect(throws: TFTPClientError.transfer(.peerError(code: 2, message: "access violation: uploads are disabled"))) {
            try await client.put(f.root + "/sub/file.txt", as: "x")
        }
        #expect(server.stats.refused == 2)
        await server.stop(grace: .seconds(1))
    }

    @Test func fullTableEvictsAbandonedSessionsFirst() async throws {
        let f = try Fixture()
        defer { f.remove() }
        _ = FileManager.default.createFile(atPath: f.root + "/big", contents: Data(count: 100_000))
        let server = try await startServer(f) { $0.maxSessions = 3; $0.timeout = 5 }
        // Three requests that never acknowledge anything fill the table...
        let raw = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        for _ in 0..<3 {
            let rrq = TFTPPacket.readRequest(TFTPRequest(filename: "big", mode: .octet)).encoded()
            try await raw.writeAndFlush(AddressedEnvelope(remoteAddress: server.listenAddress, data: rrq))
        }
        try await Task.sleep(nanoseconds: 200_000_000)
        #expect(server.stats.active == 3)
        // ...and a real client still gets its file: an abandoned session is evicted for it.
        let client = TFTPClient(host: "127.0.0.1", port: server.listenAddress.port!)
        let (got, _) = try await client.get("big")
        #expect(got.count == 100_000)
        #expect(server.stats.evicted >= 1)
        try await raw.close()
        await server.stop(grace: .milliseconds(100))
    }

    @Test func reloadChangesRootForNextRequestOnly() async throws {
        let f = try Fixture()
        defer { f.remove() }
        let server = try await startServer(f)
        let client = TFTPClient(host: "127.0.0.1", port: server.listenAddress.port!)
        #expect(try await client.get("sub/file.txt").0 == Array("ok".utf8))
        var next = server.configuration
        next.root = f.base + "/root2"
        try server.apply(next)
        #expect(try await client.get("file").0 == Array("sibling".utf8))
        next.root = f.base + "/missing"
        #expect(throws: TFTPServerError.self) { try server.apply(next) }
        #expect(try await client.get("file").0 == Array("sibling".utf8))
        await server.stop(grace: .seconds(1))
    }

    /// A plain UDP socket for the tests that play a peer by hand.
    final class Probe: ChannelInboundHandler, @unchecked Sendable {
        // @unchecked: `continuation` is set once before the channel is active and is thread-safe.
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        let received: AsyncStream<AddressedEnvelope<ByteBuffer>>
        private let continuation: AsyncStream<AddressedEnvelope<ByteBuffer>>.Continuation
        var channel: (any Channel)!

        init() { (received, continuation) = AsyncStream.makeStream() }

        static func open() async throws -> Probe {
            let probe = Probe()
            probe.channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelInitializer { $0.pipeline.addHandler(probe) }
                .bind(host: "127.0.0.1", port: 0).get()
            return probe
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) { continuation.yield(unwrapInboundIn(data)) }

        func send(_ packet: TFTPPacket, to address: SocketAddress) async throws {
            try await channel.writeAndFlush(AddressedEnvelope(remoteAddress: address, data: packet.encoded()))
        }

        /// The next datagram, decoded, with its sender; fails after two seconds.
        func next() async throws -> (TFTPPacket, SocketAddress) {
            let stream = received
            return try await withThrowingTaskGroup(of: (TFTPPacket, SocketAddress)?.self) { group in
                group.addTask {
                    for await e in stream { return (try TFTPPacket.decode(e.data), e.remoteAddress) }
                    return nil
                }
                group.addTask { try await Task.sleep(nanoseconds: 2_000_000_000); return nil }
                defer { group.cancelAll() }
                guard let first = try await group.next(), let got = first else { throw CancellationError() }
                return got
            }
        }
    }

    // Transfer sockets are connected to their peer; a companion on the same port answers the rest.
    // Connected: the companion socket answers; unconnected (the fallback): the transfer's own.
    @Test(arguments: [true, false])
    func serverAnswersAnotherTIDWithError5AndCarriesOn(connected: Bool) async throws {
        let f = try Fixture()
        defer { f.remove() }
        _ = FileManager.default.createFile(atPath: f.root + "/three", contents: Data(count: 1200))
        let server = try await startServer(f) { $0.connectTransferSockets = connected }
        let client = try await Probe.open(), stranger = try await Probe.open()
        try await client.send(.readRequest(TFTPRequest(filename: "three", mode: .octet)), to: server.listenAddress)
        let (first, tid) = try await client.next()
        guard case .data(1, _) = first else { Issue.record("expected DATA 1, got \(first)"); return }
        try await stranger.send(.ack(block: 1), to: tid)
        let (answer, from) = try await stranger.next()
        #expect(answer == .error(.unknownTransferID, "unknown transfer ID"))
        #expect(from == tid)
        try await client.send(.ack(block: 1), to: tid)
        let (second, _) = try await client.next()
        guard case .data(2, _) = second else { Issue.record("expected DATA 2, got \(second)"); return }
        try await client.send(.ack(block: 2), to: tid)
        let (third, _) = try await client.next()
        guard case .data(3, let last) = third else { Issue.record("expected DATA 3, got \(third)"); return }
        #expect(last.readableBytes == 1200 - 1024)
        try await client.send(.ack(block: 3), to: tid)
        try await client.channel.close()
        try await stranger.channel.close()
        await server.stop(grace: .milliseconds(100))
    }

    @Test func clientAnswersAnotherTIDWithError5AndCarriesOn() async throws {
        let fakeServer = try await Probe.open(), stranger = try await Probe.open()
        var options = TFTPClientOptions()
        options.rfc1350 = true
        let client = TFTPClient(host: "127.0.0.1", port: fakeServer.channel.localAddress!.port!, options: options)
        let download = Task { try await client.get("x") }
        let (request, clientAddress) = try await fakeServer.next()
        guard case .readRequest = request else { Issue.record("expected RRQ, got \(request)"); return }
        try await fakeServer.send(.data(block: 1, payload: ByteBuffer(repeating: 0x61, count: 512)), to: clientAddress)
        #expect(try await fakeServer.next().0 == .ack(block: 1))
        try await stranger.send(.data(block: 2, payload: ByteBuffer(string: "x")), to: clientAddress)
        let (answer, from) = try await stranger.next()
        #expect(answer == .error(.unknownTransferID, "unknown transfer ID"))
        #expect(from == clientAddress)
        try await fakeServer.send(.data(block: 2, payload: ByteBuffer(string: "end")), to: clientAddress)
        let (bytes, _) = try await download.value
        #expect(bytes.count == 515)
        try await fakeServer.channel.close()
        try await stranger.channel.close()
    }
}
