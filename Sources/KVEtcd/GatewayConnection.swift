import KVTransport
import NIOCore
import NIOHTTP1
import NIOPosix

/// Opening a connection to a member's gateway and sending one POST on it.
///
/// Each request, and each watch, has a TCP connection of its own, closed after the answer
/// (`Connection: close`). Reusing connections would save a loopback connect (well under a
/// millisecond) per request, but would bring a pool, stale-connection detection and the
/// question of whether a request written on a connection the server was closing may be
/// retried (a transaction may not). The monitor's few requests a second do not need it.
enum GatewayConnection {
    /// Connects to `endpoint` on `eventLoop` with an HTTP/1.1 client pipeline ending in the
    /// handler `makeHandler` makes, behind TLS for an https:// endpoint. Fails if the
    /// connection is not made within `timeout` (name resolution included); a failed TLS
    /// handshake reaches the handler as an error.
    static func open<Handler: ChannelHandler>(
        to endpoint: EtcdEndpoint, on eventLoop: any EventLoop, timeout: TimeAmount,
        tls: (any ConnectionSecurity)?, makeHandler: @escaping @Sendable () -> Handler
    ) -> EventLoopFuture<any Channel> {
        if endpoint.secure && tls == nil {
            return eventLoop.makeFailedFuture(TLSNotConfigured(endpoint: endpoint))
        }
        return ClientBootstrap(group: eventLoop)
            .connectTimeout(max(timeout, .milliseconds(1)))
            // tcpOption, not socketOption: at SOL_SOCKET level TCP_NODELAY's number is
            // SO_DEBUG, which a process without CAP_NET_ADMIN (the packaged unit's empty
            // capability set) is refused with EACCES, and every connection to etcd failed.
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if endpoint.secure, let tls {
                        try tls.secureConnecting(channel, to: PeerAddress(host: endpoint.host, port: endpoint.port))
                    }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(makeHandler())
                }
            }
            .connect(host: endpoint.host, port: endpoint.port)
    }

    struct TLSNotConfigured: Error, CustomStringConvertible {
        let endpoint: EtcdEndpoint
        var description: String { "\(endpoint) is https://, and no TLS is configured (--etcd-cacert)" }
    }

    /// Writes a POST of `body` (a JSON document) to `path`.
    ///
    /// `Grpc-Metadata-hasleader: true` goes with every request: etcd then refuses at once
    /// ("no leader", 503) what a member without a leader cannot serve, instead of holding
    /// a unary request until its internal timeout (7 s) or, for a watch, staying silent
    /// for ever; a watch already open ends when its member loses its leader.
    static func post(_ body: ByteBuffer, to path: String, on channel: any Channel, endpoint: EtcdEndpoint) {
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: "\(endpoint.hostForURL):\(endpoint.port)")
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: String(body.readableBytes))
        headers.add(name: "Connection", value: "close")
        headers.add(name: "Grpc-Metadata-hasleader", value: "true")
        let head = HTTPRequestHead(version: .http1_1, method: .POST, uri: path, headers: headers)
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        channel.write(HTTPClientRequestPart.body(.byteBuffer(body)), promise: nil)
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
    }
}
