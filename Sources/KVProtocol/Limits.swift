/// Size limits enforced on both sides of every connection.
///
/// The frame limit bounds what a peer can make us allocate; key and value limits leave
/// room in a frame for the request's header and for a forward that carries one
/// maximal update together with its duplicate-table entry.
public enum Limits {
    /// Largest frame body accepted, in bytes (the 4-byte length prefix not included).
    public static let maxFrameSize = 16 * 1024 * 1024
    /// Largest key, in bytes.
    public static let maxKeySize = 64 * 1024
    /// Largest value, in bytes.
    public static let maxValueSize = 4 * 1024 * 1024
    /// Largest encoded size of one transaction's changes and results together: the update
    /// that carries both to the backup must fit in a frame. A larger one is undone and
    /// refused as invalid.
    public static let maxTransactionBytes = 12 * 1024 * 1024
    /// Largest encoded size of the updates of one forward batch: a frame, less room for
    /// the batch's own fields. A primary sends its open batch before an update would take
    /// it past this.
    public static let maxBatchFrameBytes = maxFrameSize - 64 * 1024
    /// Longest read lease a primary may ask its backup for, in nanoseconds. A server that
    /// starts waits this long before it acts as primary, whatever its own lease setting:
    /// it may have granted that much to another primary before it stopped
    /// (docs/DESIGN.md §3.14).
    public static let maxReadLease: UInt64 = 1_000_000_000
    /// Largest server address string ("host:port"), in bytes.
    public static let maxAddressSize = 1024
}
