#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CoreMetrics
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import TFTP

/// What one HTTP listener serves. `apply` swaps `root` and `maxConnections` in place; a new
/// address or port needs a new listener.
public struct HTTPBootConfiguration: Sendable, Equatable {
    public var address: String
    public var port: Int
    public var root: String
    public var maxConnections: Int

    public init(address: String, port: Int, root: String, maxConnections: Int = 1000) {
        self.address = address
        self.port = port
        self.root = root
        self.maxConnections = maxConnections
    }
}

/// A route other than the files under the root (the metrics endpoint is one): it answers a GET
/// or HEAD for its own paths and returns nil for anything else.
public protocol HTTPRoute: Sendable {
    /// Whether this route answers the request (checked on the event loop: keep it cheap).
    func matches(_ head: HTTPRequestHead) -> Bool
    /// The response, made off the event loop (it may await other actors).
    func respond(to head: HTTPRequestHead) async -> HTTPRouteResponse
}

public struct HTTPRouteResponse: Sendable {
    public var status: HTTPResponseStatus
    public var contentType: String
    public var body: [UInt8]

    public init(status: HTTPResponseStatus = .ok, contentType: String, body: [UInt8]) {
        self.status = status
        self.contentType = contentType
        self.body = body
    }
}

public struct HTTPServerStats: Sendable, Equatable {
    public var requests = 0
    public var bytesServed = 0
    /// Connections open now.
    public var connections = 0
    /// Connections closed at once because `maxConnections` were open.
    public var connectionsRefused = 0
    public var notFound = 0
    public var forbidden = 0
    public var notModified = 0
    public var partial = 0

    public init() {}
}

/// The HTTP engine's server: SwiftNIO's HTTP/1.1 codec (the parser is NIO's, from llhttp), files
/// through the TFTP jail (`PathJail`), sent with `sendfile(2)` (NIO `FileRegion`), and the
/// response worked out by `FileResponse` (ranges, validators, conditional requests).
public final class HTTPBootServer: Sendable {
    public let localAddress: SocketAddress?
    private let channel: any Channel
    let shared: Shared

    final class Shared: Sendable {
        struct State {
            var configuration: HTTPBootConfiguration
            var jail: PathJail?
            var stats = HTTPServerStats()
            var children: [ObjectIdentifier: any Channel] = [:]
            /// File bodies being sent, for `pxed status`.
            var downloads: [Int: Download] = [:]
            var nextDownload = 0
        }

        struct Download {
            let client: String
            let path: String
            let bytes: Int
            let started: NIODeadline
        }
        let state: NIOLockedValueBox<State>
        let routes: [any HTTPRoute]
        let logger: Logger
        let recorder: HTTPRecorder

        init(configuration: HTTPBootConfiguration, routes: [any HTTPRoute], logger: Logger, recorder: HTTPRecorder) {
            state = NIOLockedValueBox(State(configuration: configuration, jail: try? PathJail(root: configuration.root)))
            self.routes = routes
            self.logger = logger
            self.recorder = recorder
        }
    }

    private init(channel: any Channel, shared: Shared) {
        self.channel = channel
        self.localAddress = channel.localAddress
        self.shared = shared
    }

    public static func start(group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                             configuration: HTTPBootConfiguration, routes: [any HTTPRoute] = [],
                             logger: Logger = Logger(label: "pxed.http"),
                             metrics: any MetricsFactory = NOOPMetricsHandler.instance,
                             metricLabels: [(String, String)] = []) async throws -> HTTPBootServer {
        let shared = Shared(configuration: configuration, routes: routes, logger: logger,
                            recorder: HTTPRecorder(labels: metricLabels, factory: metrics))
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { child in
                let admitted = shared.state.withLockedValue { s -> Bool in
                    guard s.stats.connections < s.configuration.maxConnections else {
                        s.stats.connectionsRefused += 1
                        return false
                    }
                    s.stats.connections += 1
                    s.children[ObjectIdentifier(child)] = child
                    return true
                }
                guard admitted else {
                    shared.recorder.refused.increment()
                    return child.close()
                }
                shared.recorder.connections.increment()
                child.closeFuture.whenComplete { _ in
                    shared.recorder.connections.decrement()
                    shared.state.withLockedValue {
                        $0.stats.connections -= 1
                        $0.children[ObjectIdentifier(child)] = nil
                    }
                }
                return child.pipeline.configureHTTPServerPipeline(withErrorHandling: true).flatMapThrowing {
                    // A connection that sends nothing and has no response in flight for this long
                    // is closed, so idle clients cannot hold every place of max-connections.
                    try child.pipeline.syncOperations.addHandler(IdleStateHandler(allTimeout: HTTPBootServer.idleTimeout),
                                                                 position: .first)
                    try child.pipeline.syncOperations.addHandler(HTTPBootHandler(shared: shared))
                }
            }
        let channel = try await bootstrap.bind(host: configuration.address, port: configuration.port).get()
        return HTTPBootServer(channel: channel, shared: shared)
    }

    /// Idle connections (no request, no response in flight) are closed after this long.
    public static let idleTimeout: TimeAmount = .seconds(60)

    /// New root and connection limit for the next requests; downloads in flight go on.
    public func apply(_ configuration: HTTPBootConfiguration) {
        let jail = try? PathJail(root: configuration.root)
        shared.state.withLockedValue {
            $0.configuration = configuration
            $0.jail = jail
        }
    }

    public var configuration: HTTPBootConfiguration { shared.state.withLockedValue { $0.configuration } }
    public var stats: HTTPServerStats { shared.state.withLockedValue { $0.stats } }

    /// The file bodies being sent now, oldest first (`size` is the body's length).
    public var activeDownloads: [ActiveTransfer] {
        let now = NIODeadline.now()
        return shared.state.withLockedValue { s in
            s.downloads.values.sorted { $0.started < $1.started }.map {
                ActiveTransfer(client: $0.client, filename: $0.path, isRead: true, bytes: nil, size: $0.bytes,
                               seconds: Double((now - $0.started).nanoseconds) / 1e9)
            }
        }
    }

    /// Stops accepting connections; the listening port is free when this returns.
    public func stopListening() async {
        try? await channel.close().get()
    }

    /// Stops accepting, lets open connections finish for up to `grace`, then closes the rest.
    public func stop(grace: TimeAmount) async {
        await stopListening()
        let deadline = NIODeadline.now() + grace
        while NIODeadline.now() < deadline, shared.state.withLockedValue({ $0.stats.connections }) > 0 {
            try? await Task.sleep(nanoseconds: 50_000_000)
        }
        for child in shared.state.withLockedValue({ Array($0.children.values) }) {
            try? await child.close().get()
        }
    }
}

/// One connection: requests in order (NIO's pipelining handler queues the next until a response
/// has ended), one log line each.
final class HTTPBootHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let shared: HTTPBootServer.Shared
    private var head: HTTPRequestHead?
    /// Responses written but not yet ended (a long download counts): idle time does not apply.
    private var inFlight = 0

    init(shared: HTTPBootServer.Shared) { self.shared = shared }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h): head = h
        case .body: break   // a GET/HEAD body is ignored; anything else is refused at .end
        case .end:
            guard let h = head else { return }
            head = nil
            respond(to: h, context: context)
        }
    }

    private func respond(to h: HTTPRequestHead, context: ChannelHandlerContext) {
        let started = NIODeadline.now()
        let client = context.channel.remoteAddress?.hostAndPort ?? "?"
        let keepAlive = h.isKeepAlive
        let isHead = h.method == .HEAD
        var headers = HTTPHeaders()
        func finish(_ status: HTTPResponseStatus, _ extra: [(String, String)] = [], body: [UInt8] = [], why: String? = nil) {
            headers.add(contentsOf: extra)
            if headers["Content-Length"].isEmpty { headers.add(name: "Content-Length", value: String(body.count)) }
            send(status, headers: headers, context: context, keepAlive: keepAlive)
            if !isHead && !body.isEmpty {
                context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
            }
            let bytes = isHead ? 0 : body.count
            shared.recorder.answered(Int(status.code))
            end(context: context, keepAlive: keepAlive) { [shared] in
                shared.log(h, client: client, status: status, bytes: bytes, started: started, why: why)
            }
        }
        guard h.method == .GET || isHead else {
            finish(.methodNotAllowed, [("Allow", "GET, HEAD")], body: Array("method not allowed\n".utf8))
            return
        }
        if let route = shared.routes.first(where: { $0.matches(h) }) {
            // Answered off the loop; the connection counts as busy meanwhile (no idle close), and
            // NIO's pipelining handler holds the next request until this response has ended.
            inFlight += 1
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            let loop = context.eventLoop
            Task {
                let r = await route.respond(to: h)
                loop.execute {
                    let (handler, context) = bound.value
                    handler.inFlight -= 1
                    handler.finishRoute(r, head: h, client: client, started: started, keepAlive: keepAlive, context: context)
                }
            }
            return
        }
        let jail = shared.state.withLockedValue { s -> PathJail? in
            s.stats.requests += 1
            return s.jail
        }
        let path: String
        do {
            path = try RequestTarget.path(h.uri)
        } catch {
            finish(.badRequest, body: Array("bad request: \(error)\n".utf8), why: "\(error)")
            return
        }
        guard let jail else {
            finish(.notFound, body: Array("not found\n".utf8), why: "root missing")
            return
        }
        let file: (fd: Int32, size: Int, path: String)
        do {
            file = try jail.openForReading(path)
        } catch {
            let status: HTTPResponseStatus = error == .notFound ? .notFound : .forbidden
            shared.state.withLockedValue { if status == .notFound { $0.stats.notFound += 1 } else { $0.stats.forbidden += 1 } }
            finish(status, body: Array("\(status.reasonPhrase.lowercased())\n".utf8), why: error.description)
            return
        }
        var st = stat()
        guard fstat(file.fd, &st) == 0 else {
            close(file.fd)
            finish(.internalServerError, body: Array("cannot stat\n".utf8), why: "fstat failed")
            return
        }
        let attributes = FileAttributes(size: file.size, modified: Int64(st.st_mtim.tv_sec),
                                        inode: UInt64(st.st_ino), device: UInt64(st.st_dev))
        let plan = FileResponse.plan(isHead: isHead, header: { name in
            let values = h.headers[name]
            return values.isEmpty ? nil : values.joined(separator: ", ")
        }, file: attributes, path: path)
        let status = HTTPResponseStatus(statusCode: plan.status)
        shared.state.withLockedValue {
            if plan.status == 304 { $0.stats.notModified += 1 }
            if plan.status == 206 { $0.stats.partial += 1 }
        }
        for (name, value) in plan.headers { headers.add(name: name, value: value) }
        send(status, headers: headers, context: context, keepAlive: keepAlive)
        shared.recorder.answered(plan.status)
        guard let range = plan.body else {
            close(file.fd)
            end(context: context, keepAlive: keepAlive) { [shared] in
                shared.log(h, client: client, status: status, bytes: 0, started: started, why: nil)
            }
            return
        }
        let handle = NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: file.fd)
        let region = FileRegion(fileHandle: handle, readerIndex: range.lowerBound, endIndex: range.upperBound)
        let sent = context.write(wrapOutboundOut(.body(.fileRegion(region))))
        let recorder = shared.recorder
        recorder.started.increment()
        recorder.active.increment()
        let download = shared.state.withLockedValue { s in
            s.nextDownload += 1
            s.downloads[s.nextDownload] = .init(client: client, path: path, bytes: range.count, started: started)
            return s.nextDownload
        }
        end(context: context, keepAlive: keepAlive, failed: { [shared] in
            shared.state.withLockedValue { _ = $0.downloads.removeValue(forKey: download) }
            recorder.active.decrement()
            recorder.aborted.increment()
        }) { [shared] in
            shared.state.withLockedValue { _ = $0.downloads.removeValue(forKey: download) }
            recorder.active.decrement()
            recorder.completed.increment()
            recorder.bytes.increment(by: range.count)
            recorder.duration.recordNanoseconds((NIODeadline.now() - started).nanoseconds)
            shared.state.withLockedValue { $0.stats.bytesServed += range.count }
            shared.log(h, client: client, status: status, bytes: range.count, started: started, why: nil)
        }
        sent.whenComplete { _ in try? handle.close() }
    }

    private func finishRoute(_ r: HTTPRouteResponse, head h: HTTPRequestHead, client: String, started: NIODeadline,
                             keepAlive: Bool, context: ChannelHandlerContext) {
        guard context.channel.isActive else { return }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: r.contentType)
        headers.add(name: "Content-Length", value: String(r.body.count))
        send(r.status, headers: headers, context: context, keepAlive: keepAlive)
        if h.method != .HEAD && !r.body.isEmpty {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: r.body)))), promise: nil)
        }
        shared.recorder.answered(Int(r.status.code))
        let bytes = h.method == .HEAD ? 0 : r.body.count
        end(context: context, keepAlive: keepAlive) { [shared] in
            shared.log(h, client: client, status: r.status, bytes: bytes, started: started, why: nil)
        }
    }

    private func send(_ status: HTTPResponseStatus, headers: HTTPHeaders, context: ChannelHandlerContext, keepAlive: Bool) {
        var headers = headers
        if !keepAlive { headers.replaceOrAdd(name: "Connection", value: "close") }
        let head = HTTPResponseHead(version: .http1_1, status: status, headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
    }

    private func end(context: ChannelHandlerContext, keepAlive: Bool, failed: (@Sendable () -> Void)? = nil,
                     done: @escaping @Sendable () -> Void) {
        let channel = context.channel
        inFlight += 1
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { result in
            bound.value.inFlight -= 1
            switch result {
            case .success: done()
            case .failure: failed?()
            }
            if !keepAlive { channel.close(promise: nil) }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            if inFlight == 0 { context.close(promise: nil) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

extension HTTPBootServer.Shared {
    /// One line per request, like TFTP's transfer line: `GET "/path" client=IP:PORT status=200
    /// bytes=N duration=0.123s`. Errors (4xx, 5xx) at notice, the rest at info.
    func log(_ h: HTTPRequestHead, client: String, status: HTTPResponseStatus, bytes: Int,
             started: NIODeadline, why: String?) {
        let level: Logger.Level = status.code >= 400 ? .notice : .info
        guard logger.logLevel <= level else { return }
        let ms = max(0, (NIODeadline.now() - started).nanoseconds / 1_000_000)
        let frac = String(ms % 1000)
        let duration = "\(ms / 1000)." + String(repeating: "0", count: 3 - frac.count) + frac
        logger.log(level: level, "\(h.method.rawValue) \(h.uri.debugDescription) client=\(client) status=\(status.code) bytes=\(bytes) duration=\(duration)s\(why.map { " reason=\($0.debugDescription)" } ?? "")")
    }
}
