import KVProtocol

/// The operations `kvctl bench` sends.
enum BenchOperation: String, CaseIterable, Sendable {
    case get, put, puthash
}

/// What `kvctl bench` sends: operations drawn by weight (`--mix get=50,put=40,puthash=10`)
/// on keys drawn uniformly from a fixed set, with values of a fixed size.
struct BenchWorkload: Sendable {
    /// Weights in `BenchOperation.allCases` order; their sum is positive.
    let weights: [Int]
    let keys: [Bytes]
    let valueSize: Int

    static let defaultMix = "get=50,put=40,puthash=10"

    init(mix: String, keyCount: Int, valueSize: Int) throws {
        self.weights = try Self.parseMix(mix)
        // Fixed names, so repeated runs overwrite the same keys instead of adding new ones.
        self.keys = (0..<keyCount).map { Bytes(utf8: "kvctl-bench-\($0)") }
        self.valueSize = valueSize
    }

    /// "get=50,put=40,puthash=10": each operation at most once, weights non-negative
    /// integers, at least one positive; operations left out weigh 0.
    static func parseMix(_ text: String) throws -> [Int] {
        var weights = [Int](repeating: 0, count: BenchOperation.allCases.count)
        var seen: Set<BenchOperation> = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let pair = part.split(separator: "=", omittingEmptySubsequences: false)
            guard pair.count == 2, let operation = BenchOperation(rawValue: String(pair[0])) else {
                throw BenchWorkloadError("--mix: \"\(part)\" is not OP=WEIGHT with OP one of get, put, puthash")
            }
            guard let weight = Int(pair[1]), weight >= 0, weight <= 1_000_000 else {
                throw BenchWorkloadError("--mix: the weight of \(operation) must be an integer from 0 to 1000000")
            }
            guard seen.insert(operation).inserted else {
                throw BenchWorkloadError("--mix: \(operation) is given twice")
            }
            weights[BenchOperation.allCases.firstIndex(of: operation)!] = weight
        }
        guard weights.contains(where: { $0 > 0 }) else {
            throw BenchWorkloadError("--mix: at least one operation needs a positive weight")
        }
        return weights
    }

    /// The operations with a positive weight, in a fixed order.
    var operations: [BenchOperation] {
        zip(BenchOperation.allCases, weights).filter { $0.1 > 0 }.map(\.0)
    }

    func weight(of operation: BenchOperation) -> Int {
        weights[BenchOperation.allCases.firstIndex(of: operation)!]
    }

    var mixDescription: String {
        zip(BenchOperation.allCases, weights).filter { $0.1 > 0 }.map { "\($0.0)=\($0.1)" }.joined(separator: ",")
    }

    func pickOperation(_ random: inout SplitMix64) -> BenchOperation {
        var ticket = Int(random.next() % UInt64(weights.reduce(0, +)))
        for (operation, weight) in zip(BenchOperation.allCases, weights) {
            if ticket < weight { return operation }
            ticket -= weight
        }
        return BenchOperation.allCases.last!
    }

    func pickKey(_ random: inout SplitMix64) -> Bytes {
        keys[Int(random.next() % UInt64(keys.count))]
    }

    /// A value of `valueSize` printable bytes, different per session.
    func makeValue(_ random: inout SplitMix64) -> Bytes {
        (0..<valueSize).map { _ in UInt8(ascii: "a") + UInt8(random.next() % 26) }
    }
}

struct BenchWorkloadError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
