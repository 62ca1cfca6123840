import Logging
import PXEConfig

/// Log lines on stderr, one per event, without timestamps: journald adds its own.
public struct PlainLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    let label: String

    public init(label: String, level: Logger.Level) {
        self.label = label
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var text = "\(event.level.shortName): \(event.message)"
        let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
        if !merged.isEmpty {
            text += " " + merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        }
        text += "\n"
        text.withUTF8 { p in _ = writeAll(2, p) }
    }
}

private func writeAll(_ fd: Int32, _ p: UnsafeBufferPointer<UInt8>) -> Int {
    guard let base = p.baseAddress else { return 0 }
    #if canImport(Glibc)
    return Glibc.write(fd, base, p.count)
    #else
    return 0
    #endif
}

#if canImport(Glibc)
import Glibc
#endif

extension Logger.Level {
    var shortName: String {
        switch self {
        case .trace: "trace"
        case .debug: "debug"
        case .info: "info"
        case .notice: "notice"
        case .warning: "warning"
        case .error: "error"
        case .critical: "critical"
        }
    }

    public init(_ level: LogLevel) {
        switch level {
        case .debug: self = .debug
        case .info: self = .info
        case .notice: self = .notice
        case .warning: self = .warning
        case .error: self = .error
        }
    }
}

public enum DaemonLogging {
    public static func makeLogger(label: String, level: Logger.Level) -> Logger {
        Logger(label: label) { l in PlainLogHandler(label: l, level: level) }
    }
}
