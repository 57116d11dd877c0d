import KVProtocol

/// A key's value with its revision, as a transaction's get or range shows it: the
/// revision is the store's revision of the update that last wrote the key.
public struct VersionedValue: Hashable, Sendable {
    public var value: Bytes
    public var revision: UInt64

    public init(_ value: Bytes, revision: UInt64) {
        self.value = value
        self.revision = revision
    }
}

/// One key a scan's page found.
public struct ScanItem: Hashable, Sendable {
    public var key: Bytes
    public var found: VersionedValue

    public init(key: Bytes, _ found: VersionedValue) {
        self.key = key
        self.found = found
    }
}
