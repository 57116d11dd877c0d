import ArgumentParser
import KVTLS
import Logging

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The TLS flags both daemons take. With them, every connection the daemon accepts or
/// opens is TLS, mutual between cluster members, and its Redis-protocol port speaks TLS
/// too; without them, plain TCP as before.
public struct TLSOptions: ParsableArguments {
    @Option(help: ArgumentHelp("This daemon's certificate (PEM; intermediates after it).", valueName: "file"))
    public var tlsCert: String?

    @Option(help: ArgumentHelp("The certificate's private key (PEM, not encrypted).", valueName: "file"))
    public var tlsKey: String?

    @Option(
        help: ArgumentHelp(
            "The cluster's CA certificates (PEM): peers and clients must present a certificate one of them signed.",
            valueName: "file"))
    public var tlsCa: String?

    @Option(
        help: ArgumentHelp(
            "Whether clients must present a certificate (required|optional).",
            discussion: """
                optional lets a client without one read and write data; servers, the monitor and \
                operators' view changes (switchover, revive) always need one.
                """))
    public var tlsClientAuth: ClientAuthArgument = .required

    public init() {}

    public enum ClientAuthArgument: String, ExpressibleByArgument, CaseIterable, Sendable {
        case required, optional

        var policy: ClientCertificatePolicy {
            switch self {
            case .required: .required
            case .optional: .optional
            }
        }
    }

    public func validate() throws {
        let given = [tlsCert, tlsKey, tlsCa].compactMap { $0 }
        guard given.isEmpty || given.count == 3 else {
            throw ValidationError("TLS needs all three of --tls-cert, --tls-key and --tls-ca")
        }
    }

    /// Loads and checks the material (nil: TLS off); a warning when the certificate
    /// expires within 30 days. `advertised`: the host peers dial this daemon at, which
    /// the certificate must name (nil: not known, as for a monitor).
    public func load(logger: Logger, advertised: String? = nil) throws(TLSSetupError) -> TLSLayer? {
        guard let tlsCert, let tlsKey, let tlsCa else { return nil }
        let layer = try TLSLayer(
            files: TLSFiles(certificate: tlsCert, privateKey: tlsKey, ca: tlsCa), clientPolicy: tlsClientAuth.policy,
            dialledAt: advertised, logger: logger)
        Self.warnIfExpiringSoon(layer, logger: logger)
        return layer
    }

    /// `load`, at a daemon's start: files that cannot be used end the start (logged as
    /// critical, exit status 1).
    public func loadAtStart(logger: Logger, advertised: String? = nil) throws -> TLSLayer? {
        do {
            return try load(logger: logger, advertised: advertised)
        } catch {
            logger.critical("cannot start: \(error)", metadata: ["kv_event": "startup"])
            throw ExitCode.failure
        }
    }

    static func warnIfExpiringSoon(_ layer: TLSLayer, logger: Logger) {
        guard layer.expiresSoon(now: Int(time(nil))) else { return }
        logger.warning(
            "the TLS certificate expires soon: \(layer.summary)",
            metadata: ["kv_event": "tls-expiring", "kv_tls": "\(layer.summary)"])
    }
}
