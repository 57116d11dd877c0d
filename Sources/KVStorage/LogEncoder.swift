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
        guard !entries.isEmpty else { return }
        encode(entries).seal { buffer.append(contentsOf: $0) }
    }

    /// The records of `entries`, not yet sealed as one write.
    static func encode(_ entries: [LogEntry]) -> EncodedRecords {
        var capacity = 0
        for entry in entries {
            capacity += RecordLayout.headerSize + entry.record.payloadSizeEstimate + RecordLayout.alignment
        }
        let records = EncodedRecords(capacity: capacity)
        for entry in entries { records.append(entry.record, lsn: entry.lsn) }
        return records
    }
}
