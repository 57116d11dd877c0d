/// Input that is not a valid RESP2 request, or one beyond the decoder's bounds. The
/// connection answers `-ERR Protocol error: ...` and is closed, as Redis does.
public struct RESPProtocolError: Error, Equatable, Sendable, CustomStringConvertible {
    public var detail: String

    public init(_ detail: String) {
        self.detail = detail
    }

    public var description: String { "Protocol error: \(detail)" }
}
