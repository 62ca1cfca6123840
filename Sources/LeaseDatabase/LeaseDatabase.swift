import DHCP
import Logging
import NIOCore
import PostgresNIO
import PXEConfig
#if canImport(Glibc)
import Glibc
#endif

/// Why the lease database could not be used, in words an administrator can act on.
public struct LeaseDatabaseError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// One connection to the lease database, for the commands that need one briefly (`pxed db
/// init`, `pxed leases`): connect with the configured timeout, act, close.
public struct LeaseDatabase: Sendable {
    public let settings: PostgresSettings

    public init(settings: PostgresSettings) { self.settings = settings }

    /// Reads `password-file` (its first line). Errors name the file, never its contents.
    public static func password(_ settings: PostgresSettings) throws(LeaseDatabaseError) -> String? {
        guard let path = settings.passwordFile else { return nil }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw LeaseDatabaseError("cannot read password-file \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while bytes.count < 65536 {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            bytes += chunk[0..<n]
        }
        let line = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).first ?? ""
        let password = line.hasSuffix("\r") ? String(line.dropLast()) : String(line)
        guard !password.isEmpty else { throw LeaseDatabaseError("password-file \(path) is empty") }
        return password
    }

    /// Connects, runs `body`, closes. Failures to connect are `LeaseDatabaseError`s.
    public func withConnection<R: Sendable>(logger: Logger, _ body: (PostgresConnection) async throws -> R) async throws -> R {
        var configuration = PostgresConnection.Configuration(
            host: settings.host, port: settings.port, username: settings.user,
            password: try Self.password(settings), database: settings.database, tls: .disable)
        configuration.options.connectTimeout = .seconds(Int64(settings.connectTimeout))
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
        } catch {
            throw LeaseDatabaseError("cannot connect to \(settings.displayURL): \(Self.explain(error))")
        }
        do {
            let result = try await body(connection)
            try? await connection.close()
            return result
        } catch {
            try? await connection.close()
            throw LeaseDatabaseError("\(settings.displayURL): \(Self.explain(error))")
        }
    }

    /// Creates or upgrades the schema. Returns the version found and the version now.
    public func migrate(logger: Logger) async throws -> (from: Int, to: Int) {
        try await withConnection(logger: logger) { connection in
            var from = 0
            var current = 0
            for migration in LeaseSchema.migrations {
                try await connection.withTransaction(logger: logger) { c in
                    // Serialises concurrent `db init`s; released at COMMIT.
                    try await c.query("SELECT pg_advisory_xact_lock(\(LeaseSchema.lockKey))", logger: logger)
                    // Under the lock: CREATE ... IF NOT EXISTS alone races (42P07) when two run at once.
                    try await c.query(PostgresQuery(unsafeSQL: LeaseSchema.versionTable), logger: logger)
                    let rows = try await c.query("SELECT coalesce(max(version), 0) FROM pxed_schema", logger: logger)
                    var found = 0
                    for try await version in rows.decode(Int.self) { found = version }
                    if migration.version == LeaseSchema.migrations.first?.version { from = found }
                    current = found
                    guard found < migration.version else { return }
                    for statement in migration.statements {
                        try await c.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                    try await c.query("INSERT INTO pxed_schema (version, summary) VALUES (\(migration.version), \(migration.summary))",
                                      logger: logger)
                    current = migration.version
                }
            }
            return (from, current)
        }
    }

    /// The schema version the database has (0: none).
    public func schemaVersion(logger: Logger) async throws -> Int {
        try await withConnection(logger: logger) { connection in
            // A database never initialised has no version table: version 0, not an error.
            let exists = try await connection.query("SELECT to_regclass('pxed_schema') IS NOT NULL", logger: logger)
            var hasTable = false
            for try await value in exists.decode(Bool.self) { hasTable = value }
            guard hasTable else { return 0 }
            let rows = try await connection.query("SELECT coalesce(max(version), 0) FROM pxed_schema", logger: logger)
            var found = 0
            for try await version in rows.decode(Int.self) { found = version }
            return found
        }
    }

    /// Every DHCPv4 lease row, by address.
    public func leases(logger: Logger) async throws -> [Lease] {
        try await withConnection(logger: logger) { connection in
            let rows = try await connection.query(
                "SELECT host(address), client_key, mac, hostname, expiry, state FROM pxed_leases4 ORDER BY address",
                logger: logger)
            var leases: [Lease] = []
            for try await (address, key, mac, hostname, expiry, state) in rows.decode((String, String, String?, String?, Int64, String).self) {
                guard let ip = IPv4Address(address), let state = LeaseState(rawValue: state) else { continue }
                leases.append(Lease(clientKey: ClientKey(rawValue: key), mac: mac.flatMap(MACAddress.init), ip: ip,
                                    hostname: hostname, expiry: expiry, state: state))
            }
            return leases
        }
    }

    /// What went wrong, from a postgres-nio error: its own descriptions hide the server's message
    /// (so they cannot leak data into logs); the message and the connection error are what an
    /// administrator needs, and carry no secret.
    public static func explain(_ error: any Error) -> String {
        if let error = error as? LeaseDatabaseError { return error.description }
        if let error = error as? PostgresTransactionError {
            if let inner = error.closureError ?? error.beginError ?? error.commitError { return explain(inner) }
            return "transaction failed"
        }
        guard let error = error as? PSQLError else { return "\(error)" }
        if error.code == .authMechanismRequiresPassword {
            return "the server asks for a password: set lease-store.password-file"
        }
        if let info = error.serverInfo, let message = info[.message] {
            let code = info[.sqlState].map { " (SQLSTATE \($0))" } ?? ""
            return message + code
        }
        if let underlying = error.underlying { return explain(underlying) }
        return "\(error.code)"
    }
}
