import KVServices
import KVTransport
import Logging
import NIOPosix
import XCTest

/// A monitor started for each test, servers added on demand, all in-process on a small
/// event loop group, and stopped when the test ends: what the kvctl tests run against.
class InProcessClusterTestCase: XCTestCase {
    private(set) var group: MultiThreadedEventLoopGroup!
    private(set) var monitor: MonitorNode!
    private(set) var servers: [ServerNode] = []
    var monitorAddress: String { monitor.localAddress!.description }

    override func setUp() async throws {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        monitor = try await MonitorNode.start(
            configuration: .init(listen: .bind(PeerAddress(host: "127.0.0.1", port: 0))), group: group,
            logger: Self.quietLogger)
    }

    override func tearDown() async throws {
        for server in servers { await server.crash() }
        await monitor.stop()
        try await group.shutdownGracefully()
    }

    static var quietLogger: Logger {
        var logger = Logger(label: "kvctl-tests")
        logger.logLevel = .critical
        return logger
    }

    /// Starts one more server on a free port.
    func addServer() async throws {
        let port = try await freePort()
        servers.append(
            try await ServerNode.start(
                configuration: .init(
                    listen: .bind(PeerAddress(host: "127.0.0.1", port: port)), advertise: "127.0.0.1:\(port)",
                    monitor: monitorAddress),
                group: group, logger: Self.quietLogger))
    }

    /// A port that was free a moment ago (bound to port 0 and released).
    func freePort() async throws -> Int {
        let probe = try await ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
        let port = probe.localAddress!.port!
        try await probe.close()
        return port
    }
}
