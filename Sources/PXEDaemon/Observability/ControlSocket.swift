import Logging
import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

/// The daemon's control socket: a Unix stream socket, mode 0600 in a root-owned directory, where
/// `pxed status` asks for the daemon's status. One request per connection: a line `status`, and
/// the answer is the status as JSON and a newline. Peers other than root (or the daemon's own
/// user) are refused, whatever the file mode says.
public final class ControlSocketServer: Sendable {
    public let path: String
    private let channel: any Channel

    private init(path: String, channel: any Channel) {
        self.path = path
        self.channel = channel
    }

    public enum Failure: Error, CustomStringConvertible {
        case inUse(String)
        case directory(String, String)
        public var description: String {
            switch self {
            case .inUse(let p): "control socket \(p) answers: another pxed is running with it"
            case .directory(let d, let why): "cannot create \(d) for the control socket: \(why)"
            }
        }
    }

    public static func start(path: String, supervisor: Supervisor, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                             logger: Logger) async throws -> ControlSocketServer {
        if ControlSocketClient.answers(path) { throw Failure.inUse(path) }
        let dir = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        if !dir.isEmpty, mkdir(dir, 0o755) != 0, errno != EEXIST {
            throw Failure.directory(dir, String(cString: strerror(errno)))
        }
        let channel = try await ServerBootstrap(group: group)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.addHandler(ControlHandler(supervisor: supervisor, logger: logger))
                }
            }
            .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
        // Only root may connect (connect(2) needs write permission on the socket file).
        chmod(path, 0o600)
        return ControlSocketServer(path: path, channel: channel)
    }

    public func stop() async {
        try? await channel.close().get()
        unlink(path)
    }
}

/// `struct ucred` of <sys/socket.h> (Swift's Glibc leaves it out: it needs _GNU_SOURCE).
struct PeerCredentials {
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0
}

/// One connection: checks the peer, reads one command line, answers, closes.
final class ControlHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let supervisor: Supervisor
    private let logger: Logger
    private var line: [UInt8] = []
    private var answered = false

    init(supervisor: Supervisor, logger: Logger) {
        self.supervisor = supervisor
        self.logger = logger
    }

    /// Whether the peer may ask (nil until its credentials are read).
    private var allowed: Bool?

    func channelActive(context: ChannelHandlerContext) {
        guard let provider = context.channel as? any SocketOptionProvider else {
            allowed = false
            answer("error: cannot check the client's credentials\n", context: context)
            return
        }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        provider.unsafeGetSocketOption(level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
            .whenComplete { (result: Result<PeerCredentials, any Error>) in
                let (handler, context) = bound.value
                guard case .success(let cred) = result, cred.uid == 0 || cred.uid == geteuid() else {
                    handler.allowed = false
                    if case .success(let cred) = result {
                        handler.logger.notice("control socket: refused a client of uid \(cred.uid) (root only)")
                    }
                    handler.serveIfComplete(context: context)
                    return
                }
                handler.allowed = true
                handler.serveIfComplete(context: context)
            }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !answered else { return }
        line += unwrapInboundIn(data).readableBytesView
        serveIfComplete(context: context)
    }

    /// Answers once both the peer's credentials and its request line are in. A refused peer
    /// still has its line read first: closing on unread data would reset the connection and the
    /// client would never see why.
    private func serveIfComplete(context: ChannelHandlerContext) {
        guard !answered, let allowed else { return }
        guard let nl = line.firstIndex(of: UInt8(ascii: "\n")) else {
            if line.count > 256 { answer("error: request too long\n", context: context) }
            return
        }
        guard allowed else {
            answer("error: permission denied (the control socket is for root)\n", context: context)
            return
        }
        let command = String(decoding: line[..<nl], as: UTF8.self).trimmingSuffix()
        answered = true
        switch command {
        case "status":
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            let supervisor = self.supervisor
            let loop = context.eventLoop
            Task {
                let json = await supervisor.status().json()
                loop.execute {
                    let (handler, context) = bound.value
                    handler.write(json + [UInt8(ascii: "\n")], context: context)
                }
            }
        default:
            write(Array("error: unknown command '\(command.prefix(40))' (known: status)\n".utf8), context: context)
        }
    }

    private func answer(_ text: String, context: ChannelHandlerContext) {
        answered = true
        write(Array(text.utf8), context: context)
    }

    private func write(_ bytes: [UInt8], context: ChannelHandlerContext) {
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
}

/// The client side, for `pxed status`: plain blocking POSIX calls.
public enum ControlSocketClient {
    public enum Failure: Error, CustomStringConvertible {
        case notRunning(String)
        case permission(String)
        case stale(String)
        case io(String, String)
        case refused(String)

        public var description: String {
            switch self {
            case .notRunning(let p): "pxed is not running (no control socket at \(p))"
            case .permission(let p): "permission denied on \(p): the control socket is for root (run as root)"
            case .stale(let p): "no pxed answers on \(p) (a socket left by a stopped daemon?)"
            case .io(let p, let why): "\(p): \(why)"
            case .refused(let text): text
            }
        }
    }

    /// Whether a daemon answers on `path` (used to refuse starting a second one on it).
    static func answers(_ path: String) -> Bool {
        guard let fd = try? connect(path) else { return false }
        close(fd)
        return true
    }

    static func connect(_ path: String) throws(Failure) -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .io(path, String(cString: strerror(errno))) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
            close(fd)
            throw .io(path, "path too long for a Unix socket")
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in for (i, b) in bytes.enumerated() { raw[i] = b } }
        let rc = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else {
            let e = errno
            close(fd)
            switch e {
            case ENOENT: throw .notRunning(path)
            case EACCES, EPERM: throw .permission(path)
            case ECONNREFUSED: throw .stale(path)
            default: throw .io(path, String(cString: strerror(e)))
            }
        }
        return fd
    }

    /// Sends `command` and returns the whole answer. Waits at most `timeout` seconds.
    public static func request(_ command: String, path: String, timeout: Int = 10) throws(Failure) -> [UInt8] {
        let fd = try connect(path)
        defer { close(fd) }
        var tv = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let line = Array((command + "\n").utf8)
        guard line.withUnsafeBytes({ Glibc.write(fd, $0.baseAddress, $0.count) }) == line.count else {
            throw .io(path, "write: \(String(cString: strerror(errno)))")
        }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(path, errno == EAGAIN ? "no answer within \(timeout) s" : "read: \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            out += buffer[0..<n]
        }
        if out.starts(with: Array("error:".utf8)) {
            throw .refused(String(decoding: out, as: UTF8.self).trimmingSuffix())
        }
        return out
    }
}
