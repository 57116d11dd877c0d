import KVCheck
import KVProtocol

/// What the chaos sessions ask for: a mix of every kind of operation on a few keys, so
/// that sessions contend on each key and a lost, duplicated or stale operation shows up
/// in what other sessions read.
struct ChaosWorkload: Sendable {
    /// Out of 100: gets 40, puts 30, puthashes 20, deletes 10. Deletes are rarer because a
    /// key that is often absent tells the checker less about which write came last.
    static let mix: [(weight: UInt64, kind: Kind)] = [(40, .get), (30, .put), (20, .putHash), (10, .delete)]

    enum Kind: String, CaseIterable, Sendable {
        case get, put, putHash = "puthash", delete
    }

    let keys: [Bytes]

    init(keyCount: Int) {
        keys = (0..<keyCount).map { Array("k\($0)".utf8) }
    }

    /// The next operation of session `session`. Values and puthash arguments name the
    /// session and its operation number, so no two writes of a run store the same bytes
    /// and the checker can tell which write a read saw.
    func next(_ random: inout SplitMix64, session: Int, number: Int) -> (key: Bytes, call: Call) {
        let key = keys[Int(random.next() % UInt64(keys.count))]
        var roll = random.next() % 100
        var kind = Kind.get
        for entry in Self.mix {
            if roll < entry.weight {
                kind = entry.kind
                break
            }
            roll -= entry.weight
        }
        let unique = Array("s\(session)-\(number)".utf8)
        switch kind {
        case .get: return (key, .get)
        case .put: return (key, .put(value: unique))
        case .putHash: return (key, .putHash(argument: unique))
        case .delete: return (key, .delete)
        }
    }
}

extension ChaosWorkload.Kind {
    init(_ call: Call) {
        switch call {
        case .get: self = .get
        case .put: self = .put
        case .putHash: self = .putHash
        case .delete: self = .delete
        case .read, .write, .add, .remove, .range: preconditionFailure("not in the chaos workload: \(call.name)")
        }
    }
}
