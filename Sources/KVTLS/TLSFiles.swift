/// Where a process's TLS material lives: its certificate (with any intermediates after
/// it), the certificate's private key, and the cluster's CA certificates, all PEM.
public struct TLSFiles: Sendable, Equatable {
    public var certificate: String?
    public var privateKey: String?
    public var ca: String

    public init(certificate: String?, privateKey: String?, ca: String) {
        self.certificate = certificate
        self.privateKey = privateKey
        self.ca = ca
    }
}

/// What a process does with its certificate, which decides what it must be good for.
public enum TLSRole: Sendable {
    /// A daemon: it listens and dials, so its certificate is presented both as a
    /// server's and as a client's.
    case member
    /// A client (kvctl, a monitor dialling etcd): it only dials; its certificate, if it
    /// has one, is a client's.
    case client
}

/// Whether a client of a TLS listener must prove a certificate signed by the cluster's
/// CA (`--tls-client-auth`). Cluster members always must, whatever this says: a server's
/// pings and forwards, and an operator's view changes, are refused without one.
public enum ClientCertificatePolicy: String, Sendable, CaseIterable {
    /// No connection without a certificate (as Redis's `tls-auth-clients yes`).
    case required
    /// A client may connect without one, for data commands only; one it presents must
    /// still be valid.
    case optional
}
