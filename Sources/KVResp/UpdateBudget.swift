import KVProtocol

/// What one command, or one MULTI's commands together, may send in a transaction. The
/// server validates the key and value of a plain request, not the operations of a
/// transaction, and a primary forwards a transaction's changes to its backup as one
/// update: so the endpoint refuses here what a plain SET could not carry (a key over
/// 64 KiB, more written bytes than a maximal key and value), which always fits in a
/// forward, and a transaction of more items than the wire format takes.
enum UpdateBudget {
    static let maxWrittenBytes = Limits.maxKeySize + Limits.maxValueSize

    /// How much of the budget `plan` uses.
    struct Use {
        var writtenBytes = 0
        var items = 0
    }

    static func use(of plan: TxnPlan) -> Use {
        var use = Use(items: plan.compares.count)
        add(plan.success + plan.failure, to: &use)
        return use
    }

    private static func add(_ ops: [TxnOp], to use: inout Use) {
        for op in ops {
            use.items += 1
            switch op {
            case .put(let key, let value, _, _), .append(let key, let value):
                use.writtenBytes += key.count + value.count
            case .txn(let inner):
                use.items += inner.compares.count
                add(inner.success + inner.failure, to: &use)
            default:
                break
            }
        }
    }

    /// The error for a command over the budget, or for a key beyond the limit; nil if it
    /// fits. `before` is what the earlier commands of a MULTI use.
    static func problem(with plan: TxnPlan, after before: Use = Use()) -> (RESPValue?, Use) {
        if let key = plan.txn.keys.first(where: { $0.count > Limits.maxKeySize }) {
            return (RedisError.keyTooLarge(key.count), before)
        }
        let own = use(of: plan)
        let total = Use(writtenBytes: before.writtenBytes + own.writtenBytes, items: before.items + own.items)
        if total.writtenBytes > maxWrittenBytes {
            return (
                .error(
                    "ERR a transaction may write at most \(maxWrittenBytes) bytes of keys and values (one update "
                        + "replicated whole); this one writes \(total.writtenBytes)"), before
            )
        }
        if total.items > Txn.maxItems {
            return (.error("ERR a transaction may hold at most \(Txn.maxItems) operations"), before)
        }
        return (nil, total)
    }
}
