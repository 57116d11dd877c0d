import KVTransport
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOSSL

/// TLS for every connection a process accepts or opens: the `ConnectionSecurity` the
/// transport and the Redis-protocol listener take.
///
/// The material is read at start and again on `reload()` (SIGHUP): a new connection uses
/// whatever was loaded last, an established one keeps the context it began with, so a
/// reload drops nothing. A reload whose files are unusable keeps the previous material.
public final class TLSLayer: ConnectionSecurity {
    public let files: TLSFiles
    public let role: TLSRole
    public let clientPolicy: ClientCertificatePolicy
    /// The host peers dial this process at, which its certificate must name (checked at
    /// every load); nil when unknown.
    public let dialledAt: String?
    private let material: NIOLockedValueBox<TLSMaterial>
    private let failures: HandshakeFailureLog
    /// How long an accepted connection may take to finish its handshake: a peer that
    /// connects and says nothing would otherwise hold one of the listener's connections
    /// for ever.
    public let handshakeTimeout: TimeAmount

    public static let defaultHandshakeTimeout = TimeAmount.seconds(10)

    /// Reads and checks the files; throws what is wrong with them.
    public init(
        files: TLSFiles, role: TLSRole = .member, clientPolicy: ClientCertificatePolicy = .required,
        handshakeTimeout: TimeAmount = defaultHandshakeTimeout, dialledAt: String? = nil, logger: Logger
    ) throws(TLSSetupError) {
        self.handshakeTimeout = handshakeTimeout
        self.dialledAt = dialledAt
        self.files = files
        self.role = role
        self.clientPolicy = clientPolicy
        self.material = NIOLockedValueBox(
            try TLSMaterial.load(files, role: role, clientPolicy: clientPolicy, dialledAt: dialledAt))
        self.failures = HandshakeFailureLog(logger: logger)
    }

    /// The certificate in use, for logs and STATUS=.
    public var summary: String { material.withLockedValue { $0.summary } }

    /// Seconds until the certificate in use expires (nil: no certificate of its own).
    public func secondsToExpiry(now: Int) -> Int? {
        material.withLockedValue { $0.notValidAfter }.map { $0 - now }
    }

    /// Whether the certificate in use expires within 30 days: worth a warning at load.
    public func expiresSoon(now: Int) -> Bool {
        secondsToExpiry(now: now).map { $0 < TLSMaterial.expiryWarning } ?? false
    }

    /// Reads the files again and, when they are usable, makes them the material of every
    /// connection from now on. Returns the new summary; throws (keeping the old material)
    /// what is wrong with them.
    @discardableResult
    public func reload() throws(TLSSetupError) -> String {
        let loaded = try TLSMaterial.load(files, role: role, clientPolicy: clientPolicy, dialledAt: dialledAt)
        material.withLockedValue { $0 = loaded }
        return loaded.summary
    }

    public func secureAccepted(_ channel: any Channel) throws {
        guard let context = material.withLockedValue({ $0.acceptingContext }) else {
            throw TLSSetupError("a listener needs a certificate and its key (--tls-cert, --tls-key)")
        }
        try channel.pipeline.syncOperations.addHandlers(
            NIOSSLServerHandler(context: context),
            HandshakeObserver(side: .accepting(failures, timeout: handshakeTimeout)))
    }

    public func secureConnecting(_ channel: any Channel, to peer: PeerAddress) throws {
        let context = material.withLockedValue { $0.connectingContext }
        // A name is checked against the certificate's DNS names (and sent as SNI); an
        // address, with no name given, against its IP addresses.
        let isAddress = (try? SocketAddress(ipAddress: peer.host, port: 0)) != nil
        try channel.pipeline.syncOperations.addHandlers(
            try NIOSSLClientHandler(context: context, serverHostname: isAddress ? nil : peer.host),
            HandshakeObserver(side: .connecting(peer: peer)))
    }
}
