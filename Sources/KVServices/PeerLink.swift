import KVProtocol
import KVTransport
import NIOCore

/// A connection to one peer that reconnects on demand. Used only from its owner's event
/// loop (which is what makes the unchecked `Sendable` sound). Requests sent while connecting are queued on the same connect, so they keep
/// their order.
final class PeerLink: @unchecked Sendable {
    let address: String
    private let group: any EventLoopGroup
    private let loop: any EventLoop
    private let secret: SharedSecret?
    private let tls: (any ConnectionSecurity)?
    private var connection: EventLoopFuture<KVConnection>?

    init(
        address: String, group: any EventLoopGroup, loop: any EventLoop, secret: SharedSecret?,
        tls: (any ConnectionSecurity)?
    ) {
        self.address = address
        self.group = group
        self.loop = loop
        self.secret = secret
        self.tls = tls
    }

    /// Sends `message`; the reply (or failure) is delivered on the owner's loop.
    func send(_ message: Message, timeout: TimeAmount) -> EventLoopFuture<Message> {
        loop.preconditionInEventLoop()
        let connection: EventLoopFuture<KVConnection>
        if let existing = self.connection {
            connection = existing
        } else {
            connection = KVConnection.connect(
                to: address, group: group, timeout: timeout, secret: secret, tls: tls)
            self.connection = connection
            connection.hop(to: loop).whenComplete { [weak self] result in
                guard let self else { return }
                switch result {
                case .success(let established):
                    established.channel.closeFuture.hop(to: self.loop).whenComplete { _ in
                        if self.connection === connection { self.connection = nil }
                    }
                case .failure:
                    if self.connection === connection { self.connection = nil }
                }
            }
        }
        return connection.flatMap { $0.request(message, timeout: timeout) }.hop(to: loop)
    }

    func close() {
        connection?.whenSuccess { $0.close() }
        connection = nil
    }
}
