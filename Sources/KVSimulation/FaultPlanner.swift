import KVProtocol

/// Picks the schedule's faults, one every `meanFaultGap` or so, while clients run.
///
/// Safe schedules take a server down (crash or leave) or start a partition only from a
/// stable state: the current view is synchronised (acknowledged, its primary serving
/// with a complete backup), no partition is in force and no leave is in progress. So
/// the monitor always has a live copy of the data to promote, and the final reads must
/// succeed. (A crash of the backup while the primary is cut off from the monitor is a
/// double loss for the monitor: it promotes the dead backup and waits for it forever.)
/// A partition's effects outlast it: a ping it swallowed holds the server's only ping
/// slot for the peer timeout, and the monitor may take the server for dead meanwhile;
/// so stability waits that long after a heal. A switchover in progress counts as an
/// unstable moment too: the monitor promotes a backup that pinged within the last two
/// ticks, so one that crashed a moment before is made primary of a view it never
/// acknowledges, and the monitor keeps that view (a known liveness limit:
/// docs/SIMULATION.md, "Findings").
/// Risky schedules crash any server and partition any link at any time, losing both
/// copies now and then; then only wrong answers count.
extension Simulation {
    func planFault() {
        guard faultsActive else { return }
        var kinds: [FaultKind] = [
            .serverCrash, .monitorCrash, .leave, .switchover, .primaryCutFromMonitor, .serverIsolated, .linksBlocked,
            .lossyPeriod, .storeFailing, .powerCut, .fsyncError, .diskFull,
        ]
        var weights = risky ? [16, 8, 8, 8, 12, 10, 10, 8, 6] : [20, 8, 8, 10, 14, 10, 10, 8, 6]
        // A power cut, rarely; in a safe schedule only with data directories (without, it
        // loses both copies, as risky schedules show).
        weights.append(risky || diskSettings != nil ? 1 : 0)
        weights.append(diskSettings == nil ? 0 : 4)
        weights.append(diskSettings == nil ? 0 : 4)
        if etcd != nil {
            // Several monitors keep their view in etcd: no store of their own to fail,
            // and etcd's own faults instead.
            kinds += [.monitorCutFromEtcd, .etcdWithoutQuorum, .etcdLeaderChange]
            weights += [10, 4, 6]
        }
        kinds.append(.serverPaused)
        weights.append(8)
        let kind = kinds[random.weighted(weights)]
        switch kind {
        case .serverCrash:
            let candidates = servers.filter { $0.isUp && isStableEnough }
            if !candidates.isEmpty { crashServer(random.pick(candidates)) }
        case .monitorCrash:
            let running = monitors.filter(\.isUp)
            if !running.isEmpty {
                let victim = running.count == 1 ? running[0] : random.pick(running)
                statistics.count(.monitorCrash)
                crashMonitor(victim)
                queue.schedule(.restartMonitor(node: victim.node), at: now + random.between(100_000, 1_200_000))
            }
        case .leave:
            let candidates = servers.filter { $0.isUp && !$0.askedToLeave && isStableEnough }
            if !candidates.isEmpty {
                let leaver = random.pick(candidates)
                statistics.count(.leave)
                trace.record(now, .note("\(leaver.address) is asked to leave (SIGTERM)"))
                beginLeave(leaver)
            }
        case .switchover:
            if admin == nil && isStableEnough {
                statistics.count(.switchover)
                trace.record(now, .note("admin requests a switchover"))
                beginSwitchover()
            }
        case .primaryCutFromMonitor:
            if isStableEnough, let primary = server(named: serviceView.primary) {
                statistics.count(.primaryCutFromMonitor)
                partition(
                    monitors.flatMap { [(primary.node, $0.node), ($0.node, primary.node)] },
                    "\(primary.address) cut off from the monitors, not from the others")
            }
        case .serverIsolated where isStableEnough:
            let isolated = random.pick(servers)
            statistics.count(.serverIsolated)
            let others = (0..<names.count).filter { $0 != isolated.node }
            partition(
                others.map { (isolated.node, $0) } + others.map { ($0, isolated.node) }, "\(isolated.address) isolated")
        case .serverPaused:
            // A process that stops running for a while (SIGSTOP, a stall) while its
            // clocks run on: what it acts on afterwards, its lease above all, must be
            // judged by the clock read then.
            let candidates = servers.filter { $0.isUp && $0.pausedUntil <= now && isStableEnough }
            if !candidates.isEmpty {
                let paused = random.pick(candidates)
                paused.pausedUntil = now + random.between(50_000, 1_500_000)
                // Like a partition, a pause outlasts itself (the monitor may take the
                // server for dead meanwhile): stability waits as after a heal.
                lastHeal = max(lastHeal, paused.pausedUntil)
                statistics.count(.serverPaused)
                trace.record(now, .note("\(paused.address) pauses until \(paused.pausedUntil / 1_000) ms"))
            }
        case .linksBlocked:
            var links: [(from: Int, to: Int)] = []
            for _ in 0..<(1 + random.below(3)) {
                let from = random.below(names.count)
                let to = random.below(names.count)
                if from != to { links.append((from, to)) }
            }
            if !links.isEmpty && isStableEnough {
                statistics.count(.linksBlocked)
                partition(
                    links, "links blocked: " + links.map { "\(names[$0.from])->\(names[$0.to])" }.joined(separator: " ")
                )
            }
        case .lossyPeriod:
            statistics.count(.lossyPeriod)
            lossyPeriod += 1
            network.lossyPermille = random.pick([100, 300])
            trace.record(now, .note("lossy period: \(network.lossyPermille)/1000 more loss"))
            queue.schedule(.endLossyPeriod(id: lossyPeriod), at: now + random.between(100_000, 1_000_000))
        case .powerCut where isStableEnough:
            cutPower()
        case .fsyncError:
            let candidates = servers.filter { $0.isUp && isStableEnough }
            if !candidates.isEmpty { failSync(random.pick(candidates)) }
        case .diskFull:
            let candidates = servers.filter { $0.isUp && $0.disk?.full == false }
            if !candidates.isEmpty { fillDisk(random.pick(candidates)) }
        case .storeFailing where etcd == nil:
            // A full or failing disk under the monitor: every save fails for a while, and
            // view changes wait for it.
            statistics.count(.storeFailing)
            storeFailures += 1
            monitors[0].saveFails = true
            trace.record(now, .note("the monitor's store fails"))
            queue.schedule(.storeRecovers(id: storeFailures), at: now + random.between(100_000, 1_000_000))
        case .monitorCutFromEtcd:
            statistics.count(.monitorCutFromEtcd)
            cutOffFromEtcd(random.pick(monitors))
        case .etcdWithoutQuorum where etcd?.hasQuorum == true:
            statistics.count(.etcdWithoutQuorum)
            loseEtcdQuorum()
        case .etcdLeaderChange:
            statistics.count(.etcdLeaderChange)
            changeEtcdLeader()
        default:
            break
        }
        let gap = random.between(meanFaultGap / 2, meanFaultGap * 3 / 2)
        queue.schedule(.planFault, at: now + gap)
    }

    private func partition(_ links: [(from: Int, to: Int)], _ what: String) {
        let id = network.partition(links)
        trace.record(now, .note("partition \(id): \(what)"))
        queue.schedule(.healPartition(id: id), at: now + random.between(200_000, 2_000_000))
    }

    /// Whether the schedule may take a server down or cut links now.
    private var isStableEnough: Bool {
        risky
            || (!network.hasPartitions && !servers.contains { $0.pausedUntil > now }
                && now >= lastHeal + Self.peerTimeout + 2 * Self.pingInterval
                && !servers.contains { $0.askedToLeave } && admin == nil && isSynchronised(serviceView))
    }

    /// The view is acknowledged, its primary serves it with a synchronised backup, and
    /// that backup is still the process that received the whole state.
    private func isSynchronised(_ view: View) -> Bool {
        guard view.acked, let primary = server(named: view.primary), let primaryCore = primary.core,
            primaryCore.view.viewnum == view.viewnum, primaryCore.isServing, primaryCore.backupSynchronized,
            let synchronised = synchronisedBackups[view.viewnum], synchronised.address == view.backup,
            let backup = server(named: view.backup), backup.incarnation == synchronised.incarnation,
            let backupCore = backup.core, backupCore.view.viewnum == view.viewnum
        else { return false }
        return true
    }
}
