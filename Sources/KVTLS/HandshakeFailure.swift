import NIOSSL

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A failed TLS handshake said in an operator's words: BoringSSL's error names (which
/// stay in the text, for searching) mapped to what went wrong and on which side.
struct HandshakeFailure: Error, CustomStringConvertible, Sendable {
    let reason: String
    /// Whether a certificate was refused (by either side): trying again cannot help until
    /// an operator changes one. A cut connection is not.
    let isAboutCertificates: Bool

    var description: String { reason }

    init(reason: String, isAboutCertificates: Bool) {
        self.reason = reason
        self.isAboutCertificates = isAboutCertificates
    }

    /// - Parameter peerCertificate: what the peer presented, if known: a failed
    ///   verification is then told more exactly (expired, not yet valid, another CA).
    ///   `dialled`: the name or address this side dialled, when it dialled.
    init(_ error: any Error, peerCertificate: NIOSSLCertificate? = nil, dialled: String? = nil) {
        if let extra = error as? NIOSSLExtraError, extra == .failedToValidateHostname {
            let subject = peerCertificate.map { " (\(CertificateTime.subject(of: $0)))" } ?? ""
            reason =
                "the peer's certificate\(subject) does not name \(dialled ?? "the name or address dialled") "
                + "in its subjectAltName [failedToValidateHostname]"
            isAboutCertificates = true
            return
        }
        let text = "\(error)"
        guard let known = Self.explanations.first(where: { text.contains($0.name) }) else {
            (reason, isAboutCertificates) = (text, false)
            return
        }
        if known.name == "CERTIFICATE_VERIFY_FAILED", let certificate = peerCertificate {
            reason = "\(Self.verificationFailure(of: certificate)) [\(known.name)]"
        } else {
            reason = "\(known.meaning) [\(known.name)]"
        }
        isAboutCertificates = !Self.cutConnections.contains(known.name)
    }

    private static func verificationFailure(of certificate: NIOSSLCertificate) -> String {
        let now = time(nil)
        let subject = CertificateTime.subject(of: certificate)
        if certificate.notValidAfter < now {
            return "the peer's certificate (\(subject)) expired on \(CertificateTime.text(certificate.notValidAfter))"
        }
        if certificate.notValidBefore > now {
            return "the peer's certificate (\(subject)) is not valid before "
                + CertificateTime.text(certificate.notValidBefore)
        }
        return "the peer's certificate (\(subject)) is not signed by a CA this process trusts, or is unusable"
    }

    /// The names that mean the connection was cut rather than a certificate refused.
    static let cutConnections: Set = ["EOF during handshake", "uncleanShutdown"]

    /// BoringSSL's names for the common failures, and what each means here.
    static let explanations: [(name: String, meaning: String)] = [
        (
            "CERTIFICATE_VERIFY_FAILED",
            "the peer's certificate failed verification: not signed by the cluster's CA, expired or not yet valid"
        ),
        ("CERTIFICATE_EXPIRED", "the peer refused this process's certificate: it has expired"),
        ("UNKNOWN_CA", "the peer refused this process's certificate: it is not signed by a CA the peer trusts"),
        ("BAD_CERTIFICATE", "the peer refused this process's certificate, or its lack of one"),
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
            "the peer closed the connection during the handshake: it may not speak TLS, or it refused this process's certificate"
        ),
        (
            "uncleanShutdown",
            "the peer closed the connection during the handshake: it may not speak TLS, or it refused this process's certificate"
        ),
    ]
}
