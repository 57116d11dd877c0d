import KVProtocol

/// What a server with a data directory writes to its log, in the order it happens, so
/// that replaying the log rebuilds the store, the at-most-once table and the claim
/// exactly (docs/STORAGE.md). Each record has a log sequence number (LSN): the core
/// numbers them 1, 2, 3, ... per data directory, and learns through `.persisted(upTo:)`
/// how far they are safe.
public enum DurableRecord: Equatable, Sendable {
    /// An update applied to the store, with its duplicate-table entry.
    case update(ForwardedUpdate)
    /// From here on the server holds the complete state of this view in this role.
    case claim(StateClaim)
}

/// How far the log must be on disk before a reply or an acknowledgement may reveal it.
public enum FsyncPolicy: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// Every record is fdatasync'ed before anything that depends on it leaves the server.
    case always = 1
    /// Records are written (to the kernel) before anything depends on them, and
    /// fdatasync'ed once a second: a process crash loses nothing, a power cut up to a second.
    case everysec = 2
    /// Records are written before anything depends on them; the kernel flushes when it likes.
    case no = 3

    public var description: String {
        switch self {
        case .always: "always"
        case .everysec: "everysec"
        case .no: "no"
        }
    }

    public init?(name: String) {
        guard let policy = Self.allCases.first(where: { $0.description == name }) else { return nil }
        self = policy
    }
}
