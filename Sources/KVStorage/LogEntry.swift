/// A log record with its sequence number.
public struct LogEntry: Equatable, Sendable {
    public var lsn: UInt64
    public var record: LogRecord

    public init(lsn: UInt64, record: LogRecord) {
        self.lsn = lsn
        self.record = record
    }
}
