import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// One HTTP/1.1 GET whose body is digested, not kept (what a firmware's HTTP boot does to the
/// server, minus the storage).
public enum HTTPFetch {
    public struct Result: Sendable {
        public var status: Int
        public var digest: ContentDigest
    }

    public enum Failure: Error, CustomStringConvertible {
        case closedEarly
        public var description: String { "connection closed before the response ended" }
    }

    public static func get(host: String, port: Int, path: String, timeout: TimeAmount = .seconds(60),
                           group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> Result {
        let loop = group.next()
        let promise = loop.makePromise(of: Result.self)
        let channel = try await ClientBootstrap(group: loop)
            .connectTimeout(timeout)
            .channelInitializer { ch in
                ch.pipeline.addHTTPClientHandlers().flatMapThrowing {
                    try ch.pipeline.syncOperations.addHandler(BodyDigester(promise: promise))
                }
            }
            .connect(host: host, port: port).get()
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path)
        head.headers.add(name: "Host", value: host)
        head.headers.add(name: "Connection", value: "close")
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        let timer = loop.scheduleTask(in: timeout) { channel.close(promise: nil) }
        defer {
            timer.cancel()
            channel.close(promise: nil)
        }
        return try await promise.futureResult.get()
    }
}

final class BodyDigester: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    private let promise: EventLoopPromise<HTTPFetch.Result>
    private var status = 0
    private var digest = ContentDigest()
    private var done = false

    init(promise: EventLoopPromise<HTTPFetch.Result>) { self.promise = promise }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h): status = Int(h.status.code)
        case .body(let b): digest.update(b.readableBytesView)
        case .end:
            done = true
            promise.succeed(HTTPFetch.Result(status: status, digest: digest))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !done {
            done = true
            promise.fail(HTTPFetch.Failure.closedEarly)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !done {
            done = true
            promise.fail(error)
        }
        context.close(promise: nil)
    }
}
