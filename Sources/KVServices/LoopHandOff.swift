import NIOCore

/// Items made on one event loop and used on another, handed over in batches: every item
/// appended during one turn of `source` crosses to `target` in one task, so a busy loop
/// pays one hop between threads (one task, at most one wake-up) per turn, not one per item
/// (docs/DESIGN.md §7.3). Items keep their order.
///
/// Confined: `append` on `source` only, `deliver` runs on `target` only. That is what makes
/// the unchecked `Sendable` sound; the items themselves cross in a box, owned by one loop
/// at a time.
public final class LoopHandOff<Item>: @unchecked Sendable {
    public let source: any EventLoop
    public let target: any EventLoop
    private let deliver: ([Item]) -> Void
    /// Appended during this turn of `source`, not handed over yet.
    private var gathered: [Item] = []
    private var handOffScheduled = false
    /// Items appended, and the hops that carried them (on `source`).
    public private(set) var items = 0
    public private(set) var hops = 0

    /// - Parameter deliver: called on `target` with each batch, in the order appended.
    public init(from source: any EventLoop, to target: any EventLoop, deliver: @escaping ([Item]) -> Void) {
        self.source = source
        self.target = target
        self.deliver = deliver
    }

    /// On `source`: `item` goes over with the others of this turn.
    public func append(_ item: Item) {
        gathered.append(item)
        items += 1
        guard !handOffScheduled else { return }
        handOffScheduled = true
        // After what this turn has read: the task runs once the loop's current work is done.
        source.assumeIsolatedUnsafeUnchecked().execute { self.handOff() }
    }

    private func handOff() {
        handOffScheduled = false
        guard !gathered.isEmpty else { return }
        let batch = Batch(items: gathered)
        gathered = []
        gathered.reserveCapacity(batch.items.count)
        hops += 1
        target.execute { self.deliver(batch.items) }
    }

    /// One turn's items, owned by the loop that holds the box.
    private struct Batch: @unchecked Sendable {
        let items: [Item]
    }
}
