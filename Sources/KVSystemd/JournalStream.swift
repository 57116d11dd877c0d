import CSystemd

/// Whether stderr is connected to the journal: systemd sets `JOURNAL_STREAM=DEV:INODE`
/// for a service whose output goes to journald; if stderr is that very stream, records
/// should go to journald natively (with fields) instead of as text.
public enum JournalStream {
    public static func stderrIsJournal() -> Bool {
        guard let value = getenv("JOURNAL_STREAM").map({ String(cString: $0) }) else { return false }
        let parts = value.split(separator: ":")
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
        var info = stat()
        guard fstat(2, &info) == 0 else { return false }
        return UInt64(info.st_dev) == device && UInt64(info.st_ino) == inode
    }
}
