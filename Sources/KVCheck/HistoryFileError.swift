/// A line of a history file that cannot be read, and why.
public struct HistoryFileError: Error, Equatable, CustomStringConvertible {
    /// 1-based; 0 while the line is not yet known.
    public var line: Int
    public var reason: String

    public init(line: Int, reason: String) {
        self.line = line
        self.reason = reason
    }

    init(_ reason: String) {
        self.init(line: 0, reason: reason)
    }

    public var description: String { "line \(line): \(reason)" }
}
