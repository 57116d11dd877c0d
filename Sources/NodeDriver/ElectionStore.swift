import KVProtocol
import MonitorCore

/// The store several monitors share (docs/DESIGN.md §2.10): etcd in the daemon, a
/// simulated etcd in the simulator. Every request completes exactly once, on the
/// driver's thread and never inside the call that made it; a failure is a message for
/// the log.
public protocol ElectionStore: AnyObject {
    /// Grants a lease, then in one transaction creates the leader key holding `address`
    /// on it if the key is absent, and reads the leader key and the view. A lost
    /// campaign's lease is revoked here.
    func campaign(
        address: String, leaseSeconds: Int64,
        completion: @escaping (Result<CampaignOutcome, ElectionStoreError>) -> Void)

    func read(completion: @escaping (Result<ControlPlaneSnapshot, ElectionStoreError>) -> Void)

    /// Watches the leader key and the view from `fromRevision`. `onEnd` is called once
    /// when the watch ends by itself; after `cancel()` nothing is called.
    func watch(
        fromRevision: Int64, onChanges: @escaping ([ControlPlaneChange], Int64) -> Void,
        onEnd: @escaping (ElectionStoreError) -> Void
    ) -> any ElectionStoreWatch

    /// Completes with false when the lease is gone.
    func keepAlive(lease: Int64, completion: @escaping (Result<Bool, ElectionStoreError>) -> Void)

    /// Best effort, unanswered.
    func revoke(lease: Int64)

    /// Writes `view` only if the leader key is still the one created at `token` and the
    /// view's last write is `expectedRevision` (0: none); completes with the revision
    /// of the write.
    func write(
        _ view: View, token: Int64, expectedRevision: Int64,
        completion: @escaping (Result<Int64, ElectionStoreError>) -> Void)
}

public protocol ElectionStoreWatch: AnyObject {
    func cancel()
}

public struct ElectionStoreError: Error, Equatable, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
