import NodeDriver
import ServerCore

/// A kv-server process: the production `ServerDriver` in a simulated environment. A crash
/// drops the driver with its core, its requests and its timers; a restart begins a new
/// incarnation with an empty core.
final class SimulatedServer {
    let address: String
    let node: Int
    let config: ServerConfig
    private(set) var driver: ServerDriver<SimulatedServerEnvironment>?
    private(set) var incarnation: UInt64 = 0
    /// A SIGTERM was sent to this incarnation: it is leaving (the fault planner waits
    /// for the leave to end before the next fault).
    var askedToLeave = false

    init(address: String, node: Int, config: ServerConfig) {
        self.address = address
        self.node = node
        self.config = config
    }

    var isUp: Bool { driver != nil }
    var core: ServerCore? { driver?.core }

    /// A new process under the same address: empty, pinging 0.
    func start(in simulation: Simulation) {
        incarnation += 1
        askedToLeave = false
        let environment = SimulatedServerEnvironment(simulation: simulation, server: self, incarnation: incarnation)
        driver = ServerDriver(
            configuration: .init(
                core: config, monitors: simulation.monitors.map(\.address),
                pingInterval: Simulation.pingInterval * 1_000,
                peerTimeout: Simulation.peerTimeout * 1_000),
            environment: environment)
        driver!.start()
    }

    /// The process ends: its state, its connections and its timers are gone.
    func stop() {
        driver?.stop()
        driver = nil
        askedToLeave = false
    }
}
