import Testing
@testable import PXEConfig

/// `lease-store:`: the journal (what `lease-file:` always meant) or a PostgreSQL database.
@Suite struct LeaseStoreConfigTests {
    @Test func leaseFileAloneMeansTheJournal() throws {
        let config = try #require(load("lease-file: /var/lib/x/leases\n"))
        #expect(config.leaseStore.backend == .journal)
        #expect(config.leaseFile == "/var/lib/x/leases")
        let explicit = try #require(load("lease-store: {backend: journal, file: /var/lib/y/leases}\n"))
        #expect(explicit.leaseStore.backend == .journal && explicit.leaseFile == "/var/lib/y/leases")
    }

    @Test func postgresqlSectionIsDecoded() throws {
        let config = try #require(load("""
            lease-store:
              backend: postgresql
              url: postgresql://pxed@db.example:5433/leases
              password-file: /etc/pxed/db-password
              pool-size: 8
              connect-timeout: 3
            """))
        var expected = PostgresSettings(host: "db.example", port: 5433, user: "pxed", database: "leases")
        expected.passwordFile = "/etc/pxed/db-password"
        expected.poolSize = 8
        expected.connectTimeout = 3
        #expect(config.leaseStore.backend == .postgresql)
        #expect(config.leaseStore.postgres == expected)
        #expect(expected.displayURL == "postgresql://pxed@db.example:5433/leases")
        #expect(config.summary().hasSuffix(", leases in postgresql://pxed@db.example:5433/leases"))
    }

    @Test(arguments: [
        ("postgres://u@h/d", "h", 5432, "u", "d"),
        ("postgresql://u@[fd00::5]:6000/d", "fd00::5", 6000, "u", "d"),
        ("postgresql://u@127.0.0.1:15432/pxed_test", "127.0.0.1", 15432, "u", "pxed_test"),
    ])
    func urlForms(url: String, host: String, port: Int, user: String, database: String) throws {
        let settings = try ConfigLoader.postgresURL(url).get()
        #expect(settings == PostgresSettings(host: host, port: port, user: user, database: database))
    }

    @Test func badURLsAndMixedSettingsGetClearErrors() {
        let pg = "lease-store:\n  backend: postgresql\n  url: "
        #expect(messages(pg + "mysql://u@h/d\n")
                == ["t.yaml:3:8: lease-store.url: 'mysql://u@h/d' is not a PostgreSQL URL (expected postgresql://USER@HOST:PORT/DATABASE)"])
        #expect(messages(pg + "postgresql://u:secret@h/d\n")
                == ["t.yaml:3:8: lease-store.url: a password in the URL is refused: put it in password-file (the URL is logged and shown by ps)"])
        #expect(messages(pg + "postgresql://u@h:99999/d\n") == ["t.yaml:3:8: lease-store.url: port '99999' is not a number in 1-65535"])
        #expect(messages(pg + "postgresql://u@h\n")
                == ["t.yaml:3:8: lease-store.url: the URL names no database (expected postgresql://USER@HOST:PORT/DATABASE)"])
        #expect(messages(pg + "postgresql://h/d\n")
                == ["t.yaml:3:8: lease-store.url: the URL names no user (expected postgresql://USER@HOST:PORT/DATABASE)"])
        #expect(messages(pg + "postgresql://u@h/d?sslmode=require\n")
                == ["t.yaml:3:8: lease-store.url: URL parameters are not supported (expected postgresql://USER@HOST:PORT/DATABASE)"])
        #expect(messages("lease-store: {backend: postgresql}\n") == ["t.yaml:1:14: lease-store: missing required key 'url'"])
        #expect(messages("lease-store: {backend: mysql}\n")
                == ["t.yaml:1:24: lease-store.backend: unknown backend 'mysql' (expected journal or postgresql)"])
        #expect(messages("lease-store: {backend: journal, url: postgresql://u@h/d}\n")
                == ["t.yaml:1:38: lease-store.url: only for backend: postgresql"])
        #expect(messages("lease-file: /a\nlease-store: {file: /b}\n")
                == ["t.yaml:2:21: lease-store.file: the journal's file is given twice: here and in lease-file (keep one)"])
        #expect(messages(pg + "postgresql://u@h/d\n  pool-size: 0\n") == ["t.yaml:4:14: lease-store.pool-size: 0 is out of range 1..64"])
    }
}
