import Logging
import ServiceLifecycle

/// Wraps a running node as a swift-service-lifecycle `Service`: it runs until graceful
/// shutdown is requested (SIGTERM, SIGINT), then stops the node.
public struct NodeService: Service {
    private let stop: @Sendable () async -> Void

    public init(stop: @escaping @Sendable () async -> Void) {
        self.stop = stop
    }

    public func run() async throws {
        try? await gracefulShutdown()
        await stop()
    }
}
