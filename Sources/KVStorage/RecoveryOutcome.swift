/// What recovery found in a data directory.
public enum RecoveryOutcome: Sendable {
    /// Nothing: no manifest, and no snapshot or log that one could have named.
    case fresh
    case recovered(RecoveredState)
    case damaged(StorageDamage)
}
