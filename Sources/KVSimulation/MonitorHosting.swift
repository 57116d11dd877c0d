import KVProtocol
import MonitorCore

/// The monitor as `MonitorNode` runs it (pings, view requests, switchovers, ticks), and
/// the view rules every change must keep (DESIGN §2, as MonitorScript checks them).
extension Simulation {
    func startMonitor() {
        if monitor.incarnation > 0 { statistics.count(.monitorRestart) }
        monitor.start(atMillis: now / 1_000)
        trace.record(now, .note("monitor starts from \(monitor.savedView)"))
        queue.schedule(.monitorTick(incarnation: monitor.incarnation), at: now + Self.pingInterval)
    }

    func tickMonitor(incarnation: UInt64) {
        guard monitor.isUp, monitor.incarnation == incarnation else { return }
        monitor.tick(atMillis: now / 1_000)
        checkMonitorEvents()
        queue.schedule(.monitorTick(incarnation: incarnation), at: now + Self.pingInterval)
    }

    func deliverToMonitor(_ packet: Packet, _ message: Message) {
        guard monitor.isUp else {
            refuse(packet)
            return
        }
        switch message {
        case .ping(let address, let viewnum, let leaving):
            let view = monitor.ping(from: address, viewnum: viewnum, leaving: leaving, atMillis: now / 1_000)
            checkMonitorEvents()
            respond(to: packet, .viewReply(view))
        case .getView:
            respond(to: packet, .viewReply(currentView))
        case .switchover(let viewnum):
            let reply: SwitchoverReply
            switch monitor.switchover(expectedViewnum: viewnum, atMillis: now / 1_000) {
            case .success(let view):
                reply = SwitchoverReply(status: .done, view: view)
            case .failure(let refusal):
                reply = SwitchoverReply(
                    status: refusal.isTransient ? .retryLater : .refused, reason: "\(refusal)", view: currentView)
            }
            checkMonitorEvents()
            respond(to: packet, .switchoverReply(reply))
        default:
            break
        }
    }

    private var currentView: View { monitor.core?.view ?? monitor.savedView }

    /// The monitor's events since the last call, into the trace, each checked against
    /// the view rules.
    private func checkMonitorEvents() {
        for event in monitor.drainEvents() {
            trace.record(now, .monitorEvent(event))
            switch event {
            case .viewChanged(let from, let to, _):
                statistics.viewChanges += 1
                checkViewChange(from: from, to: to)
            default:
                break
            }
        }
        let view = currentView
        if view.viewnum > 0 && monitor.store.last != view {
            fail("the monitor hands out \(view), but its store holds \(monitor.savedView)")
        }
    }

    private func checkViewChange(from: View, to: View) {
        if to.viewnum != from.viewnum + 1 {
            fail("view number went from \(from.viewnum) to \(to.viewnum)")
        } else if to.acked {
            fail("new view \(to) is already acknowledged")
        } else if !monitor.store.saved.contains(to) {
            fail("\(to) handed out but never saved")
        } else if from.viewnum > 0 && !from.acked && to.primary != from.primary {
            fail("moved on from unacknowledged \(from) to \(to) with a new primary")
        } else if from.viewnum > 0 && (to.primary.isEmpty || (to.primary != from.primary && to.primary != from.backup))
        {
            fail("\(to): its primary was neither primary nor backup of \(from)")
        }
    }
}
