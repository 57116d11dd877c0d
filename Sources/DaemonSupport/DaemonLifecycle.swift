import Logging
import ServiceLifecycle

/// Runs a daemon under swift-service-lifecycle from its very first step: SIGTERM and
/// SIGINT are handled before the daemon starts listening, so a stop request that
/// arrives during start-up still gets a graceful stop.
public enum DaemonLifecycle {
    /// `start` brings the daemon up (listen, announce readiness) and returns how to stop
    /// it; that is called once graceful shutdown is requested.
    public static func run(
        logger: Logger, start: @escaping @Sendable () async throws -> @Sendable () async -> Void
    ) async throws {
        let group = ServiceGroup(
            services: [StartThenWait(start: start)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }

    private struct StartThenWait: Service {
        let start: @Sendable () async throws -> @Sendable () async -> Void

        func run() async throws {
            let stop = try await start()
            try? await gracefulShutdown()
            await stop()
        }
    }
}
