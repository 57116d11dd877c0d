import KVTransport
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus

/// A small HTTP/1.1 server for Prometheus: `GET /metrics` answers with the registry in
/// the text exposition format; any other path gets 404, any other method 405.
///
/// Binds an address, or adopts a listening socket passed by systemd.
public final class MetricsEndpoint: Sendable {
    /// The Content-Type of the Prometheus text exposition format.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    public let channel: any Channel
    private let connections: ConnectionRegistry

    private init(channel: any Channel, connections: ConnectionRegistry) {
        self.channel = channel
        self.connections = connections
    }

    /// The address actually bound (useful with port 0).
    public var localAddress: PeerAddress? {
        guard let address = channel.localAddress, let port = address.port else { return nil }
        return PeerAddress(host: address.ipAddress ?? "127.0.0.1", port: port)
    }

    public static func start(
        source: FrameListener.Source, registry: PrometheusCollectorRegistry,
        appendix: MetricsAppendix = MetricsAppendix(),
        group: any EventLoopGroup
    ) async throws -> MetricsEndpoint {
        // A scraper needs one connection; a few more for people looking by hand.
        let connections = ConnectionRegistry(limit: 32)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { child in
                guard connections.admit(child) else { return child.close() }
                return child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try child.pipeline.syncOperations.addHandler(
                        MetricsHTTPHandler(registry: registry, appendix: appendix))
                }
            }
        let channel = try await bootstrap.listen(on: source)
        return MetricsEndpoint(channel: channel, connections: connections)
    }

    /// Stops accepting and closes every open connection.
    public func close() async {
        try? await channel.close()
        await connections.closeAll()
    }
}

/// Answers one request at a time on a connection (NIOHTTP1 delivers them in order).
final class MetricsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let registry: PrometheusCollectorRegistry
    private let appendix: MetricsAppendix
    private var head: HTTPRequestHead?

    init(registry: PrometheusCollectorRegistry, appendix: MetricsAppendix) {
        self.registry = registry
        self.appendix = appendix
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
        case .body:
            break
        case .end:
            guard let head else { return }
            self.head = nil
            respond(context: context, to: head)
        }
    }

    private func respond(context: ChannelHandlerContext, to request: HTTPRequestHead) {
        let path = request.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        var headers = HTTPHeaders()
        let status: HTTPResponseStatus
        var body: [UInt8] = []
        if path != "/metrics" {
            status = .notFound
            body = Array("not found; metrics are at /metrics\n".utf8)
            headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        } else if request.method != .GET && request.method != .HEAD {
            status = .methodNotAllowed
            body = Array("method not allowed; use GET\n".utf8)
            headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
            headers.add(name: "Allow", value: "GET, HEAD")
        } else {
            status = .ok
            registry.emit(into: &body)
            appendix.emit(into: &body)
            headers.add(name: "Content-Type", value: MetricsEndpoint.contentType)
        }
        headers.add(name: "Content-Length", value: "\(body.count)")
        let keepAlive = request.isKeepAlive
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))),
            promise: nil)
        if request.method != .HEAD {
            var buffer = context.channel.allocator.buffer(capacity: body.count)
            buffer.writeBytes(body)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        }
        let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            written.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
