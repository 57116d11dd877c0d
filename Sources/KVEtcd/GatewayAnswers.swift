// The JSON answers this client reads from etcd's gateway. Property names are the
// gateway's field names. Every field is optional because the gateway leaves out fields at
// their default value (0, false, empty): a failed transaction has no `succeeded`, an empty
// range no `kvs`, a put event no `type`.

/// Every answer's header; its revision is the store's revision when the answer was made.
struct ResponseHeader: Decodable {
    var revision: GatewayInt64?
}

struct KeyValueAnswer: Decodable {
    var key: GatewayBytes?
    var value: GatewayBytes?
    var create_revision: GatewayInt64?
    var mod_revision: GatewayInt64?
    var version: GatewayInt64?
    var lease: GatewayInt64?
}

/// /v3/kv/range, and a transaction's `response_range`.
struct RangeAnswer: Decodable {
    var header: ResponseHeader?
    var kvs: [KeyValueAnswer]?
}

/// A transaction's `response_put`.
struct PutAnswer: Decodable {
    var header: ResponseHeader?
}

/// A transaction's `response_delete_range`.
struct DeleteRangeAnswer: Decodable {
    var header: ResponseHeader?
    var deleted: GatewayInt64?
}

/// One result of a transaction branch: exactly one field is set.
struct ResponseOp: Decodable {
    var response_range: RangeAnswer?
    var response_put: PutAnswer?
    var response_delete_range: DeleteRangeAnswer?
}

/// /v3/kv/txn.
struct TxnAnswer: Decodable {
    var header: ResponseHeader?
    var succeeded: Bool?
    var responses: [ResponseOp]?
}

/// /v3/lease/grant. A refused grant may come as HTTP 200 with `error` set.
struct LeaseGrantAnswer: Decodable {
    var header: ResponseHeader?
    var ID: GatewayInt64?
    var TTL: GatewayInt64?
    var error: String?
}

/// One message of /v3/lease/keepalive's stream. A lease that is gone has no `TTL` (0).
struct LeaseKeepAliveAnswer: Decodable {
    var header: ResponseHeader?
    var ID: GatewayInt64?
    var TTL: GatewayInt64?
}

struct WatchEventAnswer: Decodable {
    /// "DELETE", or absent for a put (PUT is the enum's default).
    var type: String?
    var kv: KeyValueAnswer?
}

/// One message of /v3/watch's stream.
struct WatchAnswer: Decodable {
    var header: ResponseHeader?
    var created: Bool?
    var canceled: Bool?
    var compact_revision: GatewayInt64?
    var cancel_reason: String?
    var events: [WatchEventAnswer]?
}

/// One line of a streaming answer (watch, keep-alive): a message, or the error that ended
/// the stream.
struct StreamLine<Message: Decodable>: Decodable {
    var result: Message?
    var error: StreamError?
}

/// A streaming call's error, which has a shape of its own. It comes as the last line of
/// an HTTP 200 answer (whose status was sent before the error happened), or as the whole
/// body of an error answer when the call failed at once (a keep-alive on a member
/// without a leader: HTTP 503).
struct StreamError: Decodable {
    var grpc_code: Int?
    var http_code: Int?
    var message: String?
    var http_status: String?
}

/// The body of a streaming call's error answer.
struct StreamErrorAnswer: Decodable {
    var error: StreamError?
}

/// The body of a unary error answer (HTTP 4xx/5xx): `error` and `message` carry the
/// same text, `code` is the gRPC status code.
struct ErrorAnswer: Decodable {
    var error: String?
    var message: String?
    var code: Int?
}

extension EtcdKeyValue {
    init(_ answer: KeyValueAnswer) {
        self.init(
            key: answer.key?.bytes ?? [], value: answer.value?.bytes ?? [],
            createRevision: answer.create_revision?.value ?? 0, modRevision: answer.mod_revision?.value ?? 0,
            version: answer.version?.value ?? 0, lease: answer.lease?.value ?? 0)
    }
}

extension EtcdOperationResult {
    init?(_ answer: ResponseOp) {
        if let range = answer.response_range {
            self = .get((range.kvs ?? []).map(EtcdKeyValue.init))
        } else if answer.response_put != nil {
            self = .put
        } else if let delete = answer.response_delete_range {
            self = .delete(deleted: delete.deleted?.value ?? 0)
        } else {
            return nil
        }
    }
}

extension EtcdWatchEvent {
    init?(_ answer: WatchEventAnswer) {
        guard let kv = answer.kv else { return nil }
        switch answer.type {
        case nil, "PUT":
            self = .put(EtcdKeyValue(kv))
        case "DELETE":
            self = .delete(key: kv.key?.bytes ?? [], modRevision: kv.mod_revision?.value ?? 0)
        default:
            return nil
        }
    }
}
