import ServerCore

/// One start of a server process on a data directory, as its log records it. Together
/// with the claims after it, it lets the server judge later whether a claim still holds
/// (docs/STORAGE.md, "Claims").
public struct ServerStart: Equatable, Hashable, Sendable {
    public static let bootIDSize = 16

    /// The process's incarnation, drawn at random at every start: it names the run, so a
    /// start and the claims after it can be told from another run's.
    public var incarnation: UInt64
    /// The machine's boot (as the kernel names it): a different one means the machine
    /// restarted, and whatever the kernel held unsynced is gone.
    public var bootID: [UInt8]
    /// The fsync policy this process ran with.
    public var policy: FsyncPolicy

    /// The boot id of a start that could not read the machine's (an all-zero id, which the
    /// kernel never gives: its boot ids are random UUIDs). A sandbox may hide
    /// /proc/sys/kernel/random/boot_id (systemd's ProcSubset=pid does).
    public static let unknownBootID = [UInt8](repeating: 0, count: bootIDSize)

    /// Whether this start ran in the boot `bootID` names: the ids are equal, and known. An
    /// unknown id proves nothing: two unknown ids taken as the same boot would keep a claim
    /// written under `everysec` or `no` across a reboot that lost its unsynced tail.
    public func ranInBoot(_ bootID: [UInt8]) -> Bool {
        self.bootID == bootID && bootID != Self.unknownBootID
    }

    public init(incarnation: UInt64, bootID: [UInt8], policy: FsyncPolicy) {
        precondition(bootID.count == Self.bootIDSize, "a boot id is \(Self.bootIDSize) bytes")
        self.incarnation = incarnation
        self.bootID = bootID
        self.policy = policy
    }
}
