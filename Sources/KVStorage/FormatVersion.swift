/// The version written in every log header, snapshot header and manifest. A reader
/// refuses any other: an unknown layout read as this one would be silent corruption.
enum FormatVersion {
    /// 2: keys carry a revision and a deadline, updates are store changes, replies may
    /// carry a transaction's outcome, and snapshots end with the store's revision.
    /// Version 1 existed in unreleased builds only (its claims gained their cluster
    /// without a bump); a directory of it is damage, set aside (docs/STORAGE.md, "Format
    /// versions").
    static let current: UInt16 = 2
}
