import CoreMetrics
import DHCP
import DHCPv6
import HTTPBoot
import NIOConcurrencyHelpers
import PXEMetrics
import Prometheus
import TFTP
#if canImport(Glibc)
import Glibc
#endif

/// Every metric pxed exports, with its help text: the engines' and the daemon's own.
public enum MetricsCatalog {
    public static let daemon: [MetricDefinition] = [
        DaemonMetrics.reloads, DaemonMetrics.generation, DaemonMetrics.lastReload, DaemonMetrics.lastReloadSuccess,
        DaemonMetrics.buildInfo, DaemonMetrics.residentMemory, DaemonMetrics.openFDs, DaemonMetrics.maxFDs,
        DaemonMetrics.threads, DaemonMetrics.cpuSeconds, DaemonMetrics.startTime,
    ]
    public static let all: [MetricDefinition] = DHCPMetrics.all + DHCPv6Metrics.all + TFTPMetrics.all + HTTPMetrics.all + daemon
    static let byName: [String: MetricDefinition] = Dictionary(all.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
}

/// The daemon's own metrics: reloads and the process (names after the Prometheus client
/// libraries' `process_*` conventions, so dashboards made for them work).
public enum DaemonMetrics {
    public static let reloads = MetricDefinition(
        "pxed_config_reloads_total", .counter,
        "Configuration reloads, by result: applied, partial (some engine failed to start), rejected (the file did not load)",
        labels: ["result"])
    public static let generation = MetricDefinition(
        "pxed_config_generation", .gauge, "Configuration generation serving now (1 at start, +1 per applied reload)")
    public static let lastReload = MetricDefinition(
        "pxed_config_last_reload_timestamp_seconds", .gauge, "Unix time of the last reload attempt (the start time until one)")
    public static let lastReloadSuccess = MetricDefinition(
        "pxed_config_last_reload_success", .gauge, "1 if the last reload was applied in full, 0 if it was rejected or partial")
    public static let buildInfo = MetricDefinition(
        "pxed_build_info", .gauge, "Always 1; the version in a label", labels: ["version"])
    public static let residentMemory = MetricDefinition(
        "process_resident_memory_bytes", .gauge, "Resident set size of the pxed process")
    public static let openFDs = MetricDefinition("process_open_fds", .gauge, "Open file descriptors of the pxed process")
    public static let maxFDs = MetricDefinition("process_max_fds", .gauge, "The process's soft limit of open file descriptors")
    public static let threads = MetricDefinition("process_threads", .gauge, "Threads of the pxed process")
    public static let cpuSeconds = MetricDefinition(
        "process_cpu_seconds_total", .counter, "User and system CPU time of the pxed process")
    public static let startTime = MetricDefinition(
        "process_start_time_seconds", .gauge, "Unix time the pxed process started")
}

/// A swift-metrics factory over a swift-prometheus registry that names each metric from the
/// catalog (help text, histogram buckets). Handles are never destroyed: a counter outlives the
/// engine restarts of a reload, as Prometheus expects of a counter.
public struct CatalogMetricsFactory: MetricsFactory {
    public let registry: PrometheusCollectorRegistry

    public init(registry: PrometheusCollectorRegistry) { self.registry = registry }

    private func descriptor(_ label: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: label, unitName: "", helpText: MetricsCatalog.byName[label]?.help ?? "")
    }

    public func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
    }

    public func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
    }

    public func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        guard aggregate else { return registry.makeGauge(descriptor: descriptor(label), labels: dimensions) }
        let buckets = MetricsCatalog.byName[label]?.buckets ?? MetricDefinition.shortBuckets
        return registry.makeValueHistogram(descriptor: descriptor(label), labels: dimensions, buckets: buckets)
    }

    public func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        registry.makeGauge(descriptor: descriptor(label), labels: dimensions)
    }

    public func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        let seconds = MetricsCatalog.byName[label]?.buckets ?? MetricDefinition.shortBuckets
        let buckets = seconds.map { Duration.nanoseconds(Int64(($0 * 1e9).rounded())) }
        return registry.makeDurationHistogram(descriptor: descriptor(label), labels: dimensions, buckets: buckets)
    }

    public func destroyCounter(_ handler: any CounterHandler) {}
    public func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {}
    public func destroyRecorder(_ handler: any RecorderHandler) {}
    public func destroyMeter(_ handler: any MeterHandler) {}
    public func destroyTimer(_ handler: any TimerHandler) {}
}

/// The process figures read from /proc at each scrape.
public struct ProcessFigures: Sendable, Equatable {
    public var residentBytes: Int
    public var openFDs: Int
    public var maxFDs: Int
    public var threads: Int
    /// User + system CPU seconds.
    public var cpuSeconds: Double
    /// Unix seconds.
    public var startTime: Double

    public static func read() -> ProcessFigures {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let statm = readProc("/proc/self/statm").split(separator: " ")
        let resident = statm.count > 1 ? (Int(statm[1]) ?? 0) * page : 0
        // /proc/self/stat: fields after the ")" that ends the command name; utime is the 14th
        // field of the line, stime the 15th, num_threads the 20th, starttime the 22nd.
        let stat = readProc("/proc/self/stat")
        let rest = stat.lastIndex(of: ")").map { stat[stat.index(after: $0)...].split(separator: " ") } ?? []
        func field(_ n: Int) -> Double { rest.count > n - 3 ? Double(rest[n - 3]) ?? 0 : 0 }
        let uptime = Double(readProc("/proc/uptime").split(separator: " ").first ?? "0") ?? 0
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let boot = Double(now.tv_sec) + Double(now.tv_nsec) / 1e9 - uptime
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        return ProcessFigures(residentBytes: resident, openFDs: countFDs(), maxFDs: Int(limit.rlim_cur),
                              threads: Int(field(20)), cpuSeconds: (field(14) + field(15)) / ticks,
                              startTime: boot + field(22) / ticks)
    }

    static func readProc(_ path: String) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return "" }
        defer { close(fd) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            out += buffer[0..<n]
        }
        return String(decoding: out, as: UTF8.self).trimmingSuffix()
    }

    static func countFDs() -> Int {
        guard let dir = opendir("/proc/self/fd") else { return 0 }
        defer { closedir(dir) }
        var n = 0
        while let e = readdir(dir) {
            if e.pointee.d_name.0 != UInt8(ascii: ".") { n += 1 }
        }
        return max(0, n - 1)   // the directory stream's own descriptor
    }
}

extension String {
    func trimmingSuffix() -> String {
        var s = Substring(self)
        while let last = s.last, last == "\n" || last == " " { s = s.dropLast() }
        return String(s)
    }
}

/// The daemon's handles on its own metrics.
final class DaemonRecorder: Sendable {
    let reloadsApplied: CoreMetrics.Counter
    let reloadsPartial: CoreMetrics.Counter
    let reloadsRejected: CoreMetrics.Counter
    let generation: Meter
    let lastReload: Meter
    let lastReloadSuccess: Meter
    let residentMemory: Meter
    let openFDs: Meter
    let maxFDs: Meter
    let threads: Meter
    let cpuSeconds: FloatingPointCounter
    let startTime: Meter
    private let cpuSeen = NIOLockedValueBox(0.0)

    init(factory: any MetricsFactory, version: String) {
        reloadsApplied = DaemonMetrics.reloads.counter([("result", "applied")], factory: factory)
        reloadsPartial = DaemonMetrics.reloads.counter([("result", "partial")], factory: factory)
        reloadsRejected = DaemonMetrics.reloads.counter([("result", "rejected")], factory: factory)
        generation = DaemonMetrics.generation.gauge(factory: factory)
        lastReload = DaemonMetrics.lastReload.gauge(factory: factory)
        lastReloadSuccess = DaemonMetrics.lastReloadSuccess.gauge(factory: factory)
        DaemonMetrics.buildInfo.gauge([("version", version)], factory: factory).set(1)
        residentMemory = DaemonMetrics.residentMemory.gauge(factory: factory)
        openFDs = DaemonMetrics.openFDs.gauge(factory: factory)
        maxFDs = DaemonMetrics.maxFDs.gauge(factory: factory)
        threads = DaemonMetrics.threads.gauge(factory: factory)
        cpuSeconds = FloatingPointCounter(label: DaemonMetrics.cpuSeconds.name, dimensions: [], factory: factory)
        startTime = DaemonMetrics.startTime.gauge(factory: factory)
    }

    func refreshProcess() {
        let p = ProcessFigures.read()
        residentMemory.set(p.residentBytes)
        openFDs.set(p.openFDs)
        maxFDs.set(p.maxFDs)
        threads.set(p.threads)
        startTime.set(p.startTime)
        // A counter only grows: add what the kernel counted since the last scrape.
        let delta = cpuSeen.withLockedValue { seen -> Double in
            let d = max(0, p.cpuSeconds - seen)
            seen = max(seen, p.cpuSeconds)
            return d
        }
        if delta > 0 { cpuSeconds.increment(by: delta) }
    }
}
