import KVProtocol

/// The requests answered, by operation and result: a counter and a latency histogram
/// each, as plain numbers (`ServerMetrics` keeps one behind its lock), written out as
/// `kvservice_requests_total` and `kvservice_request_duration_seconds` in Prometheus's
/// text format.
struct RequestTally {
    /// Upper bounds of the histogram's buckets, in seconds (`+Inf` is implicit).
    let bounds: [Double]
    private var slots: [Slot?]

    struct Slot {
        var count: UInt64 = 0
        var sum = 0.0
        /// Observations per bucket, not cumulative; the last is `+Inf`'s.
        var buckets: [UInt64]
    }

    static let operationSlots = Int(Operation.allCases.map(\.rawValue).max()!) + 1
    static let statusSlots = Int(ReplyStatus.allCases.map(\.rawValue).max()!) + 1

    init(bounds: [Double]) {
        self.bounds = bounds
        slots = Array(repeating: nil, count: Self.operationSlots * Self.statusSlots)
    }

    mutating func record(op: Operation, status: ReplyStatus, seconds: Double) {
        let index = Int(op.rawValue) * Self.statusSlots + Int(status.rawValue)
        if slots[index] == nil { slots[index] = Slot(buckets: Array(repeating: 0, count: bounds.count + 1)) }
        var bucket = 0
        while bucket < bounds.count && seconds > bounds[bucket] { bucket += 1 }
        slots[index]!.count += 1
        slots[index]!.sum += seconds
        slots[index]!.buckets[bucket] += 1
    }

    /// Only the operations and results seen are written, as the registry's metrics are.
    func emit(into buffer: inout [UInt8]) {
        let seen = slots.indices.compactMap { index in slots[index].map { (Self.labels(index), $0) } }
        guard !seen.isEmpty else { return }
        var text = "# TYPE kvservice_requests_total counter\n"
        for (labels, slot) in seen { text += "kvservice_requests_total{\(labels)} \(slot.count)\n" }
        text += "# TYPE kvservice_request_duration_seconds histogram\n"
        for (labels, slot) in seen {
            var cumulative: UInt64 = 0
            for (bucket, count) in slot.buckets.enumerated() {
                cumulative += count
                let bound = bucket < bounds.count ? "\(bounds[bucket])" : "+Inf"
                text += "kvservice_request_duration_seconds_bucket{\(labels),le=\"\(bound)\"} \(cumulative)\n"
            }
            text += "kvservice_request_duration_seconds_sum{\(labels)} \(slot.sum)\n"
            text += "kvservice_request_duration_seconds_count{\(labels)} \(slot.count)\n"
        }
        buffer += Array(text.utf8)
    }

    private static func labels(_ index: Int) -> String {
        let op = Operation(rawValue: UInt8(index / statusSlots)).map { "\($0)" } ?? "\(index / statusSlots)"
        let status = ReplyStatus(rawValue: UInt8(index % statusSlots)).map(ServerMetrics.resultLabel) ?? "?"
        return "op=\"\(op)\",result=\"\(status)\""
    }
}
