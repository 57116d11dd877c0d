// The JSON bodies this client posts to etcd's gateway. Property names are the gateway's
// field names (etcd's protobuf names, as grpc-gateway writes them), so that no coding
// keys stand between the code and the wire; nil fields are left out.

/// /v3/kv/range, and a transaction's `request_range`.
struct RangeRequest: Encodable {
    var key: GatewayBytes
    var range_end: GatewayBytes?
}

/// A transaction's `request_put`.
struct PutRequest: Encodable {
    var key: GatewayBytes
    var value: GatewayBytes
    var lease: GatewayInt64?
}

/// A transaction's `request_delete_range`.
struct DeleteRangeRequest: Encodable {
    var key: GatewayBytes
}

/// One operation of a transaction branch: exactly one field is set.
struct RequestOp: Encodable {
    var request_range: RangeRequest?
    var request_put: PutRequest?
    var request_delete_range: DeleteRangeRequest?
}

/// One comparison of a transaction. `target` must always be written: its default,
/// VERSION, is left out of the wire and would silently compare the version instead.
struct CompareRequest: Encodable {
    var key: GatewayBytes
    var target: String
    var result: String = "EQUAL"
    var create_revision: GatewayInt64?
    var mod_revision: GatewayInt64?
    var value: GatewayBytes?
}

/// /v3/kv/txn.
struct TxnRequest: Encodable {
    var compare: [CompareRequest]
    var success: [RequestOp]
    var failure: [RequestOp]
}

/// /v3/lease/grant. ID 0 lets etcd choose the lease's ID.
struct LeaseGrantRequest: Encodable {
    var TTL: GatewayInt64
    var ID: GatewayInt64
}

/// /v3/lease/keepalive and /v3/lease/revoke.
struct LeaseRequest: Encodable {
    var ID: GatewayInt64
}

/// /v3/watch: the first (and only) message of the watch stream.
struct WatchCreateRequest: Encodable {
    struct Create: Encodable {
        var key: GatewayBytes
        var range_end: GatewayBytes
        var start_revision: GatewayInt64
    }

    var create_request: Create
}

extension RequestOp {
    init(_ operation: EtcdOperation) {
        switch operation {
        case .put(let key, let value, let lease):
            request_put = PutRequest(
                key: GatewayBytes(key), value: GatewayBytes(value), lease: lease == 0 ? nil : GatewayInt64(lease))
        case .get(let key):
            request_range = RangeRequest(key: GatewayBytes(key))
        case .getPrefix(let prefix):
            request_range = RangeRequest(
                key: GatewayBytes(prefixRangeStart(prefix)), range_end: GatewayBytes(prefixRangeEnd(prefix)))
        case .delete(let key):
            request_delete_range = DeleteRangeRequest(key: GatewayBytes(key))
        }
    }
}

extension CompareRequest {
    init(_ compare: EtcdCompare) {
        switch compare {
        case .createRevision(let key, let revision):
            self.init(key: GatewayBytes(key), target: "CREATE", create_revision: GatewayInt64(revision))
        case .modRevision(let key, let revision):
            self.init(key: GatewayBytes(key), target: "MOD", mod_revision: GatewayInt64(revision))
        case .value(let key, let value):
            self.init(key: GatewayBytes(key), target: "VALUE", value: GatewayBytes(value))
        }
    }
}
