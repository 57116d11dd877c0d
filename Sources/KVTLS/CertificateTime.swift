import NIOSSL

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// How a certificate is named in logs: its validity times in UTC, its subject by its
/// common name.
enum CertificateTime {
    static func text(_ time: time_t) -> String {
        var seconds = time
        var parts = tm()
        guard gmtime_r(&seconds, &parts) != nil else { return "\(time)" }
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday)) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) UTC"
    }

    /// "CN=name", from NIOSSL's description of the certificate
    /// (`<NIOSSLCertificate;serial_number=…;common_name=…>`); the description itself when
    /// it has no common name.
    static func subject(of certificate: NIOSSLCertificate) -> String {
        let description = certificate.description
        guard let range = description.firstRange(of: "common_name=") else { return description }
        let name = description[range.upperBound...].prefix { $0 != ";" && $0 != ">" }
        return "CN=\(name)"
    }
}
