import KVProtocol
import NIOCore

/// Answers one request on the connection it came from, with the request's id.
public struct Responder: Sendable {
    let channel: any Channel
    let requestID: UInt64
    /// The connection's count of unanswered requests, which this answer lowers.
    let inFlight: InFlightLimit?

    public func respond(_ message: Message) {
        if let inFlight {
            if channel.eventLoop.inEventLoop {
                inFlight.finished()
            } else {
                channel.eventLoop.execute { inFlight.finished() }
            }
        }
        if case .error = message {
            // An error frame ends the connection (docs/DESIGN.md §5), once it is written:
            // the peer sent something this side cannot take, so nothing it sends after
            // can be trusted to be framed or meant as it looks.
            let channel = self.channel
            channel.writeAndFlush(Frame(requestID: requestID, message: message)).whenComplete { _ in
                channel.close(promise: nil)
            }
            return
        }
        channel.writeAndFlush(Frame(requestID: requestID, message: message), promise: nil)
    }

    /// Describes the peer, for logs.
    public var peer: String { channel.remoteAddress?.description ?? "?" }
}
