import KVMetrics
import KVProtocol
import KVStorage
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NodeDriver
import ServerCore

/// A kv-server's `ServerStorage` on disk (docs/STORAGE.md, "Writing").
///
/// The records of every step of an event-loop turn are gathered, and a task queued behind
/// that turn's work hands them on at once.
///
/// Under `always`, to the I/O thread, which takes everything queued, appends it as one
/// write and one fdatasync (group commit: while it syncs, the next turns' records
/// gather), and reports the last LSN on the loop: the loop never waits for the disk.
/// Under `everysec` and `no`, a reply waits only for the write, which the task makes on
/// the loop itself (a write to the page cache costs less than the two thread hops), and
/// reports at once; the I/O thread syncs once a second under `everysec`, and the kernel
/// when it likes under `no`.
///
/// Work that takes long goes to the I/O thread too: a transfer's replacing snapshot, and a
/// compaction's switch of logs and installation (its snapshot is written on a second
/// thread). While any work is queued or running, the turn's records queue behind it, so
/// the log stays in LSN order; `engineLock` keeps the loop and the thread from using the
/// engine at once.
///
/// A write refused for want of space (`DiskFull`: ENOSPC, EDQUOT) is waited out: the
/// engine has undone it, the work stays at the head of the queue, everything after it
/// behind it, and the I/O thread tries again once a second (whatever work comes
/// meanwhile) until it goes in; the core is told the disk is full, and again when it is
/// not. Nothing waiting is reported persisted meanwhile, so replies and acknowledgements
/// wait (rule D1). A compaction that finds the disk full is abandoned instead (the log
/// holds everything), and tried again a minute later at the soonest.
///
/// Any other failed write, and every failed sync, ends the process (`fail`): after a
/// failed fsync the kernel may have dropped the pages it could not write, so retrying
/// could report success over a hole. Recovery from disk at the next start decides what
/// survived; the failure is recorded first (`StorageEngine.recordFailure`), so that the
/// next start on this boot judges this run as if a reboot had followed it. A failed
/// snapshot write needs no record: the pages it may lose are the snapshot's, which
/// nothing names yet.
public final class DiskLog: ServerStorage, @unchecked Sendable {
    /// Where the I/O thread stands, for `kvctl server-info` (the metrics record the syncs).
    public struct Figures: Sendable {
        public var lastWritten: UInt64 = 0
        public var lastSynced: UInt64 = 0
        public var logBytes = 0
        public var snapshotBytes = 0
        /// Compactions abandoned because the disk was full.
        public var compactionsAbandoned = 0
    }

    private enum Work {
        /// A turn's records, queued behind work before them.
        case records(EncodedRecords)
        case compact(SnapshotState)
        case replace(SnapshotState)
        case install(generation: UInt64, lsn: UInt64, bytes: Int)
        case close(() -> Void)
    }

    /// Compactions start once the log since the last snapshot is this large and twice the
    /// snapshot's size: a log replayed at start stays within a few times the data.
    public static let compactionMinimumBytes = 64 << 20
    private let compactionMinimumBytes: Int
    /// How long after a compaction abandoned for want of space the next may start.
    static let compactionRetryDelay = TimeAmount.seconds(60)
    /// Room for a turn's records to start with (a turn's bytes grow it, up to 16 times this).
    static let turnCapacity = 16 << 10
    /// How long the I/O thread waits before it tries again a write refused for want of space.
    static let diskFullRetryDelay = TimeAmount.seconds(1)

    private let engine: StorageEngine<POSIXDataDirectory>
    private let metrics: ServerMetrics?
    private let loop: any EventLoop
    private let fail: @Sendable (String) -> Never
    private let warn: @Sendable (String) -> Void
    private let pool: NIOThreadPool
    /// 1 while work is queued: the I/O thread waits on it, with a timeout under `everysec`.
    /// It also guards `queue` and `threadBusy`.
    private let signal = ConditionLock(value: 0)
    private var queue: [Work] = []
    /// The I/O thread is carrying out work it took from `queue`.
    private var threadBusy = false
    /// Set while a write refused for want of space waits at the head of `queue`: the I/O
    /// thread tries again no sooner than this, whatever work comes meanwhile.
    private var retryAt: NIODeadline?
    /// Wakes the I/O thread from that wait when the log closes.
    private let wake = ConditionLock(value: 0)
    /// Held by whoever calls the engine: the loop's turn flush, or the I/O thread.
    private let engineLock = NIOLock()
    private let figures: NIOLockedValueBox<Figures>
    /// Touched on the loop only.
    private var persisted: ((UInt64) -> Void)?
    private var diskFullChanged: ((Bool) -> Void)?
    private var compacting = false
    /// After a compaction abandoned for want of space, none starts before this.
    private var nextCompactionAt = NIODeadline.uptimeNanoseconds(0)
    /// Whether the core was last told the disk is full; on the loop only.
    private var reportedFull = false
    /// Records of this turn, and whether the task that writes them is queued.
    private var turnRecords = EncodedRecords(capacity: DiskLog.turnCapacity)
    private var flushQueued = false
    /// I/O thread only: when the log was last synced, for `everysec`.
    private var lastSyncAt = NIODeadline.now()

    /// Opens the data directory (recovery included) on the calling thread; `open` says
    /// what it found.
    public init(
        engine: StorageEngine<POSIXDataDirectory>, loop: any EventLoop, metrics: ServerMetrics?,
        compactionMinimumBytes: Int = DiskLog.compactionMinimumBytes,
        warn: @escaping @Sendable (String) -> Void = { _ in }, fail: @escaping @Sendable (String) -> Never
    ) {
        self.engine = engine
        self.compactionMinimumBytes = compactionMinimumBytes
        self.metrics = metrics
        self.loop = loop
        self.warn = warn
        self.fail = fail
        self.pool = NIOThreadPool(numberOfThreads: 2)
        self.figures = NIOLockedValueBox(
            Figures(
                lastWritten: engine.lastWritten, lastSynced: engine.lastSynced,
                logBytes: engine.logBytesSinceSnapshot, snapshotBytes: engine.snapshotBytes))
        pool.start()
        pool.submit { [self] state in
            guard state == .active else { return }
            run()
        }
    }

    public var current: Figures { figures.withLockedValue { $0 } }

    /// The data directory written (tests reach its `limitSpaceForTests` through it).
    public var directory: POSIXDataDirectory { engine.fileSystem }

    // MARK: - ServerStorage (on the loop)

    public func start(persisted: @escaping (UInt64) -> Void) {
        self.persisted = persisted
    }

    public func start(persisted: @escaping (UInt64) -> Void, diskFull: @escaping (Bool) -> Void) {
        self.persisted = persisted
        self.diskFullChanged = diskFull
    }

    /// Whether a write waits for space now (for tests and reports).
    public var waitingForSpace: Bool {
        signal.lock()
        defer { signal.unlock() }
        return retryAt != nil
    }

    public func append(update: ForwardedUpdate, lsn: UInt64) {
        turnRecords.append(update: update, lsn: lsn)
        queueFlush()
    }

    public func append(_ record: DurableRecord, lsn: UInt64) {
        turnRecords.append(record, lsn: lsn)
        queueFlush()
    }

    private func queueFlush() {
        guard !flushQueued else { return }
        flushQueued = true
        loop.execute { self.flushTurn(reportingAt: .now) }
    }

    public func snapshot(_ state: SnapshotState, replacing: Bool) {
        if !replacing {
            guard !compacting else { return }
            compacting = true
        }
        // The records before it go first, in LSN order. The driver is mid-step: the report
        // comes as a task of its own.
        flushTurn(reportingAt: .nextTask)
        enqueue(replacing ? .replace(state) : .compact(state))
    }

    public var wantsSnapshot: Bool {
        guard !compacting, NIODeadline.now() >= nextCompactionAt else { return false }
        let now = current
        return now.logBytes >= max(compactionMinimumBytes, 2 * now.snapshotBytes)
    }

    /// Writes and syncs everything queued, then stops the I/O thread. Records that wait
    /// for space then are given up: nothing acknowledged them.
    public func close() async {
        try? await loop.submit { self.flushTurn(reportingAt: .nextTask) }.get()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            signal.lock()
            queue.append(.close({ continuation.resume() }))
            // What waits for space gets one last try, now.
            retryAt = nil
            signal.unlock(withValue: 1)
            wake.lock()
            wake.unlock(withValue: 1)
        }
        try? await pool.shutdownGracefully()
    }

    private func enqueue(_ work: Work) {
        signal.lock()
        queue.append(work)
        signal.unlock(withValue: 1)
    }

    private enum ReportTime {
        /// The flush is a task of its own: the core may take the report at once.
        case now
        /// The flush runs inside a step of the driver's, which must not be re-entered.
        case nextTask
    }

    /// Hands the turn's records to the I/O thread under `always`; otherwise writes them on
    /// the loop, or queues them behind the I/O thread's work if it has any.
    private func flushTurn(reportingAt reportTime: ReportTime) {
        flushQueued = false
        guard !turnRecords.isEmpty else { return }
        let records = turnRecords
        turnRecords = EncodedRecords(capacity: min(max(records.byteCount, Self.turnCapacity), 16 * Self.turnCapacity))
        // Queued without touching `engineLock`, which the I/O thread holds through a sync
        // or a snapshot: the loop must not wait for the disk.
        if queueIfThreadBusy(records) { return }
        engineLock.lock()
        // Checked again: work may have come in (a compaction's installation, from the
        // snapshot thread) since the look above.
        if queueIfThreadBusy(records) {
            engineLock.unlock()
            return
        }
        let reached: UInt64
        do {
            try engine.append(records)
            reached = engine.lastWritten
            publishFigures()
        } catch is DiskFull {
            // The I/O thread tries again, in a second; later turns queue behind.
            waitForSpace(putBack: [.records(records)])
            engineLock.unlock()
            return
        } catch {
            stop(after: error)
        }
        engineLock.unlock()
        switch reportTime {
        case .now: persisted?(reached)
        case .nextTask: loop.execute { self.persisted?(reached) }
        }
    }

    /// Queues `records` for the I/O thread if it has work queued or running (or always,
    /// under `always`), and says whether it did.
    private func queueIfThreadBusy(_ records: EncodedRecords) -> Bool {
        signal.lock()
        guard engine.policy == .always || !queue.isEmpty || threadBusy else {
            signal.unlock()
            return false
        }
        queue.append(.records(records))
        signal.unlock(withValue: 1)
        return true
    }

    /// After a write refused for want of space, with `engineLock` held: `work` goes back to
    /// the head of the queue, the I/O thread tries again in a second, and the core learns
    /// the disk is full (on the loop, as a task of its own).
    private func waitForSpace(putBack work: [Work]) {
        signal.lock()
        queue.insert(contentsOf: work, at: 0)
        let first = retryAt == nil
        retryAt = NIODeadline.now() + Self.diskFullRetryDelay
        signal.unlock(withValue: 1)
        if first { loop.execute { self.report(full: true) } }
    }

    /// On the loop.
    private func report(full: Bool) {
        guard full != reportedFull else { return }
        reportedFull = full
        diskFullChanged?(full)
    }

    /// On the loop: a compaction found the disk full; the log holds everything, and the
    /// next may start a minute later.
    private func abandonCompaction(_ error: DiskFull) {
        warn(
            "a compaction of \(engine.fileSystem.path) was abandoned: \(error); the log holds everything, and the next "
                + "compaction may start in \(Self.compactionRetryDelay.nanoseconds / 1_000_000_000) s")
        compacting = false
        nextCompactionAt = NIODeadline.now() + Self.compactionRetryDelay
        figures.withLockedValue { $0.compactionsAbandoned += 1 }
    }

    /// Ends the process after a failed write or sync, with `engineLock` held. First, a
    /// restart on this boot must learn not to trust a claim whose log the kernel may have
    /// lost pages of (StorageEngine.recordFailure).
    private func stop(after error: any Error) -> Never {
        var recorded = "recorded in \(DataFileName.failureMarker)"
        do { try engine.recordFailure() } catch let markerError {
            recorded = "could not be recorded in \(DataFileName.failureMarker) (\(markerError))"
        }
        fail(
            "the data directory \(engine.fileSystem.path) failed: \(error) (\(recorded)); the server stops and "
                + "recovers from disk at its next start")
    }

    /// With `engineLock` held.
    private func sync() throws {
        guard engine.lastSynced < engine.lastWritten else { return }
        let start = NIODeadline.now()
        let from = engine.lastSynced
        try engine.sync()
        lastSyncAt = NIODeadline.now()
        let took = UInt64((lastSyncAt - start).nanoseconds)
        metrics?.logSynced(records: engine.lastSynced - from, nanoseconds: took)
    }

    /// The once-a-second sync of `everysec`, on the I/O thread, with `engineLock` held on
    /// entry and exit but not during the fdatasync: the loop's writes to the same log go on
    /// meanwhile (the thread alone switches logs, so the handle stays the log written).
    private func syncLettingTheLoopWrite() throws {
        guard let target = engine.syncTarget() else { return }
        let start = NIODeadline.now()
        let from = engine.lastSynced
        engineLock.unlock()
        defer { engineLock.lock() }
        try engine.fileSystem.sync(target.log)
        engineLock.lock()
        engine.synced(upTo: target.upTo)
        engineLock.unlock()
        lastSyncAt = NIODeadline.now()
        metrics?.logSynced(records: target.upTo - from, nanoseconds: UInt64((lastSyncAt - start).nanoseconds))
    }

    /// With `engineLock` held.
    private func publishFigures() {
        figures.withLockedValue {
            $0.lastWritten = engine.lastWritten
            $0.lastSynced = engine.lastSynced
            $0.logBytes = engine.logBytesSinceSnapshot
            $0.snapshotBytes = engine.snapshotBytes
        }
        metrics?.updateStorage(
            logBytes: engine.logBytesSinceSnapshot, snapshotBytes: engine.snapshotBytes, syncedLSN: engine.lastSynced,
            appendedBytes: engine.bytesAppended)
    }

    // MARK: - The I/O thread

    private func run() {
        while true {
            signal.lock()
            let waitUntil = retryAt
            signal.unlock()
            if let waitUntil, case let left = waitUntil - NIODeadline.now(), left > .zero {
                if wake.lock(whenValue: 1, timeoutSeconds: Double(left.nanoseconds) / 1e9) { wake.unlock() }
            }
            let woken: Bool
            if engine.policy == .everysec {
                woken = signal.lock(whenValue: 1, timeoutSeconds: 1)
            } else {
                signal.lock(whenValue: 1)
                woken = true
            }
            var taken: [Work] = []
            if woken, let waitUntil = retryAt, waitUntil > NIODeadline.now() {
                // Work came in while a write waits for space: it queues behind, and the
                // next try is the second's.
                signal.unlock()
                continue
            }
            if woken {
                swap(&taken, &queue)
                threadBusy = true
                signal.unlock(withValue: 0)
            }
            engineLock.lock()
            let closed: Bool
            do {
                closed = try carryOut(taken)
            } catch {
                stop(after: error)
            }
            engineLock.unlock()
            if woken {
                signal.lock()
                threadBusy = false
                signal.unlock()
            }
            if closed { return }
        }
    }

    /// With `engineLock` held. Returns true once closed. Work refused for want of space
    /// goes back to the head of the queue, with everything after it.
    private func carryOut(_ taken: [Work]) throws -> Bool {
        var batch: EncodedRecords?
        var closers: [() -> Void] = []
        var index = 0
        do {
            try carryOut(taken, &index, &batch, &closers)
        } catch is DiskFull where !taken.contains(where: { if case .close = $0 { true } else { false } }) {
            waitForSpace(putBack: (batch.map { [.records($0)] } ?? []) + taken[index...])
            reportReached()
            return false
        } catch is DiskFull {
            // Closing: what waits for space is given up; nothing acknowledged it.
            for case .close(let done) in taken[index...] { closers.append(done) }
        }
        // Only work that went in shows there is space again: an empty pass (everysec's
        // timer) may come just after the loop found the disk full.
        if !taken.isEmpty {
            signal.lock()
            let wasWaiting = retryAt != nil
            retryAt = nil
            signal.unlock()
            if wasWaiting { loop.execute { self.report(full: false) } }
        }
        let secondPassed = NIODeadline.now() - lastSyncAt >= .seconds(1)
        if !closers.isEmpty {
            try sync()
        } else if engine.policy == .everysec && secondPassed {
            try syncLettingTheLoopWrite()
        }
        reportReached()
        for done in closers { done() }
        return !closers.isEmpty
    }

    /// Reports on the loop what the log holds as the policy requires.
    private func reportReached() {
        let reached = engine.policy == .always ? engine.lastSynced : engine.lastWritten
        publishFigures()
        loop.execute { self.persisted?(reached) }
    }

    /// Carries out `taken` from `index` on, which it advances past each work done.
    private func carryOut(
        _ taken: [Work], _ index: inout Int, _ batch: inout EncodedRecords?, _ closers: inout [() -> Void]
    ) throws {
        // Under `always` every write is synced before the next one starts: recovery tells
        // a torn write from damage by that (docs/STORAGE.md, "Torn tail or damage").
        func writeBatch() throws {
            guard let records = batch else { return }
            try engine.append(records)
            batch = nil
            if engine.policy == .always { try sync() }
        }
        while index < taken.count {
            switch taken[index] {
            case .records(let records):
                // The turns queued while the log synced go out as one write.
                if let batch { batch.append(contentsOf: records) } else { batch = records }
            case .compact(let state):
                try writeBatch()
                let generation: UInt64
                do {
                    generation = try engine.beginSnapshot(lsn: state.lsn)
                } catch let full as DiskFull {
                    loop.execute { self.abandonCompaction(full) }
                    break
                }
                let fileSystem = engine.fileSystem
                let start = engine.currentStart
                pool.submit { [self] _ in
                    do {
                        let bytes = try StorageEngine.writeSnapshot(
                            state, start: start, generation: generation, to: fileSystem)
                        enqueue(.install(generation: generation, lsn: state.lsn, bytes: bytes))
                    } catch let full as DiskFull {
                        // The manifest names the log begun for it: the logs hold everything.
                        loop.execute { self.abandonCompaction(full) }
                    } catch {
                        fail("writing a snapshot to \(fileSystem.path) failed: \(error)")
                    }
                }
            case .install(let generation, let lsn, let bytes):
                try writeBatch()
                do {
                    try engine.installSnapshot(generation: generation, lsn: lsn, bytes: bytes)
                    loop.execute { self.compacting = false }
                } catch let full as DiskFull {
                    loop.execute { self.abandonCompaction(full) }
                }
            case .replace(let state):
                // Refused for want of space, it waits like records: the transfer's last
                // chunk is acknowledged only once it is written.
                try writeBatch()
                try engine.replace(with: state)
            case .close(let done):
                closers.append(done)
            }
            index += 1
        }
        try writeBatch()
    }
}
