import KVProtocol
import MonitorCore
import NodeDriver

/// A kv-monitor process: the production `MonitorDriver` in a simulated environment, over
/// a store that outlives it, as the state directory outlives a real monitor. A restart
/// restores the last saved view. One of several monitors (`election` set) keeps its view
/// in the simulated etcd instead, and its own store stays empty.
final class SimulatedMonitor {
    let node: Int
    /// The address servers and clients know it by (its node's name).
    let address: String
    let config: MonitorConfig
    /// For one of several monitors, its election's timing.
    let election: ElectionConfig?
    private(set) var driver: MonitorDriver<SimulatedMonitorEnvironment>?
    private(set) var incarnation: UInt64 = 0
    /// Every view the store made durable, in order.
    private(set) var saved: [View] = []
    /// The save under way, if any, and whether it will fail: one that will not lands when
    /// its delay is over, or (by a coin) when the process dies, as a crash before or after
    /// the rename.
    var saveInFlight: (view: View, fails: Bool)?
    /// Every save fails (a full or failing disk) while set.
    var saveFails = false

    init(node: Int, address: String, config: MonitorConfig, election: ElectionConfig? = nil) {
        self.node = node
        self.address = address
        self.config = config
        self.election = election
    }

    var isUp: Bool { driver != nil }
    var core: MonitorCore? { driver?.core }

    func start(in simulation: Simulation) {
        incarnation += 1
        let environment = SimulatedMonitorEnvironment(simulation: simulation, monitor: self, incarnation: incarnation)
        let store = election.map { _ in
            SimulatedElectionStore(simulation: simulation, monitor: self, incarnation: incarnation)
        }
        driver = MonitorDriver(
            config: config, tickInterval: Simulation.pingInterval * 1_000, restoredView: saved.last,
            environment: environment, election: election.map { ($0, store!) })
        driver!.start()
    }

    /// The process dies; a save in flight has landed or not, as `landed` says.
    func stop(saveLanded landed: Bool) {
        if landed, let save = saveInFlight, !save.fails { saved.append(save.view) }
        saveInFlight = nil
        // A crash: no lease revoked, as kill -9 revokes nothing (another monitor waits
        // for the lease to run out in etcd).
        driver?.stop(revokingLease: false)
        driver = nil
    }

    /// Ends the save in flight: stored, or failed. Nil if none was in flight (the
    /// process that asked for it died).
    func endSave() -> (view: View, fails: Bool)? {
        guard let save = saveInFlight else { return nil }
        if !save.fails { saved.append(save.view) }
        saveInFlight = nil
        return save
    }

    /// The view the service is in: the last one saved, whether or not the monitor runs.
    var savedView: View { saved.last ?? .initial }

    /// The primary the monitor named for view `viewnum`, from every view it ever saved.
    func primary(of viewnum: UInt64) -> String? {
        saved.last { $0.viewnum == viewnum }?.primary
    }
}
