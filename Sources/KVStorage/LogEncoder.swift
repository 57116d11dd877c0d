import KVProtocol

/// The bytes of a log file (docs/STORAGE.md, "Log files"): a header record, then the
/// records of each write (one group commit) appended as they come. Pure: the caller
/// writes the bytes and syncs them.
public enum LogEncoder {
    /// The first record of a log whose first data record will carry `firstLSN`. It carries
    /// lsn `firstLSN - 1` itself, as a write of its own.
    public static func encodeLogHeader(generation: UInt64, firstLSN: UInt64) -> [UInt8] {
        precondition(firstLSN >= 1, "lsns start at 1")
        let lsn = firstLSN - 1
        var writer = FramedRecordWriter(capacity: RecordLayout.headerSize + 24)
        writer.beginRecord(lsn: lsn, batchFirst: lsn, batchLast: lsn)
        writer.payload.u8(PayloadType.logHeader.rawValue)
        writer.payload.u16(FormatVersion.current)
        writer.payload.u64(generation)
        writer.payload.u64(firstLSN)
        writer.endRecord()
        return writer.takeBytes()
    }

    /// Appends the records of one write to `buffer`. Their lsns must be consecutive; each
    /// record carries the first and last of them, which is how recovery tells the records
    /// of a write cut short from those of a later write (docs/STORAGE.md).
    public static func encodeBatch(_ entries: [LogEntry], into buffer: inout [UInt8]) {
        guard let first = entries.first?.lsn, let last = entries.last?.lsn else { return }
        precondition(
            last >= first && last - first == UInt64(entries.count - 1), "the lsns of a write must be consecutive")
        var capacity = 0
        for entry in entries {
            capacity += RecordLayout.headerSize + entry.record.payloadSizeEstimate + RecordLayout.alignment
        }
        var writer = FramedRecordWriter(capacity: capacity)
        for (index, entry) in entries.enumerated() {
            precondition(entry.lsn == first + UInt64(index), "the lsns of a write must be consecutive")
            writer.beginRecord(lsn: entry.lsn, batchFirst: first, batchLast: last)
            writer.payload.append(entry.record)
            writer.endRecord()
        }
        if buffer.isEmpty {
            buffer = writer.takeBytes()
        } else {
            buffer.append(contentsOf: writer.takeBytes())
        }
    }
}
