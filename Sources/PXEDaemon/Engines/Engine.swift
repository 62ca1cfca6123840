import CoreMetrics
import DHCP
import DHCPv6
import Logging
import NIOCore
import PXEConfig
import TFTP

/// Which engine: its kind ("tftp", "dhcp", ...) on one interface.
public struct EngineKey: Hashable, Sendable, CustomStringConvertible {
    public var kind: String
    public var interface: String
    /// "" for IPv4 (and engines that are not per address family), "ipv6" for the IPv6 twin.
    public var family: String = ""
    public var description: String { family.isEmpty ? "\(kind) \(interface)" : "\(kind) \(interface) \(family)" }
}

/// One figure an engine keeps, named as its status line shows it. The metrics endpoint reads
/// the same list, so a counter added here shows in both.
public struct EngineCounter: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// Only ever grows (packets, transfers, bytes).
        case counter
        /// Goes up and down (active transfers, leases held).
        case gauge
    }
    public var name: String
    public var value: Int
    public var kind: Kind
    public init(_ name: String, _ value: Int, _ kind: Kind = .counter) {
        self.name = name
        self.value = value
        self.kind = kind
    }
}

/// What applying a new generation to a running engine did.
public enum EngineApplyResult: Sendable, Equatable {
    /// Swapped in place: requests from now on see the new settings, work in flight keeps its own.
    case applied
    /// The new settings need a new engine (a new address, port or lease file: a new socket).
    case restart
}

/// A running engine of the daemon: TFTP, DHCP/BOOTP, and the engines to come. The supervisor
/// holds them as `[EngineKey: any Engine]` and treats them all alike.
public protocol Engine: AnyObject, Sendable {
    /// Takes a new generation's plan for this engine's key.
    func apply(_ plan: any EnginePlan) async throws -> EngineApplyResult
    /// Stops taking requests and frees the engine's sockets; work in flight carries on.
    func stopListening() async
    /// Stops taking requests, lets work in flight finish for up to `grace`, then ends it.
    func stop(grace: TimeAmount) async
    /// The engine's figures, for the status line and `pxed status`.
    func counters() -> [EngineCounter]
    /// What the engine holds now: pool usage, transfers in flight (for `pxed status` and the
    /// gauges refreshed at each scrape).
    func observe() async -> EngineObservation
}

/// A look at an engine's state at one moment.
public struct EngineObservation: Sendable {
    public var pools: [PoolUsage] = []
    public var pool6: Pool6Usage? = nil
    public var transfers: [ActiveTransfer] = []
    /// The engine's own count of transfers running (TFTP), for its gauge.
    public var activeTransfers: Int? = nil
    public init() {}
}

extension Engine {
    public func observe() async -> EngineObservation { EngineObservation() }

    /// "name=value ..." of every counter: the engine's SIGUSR1 status line after its key.
    public func statusText() -> String {
        counters().map { "\($0.name)=\($0.value)" }.joined(separator: " ")
    }
}

extension InterfaceConfig {
    /// Whether something configured here only works over IPv4 (DHCP, proxy DHCP, BOOTP): then a
    /// link without an IPv4 address is an error rather than an IPv6-only link.
    var needsIPv4: Bool { dhcp != nil || dhcpProxy != nil || bootp }
}

/// An interface of a generation with the address its engines serve on.
public struct ResolvedInterface: Sendable, Equatable {
    public var config: InterfaceConfig
    public var address: IPv4Address
    /// The interface's own network, when it was looked up (nil when the file gives the address).
    public var network: IPv4Network?
    /// Where TFTP and HTTP also listen over IPv6 (nil: IPv4 only).
    public var address6: IPv6Address?
    public init(config: InterfaceConfig, address: IPv4Address, network: IPv4Network?, address6: IPv6Address? = nil) {
        self.config = config
        self.address = address
        self.network = network
        self.address6 = address6
    }

    /// The addresses a per-family engine (TFTP, HTTP) serves: IPv4 (unless the link has none),
    /// then IPv6 when there is one.
    public var servedAddresses: [(family: String, address: String)] {
        (address == .any ? [] : [("", address.description)]) + (address6.map { [("ipv6", $0.description)] } ?? [])
    }
}

/// What one generation wants of one engine: its settings, and how to start it.
public protocol EnginePlan: Sendable {
    var key: EngineKey { get }
    func start(group: any EventLoopGroup, logger: Logger) async throws -> any Engine
}

/// A kind of engine: which plans a generation makes for one interface. Adding an engine to the
/// daemon is one type conforming to this, and its name in `Supervisor.kinds`.
public protocol EngineKind: Sendable {
    static var name: String { get }
    static func plans(for generation: PXEConfiguration, interface: ResolvedInterface,
                      resources: EngineResources) -> [any EnginePlan]
}

/// Things engines share that outlive a generation (the lease store of the DHCP engines),
/// opened on first use and closed when a generation no longer uses them.
public final class EngineResources: @unchecked Sendable {
    // @unchecked: touched only while the supervisor actor makes or applies one generation, and it
    // applies plans one after another (each awaited), so no two callers ever overlap.
    private var resources: [String: AnyObject] = [:]
    private var used: Set<String> = []
    /// For what opening a resource finds (recovered records, warnings).
    public let logger: Logger
    /// What engines record their metrics to: the Prometheus registry when `metrics:` is set,
    /// a no-op otherwise (set by the supervisor before each generation).
    public internal(set) var metrics: any MetricsFactory = NOOPMetricsHandler.instance

    public init(logger: Logger) { self.logger = logger }

    /// The resource under `key` if one is open (without marking it used).
    public func existing<T: AnyObject>(_ key: String, as: T.Type = T.self) -> T? { resources[key] as? T }

    /// The resource under `key`, opened with `open` the first time.
    public func shared<T: AnyObject>(_ key: String, open: () throws -> T) throws -> T {
        used.insert(key)
        if let existing = resources[key] as? T { return existing }
        let opened = try open()
        resources[key] = opened
        return opened
    }

    /// The same, for a resource whose opening waits (a database connection).
    public func shared<T: AnyObject>(_ key: String, open: () async throws -> T) async throws -> T {
        used.insert(key)
        if let existing = resources[key] as? T { return existing }
        let opened = try await open()
        resources[key] = opened
        return opened
    }

    func beginGeneration() { used.removeAll() }

    /// Drops what the generation just applied did not ask for.
    func endGeneration() {
        for key in resources.keys where !used.contains(key) { resources[key] = nil }
    }

    func removeAll() {
        resources.removeAll()
        used.removeAll()
    }
}

/// An engine failure with the message to log as it is.
public struct EngineError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
