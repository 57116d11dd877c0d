import KVCheck

/// What the transactions of the workload did, over the answered operations: how often
/// conditions refused a put, deadlines removed keys, scans ran to their end.
public struct WorkloadStatistics: Sendable {
    public var reads = 0
    public var writes = 0
    public var conditionalWrites = 0
    public var refusedWrites = 0
    public var writesWithDeadline = 0
    /// Writes whose deadline had passed when the primary applied them: the key gone at once.
    public var writesGoneAtOnce = 0
    public var adds = 0
    /// Adds refused: the value was not an integer.
    public var refusedAdds = 0
    public var removes = 0
    public var scanPages = 0
    public var scansCompleted = 0
    /// Transactions over both transfer counters, whose sum `TransferInvariant` checks.
    public var transfers = 0
    public var audits = 0
    /// Keys the primaries deleted because their deadline had passed (as they read them,
    /// or at a tick), over every process.
    public var keysExpired: UInt64 = 0

    public init() {}

    mutating func count(_ call: Call, _ response: Response) {
        switch (call, response) {
        case (.read, _):
            reads += 1
        case (.write(let write), .written(let applied, let after)):
            writes += 1
            if write.condition != .always { conditionalWrites += 1 }
            if !applied { refusedWrites += 1 }
            if write.deadline != nil { writesWithDeadline += 1 }
            if applied && after == nil { writesGoneAtOnce += 1 }
        case (.add, .written(let applied, _)):
            adds += 1
            if !applied { refusedAdds += 1 }
        case (.remove, _):
            removes += 1
        case (.range, .page(_, let next)):
            scanPages += 1
            if next == nil { scansCompleted += 1 }
        default:
            break
        }
    }

    mutating func add(_ other: WorkloadStatistics) {
        reads += other.reads
        writes += other.writes
        conditionalWrites += other.conditionalWrites
        refusedWrites += other.refusedWrites
        writesWithDeadline += other.writesWithDeadline
        writesGoneAtOnce += other.writesGoneAtOnce
        adds += other.adds
        refusedAdds += other.refusedAdds
        removes += other.removes
        scanPages += other.scanPages
        scansCompleted += other.scansCompleted
        transfers += other.transfers
        audits += other.audits
        keysExpired += other.keysExpired
    }

    public var summary: String {
        "transactions answered: \(reads) reads, \(writes) writes (\(conditionalWrites) conditional, \(refusedWrites) "
            + "refused; \(writesWithDeadline) with a deadline, \(writesGoneAtOnce) of them past it when applied), "
            + "\(adds) adds (\(refusedAdds) on a value not an integer), \(removes) removes, \(scansCompleted) scans "
            + "completed (\(scanPages) pages), \(transfers) transfers and \(audits) audits summing to 0; "
            + "\(keysExpired) keys expired"
    }
}
