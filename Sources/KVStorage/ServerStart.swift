import ServerCore

/// One start of a server process on a data directory, as its log records it. Together
/// with the claims after it, it lets the server judge later whether a claim still holds
/// (docs/STORAGE.md, "Claims").
public struct ServerStart: Equatable, Hashable, Sendable {
    public static let bootIDSize = 16

    /// Counts the starts on this data directory.
    public var incarnation: UInt64
    /// The machine's boot (as the kernel names it): a different one means the machine
    /// restarted, and whatever the kernel held unsynced is gone.
    public var bootID: [UInt8]
    /// The fsync policy this process ran with.
    public var policy: FsyncPolicy

    public init(incarnation: UInt64, bootID: [UInt8], policy: FsyncPolicy) {
        precondition(bootID.count == Self.bootIDSize, "a boot id is \(Self.bootIDSize) bytes")
        self.incarnation = incarnation
        self.bootID = bootID
        self.policy = policy
    }
}
