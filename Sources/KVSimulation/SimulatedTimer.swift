import NodeDriver

/// A timer on the simulation's agenda (`SimulationEvent.timer`); cancelling it removes
/// its action, so the event finds nothing to run.
struct SimulatedTimer: DriverTimer {
    unowned let simulation: Simulation
    let id: UInt64

    func cancel() {
        simulation.timers[id] = nil
    }
}

extension Simulation {
    /// Runs `action` at `time` (simulated microseconds), and then every `interval` if given,
    /// for as long as `owner` (the process that set it up) is alive.
    /// `server`: the server process it belongs to, which a pause holds back.
    func scheduleTimer(
        at time: UInt64, every interval: UInt64? = nil, server: Int? = nil, owner: @escaping () -> Bool,
        _ action: @escaping () -> Void
    ) -> SimulatedTimer {
        let id = nextTimer
        nextTimer += 1
        timers[id] = TimerAction(interval: interval, server: server, owner: owner, action: action)
        queue.schedule(.timer(id: id), at: time)
        return SimulatedTimer(simulation: self, id: id)
    }

    func fireTimer(_ id: UInt64) {
        guard let timer = timers[id] else { return }
        guard timer.owner() else {
            timers[id] = nil
            return
        }
        if let index = timer.server, servers[index].pausedUntil > now {
            queue.schedule(.timer(id: id), at: servers[index].pausedUntil)
            return
        }
        if let interval = timer.interval {
            queue.schedule(.timer(id: id), at: now + interval)
        } else {
            timers[id] = nil
        }
        timer.action()
    }
}

/// What a timer runs, and how often.
struct TimerAction {
    let interval: UInt64?
    /// The index of the server whose process it belongs to.
    let server: Int?
    let owner: () -> Bool
    let action: () -> Void
}
