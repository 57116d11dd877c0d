import KVProtocol
import MonitorCore

/// A kv-monitor process: `MonitorCore` over a view store that outlives it, as the state
/// directory outlives a real monitor. A restart restores the last saved view.
final class SimulatedMonitor {
    let node: Int
    let store = InMemoryViewStore()
    let config: MonitorConfig
    private(set) var core: MonitorCore?
    private(set) var incarnation: UInt64 = 0

    init(node: Int, config: MonitorConfig) {
        self.node = node
        self.config = config
    }

    var isUp: Bool { core != nil }

    func start(atMillis now: UInt64) {
        incarnation += 1
        core = MonitorCore(config: config, store: store, restoredView: store.last, now: now)
    }

    func stop() {
        core = nil
    }

    /// The view the service is in: the last one saved, whether or not the monitor runs.
    var savedView: View { store.last ?? .initial }

    /// The primary the monitor named for view `viewnum`, from every view it ever saved.
    func primary(of viewnum: UInt64) -> String? {
        store.saved.last { $0.viewnum == viewnum }?.primary
    }
}

extension SimulatedMonitor {
    func ping(from address: String, viewnum: UInt64, leaving: Bool, atMillis now: UInt64) -> View {
        core!.ping(from: address, viewnum: viewnum, leaving: leaving, at: now)
    }

    func tick(atMillis now: UInt64) {
        core!.tick(at: now)
    }

    func switchover(expectedViewnum: UInt64, atMillis now: UInt64) -> Result<View, SwitchoverRefusal> {
        core!.switchover(expectedViewnum: expectedViewnum, at: now)
    }

    func drainEvents() -> [MonitorEvent] {
        core?.drainEvents() ?? []
    }
}
