import KVProtocol
import ServerCore

/// The payload fields of each record type, in KVProtocol's wire encoding (big-endian
/// integers, u16-length strings, u32-length blobs): the same bytes a forward or a
/// transfer carries, so there is one encoding of an update, not two.
extension WireOutput {
    mutating func append(_ record: LogRecord) {
        switch record {
        case .start(let start):
            u8(PayloadType.serverStart.rawValue)
            append(start)
        case .record(.update(let update)):
            u8(PayloadType.update.rawValue)
            append(update)
        case .record(.claim(let claim)):
            u8(PayloadType.claim.rawValue)
            append(claim)
        }
    }

    mutating func append(_ claim: StateClaim) {
        // WireWriter would cut a longer string short, and the record would not read back
        // as what was claimed.
        precondition(
            claim.primary.utf8.count <= UInt16.max && claim.backup.utf8.count <= UInt16.max,
            "an address longer than a string field can hold")
        u8(claim.role.rawValue)
        u64(claim.viewnum)
        string(claim.primary)
        string(claim.backup)
        u64(claim.cluster)
    }

    mutating func append(_ start: ServerStart) {
        u64(start.incarnation)
        raw(start.bootID)
        u8(start.policy.rawValue)
    }

    mutating func append(_ entry: DuplicateEntry) {
        u64(entry.clientID)
        u64(entry.seq)
        append(entry.reply)
    }

    /// A has-flag byte, then the fields if present.
    mutating func appendOptional<Value>(_ value: Value?, _ appendFields: (inout Self, Value) -> Void) {
        guard let value else { return u8(0) }
        u8(1)
        appendFields(&self, value)
    }
}

/// About how many payload bytes a record takes, to reserve before encoding it.
extension LogRecord {
    var payloadSizeEstimate: Int {
        switch self {
        case .start: 1 + 8 + ServerStart.bootIDSize + 1
        case .record(.update(let update)): 1 + update.encodedSize
        case .record(.claim(let claim)): 1 + 1 + 8 + 2 + claim.primary.utf8.count + 2 + claim.backup.utf8.count + 8
        }
    }
}
