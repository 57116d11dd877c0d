import NIOCore
import NIOEmbedded
import NIOSSL
import NIOTLS

/// Checks a process's own material the way its peers will, before any of them does: a
/// TLS handshake in memory between a listener holding the certificate and a client that
/// trusts only the CA. First with no chain check (the key must match the certificate),
/// then with it (the CA must have signed the certificate), so the error says which.
enum TLSSelfCheck {
    static func run(
        certificate: NIOSSLCertificate, key: NIOSSLPrivateKey, ca: [NIOSSLCertificate], files: TLSFiles
    ) throws(TLSSetupError) {
        let certificatePath = files.certificate ?? "-"
        if let error = handshake(certificate: certificate, key: key, trusting: nil) {
            throw TLSSetupError(
                "the private key \(files.privateKey ?? "-") does not match the certificate \(certificatePath): \(error)"
            )
        }
        if let error = handshake(certificate: certificate, key: key, trusting: ca) {
            throw TLSSetupError(
                "the certificate \(certificatePath) is not signed by a CA in \(files.ca) "
                    + "(the cluster's peers would refuse it): \(error)")
        }
    }

    /// Nil when the handshake completes, else what failed.
    private static func handshake(
        certificate: NIOSSLCertificate, key: NIOSSLPrivateKey, trusting ca: [NIOSSLCertificate]?
    ) -> String? {
        do {
            var serverConfiguration = TLSConfiguration.makeServerConfiguration(
                certificateChain: [.certificate(certificate)], privateKey: .privateKey(key))
            serverConfiguration.certificateVerification = .none
            var clientConfiguration = TLSConfiguration.makeClientConfiguration()
            if let ca {
                clientConfiguration.trustRoots = .certificates(ca)
                clientConfiguration.certificateVerification = .noHostnameVerification
            } else {
                clientConfiguration.certificateVerification = .none
            }
            let server = EmbeddedChannel()
            let client = EmbeddedChannel()
            // Not finished with finish(): closing sends a close_notify and waits for the
            // other's, which nothing would deliver. They are dropped open; nothing of
            // theirs outlives this call.
            let done = HandshakeDone()
            try server.pipeline.syncOperations.addHandler(
                NIOSSLServerHandler(context: try NIOSSLContext(configuration: serverConfiguration)))
            try client.pipeline.syncOperations.addHandlers(
                try NIOSSLClientHandler(
                    context: try NIOSSLContext(configuration: clientConfiguration), serverHostname: nil),
                done)
            let address = try SocketAddress(ipAddress: "127.0.0.1", port: 1)
            // Embedded channels complete a connect on their loop's next run; never wait()
            // on one (it blocks for ever).
            server.connect(to: address, promise: nil)
            client.connect(to: address, promise: nil)
            server.embeddedEventLoop.run()
            client.embeddedEventLoop.run()
            // A TLS 1.3 handshake is two flights each way; a few more rounds cost nothing.
            for _ in 0..<8 where !done.completed {
                while let bytes = try client.readOutbound(as: ByteBuffer.self) { try server.writeInbound(bytes) }
                while let bytes = try server.readOutbound(as: ByteBuffer.self) { try client.writeInbound(bytes) }
            }
            return done.completed ? nil : "the handshake did not complete"
        } catch {
            return HandshakeFailure(error).reason
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
