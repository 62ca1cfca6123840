import ArgumentParser
import DHCP
import FoundationEssentials
import LeaseDatabase
import Logging
import PXEConfig
import PXEDaemon
#if canImport(Glibc)
import Glibc
#endif

@main
struct PXED: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pxed",
        abstract: "A PXE boot server: TFTP, DHCP and BOOTP driven by one YAML file.",
        discussion: """
            pxed [-c FILE]                  run the daemon on /etc/pxed.yaml (or FILE)
            pxed IFACE ROOT BOOTFILE        one-call PXE mode: TFTP + PXE-only DHCP on IFACE
            pxed check [-c FILE]            validate a configuration and exit
            pxed leases [-c FILE] [--json]  print the current leases (journal or database)
            pxed db init [-c FILE]          create or upgrade the PostgreSQL lease schema
            pxed status [-c FILE] [--json] [--watch]
                                            ask the running daemon: engines, pools, transfers, reloads
            kill -HUP reloads the file; a broken file is refused and the old configuration keeps serving.
            """,
        subcommands: [Serve.self, Check.self, Leases.self, Status.self, Database.self],
        defaultSubcommand: Serve.self)
}

struct ConfigOption: ParsableArguments {
    @Option(name: [.short, .customLong("config")], help: "Configuration file.") var config: String = "/etc/pxed.yaml"
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve", abstract: "Run the daemon (the default).")

    @OptionGroup var options: ConfigOption
    @Flag(name: .shortAndLong, help: "One-call mode: turn every TFTP extension off (RFC 1350 only).") var rfc1350 = false
    @Option(name: .shortAndLong, help: "One-call mode: router handed to DHCP clients.") var gateway: String?
    @Option(name: [.short, .customLong("name-server")], help: "One-call mode: DNS server (repeatable).") var nameServers: [String] = []
    @Flag(name: .shortAndLong, help: "One-call mode: answer every DHCP client, not only PXE clients.") var answerAll = false
    @Flag(help: "One-call mode: proxy DHCP beside the link's own DHCP server (boot information only, plus the boot server on 4011).") var proxy = false
    @Option(help: "One-call mode: TFTP port.") var tftpPort: Int = 69
    @Option(help: "One-call mode: DHCP port.") var dhcpPort: Int = 67
    @Option(help: "One-call mode: lease file.") var leaseFile: String = "/var/lib/pxed/leases"
    @Flag(name: .shortAndLong, help: "Debug logging.") var verbose = false
    @Argument(help: "One-call mode: IFACE ROOT BOOTFILE.") var oneCall: [String] = []

    func validate() throws {
        guard oneCall.isEmpty || oneCall.count == 3 else {
            throw ValidationError("one-call mode takes exactly IFACE ROOT BOOTFILE")
        }
        if proxy && oneCall.isEmpty {
            throw ValidationError("--proxy is for one-call mode (IFACE ROOT BOOTFILE); in /etc/pxed.yaml write dhcp: {proxy: true}")
        }
        if let gateway, IPv4Address(gateway) == nil { throw ValidationError("--gateway: '\(gateway)' is not an IPv4 address") }
        for n in nameServers where IPv4Address(n) == nil { throw ValidationError("--name-server: '\(n)' is not an IPv4 address") }
        guard (1...65535).contains(tftpPort), (1...65535).contains(dhcpPort) else { throw ValidationError("ports must be 1...65535") }
    }

    func run() async throws {
        Daemon.ignoreSignalsEarly()
        if oneCall.count == 3 {
            let config: PXEConfiguration
            do {
                config = try OneCallMode.configuration(interface: oneCall[0], root: oneCall[1], bootFile: oneCall[2],
                                                       rfc1350: rfc1350, gateway: gateway.flatMap { IPv4Address($0) },
                                                       nameServers: nameServers.compactMap { IPv4Address($0) },
                                                       answerAll: answerAll, tftpPort: UInt16(tftpPort),
                                                       dhcpPort: UInt16(dhcpPort), leaseFile: leaseFile, proxy: proxy)
            } catch {
                printError("pxed: \(error)")
                throw ExitCode(1)
            }
            let logger = DaemonLogging.makeLogger(label: "pxed", level: verbose ? .debug : .info)
            do { try await Daemon.run(configuration: config, configPath: nil, logger: logger) } catch { throw ExitCode(1) }
            return
        }
        let config: PXEConfiguration
        do {
            config = try PXEConfig.load(path: options.config)
        } catch {
            printError(error.description)
            printError("pxed: \(options.config): \(error.errors.count) error(s); not starting")
            throw ExitCode(1)
        }
        let level: Logger.Level = verbose ? .debug : Logger.Level(config.logLevel)
        let logger = DaemonLogging.makeLogger(label: "pxed", level: level)
        do { try await Daemon.run(configuration: config, configPath: options.config, logger: logger) } catch { throw ExitCode(1) }
    }
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "check", abstract: "Validate a configuration file and exit.")
    @OptionGroup var options: ConfigOption

    func run() throws {
        do {
            let config = try PXEConfig.load(path: options.config)
            print("ok: \(config.summary())")
        } catch {
            printError(error.description)
            printError("\(options.config): \(error.errors.count) error(s)")
            throw ExitCode(1)
        }
    }
}

struct Leases: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "leases", abstract: "Print the current leases as a table.")
    @OptionGroup var options: ConfigOption
    @Option(help: "Read this lease file instead of the one the configuration names.") var leaseFile: String?
    @Flag(help: "Print JSON (an object with 'leases' and 'leases6' arrays) instead of tables.") var json = false

    func run() async throws {
        var path = leaseFile
        if path == nil {
            let configuration: PXEConfiguration
            do { configuration = try PXEConfig.load(path: options.config) } catch {
                printError(error.description)
                throw ExitCode(1)
            }
            if configuration.leaseStore.backend == .postgresql {
                do {
                    let leases = try await DatabaseCommands.leases(configuration, logger: quietLogger())
                    return show(leases, [])
                } catch {
                    printError("pxed leases: \(LeaseDatabase.explain(error))")
                    throw ExitCode(1)
                }
            }
            path = configuration.leaseFile
        }
        guard let path else { throw ExitCode(1) }
        do {
            let (leases, leases6, warnings) = try LeaseStore.readAll(path: path)
            for w in warnings { printError("warning: \(path): \(w)") }
            show(leases, leases6)
        } catch {
            printError("pxed leases: \(error)")
            throw ExitCode(1)
        }
    }

    private func show(_ leases: [Lease], _ leases6: [Lease6]) {
        let now = DHCPListener.unixTime()
        if json {
            print(String(decoding: LeasesJSON(leases, leases6, now: now).encoded(), as: UTF8.self))
            return
        }
        print(LeaseTable.format(leases, now: now), terminator: "")
        // DHCPv6 leases as a second table after a blank line, only when there are some.
        if !leases6.isEmpty { print("\n" + LeaseTable.format(leases6, now: now), terminator: "") }
    }
}

struct Database: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "db", abstract: "The PostgreSQL lease database.",
                                                    subcommands: [DatabaseInit.self])
}

struct DatabaseInit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create or upgrade the lease schema in the database lease-store names (safe to repeat).")
    @OptionGroup var options: ConfigOption

    func run() async throws {
        let configuration: PXEConfiguration
        do { configuration = try PXEConfig.load(path: options.config) } catch {
            printError(error.description)
            throw ExitCode(1)
        }
        do {
            print(try await DatabaseCommands.initialize(configuration, logger: quietLogger()))
        } catch {
            printError("pxed db init: \(LeaseDatabase.explain(error))")
            throw ExitCode(1)
        }
    }
}

/// postgres-nio logs at debug and trace; the commands print their own errors.
func quietLogger() -> Logger {
    var logger = Logger(label: "pxed")
    logger.logLevel = .critical
    return logger
}

/// `pxed leases --json`.
struct LeasesJSON: Encodable {
    struct V4: Encodable {
        var ip: String, mac: String?, hostname: String?, clientKey: String, expiry: Int64, state: String, status: String
    }
    struct V6: Encodable {
        var address: String, duid: String, iaid: UInt32, expiry: Int64, state: String, status: String
    }
    var leases: [V4]
    var leases6: [V6]

    init(_ v4: [Lease], _ v6: [Lease6], now: Double) {
        leases = v4.map {
            V4(ip: "\($0.ip)", mac: $0.mac.map { "\($0)" }, hostname: $0.hostname, clientKey: $0.clientKey.rawValue,
               expiry: $0.expiry, state: $0.state.rawValue, status: LeaseTable.stateText($0, now: now))
        }
        leases6 = v6.map {
            V6(address: "\($0.address)", duid: ClientKey.hex($0.duid), iaid: $0.iaid, expiry: $0.expiry, state: $0.state.rawValue,
               status: LeaseTable.stateText($0.state, expiry: $0.expiry, now: now))
        }
    }

    func encoded() -> [UInt8] {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return (try? Array(e.encode(self))) ?? Array("{}".utf8)
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Ask the running daemon (over its control socket, root only) what it serves now.",
        discussion: "Engines per interface with their counters, pool usage, transfers in flight with progress and rate, lease counts and the last reload. The socket is the configuration's control-socket (default /run/pxed/control.sock).")
    @OptionGroup var options: ConfigOption
    @Option(help: "Control socket to ask (default: the configuration's control-socket).") var socket: String?
    @Flag(help: "Print the daemon's answer as JSON.") var json = false
    @Flag(help: "Redraw every --interval seconds, like top (Ctrl-C ends).") var watch = false
    @Option(help: "Seconds between redraws with --watch.") var interval: Double = 1

    func validate() throws {
        guard interval >= 0.1 && interval <= 3600 else { throw ValidationError("--interval must be 0.1 to 3600 seconds") }
    }

    func run() throws {
        let path = socket ?? socketFromConfig()
        repeat {
            let answer: [UInt8]
            do { answer = try ControlSocketClient.request("status", path: path) } catch {
                printError("pxed status: \(error)")
                throw ExitCode(1)
            }
            var text: String
            if json {
                text = String(decoding: answer, as: UTF8.self)
            } else {
                do { text = StatusText.render(try DaemonStatus.decode(answer)) } catch {
                    printError("pxed status: the daemon's answer does not parse: \(error)")
                    throw ExitCode(1)
                }
            }
            if watch {
                // Home, then clear to the end of the screen: redrawn in place without flicker.
                text = "\u{1B}[H\u{1B}[J" + text
            }
            print(text, terminator: text.hasSuffix("\n") ? "" : "\n")
            if watch { usleep(useconds_t(interval * 1_000_000)) }
        } while watch
    }

    private func socketFromConfig() -> String {
        do { return try PXEConfig.load(path: options.config).controlSocket } catch {
            printError("pxed status: \(options.config) does not load (\(error.errors.first.map { "\($0)" } ?? "\(error)")); asking \(PXEConfiguration.defaultControlSocket)")
            return PXEConfiguration.defaultControlSocket
        }
    }
}

func printError(_ text: String) {
    var t = text + "\n"
    t.withUTF8 { p in _ = write(2, p.baseAddress, p.count) }
}
