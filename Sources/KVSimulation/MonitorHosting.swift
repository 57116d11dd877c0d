import KVProtocol
import MonitorCore

/// The monitors as processes (started, crashed, handed their messages) and the view
/// rules every change must keep (docs/DESIGN.md §2, as MonitorScript checks them; §2.10
/// for several monitors sharing a view in etcd).
extension Simulation {
    func startMonitor(_ monitor: SimulatedMonitor) {
        if monitor.incarnation > 0 { statistics.count(.monitorRestart) }
        monitor.start(in: self)
        trace.record(
            now,
            .note(
                etcd == nil
                    ? "monitor starts from \(monitor.savedView)" : "monitor \(monitor.address) starts and campaigns"))
    }

    /// The monitor process dies. A save under way has reached the disk or not: a coin
    /// decides, as the moment of a crash does. (One of several monitors saves nothing of
    /// its own: its requests to etcd in flight land or not by themselves.)
    func crashMonitor(_ monitor: SimulatedMonitor) {
        let landed = monitor.saveInFlight != nil && random.chance(permille: 500)
        if let save = monitor.saveInFlight {
            let outcome = save.fails ? "it failed" : landed ? "it landed" : "it is lost"
            trace.record(now, .note("monitor crashes while saving \(save.view): \(outcome)"))
        } else {
            trace.record(now, .note("monitor \(monitor.address) crashes"))
        }
        monitor.stop(saveLanded: landed)
        resetConnections(of: monitor.node)
    }

    func deliverToMonitor(_ monitor: SimulatedMonitor, _ packet: Packet, _ message: Message) {
        guard let driver = monitor.driver else {
            refuse(packet)
            return
        }
        if case .ping(let address, let viewnum, _, _, _) = message { checkAcknowledging(monitor, address, viewnum) }
        _ = driver.receive(message, from: SimulatedRequester(exchange: packet.exchange, node: packet.from))
        checkMonitorNotices()
    }

    /// The view the service is in: the one the monitor's store (or etcd) holds, whether
    /// or not a monitor runs.
    var serviceView: View {
        guard let etcd else { return monitors[0].savedView }
        return etcd.view?.view ?? .initial
    }

    /// The primary named for view `viewnum`, from every view ever saved.
    func primary(of viewnum: UInt64) -> String? {
        guard let etcd else { return monitors[0].primary(of: viewnum) }
        return etcd.primary(of: viewnum)
    }

    /// A ping from the primary with its unacknowledged view's number acknowledges that
    /// view: if it has a backup, that backup must have received the whole state of the
    /// view from this primary. (Checked on the ping as it arrives, so a server's driver
    /// that pinged a number its core did not give is caught too.)
    private func checkAcknowledging(_ monitor: SimulatedMonitor, _ address: String, _ viewnum: UInt64) {
        guard let view = monitor.core?.view, view.viewnum == viewnum, !view.acked, view.primary == address,
            !view.backup.isEmpty
        else { return }
        guard let transfer = completeTransfers[viewnum], transfer == (view.backup, address) else {
            fail("\(address) acknowledges \(view) before its backup received the whole state")
            return
        }
    }

    /// A view leaves a monitor. A sole monitor's must be the one in force, and saved.
    /// Of several monitors, a leader's must be the one etcd holds (a deposed leader that
    /// still answered would hand out a view etcd has moved past), a follower's one that
    /// was written; and no two views handed out by anyone, ever, share a number.
    /// A view's cluster id, where one is told, is the one stored with it; the views
    /// themselves are compared without it (clients and older servers are told none).
    func checkHandedOut(_ message: Message, by monitor: SimulatedMonitor) {
        var view: View
        switch message {
        case .viewReply(let answered): view = answered
        case .switchoverReply(let reply): view = reply.view
        case .serversReply(let answered, _): view = answered
        default: return
        }
        guard view.viewnum > 0 else { return }
        let stored = etcd.map { $0.view?.view } ?? monitor.savedView
        if view.cluster != 0 && view.cluster != stored?.cluster {
            fail(
                "\(monitor.address) hands out \(view) of cluster \(view.cluster), but the stored view's is "
                    + "\(stored.map { "\($0.cluster)" } ?? "none")")
        }
        view = view.withoutCluster
        guard let etcd else {
            if view != monitor.savedView.withoutCluster {
                fail("the monitor hands out \(view), but its store holds \(monitor.savedView)")
            }
            return
        }
        var unacknowledged = view
        unacknowledged.acked = false
        if let earlier = handedOut[view.viewnum], earlier != unacknowledged {
            fail("two views numbered \(view.viewnum) handed out: \(earlier) and, by \(monitor.address), \(view)")
        }
        handedOut[view.viewnum] = unacknowledged
        if let election = monitor.driver?.election, case .leading(let leadership) = election.state,
            election.isLeading
        {
            // Its own write may have landed before its answer came back: until then the
            // view before it is still the one in force.
            let answerPending =
                etcd.writers.last == leadership.token && etcd.history.count >= 2
                && view == etcd.history[etcd.history.count - 2].withoutCluster
            if view != etcd.view?.view.withoutCluster && !answerPending {
                fail(
                    "leader \(monitor.address) hands out \(view), but etcd holds "
                        + "\(etcd.view.map { "\($0.view)" } ?? "no view")")
            }
        } else if !etcd.history.contains(where: { $0.withoutCluster == view }) {
            fail("\(monitor.address) hands out \(view), which was never written to etcd")
        }
    }

    /// A monitor becomes leader: no other may still be acting as one. The old leader's
    /// own clock ends its leadership before etcd lets its lease go (docs/DESIGN.md
    /// §2.10, rule 2), and the simulation's clocks agree, so any overlap is a leader
    /// that kept acting past its validity.
    func checkSoleLeader(_ monitor: SimulatedMonitor) {
        for other in monitors where other !== monitor && other.driver?.election?.isLeading == true {
            fail("\(monitor.address) becomes leader while \(other.address) still acts as leader")
        }
    }

    /// A leader's deadline is never after etcd's for its lease (docs/DESIGN.md §2.10,
    /// rule 2): the simulation knows both, on one clock. Checked at each of its ticks and
    /// answers.
    func checkLeaderValidity(_ monitor: SimulatedMonitor) {
        guard let etcd, case .leading(let leadership)? = monitor.driver?.election?.state else { return }
        let validUntil = leadership.validUntil / 1_000
        guard validUntil > now else { return }
        guard let expiry = etcd.expiry(of: leadership.lease), expiry > now else {
            fail(
                "\(monitor.address) counts its leadership valid until \(validUntil) us, but its lease is gone from etcd"
            )
            return
        }
        if expiry < validUntil {
            fail(
                "\(monitor.address) counts its leadership valid until \(validUntil) us, but etcd lets its lease go at "
                    + "\(expiry) us")
        }
    }

    /// The monitors' notices since the last call, into the trace, each checked against
    /// the view rules.
    func checkMonitorNotices() {
        let notices = monitorNotices
        monitorNotices.removeAll()
        for (address, notice) in notices {
            trace.record(now, .monitorNotice(address, notice))
            if case .viewChanged(let from, let to, let reason) = notice {
                statistics.viewChanges += 1
                checkViewChange(from: from, to: to, reason: reason)
                if reason == .revived { checkRevival(of: to.primary, by: address) }
            }
        }
        if etcd == nil, let view = monitors[0].core?.view, view.viewnum > 0, view != monitors[0].savedView {
            fail("the monitor's view in force is \(view), but its store holds \(monitors[0].savedView)")
        }
    }

    /// A revival may leave an unacknowledged view with a new primary: its candidate's claim
    /// shows nothing was answered in it, which `checkRevival` checks against the history.
    private func checkViewChange(from: View, to: View, reason: ViewChangeReason) {
        let saved = etcd?.history ?? monitors[0].saved
        if to.viewnum != from.viewnum + 1 {
            fail("view number went from \(from.viewnum) to \(to.viewnum)")
        } else if to.acked {
            fail("new view \(to) is already acknowledged")
        } else if !saved.contains(to) {
            fail("\(to) in force but never saved")
        } else if from.viewnum > 0 && !from.acked && to.primary != from.primary && reason != .revived {
            fail("moved on from unacknowledged \(from) to \(to) with a new primary")
        } else if from.viewnum > 0 && (to.primary.isEmpty || (to.primary != from.primary && to.primary != from.backup))
        {
            fail("\(to): its primary was neither primary nor backup of \(from)")
        }
    }
}
