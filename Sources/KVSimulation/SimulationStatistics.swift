/// What one schedule (or many, added up) did.
public struct SimulationStatistics: Sendable {
    public var schedules = 0
    /// Schedules in which any server could crash at any time (the rest crash a primary
    /// or backup only while its view is synchronised, and must finish their final reads).
    public var riskySchedules = 0
    /// Risky schedules whose final reads got no answer: both copies of the data were lost
    /// and the service refused to serve rather than answer from an empty store.
    public var schedulesWithoutService = 0
    public var operations = 0
    public var completed = 0
    /// Operations whose client gave up at the deadline: applied or not, nobody knows.
    public var unknownOutcomes = 0
    public var finalReads = 0
    public var finalReadsAnswered = 0
    /// Answers checked to come from their view's primary.
    public var answersChecked = 0
    /// Gets answered under a lease, each checked against the backup.
    public var leaseReadsChecked = 0
    /// Acknowledgements at which the backup's state was compared with the primary's.
    public var acknowledgementsChecked = 0
    /// Quiet moments at which a backup's state was compared with its primary's.
    public var agreementsChecked = 0
    /// Schedules whose servers have data directories.
    public var durableSchedules = 0
    /// Answers to clients, and backups' acceptances, checked against what the sender's
    /// disk held (and, for an answered update, its backup's).
    public var durableRepliesChecked = 0
    public var durableAcksChecked = 0
    /// Opened data directories whose recovery was checked against what was written; of
    /// them, those that kept records past the last sync, cut a torn tail, and were found
    /// damaged (a flipped bit).
    public var recoveriesChecked = 0
    public var unsyncedRecordsRecovered = 0
    public var tornTailsCut = 0
    public var damagedRecoveries = 0
    /// Revivals checked to pick a server holding every acknowledged update.
    public var revivalsChecked = 0
    /// Machine crashes that lost unsynced bytes, and directory operations not yet synced.
    public var crashesLosingUnsyncedBytes = 0
    public var crashesLosingDirectoryOperations = 0
    /// Compactions installed, and transfers written as snapshots replacing the log.
    public var snapshotsInstalled = 0
    public var transfersWritten = 0
    public var faults: [FaultKind: Int] = [:]
    public var workload = WorkloadStatistics()
    public var viewChanges = 0
    /// Leaderships begun, in schedules with several monitors and etcd.
    public var leaderships = 0
    public var messages = 0
    public var messagesLost = 0
    public var messagesDuplicated = 0
    public var events = 0
    /// Simulated time, in microseconds.
    public var simulatedMicroseconds: UInt64 = 0

    public init() {}

    mutating func count(_ fault: FaultKind) {
        faults[fault, default: 0] += 1
    }

    public mutating func add(_ other: SimulationStatistics) {
        schedules += other.schedules
        riskySchedules += other.riskySchedules
        schedulesWithoutService += other.schedulesWithoutService
        operations += other.operations
        completed += other.completed
        unknownOutcomes += other.unknownOutcomes
        finalReads += other.finalReads
        finalReadsAnswered += other.finalReadsAnswered
        answersChecked += other.answersChecked
        leaseReadsChecked += other.leaseReadsChecked
        acknowledgementsChecked += other.acknowledgementsChecked
        agreementsChecked += other.agreementsChecked
        durableSchedules += other.durableSchedules
        durableRepliesChecked += other.durableRepliesChecked
        durableAcksChecked += other.durableAcksChecked
        recoveriesChecked += other.recoveriesChecked
        unsyncedRecordsRecovered += other.unsyncedRecordsRecovered
        tornTailsCut += other.tornTailsCut
        damagedRecoveries += other.damagedRecoveries
        revivalsChecked += other.revivalsChecked
        crashesLosingUnsyncedBytes += other.crashesLosingUnsyncedBytes
        crashesLosingDirectoryOperations += other.crashesLosingDirectoryOperations
        snapshotsInstalled += other.snapshotsInstalled
        transfersWritten += other.transfersWritten
        for (kind, count) in other.faults { faults[kind, default: 0] += count }
        workload.add(other.workload)
        viewChanges += other.viewChanges
        leaderships += other.leaderships
        messages += other.messages
        messagesLost += other.messagesLost
        messagesDuplicated += other.messagesDuplicated
        events += other.events
        simulatedMicroseconds += other.simulatedMicroseconds
    }

    /// A few lines for people.
    public var summary: String {
        let seconds = Double(simulatedMicroseconds) / 1_000_000
        var lines = [
            "schedules: \(schedules) (\(riskySchedules) risky, \(schedulesWithoutService) of them lost both copies)",
            "client operations: \(operations), completed \(completed), unknown outcome \(unknownOutcomes); "
                + "final reads \(finalReads), answered \(finalReadsAnswered)",
            workload.summary,
            "checks: \(answersChecked) answers from the primary, \(acknowledgementsChecked) backups equal at "
                + "acknowledgement, \(agreementsChecked) quiet pairs equal, \(leaseReadsChecked) Gets under a "
                + "lease against the backup",
            "data directories: \(durableSchedules) schedules; \(recoveriesChecked) recoveries checked (\(unsyncedRecordsRecovered) "
                + "kept unsynced records, \(tornTailsCut) cut a torn tail, \(damagedRecoveries) found damage); "
                + "machine crashes losing unsynced bytes \(crashesLosingUnsyncedBytes), directory operations "
                + "\(crashesLosingDirectoryOperations); "
                + "\(snapshotsInstalled) compactions, \(transfersWritten) transfers written; checks: "
                + "\(durableRepliesChecked) answers and \(durableAcksChecked) acceptances on disk first, "
                + "\(revivalsChecked) revivals holding every acknowledged update",
            "view changes: \(viewChanges); leaderships: \(leaderships); messages: \(messages), lost \(messagesLost), "
                + "duplicated \(messagesDuplicated); events: \(events); simulated time: \(Int(seconds)) s",
        ]
        let faultText = FaultKind.allCases.compactMap { kind in
            faults[kind].map { "\(kind.rawValue) \($0)" }
        }
        lines.append("faults: " + (faultText.isEmpty ? "none" : faultText.joined(separator: ", ")))
        return lines.joined(separator: "\n")
    }
}
