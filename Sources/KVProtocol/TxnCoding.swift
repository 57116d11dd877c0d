/// The wire encoding of transactions, their outcomes, store changes and forwarded
/// updates (docs/PROTOCOL.md, "Transactions"). The log and snapshots use the same
/// bytes (docs/STORAGE.md), so there is one encoding of each, not two. The writers are
/// inlinable and generic over `WireOutput`, so the transport encodes a forward straight
/// into its send buffer.
extension WireOutput {
    @inlinable
    public mutating func append(_ stored: StoredValue) {
        blob(stored.value)
        u64(stored.revision, stored.expiresAt)
    }

    @inlinable
    public mutating func append(_ reply: ClientReply) {
        // The high bit says an outcome follows: clients that never send a transaction
        // never see it, so older clients read replies as before.
        u8(reply.status.rawValue | (reply.outcome == nil ? 0 : 0x80))
        blob(reply.value)
        if let outcome = reply.outcome { append(outcome) }
    }

    @inlinable
    public mutating func append(_ update: ForwardedUpdate) {
        if case .put(let key, let stored) = update.change {
            // Most updates are puts: the same bytes as `append(change)` then the fields
            // below, with the five integers that follow the value written in one go.
            u8(1)
            blob(key)
            blob(stored.value)
            u64(stored.revision, stored.expiresAt, update.revision, update.clientID, update.seq)
        } else {
            append(update.change)
            u64(update.revision, update.clientID, update.seq)
        }
        append(update.reply)
    }

    @inlinable
    public mutating func append(_ change: StoreChange) {
        switch change {
        case .none:
            u8(0)
        case .put(let key, let stored):
            u8(1)
            blob(key)
            append(stored)
        case .setDeadline(let key, let expiresAt, let revision):
            u8(2)
            blob(key)
            u64(expiresAt, revision)
        case .delete(let key):
            u8(3)
            blob(key)
        case .deleteAll:
            u8(4)
        case .several(let changes):
            u8(5)
            u32(UInt32(changes.count))
            for change in changes { append(change) }
        }
    }

    @inlinable
    public mutating func append(_ txn: Txn) {
        u32(UInt32(txn.compares.count))
        for compare in txn.compares {
            blob(compare.key)
            u8(compare.relation.rawValue)
            switch compare.target {
            case .value(let value):
                u8(0)
                blob(value)
            case .revision(let revision):
                u8(1)
                u64(revision)
            case .exists:
                u8(2)
            }
        }
        for branch in [txn.success, txn.failure] {
            u32(UInt32(branch.count))
            for op in branch { append(op) }
        }
    }

    @inlinable
    public mutating func append(_ expiry: Expiry) {
        switch expiry {
        case .keep: u8(0)
        case .never: u8(1)
        case .at(let time):
            u8(2)
            u64(time)
        case .after(let millis):
            u8(3)
            u64(millis)
        }
    }

    @inlinable
    public mutating func append(_ op: TxnOp) {
        switch op {
        case .get(let key):
            u8(1)
            blob(key)
        case .put(let key, let value, let expiry, let returnPrevious):
            u8(2)
            blob(key)
            blob(value)
            append(expiry)
            bool(returnPrevious)
        case .delete(let key):
            u8(3)
            blob(key)
        case .add(let key, let amount):
            u8(4)
            blob(key)
            u64(UInt64(bitPattern: amount))
        case .addFloat(let key, let amount):
            u8(5)
            blob(key)
            u64(amount.bitPattern)
        case .append(let key, let value):
            u8(6)
            blob(key)
            blob(value)
        case .expire(let key, let expiry, let condition):
            u8(7)
            blob(key)
            append(expiry)
            u8(condition.rawValue)
        case .rename(let from, let to, let onlyIfAbsent):
            u8(8)
            blob(from)
            blob(to)
            bool(onlyIfAbsent)
        case .range(let range):
            u8(9)
            blob(range.start)
            blob(range.prefix)
            if let pattern = range.pattern {
                u8(1)
                blob(pattern)
            } else {
                u8(0)
            }
            u32(UInt32(clamping: range.limit))
            bool(range.keysOnly)
        case .deleteAll:
            u8(10)
        case .txn(let inner):
            u8(11)
            append(inner)
        }
    }

    @inlinable
    public mutating func append(_ outcome: TxnOutcome) {
        bool(outcome.succeeded)
        u64(outcome.revision)
        u64(outcome.now)
        u32(UInt32(outcome.results.count))
        for result in outcome.results { append(result) }
    }

    @inlinable
    public mutating func append(_ result: TxnOpResult) {
        switch result {
        case .done:
            u8(0)
        case .value(let stored):
            u8(1)
            appendOptionalValue(stored)
        case .integer(let number):
            u8(2)
            u64(UInt64(bitPattern: number))
        case .bytes(let bytes):
            u8(3)
            blob(bytes)
        case .range(let items, let next):
            u8(4)
            u32(UInt32(items.count))
            for item in items {
                blob(item.key)
                appendOptionalValue(item.value)
            }
            if let next {
                u8(1)
                blob(next)
            } else {
                u8(0)
            }
        case .error(let error):
            u8(5)
            u8(error.rawValue)
        case .txn(let outcome):
            u8(6)
            append(outcome)
        }
    }

    @inlinable
    mutating func appendOptionalValue(_ stored: StoredValue?) {
        guard let stored else { return u8(0) }
        u8(1)
        append(stored)
    }
}

extension WireReader {
    public mutating func storedValue() throws(ProtocolError) -> StoredValue {
        StoredValue(
            value: try blob("value", max: Limits.maxValueSize), revision: try u64("revision"),
            expiresAt: try u64("deadline"))
    }

    public mutating func clientReply() throws(ProtocolError) -> ClientReply {
        let raw = try u8("reply status")
        guard let status = ReplyStatus(rawValue: raw & 0x7F) else {
            throw ProtocolError(.malformedFrame, "unknown reply status")
        }
        var reply = ClientReply(status: status, value: try blob("reply value", max: Limits.maxValueSize))
        if raw & 0x80 != 0 {
            var items = 0
            reply.outcome = try txnOutcome(depth: 0, items: &items)
        }
        return reply
    }

    public mutating func forwardedUpdate() throws(ProtocolError) -> ForwardedUpdate {
        let change = try storeChange(nested: false)
        return ForwardedUpdate(
            change: change, revision: try u64("revision"), clientID: try u64("client id"),
            seq: try u64("sequence number"), reply: try clientReply())
    }

    public mutating func storeChange(nested: Bool) throws(ProtocolError) -> StoreChange {
        switch try u8("change") {
        case 0: return .none
        case 1: return .put(try key(), try storedValue())
        case 2: return .setDeadline(try key(), expiresAt: try u64("deadline"), revision: try u64("revision"))
        case 3: return .delete(try key())
        case 4: return .deleteAll
        case 5 where !nested:
            let count = try count("change count", minItemSize: 1)
            var changes: [StoreChange] = []
            changes.reserveCapacity(count)
            for _ in 0..<count { changes.append(try storeChange(nested: true)) }
            return .several(changes)
        case let other: throw ProtocolError(.malformedFrame, "unknown store change \(other)")
        }
    }

    public mutating func txn() throws(ProtocolError) -> Txn {
        var items = 0
        return try txn(depth: 0, items: &items)
    }

    private mutating func key() throws(ProtocolError) -> Bytes { try blob("key", max: Limits.maxKeySize) }

    private mutating func counted(_ what: StaticString, _ items: inout Int) throws(ProtocolError) -> Int {
        let count = try count(what, minItemSize: 1)
        items += count
        if items > Txn.maxItems {
            throw ProtocolError(.malformedFrame, "a transaction of more than \(Txn.maxItems) items")
        }
        return count
    }

    private mutating func txn(depth: Int, items: inout Int) throws(ProtocolError) -> Txn {
        guard depth < Txn.maxDepth else {
            throw ProtocolError(.malformedFrame, "transactions nested more than \(Txn.maxDepth) deep")
        }
        var compares: [Compare] = []
        for _ in 0..<(try counted("compare count", &items)) {
            let key = try key()
            guard let relation = Compare.Relation(rawValue: try u8("relation")) else {
                throw ProtocolError(.malformedFrame, "unknown compare relation")
            }
            let target: Compare.Target
            switch try u8("compare target") {
            case 0: target = .value(try blob("value", max: Limits.maxValueSize))
            case 1: target = .revision(try u64("revision"))
            case 2: target = .exists
            case let other: throw ProtocolError(.malformedFrame, "unknown compare target \(other)")
            }
            compares.append(Compare(key: key, target, relation))
        }
        var success: [TxnOp] = []
        for _ in 0..<(try counted("operation count", &items)) { success.append(try txnOp(depth: depth, items: &items)) }
        var failure: [TxnOp] = []
        for _ in 0..<(try counted("operation count", &items)) { failure.append(try txnOp(depth: depth, items: &items)) }
        return Txn(compares: compares, success: success, failure: failure)
    }

    private mutating func expiry() throws(ProtocolError) -> Expiry {
        switch try u8("expiry") {
        case 0: return .keep
        case 1: return .never
        case 2: return .at(try u64("deadline"))
        case 3: return .after(try u64("time to live"))
        case let other: throw ProtocolError(.malformedFrame, "unknown expiry \(other)")
        }
    }

    private mutating func txnOp(depth: Int, items: inout Int) throws(ProtocolError) -> TxnOp {
        switch try u8("operation") {
        case 1: return .get(try key())
        case 2:
            return .put(
                try key(), value: try blob("value", max: Limits.maxValueSize), expiry: try expiry(),
                returnPrevious: try bool("previous flag"))
        case 3: return .delete(try key())
        case 4: return .add(try key(), Int64(bitPattern: try u64("increment")))
        case 5: return .addFloat(try key(), Double(bitPattern: try u64("increment")))
        case 6: return .append(try key(), try blob("value", max: Limits.maxValueSize))
        case 7:
            let key = try key()
            let expiry = try expiry()
            guard let condition = ExpireCondition(rawValue: try u8("expire condition")) else {
                throw ProtocolError(.malformedFrame, "unknown expire condition")
            }
            return .expire(key, expiry, condition)
        case 8: return .rename(try key(), to: try key(), onlyIfAbsent: try bool("only-if-absent flag"))
        case 9:
            let start = try key()
            let prefix = try key()
            let pattern: Bytes? = try bool("pattern flag") ? try key() : nil
            let limit = Int(try u32("limit"))
            guard limit >= 1, limit <= KeyRange.maxLimit else {
                throw ProtocolError(.malformedFrame, "a range limit of \(limit) (1 to \(KeyRange.maxLimit))")
            }
            return .range(
                KeyRange(start: start, prefix: prefix, pattern: pattern, limit: limit, keysOnly: try bool("keys flag")))
        case 10: return .deleteAll
        case 11: return .txn(try txn(depth: depth + 1, items: &items))
        case let other: throw ProtocolError(.malformedFrame, "unknown transaction operation \(other)")
        }
    }

    private mutating func txnOutcome(depth: Int, items: inout Int) throws(ProtocolError) -> TxnOutcome {
        guard depth < Txn.maxDepth else {
            throw ProtocolError(.malformedFrame, "outcomes nested more than \(Txn.maxDepth) deep")
        }
        let succeeded = try bool("succeeded flag")
        let revision = try u64("revision")
        let now = try u64("time")
        var results: [TxnOpResult] = []
        for _ in 0..<(try counted("result count", &items)) {
            results.append(try txnOpResult(depth: depth, items: &items))
        }
        return TxnOutcome(succeeded: succeeded, results: results, revision: revision, now: now)
    }

    private mutating func optionalValue() throws(ProtocolError) -> StoredValue? {
        try bool("value flag") ? try storedValue() : nil
    }

    private mutating func txnOpResult(depth: Int, items: inout Int) throws(ProtocolError) -> TxnOpResult {
        switch try u8("result") {
        case 0: return .done
        case 1: return .value(try optionalValue())
        case 2: return .integer(Int64(bitPattern: try u64("integer")))
        case 3: return .bytes(try blob("bytes", max: Limits.maxValueSize))
        case 4:
            let count = try count("key count", minItemSize: 5)
            var found: [RangeItem] = []
            found.reserveCapacity(count)
            for _ in 0..<count { found.append(RangeItem(key: try key(), value: try optionalValue())) }
            let next: Bytes? = try bool("next flag") ? try key() : nil
            return .range(found, next: next)
        case 5:
            let raw = try u8("error")
            guard let error = TxnError(rawValue: raw) else {
                throw ProtocolError(.malformedFrame, "unknown transaction error \(raw)")
            }
            return .error(error)
        case 6: return .txn(try txnOutcome(depth: depth + 1, items: &items))
        case let other: throw ProtocolError(.malformedFrame, "unknown transaction result \(other)")
        }
    }
}
