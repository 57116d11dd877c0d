import KVProtocol
import MonitorCore
import NodeDriver

/// A kv-monitor process: the production `MonitorDriver` in a simulated environment, over
/// a store that outlives it, as the state directory outlives a real monitor. A restart
/// restores the last saved view.
final class SimulatedMonitor {
    let node: Int
    let config: MonitorConfig
    private(set) var driver: MonitorDriver<SimulatedMonitorEnvironment>?
    private(set) var incarnation: UInt64 = 0
    /// Every view the store made durable, in order.
    private(set) var saved: [View] = []
    /// The save under way, if any: it lands (or not) when its delay is over, or when the
    /// process dies (as a crash before or after the rename).
    var saveInFlight: View?
    /// Every save fails (a full or failing disk) while set.
    var saveFails = false

    init(node: Int, config: MonitorConfig) {
        self.node = node
        self.config = config
    }

    var isUp: Bool { driver != nil }
    var core: MonitorCore? { driver?.core }

    func start(in simulation: Simulation) {
        incarnation += 1
        let environment = SimulatedMonitorEnvironment(simulation: simulation, monitor: self, incarnation: incarnation)
        driver = MonitorDriver(
            config: config, tickInterval: Simulation.pingInterval * 1_000, restoredView: saved.last,
            environment: environment)
        driver!.start()
    }

    /// The process dies; a save in flight has landed or not, as `landed` says.
    func stop(saveLanded landed: Bool) {
        if landed, let view = saveInFlight { saved.append(view) }
        saveInFlight = nil
        driver?.stop()
        driver = nil
    }

    func landSave() -> View? {
        guard let view = saveInFlight else { return nil }
        saved.append(view)
        saveInFlight = nil
        return view
    }

    /// The view the service is in: the last one saved, whether or not the monitor runs.
    var savedView: View { saved.last ?? .initial }

    /// The primary the monitor named for view `viewnum`, from every view it ever saved.
    func primary(of viewnum: UInt64) -> String? {
        saved.last { $0.viewnum == viewnum }?.primary
    }
}
