import ClientCore
import KVCheck
import KVProtocol
import MonitorCore
import NodeDriver
import ServerCore

/// A deterministic discrete-event simulation of a whole kvservice deployment: one
/// monitor, three or four servers and several client sessions, all running the code the
/// daemons run (`MonitorDriver` and `ServerDriver` with their cores, and `ClientCore`)
/// over a simulated network, store and clock.
///
/// One seed decides everything: the deployment's shape, the network's delays, losses,
/// duplicates and reorderings, the faults (crashes, restarts, partitions, monitor
/// restarts, planned leaves, switchovers) and the clients' operations. Events run in
/// order of (time, scheduling order), so a seed replays exactly.
///
/// A schedule has three phases: clients run their operations while faults strike; then
/// every fault heals and every process restarts, and the service settles; then a reader
/// reads every key. Throughout, the checks of `ReplicaChecks` and `MonitorHosting` run
/// after every step, and at the end the clients' history must be linearizable.
public final class Simulation {
    /// The runtimes' defaults, in microseconds: the ping interval (also the monitor's
    /// tick and the clients' pause), the peer timeout of forwards, chunks and pings, and
    /// a client's attempt timeout.
    static let pingInterval: UInt64 = 100_000
    static let peerTimeout: UInt64 = 1_000_000
    static let attemptTimeout: UInt64 = 1_000_000
    /// Shorter than kv-server's default of 10 s, so leaves that time out fit a schedule.
    static let leaveTimeout: UInt64 = 2_000_000
    /// Faults stop by then even if clients still have operations to run.
    static let faultPhaseLimit: UInt64 = 10_000_000
    static let settleTime: UInt64 = 3_000_000
    static let finalReadDeadline: UInt64 = 8_000_000
    /// A schedule still running then is stuck.
    static let timeLimit: UInt64 = 90_000_000
    /// The simulated wall clock at time 0 (Unix milliseconds; 2026-01-01).
    static let wallClockEpochMillis: UInt64 = 1_767_225_600_000
    let seed: UInt64
    let options: SimulationOptions
    var random: SimulationRandom
    var queue = EventQueue()
    var now: UInt64 = 0
    var network: SimulatedNetwork
    /// The monitor, or (with etcd) the monitors: the first is node 0, the others come
    /// after the admin.
    let monitors: [SimulatedMonitor]
    var monitorByNode: [Int: SimulatedMonitor] = [:]
    var monitorByAddress: [String: SimulatedMonitor] = [:]
    /// With several monitors, the etcd they share.
    let etcd: SimulatedEtcd?
    /// Every view any monitor handed out, by number (unacknowledged form).
    var handedOut: [UInt64: View] = [:]
    /// For each monitor node cut off from etcd, how many cut-offs are in force.
    var etcdCutOffs: [Int: Int] = [:]
    var etcdWatches: [SimulatedEtcdWatch] = []
    var servers: [SimulatedServer] = []
    var serverByAddress: [String: SimulatedServer] = [:]
    /// The workload's sessions, then the final reader.
    var clients: [ClientSession] = []
    let firstClientNode: Int
    let adminNode: Int
    var admin: AdminSwitchover?
    var names: [String]
    var exchanges: [UInt64: Exchange] = [:]
    var nextExchange: UInt64 = 1
    var timers: [UInt64: TimerAction] = [:]
    var nextTimer: UInt64 = 1
    /// For each view, the backup that received the whole state from the primary.
    var completeTransfers: [UInt64: (backup: String, primary: String)] = [:]
    /// The monitors' notices not yet checked, with the monitor's address.
    var monitorNotices: [(String, MonitorNotice)] = []
    var history = HistoryRecorder()
    var trace: TraceLog
    var statistics = SimulationStatistics()
    var failure: SimulationFailure?
    let workload: Workload
    /// Any server may crash at any time, even both copies of the data.
    let risky: Bool
    /// Why this schedule need not finish its final reads, when it need not.
    var livenessExemption: String?
    let meanFaultGap: UInt64
    /// How long the monitor's store takes to make a view durable, at most (microseconds).
    let saveDelay: UInt64
    let clientDeadline: UInt64
    let maxThinkTime: UInt64
    var faultsActive = true
    var finished = false
    var lossyPeriod: UInt64 = 0
    /// Store failures so far; the latest one's recovery ends it.
    var storeFailures: UInt64 = 0
    /// When the last partition healed.
    var lastHeal: UInt64 = 0
    /// For each view, the backup incarnation its primary transferred the whole state to
    /// before acknowledging it.
    var synchronisedBackups: [UInt64: (address: String, incarnation: UInt64)] = [:]
    /// The servers' data directories, or nil when they keep everything in memory.
    let diskSettings: DiskSettings?
    /// For each request, forward or chunk a server took and has not answered: the last
    /// LSN it had logged after the step that took it, and the update a request asks for.
    var revealedBy: [UInt64: (lsn: UInt64, update: ClientSequence?)] = [:]
    /// The key of every Get a server with a data directory received and has not answered,
    /// by exchange: what its answer reveals.
    var keyOfGet: [UInt64: Bytes] = [:]
    /// The newest view any server has served in.
    var newestViewServed: UInt64 = 0
    /// The message being delivered to a server, while its step runs.
    var arrival: (exchange: UInt64, update: ClientSequence?, answered: Bool)?
    /// Each client's latest acknowledged update (sequence number).
    var acknowledgedUpdates: [UInt64: UInt64] = [:]
    private var digest = RunDigest()

    /// Runs the schedule of `seed` to its end or its first failure.
    public static func run(seed: UInt64, options: SimulationOptions = SimulationOptions()) -> SimulationReport {
        let simulation = Simulation(seed: seed, options: options)
        simulation.execute()
        return SimulationReport(
            seed: seed, failure: simulation.failure, statistics: simulation.statistics, digest: simulation.digest.value)
    }

    static func clusterID(seed: UInt64, node: Int) -> UInt64 {
        var generator = SplitMix64(seed: seed ^ 0x636c_7573_7465_7221 &+ UInt64(node))
        return max(generator.next(), 1)
    }

    private init(seed: UInt64, options: SimulationOptions) {
        self.seed = seed
        self.options = options
        var random = SimulationRandom(seed: seed)
        let serverCount = 3 + random.below(2)
        let clientCount = 3 + random.below(3)
        risky = random.chance(permille: 200)
        let keyCount = 2 + random.below(3)
        // Every key begins with the workload's prefix, which its scans cover.
        workload = Workload(
            keys: (0..<keyCount).map { Workload.prefix + Bytes(utf8: "\($0)") },
            // get, put, puthash, delete; read, write, add, remove, scan; transfer, audit.
            weights: [
                15 + random.below(10), 10, 5 + random.below(10), 5 + random.below(5),
                15 + random.below(10), 20, 5 + random.below(10), 5, 3 + random.below(5),
                3 + random.below(5), 3 + random.below(5),
            ])
        let minDelay = random.between(100, 1_000)
        let profile = LinkProfile(
            minDelay: minDelay, maxDelay: minDelay + random.between(500, 8_000),
            lossPermille: random.pick([0, 0, 5, 20, 50]), duplicatePermille: random.pick([0, 10, 30]),
            spikePermille: random.pick([0, 20, 50]), spikeMaxDelay: 50_000)
        let reordersFreely = random.chance(permille: 250)
        meanFaultGap = random.between(150_000, 600_000)
        clientDeadline = random.between(2_000_000, 4_000_000)
        maxThinkTime = random.between(5_000, 40_000)
        var serverConfig = ServerConfig(address: "")
        // One entry per chunk, or everything in one: either way the number of chunks does
        // not depend on the store's (per-process) hash order, which keeps replay exact.
        serverConfig.transferChunkBytes = random.pick([1, 1 << 20])
        // Several chunks in flight over a network that reorders them: a chunk that
        // overtook an earlier one is refused, and the primary resends from the first
        // unacknowledged (docs/DESIGN.md §3.4).
        serverConfig.transferWindow = 1 + random.below(3)
        serverConfig.maxBatchesInFlight = 1 + random.below(8)
        serverConfig.maxBatchUpdates = random.pick([1, 4, 4096])
        // 0: a batch leaves whenever the window has room; otherwise it gathers behind the
        // one in flight until it holds that many updates.
        serverConfig.pipelineAfterUpdates = random.pick([0, 2, 256])
        serverConfig.pipelineAfterBytes = serverConfig.pipelineAfterUpdates == 0 ? 0 : 64 << 10
        serverConfig.resendAfterTicks = random.pick([3, 10])

        let monitorCount = max(options.etcdMonitors, 1)
        let monitorNames = options.etcdMonitors == 0 ? ["monitor"] : (1...monitorCount).map { "m\($0)" }
        names = [monitorNames[0]] + (1...serverCount).map { "s\($0)" }
        firstClientNode = names.count
        names += (1...clientCount).map { "c\($0)" } + ["reader"]
        let admin = names.count
        adminNode = admin
        names.append("admin")
        let monitorNodes = [0] + (1..<monitorCount).map { admin + $0 }
        names += monitorNames.dropFirst()
        network = SimulatedNetwork(profile: profile, nodes: names.count, reordersFreely: reordersFreely)
        // A ping lost to chance holds the server's only ping slot for the peer timeout,
        // long enough for the monitor to take it for dead. Safe schedules need the
        // monitor's idea of who is alive to change only through their faults.
        if !risky { network.reliableNodes = Set(monitorNodes) }
        etcd = options.etcdMonitors == 0 ? nil : SimulatedEtcd()
        let electionTTL: UInt64 = 3_000_000_000
        monitors = zip(monitorNodes, monitorNames).map { node, name in
            SimulatedMonitor(
                // From the seed, but not from `random`: the schedule each seed names stays.
                node: node, address: name,
                config: MonitorConfig(deadPings: 5, newClusterID: Self.clusterID(seed: seed, node: node)),
                election: options.etcdMonitors == 0 ? nil : ElectionConfig(address: name, leaseTTL: electionTTL))
        }
        // Saves of up to 0.15 s outlast a tick: pings are then answered at the tick, and
        // switchovers refused while the save is in flight.
        saveDelay = random.pick([0, 200, 2_000, 150_000])
        // Most schedules give servers a data directory, mostly under `always`; syncs take
        // up to 0.3, 2 or 8 ms; compactions start at 2 or 6 KB of log.
        if random.chance(permille: 800) {
            diskSettings = DiskSettings(
                policy: [.always, .everysec, .no][random.weighted([8, 1, 1])],
                maxSyncDelay: random.pick([300, 2_000, 8_000, 8_000, 300_000]),
                compactionBytes: random.pick([2 << 10, 6 << 10]))
            serverConfig.durable = true
        } else {
            diskSettings = nil
        }
        // Read leases, mostly on; short ones are often outlasted by a message's delay.
        serverConfig.readLease = random.pick([0, 20_000_000, 100_000_000, 400_000_000, 400_000_000])
        trace = TraceLog(capacity: options.traceLength, sink: options.traceSink, names: names)
        self.random = random
        for index in 0..<serverCount {
            var config = serverConfig
            config.address = names[index + 1]
            let server = SimulatedServer(
                address: config.address, node: index + 1, config: config,
                disk: diskSettings == nil ? nil : SimulatedDisk(), bootID: Self.newBootID(&self.random))
            // Each machine's lease clock runs at its own rate, up to the bound servers
            // assume, from its own boot.
            server.leaseClockBoot = UInt64(self.random.between(0, 1_000_000)) * 1_000_000
            let bound = Int(config.clockDriftPPM)
            server.leaseClockDriftPPM = Int64(self.random.between(0, UInt64(2 * bound))) - Int64(bound)
            servers.append(server)
            serverByAddress[server.address] = server
        }
        let timing = ClientConfig(
            retryInterval: Self.pingInterval, attemptTimeout: Self.attemptTimeout, minimumAttemptTimeout: 1_000)
        for index in 0...clientCount {
            let node = firstClientNode + index
            let isReader = index == clientCount
            clients.append(
                ClientSession(
                    index: index, node: node, name: names[node],
                    core: ClientCore(clientID: 1_000 + UInt64(index), config: timing, monitors: monitorNames),
                    operations: isReader ? 0 : options.steps))
        }
        statistics.schedules = 1
        statistics.riskySchedules = risky ? 1 : 0
        statistics.durableSchedules = diskSettings == nil ? 0 : 1
    }

    private func execute() {
        trace.record(
            0,
            .note(
                "seed \(seed): \(servers.count) servers, \(clients.count - 1) clients, keys "
                    + "\(workload.keys.map(\.utf8String)), \(risky ? "risky" : "safe") faults, link delay "
                    + "\(network.profile.minDelay)-\(network.profile.maxDelay) us"
                    + (network.reordersFreely ? " (reordering freely)" : " (in order but for spikes)") + ", loss "
                    + "\(network.profile.lossPermille)/1000, duplication \(network.profile.duplicatePermille)/1000, "
                    + (diskSettings.map {
                        "data directories (fsync \($0.policy), syncs up to \($0.maxSyncDelay) us, compaction at "
                            + "\($0.compactionBytes) bytes)"
                    } ?? "no data directories")))
        for monitor in monitors {
            monitorByNode[monitor.node] = monitor
            monitorByAddress[monitor.address] = monitor
        }
        if let etcd {
            etcd.changed = { [unowned self] revision, change in etcdChanged(revision, change) }
            startEtcdExpiry()
        }
        for monitor in monitors { startMonitor(monitor) }
        for index in servers.indices {
            queue.schedule(.restartServer(server: index), at: random.between(0, 300_000))
        }
        for client in clients.dropLast() {
            queue.schedule(.clientWake(client: client.index, wake: 0), at: random.between(200_000, 400_000))
        }
        queue.schedule(.planFault, at: 300_000 + random.between(0, 2 * meanFaultGap))
        queue.schedule(.endOfFaults, at: Self.faultPhaseLimit)

        while !finished, failure == nil, let (time, event) = queue.pop() {
            now = time
            statistics.events += 1
            mix(time)
            handle(event)
            if now > Self.timeLimit, failure == nil {
                fail("the schedule did not finish within \(Self.timeLimit / 1_000_000) simulated seconds")
            }
        }
        statistics.simulatedMicroseconds = now
        statistics.workload.keysExpired = servers.reduce(0) { $0 + $1.keysExpired }
        if failure == nil { conclude() }
    }

    private func handle(_ event: SimulationEvent) {
        switch event {
        case .arrive(let packet):
            mix(1, UInt64(packet.from), UInt64(packet.to), packet.exchange)
            switch packet.body {
            case .request(let message), .response(let message): digest.mix(message, exchange: packet.exchange)
            case .refused: mix(4)
            }
            arrive(packet)
        case .exchangeTimedOut(let exchange):
            mix(2, exchange)
            timeOut(exchange)
        case .timer(let id):
            mix(3, id)
            fireTimer(id)
        case .clientWake(let index, let wake):
            mix(5, UInt64(index))
            if clients[index].wake == wake { wakeUp(clients[index]) }
        case .serverExit(let index, let incarnation, let outcome):
            mix(6, UInt64(index))
            exitAfterLeave(servers[index], incarnation: incarnation, outcome: outcome)
        case .restartServer(let index):
            mix(7, UInt64(index))
            start(servers[index])
        case .diskCrashDue(let index, let incarnation):
            mix(18, UInt64(index))
            settleDiskFault(servers[index], incarnation: incarnation, crash: true)
        case .syncFailureExpires(let index, let incarnation):
            mix(19, UInt64(index))
            settleDiskFault(servers[index], incarnation: incarnation, crash: false)
        case .restartMonitor(let node):
            mix(8, UInt64(node))
            if let monitor = monitorByNode[node], !monitor.isUp { startMonitor(monitor) }
        case .etcdReachable(let node):
            mix(16, UInt64(node))
            reconnectToEtcd(node)
        case .etcdQuorumBack:
            mix(17)
            regainEtcdQuorum()
        case .healPartition(let id):
            mix(9, id)
            network.heal(id)
            lastHeal = now
            trace.record(now, .note("partition \(id) heals"))
        case .endLossyPeriod(let id):
            mix(10, id)
            if id == lossyPeriod { network.lossyPermille = 0 }
        case .storeRecovers(let id):
            mix(15, id)
            if id == storeFailures {
                monitors[0].saveFails = false
                trace.record(now, .note("the monitor's store works again"))
            }
        case .powerCut:
            mix(20)
            if faultsActive { cutPower() }
        case .planFault:
            mix(11)
            planFault()
        case .adminRetry:
            mix(12)
            askForView()
        case .endOfFaults:
            mix(13)
            endFaults()
        case .finalReads:
            mix(14)
            startFinalReads()
        }
    }

    /// Ends the schedule with a failure (the first one counts).
    func fail(_ problem: String) {
        guard failure == nil else { return }
        trace.record(now, .note("FAILURE: \(problem)"))
        failure = SimulationFailure(seed: seed, steps: options.steps, time: now, problem: problem, trace: trace.lines)
        failure?.etcdMonitors = options.etcdMonitors
    }

    func server(named address: String) -> SimulatedServer? {
        serverByAddress[address]
    }

    /// Folds an event's words into the run's digest.
    private func mix(_ words: UInt64...) {
        for word in words { digest.mix(word) }
    }
}
