#if canImport(Glibc)
import Glibc
#endif

/// The interactive `ptftp` shell as a library type, so its commands are tested without a terminal.
/// Output goes through `output` (stdout in the tool); nothing here reads the terminal.
public struct ClientShell: Sendable {
    public var host: String?
    public var port: Int = 69
    public var options = TFTPClientOptions()
    public var verbose = false
    /// Draw a progress bar (the tool sets this when stdout is a terminal).
    public var progressBar = false
    public let output: @Sendable (String) -> Void

    public init(output: @escaping @Sendable (String) -> Void) { self.output = output }

    public static let help = """
        Commands:
          connect HOST [PORT]      set the server (port defaults to 69)
          get [-f] REMOTE [LOCAL]  download REMOTE (to LOCAL; -f overwrites an existing file)
          put LOCAL [REMOTE]       upload LOCAL (as REMOTE)
          mode octet|netascii      transfer mode (default octet)
          blksize N                block size to request, 8..65464 (512 sends no option)
          windowsize N             window size to request, 1..65535 (1 sends no option)
          tsize on|off             ask for / announce the transfer size
          rfc1350 on|off           no options at all (plain RFC 1350)
          verbose [on|off]         show negotiated options and retransmits
          status                   show the current settings
          help                     this text
          quit                     leave
        """

    public enum Outcome: Sendable, Equatable { case ok, failed, quit }

    /// Runs one command line. Returns `.failed` when the command did not do what it said.
    public mutating func execute(_ line: String) async -> Outcome {
        let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard let verb = words.first?.lowercased() else { return .ok }
        let args = Array(words.dropFirst())
        switch verb {
        case "quit", "q", "exit", "bye":
            return .quit
        case "help", "?", "h":
            output(ClientShell.help)
            return .ok
        case "connect", "c":
            guard (1...2).contains(args.count) else { return usage("connect HOST [PORT]") }
            if args.count == 2 {
                guard let p = Int(args[1]), (1...65535).contains(p) else { return fail("invalid port '\(args[1])'") }
                port = p
            }
            host = args[0]
            return .ok
        case "mode", "m":
            guard args.count == 1, let m = TFTPMode(rawValue: args[0].lowercased()) else {
                return usage("mode octet|netascii")
            }
            options.mode = m
            return .ok
        case "blksize", "b":
            guard args.count == 1, let n = Int(args[0]), OptionNegotiation.blockSizeRange.contains(n) else {
                return usage("blksize N (8..65464)")
            }
            options.blockSize = n
            return .ok
        case "windowsize", "w":
            guard args.count == 1, let n = Int(args[0]), OptionNegotiation.windowSizeRange.contains(n) else {
                return usage("windowsize N (1..65535)")
            }
            options.windowSize = n
            return .ok
        case "tsize":
            guard args.count == 1, let on = ClientShell.onOff(args[0]) else { return usage("tsize on|off") }
            options.transferSize = on
            return .ok
        case "rfc1350":
            guard args.count == 1, let on = ClientShell.onOff(args[0]) else { return usage("rfc1350 on|off") }
            options.rfc1350 = on
            return .ok
        case "verbose", "v":
            if args.isEmpty { verbose.toggle() } else {
                guard args.count == 1, let on = ClientShell.onOff(args[0]) else { return usage("verbose [on|off]") }
                verbose = on
            }
            output("verbose \(verbose ? "on" : "off")")
            return .ok
        case "status", "st":
            output(status)
            return .ok
        case "get", "g":
            var rest = args
            let force = rest.first == "-f"
            if force { rest.removeFirst() }
            guard (1...2).contains(rest.count) else { return usage("get [-f] REMOTE [LOCAL]") }
            let local = rest.count == 2 ? rest[1] : ClientShell.baseName(rest[0])
            return await transfer(isGet: true, remote: rest[0], local: local, force: force)
        case "put", "p":
            guard (1...2).contains(args.count) else { return usage("put LOCAL [REMOTE]") }
            let remote = args.count == 2 ? args[1] : ClientShell.baseName(args[0])
            return await transfer(isGet: false, remote: remote, local: args[0], force: false)
        default:
            return fail("unknown command '\(verb)' (try 'help')")
        }
    }

    public var status: String {
        let target = host.map { "\($0):\(port)" } ?? "not connected"
        let b = options.blockSize.map(String.init) ?? "512"
        let w = options.windowSize.map(String.init) ?? "1"
        return "server \(target), mode \(options.mode.rawValue), blksize \(b), windowsize \(w), tsize \(options.transferSize ? "on" : "off"), rfc1350 \(options.rfc1350 ? "on" : "off"), verbose \(verbose ? "on" : "off")"
    }

    private func transfer(isGet: Bool, remote: String, local: String, force: Bool) async -> Outcome {
        guard let host else { return fail("not connected (use 'connect HOST [PORT]')") }
        let client = TFTPClient(host: host, port: port, options: options)
        let bar = progressBar ? ProgressBar(output: output) : nil
        var progress: TFTPClient.Progress? = nil
        if let bar {
            progress = { @Sendable (bytes: Int, total: Int?) in bar.update(bytes: bytes, total: total) }
        }
        do {
            let result = isGet
                ? try await client.get(remote, to: local, overwrite: force, progress: progress)
                : try await client.put(local, as: remote, progress: progress)
            bar?.end()
            let verb = isGet ? "Received" : "Sent"
            output("\(verb) \(result.bytes) bytes in \(ClientShell.seconds(result.duration)) s (\(ClientShell.rate(result.bytesPerSecond)))")
            if verbose {
                let p = result.parameters
                output("  blksize \(p.blockSize), windowsize \(p.windowSize), tsize \(p.transferSize.map(String.init) ?? "-"), retransmits \(result.retransmits)")
            }
            return .ok
        } catch {
            bar?.end()
            return fail("\(isGet ? "get" : "put") \(remote): \(error)")
        }
    }

    private func usage(_ text: String) -> Outcome { fail("usage: \(text)") }
    private func fail(_ text: String) -> Outcome {
        output("Error: \(text)")
        return .failed
    }

    static func onOff(_ s: String) -> Bool? {
        switch s.lowercased() {
        case "on", "yes", "true", "1": true
        case "off", "no", "false", "0": false
        default: nil
        }
    }

    static func baseName(_ path: String) -> String {
        let normalized = path.replacingBackslashes()
        return normalized.split(separator: "/").last.map(String.init) ?? normalized
    }

    public static func seconds(_ d: Double) -> String { formatSeconds(Int64(d * 1e9)) }

    public static func rate(_ bytesPerSecond: Double) -> String {
        let units = ["B/s", "KiB/s", "MiB/s", "GiB/s"]
        var v = bytesPerSecond
        var i = 0
        while v >= 1024 && i < units.count - 1 { v /= 1024; i += 1 }
        let tenths = Int((v * 10).rounded())
        return "\(tenths / 10).\(tenths % 10) \(units[i])"
    }
}

/// A one-line progress bar with rate and ETA, redrawn in place with CR.
final class ProgressBar: @unchecked Sendable {
    // @unchecked: updates come from one event loop and `end` from the caller after completion.
    let output: @Sendable (String) -> Void
    let start = NIODeadlineNow()
    init(output: @escaping @Sendable (String) -> Void) { self.output = output }

    func update(bytes: Int, total: Int?) {
        let elapsed = max(NIODeadlineNow() - start, 1e-6)
        let rate = Double(bytes) / elapsed
        var line = "\r"
        if let total, total > 0 {
            let fraction = min(1, Double(bytes) / Double(total))
            let width = 30
            let filled = Int(fraction * Double(width))
            line += "[" + String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled) + "] "
            line += "\(Int(fraction * 100))% "
            let eta = rate > 0 ? Double(total - bytes) / rate : 0
            line += "\(ClientShell.rate(rate)) ETA \(Int(eta))s"
        } else {
            line += "\(bytes) bytes \(ClientShell.rate(rate))"
        }
        writeStderr(line)
    }

    func end() { writeStderr("\r\u{1B}[K") }
}

func NIODeadlineNow() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func writeStderr(_ text: String) {
    var t = text
    t.withUTF8 { p in _ = write(2, p.baseAddress, p.count) }
}
