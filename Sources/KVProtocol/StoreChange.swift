/// A change to the store as the primary made it, which its backup and its log repeat
/// exactly: values, revisions and deadlines are decided once, by the primary.
public enum StoreChange: Equatable, Sendable {
    /// The update changed nothing (a read-only or failed transaction, a refused
    /// condition): it still records its reply in the at-most-once table.
    case none
    case put(Bytes, StoredValue)
    /// A new deadline for an existing key, its value unchanged.
    case setDeadline(Bytes, expiresAt: UInt64, revision: UInt64)
    case delete(Bytes)
    case deleteAll
    /// Several changes of one transaction, applied together.
    case several([StoreChange])
}
