/// One change seen by a watch.
public enum EtcdWatchEvent: Sendable, Equatable {
    /// The key was created or written; its create revision tells which.
    case put(EtcdKeyValue)
    /// The key was deleted (by a delete or by the expiry of its lease) at `modRevision`.
    case delete(key: [UInt8], modRevision: Int64)
}
