import DHCP
import Foundation
import Logging
import PXEConfig
import PXEMetrics
import Prometheus
import Testing
import TFTP
@testable import PXEDaemon

/// The metric catalog, the Prometheus factory over it, the supervisor's scrape and status, and
/// the control socket.
@Suite(.serialized) struct ObservabilityTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    @Test func catalogFollowsPrometheusConventions() {
        let names = MetricsCatalog.all.map(\.name)
        #expect(Set(names).count == names.count, "a name is defined twice")
        for m in MetricsCatalog.all {
            #expect(m.name.hasPrefix("pxed_") || m.name.hasPrefix("process_"), "\(m.name)")
            #expect(m.name.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "_" }, "\(m.name) is not snake_case")
            #expect(!m.help.isEmpty, "\(m.name) has no help text")
            switch m.kind {
            case .counter: #expect(m.name.hasSuffix("_total"), "counter \(m.name) must end in _total")
            case .gauge: #expect(!m.name.hasSuffix("_total"), "gauge \(m.name) ends in _total")
            case .histogram:
                #expect(m.name.hasSuffix("_seconds") && !m.buckets.isEmpty, "\(m.name)")
                #expect(m.buckets == m.buckets.sorted(), "\(m.name) buckets out of order")
            }
        }
    }

    @Test func readmeDocumentsEveryMetric() throws {
        let readme = try String(contentsOfFile: Self.repositoryRoot + "/README.md", encoding: .utf8)
        for m in MetricsCatalog.all {
            #expect(readme.contains("`\(m.name)`"), "README does not document \(m.name)")
        }
    }

    @Test func factoryWritesHelpLabelsAndBuckets() {
        let registry = PrometheusCollectorRegistry()
        let factory = CatalogMetricsFactory(registry: registry)
        DHCPMetrics.acks.counter([("interface", "eth9")], factory: factory).increment(by: 3)
        // The same name and labels again is the same series (an engine restarted by a reload).
        DHCPMetrics.acks.counter([("interface", "eth9")], factory: factory).increment()
        DHCPMetrics.fsyncDuration.timer(factory: factory).recordNanoseconds(2_000_000)
        let text = String(decoding: registry.emitToBuffer(), as: UTF8.self)
        #expect(text.contains("# HELP pxed_dhcp_acks_total \(DHCPMetrics.acks.help)\n# TYPE pxed_dhcp_acks_total counter\n"))
        #expect(text.contains("pxed_dhcp_acks_total{interface=\"eth9\"} 4\n"))
        #expect(text.contains("# TYPE pxed_lease_fsync_duration_seconds histogram"))
        #expect(text.contains("pxed_lease_fsync_duration_seconds_bucket{le=\"0.001\"} 0\n"))
        #expect(text.contains("pxed_lease_fsync_duration_seconds_bucket{le=\"0.0025\"} 1\n"))
        #expect(text.contains("pxed_lease_fsync_duration_seconds_count 1\n"))
    }

    @Test func labeledCountersMakeOneSeriesPerValue() {
        let registry = PrometheusCollectorRegistry()
        var c = LabeledCounters(DHCPMetrics.naks, fixed: [("interface", "eth1")], label: "reason",
                                factory: CatalogMetricsFactory(registry: registry))
        c.increment("in_use")
        c.increment("in_use")
        c.increment("wrong_network")
        let text = String(decoding: registry.emitToBuffer(), as: UTF8.self)
        #expect(text.contains("pxed_dhcp_naks_total{interface=\"eth1\",reason=\"in_use\"} 2\n"))
        #expect(text.contains("pxed_dhcp_naks_total{interface=\"eth1\",reason=\"wrong_network\"} 1\n"))
    }

    @Test func labelValuesCarryNoAddresses() {
        // A label per address would make a series per client: reasons name the kind only.
        #expect(NakReason.clientHasReservation(IPv4Address(10, 0, 0, 5)).metricLabel == "client_has_reservation")
        #expect(IgnoreReason.noPoolForRelay(IPv4Address(10, 9, 0, 1)).metricLabel == "no_pool_for_relay")
    }

    /// A supervisor serving TFTP on loopback with metrics on: one transfer shows in the scrape,
    /// in `status()`, through the metrics listener over HTTP, and through the control socket.
    @Test func scrapeStatusListenerAndControlSocket() async throws {
        let dir = NSTemporaryDirectory() + "pxed-obs-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir + "/root", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let payload = [UInt8](repeating: 0x5A, count: 5000)
        _ = FileManager.default.createFile(atPath: dir + "/root/f", contents: Data(payload))
        let tftpPort = 17_900 + Int.random(in: 0..<50)
        let metricsPort = 17_960 + Int.random(in: 0..<30)
        let path = dir + "/pxed.yaml"
        try """
            lease-file: \(dir)/leases
            metrics: {listen: "127.0.0.1:\(metricsPort)"}
            control-socket: \(dir)/run/control.sock
            tftp: {root: \(dir)/root, port: \(tftpPort)}
            interfaces:
              lo: {address: 127.0.0.1, address6: off, tftp: true}

            """.write(toFile: path, atomically: true, encoding: .utf8)
        var logger = Logger(label: "t")
        logger.logLevel = .critical
        let configuration = try PXEConfig.load(path: path)
        let supervisor = Supervisor(configuration: configuration, configPath: path, logger: logger)
        try await supervisor.start()
        let control = try await ControlSocketServer.start(path: configuration.controlSocket, supervisor: supervisor, logger: logger)
        defer { Task { await control.stop(); await supervisor.stop(grace: .zero) } }

        #expect(try await TFTPClient(host: "127.0.0.1", port: tftpPort).get("f").0 == payload)
        _ = try? await TFTPClient(host: "127.0.0.1", port: tftpPort).get("../etc/passwd")

        let text = String(decoding: await supervisor.scrape(), as: UTF8.self)
        #expect(text.contains("pxed_tftp_transfers_total{interface=\"lo\",outcome=\"completed\"} 1\n"))
        #expect(text.contains("pxed_tftp_bytes_total{interface=\"lo\",direction=\"sent\"} 5000\n"))
        #expect(text.contains("pxed_tftp_sessions_refused_total{interface=\"lo\",reason=\"path\"} 1\n"))
        #expect(text.contains("pxed_tftp_transfers_active{interface=\"lo\"} 0"))
        #expect(text.contains("pxed_config_generation 1"))
        #expect(text.contains("process_resident_memory_bytes "))

        let status = await supervisor.status()
        #expect(status.generation == 1 && status.lastReload == nil)
        #expect(status.engines.map(\.kind) == ["tftp"] && status.engines[0].counters["completed"] == 1)
        #expect(status.metricsListen == "127.0.0.1:\(metricsPort)")

        // The listener: an HTTP GET on loopback.
        let http = try Self.httpGet(port: metricsPort, path: "/metrics")
        #expect(http.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(http.contains("Content-Type: text/plain; version=0.0.4; charset=utf-8"))
        #expect(http.contains("pxed_tftp_bytes_total{interface=\"lo\",direction=\"sent\"} 5000"))
        #expect(try Self.httpGet(port: metricsPort, path: "/etc/passwd").hasPrefix("HTTP/1.1 404"))

        // The control socket: the same status as JSON; anything else is an error line.
        let answer = try ControlSocketClient.request("status", path: configuration.controlSocket)
        let decoded = try DaemonStatus.decode(answer)
        #expect(decoded.engines == status.engines && decoded.pid == Int(getpid()))
        #expect(throws: ControlSocketClient.Failure.self) { try ControlSocketClient.request("reboot", path: configuration.controlSocket) }
        // A second daemon on the same socket is refused (the first still answers).
        await #expect(throws: ControlSocketServer.Failure.self) {
            try await ControlSocketServer.start(path: configuration.controlSocket, supervisor: supervisor, logger: logger)
        }

        // A reload with the metrics gone stops the listener and counts the reload.
        try String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self)
            .replacingOccurrences(of: "metrics: {listen: \"127.0.0.1:\(metricsPort)\"}\n", with: "")
            .write(toFile: path, atomically: true, encoding: .utf8)
        guard case .applied(let change) = await supervisor.reload() else { Issue.record("reload not applied"); return }
        #expect(change.contains("metrics off"))
        #expect(throws: (any Error).self) { try Self.httpGet(port: metricsPort, path: "/metrics") }
        let after = String(decoding: await supervisor.scrape(), as: UTF8.self)
        #expect(after.contains("pxed_config_reloads_total{result=\"applied\"} 1\n") && after.contains("pxed_config_generation 2"))
        #expect(await supervisor.status().lastReload?.result == "applied")
    }

    @Test func statusTextShowsProgressAndRate() throws {
        let s = DaemonStatus(
            version: "0.1.0", pid: 42, now: 1000, uptimeSeconds: 3700, configFile: "/etc/pxed.yaml", generation: 3,
            lastReload: .init(at: 990, result: "rejected", detail: "pxed.yaml:3:1: bogus"), metricsListen: nil,
            engines: [.init(kind: "tftp", interface: "eth1", family: "", counters: ["completed": 7, "failed": 0])],
            pools: [.init(interface: "eth1", family: "ipv4", pool: "10.0.0.0/24", size: 100, assigned: 25, offered: 1,
                          quarantined: 0, free: 75)],
            transfers: [.init(protocol: "tftp", interface: "eth1", client: "10.0.0.9:2070", file: "vmlinuz", upload: false,
                              bytes: 4 << 20, size: 8 << 20, seconds: 2, bytesPerSecond: Double(2 << 20), blockSize: 1468,
                              windowSize: 1)],
            leases: .init(active: 25, total: 30, active6: 0, total6: 0))
        let text = StatusText.render(s)
        #expect(text.contains("up 1h 1m; config /etc/pxed.yaml, generation 3"))
        #expect(text.contains("last reload: rejected 10s ago: pxed.yaml:3:1: bogus"))
        #expect(text.contains("completed=7") && !text.contains("failed=0"))
        #expect(text.contains("10.0.0.0/24  eth1       100   25        1        75    25.0%"))
        #expect(text.contains("tftp   10.0.0.9:2070  vmlinuz  4.0 MiB / 8.0 MiB 50.0%  2.0 MiB/s  2.0s"))
        #expect(try DaemonStatus.decode(s.json()) == s)
    }

    /// A minimal HTTP/1.0 GET over a blocking socket; returns the whole response.
    static func httpGet(port: Int, path: String) throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(port).bigEndian
        addr.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let rc = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { throw POSIXError(.ECONNREFUSED) }
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let request = Array("GET \(path) HTTP/1.0\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            out += buffer[0..<n]
        }
        return String(decoding: out, as: UTF8.self)
    }
}

@Suite struct MetricsConfigTests {
    func load(_ text: String) throws(ConfigErrors) -> PXEConfiguration { try PXEConfig.parse(text: text, filename: "t.yaml") }

    @Test func listenForms() throws {
        #expect(try load("metrics: {listen: 127.0.0.1:9167}\n").metrics == MetricsSettings(address: "127.0.0.1", port: 9167))
        #expect(try load("metrics: {listen: \"[::1]:9167\"}\n").metrics == MetricsSettings(address: "::1", port: 9167))
        #expect(try load("metrics: {listen: \":9100\"}\n").metrics == MetricsSettings(address: "0.0.0.0", port: 9100))
        #expect(try load("log-level: info\n").metrics == nil)
        #expect(try load("log-level: info\n").controlSocket == "/run/pxed/control.sock")
        #expect(try load("control-socket: /tmp/x.sock\n").controlSocket == "/tmp/x.sock")
    }

    @Test func badValuesAreClearErrors() {
        func messages(_ text: String) -> [String] {
            do { _ = try load(text); return [] } catch { return error.errors.map(\.description) }
        }
        #expect(messages("metrics: {listen: localhost:9167}\n").first?.contains("metrics.listen: 'localhost:9167' is not ADDRESS:PORT") == true)
        #expect(messages("metrics: {listen: \"127.0.0.1:0\"}\n").first?.contains("is not ADDRESS:PORT") == true)
        #expect(messages("metrics: {}\n").first?.contains("metrics") == true)
        #expect(messages("metrics: {listen: 127.0.0.1:1, port: 2}\n").first?.contains("port") == true)
        #expect(messages("control-socket: relative.sock\n").first?.contains("control-socket: must be an absolute path") == true)
    }
}

@Suite struct VersionTests {
    @Test func theBinaryAndThePackageSayTheSameVersion() throws {
        let file = try String(contentsOfFile: ObservabilityTests.repositoryRoot + "/packaging/VERSION", encoding: .utf8)
        #expect(file.trimmingCharacters(in: .whitespacesAndNewlines) == PXEVersion.current)
    }
}
