import KVProtocol

/// Where the monitor keeps its view so that a restarted monitor continues it.
///
/// `save` must be durable when it returns: the monitor hands out a new view only after
/// the store has it, because a monitor that forgot its view would let an empty server
/// become primary of a fresh view 1.
public protocol ViewStore: AnyObject {
    func save(_ view: View) throws
}

/// A store for tests and for a monitor run without a state directory.
public final class InMemoryViewStore: ViewStore {
    public private(set) var saved: [View] = []
    /// When set, `save` throws it (to test a full disk).
    public var failure: (any Error)?

    public init() {}

    public var last: View? { saved.last }

    public func save(_ view: View) throws {
        if let failure { throw failure }
        saved.append(view)
    }
}
