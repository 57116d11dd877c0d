import KVProtocol
import MonitorCore

/// The monitor as a process (started, crashed, handed its messages) and the view rules
/// every change must keep (docs/DESIGN.md §2, as MonitorScript checks them).
extension Simulation {
    func startMonitor() {
        if monitor.incarnation > 0 { statistics.count(.monitorRestart) }
        monitor.start(in: self)
        trace.record(now, .note("monitor starts from \(monitor.savedView)"))
    }

    /// The monitor process dies. A save under way has reached the disk or not: a coin
    /// decides, as the moment of a crash does.
    func crashMonitor() {
        let landed = monitor.saveInFlight != nil && random.chance(permille: 500)
        if let save = monitor.saveInFlight {
            let outcome = save.fails ? "it failed" : landed ? "it landed" : "it is lost"
            trace.record(now, .note("monitor crashes while saving \(save.view): \(outcome)"))
        } else {
            trace.record(now, .note("monitor crashes"))
        }
        monitor.stop(saveLanded: landed)
        resetConnections(of: monitor.node)
    }

    func deliverToMonitor(_ packet: Packet, _ message: Message) {
        guard let driver = monitor.driver else {
            refuse(packet)
            return
        }
        if case .ping(let address, let viewnum, _) = message { checkAcknowledging(address, viewnum) }
        _ = driver.receive(message, from: SimulatedRequester(exchange: packet.exchange, node: packet.from))
        checkMonitorNotices()
    }

    /// A ping from the primary with its unacknowledged view's number acknowledges that
    /// view: if it has a backup, that backup must have received the whole state of the
    /// view from this primary. (Checked on the ping as it arrives, so a server's driver
    /// that pinged a number its core did not give is caught too.)
    private func checkAcknowledging(_ address: String, _ viewnum: UInt64) {
        guard let view = monitor.core?.view, view.viewnum == viewnum, !view.acked, view.primary == address,
            !view.backup.isEmpty
        else { return }
        guard let transfer = completeTransfers[viewnum], transfer == (view.backup, address) else {
            fail("\(address) acknowledges \(view) before its backup received the whole state")
            return
        }
    }

    /// A view leaves the monitor: it must be the one in force, and saved.
    func checkHandedOut(_ message: Message) {
        let view: View
        switch message {
        case .viewReply(let answered): view = answered
        case .switchoverReply(let reply): view = reply.view
        case .serversReply(let answered, _): view = answered
        default: return
        }
        if view.viewnum > 0 && view != monitor.savedView {
            fail("the monitor hands out \(view), but its store holds \(monitor.savedView)")
        }
    }

    /// The monitor's notices since the last call, into the trace, each checked against
    /// the view rules.
    func checkMonitorNotices() {
        let notices = monitorNotices
        monitorNotices.removeAll()
        for notice in notices {
            trace.record(now, .monitorNotice(notice))
            if case .viewChanged(let from, let to, _) = notice {
                statistics.viewChanges += 1
                checkViewChange(from: from, to: to)
            }
        }
        if let view = monitor.core?.view, view.viewnum > 0, view != monitor.savedView {
            fail("the monitor's view in force is \(view), but its store holds \(monitor.savedView)")
        }
    }

    private func checkViewChange(from: View, to: View) {
        if to.viewnum != from.viewnum + 1 {
            fail("view number went from \(from.viewnum) to \(to.viewnum)")
        } else if to.acked {
            fail("new view \(to) is already acknowledged")
        } else if !monitor.saved.contains(to) {
            fail("\(to) in force but never saved")
        } else if from.viewnum > 0 && !from.acked && to.primary != from.primary {
            fail("moved on from unacknowledged \(from) to \(to) with a new primary")
        } else if from.viewnum > 0 && (to.primary.isEmpty || (to.primary != from.primary && to.primary != from.backup))
        {
            fail("\(to): its primary was neither primary nor backup of \(from)")
        }
    }
}
