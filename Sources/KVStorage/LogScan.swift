import KVProtocol

/// Reads a log file: its header, then its records in order, as far as they are valid,
/// and how the file ends after them (docs/STORAGE.md, "Log files", "Torn tail or damage").
public enum LogScan {
    /// A record is valid when its framing and checksum are intact, its lsn follows the one
    /// before, its batch fields fit the write it belongs to, and its payload decodes.
    public static func scan(_ bytes: [UInt8], generation: UInt64, expectedFirstLSN: UInt64) -> LogScanResult {
        precondition(expectedFirstLSN >= 1, "lsns start at 1")
        let fileName = DataFileName.log(generation: generation).fileName
        var result = LogScanResult(
            fileName: fileName, firstLSN: expectedFirstLSN, entries: [], validEnd: 0, ending: .clean)
        bytes.withUnsafeBytes { buffer in
            guard let header = readHeader(buffer, generation: generation, firstLSN: expectedFirstLSN, into: &result)
            else { return }
            readRecords(buffer, after: header, into: &result)
        }
        return result
    }

    /// The header record, or nil with the result marked damaged at byte 0. A torn header is
    /// damage too: a writer makes a log's header durable before a manifest names the log.
    private static func readHeader(
        _ buffer: UnsafeRawBufferPointer, generation: UInt64, firstLSN: UInt64, into result: inout LogScanResult
    ) -> FramedRecord? {
        func damaged(_ reason: String) -> FramedRecord? {
            result.ending = .damaged(offset: 0, reason: "log header: " + reason)
            return nil
        }
        let record: FramedRecord
        switch FramedRecord.read(buffer, at: 0) {
        case .failure(let problem): return damaged(problem.description)
        case .success(let read): record = read
        }
        var reader = record.payloadReader(buffer)
        do throws(ProtocolError) {
            guard try reader.payloadType() == .logHeader else { return damaged("not a log header record") }
            let version = try reader.u16("format version")
            guard version == FormatVersion.current else { return damaged("unknown format version \(version)") }
            let writtenGeneration = try reader.u64("generation")
            guard writtenGeneration == generation else {
                return damaged("generation \(writtenGeneration), the file name says \(generation)")
            }
            let writtenFirstLSN = try reader.u64("first lsn")
            guard writtenFirstLSN == firstLSN else {
                return damaged("first lsn \(writtenFirstLSN), the manifest says \(firstLSN)")
            }
            try reader.expectEnd()
        } catch {
            return damaged(error.detail)
        }
        let lsn = firstLSN - 1
        guard record.header.lsn == lsn, record.header.batchFirst == lsn, record.header.batchLast == lsn else {
            return damaged(
                "framed as lsn \(record.header.lsn) write \(record.header.batchFirst)...\(record.header.batchLast), "
                    + "not \(lsn)")
        }
        result.validEnd = record.end
        return record
    }

    private static func readRecords(
        _ buffer: UnsafeRawBufferPointer, after logHeader: FramedRecord, into result: inout LogScanResult
    ) {
        var previous = logHeader.header
        var offset = logHeader.end
        while offset < buffer.count {
            let record: FramedRecord
            switch FramedRecord.read(buffer, at: offset) {
            case .failure(let problem):
                result.ending = TornTailRule.ending(buffer, at: offset, lastValid: previous, problem: problem)
                return
            case .success(let read): record = read
            }
            // The record is intact as written, so whatever is wrong with it now is no tear.
            if let reason = sequenceProblem(record.header, after: previous) {
                result.ending = .damaged(offset: offset, reason: reason)
                return
            }
            var reader = record.payloadReader(buffer)
            do throws(ProtocolError) {
                result.entries.append(LogEntry(lsn: record.header.lsn, record: try logRecord(&reader)))
            } catch {
                result.ending = .damaged(
                    offset: offset,
                    reason: "record lsn \(record.header.lsn) does not decode: \(error.detail) "
                        + "(payload byte \(reader.index))")
                return
            }
            previous = record.header
            offset = record.end
            result.validEnd = offset
        }
    }

    /// Why `header` cannot follow `previous` in a log, if it cannot.
    static func sequenceProblem(_ header: RecordHeader, after previous: RecordHeader) -> String? {
        // Only said when something is wrong: built for every record, it was a twentieth of
        // a recovery's time.
        var batch: String { "write \(header.batchFirst)...\(header.batchLast)" }
        // Compared as `lsn - 1` so that no lsn read from a file can overflow the sum.
        guard header.lsn > 0, header.lsn - 1 == previous.lsn else {
            let kind = header.lsn > previous.lsn ? "a gap" : "a repeat"
            return "record lsn \(header.lsn) follows lsn \(previous.lsn) (\(kind))"
        }
        guard header.hasOrderedBatch else { return "record lsn \(header.lsn) lies outside its \(batch)" }
        let startsWrite = header.batchFirst == header.lsn
        let continuesWrite = header.batchFirst == previous.batchFirst && header.batchLast == previous.batchLast
        if previous.batchLast == previous.lsn {
            guard startsWrite else {
                return "record lsn \(header.lsn) (\(batch)) does not start a write after lsn \(previous.lsn) ended one"
            }
        } else {
            // A write that does not start here continues the previous record's. Starting a
            // new one is right too: recovery kept the first records of a write cut short
            // and the writer went on after them.
            guard startsWrite || continuesWrite else {
                return "record lsn \(header.lsn) (\(batch)) neither continues write "
                    + "\(previous.batchFirst)...\(previous.batchLast) nor starts one"
            }
        }
        return nil
    }

    private static func logRecord(_ reader: inout WireReader) throws(ProtocolError) -> LogRecord {
        let record: LogRecord
        switch try reader.payloadType() {
        case .serverStart: record = .start(try reader.serverStart())
        case .update: record = .record(.update(try reader.forwardedUpdate()))
        case .claim: record = .record(.claim(try reader.stateClaim()))
        case let other: throw ProtocolError(.malformedFrame, "a \(other) record has no place in a log")
        }
        try reader.expectEnd()
        return record
    }
}
