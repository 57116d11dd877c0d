import KVCheck
import KVClient
import KVProtocol
import NIOConcurrencyHelpers
import NIOCore

/// The history every session records into, and the tally of outcomes, behind one lock.
///
/// Times are `NIODeadline.now()` nanoseconds: one monotonic clock for all sessions of
/// this process, which is all the checker needs. An operation's invocation is taken
/// before its request leaves and its return after the answer arrives, so the recorded
/// interval always contains the real one.
final class SharedHistory: Sendable {
    private struct Contents {
        var recorder = HistoryRecorder()
        var tally = RunTally()
    }

    private let contents = NIOLockedValueBox(Contents())

    static func now() -> UInt64 { NIODeadline.now().uptimeNanoseconds }

    func invoke(session: UInt64, key: Bytes, _ call: Call) -> HistoryRecorder.Ticket {
        let time = Self.now()
        return contents.withLockedValue { $0.recorder.invoke(client: session, key: key, call, at: time) }
    }

    func complete(_ ticket: HistoryRecorder.Ticket, _ call: Call, _ response: Response, isFinalRead: Bool = false) {
        let time = Self.now()
        contents.withLockedValue { contents in
            contents.recorder.complete(ticket, response, at: time)
            Self.count(&contents.tally, call, isFinalRead) { $0.ok += 1 }
        }
    }

    /// The operation got no definite answer. A timeout leaves it in the history as an
    /// unknown outcome (it may have taken effect); so does any other error, which is
    /// also counted as unexpected because the service should never give it.
    func abandon(_ ticket: HistoryRecorder.Ticket, _ call: Call, _ error: any Error, isFinalRead: Bool = false) {
        contents.withLockedValue { contents in
            if case .timedOut = error as? KVClientError {
                Self.count(&contents.tally, call, isFinalRead) { $0.unknown += 1 }
            } else {
                Self.count(&contents.tally, call, isFinalRead) { $0.unexpected += 1 }
                contents.tally.unexpectedErrors["\(error)", default: 0] += 1
            }
        }
    }

    var operations: [HistoryOperation] { contents.withLockedValue { $0.recorder.operations } }

    var tally: RunTally { contents.withLockedValue { $0.tally } }

    private static func count(
        _ tally: inout RunTally, _ call: Call, _ isFinalRead: Bool, _ change: (inout RunTally.Counts) -> Void
    ) {
        if isFinalRead {
            change(&tally.finalReads)
        } else {
            change(&tally.byKind[ChaosWorkload.Kind(call), default: RunTally.Counts()])
        }
    }
}
