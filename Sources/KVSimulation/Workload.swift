import KVCheck
import KVProtocol

/// The clients' operations on a few keys, so that sessions contend on every key: the
/// original get, put, puthash and delete, and transactions (docs/DESIGN.md §3.13) as the
/// history's single-key calls — reads with revisions, conditional puts (on the revision
/// the session last saw, or on absence), puts with a deadline a few milliseconds to
/// a few tenths of a second away (so keys expire during the run), adds, deletes, and
/// scans paged over the keys' prefix. Every written text value is unique, which lets the
/// linearizability checker tell writes apart; adds and integer values repeat, their
/// revisions do not.
///
/// Two more keys are counters that only transfers touch: a transaction that takes an
/// amount from one and adds it to the other, and an audit, a transaction that reads
/// both; their sum must always be 0 (`TransferInvariant`). Each is recorded in the
/// history as one call per key (an add or a read), which the per-key check takes as any
/// other: a linearizable history's projection on one key is linearizable.
struct Workload {
    enum Kind: Int, CaseIterable {
        case get, put, putHash, delete, read, write, add, remove, scan, transfer, audit
    }

    /// One operation: the history's calls, and the request that carries it out.
    struct Planned {
        enum Request {
            case plain(Operation, value: Bytes)
            case txn(Txn)
        }

        /// One key and call, or one per counter of a transfer or an audit.
        let parts: [(key: Bytes, call: Call)]
        let request: Request

        init(key: Bytes, call: Call, request: Request) {
            self.init(parts: [(key, call)], request: request)
        }

        init(parts: [(key: Bytes, call: Call)], request: Request) {
            self.parts = parts
            self.request = request
        }
    }

    /// Every key begins with it, so a scan over it covers them all.
    static let prefix = Bytes(utf8: "k")
    /// The counters, outside the prefix (a scan never meets them).
    static let counters = [Bytes(utf8: "t0"), Bytes(utf8: "t1")]

    let keys: [Bytes]
    /// A weight for each `Kind`, in order.
    let weights: [Int]

    /// Session `client`'s operation `number`, at simulated time `now`; `revisions` holds
    /// the revision the session last saw of each key, which its conditional puts compare.
    func next(
        client: Int, number: Int, now: UInt64, revisions: [Bytes: UInt64], random: inout SimulationRandom
    ) -> Planned {
        let key = random.pick(keys)
        let text = Bytes(utf8: "c\(client)-\(number)")
        switch Kind(rawValue: random.weighted(weights))! {
        case .get: return Planned(key: key, call: .get, request: .plain(.get, value: []))
        case .put: return Planned(key: key, call: .put(value: text), request: .plain(.put, value: text))
        case .putHash: return Planned(key: key, call: .putHash(argument: text), request: .plain(.putHash, value: text))
        case .delete: return Planned(key: key, call: .delete, request: .plain(.delete, value: []))
        case .read: return Self.read(key)
        case .write:
            // Half the values are integers, which adds can then count on.
            let value = random.chance(permille: 500) ? text : Bytes(utf8: String(client * 100_000 + number))
            return write(key, value, now: now, revisions: revisions, random: &random)
        case .add:
            let delta = Int64(random.between(0, 8)) - 3
            return Planned(
                key: key, call: .add(delta: delta),
                request: .txn(Txn(success: [.add(key, delta), .get(key)])))
        case .remove:
            return Planned(key: key, call: .remove, request: .txn(Txn(success: [.delete(key)])))
        case .scan:
            return Self.page(from: [], limit: 1 + random.below(3))
        case .transfer:
            let (from, to) = random.chance(permille: 500) ? (0, 1) : (1, 0)
            let amount = Int64(1 + random.below(9))
            let (source, target) = (Self.counters[from], Self.counters[to])
            return Planned(
                parts: [(source, .add(delta: -amount)), (target, .add(delta: amount))],
                request: .txn(
                    Txn(success: [.add(source, -amount), .add(target, amount), .get(source), .get(target)])))
        case .audit:
            return Planned(
                parts: Self.counters.map { ($0, .read) }, request: .txn(Txn(success: Self.counters.map { .get($0) })))
        }
    }

    /// A read of `key` with its revision (the final reads too).
    static func read(_ key: Bytes) -> Planned {
        Planned(key: key, call: .read, request: .txn(Txn(success: [.get(key)])))
    }

    /// A scan's page over every key, from `start`.
    static func page(from start: Bytes, limit: Int) -> Planned {
        let range = KeyRange(start: start, prefix: prefix, limit: limit)
        return Planned(
            key: prefix, call: .range(prefix: prefix, start: start, limit: limit),
            request: .txn(Txn(success: [.range(range)])))
    }

    /// A put under a condition, 4 in 10 with a deadline, followed by a get of the key.
    private func write(
        _ key: Bytes, _ value: Bytes, now: UInt64, revisions: [Bytes: UInt64], random: inout SimulationRandom
    ) -> Planned {
        var write = ConditionalWrite(value)
        var compares: [Compare] = []
        switch random.below(20) {
        case 0..<8:
            break
        case 8..<13:
            write.condition = .absent
            compares = [.absent(key)]
        default:
            // Mostly the revision last seen, which may still be the key's; now and then one
            // from nowhere, which almost never is.
            let revision = random.chance(permille: 850) ? revisions[key] ?? 0 : UInt64(random.between(1, 60))
            write.condition = .revision(revision)
            compares = [Compare(key: key, .revision(revision), .equal)]
        }
        var expiry = Expiry.never
        if random.chance(permille: 400) {
            // A few milliseconds (often gone before the put is even applied) to 0.4 s.
            let ttl = random.chance(permille: 250) ? random.between(1, 20) : random.between(20, 400)
            // The servers' clocks read whole milliseconds of simulated time (no offset by
            // default), so a deadline at millisecond D is reached at D * 1000 us.
            let millis = now / 1_000
            write.deadline = (millis + ttl) * 1_000
            // Both forms: an absolute deadline, or a time to live counted from when the
            // primary applies the put (then `deadline` is the earliest it can be).
            expiry = random.chance(permille: 500) ? .at(Simulation.wallClockEpochMillis + millis + ttl) : .after(ttl)
        }
        let put = TxnOp.put(key, value: value, expiry: expiry, returnPrevious: false)
        return Planned(
            key: key, call: .write(write),
            request: .txn(Txn(compares: compares, success: [put, .get(key)], failure: [.get(key)])))
    }
}
