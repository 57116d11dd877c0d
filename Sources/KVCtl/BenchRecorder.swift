import Histogram
import KVClient
import NIOConcurrencyHelpers
import NIOCore

/// Why a benchmark operation failed, as reported by `kvctl bench`.
enum BenchErrorKind: String, CaseIterable, Sendable {
    /// No answer before the per-operation timeout (`--timeout`).
    case timeout
    case invalid
    case staleRequest = "stale_request"
    case other

    init(_ error: any Error) {
        switch error as? KVClientError {
        case .timedOut: self = .timeout
        case .invalid: self = .invalid
        case .staleRequest: self = .staleRequest
        default: self = .other
        }
    }
}

/// Collects the sessions' latencies (one HdrHistogram per operation, in microseconds),
/// get misses and errors. One lock for all sessions: recording is a few nanoseconds
/// against a network round trip, and per-session histograms would cost over 100 KiB each.
final class BenchRecorder: Sendable {
    struct Tally: Sendable {
        var latencies: [BenchOperation: Histogram<UInt64>]
        var getMisses: UInt64 = 0
        var errors: [BenchErrorKind: UInt64] = [:]
        /// The first error of each kind, to say what went wrong.
        var firstError: [BenchErrorKind: String] = [:]
    }

    private let tally: NIOLockedValueBox<Tally>

    init() {
        var latencies: [BenchOperation: Histogram<UInt64>] = [:]
        for operation in BenchOperation.allCases {
            // 1 µs to 1 min at 3 significant digits; longer values grow the histogram.
            var histogram = Histogram<UInt64>(
                lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
            histogram.autoResize = true
            latencies[operation] = histogram
        }
        tally = NIOLockedValueBox(Tally(latencies: latencies))
    }

    func record(_ operation: BenchOperation, latency: TimeAmount, missed: Bool) {
        let micros = UInt64(max(1, (latency.nanoseconds + 500) / 1000))
        tally.withLockedValue { tally in
            _ = tally.latencies[operation]?.record(micros)
            if missed { tally.getMisses += 1 }
        }
    }

    func fail(_ error: any Error) {
        let kind = BenchErrorKind(error)
        tally.withLockedValue { tally in
            tally.errors[kind, default: 0] += 1
            if tally.firstError[kind] == nil { tally.firstError[kind] = "\(error)" }
        }
    }

    var snapshot: Tally { tally.withLockedValue { $0 } }
}
