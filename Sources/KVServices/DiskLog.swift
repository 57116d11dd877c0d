import KVMetrics
import KVProtocol
import KVStorage
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NodeDriver
import ServerCore

/// A kv-server's `ServerStorage` on disk: the `StorageEngine` on an I/O thread of its own,
/// so that the event loop never waits for a write or an fdatasync (docs/STORAGE.md,
/// "Writing").
///
/// Group commit: the loop queues each step's records; the I/O thread takes everything
/// queued, appends it as one write, and (under `always`) one fdatasync, then reports the
/// last LSN on the loop. While it syncs, the next records gather, so under load one sync
/// covers many updates. Under `everysec` it reports after the write and syncs once a
/// second; under `no` the kernel syncs when it likes.
///
/// A failed write or sync ends the process (`fail`): after a failed fsync the kernel may
/// have dropped the pages it could not write, so retrying could report success over a
/// hole. Recovery from disk at the next start decides what survived; the failure is
/// recorded first (`StorageEngine.recordFailure`), so that the next start on this boot
/// judges this run as if a reboot had followed it. A failed snapshot write needs no
/// record: the pages it may lose are the snapshot's, which nothing names yet.
public final class DiskLog: ServerStorage, @unchecked Sendable {
    /// Where the I/O thread stands, for `kvctl server-info` (the metrics record the syncs).
    public struct Figures: Sendable {
        public var lastWritten: UInt64 = 0
        public var lastSynced: UInt64 = 0
        public var logBytes = 0
        public var snapshotBytes = 0
    }

    private enum Work {
        case records([(lsn: UInt64, record: DurableRecord)])
        case compact(SnapshotState)
        case replace(SnapshotState)
        case install(generation: UInt64, lsn: UInt64, bytes: Int)
        case close(() -> Void)
    }

    /// Compactions start once the log since the last snapshot is this large and twice the
    /// snapshot's size: a log replayed at start stays within a few times the data.
    public static let compactionMinimumBytes = 64 << 20

    private let engine: StorageEngine<POSIXDataDirectory>
    private let metrics: ServerMetrics?
    private let loop: any EventLoop
    private let fail: @Sendable (String) -> Never
    private let pool: NIOThreadPool
    /// 1 while work is queued: the I/O thread waits on it, with a timeout under `everysec`.
    private let signal = ConditionLock(value: 0)
    private var queue: [Work] = []
    private let figures: NIOLockedValueBox<Figures>
    /// Touched on the loop only.
    private var persisted: ((UInt64) -> Void)?
    private var compacting = false
    /// I/O thread only: when the log was last synced, for `everysec`.
    private var lastSyncAt = NIODeadline.now()

    /// Opens the data directory (recovery included) on the calling thread; `open` says
    /// what it found.
    public init(
        engine: StorageEngine<POSIXDataDirectory>, loop: any EventLoop, metrics: ServerMetrics?,
        fail: @escaping @Sendable (String) -> Never
    ) {
        self.engine = engine
        self.metrics = metrics
        self.loop = loop
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

    // MARK: - ServerStorage (on the loop)

    public func start(persisted: @escaping (UInt64) -> Void) {
        self.persisted = persisted
    }

    public func append(_ records: [(lsn: UInt64, record: DurableRecord)]) {
        enqueue(.records(records))
    }

    public func snapshot(_ state: SnapshotState, replacing: Bool) {
        if !replacing {
            guard !compacting else { return }
            compacting = true
        }
        enqueue(replacing ? .replace(state) : .compact(state))
    }

    public var wantsSnapshot: Bool {
        guard !compacting else { return false }
        let now = current
        return now.logBytes >= max(Self.compactionMinimumBytes, 2 * now.snapshotBytes)
    }

    /// Writes and syncs everything queued, then stops the I/O thread.
    public func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            enqueue(.close({ continuation.resume() }))
        }
        try? await pool.shutdownGracefully()
    }

    private func enqueue(_ work: Work) {
        signal.lock()
        queue.append(work)
        signal.unlock(withValue: 1)
    }

    // MARK: - The I/O thread

    private func run() {
        while true {
            let woken: Bool
            if engine.policy == .everysec {
                woken = signal.lock(whenValue: 1, timeoutSeconds: 1)
            } else {
                signal.lock(whenValue: 1)
                woken = true
            }
            var taken: [Work] = []
            if woken {
                swap(&taken, &queue)
                signal.unlock(withValue: 0)
            }
            do {
                if try carryOut(taken) { return }
            } catch {
                // Before the process ends: a restart on this boot must not trust a claim
                // whose log the kernel may have lost pages of (StorageEngine.recordFailure).
                var recorded = "recorded in \(DataFileName.failureMarker)"
                do { try engine.recordFailure() } catch let markerError {
                    recorded = "could not be recorded in \(DataFileName.failureMarker) (\(markerError))"
                }
                fail(
                    "the data directory \(engine.fileSystem.path) failed: \(error) (\(recorded)); the server stops and "
                        + "recovers from disk at its next start"
                )
            }
        }
    }

    /// Returns true once closed.
    private func carryOut(_ taken: [Work]) throws -> Bool {
        var batch: [LogEntry] = []
        var closers: [() -> Void] = []
        func sync() throws {
            guard engine.lastSynced < engine.lastWritten else { return }
            let start = NIODeadline.now()
            let from = engine.lastSynced
            try engine.sync()
            lastSyncAt = NIODeadline.now()
            let took = UInt64((lastSyncAt - start).nanoseconds)
            metrics?.logSynced(records: engine.lastSynced - from, nanoseconds: took)
        }
        // Under `always` every write is synced before the next one starts: recovery tells
        // a torn write from damage by that (docs/STORAGE.md, "Torn tail or damage").
        func writeBatch() throws {
            guard !batch.isEmpty else { return }
            try engine.append(batch)
            batch.removeAll(keepingCapacity: true)
            if engine.policy == .always { try sync() }
        }
        for work in taken {
            switch work {
            case .records(let records):
                for item in records { batch.append(LogEntry(lsn: item.lsn, record: .record(item.record))) }
            case .compact(let state):
                try writeBatch()
                let generation = try engine.beginSnapshot(lsn: state.lsn)
                let fileSystem = engine.fileSystem
                let start = engine.currentStart
                pool.submit { [self] _ in
                    do {
                        let bytes = try StorageEngine.writeSnapshot(
                            state, start: start, generation: generation, to: fileSystem)
                        enqueue(.install(generation: generation, lsn: state.lsn, bytes: bytes))
                    } catch {
                        fail("writing a snapshot to \(fileSystem.path) failed: \(error)")
                    }
                }
            case .install(let generation, let lsn, let bytes):
                try writeBatch()
                try engine.installSnapshot(generation: generation, lsn: lsn, bytes: bytes)
                loop.execute { self.compacting = false }
            case .replace(let state):
                try writeBatch()
                try engine.replace(with: state)
            case .close(let done):
                closers.append(done)
            }
        }
        try writeBatch()
        let secondPassed = NIODeadline.now() - lastSyncAt >= .seconds(1)
        if !closers.isEmpty || (engine.policy == .everysec && secondPassed) { try sync() }
        let reached = engine.policy == .always ? engine.lastSynced : engine.lastWritten
        figures.withLockedValue {
            $0.lastWritten = engine.lastWritten
            $0.lastSynced = engine.lastSynced
            $0.logBytes = engine.logBytesSinceSnapshot
            $0.snapshotBytes = engine.snapshotBytes
        }
        metrics?.updateStorage(
            logBytes: engine.logBytesSinceSnapshot, snapshotBytes: engine.snapshotBytes, syncedLSN: engine.lastSynced,
            appendedBytes: engine.bytesAppended)
        loop.execute { self.persisted?(reached) }
        for done in closers { done() }
        return !closers.isEmpty
    }
}
