/// One etcd cluster for all the tests of a class: started by the first test that asks,
/// healed (every member running and healthy) for each later one, stopped by the class's
/// `tearDown()`. Starting a cluster takes over a second and ~370 MB of /tmp; a class's
/// tests keep apart by using key prefixes of their own.
package final class SharedEtcdCluster: Sendable {
    private let members: Int
    private let tls: Bool
    private let cluster = Locked<EtcdCluster?>(nil)

    /// With `tls`, the members serve their client URLs in TLS (`EtcdCluster.start`).
    package init(members: Int = 3, tls: Bool = false) {
        self.members = members
        self.tls = tls
    }

    /// The cluster, every member running and healthy. Tests of a class run one at a time,
    /// so two never start a cluster together.
    package func healthyCluster() async throws -> EtcdCluster {
        if let running = cluster.get() {
            try await running.heal()
            return running
        }
        let started = try await EtcdCluster.start(members: members, tls: tls)
        cluster.set(started)
        return started
    }

    /// Stops the cluster, if one was started.
    package func stop() {
        cluster.update { current in
            current?.stop()
            current = nil
        }
    }
}
