import NIOCore

/// A connection's requests handed to the node and not yet answered.
///
/// Reading stops at `limit` and resumes as answers go out, so one connection can hold at
/// most `limit` requests and their replies inside the daemon, however fast it sends: a
/// client that pipelines without reading is slowed down by TCP instead of being
/// buffered for. Touched only on the connection's event loop.
final class InFlightLimit: @unchecked Sendable {
    let limit: Int
    private(set) var count = 0
    /// Called when a slot frees up while reading was held.
    var onSlotFreed: (() -> Void)?

    init(limit: Int) {
        self.limit = limit
    }

    var isFull: Bool { count >= limit }

    func started() { count += 1 }

    func finished() {
        count -= 1
        if count == limit - 1 { onSlotFreed?() }
    }
}
