/// The lease database's schema, as numbered migrations. `pxed db init` applies those the database
/// has not seen, in order, each in its own transaction, under an advisory lock so two servers
/// initialising one database at once do not race. A migration never changes once released:
/// later changes are new migrations.
public enum LeaseSchema {
    public struct Migration: Sendable {
        public let version: Int
        public let summary: String
        public let statements: [String]
    }

    /// The version table; created before any migration, outside the numbering.
    static let versionTable = """
        CREATE TABLE IF NOT EXISTS pxed_schema (
            version    integer PRIMARY KEY,
            summary    text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        )
        """

    /// Any constant: the key of the advisory lock `db init` holds while it migrates.
    static let lockKey: Int64 = 0x7078_6564_6462  // "pxeddb"

    public static let migrations: [Migration] = [
        Migration(version: 1, summary: "DHCPv4 leases: one row per address", statements: [
            // The address is the key: a claim is one INSERT ... ON CONFLICT on it, so two
            // servers can never both hold an address.
            """
            CREATE TABLE pxed_leases4 (
                address    inet PRIMARY KEY,
                client_key text NOT NULL,
                mac        text,
                hostname   text,
                expiry     bigint NOT NULL,
                state      text NOT NULL,
                server     text NOT NULL,
                updated_at timestamptz NOT NULL DEFAULT now()
            )
            """,
            "CREATE INDEX pxed_leases4_client_key ON pxed_leases4 (client_key)",
        ]),
        Migration(version: 2, summary: "DHCPv4 leases: index on updated_at", statements: [
            // Every server asks twice a second for the rows changed since its last look.
            "CREATE INDEX pxed_leases4_updated_at ON pxed_leases4 (updated_at)",
        ]),
    ]

    public static var latest: Int { migrations.last?.version ?? 0 }
}
