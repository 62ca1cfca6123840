import PXEConfig

/// What a network-booting client is told to load, and why.
public struct BootDecision: Sendable, Equatable {
    public enum Source: Sendable, Equatable {
        /// The host entry's `boot`.
        case host
        /// The client is iPXE (user class or option 175): `boot.ipxe`.
        case ipxe
        /// The boot-table entry for the client's architecture.
        case architecture(ClientArchitecture)
        /// `boot.default`.
        case defaultEntry
        /// Nothing configured for this client.
        case none
    }

    /// Boot file name (goes in `file` and option 67); nil when nothing applies.
    public var file: String?
    /// `siaddr`: `boot.nextServer`, else the serving interface's address.
    public var nextServer: IPv4Address
    public var source: Source
    /// The architecture the client reported (option 93 or option 60), for logs.
    public var clientArchitecture: ClientArchitecture?

    public init(file: String?, nextServer: IPv4Address, source: Source, clientArchitecture: ClientArchitecture? = nil) {
        self.file = file
        self.nextServer = nextServer
        self.source = source
        self.clientArchitecture = clientArchitecture
    }

    /// The client reported an architecture the boot table has no row for (RFC 4578 codes other
    /// than 0, 6, 7, 9, 11), so it got `boot.default` or nothing.
    public var unknownArchitectureCode: UInt16? {
        guard case .other(let code) = clientArchitecture, source == .defaultEntry || source == .none else { return nil }
        return code
    }

    /// Why this file: `host`, `ipxe`, the architecture's entry (`uefi-x64`), `default` or `none`.
    public var reason: String {
        switch source {
        case .host: "host"
        case .ipxe: "ipxe"
        case .architecture(let a): a.description
        case .defaultEntry: "default"
        case .none: "none"
        }
    }
}

/// Chooses the boot file. Pure: a table lookup over what the request says.
///
/// Order: host entry `boot`; iPXE → `boot.ipxe`; the architecture's entry (93, else option 60's
/// `Arch:` field); `boot.default`. An empty entry falls through to the next rule, so an iPXE client
/// with no `boot.ipxe` gets its architecture's file (the admin's table decides about loops).
public struct BootPolicy: Sendable, Equatable {
    public var table: BootTable
    /// `http://ADDR:PORT` of the serving interface's HTTP engine (nil: no HTTP there). HTTP Boot
    /// clients get URLs: a relative boot file becomes `httpBase/file`.
    public var httpBase: String?

    public init(table: BootTable, httpBase: String? = nil) {
        self.table = table
        self.httpBase = httpBase
    }

    public func decide(host: HostEntry?, client: PXEClientInfo, serverAddress: IPv4Address) -> BootDecision {
        var d = decideFile(host: host, client: client, serverAddress: serverAddress)
        d.clientArchitecture = client.architecture
        return d
    }

    private func decideFile(host: HostEntry?, client: PXEClientInfo, serverAddress: IPv4Address) -> BootDecision {
        var d = decideName(host: host, client: client, serverAddress: serverAddress)
        // UEFI HTTP Boot takes a URL (edk2 HttpBootDhcp4.c): a path becomes one on this
        // interface's HTTP engine.
        if client.isHTTPClient, let f = d.file, !Self.isURL(f), let base = httpBase {
            d.file = base + (f.hasPrefix("/") ? "" : "/") + f
        }
        return d
    }

    static func isURL(_ s: String) -> Bool {
        let l = s.lowercased()
        return l.hasPrefix("http://") || l.hasPrefix("https://") || l.hasPrefix("tftp://")
    }

    private func decideName(host: HostEntry?, client: PXEClientInfo, serverAddress: IPv4Address) -> BootDecision {
        let next = table.nextServer ?? serverAddress
        if let f = host?.boot, !f.isEmpty { return BootDecision(file: f, nextServer: next, source: .host) }
        if client.isIPXE, let f = table.ipxe, !f.isEmpty { return BootDecision(file: f, nextServer: next, source: .ipxe) }
        if let arch = client.architecture, let f = entry(for: arch), !f.isEmpty {
            return BootDecision(file: f, nextServer: next, source: .architecture(arch))
        }
        if let f = table.default, !f.isEmpty { return BootDecision(file: f, nextServer: next, source: .defaultEntry) }
        return BootDecision(file: nil, nextServer: next, source: .none)
    }

    /// For BOOTP clients (no architecture information): host `boot`, then `boot.default`, then `boot.bios`.
    public func decideBOOTP(host: HostEntry?, serverAddress: IPv4Address) -> BootDecision {
        let next = table.nextServer ?? serverAddress
        if let f = host?.boot, !f.isEmpty { return BootDecision(file: f, nextServer: next, source: .host) }
        if let f = table.default, !f.isEmpty { return BootDecision(file: f, nextServer: next, source: .defaultEntry) }
        if let f = table.bios, !f.isEmpty { return BootDecision(file: f, nextServer: next, source: .architecture(.bios)) }
        return BootDecision(file: nil, nextServer: next, source: .none)
    }

    func entry(for arch: ClientArchitecture) -> String? {
        switch arch {
        case .bios: table.bios
        case .uefiIA32: table.uefiIA32
        case .uefiX64: table.uefiX64
        case .uefiArm64: table.uefiArm64
        // Unset: the same architecture's TFTP entry, served over HTTP (only when HTTP is on).
        case .uefiIA32HTTP: table.uefiIA32HTTP ?? (httpBase != nil ? table.uefiIA32 : nil)
        case .uefiX64HTTP: table.uefiX64HTTP ?? (httpBase != nil ? table.uefiX64 : nil)
        case .uefiArm64HTTP: table.uefiArm64HTTP ?? (httpBase != nil ? table.uefiArm64 : nil)
        case .other: nil
        }
    }
}
