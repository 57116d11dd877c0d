import KVProtocol

/// `kvctl switchover` as an admin runs it: read the view, ask the monitor to switch over
/// from exactly that view, and ask again a while later while the answer is "retry later".
struct AdminSwitchover {
    var attemptsLeft = 10
    /// Which monitor to ask (several monitors: the one a follower named, or the next).
    var monitor = 0
}

extension Simulation {
    func beginSwitchover() {
        guard admin == nil else { return }
        admin = AdminSwitchover()
        askForView()
    }

    func askForView() {
        guard admin != nil else { return }
        request(
            from: adminNode, incarnation: 0, to: monitors[admin!.monitor].node, .adminView, .getView,
            timeout: Self.attemptTimeout)
    }

    func adminExchangeEnded(_ purpose: Exchange.Purpose, _ outcome: Exchange.Outcome) {
        guard var progress = admin else { return }
        switch (purpose, outcome) {
        case (.adminView, .answered(.viewReply(let view))) where view.viewnum > 0:
            request(
                from: adminNode, incarnation: 0, to: monitors[progress.monitor].node, .adminSwitchover,
                .switchover(viewnum: view.viewnum),
                timeout: Self.attemptTimeout)
            return
        case (.adminSwitchover, .answered(.switchoverReply(let reply))) where reply.status != .retryLater:
            trace.record(now, .note("admin: switchover \(reply.status) \(reply.reason) \(reply.view)"))
            admin = nil
            return
        case (.adminSwitchover, .answered(.notLeader(let leader))):
            progress.monitor = monitors.firstIndex { $0.address == leader } ?? (progress.monitor + 1) % monitors.count
        case (_, .refused), (_, .timedOut):
            progress.monitor = (progress.monitor + 1) % monitors.count
        default:
            break
        }
        progress.attemptsLeft -= 1
        admin = progress.attemptsLeft > 0 ? progress : nil
        if admin != nil { queue.schedule(.adminRetry, at: now + Self.pingInterval) }
    }
}
