/// The first byte of every record's payload: which fields follow (docs/STORAGE.md,
/// "Payloads"). The values are part of the format.
enum PayloadType: UInt8, Sendable {
    case logHeader = 0x01
    case serverStart = 0x02
    case update = 0x10
    case claim = 0x11
    case snapshotHeader = 0x20
    case snapshotEntries = 0x21
    case snapshotDuplicates = 0x22
    case snapshotEnd = 0x23
    case manifest = 0x30

    /// For reasons: "unknown payload type 0x7f".
    static func describe(_ byte: UInt8) -> String {
        let hex = String(byte, radix: 16)
        return "0x" + (hex.count == 1 ? "0" : "") + hex
    }
}
