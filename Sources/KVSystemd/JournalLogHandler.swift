import CSystemd
import Logging

/// A swift-log handler that writes each record to journald with `sd_journal_sendv(3)`,
/// as structured fields:
///
/// - `MESSAGE`, `PRIORITY` (from the level), `SYSLOG_IDENTIFIER`,
///   `CODE_FILE`/`CODE_LINE`/`CODE_FUNC`, `KV_LOGGER` (the logger's label);
/// - every metadata key as a field, its name upper-cased and sanitised to `[A-Z0-9_]`
///   with no leading `_` (journald reserves those for trusted fields);
/// - `MESSAGE_ID` when the record's `kv_event` names a known event (`MessageIDs`).
public struct JournalLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let identifier: String

    public init(label: String, identifier: String) {
        self.label = label
        self.identifier = identifier
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Journald priorities (syslog levels).
    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    /// A journal field name for a metadata key: upper-case ASCII letters, digits and
    /// `_`; other characters become `_`; leading underscores and digits are dropped
    /// (a name must start with a letter); at most 64 characters.
    public static func fieldName(_ key: String) -> String? {
        var name = ""
        for scalar in key.unicodeScalars {
            switch scalar {
            case "a"..."z": name.unicodeScalars.append(Unicode.Scalar(scalar.value - 32)!)
            case "A"..."Z", "0"..."9", "_": name.unicodeScalars.append(scalar)
            default: name.append("_")
            }
        }
        while let first = name.first, first == "_" || first.isNumber { name.removeFirst() }
        if name.count > 64 { name = String(name.prefix(64)) }
        return name.isEmpty ? nil : name
    }

    public func log(event: LogEvent) {
        let (level, message, file, function, line) = (
            event.level, event.message, event.file, event.function, event.line
        )
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let explicit = event.metadata { merged.merge(explicit) { $1 } }

        var fields: [String] = [
            "MESSAGE=\(message)",
            "PRIORITY=\(Self.priority(level))",
            "SYSLOG_IDENTIFIER=\(identifier)",
            "CODE_FILE=\(file)",
            "CODE_LINE=\(line)",
            "CODE_FUNC=\(function)",
            "KV_LOGGER=\(label)",
        ]
        // Fields set above are not taken again from metadata: journald would keep both
        // copies of a field (a "message_id" metadata key would make MESSAGE_ID ambiguous).
        var seen: Set<String> = [
            "MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "CODE_FILE", "CODE_LINE", "CODE_FUNC", "KV_LOGGER",
        ]
        if case .string(let event)? = merged["kv_event"], let id = MessageIDs.byEvent[event] {
            fields.append("MESSAGE_ID=\(id)")
            seen.insert("MESSAGE_ID")
        }
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            guard let name = Self.fieldName(key), !seen.contains(name) else { continue }
            seen.insert(name)
            fields.append("\(name)=\(value)")
        }
        Self.send(fields)
    }

    /// Passes each "NAME=value" as one iovec; values may contain newlines (journald's
    /// native protocol carries them).
    static func send(_ fields: [String]) {
        let buffers = fields.map { Array($0.utf8) }
        var vectors: [iovec] = []
        vectors.reserveCapacity(buffers.count)
        func withVectors(_ index: Int) {
            if index == buffers.count {
                _ = sd_journal_sendv(vectors, Int32(vectors.count))
                return
            }
            buffers[index].withUnsafeBytes { raw in
                vectors.append(iovec(iov_base: UnsafeMutableRawPointer(mutating: raw.baseAddress), iov_len: raw.count))
                withVectors(index + 1)
            }
        }
        withVectors(0)
    }
}
