import ArgumentParser
import TFTP
#if canImport(Glibc)
import Glibc
#endif

@main
struct PTFTP: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ptftp",
        abstract: "A TFTP client: an interactive shell, or one command with -c.",
        discussion: """
            Interactive:  ptftp [options] [HOST [PORT]]
            One-shot:     ptftp [options] HOST [PORT] -c get [-f] REMOTE [LOCAL]
                          ptftp [options] HOST [PORT] -c put LOCAL [REMOTE]
            The one-shot exit status is 0 only when the whole file arrived.
            """)

    @Option(name: .shortAndLong, help: "Block size to request (8..65464; 512 sends no option).") var blksize: Int = 1468
    @Option(name: .shortAndLong, help: "Window size to request (1..65535; RFC 7440).") var windowsize: Int = 1
    @Option(name: .shortAndLong, help: "Transfer mode: octet or netascii.") var mode: String = "octet"
    @Flag(name: .shortAndLong, help: "Strict RFC 1350: send no options.") var rfc1350 = false
    @Flag(help: "Do not ask for or announce the transfer size.") var noTsize = false
    @Option(help: "Seconds before the first retransmit (1..255).") var timeout: Int = 1
    @Option(help: "Retransmissions before giving up.") var retries: Int = 5
    @Flag(name: .shortAndLong, help: "Show negotiated options and retransmits.") var verbose = false
    @Argument(help: "Server to connect to.") var host: String?
    @Argument(help: "Server port.") var port: Int?
    @Option(name: .customShort("c"), parsing: .remaining, help: "Run one command and exit (get/put ...).") var command: [String] = []

    func validate() throws {
        guard (8...65464).contains(blksize) else { throw ValidationError("--blksize must be 8...65464") }
        guard (1...65535).contains(windowsize) else { throw ValidationError("--windowsize must be 1...65535") }
        guard TFTPMode(rawValue: mode.lowercased()) != nil else { throw ValidationError("--mode must be octet or netascii") }
        guard (1...255).contains(timeout) else { throw ValidationError("--timeout must be 1...255") }
        if let port, !(1...65535).contains(port) { throw ValidationError("PORT must be 1...65535") }
        if !command.isEmpty && host == nil { throw ValidationError("-c needs a HOST") }
    }

    func run() async throws {
        var shell = ClientShell(output: { line in print(line) })
        shell.host = host
        shell.port = port ?? 69
        shell.options.blockSize = blksize
        shell.options.windowSize = windowsize
        shell.options.mode = TFTPMode(rawValue: mode.lowercased()) ?? .octet
        shell.options.rfc1350 = rfc1350
        shell.options.transferSize = !noTsize
        shell.options.timeout = timeout
        shell.options.retries = retries
        shell.verbose = verbose
        shell.progressBar = isatty(1) != 0 && isatty(2) != 0
        if !command.isEmpty {
            guard let verb = command.first?.lowercased(), verb == "get" || verb == "put" else {
                throw ValidationError("-c takes 'get' or 'put'")
            }
            let outcome = await shell.execute(command.joined(separator: " "))
            fflush(nil)
            if outcome != .ok { throw ExitCode(1) }
            return
        }
        let interactive = isatty(0) != 0
        while true {
            if interactive {
                print("tftp> ", terminator: "")
                fflush(nil)
            }
            guard let line = readLine() else { break }
            if await shell.execute(line) == .quit { break }
            fflush(nil)
        }
    }
}


