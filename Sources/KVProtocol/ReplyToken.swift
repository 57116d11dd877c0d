/// Names an answer a core owes: the core takes it with a request and hands it back with
/// the answer; the driver maps it to where the answer goes (a connection and request id,
/// a caller waiting in-process, a simulated exchange).
public struct ReplyToken: Hashable, Sendable, CustomStringConvertible {
    public var raw: UInt64
    public init(_ raw: UInt64) { self.raw = raw }
    public var description: String { "#\(raw)" }
}
