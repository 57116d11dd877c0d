/// One condition of a transaction. All of a transaction's conditions must hold for its
/// success operations to run.
public enum EtcdCompare: Sendable, Equatable {
    /// The key's create revision equals the given one; 0 means that the key is absent.
    case createRevision(key: [UInt8], equals: Int64)
    /// The key's last modification happened at the given revision (0: the key is absent).
    case modRevision(key: [UInt8], equals: Int64)
    /// The key exists and holds exactly this value.
    case value(key: [UInt8], equals: [UInt8])
}
