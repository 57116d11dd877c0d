import ArgumentParser
import KVClient
import KVProtocol
import NIOCore

/// An admin request that makes a new view (`switchover`, `revive`): asked of the monitor
/// as a compare-and-swap on the current view until it is done or refused, then, unless
/// told not to, waited on until the new view is acknowledged.
enum ViewChangeRequest {
    /// Asks (`ask` gets the current view) every 100 ms while the monitor says "retry
    /// later". Returns the view changed from and the view made; exits 1 on a refusal and
    /// 2 at the deadline. `check` may refuse a current view first (exit 1).
    static func carryOut(
        _ what: String, _ client: KVClient, deadline: NIODeadline, check: (View) throws -> Void = { _ in },
        ask: (View) async throws -> SwitchoverReply
    ) async throws -> (from: View, to: View) {
        var lastReason = "no answer"
        while NIODeadline.now() < deadline {
            let current = try await client.view(deadline: deadline)
            try check(current)
            let answer = try await ask(current)
            switch answer.status {
            case .done:
                return (current, answer.view)
            case .retryLater:
                lastReason = answer.reason
            case .refused:
                // (A retry of a request that was done gets `done` again from the monitor.)
                Output.error("\(what) refused: \(answer.reason)")
                throw ExitCode.failure
            }
            try await Task.sleep(nanoseconds: 100_000_000)
        }
        Output.error("\(what) not done before the timeout: \(lastReason)")
        throw ExitCode(ExitStatus.timedOut)
    }

    /// Waits until the primary of `view` has acknowledged it (or a later view is
    /// acknowledged), that is until its backup holds the whole state. Exits 2 with `hint`
    /// at the deadline.
    static func acknowledgement(of view: View, _ client: KVClient, deadline: NIODeadline, hint: String = "")
        async throws -> View
    {
        while NIODeadline.now() < deadline {
            let current = try await client.view(deadline: deadline)
            if current.viewnum >= view.viewnum && current.acked { return current }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        Output.error("view \(view.viewnum) made, but not acknowledged before the timeout\(hint)")
        throw ExitCode(ExitStatus.timedOut)
    }
}
