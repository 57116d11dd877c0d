/// The files of a data directory, by name. The names are part of the format
/// (docs/STORAGE.md, "Files"): a generation is written as 16 lowercase hex digits so that
/// names sort in generation order and parse back exactly.
public enum DataFileName: Hashable, Sendable, CustomStringConvertible {
    /// `MANIFEST`: the one file that says which of the others are current.
    case manifest
    /// `snapshot-GGGGGGGGGGGGGGGG.kvs`.
    case snapshot(generation: UInt64)
    /// `log-GGGGGGGGGGGGGGGG.kvl`.
    case log(generation: UInt64)

    /// Where a new manifest is written before it is renamed over `MANIFEST`. Recovery
    /// never reads it: until the rename, the old manifest is the current one.
    public static let manifestTemporary = "MANIFEST.tmp"

    /// Left by a process that ended on a failed write or sync of the data directory: the
    /// incarnations of the runs whose unsynced writes the kernel may have dropped without
    /// a reboot, one a line. Recovery judges those runs as if a reboot had followed them
    /// (docs/STORAGE.md, "Claims").
    public static let failureMarker = "SYNC-FAILED"

    /// Where a snapshot is written before it is renamed to its own name. Recovery never
    /// reads it: until the rename, no manifest can name the snapshot.
    public static func snapshotTemporary(generation: UInt64) -> String {
        DataFileName.snapshot(generation: generation).fileName + temporarySuffix
    }

    /// Whether `fileName` is a temporary of the format (`MANIFEST.tmp`, a snapshot's
    /// `.tmp`): a file being written when a process or its machine stopped, which nothing
    /// reads and recovery removes.
    public static func isTemporary(_ fileName: String) -> Bool {
        if fileName == manifestTemporary { return true }
        guard fileName.hasSuffix(temporarySuffix),
            case .snapshot? = DataFileName(String(fileName.dropLast(temporarySuffix.count)))
        else {
            return false
        }
        return true
    }

    private static let temporarySuffix = ".tmp"

    private static let manifestName = "MANIFEST"
    private static let snapshotPrefix = "snapshot-"
    private static let snapshotSuffix = ".kvs"
    private static let logPrefix = "log-"
    private static let logSuffix = ".kvl"
    private static let generationDigits = 16

    public var fileName: String {
        switch self {
        case .manifest: Self.manifestName
        case .snapshot(let generation): Self.snapshotPrefix + Self.hex(generation) + Self.snapshotSuffix
        case .log(let generation): Self.logPrefix + Self.hex(generation) + Self.logSuffix
        }
    }

    public var description: String { fileName }

    /// The file `fileName` names, or nil for any name the format does not use (including
    /// `MANIFEST.tmp`, and generations not written exactly as the format writes them).
    public init?(_ fileName: String) {
        if fileName == Self.manifestName {
            self = .manifest
        } else if let generation = Self.generation(
            in: fileName, prefix: Self.snapshotPrefix, suffix: Self.snapshotSuffix)
        {
            self = .snapshot(generation: generation)
        } else if let generation = Self.generation(in: fileName, prefix: Self.logPrefix, suffix: Self.logSuffix) {
            self = .log(generation: generation)
        } else {
            return nil
        }
    }

    private static func hex(_ generation: UInt64) -> String {
        let digits = String(generation, radix: 16)
        return String(repeating: "0", count: generationDigits - digits.count) + digits
    }

    private static func generation(in fileName: String, prefix: String, suffix: String) -> UInt64? {
        let utf8 = Array(fileName.utf8)
        guard utf8.count == prefix.utf8.count + generationDigits + suffix.utf8.count,
            utf8.starts(with: prefix.utf8), utf8.reversed().starts(with: suffix.utf8.reversed())
        else { return nil }
        let digits = utf8[prefix.utf8.count..<prefix.utf8.count + generationDigits]
        // Lowercase only: "ABC" would parse to the same number as "abc", and two names for
        // one generation would let a file hide from the manifest's name for it.
        guard digits.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else { return nil }
        return UInt64(String(decoding: digits, as: UTF8.self), radix: 16)
    }
}
