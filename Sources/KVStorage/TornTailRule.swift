import KVProtocol

/// Decides whether a log's valid prefix ends because its last write was cut short (a
/// torn tail, to be cut off) or because synced bytes were damaged (docs/STORAGE.md,
/// "Torn tail or damage").
///
/// Let X be where the valid prefix ends and n the lsn of its last record (the header's
/// `firstLSN - 1` if there is none). The tail is torn iff both:
///
/// (a) The bytes at X look unwritten: fewer than 8 bytes remain; or the record at X
///     claims a length that runs past the end of the file; or the 8-byte word at X (crc and
///     length) is all zeros; or one of the 512-byte sectors (aligned to the file's start)
///     overlapping the record's claimed extent is all zeros, or if the length is unusable,
///     the sector holding X is. A crash leaves a write partly on disk in whole sectors and
///     the rest as zeros or beyond the end of the file; a flipped bit in written bytes
///     leaves none of these signs.
///
/// (b) No valid record after X belongs to another write than the one that carries lsn
///     n+1. Every 8-aligned offset after X is tried; each record found there whose length
///     is usable, that fits in the file and whose checksum matches must have an lsn above n
///     and a batch that holds n+1: it starts at n+1, or, when the last valid record's own
///     write goes on past n, it is that same write (same first and last lsn). A write
///     starts only once the one before it is synced, so a valid record of a later write
///     proves the write at X was synced: its damage is corruption, not a tear.
///
/// A start of n+1 is accepted even when the last valid record's write goes on past n:
/// after a crash cut that write short and recovery kept its first records, the writer
/// continues the file with a new write starting at n+1.
///
/// Part (a) can be met by written data (a payload with 512 zero bytes in a row); part (b)
/// still turns away any damage before the last write. Damage inside the last write whose
/// record has a zero sector is taken for a tear; that write is then lost, as if the crash
/// had come before its sync.
enum TornTailRule {
    /// The ending of a log whose record at `x` could not be read (`problem`), after the
    /// valid record (or log header) `lastValid`.
    static func ending(
        _ bytes: UnsafeRawBufferPointer, at x: Int, lastValid: RecordHeader, problem: FramingProblem
    ) -> LogEnding {
        guard looksUnwritten(bytes, at: x) else {
            return .damaged(
                offset: x,
                reason: "\(problem); not a torn write: the bytes there were written (no zero-filled sector)")
        }
        if let later = recordOfAnotherWrite(bytes, after: x, lastValid: lastValid) {
            return .damaged(
                offset: x,
                reason: "\(problem); not a torn write: a valid record of a later write follows "
                    + "(lsn \(later.header.lsn), write \(later.header.batchFirst)...\(later.header.batchLast), "
                    + "at byte \(later.offset))")
        }
        return .tornTail(offset: x)
    }

    /// Part (a).
    static func looksUnwritten(_ bytes: UnsafeRawBufferPointer, at x: Int) -> Bool {
        guard bytes.count - x >= 8 else { return true }
        if bytes.littleEndianUInt64(at: x) == 0 { return true }
        let length = Int(bytes.littleEndianUInt32(at: x + RecordLayout.lengthOffset))
        guard length >= 1, length <= RecordLayout.maxPayloadLength else {
            return ZeroBytes.anySectorZero(bytes, overlapping: x..<x + 1)
        }
        let end = x + RecordLayout.recordSize(payloadLength: length)
        if end > bytes.count { return true }
        return ZeroBytes.anySectorZero(bytes, overlapping: x..<end)
    }

    /// Part (b): the first valid record after `x` that belongs to another write, if any.
    static func recordOfAnotherWrite(
        _ bytes: UnsafeRawBufferPointer, after x: Int, lastValid: RecordHeader
    ) -> FramedRecord? {
        let n = lastValid.lsn
        var offset = x + RecordLayout.alignment
        while let header = RecordHeader(bytes, at: offset) {
            // Cheap tests first: most offsets inside damaged or zeroed bytes fail them, so
            // the checksum is computed for few of them. A record with misordered batch
            // fields was never written by any writer, so skipping it loses no evidence.
            guard header.hasUsableLength,
                offset + RecordLayout.headerSize + header.payloadLength <= bytes.count,
                header.hasOrderedBatch,
                FramedRecord.checksum(bytes, at: offset, header) == header.crc
            else {
                offset += RecordLayout.alignment
                continue
            }
            let record = FramedRecord(
                offset: offset, header: header,
                end: offset + RecordLayout.recordSize(payloadLength: header.payloadLength))
            // `header.lsn > n` first: it makes `n + 1` safe to compute.
            guard header.lsn > n else { return record }
            let continuesLastWrite =
                lastValid.batchLast > n && header.batchFirst == lastValid.batchFirst
                && header.batchLast == lastValid.batchLast
            let startsAtNext = header.batchFirst == n + 1
            guard header.batchLast >= n + 1, continuesLastWrite || startsAtNext else { return record }
            // Part of the write that was cut: go on after it.
            offset = record.end
        }
        return nil
    }

    /// Whether damage at `x`, after the record with lsn `n`, in a log written under
    /// `everysec` or `no` by a run that a reboot (or a failed sync) followed, may be that
    /// run's unsynced writes lost: the bytes at `x` look unwritten (part (a): lost pages
    /// read as zeros or lie past the end of the file; written bytes that fail their
    /// checksum are corruption), and no later process's start record follows. A process
    /// syncs the log before its start record and that record before anything else, so a
    /// valid start record after `x` proves the bytes at `x` were synced, and every write
    /// after it may be a synced, acknowledged one.
    static func mayBeLostUnsyncedWrites(_ bytes: UnsafeRawBufferPointer, at x: Int, after n: UInt64) -> Bool {
        looksUnwritten(bytes, at: x) && laterStart(bytes, after: x, above: n) == nil
    }

    /// The first valid start record after `x` with an lsn above `n`, if any.
    static func laterStart(_ bytes: UnsafeRawBufferPointer, after x: Int, above n: UInt64) -> FramedRecord? {
        var offset = x + RecordLayout.alignment
        while let header = RecordHeader(bytes, at: offset) {
            defer { offset += RecordLayout.alignment }
            guard header.hasUsableLength, header.lsn > n,
                offset + RecordLayout.headerSize + header.payloadLength <= bytes.count,
                FramedRecord.checksum(bytes, at: offset, header) == header.crc
            else { continue }
            let record = FramedRecord(
                offset: offset, header: header,
                end: offset + RecordLayout.recordSize(payloadLength: header.payloadLength))
            var reader = record.payloadReader(bytes)
            do throws(ProtocolError) {
                guard try reader.payloadType() == .serverStart else { continue }
                _ = try reader.serverStart()
                try reader.expectEnd()
                return record
            } catch {
                continue
            }
        }
        return nil
    }
}
