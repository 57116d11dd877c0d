import KVProtocol
import NIOCore

/// Where an in-process front end takes the replies to the requests it submits to a
/// `ServerNode` (`submit(_:slot:to:)`): one object per connection, registered with every
/// request together with a number the front end chose (its reply slot), so that a reply
/// costs one direct call instead of a closure, a task or a promise per request.
///
/// Confined to `eventLoop`: the node calls it there only. When that is the node's own
/// loop, it calls it from inside its effects (`ServerDriver`), and a request the sink
/// submits from there waits for them to be carried out.
public protocol ClientReplySink: AnyObject {
    /// The loop the sink lives on.
    var eventLoop: any EventLoop { get }

    /// The server's reply to the request submitted under `slot`.
    func deliver(_ reply: ClientReply, slot: UInt64)

    /// The request submitted under `slot` will get no reply: the server has stopped
    /// (`ServerNode.StoppedError`).
    func abandon(slot: UInt64)
}
