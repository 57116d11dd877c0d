import KVProtocol
import NIOCore

/// The way between one I/O loop, where Redis-protocol connections read their commands and
/// write their replies, and the node's loop, where the core runs (`kv-server --io-threads`,
/// docs/DESIGN.md §7.3). Both directions batch: the requests submitted during one turn of
/// the I/O loop reach the core in one task, and the replies the core makes during one turn
/// of its loop for this I/O loop's connections go back in one task.
final class IOLoopRelay: @unchecked Sendable {
    struct Submission {
        var request: ClientRequest
        var slot: UInt64
        var sink: any ClientReplySink
    }

    struct Answer {
        /// nil: abandoned (the node has stopped).
        var reply: ClientReply?
        var slot: UInt64
        var sink: any ClientReplySink
    }

    let ioLoop: any EventLoop
    /// Appended to on `ioLoop`, delivered on the node's loop.
    private(set) var toCore: LoopHandOff<Submission>!
    /// Appended to on the node's loop, delivered on `ioLoop`.
    private(set) var toIO: LoopHandOff<Answer>!

    /// - Parameter receive: on the node's loop, each request of a batch in turn, with the
    ///   relay to answer it through.
    init(ioLoop: any EventLoop, coreLoop: any EventLoop, receive: @escaping (Submission, IOLoopRelay) -> Void) {
        self.ioLoop = ioLoop
        toCore = LoopHandOff(from: ioLoop, to: coreLoop) { [unowned self] batch in
            for submission in batch { receive(submission, self) }
        }
        toIO = LoopHandOff(from: coreLoop, to: ioLoop) { batch in
            for answer in batch {
                if let reply = answer.reply {
                    answer.sink.deliver(reply, slot: answer.slot)
                } else {
                    answer.sink.abandon(slot: answer.slot)
                }
            }
        }
    }

    /// On the node's loop: the reply (nil: none will come) goes back with the others of this turn.
    func answer(_ reply: ClientReply?, slot: UInt64, to sink: any ClientReplySink) {
        toIO.append(Answer(reply: reply, slot: slot, sink: sink))
    }
}
