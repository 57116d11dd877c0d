/// How a log file ends after its valid prefix (docs/STORAGE.md, "Torn tail or damage").
public enum LogEnding: Equatable, Sendable {
    /// The valid prefix is the whole file.
    case clean
    /// The bytes from `offset` on are the last write, cut short by a crash before it was
    /// synced: nothing there was ever acknowledged, and the file is to be cut at `offset`.
    case tornTail(offset: Int)
    /// The bytes at `offset` are damaged in a way a cut-short write does not explain:
    /// records that may have been acknowledged are lost or in doubt.
    case damaged(offset: Int, reason: String)
}
