/// Appends big-endian integers and length-prefixed fields to a byte array (the field
/// writers are `WireOutput`'s).
public struct WireWriter: WireOutput, Sendable {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public mutating func appendByte(_ byte: UInt8) { bytes.append(byte) }

    public mutating func appendBytes(_ raw: UnsafeRawBufferPointer) { bytes.append(contentsOf: raw) }
}
