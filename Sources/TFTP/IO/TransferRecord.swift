import Logging
import NIOCore

/// The one record of a finished server transfer: built once by the transfer's runner when the
/// outcome is settled, then counted by the server and logged as one line. (fbtftp's
/// session-end statistics callback is the model: one place for what a transfer did.)
public struct TransferRecord: Sendable, Equatable {
    public var isRead: Bool
    public var filename: String
    public var mode: TFTPMode
    public var client: SocketAddress
    public var bytes: Int
    public var retransmits: Int
    public var parameters: TransferParameters
    public var duration: TimeAmount
    public var outcome: TransferOutcome

    /// Success and size probes are logged at info; anything else at notice (a client that gave up
    /// is news, not an error).
    public var logLevel: Logger.Level { outcome.isFailure ? .notice : .info }

    public var logLine: String {
        "\(isRead ? "RRQ" : "WRQ") \(filename.debugDescription) client=\(client.hostAndPort) bytes=\(bytes) duration=\(formatSeconds(duration.nanoseconds))s blksize=\(parameters.blockSize) windowsize=\(parameters.windowSize) mode=\(mode.rawValue) retransmits=\(retransmits) outcome=\(outcome.logText)"
    }
}

extension TransferOutcome {
    var logText: String {
        switch self {
        case .completed: "completed"
        case .completedUnconfirmed: "completed (final ACK not received)"
        case .peerError(let code, let message): "client-error(\(code) \(message.debugDescription))"
        case .sizeProbe(let code, let message): "size-probe(client read tsize, then ERROR \(code) \(message.debugDescription))"
        case .timedOut: "timed-out"
        case .failed(let why): "failed(\(why))"
        }
    }
}

extension SocketAddress {
    /// `10.0.0.5:1234` or `[fd00::5]:1234`: an address beside a port, as URLs and logs write it.
    public var hostAndPort: String { Self.hostAndPort(ipAddress ?? "?", port ?? 0) }

    public static func hostAndPort(_ host: String, _ port: Int) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

/// "1.234" from nanoseconds, without Foundation.
func formatSeconds(_ nanoseconds: Int64) -> String {
    let ms = max(nanoseconds, 0) / 1_000_000
    let frac = String(ms % 1000)
    return "\(ms / 1000)." + String(repeating: "0", count: 3 - frac.count) + frac
}
