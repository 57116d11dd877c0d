import KVProtocol
import KVStorage
import NodeDriver
import ServerCore

/// A kv-server process: the production `ServerDriver` in a simulated environment. A crash
/// drops the driver with its core, its requests and its timers; a restart begins a new
/// incarnation, empty, or from its data directory when the schedule gives servers one.
///
/// What outlives the process is the machine: its disk (`SimulatedDisk`, with the
/// simulator's own account of what it holds, `ledger`) and its boot id, which changes
/// when the machine crashes.
final class SimulatedServer {
    let address: String
    /// How far this host's wall clock is from the simulation's, in milliseconds (key
    /// deadlines are set and checked against it).
    var clockOffsetMillis: Int64 = 0
    /// This machine's lease clock (`CLOCK_BOOTTIME`) at simulated time 0, and how fast it
    /// runs, in millionths off the simulation's time.
    var leaseClockBoot: UInt64 = 0
    var leaseClockDriftPPM: Int64 = 0
    /// The process is paused (a stop, a long stall) until then: nothing reaches it, no
    /// timer of its fires, while its clocks keep running.
    var pausedUntil: UInt64 = 0
    /// How many Gets it answered under its lease, as far as the checks have seen.
    var leaseReadsChecked: UInt64 = 0

    /// The lease clock at simulated time `now` (microseconds), in nanoseconds.
    func leaseClock(at now: UInt64) -> UInt64 {
        let elapsed = Int64(now * 1_000)
        return leaseClockBoot + UInt64(elapsed + elapsed / 1_000_000 * leaseClockDriftPPM)
    }
    let node: Int
    let config: ServerConfig
    private(set) var driver: ServerDriver<SimulatedServerEnvironment>?
    /// The simulation's count of this server's processes (1, 2, ...).
    private(set) var incarnation: UInt64 = 0
    /// The incarnation the process tells the monitor: seeded, never 0.
    private(set) var processIncarnation: UInt64 = 0
    /// A SIGTERM was sent to this incarnation: it is leaving (the fault planner waits
    /// for the leave to end before the next fault).
    var askedToLeave = false

    /// The data directory's disk; nil for a server that keeps everything in memory.
    let disk: SimulatedDisk?
    var ledger: DiskLedger
    /// The machine's boot id (`/proc/sys/kernel/random/boot_id`).
    var bootID: [UInt8]
    /// A start found a flipped bit and its machine crashed before the start completed:
    /// the damaged files may be set aside already, in part or whole.
    var settingDamageAside = false
    /// This process's storage, when it has a data directory.
    private(set) var storage: SimulatedStorage?
    /// Keys the processes before this one expired (their counters die with them).
    private var keysExpiredBefore: UInt64 = 0

    /// Keys every process of this server expired as primary.
    var keysExpired: UInt64 { keysExpiredBefore + (core?.counters.keysExpired ?? 0) }

    init(address: String, node: Int, config: ServerConfig, disk: SimulatedDisk?, bootID: [UInt8]) {
        self.address = address
        self.node = node
        self.config = config
        self.disk = disk
        self.bootID = bootID
        ledger = DiskLedger(duplicateCapacity: config.duplicateTableCapacity)
    }

    var isUp: Bool { driver != nil }
    var core: ServerCore? { driver?.core }

    /// A new process under the same address: it opens its data directory, if it has one
    /// (recovery, checked), then starts pinging. False if the machine crashed during
    /// recovery: the process never got going.
    func start(in simulation: Simulation) -> Bool {
        incarnation += 1
        askedToLeave = false
        processIncarnation = max(1, simulation.random.next())
        var recoveredData: RecoveredData?
        if let settings = simulation.diskSettings {
            guard let (engine, opening) = simulation.openDataDirectory(of: self) else { return false }
            storage = SimulatedStorage(
                engine: engine, simulation: simulation, server: self, incarnation: incarnation, settings: settings)
            recoveredData = opening.recovered
        }
        let environment = SimulatedServerEnvironment(simulation: simulation, server: self, incarnation: incarnation)
        driver = ServerDriver(
            configuration: .init(
                core: config, monitors: simulation.monitors.map(\.address),
                pingInterval: Simulation.pingInterval * 1_000,
                peerTimeout: Simulation.peerTimeout * 1_000, incarnation: processIncarnation),
            environment: environment, storage: storage, recovered: recoveredData)
        driver!.start()
        return true
    }

    /// The process ends: its state, its connections and its timers are gone.
    func stop() {
        keysExpiredBefore = keysExpired
        driver?.stop()
        driver = nil
        storage = nil
        askedToLeave = false
        pausedUntil = 0
        leaseReadsChecked = 0
        disk?.nextSyncFails = nil
        disk?.crashesAfter = nil
    }
}
