/// A write the file system refused for want of space (ENOSPC, or EDQUOT: the quota is
/// used up), as opposed to an I/O error. The storage engine undoes what the failed
/// operation began (a log is cut back to its size before the write) and rethrows it, so
/// that the caller may wait for space and try again: nothing was lost, and nothing half
/// written stays. Never thrown by a sync: a failed fdatasync, whatever its errno, may
/// have dropped dirty pages, and retrying it could report success over a hole.
public struct DiskFull: Error, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
