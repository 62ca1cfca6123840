import Foundation
import Logging
import NIOPosix
import NIOConcurrencyHelpers
import Testing
@testable import TFTP

/// The interactive `ptftp` shell, driven line by line as a user would type.
@Suite(.serialized) struct ClientShellTests {
    final class Output: Sendable {
        let lines = NIOLockedValueBox<[String]>([])
        func append(_ s: String) { lines.withLockedValue { $0.append(s) } }
        var last: String { lines.withLockedValue { $0.last ?? "" } }
    }

    @Test func settingsCommandsAndErrors() async {
        let out = Output()
        var shell = ClientShell(output: out.append)
        #expect(await shell.execute("mode netascii") == .ok)
        #expect(await shell.execute("blksize 1024") == .ok)
        #expect(await shell.execute("windowsize 16") == .ok)
        #expect(await shell.execute("tsize off") == .ok)
        #expect(await shell.execute("rfc1350 on") == .ok)
        #expect(await shell.execute("connect example.invalid 6969") == .ok)
        #expect(await shell.execute("status") == .ok)
        #expect(out.last == "server example.invalid:6969, mode netascii, blksize 1024, windowsize 16, tsize off, rfc1350 on, verbose off")
        #expect(await shell.execute("blksize 7") == .failed)
        #expect(out.last == "Error: usage: blksize N (8..65464)")
        #expect(await shell.execute("mode mail") == .failed)
        #expect(await shell.execute("connect h 70000") == .failed)
        #expect(await shell.execute("frobnicate") == .failed)
        #expect(out.last == "Error: unknown command 'frobnicate' (try 'help')")
        #expect(await shell.execute("") == .ok)
        #expect(await shell.execute("help") == .ok)
        #expect(out.last.contains("get [-f] REMOTE [LOCAL]"))
        #expect(await shell.execute("quit") == .quit)
    }

    @Test func getAndPutThroughTheShell() async throws {
        let f = try Fixture()
        defer { f.remove() }
        var config = TFTPServerConfiguration(root: f.root, address: "127.0.0.1", port: 0)
        config.uploads = true
        var logger = Logger(label: "t")
        logger.logLevel = .critical
        let server = try await TFTPServer.start(group: MultiThreadedEventLoopGroup.singleton, configuration: config, logger: logger)
        let out = Output()
        var shell = ClientShell(output: out.append)
        #expect(await shell.execute("get sub/file.txt") == .failed)          // not connected yet
        #expect(out.last == "Error: not connected (use 'connect HOST [PORT]')")
        #expect(await shell.execute("connect 127.0.0.1 \(server.listenAddress.port!)") == .ok)
        let local = f.base + "/local.txt"
        #expect(await shell.execute("get sub/file.txt \(local)") == .ok)
        #expect(out.last.hasPrefix("Received 2 bytes in "))
        #expect(try String(contentsOfFile: local, encoding: .utf8) == "ok")
        #expect(await shell.execute("get sub/file.txt \(local)") == .failed)  // exists: needs -f
        #expect(out.last.contains("already exists"))
        #expect(await shell.execute("get -f sub/file.txt \(local)") == .ok)
        #expect(await shell.execute("put \(local) sub/up.txt") == .ok)
        #expect(out.last.hasPrefix("Sent 2 bytes in "))
        #expect(try String(contentsOfFile: f.root + "/sub/up.txt", encoding: .utf8) == "ok")
        #expect(await shell.execute("get missing.bin \(f.base)/m") == .failed)
        #expect(out.last == "Error: get missing.bin: server error 1: file not found")
        #expect(!FileManager.default.fileExists(atPath: f.base + "/m"))      // nothing left behind
        await server.stop(grace: .seconds(1))
    }
}
