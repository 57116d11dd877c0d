import KVProtocol

/// A plain-text history, one operation per line, so a chaos script can save what its
/// clients saw and the history can be checked later (`kv-history-check FILE`).
///
/// Each line has seven fields separated by one tab:
///
///     client  key  call  input  invoked  returned  response
///
/// - `client`, `invoked`, `returned`: decimal integers; `returned` is `?` for an unknown
///   outcome (then `response` is `?` too).
/// - `key`, `input`: hexadecimal bytes, `-` for none or empty. `input` is the value of a
///   put, the argument of a puthash, `-` for get and delete.
/// - `call`: `get`, `put`, `puthash`, `delete`.
/// - `response`: `value:HEX` or `absent` (get), `ok` (put), `previous:HEX` (puthash),
///   `existed` or `missing` (delete).
///
/// Version 2 adds the transactions' calls, with inputs and responses of their own
/// (`TransactionText`): `read`, `write`, `add`, `remove` and `range`. A file holding any
/// of them begins with version 2's header; one without them is a version 1 file, which
/// readers of version 1 still read. This reader reads both.
///
/// Lines that are empty or start with `#` are ignored. For example (tabs shown as spaces):
///
///     # kvcheck history v1
///     1    6b    put        31    100    180    ok
///     2    6b    get        -     150    210    value:31
///     3    6b    puthash    78    200    ?      ?
public enum HistoryFile {
    /// The header of a file whose calls are all of version 1.
    public static let header = "# kvcheck history v1"
    /// The header of a file with the calls version 2 added.
    public static let headerV2 = "# kvcheck history v2"

    /// The whole file: the header, then one line per operation.
    public static func encode(_ history: [HistoryOperation]) -> String {
        let isVersion1 = history.allSatisfy { TransactionText.isVersion1($0.call) }
        return ([isVersion1 ? header : headerV2] + history.map(line(for:))).joined(separator: "\n") + "\n"
    }

    public static func line(for operation: HistoryOperation) -> String {
        let input: String
        switch operation.call {
        case .put(let value): input = hex(value)
        case .putHash(let argument): input = hex(argument)
        case .get, .delete: input = "-"
        default: input = TransactionText.input(of: operation.call)
        }
        var fields = [String(operation.client), hex(operation.key), operation.call.name, input]
        fields.append(String(operation.invokedAt))
        switch operation.outcome {
        case .unknown:
            fields += ["?", "?"]
        case .returned(let at, let response):
            fields += [String(at), text(of: response)]
        }
        return fields.joined(separator: "\t")
    }

    public static func decode(_ text: String) throws(HistoryFileError) -> [HistoryOperation] {
        var history: [HistoryOperation] = []
        // "\r\n" is one Character in Swift, so it must be named as a separator of its own.
        let lines = text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" }
        for (index, line) in lines.enumerated() {
            if line.isEmpty || line.hasPrefix("#") { continue }
            do {
                history.append(try operation(from: line))
            } catch {
                throw HistoryFileError(line: index + 1, reason: error.reason)
            }
        }
        return history
    }

    private static func operation(from line: Substring) throws(HistoryFileError) -> HistoryOperation {
        let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
        guard fields.count == 7 else { throw .init("expected 7 tab-separated fields, found \(fields.count)") }
        guard let client = UInt64(fields[0]) else { throw .init("bad client id \"\(fields[0])\"") }
        let key = try bytes(fields[1], "key")
        let call: Call
        switch fields[2] {
        case "get", "delete":
            guard fields[3] == "-" else { throw .init("\(fields[2]) takes no input") }
            call = fields[2] == "get" ? .get : .delete
        case "put": call = .put(value: try bytes(fields[3], "input"))
        case "puthash": call = .putHash(argument: try bytes(fields[3], "input"))
        default: call = try TransactionText.call(named: fields[2], input: fields[3], key: key)
        }
        guard let invokedAt = UInt64(fields[4]) else { throw .init("bad invocation time \"\(fields[4])\"") }
        let outcome: HistoryOperation.Outcome
        if fields[5] == "?" {
            guard fields[6] == "?" else { throw .init("an unknown outcome has the response ?") }
            outcome = .unknown
        } else {
            guard let returnedAt = UInt64(fields[5]) else { throw .init("bad return time \"\(fields[5])\"") }
            let response = try response(fields[6], to: call)
            guard call.accepts(response) else { throw .init("\(call.name) cannot answer \"\(fields[6])\"") }
            outcome = .returned(at: returnedAt, response)
        }
        return HistoryOperation(client: client, key: key, call: call, invokedAt: invokedAt, outcome: outcome)
    }

    private static func response(_ field: Substring, to call: Call) throws(HistoryFileError) -> Response {
        switch field {
        case "ok": return .stored
        case "absent": return TransactionText.isVersion1(call) ? .value(nil) : .entry(nil)
        case "existed": return .existed(true)
        case "missing": return .existed(false)
        default:
            if field.hasPrefix("value:") { return .value(try bytes(field.dropFirst(6), "value")) }
            if field.hasPrefix("previous:") { return .previous(try bytes(field.dropFirst(9), "previous value")) }
            if let response = try TransactionText.response(field) { return response }
            throw .init("unknown response \"\(field)\"")
        }
    }

    private static func text(of response: Response) -> String {
        switch response {
        case .value(let value?): "value:" + Hex.encode(value)
        case .value(nil): "absent"
        case .stored: "ok"
        case .previous(let previous): "previous:" + Hex.encode(previous)
        case .existed(let existed): existed ? "existed" : "missing"
        default: TransactionText.text(of: response)
        }
    }

    /// Bytes as a field holds them: hexadecimal, `-` when empty.
    static func hex(_ bytes: Bytes) -> String { bytes.isEmpty ? "-" : Hex.encode(bytes) }

    static func bytes(_ field: Substring, _ what: String) throws(HistoryFileError) -> Bytes {
        if field == "-" { return [] }
        guard let bytes = Hex.decode(field) else { throw .init("\(what) is not hexadecimal: \"\(field)\"") }
        return bytes
    }
}
