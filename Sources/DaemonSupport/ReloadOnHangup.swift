import KVTLS
import Logging
import ServiceLifecycle
import UnixSignals

/// `systemctl reload` (SIGHUP): the daemon reads its TLS certificates, keys and CA files
/// again (the cluster's, and a monitor's for etcd). New connections use the new material,
/// established ones keep theirs, and files that cannot be used leave the previous
/// material in place, with an error in the log.
public struct ReloadOnHangup: Service {
    /// SIGHUP trapped: made first thing in a daemon's `run()`, so that from then on a
    /// SIGHUP is never the signal's default of ending the process, even during a long
    /// start (a recovery from disk). One that arrives before the reloads begin is kept
    /// and served then.
    public static func trap() async -> UnixSignalsSequence {
        await UnixSignalsSequence(trapping: .sighup)
    }

    private let signals: UnixSignalsSequence
    private let layers: [(name: String, layer: TLSLayer)]
    private let logger: Logger

    /// - Parameter layers: what to reload, each named for the log ("TLS", "etcd TLS").
    public init(signals: UnixSignalsSequence, layers: [(name: String, layer: TLSLayer)], logger: Logger) {
        self.signals = signals
        self.layers = layers
        self.logger = logger
    }

    public func run() async throws {
        for await _ in signals.cancelOnGracefulShutdown() {
            reload()
        }
    }

    func reload() {
        guard !layers.isEmpty else {
            logger.notice("SIGHUP: TLS is off, nothing to reload", metadata: ["kv_event": "reload-skipped"])
            return
        }
        for (name, layer) in layers {
            do {
                let summary = try layer.reload()
                logger.notice(
                    "\(name) certificate, key and CA reloaded: \(summary)",
                    metadata: ["kv_event": "reload", "kv_tls": "\(summary)"])
                TLSOptions.warnIfExpiringSoon(layer, logger: logger)
            } catch {
                logger.error(
                    "\(name) reload failed, keeping the previous certificate: \(error)",
                    metadata: ["kv_event": "reload-failed", "kv_reason": "\(error)"])
            }
        }
    }
}
