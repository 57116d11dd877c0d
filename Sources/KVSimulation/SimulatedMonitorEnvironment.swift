import KVProtocol
import MonitorCore
import NodeDriver

/// The monitor driver's world in the simulation: the simulated network, clock and agenda,
/// and a store whose saves take a while (`Simulation.saveDelay`). One per incarnation.
final class SimulatedMonitorEnvironment: MonitorEnvironment {
    typealias Requester = SimulatedRequester
    typealias Timer = SimulatedTimer

    unowned let simulation: Simulation
    unowned let monitor: SimulatedMonitor
    let incarnation: UInt64

    init(simulation: Simulation, monitor: SimulatedMonitor, incarnation: UInt64) {
        self.simulation = simulation
        self.monitor = monitor
        self.incarnation = incarnation
    }

    var isCurrent: Bool { monitor.isUp && monitor.incarnation == incarnation }

    var now: UInt64 { simulation.now * 1_000 }

    func save(_ view: View, completion: @escaping (String?) -> Void) {
        if let inFlight = monitor.saveInFlight {
            simulation.fail("the monitor saves \(view) while \(inFlight.view) is being saved")
            return
        }
        monitor.saveInFlight = (view, monitor.saveFails)
        let delay = simulation.random.between(0, simulation.saveDelay)
        _ = simulation.scheduleTimer(at: simulation.now + delay, owner: { [self] in isCurrent }) { [self] in
            guard let save = monitor.endSave() else { return }
            completion(save.fails ? "no space left on device" : nil)
            simulation.checkMonitorNotices()
        }
    }

    func respond(to requester: SimulatedRequester, with message: Message) {
        simulation.checkHandedOut(message, by: monitor)
        simulation.checkLeaderValidity(monitor)
        simulation.answer(from: monitor.node, to: requester.node, exchange: requester.exchange, message)
    }

    /// The requester times out, as it would if the process had died.
    func abandon(_ requester: SimulatedRequester) {}

    func scheduleRepeated(initialDelay: UInt64, every interval: UInt64, _ action: @escaping () -> Void)
        -> SimulatedTimer
    {
        simulation.scheduleTimer(
            at: simulation.now + initialDelay / 1_000, every: interval / 1_000, owner: { [self] in isCurrent }
        ) { [self] in
            action()
            simulation.checkMonitorNotices()
        }
    }

    func log(_ notice: MonitorNotice) {
        simulation.monitorNotices.append((monitor.address, notice))
    }

    func log(_ notice: ElectionNotice) {
        simulation.trace.record(simulation.now, .electionNotice(monitor.address, notice))
        if case .becameLeader = notice {
            simulation.statistics.leaderships += 1
            simulation.checkSoleLeader(monitor)
        }
    }

    /// The simulated monitors start without a state file: nothing to import.
    func imported(_ view: View) {}

    func viewChanged(_ report: MonitorReport) {}

    func ticked(_ report: MonitorReport) {
        simulation.checkLeaderValidity(monitor)
    }
}
