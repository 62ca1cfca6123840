import DHCP
import Logging
import NIOConcurrencyHelpers
import NIOCore
import PostgresNIO
import PXEConfig
#if canImport(Glibc)
import Glibc
#endif

/// DHCPv4 leases in PostgreSQL, shared by every server pointed at the database. A batch of lease
/// records is one statement: each address is claimed with `INSERT ... ON CONFLICT (address) DO
/// UPDATE ... WHERE` the row is this client's, has expired or was released, so of two servers
/// offering one address to two clients only one claim commits and the other gets its NAK.
///
/// Statements go through a `PostgresClient` pool (`pool-size` connections) whose `run()` lives in
/// a task owned by this object; every statement has a deadline, so an outage costs the listener
/// a verdict of `.unavailable` within seconds, never a queue that waits forever.
public final class PostgresLeaseBackend: LeaseBackend {
    public let settings: PostgresSettings
    /// What this server writes in the `server` column (host name and process), so it can ask
    /// for the rows the others changed.
    public let serverName: String
    public let initialLeases: [Lease]
    private let client: PostgresClient
    private let runner: Task<Void, Never>
    private let logger: Logger
    /// The newest `updated_at` (as PostgreSQL prints it) already taken in; nil: nothing yet.
    private let seen: NIOLockedValueBox<String?>
    /// Whether every row has been read once (at start, or by the first look after an outage).
    private let loaded: NIOLockedValueBox<Bool>
    /// Other servers and when (monotonic seconds) a look last found a row they wrote.
    private let peers = NIOLockedValueBox<[String: Double]>([:])
    /// A server that wrote nothing for this long no longer counts for the shares. Short: a
    /// restarted server comes back under a new name (its process id), and while both names
    /// count the servers' views of who is there differ. A quiet link needs no shares anyway.
    static let peerTimeout = 10.0

    /// Connects, checks the schema and loads every lease. When the database cannot be reached the
    /// backend is made anyway, empty and not loaded (`loadError` says why): the listener then
    /// answers nothing new and keeps probing until the first load succeeds.
    public static func open(settings: PostgresSettings, logger: Logger) async throws(LeaseDatabaseError) -> (PostgresLeaseBackend, loadError: String?) {
        var configuration = PostgresClient.Configuration(
            host: settings.host, port: settings.port, username: settings.user,
            password: try LeaseDatabase.password(settings), database: settings.database, tls: .disable)
        configuration.options.maximumConnections = max(1, settings.poolSize)
        configuration.options.minimumConnections = 0
        configuration.options.connectTimeout = .seconds(Int64(settings.connectTimeout))
        // The pool logs every failed connection attempt (several a second during an outage);
        // the listener says once that the store is out and once that it is back.
        var poolLogger = logger
        poolLogger.logLevel = .error
        let client = PostgresClient(configuration: configuration, backgroundLogger: poolLogger)
        let runner = Task { await client.run() }
        let deadline = Double(settings.connectTimeout)
        var leases: [Lease] = []
        var newest: String?
        var loadError: String?
        do {
            let (rows, next) = try await Self.withDeadline(deadline) {
                try await Self.load(client: client, since: nil, excluding: nil, logger: logger)
            }
            leases = rows.map(\.lease)
            newest = next
        } catch {
            // The pool retries quietly until the deadline; one plain connection says why it fails.
            var reason = LeaseDatabase.explain(error)
            do {
                _ = try await LeaseDatabase(settings: settings).withConnection(logger: poolLogger) { _ in true }
            } catch {
                let prefix = "cannot connect to \(settings.displayURL): "
                let said = LeaseDatabase.explain(error)
                reason = said.hasPrefix(prefix) ? String(said.dropFirst(prefix.count)) : said
            }
            loadError = "cannot load leases from \(settings.displayURL): \(reason)"
        }
        let backend = PostgresLeaseBackend(settings: settings, client: client, runner: runner, logger: logger,
                                           initial: leases, seen: newest, loaded: loadError == nil)
        return (backend, loadError)
    }

    private init(settings: PostgresSettings, client: PostgresClient, runner: Task<Void, Never>, logger: Logger,
                 initial: [Lease], seen: String?, loaded: Bool) {
        self.settings = settings
        self.client = client
        self.runner = runner
        self.logger = logger
        self.initialLeases = initial
        self.seen = NIOLockedValueBox(seen)
        self.loaded = NIOLockedValueBox(loaded)
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, host.count - 1)
        self.serverName = String(cString: host) + ":\(getpid())"
    }

    deinit { runner.cancel() }

    public var isShared: Bool { true }
    public var isLoaded: Bool { loaded.withLockedValue { $0 } }

    /// Seconds a statement may take before the batch counts as not written.
    var statementDeadline: Double { Double(max(1, settings.connectTimeout)) }

    // MARK: Claims

    /// One statement for the batch (the last record per address wins, as in the journal):
    /// claims each address, retires the client's other active rows (a client holds one address),
    /// and returns what it claimed; the rest lost to another client, whose rows are then read.
    static let claimSQL = """
        WITH input AS (
            SELECT DISTINCT ON (address) *
            FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[], $6::text[], $7::int4[])
                AS t(address, client_key, mac, hostname, expiry, state, ord)
            ORDER BY address, ord DESC
        ), claimed AS (
            INSERT INTO pxed_leases4 AS l (address, client_key, mac, hostname, expiry, state, server, updated_at)
            SELECT address::inet, client_key, nullif(mac, ''), nullif(hostname, ''), expiry, state, $8, clock_timestamp()
            FROM input ORDER BY address
            ON CONFLICT (address) DO UPDATE SET
                client_key = EXCLUDED.client_key, mac = EXCLUDED.mac, hostname = EXCLUDED.hostname,
                expiry = EXCLUDED.expiry, state = EXCLUDED.state, server = EXCLUDED.server, updated_at = clock_timestamp()
            WHERE l.client_key = EXCLUDED.client_key OR (l.mac IS NOT NULL AND l.mac = EXCLUDED.mac)
                OR l.expiry <= $9 OR l.state = 'released'
            RETURNING address, client_key, state
        ), retired AS (
            UPDATE pxed_leases4 o SET state = 'released', expiry = least(o.expiry, $9), server = $8,
                updated_at = clock_timestamp()
            FROM claimed c
            WHERE c.state = 'active' AND o.client_key = c.client_key AND o.address <> c.address
                AND o.state = 'active' AND o.address <> ALL ($1::text[]::inet[])
        )
        SELECT host(address) FROM claimed
        """

    public func persist(_ records: [Lease], now: Int64, on eventLoop: any EventLoop) -> EventLoopFuture<[LeaseVerdict]> {
        // postgres-nio speaks async/await; its connections run on NIO event loops either way.
        eventLoop.makeFutureWithTask { await self.persist(records, now: now) }
    }

    func persist(_ records: [Lease], now: Int64) async -> [LeaseVerdict] {
        guard !records.isEmpty else { return [] }
        var addresses: [String] = [], keys: [String] = [], macs: [String] = [], names: [String] = []
        var expiries: [Int64] = [], states: [String] = [], order: [Int32] = []
        for (i, r) in records.enumerated() {
            addresses.append(r.ip.description)
            keys.append(r.clientKey.rawValue)
            macs.append(r.mac?.description ?? "")
            names.append(r.hostname ?? "")
            expiries.append(r.expiry)
            states.append(r.state.rawValue)
            order.append(Int32(i))
        }
        var bindings = PostgresBindings()
        bindings.append(addresses)
        bindings.append(keys)
        bindings.append(macs)
        bindings.append(names)
        bindings.append(expiries)
        bindings.append(states)
        bindings.append(order)
        bindings.append(serverName)
        bindings.append(now)
        let statement = PostgresQuery(unsafeSQL: Self.claimSQL, binds: bindings)
        let requested = Set(addresses)
        let client = self.client
        let logger = self.logger
        do {
            let (claimed, holders) = try await Self.withDeadline(statementDeadline) {
                try await Self.retryingConflicts {
                    var claimed = Set<String>()
                    for try await address in try await client.query(statement, logger: logger).decode(String.self) {
                        claimed.insert(address)
                    }
                    let lost = requested.subtracting(claimed)
                    guard !lost.isEmpty else { return (claimed, [String: Lease]()) }
                    let held = try await Self.rows(client: client, logger: logger, where: "address = ANY ($1::text[]::inet[])",
                                                   Array(lost))
                    return (claimed, Dictionary(held.map { ($0.lease.ip.description, $0.lease) }, uniquingKeysWith: { a, _ in a }))
                }
            }
            return records.map { r in
                let address = r.ip.description
                return claimed.contains(address) ? .committed : .lost(holder: holders[address])
            }
        } catch {
            return Array(repeating: .unavailable(reason: "\(settings.displayURL): \(LeaseDatabase.explain(error))"),
                         count: records.count)
        }
    }

    public func probe() async -> Bool {
        let client = self.client
        let logger = self.logger
        return (try? await Self.withDeadline(statementDeadline) {
            try await client.query("SELECT 1 FROM pxed_leases4 LIMIT 1", logger: logger)
        }) != nil
    }

    // MARK: Other servers' changes

    public func changesFromOtherServers() async -> [Lease]? {
        let since = loaded.withLockedValue { $0 } ? seen.withLockedValue { $0 } : nil
        let client = self.client
        let logger = self.logger
        let me = serverName
        guard let (rows, newest) = try? await Self.withDeadline(statementDeadline, {
            try await Self.load(client: client, since: since, excluding: since == nil ? nil : me, logger: logger)
        }) else { return nil }
        if let newest { seen.withLockedValue { $0 = newest } }
        loaded.withLockedValue { $0 = true }
        let now = Self.monotonicSeconds()
        peers.withLockedValue { peers in
            for r in rows where r.server != me { peers[r.server] = now }
            peers = peers.filter { now - $0.value < Self.peerTimeout }
        }
        return rows.map(\.lease)
    }

    /// This server's rank among itself and the servers that wrote lately.
    public var allocationShare: AllocationShare {
        let others = peers.withLockedValue { Array($0.keys) }
        let all = (others + [serverName]).sorted()
        return AllocationShare(index: all.firstIndex(of: serverName) ?? 0, count: all.count)
    }

    static func monotonicSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Rows changed at or after `since` (all rows when nil), minus those `excluding` wrote, and
    /// where the next look starts. Not simply the newest `updated_at` read: a row is stamped when
    /// its statement runs and seen when its transaction commits, so a row stamped earlier can
    /// commit later. The next look starts at the oldest of "100 ms ago" and the start of every
    /// transaction still writing, taken before the rows are read: whatever commits after the read
    /// carries a stamp at or after that point. The overlap is a tenth of a second of rows, read
    /// twice and learnt twice (harmless).
    static func load(client: PostgresClient, since: String?, excluding: String?, logger: Logger) async throws
        -> ([Row], String?)
    {
        let next = try await client.query("""
            SELECT to_char(least(now() - interval '100 milliseconds',
                                 (SELECT min(xact_start) FROM pg_stat_activity
                                  WHERE datname = current_database() AND backend_xid IS NOT NULL
                                    AND pid <> pg_backend_pid())) AT TIME ZONE 'UTC',
                           'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
            """, logger: logger)
        var start: String?
        for try await value in next.decode(String.self) { start = value }
        let rows: [Row]
        if let since, let excluding {
            rows = try await Self.rows(client: client, logger: logger,
                                       where: "updated_at >= $1::timestamptz AND server <> $2", since, excluding)
        } else {
            rows = try await Self.rows(client: client, logger: logger, where: "true")
        }
        return (rows, start ?? since)
    }

    /// One lease row and the server that wrote it.
    struct Row: Sendable {
        var lease: Lease
        var server: String
    }

    /// Lease rows matching `condition` (text parameters $1, $2, ...), oldest change first.
    static func rows(client: PostgresClient, logger: Logger, where condition: String, _ parameters: any PostgresEncodable & Sendable...)
        async throws -> [Row]
    {
        var bindings = PostgresBindings()
        for p in parameters { try bindings.append(p) }
        let statement = PostgresQuery(unsafeSQL: """
            SELECT host(address), client_key, mac, hostname, expiry, state, server
            FROM pxed_leases4 WHERE \(condition) ORDER BY updated_at
            """, binds: bindings)
        var out: [Row] = []
        let decoded = try await client.query(statement, logger: logger)
            .decode((String, String, String?, String?, Int64, String, String).self)
        for try await (address, key, mac, hostname, expiry, state, server) in decoded {
            guard let ip = IPv4Address(address), let state = LeaseState(rawValue: state) else { continue }
            out.append(Row(lease: Lease(clientKey: ClientKey(rawValue: key), mac: mac.flatMap(MACAddress.init), ip: ip,
                                        hostname: hostname, expiry: expiry, state: state), server: server))
        }
        return out
    }

    // MARK: Deadlines and retries

    /// Runs `body`, giving up after `seconds`: the caller gets an error then even if the body
    /// (a statement on a connection that went silent) is still waiting; it is cancelled.
    static func withDeadline<T: Sendable>(_ seconds: Double, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let once = NIOLockedValueBox<CheckedContinuation<T, any Error>?>(nil)
        let work = NIOLockedValueBox<Task<Void, Never>?>(nil)
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            once.withLockedValue { $0 = continuation }
            let finish: @Sendable (Result<T, any Error>) -> Void = { result in
                once.withLockedValue { c in
                    c?.resume(with: result)
                    c = nil
                }
            }
            let timer = Task {
                try? await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
                guard !Task.isCancelled else { return }
                finish(.failure(LeaseDatabaseError("no answer within \(seconds) s")))
                work.withLockedValue { $0?.cancel() }
            }
            work.withLockedValue {
                $0 = Task {
                    finish(await Result { try await body() })
                    timer.cancel()
                }
            }
        }
    }

    /// Two servers' batches can lock rows in opposite orders: PostgreSQL then aborts one
    /// (deadlock, serialization failure, or a unique violation from a concurrent insert), which
    /// is retried, not an outage.
    static func retryingConflicts<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        var attempt = 0
        while true {
            do {
                return try await body()
            } catch let error as PSQLError {
                let code = error.serverInfo?[.sqlState] ?? ""
                attempt += 1
                guard attempt < 5, ["40P01", "40001", "23505"].contains(code) else { throw error }
            }
        }
    }
}

extension Result where Failure == any Error {
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
