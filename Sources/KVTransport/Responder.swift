import KVProtocol
import NIOCore

/// Answers one request on the connection it came from, with the request's id.
public struct Responder: Sendable {
    let channel: any Channel
    let requestID: UInt64
    let dropReply: Bool

    public func respond(_ message: Message) {
        if dropReply {
            // Fault injection: processed, but the reply is lost with the connection.
            channel.close(promise: nil)
            return
        }
        channel.writeAndFlush(Frame(requestID: requestID, message: message), promise: nil)
    }

    /// Describes the peer, for logs.
    public var peer: String { channel.remoteAddress?.description ?? "?" }
}
