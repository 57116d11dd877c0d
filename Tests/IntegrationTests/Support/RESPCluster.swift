import KVResp
import KVTestSupport
import KVTransport
import NIOCore
import NIOPosix
import XCTest

/// A primary and a synchronised backup, in process, each with a Redis-protocol endpoint.
struct RESPCluster {
    var cluster: TestCluster
    var primary: Int
    var backup: Int
    /// The Redis-protocol address of each server, by server number.
    var respAddresses: [PeerAddress]
}

extension XCTestCase {
    /// - Parameter ioThreads: with 1 or more, each server's Redis-protocol connections run
    ///   on that many loops of their own (`kv-server --io-threads`).
    func makeRESPCluster(ioThreads: Int = 0) async throws -> RESPCluster {
        var ioGroup: MultiThreadedEventLoopGroup?
        if ioThreads > 0 {
            let group = MultiThreadedEventLoopGroup(numberOfThreads: ioThreads)
            // Registered before the cluster's, so it runs after the cluster and the listeners stopped.
            addTeardownBlock { try? await group.shutdownGracefully() }
            ioGroup = group
        }
        let cluster = try await makeCluster()
        let ioLoops = ioGroup.map { Array($0.makeIterator()) } ?? []
        let primary = try await cluster.addServer(ioLoops: ioLoops)
        try await cluster.waitForView(primary: primary, backup: nil)
        let backup = try await cluster.addServer(ioLoops: ioLoops)
        try await cluster.waitForView(primary: primary, backup: backup)
        var addresses: [PeerAddress] = []
        for index in [primary, backup] {
            let running = await cluster.node(index)
            let node = try XCTUnwrap(running)
            let listener = try await RESPListener.start(
                source: .bind(PeerAddress(host: "127.0.0.1", port: 0)), backend: node, group: Shared.group,
                connectionGroup: ioGroup, logger: Shared.logger)
            addTeardownBlock { await listener.close() }
            addresses.append(try XCTUnwrap(listener.localAddress))
        }
        return RESPCluster(cluster: cluster, primary: primary, backup: backup, respAddresses: addresses)
    }

    /// A Redis-protocol connection, closed when the test ends.
    func connectRESP(_ address: PeerAddress) async throws -> RESPTestConnection {
        let connection = try await RESPTestConnection.connect(to: address)
        addTeardownBlock { connection.close() }
        return connection
    }
}
