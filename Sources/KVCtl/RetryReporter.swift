import NIOConcurrencyHelpers
import NIOCore

/// Says on stderr why kvctl is still waiting ("monitor 127.0.0.1:7100: connection refused,
/// retrying"): a new reason at once, the same one again every few seconds, so a retry
/// every 100 ms does not flood the terminal.
final class RetryReporter: Sendable {
    static let repeatAfter = TimeAmount.seconds(5)

    private let print: @Sendable (String) -> Void
    private let now: @Sendable () -> NIODeadline
    private let last = NIOLockedValueBox<(problem: String, at: NIODeadline)?>(nil)

    init(now: @escaping @Sendable () -> NIODeadline = { .now() }, print: @escaping @Sendable (String) -> Void) {
        self.print = print
        self.now = now
    }

    func report(_ problem: String) {
        let time = now()
        let due = last.withLockedValue { last -> Bool in
            if let last, last.problem == problem, time - last.at < Self.repeatAfter { return false }
            last = (problem, time)
            return true
        }
        if due { print("\(problem), retrying") }
    }
}
