/// Reading what a 0.1 primary sends an upgraded backup: forwards of one set or delete,
/// without revisions or deadlines. Revision 0 asks the backup to number the update
/// itself, as the next revision (docs/PROTOCOL.md, "Upgrading from 0.1").
enum LegacyFormat {
    static func forwardedUpdate(_ r: inout WireReader) throws(ProtocolError) -> ForwardedUpdate {
        let effect = try r.u8("effect")
        let key = try r.blob("key", max: Limits.maxKeySize)
        let value = try r.blob("value", max: Limits.maxValueSize)
        let change: StoreChange
        switch effect {
        case 1: change = .put(key, StoredValue(value: value, revision: 0))
        case 2: change = .delete(key)
        default: throw ProtocolError(.malformedFrame, "unknown update effect")
        }
        return ForwardedUpdate(
            change: change, revision: 0, clientID: try r.u64("client id"), seq: try r.u64("sequence number"),
            reply: try r.clientReply())
    }
}
