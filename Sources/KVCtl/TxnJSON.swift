import FoundationEssentials
import KVClient
import KVProtocol

/// `kvctl txn`'s JSON (kvctl(1), TRANSACTIONS), shaped after etcd's JSON gateway and
/// etcdctl's txn: {"compare": [...], "success": [...], "failure": [...]}; an operation
/// is an object of one field naming it ({"put": {"key": "a", "value": "b"}}). Keys and
/// values are UTF-8 text, or base64 in a field of the same name ending in `_base64`.
/// Unknown fields are refused, so that a misspelt one cannot pass unnoticed.
enum TxnJSON {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func parse(_ bytes: [UInt8]) throws(Failure) -> Txn {
        do {
            return try JSONDecoder().decode(TxnDocument.self, from: Data(bytes)).txn
        } catch let error as DecodingError {
            throw Failure(description: describe(error))
        } catch {
            throw Failure(description: "\(error)")
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        let (path, problem): ([any CodingKey], String)
        switch error {
        case .dataCorrupted(let context):
            let underlying = context.underlyingError.map { ": \($0)" } ?? ""
            (path, problem) = (context.codingPath, context.debugDescription + underlying)
        case .keyNotFound(let key, let context):
            (path, problem) = (context.codingPath, "missing field \"\(key.stringValue)\"")
        case .typeMismatch(let type, let context), .valueNotFound(let type, let context):
            (path, problem) = (context.codingPath, "expected \(typeName(type))")
        @unknown default:
            return "\(error)"
        }
        let at = path.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        return at.isEmpty ? problem : "\(at.dropFirst(at.hasPrefix(".") ? 1 : 0)): \(problem)"
    }

    static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "true or false"
        case is UInt64.Type: "an integer of 0 or more"
        case is Int64.Type, is Int.Type: "an integer"
        case is Double.Type: "a number"
        default: "\(type)"
        }
    }

    // MARK: - The outcome

    /// The outcome as one JSON object: which branch ran, the revision, the primary's
    /// clock, and each operation's result by position, named after the operation.
    static func outcome(_ outcome: TxnOutcome, of txn: Txn) -> String {
        let ops = outcome.succeeded ? txn.success : txn.failure
        let results = zip(ops, outcome.results).map { result($1, of: $0, now: outcome.now) }
        return JSON.object([
            ("succeeded", "\(outcome.succeeded)"), ("revision", "\(outcome.revision)"), ("now_ms", "\(outcome.now)"),
            ("results", JSON.list(results)),
        ])
    }

    private static func result(_ result: TxnOpResult, of op: TxnOp, now: UInt64) -> String {
        var fields = [("op", JSON.string(op.jsonName))]
        switch result {
        case .done:
            break
        case .value(let stored):
            let key = op.key ?? []
            let entry = stored.map { JSON.entry(KVEntry(key: key, stored: $0, now: now)) } ?? JSON.null
            fields.append((op == .get(key) ? "kv" : "prev_kv", entry))
        case .integer(let number):
            switch op {
            case .add: fields.append(("value", "\(number)"))
            case .append: fields.append(("length", "\(number)"))
            case .expire: fields.append(("changed", "\(number == 1)"))
            case .rename: fields.append(("renamed", "\(number == 1)"))
            case .deleteAll: fields.append(("deleted", "\(number)"))
            default: fields.append(("integer", "\(number)"))
            }
        case .bytes(let bytes):
            fields += JSON.bytes("value", bytes)
        case .range(let items, let next):
            let entries = items.map { item in
                item.value.map { JSON.entry(KVEntry(key: item.key, stored: $0, now: now)) }
                    ?? JSON.object(JSON.bytes("key", item.key))
            }
            fields.append(("kvs", JSON.list(entries)))
            fields += JSON.bytes("next", next)
        case .error(let error):
            fields.append(("error", JSON.string(error.description)))
        case .txn(let inner):
            guard case .txn(let innerTxn) = op else { break }
            fields.append(("txn", outcome(inner, of: innerTxn)))
        }
        return JSON.object(fields)
    }
}

extension TxnOp {
    /// The operation's name in `kvctl txn`'s JSON.
    var jsonName: String {
        switch self {
        case .get: "get"
        case .put: "put"
        case .delete: "delete"
        case .add: "add"
        case .addFloat: "add_float"
        case .append: "append"
        case .expire: "expire"
        case .rename: "rename"
        case .range: "range"
        case .deleteAll: "delete_all"
        case .txn: "txn"
        }
    }

    /// The key it names first, if any.
    var key: Bytes? {
        switch self {
        case .get(let key), .put(let key, _, _, _), .delete(let key), .add(let key, _), .addFloat(let key, _),
            .append(let key, _), .expire(let key, _, _), .rename(let key, _, _):
            key
        case .range, .deleteAll, .txn: nil
        }
    }
}

// MARK: - The document

/// A field name of a JSON object.
private struct Field: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }

    init(_ name: String) { stringValue = name }
    init?(stringValue: String) { self.init(stringValue) }
    init?(intValue: Int) { nil }
}

/// One JSON object, read field by field; fields other than `allowed` are refused.
private struct Fields {
    let container: KeyedDecodingContainer<Field>

    init(_ decoder: any Decoder, allowed: [String]) throws {
        container = try decoder.container(keyedBy: Field.self)
        for key in container.allKeys where !allowed.contains(key.stringValue) {
            let expected = allowed.isEmpty ? "no fields" : allowed.joined(separator: ", ")
            throw DecodingError.dataCorruptedError(
                forKey: key, in: container, debugDescription: "unknown field (expected \(expected))")
        }
    }

    func optional<Value: Decodable>(_ name: String, as type: Value.Type = Value.self) throws -> Value? {
        do {
            return try container.decodeIfPresent(type, forKey: Field(name))
        } catch let error as DecodingError {
            throw error
        } catch {
            // A number out of the type's range: the decoder's own error names no field.
            throw problem(name, "expected \(TxnJSON.typeName(type))")
        }
    }

    func required<Value: Decodable>(_ name: String, as type: Value.Type = Value.self) throws -> Value {
        guard let value = try optional(name, as: type) else {
            throw DecodingError.keyNotFound(
                Field(name),
                DecodingError.Context(codingPath: container.codingPath, debugDescription: "missing \(name)"))
        }
        return value
    }

    func flag(_ name: String) throws -> Bool { try optional(name) ?? false }

    func has(_ name: String) -> Bool { container.contains(Field(name)) }

    /// `name` as UTF-8 text, or `name_base64` as base64; nil when neither is there.
    func bytes(_ name: String) throws -> Bytes? {
        let text = try optional(name, as: String.self)
        guard let encoded = try optional(name + "_base64", as: String.self) else { return text.map { Bytes($0.utf8) } }
        guard text == nil else { throw problem(name, "give \(name) or \(name)_base64, not both") }
        guard let data = Data(base64Encoded: encoded) else { throw problem(name + "_base64", "not base64") }
        return Bytes(data)
    }

    func requiredBytes(_ name: String) throws -> Bytes {
        guard let bytes = try bytes(name) else { return Bytes(try required(name, as: String.self).utf8) }
        return bytes
    }

    func problem(_ name: String, _ text: String) -> DecodingError {
        DecodingError.dataCorruptedError(forKey: Field(name), in: container, debugDescription: text)
    }

    /// One of several fields, at most: the name of the one given.
    func oneOf(_ names: [String]) throws -> String? {
        let given = names.filter(has)
        guard given.count <= 1 else { throw problem(given[1], "give only one of \(names.joined(separator: ", "))") }
        return given.first
    }

    /// A deadline as `ttl_ms` or `expires_at_ms`, or nil when neither is given.
    func deadline(_ name: String?) throws -> Expiry? {
        switch name {
        case "ttl_ms": .after(try required("ttl_ms"))
        case "expires_at_ms": .at(try required("expires_at_ms"))
        default: nil
        }
    }
}

/// Names with their `_base64` twins.
private func withBase64(_ names: String...) -> [String] { names.flatMap { [$0, $0 + "_base64"] } }

private struct TxnDocument: Decodable {
    var txn: Txn

    init(from decoder: any Decoder) throws {
        let fields = try Fields(decoder, allowed: ["compare", "success", "failure"])
        txn = Txn(
            compares: try fields.optional("compare", as: [CompareDocument].self)?.map(\.compare) ?? [],
            success: try fields.optional("success", as: [OpDocument].self)?.map(\.op) ?? [],
            failure: try fields.optional("failure", as: [OpDocument].self)?.map(\.op) ?? [])
    }
}

private struct CompareDocument: Decodable {
    var compare: Compare

    private static let relations: [String: Compare.Relation] = [
        "equal": .equal, "=": .equal, "==": .equal, "not_equal": .notEqual, "!=": .notEqual, "less": .less,
        "<": .less, "greater": .greater, ">": .greater,
    ]

    init(from decoder: any Decoder) throws {
        let fields = try Fields(decoder, allowed: withBase64("key", "value") + ["target", "result", "revision"])
        let key = try fields.requiredBytes("key")
        let result = try fields.optional("result", as: String.self) ?? "equal"
        guard let relation = Self.relations[result.lowercased()] else {
            throw fields.problem("result", "expected equal, not_equal, less or greater")
        }
        let inferred = fields.has("revision") ? "revision" : "value"
        switch (try fields.optional("target", as: String.self) ?? inferred).lowercased() {
        case "value":
            compare = Compare(key: key, .value(try fields.requiredBytes("value")), relation)
        case "revision", "mod":
            compare = Compare(key: key, .revision(try fields.required("revision")), relation)
        case "exists":
            guard relation == .equal || relation == .notEqual else {
                throw fields.problem("result", "an exists compare is equal (the key exists) or not_equal")
            }
            compare = Compare(key: key, .exists, relation)
        default:
            throw fields.problem("target", "expected value, revision or exists")
        }
    }
}

private struct OpDocument: Decodable {
    var op: TxnOp

    private static let conditions: [String: ExpireCondition] = [
        "always": .always, "if_none": .ifNone, "nx": .ifNone, "if_some": .ifSome, "xx": .ifSome,
        "if_later": .ifLater, "gt": .ifLater, "if_earlier": .ifEarlier, "lt": .ifEarlier,
        "if_some_and_earlier": .ifSomeAndEarlier, "xx_lt": .ifSomeAndEarlier,
    ]

    private static let names = [
        "get", "put", "delete", "add", "add_float", "append", "expire", "rename", "range", "delete_all", "txn",
    ]

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Field.self)
        guard container.allKeys.count == 1, let name = container.allKeys.first else {
            throw DecodingError.dataCorrupted(
                DecodingError.Context(
                    codingPath: container.codingPath,
                    debugDescription: "an operation is an object of one field: \(Self.names.joined(separator: ", "))"))
        }
        let inner = try container.superDecoder(forKey: name)
        let key = withBase64("key")
        switch name.stringValue {
        case "get":
            op = .get(try Fields(inner, allowed: key).requiredBytes("key"))
        case "delete":
            op = .delete(try Fields(inner, allowed: key).requiredBytes("key"))
        case "put":
            let fields = try Fields(
                inner, allowed: withBase64("key", "value") + ["ttl_ms", "expires_at_ms", "keep_ttl", "prev_kv"])
            let expiry = try fields.oneOf(["ttl_ms", "expires_at_ms", "keep_ttl"])
            op = .put(
                try fields.requiredBytes("key"), value: try fields.requiredBytes("value"),
                expiry: try fields.deadline(expiry) ?? (try fields.flag("keep_ttl") ? .keep : .never),
                returnPrevious: try fields.flag("prev_kv"))
        case "add":
            let fields = try Fields(inner, allowed: key + ["by"])
            op = .add(try fields.requiredBytes("key"), try fields.optional("by") ?? 1)
        case "add_float":
            let fields = try Fields(inner, allowed: key + ["by"])
            op = .addFloat(try fields.requiredBytes("key"), try fields.required("by"))
        case "append":
            let fields = try Fields(inner, allowed: withBase64("key", "value"))
            op = .append(try fields.requiredBytes("key"), try fields.requiredBytes("value"))
        case "expire":
            let fields = try Fields(inner, allowed: key + ["ttl_ms", "expires_at_ms", "persist", "condition"])
            let given = try fields.oneOf(["ttl_ms", "expires_at_ms", "persist"])
            let persists = try fields.flag("persist")
            guard let given, given != "persist" || persists else {
                throw fields.problem("ttl_ms", "give one of ttl_ms, expires_at_ms or \"persist\": true")
            }
            let name = try fields.optional("condition", as: String.self) ?? "always"
            guard let condition = Self.conditions[name.lowercased()] else {
                throw fields.problem("condition", "expected always, if_none, if_some, if_later or if_earlier")
            }
            op = .expire(try fields.requiredBytes("key"), try fields.deadline(given) ?? .never, condition)
        case "rename":
            let fields = try Fields(inner, allowed: withBase64("key", "to") + ["only_if_absent"])
            op = .rename(
                try fields.requiredBytes("key"), to: try fields.requiredBytes("to"),
                onlyIfAbsent: try fields.flag("only_if_absent"))
        case "range":
            let fields = try Fields(inner, allowed: withBase64("start", "prefix", "pattern") + ["limit", "keys_only"])
            let limit = try fields.optional("limit", as: Int.self) ?? 1000
            guard (1...KeyRange.maxLimit).contains(limit) else {
                throw fields.problem("limit", "a range looks at 1 to \(KeyRange.maxLimit) keys")
            }
            let prefix = try fields.bytes("prefix") ?? []
            op = .range(
                KeyRange(
                    start: try fields.bytes("start") ?? prefix, prefix: prefix, pattern: try fields.bytes("pattern"),
                    limit: limit, keysOnly: try fields.flag("keys_only")))
        case "delete_all":
            _ = try Fields(inner, allowed: [])
            op = .deleteAll
        case "txn":
            op = .txn(try TxnDocument(from: inner).txn)
        default:
            throw DecodingError.dataCorruptedError(
                forKey: name, in: container,
                debugDescription: "unknown operation (expected \(Self.names.joined(separator: ", ")))")
        }
    }
}
