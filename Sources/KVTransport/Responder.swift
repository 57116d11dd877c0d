import KVProtocol
import NIOCore

/// Answers one request on the connection it came from, with the request's id.
public struct Responder: Sendable {
    let channel: any Channel
    let requestID: UInt64
    let dropReply: Bool
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
        if dropReply {
            // Fault injection: processed, but the reply is lost with the connection.
            channel.close(promise: nil)
            return
        }
        if case .error = message {
            // Fix: an error frame ends the connection (the protocol's rule, DESIGN §5). The
            // nodes answer a message they do not take (a ping sent to a server, a data
            // request sent to the monitor) with an error through here, and the connection
            // used to stay open; now it is closed once the frame is written, as the
            // transport's ProtocolErrorHandler does for undecodable input.
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
