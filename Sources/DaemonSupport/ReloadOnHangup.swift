import KVTLS
import Logging
import ServiceLifecycle
import UnixSignals

/// `systemctl reload` (SIGHUP): the daemon reads its TLS certificate, key and CA files
/// again. New connections use the new material, established ones keep theirs, and files
/// that cannot be used leave the previous material in place, with an error in the log.
///
/// Made before the daemon announces readiness: from then on a SIGHUP is a reload, never
/// the signal's default of ending the process.
public struct ReloadOnHangup: Service {
    private let signals: UnixSignalsSequence
    private let tls: TLSLayer?
    private let logger: Logger

    public init(tls: TLSLayer?, logger: Logger) async {
        self.signals = await UnixSignalsSequence(trapping: .sighup)
        self.tls = tls
        self.logger = logger
    }

    public func run() async throws {
        for await _ in signals.cancelOnGracefulShutdown() {
            reload()
        }
    }

    func reload() {
        guard let tls else {
            logger.notice("SIGHUP: TLS is off, nothing to reload", metadata: ["kv_event": "reload-skipped"])
            return
        }
        do {
            let summary = try tls.reload()
            logger.notice(
                "TLS certificate, key and CA reloaded: \(summary)",
                metadata: ["kv_event": "reload", "kv_tls": "\(summary)"])
            TLSOptions.warnIfExpiringSoon(tls, logger: logger)
        } catch {
            logger.error(
                "TLS reload failed, keeping the previous certificate: \(error)",
                metadata: ["kv_event": "reload-failed", "kv_reason": "\(error)"])
        }
    }
}
