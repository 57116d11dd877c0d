import Logging
import ServiceLifecycle

/// Runs a daemon under swift-service-lifecycle from its very first step: SIGTERM and
/// SIGINT are handled before the daemon starts listening, so a stop request that
/// arrives during start-up still gets a graceful stop.
///
/// `start` brings the daemon's parts up (listeners bound, readiness announced) and
/// returns them as services in start order; they run as one `ServiceGroup`, which stops
/// them one after the other in the reverse order when graceful shutdown is requested. So
/// the shutdown sequence is the list, read from the end.
public enum DaemonLifecycle {
    public static func run(
        logger: Logger, start: @escaping @Sendable () async throws -> [any Service]
    ) async throws {
        let group = ServiceGroup(
            services: [Daemon(start: start, logger: logger)], gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger)
        try await group.run()
    }

    /// Starts the parts, then runs them as a group of their own, which takes the graceful
    /// shutdown of the outer group (and its signals) as its own.
    private struct Daemon: Service {
        let start: @Sendable () async throws -> [any Service]
        let logger: Logger

        func run() async throws {
            let parts = try await start()
            try await ServiceGroup(
                configuration: ServiceGroupConfiguration(
                    services: parts.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
                    logger: logger)
            ).run()
        }
    }
}

/// A part of a daemon that is already running (a listener, a node, an endpoint): its
/// service waits for graceful shutdown and then stops it.
public struct StopAtShutdown: Service, CustomStringConvertible {
    public let description: String
    private let stop: @Sendable () async -> Void

    public init(_ name: String, stop: @escaping @Sendable () async -> Void) {
        self.description = name
        self.stop = stop
    }

    public func run() async throws {
        // Cancellation (another part failed) stops it just the same.
        try? await gracefulShutdown()
        await stop()
    }
}
