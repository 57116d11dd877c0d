import KVProtocol
import NIOCore

extension RESPDecoder {
    /// The next complete command in `buffer`, consuming its bytes; nil when more bytes are
    /// needed.
    mutating func nextCommand(from buffer: inout ByteBuffer, context: CommandContext) throws -> RESPCommand? {
        guard let arguments = try decodeCommand(from: &buffer) else { return nil }
        return RESPCommand(arguments: arguments, context: context)
    }
}
