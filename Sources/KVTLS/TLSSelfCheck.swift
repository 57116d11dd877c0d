import NIOCore
import NIOEmbedded
import NIOSSL
import NIOTLS

/// Checks a process's own material the way its peers will, before any of them does: TLS
/// handshakes in memory. First with no chain check (the key must match the
/// certificate); then the certificate as each side will see it: a listener's, checked by
/// a client that trusts only the CA, and a client's, checked by a listener that trusts
/// only the CA (the CA must have signed it, and its key usage must allow that use). So
/// the error says which.
enum TLSSelfCheck {
    /// - Parameter chain: the certificate and the intermediates after it, as presented.
    /// - Parameter dialledAt: the host peers dial this listener at (a server's
    ///   `--advertise`). An IP address must be among the certificate's, or every peer
    ///   refuses it. A name is not checked: a peer also accepts a certificate naming the
    ///   address the name resolves to, which this process cannot know.
    static func run(
        chain: [NIOSSLCertificate], key: NIOSSLPrivateKey, ca: [NIOSSLCertificate], files: TLSFiles, role: TLSRole,
        dialledAt: String? = nil
    ) throws(TLSSetupError) {
        let certificatePath = files.certificate ?? "-"
        if let error = handshake(chain: chain, key: key, checkedAs: nil, trusting: ca) {
            throw TLSSetupError(
                "the private key \(files.privateKey ?? "-") does not match the certificate \(certificatePath): \(error)"
            )
        }
        let uses: [Use] =
            switch role {
            case .member: [.listener, .client]
            case .client: [.client]
            }
        for use in uses {
            if let error = handshake(chain: chain, key: key, checkedAs: use, trusting: ca) {
                throw TLSSetupError(
                    "the certificate \(certificatePath) is not signed by a CA in \(files.ca), or may not be used "
                        + "as a \(use == .client ? "client" : "server")'s certificate (its extended key usage): "
                        + "the cluster's peers would refuse it [\(error)]")
            }
        }
        if case .member = role, let host = dialledAt, let address = try? SocketAddress(ipAddress: host, port: 1),
            handshake(chain: chain, key: key, checkedAs: .dialledAt(address), trusting: ca) != nil
        {
            throw TLSSetupError(
                "the certificate \(certificatePath) does not name \(host), where peers dial this server "
                    + "(--advertise): every peer would refuse it; its subjectAltName needs IP:\(host)")
        }
    }

    enum Use: Equatable {
        /// Presented by a listener, checked by whoever dials it.
        case listener
        /// Presented by a listener, checked by whoever dials it at this address: the
        /// certificate must name it.
        case dialledAt(SocketAddress)
        /// Presented by the side that dials, checked by the listener.
        case client
    }

    /// Nil when the handshake completes, else what failed: BoringSSL's name for it when
    /// it has one.
    private static func handshake(
        chain: [NIOSSLCertificate], key: NIOSSLPrivateKey, checkedAs use: Use?, trusting ca: [NIOSSLCertificate]
    ) -> String? {
        let server = EmbeddedChannel()
        let client = EmbeddedChannel()
        // Closed at the end, whatever happened: an open embedded channel and its pipeline
        // hold each other, and with them the TLS handlers and contexts (about 200 KiB a
        // reload). A close sends a close_notify and waits for the other's, or for the
        // handler's shutdown timeout: the records are passed across and the loops'
        // clocks moved past that timeout.
        defer {
            server.close(promise: nil)
            client.close(promise: nil)
            for _ in 0..<4 {
                while let bytes = try? client.readOutbound(as: ByteBuffer.self) { _ = try? server.writeInbound(bytes) }
                while let bytes = try? server.readOutbound(as: ByteBuffer.self) { _ = try? client.writeInbound(bytes) }
            }
            server.embeddedEventLoop.advanceTime(by: .seconds(60))
            client.embeddedEventLoop.advanceTime(by: .seconds(60))
        }
        do {
            let own = chain.map { NIOSSLCertificateSource.certificate($0) }
            var serverConfiguration = TLSConfiguration.makeServerConfiguration(
                certificateChain: own, privateKey: .privateKey(key))
            serverConfiguration.certificateVerification = .none
            var clientConfiguration = TLSConfiguration.makeClientConfiguration()
            clientConfiguration.certificateVerification = .none
            switch use {
            case nil:
                break
            case .listener:
                clientConfiguration.trustRoots = .certificates(ca)
                clientConfiguration.certificateVerification = .noHostnameVerification
            case .dialledAt:
                clientConfiguration.trustRoots = .certificates(ca)
                clientConfiguration.certificateVerification = .fullVerification
            case .client:
                clientConfiguration.certificateChain = own
                clientConfiguration.privateKey = .privateKey(key)
                serverConfiguration.trustRoots = .certificates(ca)
                serverConfiguration.certificateVerification = .noHostnameVerification
            }
            let done = HandshakeDone()
            let serverDone = HandshakeDone()
            try server.pipeline.syncOperations.addHandlers(
                NIOSSLServerHandler(context: try NIOSSLContext(configuration: serverConfiguration)), serverDone)
            // With no name given, the certificate's IP addresses are checked against the
            // channel's remote address.
            var address = try SocketAddress(ipAddress: "127.0.0.1", port: 1)
            if case .dialledAt(let dialled) = use { address = dialled }
            try client.pipeline.syncOperations.addHandlers(
                try NIOSSLClientHandler(
                    context: try NIOSSLContext(configuration: clientConfiguration), serverHostname: nil),
                done)
            client.remoteAddress = address
            // Embedded channels complete a connect on their loop's next run; never wait()
            // on one (it blocks for ever).
            server.connect(to: address, promise: nil)
            client.connect(to: address, promise: nil)
            server.embeddedEventLoop.run()
            client.embeddedEventLoop.run()
            // A TLS 1.3 handshake is two flights each way; a few more rounds cost nothing.
            // The listener checks a client's certificate last: both sides must be done.
            for _ in 0..<8 where !(done.completed && serverDone.completed) {
                while let bytes = try client.readOutbound(as: ByteBuffer.self) { try server.writeInbound(bytes) }
                while let bytes = try server.readOutbound(as: ByteBuffer.self) { try client.writeInbound(bytes) }
            }
            return done.completed && serverDone.completed ? nil : "the handshake did not complete"
        } catch {
            let text = "\(error)"
            return HandshakeFailure.explanations.first { text.contains($0.name) }?.name ?? text
        }
    }

    private final class HandshakeDone: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        var completed = false

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case .handshakeCompleted? = event as? TLSUserEvent { completed = true }
            context.fireUserInboundEventTriggered(event)
        }
    }
}
