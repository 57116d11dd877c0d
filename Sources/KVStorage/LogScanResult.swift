/// What a log file holds: the records of its valid prefix, where that prefix ends, and
/// what follows it.
public struct LogScanResult: Equatable, Sendable {
    public var fileName: String
    /// The lsn the header says the first record carries.
    public var firstLSN: UInt64
    /// The records of the valid prefix, in order (also when the file is damaged after it).
    public var entries: [LogEntry]
    /// The length of the valid prefix in bytes: where a writer continues the file.
    public var validEnd: Int
    public var ending: LogEnding

    public init(fileName: String, firstLSN: UInt64, entries: [LogEntry], validEnd: Int, ending: LogEnding) {
        self.fileName = fileName
        self.firstLSN = firstLSN
        self.entries = entries
        self.validEnd = validEnd
        self.ending = ending
    }

    /// The lsn of the last valid record, or `firstLSN - 1` if there is none.
    public var lastLSN: UInt64 { entries.last?.lsn ?? firstLSN - 1 }
}
