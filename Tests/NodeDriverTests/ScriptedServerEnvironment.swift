import KVProtocol
import NodeDriver
import ServerCore

/// A `ServerEnvironment` the test drives by hand: sends wait in `sent` until the test
/// answers them, the tick runs when the test says, and nothing happens meanwhile.
final class ScriptedServerEnvironment: ServerEnvironment {
    typealias Requester = Int

    final class Timer: DriverTimer {
        let action: () -> Void
        private(set) var cancelled = false

        init(_ action: @escaping () -> Void) {
            self.action = action
        }

        func cancel() { cancelled = true }
    }

    struct Sent {
        let message: Message
        let peer: Peer
        let completion: (Result<Message, PeerFailure>) -> Void
    }

    var now: UInt64 = 0
    var wallClockMillis: UInt64 = 1_767_225_600_000
    var leaseClock: UInt64 { now }
    /// Requests sent and not answered yet, oldest first.
    private(set) var sent: [Sent] = []
    private var ticker: Timer?

    func send(
        _ message: Message, to peer: Peer, timeout: UInt64, completion: @escaping (Result<Message, PeerFailure>) -> Void
    ) {
        sent.append(Sent(message: message, peer: peer, completion: completion))
    }

    /// Answers given, oldest first.
    private(set) var responses: [(requester: Int, message: Message)] = []
    /// Requesters told that no answer will come, in that order.
    private(set) var abandoned: [Int] = []
    /// Called with each answer, from inside the driver's effects (as the daemon's
    /// Redis-protocol endpoint is).
    var onRespond: ((Int, Message) -> Void)?

    func respond(to requester: Int, with message: Message) {
        responses.append((requester, message))
        onRespond?(requester, message)
    }

    func abandon(_ requester: Int) {
        abandoned.append(requester)
    }

    func schedule(after delay: UInt64, _ action: @escaping () -> Void) -> Timer {
        Timer(action)
    }

    func scheduleRepeated(initialDelay: UInt64, every interval: UInt64, _ action: @escaping () -> Void) -> Timer {
        let timer = Timer(action)
        ticker = timer
        return timer
    }

    func log(_ notice: ServerNotice, durationNanos: UInt64?) {}

    func statusChanged(_ core: ServerCore) {}

    func ticked(_ core: ServerCore) {}

    /// Runs the driver's tick.
    func tick() {
        guard let ticker, !ticker.cancelled else { return }
        ticker.action()
    }

    /// The monitors pinged and not answered yet, oldest first.
    var pendingPings: [String] {
        sent.compactMap { request in
            guard case .ping = request.message, case .monitor(let address) = request.peer else { return nil }
            return address
        }
    }

    /// Answers the oldest unanswered ping (nil: no answer in time) and returns the
    /// monitor it went to.
    @discardableResult
    func answerPing(_ answer: Message?) -> String? {
        completePing(answer.map { .success($0) } ?? .failure(.noAnswer("timed out")))
    }

    /// Fails the oldest unanswered ping as the transport does, and returns the monitor it
    /// went to.
    @discardableResult
    func failPing(_ failure: PeerFailure) -> String? {
        completePing(.failure(failure))
    }

    private func completePing(_ answer: Result<Message, PeerFailure>) -> String? {
        guard
            let position = sent.firstIndex(where: { request in
                if case .ping = request.message { return true }
                return false
            })
        else { return nil }
        let request = sent.remove(at: position)
        request.completion(answer)
        guard case .monitor(let address) = request.peer else { return nil }
        return address
    }
}
