import KVProtocol

/// A 0.1 primary's forward and transfer, byte by byte as 0.1 wrote them (docs/PROTOCOL.md,
/// "Upgrading from 0.1"): a set of "k" to "v" by client 7, a delete of "gone", and a
/// chunk holding "k" = "v".
enum LegacyFrames {
    static var forward: [UInt8] {
        var w = WireWriter()
        w.u8(MessageType.forwardV1.rawValue)
        w.u64(5)
        w.u64(3)
        w.string("p:1")
        w.u64(2)
        w.u64(1)
        w.u32(2)
        w.u8(1)
        w.blob(Bytes(utf8: "k"))
        w.blob(Bytes(utf8: "v"))
        w.u64(7)
        w.u64(1)
        w.u8(0)
        w.blob([])
        w.u8(2)
        w.blob(Bytes(utf8: "gone"))
        w.blob([])
        w.u64(7)
        w.u64(2)
        w.u8(1)
        w.blob([])
        return w.bytes
    }

    static var transfer: [UInt8] {
        var w = WireWriter()
        w.u8(MessageType.transferV1.rawValue)
        w.u64(6)
        w.u64(3)
        w.string("p:1")
        w.u64(2)
        w.u32(0)
        w.bool(true)
        w.u32(1)
        w.blob(Bytes(utf8: "k"))
        w.blob(Bytes(utf8: "v"))
        w.u32(1)
        w.u64(7)
        w.u64(2)
        w.u8(1)
        w.blob([])
        return w.bytes
    }
}
