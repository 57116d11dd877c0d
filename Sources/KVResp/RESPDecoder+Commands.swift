import KVProtocol
import NIOCore

extension RESPDecoder {
    /// The next complete command in `buffer`, consuming its bytes; nil when more bytes are
    /// needed. The commands of a benchmark's and most applications' load (GET, SET without
    /// options, DEL of one key, sent as arrays) are recognised on the read buffer's bytes
    /// and become their request with each key and value copied once; every other command
    /// takes `decodeCommand` and `RESPCommand(arguments:context:)`, which read the hot
    /// commands the same way (RESPHotCommandTests compares both).
    mutating func nextCommand(from buffer: inout ByteBuffer, context: CommandContext) throws -> RESPCommand? {
        if !isMidCommand, let command = hotCommand(from: &buffer) { return command }
        guard let arguments = try decodeCommand(from: &buffer) else { return nil }
        return RESPCommand(arguments: arguments, context: context)
    }

    /// A whole GET, SET or DEL array at the reader index, consumed; nil (nothing consumed)
    /// for anything else, an incomplete command or one over the bounds, which the general
    /// path then reads, waits for or refuses.
    func hotCommand(from buffer: inout ByteBuffer) -> RESPCommand? {
        let bounds = bounds
        let found: (command: RESPCommand, size: Int)? = buffer.withUnsafeReadableBytes { bytes in
            var reader = HotCommandReader(bytes: bytes)
            guard reader.skip(UInt8(ascii: "*")), let count = reader.lengthLine(), count == 2 || count == 3,
                reader.skip(UInt8(ascii: "$")), reader.lengthLine() == 3, let name = reader.name(), reader.lineEnd()
            else { return nil }
            var sizeSoFar = 3
            guard let key = reader.bulk(bounds: bounds, sizeSoFar: &sizeSoFar) else { return nil }
            let command: RESPCommand
            switch (name, count) {
            case (HotCommandReader.get, 2):
                command = .data(.plain(.get(Bytes(UnsafeRawBufferPointer(rebasing: key)))))
            case (HotCommandReader.del, 2):
                command = .data(.plain(.delete(Bytes(UnsafeRawBufferPointer(rebasing: key)))))
            case (HotCommandReader.set, 3):
                guard let value = reader.bulk(bounds: bounds, sizeSoFar: &sizeSoFar) else { return nil }
                command = .data(
                    .plain(
                        .set(
                            Bytes(UnsafeRawBufferPointer(rebasing: key)), Bytes(UnsafeRawBufferPointer(rebasing: value))
                        )))
            default:
                return nil
            }
            return (command, reader.offset)
        }
        guard let found else { return nil }
        buffer.moveReaderIndex(forwardBy: found.size)
        return found.command
    }
}
