import KVProtocol
import ServerCore

/// Reads what `PayloadEncoding` writes. Lengths are bounded by the record that holds
/// them, not by the protocol's limits: a record written under one build's limits must read
/// back under another's.
extension WireReader {
    static let maxBlobSize = RecordLayout.maxPayloadLength
    static let maxStringSize = Int(UInt16.max)

    mutating func stateClaim() throws(ProtocolError) -> StateClaim {
        let rawRole = try u8("claim role")
        guard let role = StateClaim.Role(rawValue: rawRole) else {
            throw ProtocolError(.malformedFrame, "unknown claim role \(rawRole)")
        }
        let viewnum = try u64("claim viewnum")
        let primary = try string("claim primary", max: Self.maxStringSize)
        let backup = try string("claim backup", max: Self.maxStringSize)
        let cluster = try u64("claim cluster")
        return StateClaim(role: role, viewnum: viewnum, primary: primary, backup: backup, cluster: cluster)
    }

    mutating func serverStart() throws(ProtocolError) -> ServerStart {
        let incarnation = try u64("incarnation")
        let bootID = try raw(ServerStart.bootIDSize, "boot id")
        let rawPolicy = try u8("fsync policy")
        guard let policy = FsyncPolicy(rawValue: rawPolicy) else {
            throw ProtocolError(.malformedFrame, "unknown fsync policy \(rawPolicy)")
        }
        return ServerStart(incarnation: incarnation, bootID: bootID, policy: policy)
    }

    mutating func duplicateEntry() throws(ProtocolError) -> DuplicateEntry {
        let clientID = try u64("client id")
        let seq = try u64("sequence number")
        return DuplicateEntry(clientID: clientID, seq: seq, reply: try clientReply())
    }

    /// A has-flag byte, then the fields if it is 1.
    mutating func optional<Value>(
        _ what: StaticString, _ readFields: (inout WireReader) throws(ProtocolError) -> Value
    ) throws(ProtocolError) -> Value? {
        try bool(what) ? try readFields(&self) : nil
    }

    /// The payload's type byte, known or not.
    mutating func payloadType() throws(ProtocolError) -> PayloadType {
        let byte = try u8("payload type")
        guard let type = PayloadType(rawValue: byte) else {
            throw ProtocolError(.malformedFrame, "unknown payload type \(PayloadType.describe(byte))")
        }
        return type
    }
}
