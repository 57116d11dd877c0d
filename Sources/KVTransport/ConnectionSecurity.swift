import NIOCore

/// A layer that secures a connection before the kvservice protocol or the Redis protocol
/// runs over it: TLS, in module KVTLS. The transport knows only this much of it, so
/// everything that frames, parses and answers stays the same with or without it.
public protocol ConnectionSecurity: Sendable {
    /// Puts the layer's handlers first in the pipeline of a connection a listener
    /// accepted. Once the handshake is done they fire `PeerCertified` inbound when the
    /// peer proved a certificate; a failed handshake is logged by the layer and closes
    /// the connection, so nothing behind it ever sees a byte.
    func secureAccepted(_ channel: any Channel) throws

    /// Puts the layer's handlers first in the pipeline of a connection this process opened
    /// to `peer`. What is written waits for the handshake; a failed one reaches the
    /// handlers behind as an error that says why (an untrusted, expired or wrong-name
    /// certificate), and closes the connection.
    func secureConnecting(_ channel: any Channel, to peer: PeerAddress) throws
}

/// Fired inbound on an accepted connection once its peer proved a certificate signed by
/// the cluster's CA: what lets it send the messages only cluster members and operators
/// may send (`Message.needsClusterCertificate`).
public struct PeerCertified: Sendable, Equatable {
    /// The certificate's subject, for logs.
    public var subject: String

    public init(subject: String) {
        self.subject = subject
    }
}
