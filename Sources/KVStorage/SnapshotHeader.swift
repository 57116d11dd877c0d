import KVProtocol

/// The first record of a snapshot: what it is the state of, and how many entries follow.
struct SnapshotHeader: Equatable, Sendable {
    var generation: UInt64
    var lsn: UInt64
    var claim: StateClaim?
    var start: ServerStart?
    var keyCount: UInt64
    var duplicateCount: UInt64

    func encode(into writer: inout WireWriter) {
        writer.u8(PayloadType.snapshotHeader.rawValue)
        writer.u16(FormatVersion.current)
        writer.u64(generation)
        writer.u64(lsn)
        writer.appendOptional(claim) { $0.append($1) }
        writer.appendOptional(start) { $0.append($1) }
        writer.u64(keyCount)
        writer.u64(duplicateCount)
    }

    /// The fields after the type byte.
    static func decode(_ reader: inout WireReader) throws(ProtocolError) -> SnapshotHeader {
        let version = try reader.u16("format version")
        guard version == FormatVersion.current else {
            throw ProtocolError(.malformedFrame, "unknown format version \(version)")
        }
        let generation = try reader.u64("generation")
        let lsn = try reader.u64("lsn")
        let claim = try reader.optional("has claim") { (reader) throws(ProtocolError) in try reader.stateClaim() }
        let start = try reader.optional("has start") { (reader) throws(ProtocolError) in try reader.serverStart() }
        let keyCount = try reader.u64("key count")
        let duplicateCount = try reader.u64("duplicate count")
        try reader.expectEnd()
        return SnapshotHeader(
            generation: generation, lsn: lsn, claim: claim, start: start, keyCount: keyCount,
            duplicateCount: duplicateCount)
    }
}
