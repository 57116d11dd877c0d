/// The version written in every log header, snapshot header and manifest. A reader
/// refuses any other: an unknown layout read as this one would be silent corruption.
enum FormatVersion {
    /// 2: keys carry a revision and a deadline, updates are store changes, snapshots end
    /// with the store's revision, and claims name their cluster.
    static let current: UInt16 = 2
}
