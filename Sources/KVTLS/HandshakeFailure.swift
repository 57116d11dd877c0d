import NIOSSL

/// A failed TLS handshake said in an operator's words: BoringSSL's error names (which
/// stay in the text, for searching) mapped to what went wrong and on which side.
struct HandshakeFailure: Error, CustomStringConvertible, Sendable {
    let reason: String

    var description: String { reason }

    init(reason: String) {
        self.reason = reason
    }

    init(_ error: any Error) {
        if let failure = error as? HandshakeFailure {
            self = failure
            return
        }
        if let extra = error as? NIOSSLExtraError, extra == .failedToValidateHostname {
            reason = "the peer's certificate is not valid for the name or address dialled (\(extra))"
            return
        }
        let text = "\(error)"
        reason = Self.explanations.first { text.contains($0.name) }.map { "\($0.meaning) [\($0.name)]" } ?? text
    }

    /// BoringSSL's names for the common failures, and what each means here.
    static let explanations: [(name: String, meaning: String)] = [
        (
            "CERTIFICATE_VERIFY_FAILED",
            "the peer's certificate failed verification: not signed by the cluster's CA, expired or not yet valid"
        ),
        ("CERTIFICATE_EXPIRED", "the peer refused this process's certificate: it has expired"),
        ("UNKNOWN_CA", "the peer refused this process's certificate: it is not signed by a CA the peer trusts"),
        ("BAD_CERTIFICATE", "the peer refused this process's certificate"),
        ("CERTIFICATE_UNKNOWN", "the peer refused this process's certificate"),
        ("CERTIFICATE_REQUIRED", "the peer requires a client certificate and this process presented none"),
        ("PEER_DID_NOT_RETURN_A_CERTIFICATE", "the peer presented no certificate, and this listener requires one"),
        ("WRONG_VERSION_NUMBER", "the peer does not speak TLS (plain TCP to a TLS port, or the other way round)"),
        ("HTTP_REQUEST", "the peer does not speak TLS (plain TCP to a TLS port)"),
        ("NO_SHARED_CIPHER", "the peer offered no cipher this process accepts"),
        ("UNSUPPORTED_PROTOCOL", "the peer offered only TLS versions older than 1.2"),
        ("DECRYPT_ERROR", "a handshake signature failed: a private key that does not match its certificate?"),
        (
            "EOF during handshake",
            "the peer closed the connection during the handshake (it may have refused our certificate)"
        ),
        (
            "uncleanShutdown",
            "the peer closed the connection during the handshake (it may have refused our certificate)"
        ),
    ]
}
