import NIOConcurrencyHelpers

/// Set once the load should stop: its duration is over or the process got SIGTERM or
/// SIGINT. Sessions look at it between operations, so an operation in flight finishes
/// (or times out) and is recorded.
final class StopFlag: Sendable {
    private let isSetBox = NIOLockedValueBox(false)

    var isSet: Bool { isSetBox.withLockedValue { $0 } }

    func set() { isSetBox.withLockedValue { $0 = true } }
}
