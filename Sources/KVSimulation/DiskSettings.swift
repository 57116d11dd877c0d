import ServerCore

/// How a schedule's servers keep their data directories: the fsync policy, how long a
/// sync takes, and how large a log grows before a compaction. Compactions start at a few
/// KB, so that snapshots, log rolls and the files they leave behind after a crash are in
/// ordinary schedules, not only in long ones.
struct DiskSettings {
    let policy: FsyncPolicy
    /// The longest fdatasync, in microseconds; each takes a tenth of it to all of it.
    let maxSyncDelay: UInt64
    /// Log bytes since the last snapshot that ask for a compaction (at least twice the
    /// snapshot's size, as in the daemon).
    let compactionBytes: Int

    func syncDelay(_ random: inout SimulationRandom) -> UInt64 {
        random.between(maxSyncDelay / 10, maxSyncDelay)
    }

    /// A write into the page cache, under `everysec` and `no`.
    func writeDelay(_ random: inout SimulationRandom) -> UInt64 {
        random.between(0, 50)
    }
}
