import DHCP
import LeaseDatabase
import Logging
import PXEConfig

/// `pxed db init` and the database half of `pxed leases`: short-lived connections to the
/// PostgreSQL lease database a configuration names.
public enum DatabaseCommands {
    public static func settings(_ configuration: PXEConfiguration) throws(LeaseDatabaseError) -> PostgresSettings {
        guard configuration.leaseStore.backend == .postgresql, let settings = configuration.leaseStore.postgres else {
            throw LeaseDatabaseError("\(configuration.source): the lease store is the journal (\(configuration.leaseFile)); set lease-store: {backend: postgresql, url: ...} to use a database")
        }
        return settings
    }

    /// Creates or upgrades the schema; the line to print.
    public static func initialize(_ configuration: PXEConfiguration, logger: Logger) async throws -> String {
        let settings = try settings(configuration)
        let (from, to) = try await LeaseDatabase(settings: settings).migrate(logger: logger)
        if to > LeaseSchema.latest {
            return "\(settings.displayURL): schema version \(to) is newer than this pxed knows (\(LeaseSchema.latest)); left as it is"
        }
        if from == to { return "\(settings.displayURL): schema version \(to), up to date" }
        return "\(settings.displayURL): schema " + (from == 0 ? "created" : "upgraded from version \(from)") + ", now version \(to)"
    }

    /// The DHCPv4 leases in the database.
    public static func leases(_ configuration: PXEConfiguration, logger: Logger) async throws -> [Lease] {
        let settings = try settings(configuration)
        let database = LeaseDatabase(settings: settings)
        let version = try await database.schemaVersion(logger: logger)
        guard version >= 1 else {
            throw LeaseDatabaseError("\(settings.displayURL) has no pxed schema yet: run pxed db init")
        }
        return try await database.leases(logger: logger)
    }
}
