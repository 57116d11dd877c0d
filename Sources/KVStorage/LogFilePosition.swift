/// A byte offset in a log file.
public struct LogFilePosition: Equatable, Sendable {
    public var file: String
    public var offset: Int

    public init(file: String, offset: Int) {
        self.file = file
        self.offset = offset
    }
}
