import KVProtocol
import NIOConcurrencyHelpers

/// Test-only faults, applied by the transport (never enabled by the daemons' flags).
///
/// - unreliable: like the original course's unreliable RPC, about 10% of incoming
///   requests are dropped unprocessed and the reply of about 18% more is dropped after
///   processing; "dropped" closes the connection, as the original closed its socket.
/// - blocked peers: outgoing connections to these addresses fail, and those open are
///   closed — a partition seen from this side.
public final class FaultInjector: Sendable {
    public enum RequestFate: Sendable {
        case deliver
        case dropRequest
        case dropReply
    }

    private struct State {
        var unreliable = false
        var blocked: Set<String> = []
        var random = SplitMix64(seed: 0x6B76_7365_7276_6963)
    }

    private let state = NIOLockedValueBox(State())

    public init(seed: UInt64 = 0x6B76_7365_7276_6963) {
        state.withLockedValue { $0.random = SplitMix64(seed: seed) }
    }

    public var unreliable: Bool {
        get { state.withLockedValue { $0.unreliable } }
        set { state.withLockedValue { $0.unreliable = newValue } }
    }

    public func block(_ address: String) { state.withLockedValue { _ = $0.blocked.insert(address) } }
    public func unblock(_ address: String) { state.withLockedValue { _ = $0.blocked.remove(address) } }
    public func unblockAll() { state.withLockedValue { $0.blocked.removeAll() } }
    public func isBlocked(_ address: String) -> Bool { state.withLockedValue { $0.blocked.contains(address) } }

    /// Decides what happens to one incoming request.
    public func fateOfRequest() -> RequestFate {
        state.withLockedValue { state in
            guard state.unreliable else { return .deliver }
            let draw = state.random.next() % 1000
            if draw < 100 { return .dropRequest }
            if draw < 280 { return .dropReply }
            return .deliver
        }
    }
}
